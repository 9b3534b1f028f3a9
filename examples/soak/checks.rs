//! The checks, pure: what the soak gathered ([`Evidence`]) in, a list of
//! [`Check`]s out, each passed or failed with what was measured and, when
//! it failed, the first cases that made it fail. `report.rs` writes them
//! down; `main.rs` exits non-zero if any failed.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::clients::admission::{Burst, Knock, Outcome};
use crate::clients::console::ConsoleReport;
use crate::clients::healthy::HealthyReport;
use crate::clients::moderated::Arrival;
use crate::clients::Tally;
use crate::mix::{Kind, Tag};
use crate::probes::{LoadShares, TcpState};
use crate::sampler::{Samples, CLOSE_WAIT_LIMIT};
use crate::server::Stopped;
use crate::transcript::{RoomLine, Transcript};

/// A refusal is fair when the server's descriptors were within this many
/// of its limit: between the refusal and the count, a few connections of
/// the chaos may have closed.
pub(crate) const BUSY_SLACK: usize = 8;
/// The memory a connection may cost besides its share of the queues: the
/// stack pages its reader touches, its 8 KiB read buffer, an unfinished
/// line, its records in the registry and the broadcaster. Measured idle
/// at about 10 KiB (docs/ARCHITECTURE.md); this allows three times that.
pub(crate) const PER_CONNECTION_KIB: u64 = 32;
/// Finished readers the accept loop keeps unjoined (it forgets them every
/// 256 connections), each with its stack still mapped.
pub(crate) const UNJOINED_READERS: u64 = 256;
/// The server's events channel: 1024 events of at most 16 KiB of lines
/// plus one line (`EVENTS_CAPACITY`, `MAX_EVENT_BYTES`).
pub(crate) const EVENTS_KIB: u64 = 1024 * 17;
/// The recorder's channel (4096 records of a line and its fields) and the
/// dashboard (64 connections, a snapshot of the room each): together well
/// under this.
pub(crate) const HELPERS_KIB: u64 = 8 * 1024;
/// A room log holds whole 64 KiB blocks, each a vector that may have
/// twice its bytes in capacity.
pub(crate) const BLOCK_KIB: u64 = 64;

/// The server's settings the checks need.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub(crate) fd_limit: usize,
    pub(crate) room_log_bytes: u64,
    pub(crate) logs_bytes: u64,
    pub(crate) sendq_bytes: u64,
    pub(crate) hold_secs: u64,
}

/// The server's figures before any client came.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Baseline {
    pub(crate) threads: usize,
    pub(crate) fds: usize,
    pub(crate) rss_kib: u64,
    pub(crate) listening: usize,
}

/// The server's figures once the chaos was over and its clients gone.
#[derive(Debug, Clone, Default)]
pub(crate) struct Settled {
    /// Chat connections the soak still held (its healthy clients).
    pub(crate) live: usize,
    pub(crate) threads: usize,
    pub(crate) threads_by_name: BTreeMap<String, usize>,
    pub(crate) fds: usize,
    /// The server's own sockets, by state.
    pub(crate) sockets: BTreeMap<TcpState, usize>,
    /// Sockets on the server's ports no process holds any more, by state.
    pub(crate) orphans: BTreeMap<TcpState, usize>,
    /// Seconds it took to get there after the last client went, or the
    /// time given up after.
    pub(crate) took: f64,
    pub(crate) reached: bool,
}

/// Everything the soak gathered.
#[derive(Debug)]
pub(crate) struct Evidence {
    pub(crate) minutes: f64,
    pub(crate) settings: Settings,
    pub(crate) flags: Vec<String>,
    pub(crate) base: Baseline,
    pub(crate) settled: Settled,
    pub(crate) samples: Samples,
    /// `VmHWM` when the chaos was over.
    pub(crate) peak_rss_kib: u64,
    pub(crate) healthy: Vec<HealthyReport>,
    pub(crate) transcript: Transcript,
    pub(crate) tallies: BTreeMap<Kind, Tally>,
    pub(crate) console: ConsoleReport,
    pub(crate) bursts: Vec<Burst>,
    pub(crate) stopped: Stopped,
    pub(crate) load: Option<LoadShares>,
    /// Most rooms the server had at once (as far as the soak made them).
    pub(crate) rooms: usize,
    /// Seconds since the server started when the chaos began and ended.
    pub(crate) chaos: (f64, f64),
    /// The kind of client that last used each local port.
    pub(crate) ports: HashMap<u16, Kind>,
}

