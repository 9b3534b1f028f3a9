//! Scenario G, slow readers (issue 24), one run in this process: our server
//! with its default rate limit; [`TALKERS`] healthy clients talking in the
//! lobby at that limit; a pair chatting in another room; and K clients on slow
//! but steady links. It times every line that reaches a healthy client.
//! `slow_report.rs` runs it for each K in child processes and tabulates it.
//!
//! A slow reader reads [`SLOW_READ`] bytes every [`SLOW_EVERY`] (160 000
//! bytes a second, about 156 KiB/s) through an 8 KiB receive buffer: a
//! student on poor Wi-Fi. The lobby sends it about 816 KB a second, so it
//! falls further behind every second, yet it never stops taking bytes.
//!
//! Threads, all named, all bounded by the run's deadline: each talker has a
//! `talk-N` thread that sends its lines on schedule and a `hear-N` thread that
//! reads and tallies everything the server sends it; so does each of the pair
//! (`pair-N`, `pair-hear-N`); each slow reader has a `slow-N` thread that
//! reads at its pace, and at the end reads the rest at full speed, to find
//! any skip notice behind what the kernel holds for it. The main thread
//! connects everyone, samples the server's broadcaster while the lines go
//! out, decides when the run ends, and ends the other threads by shutting
//! their sockets down.

use std::io::Read;
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use chatroom::ServerConfig;
use socket2::{Domain, Protocol, Socket, Type};

use crate::histogram::Histogram;
use crate::inprocess::{self, InProcess};
use crate::marker::Format;
use crate::observer::{Observer, Watch, LATE_NS};
use crate::procfs::{self, LoadMark, ThreadState};
use crate::report::record;
use crate::sockets::{
    await_line, await_welcome, connect, is_timeout, join, name_of, spawn, with_poll_timeouts,
    write_before,
};

/// Healthy clients in the lobby, each sending and reading (the 40).
pub(crate) const TALKERS: usize = 40;
/// Bytes per talker line, newline included (the 1000).
pub(crate) const LINE_SIZE: usize = 1000;
/// How long everyone sends (the 10 s).
pub(crate) const SEND_FOR: Duration = Duration::from_secs(10);
/// After the last line is sent, how long the lines still on their way may
/// take before the run ends; it ends sooner once every healthy client has
/// every line. Twenty times the worst latency the issue allows, so a server
/// that meets it always finishes inside; one that does not is cut off and
/// its missing lines are counted as at least this late (see `slow_report.rs`).
pub(crate) const GRACE: Duration = Duration::from_secs(2);
/// A slow reader reads at most this many bytes every [`SLOW_EVERY`]: 160 000
/// bytes a second. A few milliseconds apart, so it takes bytes steadily, as
/// a slow link does, not in bursts a write timeout could mistake for a stall.
pub(crate) const SLOW_READ: usize = 800;
/// See [`SLOW_READ`].
pub(crate) const SLOW_EVERY: Duration = Duration::from_millis(5);
/// The most a slow reader reads at once after a pause (its thread was not
/// scheduled, or its socket was empty), so a late tick catches up without
/// ever turning into a fast read.
pub(crate) const SLOW_BURST: usize = 8 * 1024;
/// The receive buffer a slow reader asks for before connecting (the issue's
/// 8 KiB; Linux doubles what is asked for its own bookkeeping, and the row
/// records what the socket really got).
pub(crate) const SLOW_RCVBUF: usize = 8 * 1024;
/// The pair's room and line size: short lines, as people chatting type.
pub(crate) const QUIET_ROOM: &str = "quiet";
pub(crate) const PAIR_SIZE: usize = 64;
/// The longest connecting and joining may take.
const JOIN_LIMIT: Duration = Duration::from_secs(30);
/// Bytes per read of a healthy client: a few dozen lines. Small, because the
/// peak RSS measured is this whole process, clients included.
const READ_BUF: usize = 16 * 1024;
/// After the run, the longest a slow reader reads on at full speed to reach
/// any skip notice the server queued behind what the kernel holds for it
/// (megabytes, read in well under a second).
pub(crate) const DRAIN_LIMIT: Duration = Duration::from_secs(3);
/// How often the main thread samples what the broadcaster is doing.
const SAMPLE_EVERY: Duration = Duration::from_millis(2);

/// Every line in G is sent at the server's default rate limit, which the
/// server keeps in this scenario (A-D turn it off).
pub(crate) fn rate() -> u32 {
    ServerConfig::default().rate_limit
}

/// Lines each talker and each of the pair sends.
pub(crate) fn lines_each() -> u32 {
    (SEND_FOR.as_secs_f64() * f64::from(rate())).round() as u32
}

