//! What a client of scenarios E and G makes of the bytes it receives: lines cut
//! from the stream, sorted into join notices, `too slow` notices, `lines
//! skipped` notices and watched senders' marked lines, and tallied (loss,
//! order, gaps, latency). Pure: the caller reads the socket and the clock
//! (`stalled.rs`, `slow.rs`).
//!
//! Unlike the fan-out generator, which counts markers anywhere in any server's
//! stream, this one reads our server's line format, because it must also tell
//! who joined and who was evicted, and whose line each one is.

use std::collections::HashSet;

use crate::histogram::Histogram;
use crate::marker::{Format, Found};

/// A silence at least this long between two deliveries is counted (the issue's
/// latency target: a room that stays quiet longer feels frozen).
pub(crate) const GAP_NOTED_NS: u64 = 100_000_000;

/// A line that took at least this long was held up by the server, not just
/// delayed by a busy machine: on two shared cores a healthy room's worst
/// line takes up to about a tenth of this (scenario G with no slow readers).
pub(crate) const LATE_NS: u64 = 1_000_000_000;

/// The longest unfinished line kept between reads. Our server never sends a
/// line near this long (`--max-line-bytes` is 1024 by default, plus a name),
/// so a longer one is garbage: it is dropped and counted as corrupted.
const MAX_LINE: usize = 64 * 1024;

/// One sender whose marked lines the observer checks.
#[derive(Debug)]
pub(crate) struct Watch {
    /// `> NAME: `: how its lines start.
    prefix: Vec<u8>,
    format: Format,
    keep_latencies: bool,
}

impl Watch {
    /// Lines from client `name`, `size` bytes as sent; with `keep_latencies`
    /// every line's latency is kept (for a few dozen lines, not a flood).
    pub(crate) fn new(name: &str, size: usize, keep_latencies: bool) -> Watch {
        Watch {
            prefix: format!("> {name}: ").into_bytes(),
            format: Format::new(size),
            keep_latencies,
        }
    }
}

/// What arrived from one watched sender.
#[derive(Debug, Default, Clone)]
pub(crate) struct Lines {
    /// Distinct lines.
    pub(crate) distinct: u64,
    /// Lines that had already arrived.
    pub(crate) duplicated: u64,
    /// Lines older than one that arrived before them.
    pub(crate) reordered: u64,
    /// Lines with no intact marker, or with more than one.
    pub(crate) corrupted: u64,
    /// When the first and the last line arrived (nanoseconds on the run's clock).
    pub(crate) first_ns: Option<u64>,
    /// See `first_ns`.
    pub(crate) last_ns: u64,
    /// The longest time between two deliveries.
    pub(crate) longest_gap_ns: u64,
    /// How many times in a row nothing arrived for at least [`GAP_NOTED_NS`].
    pub(crate) gaps_noted: u64,
    /// Send-to-receive time of each line, if kept.
    pub(crate) latencies_ns: Vec<u64>,
    /// The earliest send time of a line that arrived [`LATE_NS`] or more
    /// after it was sent: when the room began to be held up.
    pub(crate) first_late_sent_ns: Option<u64>,
    /// A bit per sequence number seen; grows with the highest one.
    seen: Vec<u64>,
    /// One more than the highest sequence number seen.
    next: u32,
}

impl Lines {
    /// Tallies one line; true if it had not arrived before.
    fn record(&mut self, seq: u32, sent_ns: u64, now_ns: u64, keep_latency: bool) -> bool {
        let (word, bit) = (seq as usize / 64, 1u64 << (seq % 64));
        if word >= self.seen.len() {
            self.seen.resize(word + 1, 0);
        }
        if self.seen[word] & bit != 0 {
            self.duplicated += 1;
            return false;
        }
        self.seen[word] |= bit;
        self.distinct += 1;
        if seq < self.next {
            self.reordered += 1;
        } else {
            self.next = seq + 1;
        }
        let latency = now_ns.saturating_sub(sent_ns);
        if keep_latency {
            self.latencies_ns.push(latency);
        }
        if latency >= LATE_NS {
            let first = self.first_late_sent_ns.get_or_insert(sent_ns);
            *first = (*first).min(sent_ns);
        }
        match self.first_ns {
            None => self.first_ns = Some(now_ns),
            Some(_) => {
                let gap = now_ns.saturating_sub(self.last_ns);
                self.longest_gap_ns = self.longest_gap_ns.max(gap);
                if gap >= GAP_NOTED_NS {
                    self.gaps_noted += 1;
                }
            }
        }
        self.last_ns = now_ns;
        true
    }

