//! The server's counters, shared by every thread as atomics, and the one-line
//! summary that `/stats` and `--stats-every` print.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Instant;

/// Counters for `/stats`. Relaxed atomics: each counter is independent, and a
/// summary only needs every number to be one that really was true recently.
#[derive(Debug)]
pub(crate) struct Stats {
    started: Instant,
    rate_limit: u32,
    /// The server has a class code: the summary then counts who was turned away.
    with_key: bool,
    clients: AtomicU64,
    peak_clients: AtomicU64,
    /// Chat lines accepted for relaying.
    pub(crate) lines_relayed: AtomicU64,
    /// Bytes the broadcaster wrote to sockets.
    pub(crate) bytes_out: AtomicU64,
    /// Clients disconnected because they could not keep up.
    pub(crate) evicted_slow: AtomicU64,
    /// Clients whose connection was reset or failed (found by a write or
    /// by their reader).
    pub(crate) evicted_reset: AtomicU64,
    /// Clients the console kicked.
    pub(crate) kicked: AtomicU64,
    /// Lines refused as longer than `--max-line-bytes`.
    pub(crate) lines_too_long: AtomicU64,
    /// Chat lines and actions handed to recipients: each event's lines times
    /// the peers it went to (the dashboard's deliveries per second).
    pub(crate) deliveries: AtomicU64,
    /// Room lines that readers who fell too far behind skipped.
    pub(crate) lines_skipped: AtomicU64,
    /// Transcript and recent-event records the recorder could not take in
    /// time, dropped rather than making the chat wait.
    pub(crate) records_dropped: AtomicU64,
    /// Connections turned away for a wrong class code (`--key`).
    pub(crate) turned_away: AtomicU64,
}

impl Stats {
    /// Fresh counters; `rate_limit` and `with_key` are only reported.
    pub(crate) fn new(rate_limit: u32, with_key: bool) -> Self {
        Stats {
            started: Instant::now(),
            rate_limit,
            with_key,
            clients: AtomicU64::new(0),
            peak_clients: AtomicU64::new(0),
            lines_relayed: AtomicU64::new(0),
            bytes_out: AtomicU64::new(0),
            evicted_slow: AtomicU64::new(0),
            evicted_reset: AtomicU64::new(0),
            lines_too_long: AtomicU64::new(0),
            deliveries: AtomicU64::new(0),
            kicked: AtomicU64::new(0),
            lines_skipped: AtomicU64::new(0),
            records_dropped: AtomicU64::new(0),
            turned_away: AtomicU64::new(0),
        }
    }

    /// Records how many clients are in the room now, keeping the peak.
    pub(crate) fn note_clients(&self, now: usize) {
        self.clients.store(now as u64, Relaxed);
        self.peak_clients.fetch_max(now as u64, Relaxed);
    }

    /// Clients in the room at the last count.
    pub(crate) fn clients(&self) -> u64 {
        self.clients.load(Relaxed)
    }

    /// The summary line (without the `* ` or log prefix).
    pub(crate) fn summary(&self) -> String {
        let uptime = self.started.elapsed().as_secs();
        let rate = match self.rate_limit {
            0 => "off".to_string(),
            n => format!("{n} lines/s"),
        };
        format!(
            "stats: uptime {}h{:02}m{:02}s, clients {} (peak {}), lines relayed {}, \
             bytes out {}, evicted {} too slow + {} reset, kicked {}, lines too long {}, \
             rate limit {}",
            uptime / 3600,
            uptime / 60 % 60,
            uptime % 60,
            self.clients(),
            self.peak_clients.load(Relaxed),
            self.lines_relayed.load(Relaxed),
            self.bytes_out.load(Relaxed),
            self.evicted_slow.load(Relaxed),
            self.evicted_reset.load(Relaxed),
            self.kicked.load(Relaxed),
            self.lines_too_long.load(Relaxed),
            rate,
        ) + &self.key_summary()
    }

    /// `, turned away N` on a server with a class code; nothing otherwise.
    fn key_summary(&self) -> String {
        if !self.with_key {
            return String::new();
        }
        format!(", turned away {}", self.turned_away.load(Relaxed))
    }
}