record! {
    /// One run of G: K slow readers next to talkers and a pair.
    SlowRow {
        /// Slow readers (K).
        slow: u64,
        /// Talkers in the lobby, their line size, lines per second each, and
        /// how long they sent, seconds.
        talkers: u64,
        /// See `talkers`.
        line_size: u64,
        /// See `talkers`.
        rate: u64,
        /// See `talkers`.
        send_for_s: f64,
        /// The slow readers' pace: bytes per read, every so many ms.
        slow_read_bytes: u64,
        /// See `slow_read_bytes`.
        slow_every_ms: f64,
        /// The receive buffer a slow reader's socket got (bytes, as Linux
        /// reports it), if there was one.
        slow_rcvbuf_bytes: u64,
        /// Lines the talkers sent to each other: every talker's lines, once
        /// to each other talker.
        expected: u64,
        /// Of those, the ones that arrived by the end of the run.
        delivered: u64,
        /// The ones that had not (still on their way when the run ended,
        /// or lost).
        undelivered: u64,
        /// Lines missing below the highest one a client received from the
        /// same talker: certainly lost, not late.
        lost: u64,
        /// Lines received twice, out of order or broken, and chat lines
        /// nobody sent.
        duplicated: u64,
        /// See `duplicated`.
        reordered: u64,
        /// See `duplicated`.
        corrupted: u64,
        /// See `duplicated`.
        stray: u64,
        /// Latency of a talker's line to a healthy client, ms: every line,
        /// to every other talker; a line that had not arrived counts as
        /// late as the end of the run.
        p50_ms: Option<f64>,
        /// See `p50_ms`.
        p90_ms: Option<f64>,
        /// See `p50_ms`.
        p99_ms: Option<f64>,
        /// See `p50_ms`.
        max_ms: Option<f64>,
        /// True where that figure includes lines that never arrived, so it
        /// is a lower bound.
        p50_at_least: bool,
        /// See `p50_at_least`.
        p90_at_least: bool,
        /// See `p50_at_least`.
        p99_at_least: bool,
        /// See `p50_at_least`.
        max_at_least: bool,
        /// From the start of sending to the send time of the first line that
        /// took a second or more (or never arrived), seconds; none if no
        /// line did.
        held_from_s: Option<f64>,
        /// The pair's lines: sent to each other, and arrived.
        pair_expected: u64,
        /// See `pair_expected`.
        pair_delivered: u64,
        /// The pair's lines lost, received twice, out of order or broken,
        /// and chat lines from anyone else (another room's).
        pair_errors: u64,
        /// Latency of the pair's lines, ms, counted as the talkers' are.
        pair_p50_ms: Option<f64>,
        /// See `pair_p50_ms`.
        pair_p99_ms: Option<f64>,
        /// See `pair_p50_ms`.
        pair_max_ms: Option<f64>,
        /// True where that figure includes lines that never arrived.
        pair_p99_at_least: bool,
        /// See `pair_p99_at_least`.
        pair_max_at_least: bool,
        /// Slow readers announced as `left (too slow)`, seen by any talker.
        evicted: u64,
        /// Other clients announced so, as seen by one talker (the most).
        evicted_others: u64,
        /// When the first of them was announced, seconds from the start of
        /// sending.
        first_evicted_s: Option<f64>,
        /// Talkers or pair members whose connection the server closed.
        healthy_dropped: u64,
        /// Slow readers whose connection the server had closed by the end,
        /// announced or not (from the kernel's view of the server's side).
        slow_closed: Option<f64>,
        /// `* N lines skipped` notices the slow readers got, and the lines
        /// they added up to.
        skip_notices: u64,
        /// See `skip_notices`.
        skipped_lines: u64,
        /// Such notices the healthy clients got (should be 0).
        healthy_skip_notices: u64,
        /// Talker lines the slow readers missed below a later one they got
        /// (lines skipped, announced or not), and those they got twice, out
        /// of order or broken (should be 0). Counted after the drain.
        slow_missing: u64,
        /// See `slow_missing`.
        slow_errors: u64,
        /// What a slow reader read per second, median over them, KB (1000 bytes).
        slow_read_kbps: Option<f64>,
        /// Talker lines a slow reader received, median over them.
        slow_lines: Option<f64>,
        /// Bytes the kernel held per slow reader at the end (its receive
        /// queue and the server's send queue to it), median over them, KiB.
        kernel_held_kib: Option<f64>,
        /// Where the broadcaster was while the lines went out, percent of
        /// samples every 2 ms: on a CPU, blocked in a socket write, waiting
        /// for events, in any other system call (today: its naps while it
        /// waits for a send queue to drain).
        broadcaster_running_pct: Option<f64>,
        /// See `broadcaster_running_pct`.
        broadcaster_writing_pct: Option<f64>,
        /// See `broadcaster_running_pct`.
        broadcaster_waiting_pct: Option<f64>,
        /// See `broadcaster_running_pct`.
        broadcaster_other_pct: Option<f64>,
        /// The most any line was sent after its time (the generator's own
        /// lateness: should be small), ms.
        sender_behind_ms: f64,
        /// RSS of this process (server and every client) before sending,
        /// and its peak from then to the end, MiB.
        rss_settled_mib: Option<f64>,
        /// See `rss_settled_mib`.
        rss_peak_mib: Option<f64>,
        /// CPU other processes used meanwhile, percent of the machine.
        other_load_pct: Option<f64>,
        /// From the first line sent to the end of the run, seconds.
        took_s: f64,
    }
}