    /// True if line `seq` has arrived.
    pub(crate) fn has(&self, seq: u32) -> bool {
        let (word, bit) = (seq as usize / 64, 1u64 << (seq % 64));
        self.seen.get(word).is_some_and(|w| w & bit != 0)
    }

    /// Lines below the highest one received that never arrived: for a sender
    /// that was stopped mid-flow, the ones certainly lost, not still on their way.
    pub(crate) fn missing_below_highest(&self) -> u64 {
        u64::from(self.next).saturating_sub(self.distinct)
    }

    /// The longest silence from `start_ns` (when sending began) to `end_ns`:
    /// before the first line, between lines, and after the last one (pass the
    /// time the observer gave up if lines are still missing, else the last
    /// delivery).
    pub(crate) fn longest_gap(&self, start_ns: u64, end_ns: u64) -> u64 {
        match self.first_ns {
            None => end_ns.saturating_sub(start_ns),
            Some(first) => self
                .longest_gap_ns
                .max(first.saturating_sub(start_ns))
                .max(end_ns.saturating_sub(self.last_ns)),
        }
    }
}

/// The observer's view of the room.
#[derive(Debug)]
pub(crate) struct Observer {
    /// By marker sender id: a line from `watches[i]` must carry sender `i`.
    watches: Vec<Watch>,
    tallies: Vec<Lines>,
    /// The clients that never read, by name.
    stalled: HashSet<String>,
    joined: HashSet<String>,
    /// Stalled clients announced as `left (too slow)`, and when.
    pub(crate) evicted: Vec<(String, u64)>,
    /// Anyone else announced as `left (too slow)` (a healthy client: a bug,
    /// or a generator too slow to keep up).
    pub(crate) evicted_others: u64,
    /// Chat lines from nobody watched, or carrying another sender's marker.
    pub(crate) stray: u64,
    /// `* N lines skipped` notices (a server that lets a reader that fell too
    /// far behind skip ahead), and the N they added up to.
    pub(crate) skip_notices: u64,
    /// See `skip_notices`.
    pub(crate) skipped_lines: u64,
    /// The latency of every watched line, once each, if asked for: one
    /// histogram for all senders, in fixed memory (G's clients each get
    /// thousands of lines).
    pub(crate) latency: Option<Histogram>,
    /// The start of a line cut off by the end of the last read.
    carry: Vec<u8>,
}

impl Observer {
    /// An observer that checks `watches` (marker sender `i` is `watches[i]`)
    /// and counts the evictions of the clients named in `stalled`.
    pub(crate) fn new(watches: Vec<Watch>, stalled: impl IntoIterator<Item = String>) -> Observer {
        let tallies = watches.iter().map(|_| Lines::default()).collect();
        Observer {
            watches,
            tallies,
            stalled: stalled.into_iter().collect(),
            joined: HashSet::new(),
            evicted: Vec::new(),
            evicted_others: 0,
            stray: 0,
            skip_notices: 0,
            skipped_lines: 0,
            latency: None,
            carry: Vec::new(),
        }
    }

    /// The same, also keeping every watched line's latency in [`Observer::latency`].
    pub(crate) fn with_histogram(mut self) -> Observer {
        self.latency = Some(Histogram::default());
        self
    }

    /// Distinct lines from all watched senders together.
    pub(crate) fn distinct(&self) -> u64 {
        self.tallies.iter().map(|t| t.distinct).sum()
    }

    /// What arrived from watched sender `sender`.
    pub(crate) fn lines(&self, sender: usize) -> &Lines {
        &self.tallies[sender]
    }

