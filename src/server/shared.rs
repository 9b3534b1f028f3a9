//! What every server thread can see ([`Shared`]), and who owns each piece of
//! a client's state.
//!
//! # One client, and who owns what
//! A client's state lives in a few places, each piece with one owner
//! (`docs/ARCHITECTURE.md`, "One client, in one place", draws them):
//!
//! | state | where | written by | read by | guarded by |
//! |---|---|---|---|---|
//! | id, address, socket | [`ClientRecord`](super::client::ClientRecord) in the registry | its reader, once | everyone | the registry lock |
//! | name, room | the record | its reader (`/nick`, `/join`, `/resume`); the console (`move`) | everyone | the registry lock |
//! | session token | the record | its reader (`/session`, `/resume`) | the registry | the registry lock |
//! | lines sent, bytes queued, lines skipped, mute, rate limited now, `gone` | [`Meters`](super::client::Meters), shared by `Arc` | its reader (lines, rate limited, a mute taken back), the broadcaster (queued, skipped), the console (mute), whoever removes the record (`gone`) | everyone | atomics, no lock |
//! | a held session (name, room, why it broke, until when, mute) | [`Held`](super::session::Held), in the registry by token | the broadcaster (holds, expires), a reader (`/resume` takes it), the main thread (a restart's) | the registry | the registry lock |
//! | its place in the room | an admission [`Slot`](super::admission::Slot) | taken by the accept loop, held by its reader thread | the accept loop | the admission lock |
//! | rate-limit bucket, framer, unsent chat, join grace, first line or not | the reader's `Session` | its reader | its reader | none: one thread |
//! | cursor, carry, own queue, retry pace, numbered runs, the ids it took over | the broadcaster's `Peer` | the broadcaster | the broadcaster | none: one thread |
//!
//! State used by one thread only stays on that thread; what others need to see
//! is in the record, readable in one lock, or in its meters, readable with none.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use crate::config::ServerConfig;
use crate::log::Log;

use super::admission::Admission;
use super::registry::Registry;
use super::stats::Stats;

/// State every server thread shares, behind one `Arc`.
#[derive(Debug)]
pub(crate) struct Shared {
    /// The settings; fixed once the server is bound.
    pub(crate) config: ServerConfig,
    /// Every connected client's record.
    pub(crate) registry: Registry,
    /// Counters for `/stats` (shared with the recorder, which counts what it drops).
    pub(crate) stats: Arc<Stats>,
    /// The log on stderr.
    pub(crate) log: Log,
    /// When the server was bound: the zero of [`Shared::millis`].
    started: Instant,
    /// Set once by the shutdown handle; the accept loop checks it when it wakes.
    shutting_down: AtomicBool,
    /// The places taken in the room and per address: the accept loop takes
    /// one for each reader thread, which gives it back when it ends.
    pub(crate) admission: Arc<Admission>,
}

impl Shared {
    /// Fresh state for a server with `config`.
    pub(crate) fn new(config: ServerConfig) -> Self {
        Shared {
            stats: Arc::new(Stats::new(config.rate_limit, config.key.is_some())),
            admission: Arc::new(Admission::new(config.max_clients, config.max_per_ip)),
            log: Log::new(config.quiet),
            config,
            registry: Registry::default(),
            started: Instant::now(),
            shutting_down: AtomicBool::new(false),
        }
    }

    /// Milliseconds from the server's start to `at`: how times that threads
    /// share through atomics (a mute's end) are written. Never 0 after the
    /// start, so 0 can mean "none".
    pub(crate) fn millis(&self, at: Instant) -> u64 {
        at.saturating_duration_since(self.started).as_millis() as u64 + 1
    }

    /// True once shutdown has begun.
    pub(crate) fn is_shutting_down(&self) -> bool {
        self.shutting_down.load(Ordering::Acquire)
    }

    /// Marks shutdown as begun; true if this call was the first.
    pub(crate) fn begin_shutdown(&self) -> bool {
        !self.shutting_down.swap(true, Ordering::AcqRel)
    }

    /// The `/stats` summary, with the client count taken now.
    pub(crate) fn stats_line(&self) -> String {
        self.stats.note_clients(self.registry.len());
        self.stats.summary()
    }
}