impl SlowRow {
    /// For a person: what one run found.
    pub(crate) fn to_text(&self) -> String {
        let figure = |v: Option<f64>, at_least: bool| {
            let v = v.map_or("n/a".to_string(), |v| format!("{v:.1} ms"));
            if at_least {
                format!(">= {v}")
            } else {
                v
            }
        };
        let opt =
            |v: Option<f64>, unit: &str| v.map_or("n/a".to_string(), |v| format!("{v:.1}{unit}"));
        format!(
            "[G] {} slow readers ({} bytes every {} ms, receive buffer {} bytes), {} talkers x {} lines/s of {} bytes for {:.0} s, a pair in `{QUIET_ROOM}` -> in-process\n  \
             talkers     delivered {} of {} ({} not by the end); lost {} dup {} reordered {} corrupt {} stray {}\n  \
             latency     p50 {}  p90 {}  p99 {}  max {}; lines held a second or more from {}\n  \
             pair        delivered {} of {}, errors {}; latency p50 {}  p99 {}  max {}\n  \
             slow        evicted {} of {} (first at {}; closed by the server {}), others evicted {}, healthy dropped {}; read {} KB/s each, {} lines each; then drained: skip notices {} ({} lines), lines missing {}, errors {}; skip notices to healthy clients {}\n  \
             kernel      held {} per slow reader at the end\n  \
             broadcaster on CPU {}  blocked writing {}  waiting for events {}  other calls {}; senders at most {:.1} ms behind\n  \
             memory      peak RSS {} (settled {}); other processes used {} of the CPU; took {:.1} s\n",
            self.slow,
            self.slow_read_bytes,
            self.slow_every_ms,
            self.slow_rcvbuf_bytes,
            self.talkers,
            self.rate,
            self.line_size,
            self.send_for_s,
            self.delivered,
            self.expected,
            self.undelivered,
            self.lost,
            self.duplicated,
            self.reordered,
            self.corrupted,
            self.stray,
            figure(self.p50_ms, self.p50_at_least),
            figure(self.p90_ms, self.p90_at_least),
            figure(self.p99_ms, self.p99_at_least),
            figure(self.max_ms, self.max_at_least),
            self.held_from_s
                .map_or("never".to_string(), |s| format!("{s:.2} s on")),
            self.pair_delivered,
            self.pair_expected,
            self.pair_errors,
            figure(self.pair_p50_ms, false),
            figure(self.pair_p99_ms, self.pair_p99_at_least),
            figure(self.pair_max_ms, self.pair_max_at_least),
            self.evicted,
            self.slow,
            opt(self.first_evicted_s, " s"),
            self.slow_closed
                .map_or("n/a".to_string(), |n| format!("{n:.0}")),
            self.evicted_others,
            self.healthy_dropped,
            opt(self.slow_read_kbps, ""),
            opt(self.slow_lines, ""),
            self.skip_notices,
            self.skipped_lines,
            self.slow_missing,
            self.slow_errors,
            self.healthy_skip_notices,
            opt(self.kernel_held_kib, " KiB"),
            opt(self.broadcaster_running_pct, "%"),
            opt(self.broadcaster_writing_pct, "%"),
            opt(self.broadcaster_waiting_pct, "%"),
            opt(self.broadcaster_other_pct, "%"),
            self.sender_behind_ms,
            opt(self.rss_peak_mib, " MiB"),
            opt(self.rss_settled_mib, " MiB"),
            opt(self.other_load_pct, "%"),
            self.took_s,
        )
    }
}