/// One check's verdict.
#[derive(Debug, Clone)]
pub(crate) struct Check {
    pub(crate) name: &'static str,
    pub(crate) passed: bool,
    /// What was measured, in a sentence.
    pub(crate) measured: String,
    /// What made it fail (the first few cases).
    pub(crate) failures: Vec<String>,
}

impl Check {
    fn new(name: &'static str, failures: Vec<String>, measured: String) -> Check {
        Check {
            name,
            passed: failures.is_empty(),
            measured,
            failures: failures.into_iter().take(12).collect(),
        }
    }
}

/// Every check, in the report's order.
pub(crate) fn all(e: &Evidence) -> Vec<Check> {
    vec![
        threads(e),
        descriptors(e),
        sockets(e),
        close_wait(e),
        memory(e),
        healthy_lines(e),
        newcomers(e),
        no_panic(e),
        clean_stop(e),
        mute(e),
        problems(
            e,
            "half-close",
            "half-closes and /quit answered, then closed",
            &[Kind::HalfCloser, Kind::Newcomer],
        ),
        problems(
            e,
            "resume",
            "resumed sessions get exactly what they missed",
            &[Kind::Resumer],
        ),
        bans(e),
    ]
}

/// Threads once the chaos is over: those it had before any client, and one
/// reader per client still connected.
fn threads(e: &Evidence) -> Check {
    let s = &e.settled;
    let want = e.base.threads + s.live;
    let mut failures = Vec::new();
    if s.threads != want {
        failures.push(format!(
            "{} threads, not {} + {} = {want}: {:?}",
            s.threads, e.base.threads, s.live, s.threads_by_name
        ));
    }
    let peak = e
        .samples
        .series
        .iter()
        .map(|x| x.threads)
        .max()
        .unwrap_or(0);
    let names: Vec<String> = s
        .threads_by_name
        .iter()
        .map(|(name, n)| format!("{name} {n}"))
        .collect();
    Check::new(
        "no thread left beyond the live clients",
        failures,
        format!(
            "{} threads after the chaos = {} before any client + {} readers of live clients ({}); peak {peak}",
            s.threads,
            e.base.threads,
            s.live,
            names.join(", ")
        ),
    )
}

/// Descriptors once the chaos is over: those it had before, and one
/// socket per client still connected.
fn descriptors(e: &Evidence) -> Check {
    let s = &e.settled;
    let want = e.base.fds + s.live;
    let mut failures = Vec::new();
    if s.fds != want {
        failures.push(format!(
            "{} descriptors, not {} + {} = {want}",
            s.fds, e.base.fds, s.live
        ));
    }
    let peak = e.samples.peak_fds();
    Check::new(
        "no descriptor left beyond the live clients",
        failures,
        format!(
            "{} descriptors after the chaos = {} before any client + {} live clients; \
             peak {peak} of the {} allowed",
            s.fds, e.base.fds, s.live, e.settings.fd_limit
        ),
    )
}

/// The server's sockets once the chaos is over: its listeners, and one
/// established connection per live client, nothing else.
fn sockets(e: &Evidence) -> Check {
    let s = &e.settled;
    let mut failures = Vec::new();
    for (state, n) in &s.sockets {
        let want = match state {
            TcpState::Listen => e.base.listening,
            TcpState::Established => s.live,
            _ => 0,
        };
        if *n != want {
            failures.push(format!("{n} in {}, not {want}", state.name()));
        }
    }
    if s.sockets.get(&TcpState::Established).copied().unwrap_or(0) != s.live {
        failures.push(format!("not {} established", s.live));
    }
    failures.dedup();
    Check::new(
        "no socket left beyond the live clients",
        failures,
        format!(
            "the server's sockets after the chaos: {}; on its ports, held by no process: {}",
            states(&s.sockets),
            if s.orphans.is_empty() {
                "none".to_string()
            } else {
                states(&s.orphans)
            }
        ),
    )
}

fn states(by_state: &BTreeMap<TcpState, usize>) -> String {
    let parts: Vec<String> = by_state
        .iter()
        .map(|(state, n)| format!("{n} {}", state.name()))
        .collect();
    parts.join(", ")
}

