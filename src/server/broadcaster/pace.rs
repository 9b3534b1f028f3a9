//! When to write to a client that is behind, and when it has stopped
//! reading: a backoff for retries, a clock for the write timeout, and a
//! spell of non-blocking writes after it was last behind. Pure: told the
//! time and what each write achieved, it decides.

use std::time::{Duration, Instant};

/// After a write that the socket took part of, try again this soon: the
/// client is reading, and its socket will have room again shortly.
const RETRY_SOON: Duration = Duration::from_millis(1);

/// After a write the socket took nothing of, wait this long before the next
/// try, doubling up to [`MAX_BACKOFF`]. A try costs a non-blocking write
/// (a few microseconds), so a stalled client can be tried often without
/// the room noticing; 64 ms at most lets a laptop that wakes up within its
/// write timeout get its backlog almost at once.
const MIN_BACKOFF: Duration = Duration::from_millis(2);
const MAX_BACKOFF: Duration = Duration::from_millis(64);

/// After a client has been behind, its writes stay non-blocking this long
/// even once it has caught up. A blocking write to a socket with no room
/// costs the broadcaster a whole kernel timer tick (a few ms) before its
/// timeout fires; a client that is behind now and then should pay that
/// once, not every time it catches up.
const CAREFUL_FOR: Duration = Duration::from_secs(1);

/// When to write to a client again, and since when it has made no progress.
#[derive(Debug)]
pub(super) struct Pace {
    /// When the socket last took bytes, or when bytes started waiting.
    last_progress: Instant,
    /// When to try again, while bytes wait.
    retry_at: Instant,
    /// The wait after the next fruitless try.
    backoff: Duration,
    /// Until when writes stay non-blocking (see [`CAREFUL_FOR`]).
    careful_until: Instant,
    /// Bytes were waiting after the last write.
    behind: bool,
}

impl Pace {
    pub(super) fn new(now: Instant) -> Pace {
        Pace {
            last_progress: now,
            retry_at: now,
            backoff: MIN_BACKOFF,
            careful_until: now,
            behind: false,
        }
    }

    /// Records a write that the socket took `taken` bytes of, after which
    /// `left` bytes still wait.
    pub(super) fn wrote(&mut self, taken: usize, left: usize, now: Instant) {
        if taken > 0 || !self.behind {
            // Progress, or the first bytes that have to wait: the clock
            // for "no progress" starts again.
            self.last_progress = now;
        }
        if left == 0 {
            self.behind = false;
            self.backoff = MIN_BACKOFF;
            return;
        }
        if !self.behind {
            self.behind = true;
        }
        self.careful_until = now + CAREFUL_FOR;
        if taken > 0 {
            self.backoff = MIN_BACKOFF;
            self.retry_at = now + RETRY_SOON;
        } else {
            self.retry_at = now + self.backoff;
            self.backoff = (self.backoff * 2).min(MAX_BACKOFF);
        }
    }

    /// True while bytes wait for the client.
    pub(super) fn is_behind(&self) -> bool {
        self.behind
    }

    /// True when a client that is behind should be tried again.
    pub(super) fn is_due(&self, now: Instant) -> bool {
        self.behind && self.retry_at <= now
    }

    /// When to look at this client next: its retry, or the moment its
    /// write timeout runs out, whichever is first.
    pub(super) fn next_check(&self, write_timeout: Duration) -> Option<Instant> {
        self.behind
            .then(|| self.retry_at.min(self.last_progress + write_timeout))
    }

    /// True when bytes have waited `write_timeout` without the socket
    /// taking any: the client has stopped reading.
    pub(super) fn is_stalled(&self, now: Instant, write_timeout: Duration) -> bool {
        self.behind && now.saturating_duration_since(self.last_progress) >= write_timeout
    }

    /// True while writes should not block at all.
    pub(super) fn is_careful(&self, now: Instant) -> bool {
        self.behind || now < self.careful_until
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stalled_client_backs_off_and_is_found_stalled() {
        let start = Instant::now();
        let second = Duration::from_secs(1);
        let mut pace = Pace::new(start);
        assert!(!pace.is_behind() && !pace.is_careful(start));
        pace.wrote(0, 100, start);
        assert!(pace.is_behind() && !pace.is_due(start));
        assert!(pace.is_due(start + MIN_BACKOFF));
        pace.wrote(0, 100, start + MIN_BACKOFF);
        assert!(!pace.is_due(start + MIN_BACKOFF * 2), "the wait doubled");
        assert!(!pace.is_stalled(start + second / 2, second));
        assert!(
            pace.is_stalled(start + second, second),
            "no progress for a second"
        );
        pace.wrote(10, 90, start + second / 2);
        assert!(
            !pace.is_stalled(start + second, second),
            "progress resets it"
        );
        pace.wrote(90, 0, start + second);
        assert!(!pace.is_behind());
        assert!(pace.is_careful(start + second), "stays careful a while");
        assert!(!pace.is_careful(start + second + CAREFUL_FOR));
    }
}