/// One run with `slow` slow readers.
///
/// # Errors
/// The server could not start, a client could not connect or join in time,
/// or a thread could not be started or panicked.
pub(crate) fn run(slow: usize) -> Result<SlowRow, String> {
    // The default rate limit stays on: the talkers send at it, as students
    // would, and a server that delays a line for it is part of what is measured.
    let config = ServerConfig {
        rate_limit: rate(),
        ..inprocess::config()
    };
    let mut room = Room::open(config, slow)?;
    let names: Vec<String> = room.talkers.iter().map(|c| c.name.clone()).collect();
    let slow_names: Vec<String> = room.slow.iter().map(|c| c.name.clone()).collect();
    let talker_watches = || {
        names
            .iter()
            .map(|name| Watch::new(name, LINE_SIZE, false))
            .collect::<Vec<_>>()
    };

    // Everyone is a member (each was welcomed before the next connected, the
    // pair has moved): the readers start, then the senders.
    let mut slow_threads = Vec::new();
    for (i, client) in room.slow.iter_mut().enumerate() {
        let observer = Observer::new(talker_watches(), slow_names.clone());
        slow_threads.push(client.start(
            &format!("slow-{i}"),
            observer,
            Pace::Slow,
            &room.shared,
        )?);
    }
    let mut hear_threads = Vec::new();
    for (i, client) in room.talkers.iter_mut().enumerate() {
        let observer = Observer::new(talker_watches(), slow_names.clone()).with_histogram();
        hear_threads.push(client.start(
            &format!("hear-{i}"),
            observer,
            Pace::Full,
            &room.shared,
        )?);
    }
    let pair_names: Vec<String> = room.pair.iter().map(|c| c.name.clone()).collect();
    let mut pair_threads = Vec::new();
    for (i, client) in room.pair.iter_mut().enumerate() {
        let watches = pair_names
            .iter()
            .map(|name| Watch::new(name, PAIR_SIZE, false))
            .collect();
        let observer = Observer::new(watches, slow_names.clone()).with_histogram();
        pair_threads.push(client.start(
            &format!("pair-hear-{i}"),
            observer,
            Pace::Full,
            &room.shared,
        )?);
    }

    let peak_reset = procfs::reset_peak(None);
    let rss_settled = procfs::status_kib(None, "VmRSS");
    let load_start = LoadMark::now();
    let every = Duration::from_secs(1) / rate();
    // A moment for the threads above to be waiting on their sockets.
    let start = Instant::now() + Duration::from_millis(20);
    let start_ns = room.shared.ns(start);
    let mut senders = Vec::new();
    for (i, client) in room.talkers.iter().enumerate() {
        // The talkers take turns evenly within each interval, as a class
        // typing does, not all at once: talker i at i/40 of it.
        let offset = every.mul_f64(i as f64 / TALKERS as f64);
        let schedule = Schedule {
            first: start + offset,
            every,
            lines: lines_each(),
        };
        senders.push(client.talk(
            &format!("talk-{i}"),
            i as u32,
            LINE_SIZE,
            schedule,
            &room.shared,
        )?);
    }
    for (i, client) in room.pair.iter().enumerate() {
        // The two take turns, half an interval apart.
        let schedule = Schedule {
            first: start + every.mul_f64(0.5 * i as f64),
            every,
            lines: lines_each(),
        };
        senders.push(client.talk(
            &format!("pair-{i}"),
            i as u32,
            PAIR_SIZE,
            schedule,
            &room.shared,
        )?);
    }

    // While the lines go out, where is the broadcaster?
    let broadcaster = procfs::find_thread("broadcaster");
    let mut states = [0u64; 4];
    while !senders.iter().all(JoinHandle::is_finished) && Instant::now() < room.shared.deadline {
        if let Some(state) = broadcaster.and_then(procfs::thread_state) {
            states[state as usize] += 1;
        }
        thread::sleep(SAMPLE_EVERY);
    }
    let mut talked = Vec::new();
    for sender in senders {
        talked.push(join(sender)?);
    }
    let (talker_sent, pair_sent) = talked.split_at(TALKERS);
    let talker_total: u64 = talker_sent.iter().map(|t| t.sent_ns.len() as u64).sum();
    // Every talker's lines go to every other talker; each of the pair's to the other.
    let expected = talker_total * (TALKERS as u64 - 1);
    let pair_expected: u64 = pair_sent.iter().map(|t| t.sent_ns.len() as u64).sum();
    let sent_by = Instant::now();
    while Instant::now() < sent_by + GRACE {
        let heard: u64 = room
            .talkers
            .iter()
            .map(|c| c.heard.load(Ordering::Relaxed))
            .sum();
        let pair_heard: u64 = room
            .pair
            .iter()
            .map(|c| c.heard.load(Ordering::Relaxed))
            .sum();
        if heard >= expected && pair_heard >= pair_expected {
            break;
        }
        thread::sleep(SAMPLE_EVERY);
    }
    let end_ns = room.shared.now_ns();
    let load_end = LoadMark::now();
    let rss_peak = procfs::status_kib(None, if peak_reset { "VmHWM" } else { "VmRSS" });
    let (kernel_held, slow_closed) = room.kernel_view();

    room.shared.stopping.store(true, Ordering::Release);
    room.shut_down_healthy();
    let mut heard = Vec::new();
    for handle in hear_threads {
        heard.push(join(handle)?);
    }
    let mut pair_heard = Vec::new();
    for handle in pair_threads {
        pair_heard.push(join(handle)?);
    }
    // What the kernel holds for a slow reader comes before anything the
    // server tells it now, a skip notice included: the slow readers read
    // the rest at full speed, so the notices can be counted.
    room.shared.draining.store(true, Ordering::Release);
    let mut trickled = Vec::new();
    for handle in slow_threads {
        trickled.push(join(handle)?);
    }
    let rcvbuf = room.slow_rcvbuf;
    drop(room);

    let talkers = Tally::of(&heard, talker_sent, end_ns);
    // Each of the pair watches both (marker 0 and 1) and hears the other.
    let pair = Tally::of(&pair_heard, pair_sent, end_ns);
    let announced = || {
        heard
            .iter()
            .chain(&pair_heard)
            .flat_map(|h| h.observer.evicted.iter())
    };
    let mut evicted: Vec<&String> = announced().map(|(name, _)| name).collect();
    evicted.sort_unstable();
    evicted.dedup();
    let first_evicted_ns = announced().map(|&(_, at)| at).min();
    let median = |mut values: Vec<f64>| -> Option<f64> {
        values.sort_by(f64::total_cmp);
        values.get(values.len() / 2).copied()
    };
    let sending_s = seconds(end_ns.saturating_sub(start_ns));
    let samples: u64 = states.iter().sum();
    let share = |state: ThreadState| {
        (samples > 0).then(|| 100.0 * states[state as usize] as f64 / samples as f64)
    };
    let (talker_q, pair_q) = (talkers.quantiles(), pair.quantiles());
    let mib = |kib: Option<u64>| kib.map(|k| k as f64 / 1024.0);
    Ok(SlowRow {
        slow: slow as u64,
        talkers: TALKERS as u64,
        line_size: LINE_SIZE as u64,
        rate: u64::from(rate()),
        send_for_s: SEND_FOR.as_secs_f64(),
        slow_read_bytes: SLOW_READ as u64,
        slow_every_ms: SLOW_EVERY.as_secs_f64() * 1e3,
        slow_rcvbuf_bytes: rcvbuf.unwrap_or(0) as u64,
        expected,
        delivered: talkers.delivered,
        undelivered: expected.saturating_sub(talkers.delivered),
        lost: talkers.lost,
        duplicated: talkers.duplicated,
        reordered: talkers.reordered,
        corrupted: talkers.corrupted,
        stray: talkers.stray,
        p50_ms: talker_q[0].0,
        p90_ms: talker_q[1].0,
        p99_ms: talker_q[2].0,
        max_ms: talker_q[3].0,
        p50_at_least: talker_q[0].1,
        p90_at_least: talker_q[1].1,
        p99_at_least: talker_q[2].1,
        max_at_least: talker_q[3].1,
        held_from_s: talkers
            .first_late_sent_ns
            .map(|ns| seconds(ns.saturating_sub(start_ns))),
        pair_expected,
        pair_delivered: pair.delivered,
        pair_errors: pair.lost + pair.duplicated + pair.reordered + pair.corrupted + pair.stray,
        pair_p50_ms: pair_q[0].0,
        pair_p99_ms: pair_q[2].0,
        pair_max_ms: pair_q[3].0,
        pair_p99_at_least: pair_q[2].1,
        pair_max_at_least: pair_q[3].1,
        evicted: evicted.len() as u64,
        first_evicted_s: first_evicted_ns.map(|ns| seconds(ns.saturating_sub(start_ns))),
        evicted_others: heard
            .iter()
            .map(|h| h.observer.evicted_others)
            .max()
            .unwrap_or(0),
        healthy_dropped: heard
            .iter()
            .chain(&pair_heard)
            .filter(|h| h.dropped)
            .count() as u64,
        slow_closed: slow_closed.map(|n| n as f64),
        skip_notices: trickled.iter().map(|h| h.observer.skip_notices).sum(),
        skipped_lines: trickled.iter().map(|h| h.observer.skipped_lines).sum(),
        slow_missing: trickled
            .iter()
            .map(|h| slow_lines(h, |l| l.missing_below_highest()))
            .sum(),
        slow_errors: trickled
            .iter()
            .map(|h| slow_lines(h, |l| l.duplicated + l.reordered + l.corrupted) + h.observer.stray)
            .sum(),
        healthy_skip_notices: heard
            .iter()
            .chain(&pair_heard)
            .map(|h| h.observer.skip_notices)
            .sum(),
        slow_read_kbps: median(
            trickled
                .iter()
                .map(|h| h.bytes as f64 / 1e3 / sending_s.max(1e-9))
                .collect(),
        ),
        slow_lines: median(trickled.iter().map(|h| h.lines as f64).collect()),
        kernel_held_kib: kernel_held.map(|bytes| bytes as f64 / 1024.0),
        broadcaster_running_pct: share(ThreadState::Running),
        broadcaster_writing_pct: share(ThreadState::Writing),
        broadcaster_waiting_pct: share(ThreadState::Waiting),
        broadcaster_other_pct: share(ThreadState::Other),
        sender_behind_ms: talked.iter().map(|t| t.behind_ns).max().unwrap_or(0) as f64 / 1e6,
        rss_settled_mib: mib(rss_settled),
        rss_peak_mib: mib(rss_peak),
        other_load_pct: load_end.others_since(&load_start),
        took_s: sending_s,
    })
}