    /// True once the observer has seen every one of `names` join.
    pub(crate) fn has_joined<'a>(&self, mut names: impl Iterator<Item = &'a String>) -> bool {
        names.all(|name| self.joined.contains(name))
    }

    /// Takes the bytes of one read, which arrived at `now_ns`.
    pub(crate) fn feed(&mut self, data: &[u8], now_ns: u64) {
        let mut rest = data;
        if !self.carry.is_empty() {
            match memchr::memchr(b'\n', rest) {
                Some(end) => {
                    let mut line = std::mem::take(&mut self.carry);
                    line.extend_from_slice(&rest[..=end]);
                    self.line(&line, now_ns);
                    // Keep the allocation for the next cut line.
                    line.clear();
                    self.carry = line;
                    rest = &rest[end + 1..];
                }
                None => return self.hold(rest),
            }
        }
        while let Some(end) = memchr::memchr(b'\n', rest) {
            self.line(&rest[..=end], now_ns);
            rest = &rest[end + 1..];
        }
        self.hold(rest);
    }

    /// Keeps an unfinished line for the next read, within [`MAX_LINE`].
    fn hold(&mut self, tail: &[u8]) {
        if self.carry.len() + tail.len() > MAX_LINE {
            self.carry.clear();
            self.stray += 1;
        } else {
            self.carry.extend_from_slice(tail);
        }
    }

    /// One whole line, `\n` included.
    fn line(&mut self, line: &[u8], now_ns: u64) {
        if let Some(notice) = line.strip_prefix(b"* ") {
            return self.notice(notice.strip_suffix(b"\n").unwrap_or(notice), now_ns);
        }
        let Some(sender) = self
            .watches
            .iter()
            .position(|w| line.starts_with(&w.prefix))
        else {
            if line.starts_with(b"> ") {
                self.stray += 1;
            }
            return;
        };
        let watch = &self.watches[sender];
        let mut markers = 0;
        let mut found_one = None;
        watch.format.scan(&line[watch.prefix.len()..], |found| {
            markers += 1;
            found_one = Some(found);
        });
        let tally = &mut self.tallies[sender];
        match (markers, found_one) {
            (
                1,
                Some(Found::Marker {
                    sender: id,
                    seq,
                    sent_ns,
                }),
            ) => {
                if id as usize == sender {
                    let new = tally.record(seq, sent_ns, now_ns, watch.keep_latencies);
                    if let (true, Some(histogram)) = (new, &mut self.latency) {
                        histogram.record(now_ns.saturating_sub(sent_ns));
                    }
                } else {
                    self.stray += 1;
                }
            }
            _ => tally.corrupted += 1,
        }
    }

    fn notice(&mut self, text: &[u8], now_ns: u64) {
        let text = String::from_utf8_lossy(text);
        if let Some(name) = text.strip_suffix(" joined") {
            self.joined.insert(name.to_string());
        } else if let Some(name) = text.strip_suffix(" left (too slow)") {
            if self.stalled.contains(name) {
                self.evicted.push((name.to_string(), now_ns));
            } else {
                self.evicted_others += 1;
            }
        } else if let Some(skipped) = skipped(&text) {
            self.skip_notices += 1;
            self.skipped_lines += skipped;
        }
    }
}

/// N, if `text` (a notice without its `* `) says that N lines were skipped:
/// `312 lines skipped: you fell behind`, or `1 line skipped`. Only the
/// number and the word matter, so a rewording after it still counts.
fn skipped(text: &str) -> Option<u64> {
    let (count, rest) = text.split_once(' ')?;
    let count = count.parse().ok()?;
    (rest.starts_with("line") && rest.contains("skipped")).then_some(count)
}