/// No server socket stays in CLOSE-WAIT (the client closed, the server not
/// yet) for more than a second, at any time of the soak.
fn close_wait(e: &Evidence) -> Check {
    let s = &e.samples;
    let failures = s
        .long_close_waits
        .iter()
        .map(|long| {
            let kind = e
                .ports
                .get(&long.client_port)
                .map_or("an unknown kind".to_string(), |k| format!("a {k}"));
            format!(
                "a socket in CLOSE-WAIT for {:.2} s from t = {:.1} s (client port {}, last used by {kind})",
                long.seconds, long.since, long.client_port
            )
        })
        .collect();
    Check::new(
        "nothing in CLOSE-WAIT beyond a second",
        failures,
        format!(
            "{} server sockets seen in CLOSE-WAIT (looking every 0.25 s); the longest \
             stay seen {:.2} s (limit {CLOSE_WAIT_LIMIT} s)",
            s.close_waits, s.longest_close_wait
        ),
    )
}

/// The memory bound the server must stay within, in KiB, with its parts.
pub(crate) fn memory_bound(e: &Evidence) -> (u64, Vec<(String, u64)>) {
    let st = &e.settings;
    let connections = st.fd_limit as u64;
    let parts = vec![
        (
            "the server before any client (measured)".to_string(),
            e.base.rss_kib,
        ),
        (
            format!(
                "room logs: 2 × (--logs-bytes {} + a 64 KiB block for each of {} rooms)",
                st.logs_bytes, e.rooms
            ),
            2 * (st.logs_bytes / 1024 + BLOCK_KIB * e.rooms as u64),
        ),
        (
            format!(
                "own queues and connections: (ulimit -n {} + {UNJOINED_READERS} unjoined readers) \
                 × (--sendq-bytes {} + {PER_CONNECTION_KIB} KiB)",
                st.fd_limit, st.sendq_bytes
            ),
            (connections + UNJOINED_READERS) * (st.sendq_bytes / 1024 + PER_CONNECTION_KIB),
        ),
        (
            "the events channel: 1024 × (16 KiB + a line)".to_string(),
            EVENTS_KIB,
        ),
        (
            "the recorder's channel and the dashboard".to_string(),
            HELPERS_KIB,
        ),
    ];
    (parts.iter().map(|(_, kib)| kib).sum(), parts)
}

/// The peak resident memory stays within the bound.
fn memory(e: &Evidence) -> Check {
    let (bound, _) = memory_bound(e);
    let peak = e.peak_rss_kib;
    let sampled = e
        .samples
        .series
        .iter()
        .map(|s| s.rss_kib)
        .max()
        .unwrap_or(0);
    let mut failures = Vec::new();
    if peak > bound {
        failures.push(format!(
            "peak RSS {} over the bound {}",
            mib(peak),
            mib(bound)
        ));
    }
    if peak == 0 {
        failures.push("no peak RSS could be read".to_string());
    }
    Check::new(
        "memory within its bound",
        failures,
        format!(
            "peak RSS (VmHWM) {}, highest sampled {}, at the start {}; bound {}",
            mib(peak),
            mib(sampled),
            mib(e.base.rss_kib),
            mib(bound)
        ),
    )
}

/// KiB as MiB, in words.
pub(crate) fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