/// `count` summed over the talkers' lines as a slow reader received them.
fn slow_lines(heard: &Heard, count: impl Fn(&crate::observer::Lines) -> u64) -> u64 {
    (0..TALKERS).map(|j| count(heard.observer.lines(j))).sum()
}

fn seconds(ns: u64) -> f64 {
    ns as f64 / 1e9
}

/// What the healthy clients of one kind (the talkers, or the pair) received,
/// put together: every line each should have had, on time, late or never.
#[derive(Debug, Default)]
struct Tally {
    delivered: u64,
    lost: u64,
    duplicated: u64,
    reordered: u64,
    corrupted: u64,
    stray: u64,
    /// Latencies of the lines that arrived, and, for each that had not by
    /// the end, the time from its sending to the end: it is at least that late.
    all: Histogram,
    /// The smallest of the latter: any figure at or above it may rest on a
    /// line that never arrived, so it is only a lower bound.
    least_missing_ns: Option<u64>,
    first_late_sent_ns: Option<u64>,
}

impl Tally {
    /// `heard[i]` is what client `i` received, with watch `j` for sender
    /// `j`, `sent[j]` what sender `j` sent; client `i` is sender `i`, and
    /// its own lines never come back to it. The run ended at `end_ns`.
    fn of(heard: &[Heard], sent: &[Talked], end_ns: u64) -> Tally {
        let mut t = Tally::default();
        for (i, h) in heard.iter().enumerate() {
            let o = &h.observer;
            if let Some(latency) = &o.latency {
                t.all.merge(latency);
            }
            t.stray += o.stray;
            for (j, talked) in sent.iter().enumerate() {
                if i == j {
                    continue;
                }
                let lines = o.lines(j);
                t.delivered += lines.distinct;
                t.lost += lines.missing_below_highest();
                t.duplicated += lines.duplicated;
                t.reordered += lines.reordered;
                t.corrupted += lines.corrupted;
                t.late(lines.first_late_sent_ns);
                for (seq, &sent_ns) in talked.sent_ns.iter().enumerate() {
                    if !lines.has(seq as u32) {
                        let at_least = end_ns.saturating_sub(sent_ns);
                        t.all.record(at_least);
                        t.least_missing_ns =
                            Some(t.least_missing_ns.map_or(at_least, |m| m.min(at_least)));
                        if at_least >= LATE_NS {
                            t.late(Some(sent_ns));
                        }
                    }
                }
            }
        }
        t
    }