/// Checks the observer against the cases that matter. A bench with
/// `harness = false` runs no `#[test]`s, so `--self-test` calls this.
///
/// # Errors
/// The first case that fails, described.
pub(crate) fn self_test() -> Result<(), String> {
    let (flood, talk) = ("127.0.0.1:5001", "127.0.0.1:5002");
    let observer = || {
        Observer::new(
            vec![Watch::new(flood, 190, false), Watch::new(talk, 64, true)],
            ["127.0.0.1:6000".to_string()],
        )
    };
    let chat = |name: &str, size: usize, sender: u32, seq: u32, sent_ns: u64| {
        let mut line = format!("> {name}: ").into_bytes();
        Format::new(size).write_line(&mut line, sender, seq, sent_ns);
        line
    };

    let mut o = observer();
    let mut stream = b"* welcome 127.0.0.1:5000, 0 others online\n".to_vec();
    stream.extend_from_slice(b"* 127.0.0.1:5001 joined\n* 127.0.0.1:6000 joined\n");
    stream.extend_from_slice(&chat(flood, 190, 0, 0, 10));
    stream.extend_from_slice(&chat(flood, 190, 0, 1, 10));
    // Every cut point: a line split across two reads is put back together.
    for cut in 0..stream.len() {
        let mut o = observer();
        o.feed(&stream[..cut], 100);
        o.feed(&stream[cut..], 200);
        check(
            o.lines(0).distinct == 2,
            "a line cut across reads counts once",
        )?;
        check(o.stray == 0 && o.lines(0).corrupted == 0, "nothing stray")?;
    }
    o.feed(&stream, 100);
    let names = [flood.to_string(), "127.0.0.1:6000".to_string()];
    check(o.has_joined(names.iter()), "joins are seen")?;
    check(
        !o.has_joined([talk.to_string()].iter()),
        "a client that did not join is not seen",
    )?;

    // Order, loss and gaps.
    o.feed(&chat(flood, 190, 0, 3, 10), 100 + GAP_NOTED_NS);
    o.feed(&chat(flood, 190, 0, 2, 10), 100 + GAP_NOTED_NS);
    o.feed(&chat(flood, 190, 0, 2, 10), 100 + GAP_NOTED_NS);
    let lines = o.lines(0);
    check(lines.distinct == 4, "four distinct lines")?;
    check(lines.reordered == 1, "a late line is reordered")?;
    check(lines.duplicated == 1, "a repeated line is duplicated")?;
    check(
        lines.longest_gap_ns == GAP_NOTED_NS && lines.gaps_noted == 1,
        "the silence between deliveries is a gap",
    )?;
    check(
        lines.missing_below_highest() == 0,
        "nothing missing below the highest line",
    )?;
    o.feed(&chat(flood, 190, 0, 6, 10), 100 + GAP_NOTED_NS);
    check(
        o.lines(0).missing_below_highest() == 2,
        "lines skipped below the highest are missing",
    )?;
    let lines = o.lines(0);
    check(
        lines.longest_gap(0, 100 + GAP_NOTED_NS) == GAP_NOTED_NS,
        "longest gap over the whole window",
    )?;
    check(
        lines.longest_gap(0, 100 + 5 * GAP_NOTED_NS) == 4 * GAP_NOTED_NS,
        "a silence after the last line counts when lines are missing",
    )?;

    // Two sizes of line, each checked with its own format; latencies kept.
    o.feed(&chat(talk, 64, 1, 0, 1_000), 4_000);
    check(
        o.lines(1).latencies_ns == vec![3_000],
        "a talker line's latency",
    )?;
    o.feed(&chat(talk, 64, 0, 1, 1_000), 4_000);
    check(
        o.stray == 1,
        "another sender's marker in a talker's line is stray",
    )?;
    let mut cut = chat(flood, 190, 0, 9, 10);
    cut.drain(60..80);
    o.feed(&cut, 5_000);
    check(o.lines(0).corrupted == 1, "a shortened line is corrupted")?;
    o.feed(b"> 127.0.0.1:7777: hello\n", 5_000);
    check(o.stray == 2, "a line from nobody watched is stray")?;

    // Evictions: the stalled client's counts, anyone else's does not.
    o.feed(b"* 127.0.0.1:6000 left (too slow)\n", 6_000);
    o.feed(
        b"* 127.0.0.1:5001 left (too slow)\n* 127.0.0.1:6000 left\n",
        7_000,
    );
    check(
        o.evicted == vec![("127.0.0.1:6000".to_string(), 6_000)],
        "the stalled client's eviction is counted, with its time",
    )?;
    check(
        o.evicted_others == 1,
        "a healthy client's eviction is noted",
    )?;

    // Skip notices, a histogram of every watched line, and lateness.
    let mut o = observer().with_histogram();
    o.feed(
        b"* 312 lines skipped: you fell behind\n* 1 line skipped\n* 3 joined\n",
        0,
    );
    check(
        o.skip_notices == 2 && o.skipped_lines == 313,
        "skip notices are counted with their lines",
    )?;
    o.feed(&chat(flood, 190, 0, 0, 1_000), 2_000);
    o.feed(&chat(talk, 64, 1, 0, 5_000), 5_000 + LATE_NS);
    o.feed(&chat(talk, 64, 1, 0, 5_000), 5_000 + LATE_NS);
    let histogram = o.latency.as_ref().expect("asked for");
    check(
        histogram.count() == 2 && histogram.max() == LATE_NS,
        "the histogram has each line once, from every sender",
    )?;
    check(o.distinct() == 2, "distinct lines over all senders")?;
    check(
        o.lines(1).first_late_sent_ns == Some(5_000) && o.lines(0).first_late_sent_ns.is_none(),
        "a line that took a second is late, with its send time",
    )?;
    check(
        o.lines(1).has(0) && !o.lines(1).has(1) && !o.lines(1).has(1_000),
        "which lines arrived",
    )?;
    Ok(())
}

fn check(ok: bool, what: &str) -> Result<(), String> {
    if ok {
        Ok(())
    } else {
        Err(format!("observer self-test failed: {what}"))
    }
}
