//! The broadcaster's sizes and timings: how big a batch grows, how much each
//! room's log and all of them together may hold, where a reader that fell
//! off its room's log lands, how much may wait for one client alone, and the
//! write timeout. Derived from the server's settings.

use std::time::Duration;

use crate::config::ServerConfig;

/// Most events handled in one batch, and the size past which a batch is
/// written out: big batches mean few syscalls, bounded ones mean that the
/// first line of a batch is not held back long.
pub(super) const MAX_BATCH_EVENTS: usize = 4096;
pub(super) const MAX_BATCH_BYTES: usize = 256 * 1024;

/// After the write timeout, how much longer the goodbye may take: a client
/// still reading a trickle then loses the rest.
pub(super) const GOODBYE_GRACE: Duration = Duration::from_millis(500);

/// A reader that fell off its room's log lands this far (a quarter of the
/// log) before the head: it gets a little of the newest talk at once, and
/// does not fall straight off again.
const LANDING_SHARE: usize = 4;

/// Sizes and timings from the settings.
#[derive(Debug, Clone, Copy)]
pub(super) struct Limits {
    /// Most bytes one room's log holds (`--room-log-bytes`).
    pub(super) room_log: usize,
    /// Most bytes all the logs hold together (`--logs-bytes`).
    pub(super) all_logs: usize,
    /// How far before the head a reader that fell off lands.
    pub(super) landing: usize,
    /// Most bytes that wait for one client besides its room's log: its
    /// replies, private messages, history (`--sendq-bytes`).
    pub(super) own_queue: usize,
    /// A batch is written out once it holds this many bytes.
    pub(super) batch_bytes: usize,
    /// `None`: the demo mode, blocking writes and no skipping.
    pub(super) write_timeout: Option<Duration>,
    /// Public lines a newcomer gets (`--history`).
    pub(super) history: usize,
}

impl Limits {
    /// The limits `config` sets.
    pub(super) fn new(config: &ServerConfig) -> Limits {
        Limits {
            room_log: config.room_log_bytes,
            all_logs: config.logs_bytes.max(config.room_log_bytes),
            landing: config.room_log_bytes / LANDING_SHARE,
            // DEMO MODE (--no-write-timeout): every write blocks until it
            // is done, so nothing is ever left to queue, and nobody is
            // evicted for what would pile up.
            own_queue: match config.write_timeout {
                Some(_) => config.sendq_bytes,
                None => usize::MAX,
            },
            batch_bytes: MAX_BATCH_BYTES.min(config.room_log_bytes / 2).max(1),
            write_timeout: config.write_timeout,
            history: config.history,
        }
    }
}