    fn late(&mut self, sent_ns: Option<u64>) {
        if let Some(sent_ns) = sent_ns {
            self.first_late_sent_ns =
                Some(self.first_late_sent_ns.map_or(sent_ns, |f| f.min(sent_ns)));
        }
    }

    /// p50, p90, p99 and the worst, in ms, each with whether it is a lower bound.
    fn quantiles(&self) -> [(Option<f64>, bool); 4] {
        let figure = |ns: Option<u64>| {
            let at_least = match (ns, self.least_missing_ns) {
                (Some(ns), Some(least)) => ns >= least,
                _ => false,
            };
            (ns.map(|ns| ns as f64 / 1e6), at_least)
        };
        let worst = (self.all.count() > 0).then(|| self.all.max());
        [
            figure(self.all.quantile(0.50)),
            figure(self.all.quantile(0.90)),
            figure(self.all.quantile(0.99)),
            figure(worst),
        ]
    }
}

/// When a sender sends: `lines` lines, the first at `first`, then one every `every`.
#[derive(Debug, Clone, Copy)]
struct Schedule {
    first: Instant,
    every: Duration,
    lines: u32,
}

/// How a client reads.
#[derive(Debug, Clone, Copy)]
enum Pace {
    /// Whatever has arrived, as soon as it has: a healthy client.
    Full,
    /// [`SLOW_READ`] bytes every [`SLOW_EVERY`]: a slow link.
    Slow,
}

/// What a sending thread did.
#[derive(Debug, Default)]
struct Talked {
    /// When each line was formatted and written, by sequence number (run
    /// clock, ns).
    sent_ns: Vec<u64>,
    /// The most a line was formatted after its time.
    behind_ns: u64,
}

/// What a reading thread made of its bytes.
#[derive(Debug)]
struct Heard {
    observer: Observer,
    /// Bytes and distinct watched lines read at the client's own pace (a
    /// slow reader's drain at the end not included).
    bytes: u64,
    /// See `bytes`.
    lines: u64,
    /// The server closed the connection before the run ended.
    dropped: bool,
}

/// What every thread of the run shares.
#[derive(Debug)]
struct Shared {
    /// The run's clock: every send time and receive time counts from here.
    epoch: Instant,
    /// No thread goes on past this.
    deadline: Instant,
    /// Set before the main thread shuts the sockets down, so a reader can
    /// tell that from the server closing its connection.
    stopping: AtomicBool,
    /// Set when the slow readers are to read the rest at full speed.
    draining: AtomicBool,
}

impl Shared {
    fn now_ns(&self) -> u64 {
        self.ns(Instant::now())
    }

    fn ns(&self, at: Instant) -> u64 {
        at.saturating_duration_since(self.epoch).as_nanos() as u64
    }
}

/// One client of the run.
#[derive(Debug)]
struct Client {
    stream: TcpStream,
    /// Its name in the room: its address, as the server sees it.
    name: String,
    /// What it received before its reading thread started.
    backlog: Vec<u8>,
    /// Distinct watched lines its reading thread has tallied so far.
    heard: Arc<AtomicU64>,
}

impl Client {
    fn new(stream: TcpStream, backlog: Vec<u8>) -> Result<Client, String> {
        Ok(Client {
            name: name_of(&stream)?,
            stream,
            backlog,
            heard: Arc::new(AtomicU64::new(0)),
        })
    }

    /// Starts the thread that reads this client's socket at `pace` and
    /// tallies it with `observer`.
    fn start(
        &mut self,
        name: &str,
        mut observer: Observer,
        pace: Pace,
        shared: &Arc<Shared>,
    ) -> Result<JoinHandle<Heard>, String> {
        let stream = self.stream.try_clone().map_err(|e| e.to_string())?;
        observer.feed(&std::mem::take(&mut self.backlog), shared.now_ns());
        let (heard, shared) = (self.heard.clone(), shared.clone());
        spawn(name, move || read(stream, observer, pace, &heard, &shared))
    }

    /// Starts the thread that sends this client's lines, as marker sender
    /// `marker`, `size` bytes each, on `schedule`.
    fn talk(
        &self,
        name: &str,
        marker: u32,
        size: usize,
        schedule: Schedule,
        shared: &Arc<Shared>,
    ) -> Result<JoinHandle<Talked>, String> {
        let stream = self.stream.try_clone().map_err(|e| e.to_string())?;
        let shared = shared.clone();
        spawn(name, move || {
            talk(stream, Format::new(size), marker, schedule, &shared)
        })
    }
}

/// The server and every client of one run. Dropping it ends the run in an
/// order that cannot hang: every socket is shut down (ending the threads that
/// use it) and closed, the slow readers first (unread data makes that a reset,
/// so a write the server is blocked in fails at once), then the server stops.
#[derive(Debug)]
struct Room {
    server: Option<InProcess>,
    shared: Arc<Shared>,
    talkers: Vec<Client>,
    pair: Vec<Client>,
    slow: Vec<Client>,
    /// The server's port, to find the slow readers' connections in `/proc/net/tcp`.
    server_port: u16,
    /// The receive buffer a slow reader's socket got.
    slow_rcvbuf: Option<usize>,
}