/// Every healthy client got every line its room heard, in order, and
/// nothing else went wrong for it.
fn healthy_lines(e: &Evidence) -> Check {
    let mut failures = Vec::new();
    let ends = room_ends(e);
    let (mut tags, mut numbers) = (0usize, 0usize);
    for h in &e.healthy {
        let name = &h.member.name;
        if !h.seated {
            failures.push(format!("{name} was never seated: {:?}", h.errors));
            continue;
        }
        if let Some(skip) = h.skips.first() {
            failures.push(format!(
                "{name} got `{skip}` ({} skip notices)",
                h.skips.len()
            ));
        }
        if let Some(error) = h.errors.first() {
            failures.push(format!("{name} got `{error}` ({} in all)", h.errors.len()));
        }
        let room = e
            .transcript
            .rooms
            .get(h.member.room)
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        let end = ends.get(h.member.room).copied().unwrap_or(0);
        let heard = |l: &&RoomLine| l.line <= end && l.tag.is_some_and(|t| t.who != h.member.who);
        let expected: Vec<Tag> = room.iter().filter(heard).filter_map(|l| l.tag).collect();
        tags += expected.len();
        let got = within(&h.tags, &expected);
        if let Some(problem) = compare_tags(&expected, got, e.transcript.dropped > 0) {
            failures.push(format!("{name} in {}: {problem}", h.member.room));
        }
        for problem in from_each_mate(h, &e.healthy) {
            failures.push(format!("{name} in {}: {problem}", h.member.room));
        }
        if let Some(start) = h.session_start {
            let (checked, problem) = compare_numbers(h, room, start, end);
            numbers += checked;
            if let Some(problem) = problem {
                failures.push(format!("{name} in {} (numbered): {problem}", h.member.room));
            }
        }
    }
    let class = crate::mix::count(Kind::Healthy);
    if e.healthy.len() != class {
        failures.push(format!(
            "only {} of the {class} healthy clients' threads finished (a soak thread panicked)",
            e.healthy.len()
        ));
    }
    let sessions = e
        .healthy
        .iter()
        .filter(|h| h.session_start.is_some())
        .count();
    Check::new(
        "every healthy client got every line of its room, in order",
        failures,
        format!(
            "{} healthy clients; {tags} chat lines and actions checked one by one against \
             the transcript, in order; {numbers} numbered room lines checked for the {sessions} \
             with a session; no `lines skipped`, no `!` line; the transcript dropped {} records",
            e.healthy.len(),
            e.transcript.dropped
        ),
    )
}

/// For each room, the number of the last line the checks look at: the
/// last of the healthy clients' final (`done`) lines there.
fn room_ends(e: &Evidence) -> BTreeMap<&'static str, u64> {
    let mut last: BTreeMap<u32, Tag> = BTreeMap::new();
    for h in &e.healthy {
        last.insert(
            h.member.who,
            Tag {
                who: h.member.who,
                n: h.sent,
            },
        );
    }
    let mut ends = BTreeMap::new();
    for h in &e.healthy {
        let room = e
            .transcript
            .rooms
            .get(h.member.room)
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        let done = room
            .iter()
            .filter(|l| l.tag.is_some_and(|t| last.get(&t.who) == Some(&t)))
            .map(|l| l.line)
            .max()
            .unwrap_or(0);
        let end = ends.entry(h.member.room).or_insert(0);
        *end = (*end).max(done);
    }
    ends
}

/// What a client got up to the window's last line (`expected`'s last):
/// a reader that relays a line a moment after its client reset may add
/// one after it, which no healthy client is asked about.
fn within<'a>(got: &'a [Tag], expected: &[Tag]) -> &'a [Tag] {
    match expected
        .last()
        .and_then(|last| got.iter().rposition(|t| t == last))
    {
        Some(at) => &got[..=at],
        None => got,
    }
}

/// Whether `h` got every line each healthy room mate sent, `1` to its
/// last, in order: counted from what the mates say they sent, so a line
/// lost before the transcript is caught too.
fn from_each_mate(h: &HealthyReport, healthy: &[HealthyReport]) -> Vec<String> {
    let mut problems = Vec::new();
    for mate in healthy
        .iter()
        .filter(|m| m.member.room == h.member.room && m.member.who != h.member.who)
    {
        let got: Vec<u32> = h
            .tags
            .iter()
            .filter(|t| t.who == mate.member.who)
            .map(|t| t.n)
            .collect();
        let sent: Vec<u32> = (1..=mate.sent).collect();
        if got != sent {
            let at = got.iter().zip(&sent).take_while(|(a, b)| a == b).count();
            problems.push(format!(
                "from {}: {} of its {} lines, first difference at its line {}",
                mate.member.name,
                got.len(),
                mate.sent,
                at + 1
            ));
        }
    }
    problems
}

