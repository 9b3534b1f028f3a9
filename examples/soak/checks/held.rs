//! What the server still holds once the chaos is over (threads,
//! descriptors, sockets: its resting figures and one of each per live
//! client), how long its sockets stayed in CLOSE-WAIT, and its memory
//! against the bound its settings give.

use std::collections::BTreeMap;

use super::{mib, Check, Evidence};
use crate::probes::TcpState;
use crate::sampler::CLOSE_WAIT_LIMIT;

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

/// Threads once the chaos is over: those it had before any client, and one
/// reader per client still connected.
pub(super) fn threads(e: &Evidence) -> Check {
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
pub(super) fn descriptors(e: &Evidence) -> Check {
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
pub(super) fn sockets(e: &Evidence) -> Check {
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
pub(super) fn close_wait(e: &Evidence) -> Check {
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
pub(super) fn memory(e: &Evidence) -> Check {
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