impl Room {
    /// Starts the server and connects, one after the other and each welcomed
    /// before the next connects, the talkers, the pair (who then move to
    /// [`QUIET_ROOM`]) and `slow` slow readers.
    fn open(config: ServerConfig, slow: usize) -> Result<Room, String> {
        let (server, addr) = InProcess::start(config)?;
        let epoch = Instant::now();
        let shared = Arc::new(Shared {
            epoch,
            deadline: epoch + JOIN_LIMIT + SEND_FOR + GRACE + Duration::from_secs(10),
            stopping: AtomicBool::new(false),
            draining: AtomicBool::new(false),
        });
        // From here on, dropping `room` on an error tears everything down.
        let mut room = Room {
            server: Some(server),
            shared,
            talkers: Vec::new(),
            pair: Vec::new(),
            slow: Vec::new(),
            server_port: addr.port(),
            slow_rcvbuf: None,
        };
        let limit = epoch + JOIN_LIMIT;
        for _ in 0..TALKERS {
            let stream = connect(addr, "a talker")?;
            // Lines must leave at once, not wait for an ACK (Nagle).
            stream.set_nodelay(true).map_err(|e| e.to_string())?;
            let backlog = await_welcome(&stream, "a talker", limit)?;
            room.talkers.push(Client::new(stream, backlog)?);
        }
        let moved = format!("* you are now in {QUIET_ROOM}");
        for _ in 0..2 {
            let stream = connect(addr, "one of the pair")?;
            stream.set_nodelay(true).map_err(|e| e.to_string())?;
            await_welcome(&stream, "one of the pair", limit)?;
            if !write_before(&stream, format!("/join {QUIET_ROOM}\n").as_bytes(), limit) {
                return Err("one of the pair could not ask to join".to_string());
            }
            let backlog = await_line(&stream, "one of the pair", limit, &moved)?;
            room.pair.push(Client::new(stream, backlog)?);
        }
        for _ in 0..slow {
            let (stream, rcvbuf) = connect_slow(addr)?;
            room.slow_rcvbuf = Some(rcvbuf);
            let backlog = await_welcome(&stream, "a slow reader", limit)?;
            room.slow.push(Client::new(stream, backlog)?);
        }
        Ok(room)
    }

    /// The slow readers' connections as the kernel sees them now: the bytes
    /// it holds per slow reader, median over them (what its receive queue
    /// holds plus what the server's send queue to it holds), and how many of
    /// them the server has closed. An evicted reader still has those bytes
    /// to read before it sees the close, so it cannot tell by itself.
    fn kernel_view(&self) -> (Option<u64>, Option<u64>) {
        let Some(queues) = procfs::loopback_tcp_queues() else {
            return (None, None);
        };
        let mut held = Vec::new();
        let mut closed = 0;
        for local in self.slow.iter().filter_map(|c| c.stream.local_addr().ok()) {
            let port = local.port();
            let client = queues.get(&(port, self.server_port));
            let server = queues.get(&(self.server_port, port));
            held.push(client.map_or(0, |q| q.receive) + server.map_or(0, |q| q.send));
            if !server.is_some_and(|q| q.established) {
                closed += 1;
            }
        }
        held.sort_unstable();
        (held.get(held.len() / 2).copied(), Some(closed))
    }

    /// Shuts the talkers' and the pair's sockets down, which ends the
    /// threads reading and writing them.
    fn shut_down_healthy(&self) {
        for client in self.talkers.iter().chain(&self.pair) {
            let _ = client.stream.shutdown(Shutdown::Both);
        }
    }
}

impl Drop for Room {
    fn drop(&mut self) {
        for client in &self.slow {
            let _ = client.stream.shutdown(Shutdown::Both);
        }
        self.shut_down_healthy();
        self.slow.clear();
        self.talkers.clear();
        self.pair.clear();
        if let Some(server) = self.server.take() {
            server.stop();
        }
    }
}

/// A slow reader's connection: a small receive buffer, asked for before
/// connecting (the window is agreed then). Returns the buffer it got.
fn connect_slow(addr: SocketAddr) -> Result<(TcpStream, usize), String> {
    let fail = |e: std::io::Error| format!("cannot connect a slow reader: {e}");
    let socket = Socket::new(Domain::IPV4, Type::STREAM, Some(Protocol::TCP)).map_err(fail)?;
    socket.set_recv_buffer_size(SLOW_RCVBUF).map_err(fail)?;
    socket
        .connect_timeout(&addr.into(), Duration::from_secs(5))
        .map_err(fail)?;
    let got = socket.recv_buffer_size().map_err(fail)?;
    Ok((with_poll_timeouts(socket.into())?, got))
}