/// What is wrong with `got` against `expected`, if anything. With a
/// transcript that dropped records, `expected` need only be found in order
/// within `got`.
fn compare_tags(expected: &[Tag], got: &[Tag], gaps: bool) -> Option<String> {
    if gaps {
        let mut rest = got.iter();
        let missing = expected.iter().filter(|t| !rest.any(|g| g == *t)).count();
        return (missing > 0).then(|| format!("{missing} of {} lines missing", expected.len()));
    }
    if expected == got {
        return None;
    }
    let at = expected.iter().zip(got).take_while(|(a, b)| a == b).count();
    let want: BTreeSet<&Tag> = expected.iter().collect();
    let have: BTreeSet<&Tag> = got.iter().collect();
    let missing = want.difference(&have).count();
    let extra = have.difference(&want).count();
    Some(format!(
        "expected {} lines, got {}: {missing} missing, {extra} not in the transcript; first \
         difference at line {at}: expected {:?}, got {:?}",
        expected.len(),
        got.len(),
        expected.get(at).map(Tag::to_string),
        got.get(at).map(Tag::to_string),
    ))
}

/// A session holder's numbered lines against the room's, after its start
/// and up to `end`: all there, in order, each with the right tag. Returns
/// how many were checked, and what is wrong.
fn compare_numbers(
    h: &HealthyReport,
    room: &[RoomLine],
    start: u64,
    end: u64,
) -> (usize, Option<String>) {
    let disorder = h.numbered.windows(2).filter(|w| w[1].0 <= w[0].0).count();
    let got: BTreeMap<u64, Option<Tag>> = h.numbered.iter().copied().collect();
    let mut missing = Vec::new();
    let mut wrong = Vec::new();
    let mut checked = 0;
    for l in room.iter().filter(|l| l.line > start && l.line <= end) {
        let own = l.tag.is_some_and(|t| t.who == h.member.who)
            || (l.event == "join" && l.name.as_deref() == Some(h.member.name.as_str()));
        if own {
            continue;
        }
        checked += 1;
        match got.get(&l.line) {
            None => missing.push(l.line),
            Some(tag) if l.tag.is_some() && *tag != l.tag => wrong.push(l.line),
            Some(_) => {}
        }
    }
    let mut problems = Vec::new();
    if disorder > 0 {
        problems.push(format!("{disorder} numbers out of order"));
    }
    if !missing.is_empty() {
        problems.push(format!(
            "{} room lines missing (first {:?})",
            missing.len(),
            &missing[..missing.len().min(5)]
        ));
    }
    if !wrong.is_empty() {
        problems.push(format!(
            "{} lines not what the room heard (first {:?})",
            wrong.len(),
            &wrong[..wrong.len().min(5)]
        ));
    }
    (checked, (!problems.is_empty()).then(|| problems.join("; ")))
}

/// A newcomer is told `server busy` only while the server's descriptors
/// are all taken, and every newcomer gets an answer.
fn newcomers(e: &Evidence) -> Check {
    let knocks: Vec<&Knock> = e
        .tallies
        .get(&Kind::Newcomer)
        .map(|t| t.knocks.iter().collect())
        .unwrap_or_default();
    let limit = e.settings.fd_limit;
    let mut failures = Vec::new();
    let mut busy = 0;
    for k in &knocks {
        match &k.outcome {
            Outcome::Welcome => {}
            Outcome::Busy => {
                busy += 1;
                let (from, to) = (k.connected - 0.1, k.answered + 0.1);
                // The sampler's counts, the newcomer's own, and the count a
                // burst took just before letting its connections go (the
                // count then falls fast, faster than a newcomer can look).
                let seen: Vec<usize> = e
                    .samples
                    .fd_trace
                    .iter()
                    .filter(|(t, _)| *t >= from && *t <= to)
                    .map(|(_, n)| *n)
                    .chain(k.fds_then)
                    .chain(
                        e.bursts
                            .iter()
                            .filter(|b| b.released_at >= from && b.released_at <= to)
                            .map(|b| b.fds_held),
                    )
                    .collect();
                let near = seen.iter().copied().max().unwrap_or(0);
                if near + BUSY_SLACK < limit {
                    failures.push(format!(
                        "told `server busy` at t = {:.2} s (connected at {:.2} s) with at most \
                         {near} of {limit} descriptors in use (counts seen: {seen:?})",
                        k.answered, k.connected
                    ));
                }
            }
            Outcome::Other(line) => failures.push(format!("at t = {:.1} s: `{line}`", k.answered)),
            Outcome::Nothing(why) => failures.push(format!("at t = {:.1} s: {why}", k.connected)),
        }
    }
    let burst_busy: usize = e.bursts.iter().map(|b| b.busy).sum();
    if busy + burst_busy == 0 {
        failures.push(
            "no burst ever ran the server out of descriptors: nothing was tested".to_string(),
        );
    }
    Check::new(
        "no newcomer refused while descriptors were free",
        failures,
        format!(
            "{} newcomers: {} let in, {busy} told `server busy`, each while the server held at \
             least {} of its {limit} descriptors; the bursts were told `server busy` {burst_busy} times",
            knocks.len(),
            knocks.iter().filter(|k| k.outcome == Outcome::Welcome).count(),
            limit - BUSY_SLACK
        ),
    )
}

