//! The broadcaster's sizes and timings: how big a batch grows, how many
//! bytes may wait for one client, when the room waits for a reader that is
//! behind, and how often a stalled client is retried. Derived from
//! `--sendq-bytes` and `--write-timeout-ms`.

use std::time::Duration;

/// Most events handled in one batch, and the size past which a batch is
/// written out: big batches mean few syscalls, bounded ones mean bounded memory.
pub(super) const MAX_BATCH_EVENTS: usize = 4096;
pub(super) const MAX_BATCH_BYTES: usize = 256 * 1024;

/// After the write timeout, how much longer the goodbye may take: a client
/// still reading a trickle then loses the rest.
pub(super) const GOODBYE_GRACE: Duration = Duration::from_millis(500);

/// While lines are waiting to be relayed, at most one fruitless retry (one
/// that costs a whole short write timeout, a few ms) per this interval: the
/// room's lines come first, and a stalled client's queue can wait.
pub(super) const PROBE_SPACING: Duration = Duration::from_millis(100);

/// Sizes derived from `--sendq-bytes`, and the write timeout.
#[derive(Debug, Clone, Copy)]
pub(super) struct Limits {
    /// Most bytes waiting for one client.
    pub(super) sendq: usize,
    /// Over this, a client that is still reading makes the room wait for it.
    pub(super) high_water: usize,
    /// A batch is written out once it holds this many bytes. A quarter of the
    /// send queue, so a client under the high-water mark always has room for
    /// one more batch: a healthy client is never evicted for one big batch.
    pub(super) batch_bytes: usize,
    /// `None`: the demo mode, blocking writes and no queues.
    pub(super) write_timeout: Option<Duration>,
}

impl Limits {
    pub(super) fn new(sendq: usize, write_timeout: Option<Duration>) -> Limits {
        Limits {
            sendq,
            high_water: sendq / 2,
            batch_bytes: (sendq / 4).clamp(1, MAX_BATCH_BYTES),
            write_timeout,
        }
    }
}

/// How many fruitless retries one servicing of the queues may make.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Budget {
    /// While events are waiting, one fruitless retry per [`PROBE_SPACING`]:
    /// each costs one short write timeout, and new lines must not wait behind many.
    OneWhileBusy,
    /// Try every queue that is due (shutting down, or the room is waiting anyway).
    All,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A client just under the high-water mark has room for one more batch,
    /// even one that overshoots by a whole event, at the smallest send queue
    /// the flags allow (see `ServerConfig::min_sendq_bytes`).
    #[test]
    fn a_batch_always_fits_above_the_high_water_mark() {
        for max_line in [64, 1024, 64 * 1024] {
            let config = crate::config::ServerConfig {
                max_line_bytes: max_line,
                ..Default::default()
            };
            let sendq = config.min_sendq_bytes();
            let limits = Limits::new(sendq, Some(Duration::from_secs(1)));
            let biggest_event = crate::config::MAX_EVENT_BYTES + max_line;
            assert!(limits.high_water + limits.batch_bytes + biggest_event <= limits.sendq);
            assert!(limits.batch_bytes <= MAX_BATCH_BYTES);
        }
    }
}
