//! The checks, pure: what the soak gathered ([`Evidence`]) in, a list of
//! [`Check`]s out, each passed or failed with what was measured and, when
//! it failed, the first cases that made it fail. `report.rs` writes them
//! down; `main.rs` exits non-zero if any failed. By concern:
//!
//! - [`held`]: what the server still holds after the chaos (threads,
//!   descriptors, sockets), CLOSE-WAIT, memory
//! - [`lines`]: every line of its room to every healthy client, in order
//! - [`arrivals`]: who was let in: newcomers during bursts, bans
//! - [`promises`]: mute, half-close, resume: what a misbehaving client
//!   must not get away with, nor miss
//! - [`stop`]: no panic, and a clean stop

mod arrivals;
mod held;
mod lines;
mod promises;
mod stop;

use std::collections::{BTreeMap, HashMap};

use crate::clients::admission::Burst;
use crate::clients::console::ConsoleReport;
use crate::clients::healthy::HealthyReport;
use crate::clients::Tally;
use crate::mix::Kind;
use crate::probes::{LoadShares, TcpState};
use crate::sampler::Samples;
use crate::server::Stopped;
use crate::transcript::Transcript;

pub(crate) use held::memory_bound;

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
        held::threads(e),
        held::descriptors(e),
        held::sockets(e),
        held::close_wait(e),
        held::memory(e),
        lines::healthy_lines(e),
        arrivals::newcomers(e),
        stop::no_panic(e),
        stop::clean_stop(e),
        promises::mute(e),
        promises::problems(
            e,
            "half-close",
            "half-closes and /quit answered, then closed",
            &[Kind::HalfCloser, Kind::Newcomer],
        ),
        promises::problems(
            e,
            "resume",
            "resumed sessions get exactly what they missed",
            &[Kind::Resumer],
        ),
        arrivals::bans(e),
    ]
}

/// KiB as MiB, in words.
pub(crate) fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

/// A counter of one kind.
pub(crate) fn count(e: &Evidence, kind: Kind, what: &str) -> u64 {
    e.tallies
        .get(&kind)
        .and_then(|t| t.counts.get(what))
        .copied()
        .unwrap_or(0)
}