/// The server's log holds no panic (and the soak's own threads did not
/// panic either, or its figures would be short).
fn no_panic(e: &Evidence) -> Check {
    let log = &e.stopped.log;
    let mut failures = log.panics.clone();
    failures.extend(
        e.tallies
            .values()
            .flat_map(|t| t.problems.iter())
            .filter(|(k, _)| *k == "soak")
            .map(|(_, what)| format!("in the soak itself: {what}")),
    );
    Check::new(
        "no panic",
        failures,
        format!(
            "the server's log: {} lines, none with `panicked`",
            log.lines
        ),
    )
}

/// SIGTERM stops the server with exit code 0, and every healthy client
/// gets the goodbye as its last line, then the close.
fn clean_stop(e: &Evidence) -> Check {
    let s = &e.stopped;
    let mut failures = Vec::new();
    match s.status {
        Some(status) if status.success() => {}
        Some(status) => failures.push(format!("the server exited with {status}")),
        None => failures.push(format!(
            "the server had not exited {:.0} s after SIGTERM",
            s.took.as_secs_f64()
        )),
    }
    let without: Vec<&str> = e
        .healthy
        .iter()
        .filter(|h| !h.goodbye)
        .map(|h| h.member.name.as_str())
        .collect();
    if !without.is_empty() {
        failures.push(format!(
            "{} healthy clients without `* server shutting down` then the close: {:?}",
            without.len(),
            &without[..without.len().min(8)]
        ));
    }
    Check::new(
        "the server stops cleanly",
        failures,
        format!(
            "SIGTERM: exit code {}, after {:.2} s; every healthy client's last line was \
             `* server shutting down`, then the server closed",
            s.status
                .and_then(|st| st.code())
                .map_or("none".to_string(), |code| code.to_string()),
            s.took.as_secs_f64()
        ),
    )
}

/// Nothing a muted client chose to say reached a healthy client.
fn mute(e: &Evidence) -> Check {
    let mut failures: Vec<String> = e
        .healthy
        .iter()
        .flat_map(|h| {
            h.muted_heard
                .iter()
                .map(move |l| format!("{} got `{l}`", h.member.name))
        })
        .collect();
    let mutes = e.console.tally.counts.get("mute").copied().unwrap_or(0);
    let tries = count(e, Kind::Moderated, "tries while muted");
    if mutes == 0 || tries == 0 {
        failures.push(format!(
            "{mutes} mutes, {tries} tries while muted: nothing was tested"
        ));
    }
    Check::new(
        "a muted client reaches nobody",
        failures,
        format!(
            "{mutes} mutes; {tries} tries while muted (chat, //, /me, /msg, /nick, /join, /quit \
             reason); healthy clients saw none of them"
        ),
    )
}

/// A counter of one kind.
pub(crate) fn count(e: &Evidence, kind: Kind, what: &str) -> u64 {
    e.tallies
        .get(&kind)
        .and_then(|t| t.counts.get(what))
        .copied()
        .unwrap_or(0)
}