/// A reading thread: reads at `pace` and tallies until the socket is shut
/// down or closed, or the deadline passes, publishing its count of distinct
/// lines in `heard` as it goes. A slow reader told to drain then reads at full
/// speed until nothing comes for [`sockets::POLL`](crate::sockets::POLL), or
/// for at most [`DRAIN_LIMIT`].
fn read(
    stream: TcpStream,
    mut observer: Observer,
    pace: Pace,
    heard: &AtomicU64,
    shared: &Shared,
) -> Heard {
    let mut buf = vec![
        0u8;
        match pace {
            Pace::Full => READ_BUF,
            Pace::Slow => SLOW_BURST,
        }
    ];
    let started = Instant::now();
    let mut bytes = 0u64;
    let mut ticks = 0u32;
    let mut dropped = false;
    // When a slow reader's drain began, and what it had read at its pace.
    let mut drain: Option<(Instant, u64, u64)> = None;
    loop {
        let now = Instant::now();
        if now >= shared.deadline || drain.is_some_and(|(begun, ..)| now >= begun + DRAIN_LIMIT) {
            break;
        }
        let want = match pace {
            Pace::Full => buf.len(),
            Pace::Slow if drain.is_some() => buf.len(),
            Pace::Slow if shared.draining.load(Ordering::Acquire) => {
                drain = Some((now, bytes, observer.distinct()));
                buf.len()
            }
            Pace::Slow => {
                // Pacing, not synchronisation: this is the link's speed.
                ticks += 1;
                let due = started + SLOW_EVERY * ticks;
                thread::sleep(due.saturating_duration_since(Instant::now()));
                let owed = (u64::from(ticks) * SLOW_READ as u64).saturating_sub(bytes);
                owed.min(SLOW_BURST as u64) as usize
            }
        };
        if want == 0 {
            continue;
        }
        match (&stream).read(&mut buf[..want]) {
            Ok(0) => {
                dropped = !shared.stopping.load(Ordering::Acquire);
                break;
            }
            Ok(n) => {
                bytes += n as u64;
                observer.feed(&buf[..n], shared.now_ns());
                heard.store(observer.distinct(), Ordering::Relaxed);
            }
            // Drained: nothing more came for a while.
            Err(e) if is_timeout(&e) && drain.is_some() => break,
            Err(e) if is_timeout(&e) => {}
            Err(_) => {
                dropped = !shared.stopping.load(Ordering::Acquire);
                break;
            }
        }
    }
    let (bytes, lines) = drain.map_or((bytes, observer.distinct()), |(_, b, l)| (b, l));
    Heard {
        observer,
        bytes,
        lines,
        dropped,
    }
}

/// A sending thread: writes one line at each time of `schedule` until done,
/// the deadline passes, or its socket is shut down. Each line carries the
/// time it was formatted, just before its write.
fn talk(
    stream: TcpStream,
    format: Format,
    marker: u32,
    schedule: Schedule,
    shared: &Shared,
) -> Talked {
    let mut talked = Talked::default();
    let mut line = Vec::with_capacity(LINE_SIZE);
    for seq in 0..schedule.lines {
        let due = schedule.first + schedule.every * seq;
        if due >= shared.deadline {
            break;
        }
        // Pacing, not synchronisation: a person typing.
        thread::sleep(due.saturating_duration_since(Instant::now()));
        let now = shared.now_ns();
        talked.behind_ns = talked.behind_ns.max(now.saturating_sub(shared.ns(due)));
        line.clear();
        format.write_line(&mut line, marker, seq, now);
        if !write_before(&stream, &line, shared.deadline) {
            break;
        }
        talked.sent_ns.push(now);
    }
    talked
}

/// Checks how G puts its clients' tallies together, lines that never arrived
/// included. A bench with `harness = false` runs no `#[test]`s, so
/// `--self-test` calls this.
///
/// # Errors
/// The first case that fails, described.
pub(crate) fn self_test() -> Result<(), String> {
    let names = ["127.0.0.1:5000", "127.0.0.1:5001"];
    let heard = |lines: &[(u32, u32, u64, u64)]| {
        let watches = names.iter().map(|n| Watch::new(n, 64, false)).collect();
        let mut observer = Observer::new(watches, Vec::new()).with_histogram();
        for &(sender, seq, sent_ns, now_ns) in lines {
            let mut line = format!("> {}: ", names[sender as usize]).into_bytes();
            Format::new(64).write_line(&mut line, sender, seq, sent_ns);
            observer.feed(&line, now_ns);
        }
        Heard {
            observer,
            bytes: 0,
            lines: 0,
            dropped: false,
        }
    };
    let ms = 1_000_000;
    let sent = [
        Talked {
            sent_ns: vec![0, 10 * ms, 20 * ms, 30 * ms],
            behind_ns: 0,
        },
        Talked {
            sent_ns: vec![5 * ms],
            behind_ns: 0,
        },
    ];
    // Client 0 hears client 1's only line; client 1 hears lines 0 and 2 of
    // client 0 but not 1 (lost: a later one came) nor 3 (still on its way).
    let clients = [
        heard(&[(1, 0, 5 * ms, 6 * ms)]),
        heard(&[(0, 0, 0, 2 * ms), (0, 2, 20 * ms, 22 * ms)]),
    ];
    let end = 2_030 * ms;
    let t = Tally::of(&clients, &sent, end);
    check(t.delivered == 3, "three lines arrived")?;
    check(t.lost == 1, "a line missing below a later one is lost")?;
    check(
        t.all.count() == 5,
        "every line has a latency, arrived or not",
    )?;
    check(
        t.least_missing_ns == Some(end - 30 * ms),
        "the least a missing line is late: sent last, to the end",
    )?;
    let [p50, _, _, worst] = t.quantiles();
    check(!p50.1, "the median rests on lines that arrived")?;
    check(
        worst.1 && worst.0 == Some((end - 10 * ms) as f64 / 1e6),
        "the worst is a lower bound: the earliest missing line",
    )?;
    check(
        t.first_late_sent_ns == Some(10 * ms),
        "held from the first line that took a second or never came",
    )?;
    let on_time = Tally::of(&clients[..1], &sent, end);
    check(
        on_time.least_missing_ns.is_none() && !on_time.quantiles()[3].1,
        "with nothing missing, no figure is a lower bound",
    )
}

fn check(ok: bool, what: &str) -> Result<(), String> {
    if ok {
        Ok(())
    } else {
        Err(format!("scenario G self-test failed: {what}"))
    }
}