/// A check made of the problems some kinds noted under `key`.
fn problems(e: &Evidence, key: &'static str, name: &'static str, kinds: &[Kind]) -> Check {
    let mut failures: Vec<String> = kinds
        .iter()
        .filter_map(|kind| e.tallies.get(kind))
        .flat_map(|t| t.problems.iter())
        .filter(|(k, _)| *k == key)
        .map(|(_, what)| what.clone())
        .collect();
    let measured = match key {
        "half-close" => {
            let quits = count(e, Kind::HalfCloser, "/quit then half-close");
            let alone = count(e, Kind::HalfCloser, "half-close alone");
            let knocks = count(e, Kind::Newcomer, "let in");
            if quits + alone == 0 {
                failures.push("no half-close happened: nothing was tested".to_string());
            }
            let longest = [Kind::HalfCloser, Kind::Newcomer]
                .iter()
                .filter_map(|k| {
                    e.tallies
                        .get(k)?
                        .maxima
                        .get("longest wait for the server to close (s)")
                })
                .fold(0.0f64, |a, b| a.max(*b));
            format!(
                "{quits} `/quit` then half-close and {alone} half-closes alone, plus {knocks} \
                 newcomers' `/quit`: each got `* bye` (after /quit) and the server's close; the \
                 longest wait {longest:.2} s (limit {} s)",
                crate::clients::leavers::CLOSE_LIMIT.as_secs()
            )
        }
        _ => {
            let resumed = count(e, Kind::Resumer, "resumed");
            let missed = count(e, Kind::Resumer, "missed lines delivered");
            let ran_out = count(e, Kind::Resumer, "sessions run out, as they should");
            if resumed == 0 {
                failures.push("no session was resumed: nothing was tested".to_string());
            }
            format!(
                "{resumed} sessions taken back with `/resume` after a reset, {missed} missed \
                 lines delivered, each count matching `* resumed: N`; {ran_out} came back after \
                 the {} s hold and were told the session had run out",
                e.settings.hold_secs
            )
        }
    };
    Check::new(name, failures, measured)
}

/// A banned address is refused while its ban runs, and let in after.
fn bans(e: &Evidence) -> Check {
    let arrivals: Vec<&Arrival> = e
        .tallies
        .get(&Kind::Moderated)
        .map(|t| t.arrivals.iter().collect())
        .unwrap_or_default();
    let mut failures: Vec<String> = e
        .tallies
        .get(&Kind::Moderated)
        .into_iter()
        .chain(std::iter::once(&e.console.tally))
        .flat_map(|t| t.problems.iter())
        .filter(|(k, _)| *k == "bans" || *k == "console")
        .map(|(_, what)| what.clone())
        .collect();
    let banned_at = |ip: &str, t: f64, margin: f64| {
        e.console
            .bans
            .iter()
            .any(|b| b.ip == ip && t >= b.from - margin && t <= b.lifted + margin)
    };
    let (mut held, mut refused, mut let_in) = (0, 0, 0);
    for a in &arrivals {
        let ip = a.ip.to_string();
        let refused_as_banned = a
            .refused
            .as_deref()
            .is_some_and(|l| l.starts_with("! banned"));
        // Clearly inside a ban (between its answer and the unban, with a
        // second's margin for a slow accept), it must not be let in. It is
        // refused with `! banned`, or, while a burst has taken every
        // descriptor, with `server busy` before the ban is even looked at.
        let inside = e
            .console
            .bans
            .iter()
            .any(|b| b.ip == ip && a.at >= b.from + 0.1 && a.at <= b.until - 1.0);
        if inside {
            held += 1;
            refused += usize::from(refused_as_banned);
            if a.refused.is_none() {
                let name = e
                    .console
                    .bans
                    .iter()
                    .find(|b| b.ip == ip)
                    .map_or("?", |b| b.name.as_str());
                failures.push(format!(
                    "{ip} (banned as {name}) let in at t = {:.1} s ({:?})",
                    a.at, a.refused
                ));
            }
        } else if refused_as_banned && !banned_at(&ip, a.at, 1.0) {
            failures.push(format!(
                "{ip} refused as banned at t = {:.1} s, with no ban on",
                a.at
            ));
        } else if a.refused.is_none() {
            let_in += 1;
        }
    }
    let bans = e.console.bans.len();
    if bans == 0 || refused == 0 {
        failures.push(format!(
            "{bans} bans, {refused} refused as banned: nothing was tested"
        ));
    }
    Check::new(
        "a banned address stays out until unbanned",
        failures,
        format!(
            "{bans} bans of 127.0.0.2 to 127.0.0.7 (lifted 10 to 20 s later); {held} arrivals \
             while a ban ran, none let in ({refused} with `! banned`, the rest `server busy` \
             during a burst); {let_in} let in at other times, none refused as banned; {} kicks",
            e.console.tally.counts.get("kick").copied().unwrap_or(0)
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mix::{class, Member};

    fn tag(who: u32, n: u32) -> Tag {
        Tag { who, n }
    }

    fn healthy(index: usize, sent: u32, tags: Vec<Tag>) -> HealthyReport {
        let member: Member = class()
            .into_iter()
            .find(|m| m.kind == Kind::Healthy && m.index == index)
            .expect("a healthy member");
        HealthyReport {
            member,
            seated: true,
            session_start: None,
            sent,
            numbered: Vec::new(),
            tags,
            skips: Vec::new(),
            errors: Vec::new(),
            muted_heard: Vec::new(),
            lines: 0,
            goodbye: true,
            closed: true,
        }
    }

    fn line(line: u64, event: &'static str, tag: Option<Tag>) -> RoomLine {
        RoomLine {
            line,
            event,
            tag,
            name: None,
        }
    }

    /// Tags must match the transcript exactly, or in order where it has gaps.
    #[test]
    fn tags_must_match_exactly_unless_the_transcript_has_gaps() {
        let expected = [tag(1, 1), tag(2, 1), tag(1, 2)];
        assert_eq!(compare_tags(&expected, &expected, false), None);
        let missing = [tag(1, 1), tag(1, 2)];
        let problem = compare_tags(&expected, &missing, false).expect("one missing");
        assert!(problem.contains("1 missing"), "{problem}");
        let swapped = [tag(2, 1), tag(1, 1), tag(1, 2)];
        let problem = compare_tags(&expected, &swapped, false).expect("out of order");
        assert!(problem.contains("first difference at line 0"), "{problem}");
        // With gaps, more may have come than the transcript kept.
        let more = [tag(9, 9), tag(1, 1), tag(2, 1), tag(1, 2)];
        assert_eq!(compare_tags(&expected, &more, true), None);
        assert!(compare_tags(&expected, &missing, true).is_some());
    }

    /// Lines after the window's last one are cut off before comparing.
    #[test]
    fn what_came_after_the_window_is_not_judged() {
        let expected = [tag(1, 1), tag(2, 1)];
        let got = [tag(1, 1), tag(2, 1), tag(5, 7)];
        assert_eq!(within(&got, &expected), &got[..2]);
        let short = [tag(1, 1)];
        assert_eq!(within(&short, &expected), &short[..]);
    }

    /// A line missing from a healthy mate is caught without the transcript.
    #[test]
    fn every_line_of_each_healthy_mate_is_counted() {
        // healthy 0 and 3 share the lobby.
        let mate = healthy(3, 3, Vec::new());
        let who = mate.member.who;
        let complete = healthy(0, 1, vec![tag(who, 1), tag(who, 2), tag(who, 3)]);
        let all = [complete, mate];
        assert!(from_each_mate(&all[0], &all).is_empty());
        let short = healthy(0, 1, vec![tag(who, 1), tag(who, 3)]);
        let problems = from_each_mate(&short, &all);
        assert_eq!(problems.len(), 1);
        assert!(problems[0].contains("2 of its 3 lines"), "{problems:?}");
    }

    /// A missing, mistagged or reordered number fails; own lines are left out.
    #[test]
    fn numbered_lines_must_all_be_there_in_order_with_their_tags() {
        let mut h = healthy(0, 1, Vec::new());
        let me = h.member.who;
        let room = [
            line(5, "join", None),
            line(7, "message", Some(tag(8, 1))),
            line(8, "message", Some(tag(me, 1))),
            line(9, "leave", None),
            line(11, "say", None),
        ];
        h.numbered = vec![(7, Some(tag(8, 1))), (9, None), (11, None)];
        assert_eq!(compare_numbers(&h, &room, 6, 11), (3, None));
        h.numbered = vec![(7, Some(tag(8, 1))), (11, None)];
        let (_, problem) = compare_numbers(&h, &room, 6, 11);
        assert!(problem.expect("9 missing").contains("[9]"));
        h.numbered = vec![(7, Some(tag(8, 2))), (9, None), (11, None)];
        assert!(compare_numbers(&h, &room, 6, 11).1.is_some(), "a wrong tag");
        h.numbered = vec![(9, None), (7, Some(tag(8, 1))), (11, None)];
        assert!(
            compare_numbers(&h, &room, 6, 11).1.is_some(),
            "out of order"
        );
    }
}
