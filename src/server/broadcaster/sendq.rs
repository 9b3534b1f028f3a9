//! One client's send queue (what IRC servers call its SendQ): the bytes its
//! socket has not taken yet, and the rules for when to try again, when the
//! room waits for it, and when it is too slow. Pure: it is told the time and
//! what each write achieved, and the broadcaster does the writing.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// After a write that the socket took only part of, try again this soon: the
/// client is reading, and its socket buffer will have room again shortly.
const RETRY_SOON: Duration = Duration::from_millis(2);

/// After a write the socket took nothing of, wait this long before the next
/// try, doubling up to [`MAX_BACKOFF`]. Each fruitless try costs the
/// broadcaster one short write timeout, so a stalled client is tried a handful
/// of times in its last second, not hundreds.
const MIN_BACKOFF: Duration = Duration::from_millis(20);
const MAX_BACKOFF: Duration = Duration::from_millis(250);

/// A client that took bytes this recently is "moving": when its queue is
/// over the high-water mark the room waits for it, as TCP would make a sender
/// wait. One that has taken nothing for longer is treated as stalled, and the
/// room goes on without it.
pub(super) const MOVING: Duration = Duration::from_millis(50);

/// Why a client must go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum TooSlow {
    /// Its queue would grow past the limit.
    Overflow,
    /// It took no bytes at all for a whole write timeout while some waited.
    Stalled,
    /// It kept the room waiting (over the high-water mark while reading a
    /// trickle) for a whole write timeout.
    Holding,
}

/// The bytes waiting for one client, and when it last made progress.
#[derive(Debug)]
pub(super) struct SendQueue {
    bytes: VecDeque<u8>,
    /// Most bytes it may hold (`--sendq-bytes`).
    limit: usize,
    /// When it last took bytes, or when bytes started waiting.
    last_progress: Instant,
    /// When to try writing again.
    retry_at: Instant,
    /// The wait after the next fruitless try.
    backoff: Duration,
    /// Since when it has kept the room waiting, if it does.
    holding_since: Option<Instant>,
}

impl SendQueue {
    /// An empty queue that may hold `limit` bytes.
    pub(super) fn new(limit: usize, now: Instant) -> SendQueue {
        SendQueue {
            bytes: VecDeque::new(),
            limit,
            last_progress: now,
            retry_at: now,
            backoff: MIN_BACKOFF,
            holding_since: None,
        }
    }

    /// Bytes waiting.
    pub(super) fn len(&self) -> usize {
        self.bytes.len()
    }

    /// True when nothing waits: the next bytes can be written directly.
    pub(super) fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// Queues `parts` behind what already waits.
    ///
    /// # Errors
    /// [`TooSlow::Overflow`] if they do not fit; nothing is queued then.
    pub(super) fn push(&mut self, parts: &[&[u8]], now: Instant) -> Result<(), TooSlow> {
        let total: usize = parts.iter().map(|p| p.len()).sum();
        if self.bytes.len() + total > self.limit {
            return Err(TooSlow::Overflow);
        }
        if self.bytes.is_empty() {
            // Waiting starts now; the first retry is whatever was scheduled.
            self.last_progress = now;
        }
        for part in parts {
            self.bytes.extend(part.iter());
        }
        Ok(())
    }

    /// The waiting bytes, as (at most) two slices for one vectored write.
    pub(super) fn as_slices(&self) -> (&[u8], &[u8]) {
        self.bytes.as_slices()
    }

    /// When the broadcaster should next look at this queue, if ever.
    pub(super) fn next_check(&self, write_timeout: Duration) -> Option<Instant> {
        if self.bytes.is_empty() {
            return None;
        }
        Some(self.retry_at.min(self.last_progress + write_timeout))
    }

    /// Records a write attempt that the socket took `written` bytes of (bytes
    /// that were queued: they are removed). Schedules the next try.
    pub(super) fn wrote(&mut self, written: usize, now: Instant) {
        self.bytes.drain(..written.min(self.bytes.len()));
        self.after_write(written, now);
        if self.bytes.is_empty() && self.bytes.capacity() > 64 * 1024 {
            // A client that caught up after a burst gives the memory back.
            self.bytes.shrink_to(4 * 1024);
        }
    }

    /// Records a direct write (of bytes that were never queued) that the socket
    /// took only `written` bytes of; the caller queues the rest.
    pub(super) fn wrote_direct(&mut self, written: usize, now: Instant) {
        self.last_progress = now;
        self.after_write(written, now);
    }

    fn after_write(&mut self, written: usize, now: Instant) {
        if written > 0 {
            self.last_progress = now;
            self.backoff = MIN_BACKOFF;
            self.retry_at = now + RETRY_SOON;
        } else {
            self.retry_at = now + self.backoff;
            self.backoff = (self.backoff * 2).min(MAX_BACKOFF);
        }
    }

    /// True while the room should wait for this client: it is over the
    /// high-water mark but still reading. Also notes since when it does.
    pub(super) fn holds_room(&mut self, high_water: usize, now: Instant) -> bool {
        let holding =
            self.bytes.len() > high_water && now.duration_since(self.last_progress) < MOVING;
        if !holding {
            self.holding_since = None;
        } else if self.holding_since.is_none() {
            self.holding_since = Some(now);
        }
        holding
    }

    /// Whether the client must go now, given the write timeout.
    pub(super) fn verdict(&self, now: Instant, write_timeout: Duration) -> Option<TooSlow> {
        if self.bytes.is_empty() {
            return None;
        }
        if now.duration_since(self.last_progress) >= write_timeout {
            return Some(TooSlow::Stalled);
        }
        match self.holding_since {
            Some(since) if now.duration_since(since) >= write_timeout => Some(TooSlow::Holding),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: Duration = Duration::from_secs(1);

    impl SendQueue {
        fn is_due(&self, now: Instant) -> bool {
            self.next_check(SECOND).is_some_and(|at| at <= now)
        }
    }

    #[test]
    fn bytes_come_out_in_order_and_the_limit_holds() {
        let now = Instant::now();
        let mut queue = SendQueue::new(10, now);
        queue.push(&[b"abc", b"de"], now).expect("fits");
        assert_eq!(queue.push(&[b"123456"], now), Err(TooSlow::Overflow));
        assert_eq!(queue.len(), 5, "a refused push queues nothing");
        queue.wrote(2, now);
        let (a, b) = queue.as_slices();
        assert_eq!([a, b].concat(), b"cde");
        queue.push(&[b"fghijkl"], now).expect("fits again");
        assert_eq!(queue.len(), 10);
    }

    #[test]
    fn fruitless_tries_back_off_and_progress_resets() {
        let start = Instant::now();
        let mut queue = SendQueue::new(100, start);
        queue.push(&[b"x"], start).expect("fits");
        assert!(queue.is_due(start));
        queue.wrote(0, start);
        assert!(!queue.is_due(start + MIN_BACKOFF / 2));
        assert!(queue.is_due(start + MIN_BACKOFF));
        let later = start + MIN_BACKOFF;
        queue.wrote(0, later);
        assert!(!queue.is_due(later + MIN_BACKOFF), "the wait doubled");
        assert!(queue.is_due(later + 2 * MIN_BACKOFF));
        queue.push(&[b"yz"], later).expect("fits");
        queue.wrote(1, later + 2 * MIN_BACKOFF);
        assert!(queue.is_due(later + 2 * MIN_BACKOFF + RETRY_SOON));
    }

    #[test]
    fn a_client_that_takes_nothing_for_a_timeout_is_stalled() {
        let start = Instant::now();
        let mut queue = SendQueue::new(100, start);
        assert_eq!(queue.verdict(start + 5 * SECOND, SECOND), None, "empty");
        queue.push(&[b"abc"], start).expect("fits");
        assert_eq!(queue.verdict(start + SECOND / 2, SECOND), None);
        queue.wrote(1, start + SECOND / 2);
        assert_eq!(queue.verdict(start + SECOND, SECOND), None, "it moved");
        assert_eq!(
            queue.verdict(start + SECOND * 3 / 2, SECOND),
            Some(TooSlow::Stalled)
        );
        assert_eq!(
            queue.next_check(SECOND),
            Some(start + SECOND / 2 + RETRY_SOON)
        );
    }

    #[test]
    fn only_a_moving_client_over_high_water_holds_the_room() {
        let start = Instant::now();
        let mut queue = SendQueue::new(100, start);
        queue.push(&[&[0; 60]], start).expect("fits");
        assert!(queue.holds_room(50, start), "over high water, just moved");
        assert!(!queue.holds_room(70, start), "under high water");
        assert!(
            !queue.holds_room(50, start + MOVING),
            "stalled: the room goes on"
        );
        // A trickle: a byte now and then keeps it moving, but not for ever.
        let mut now = start;
        while now < start + SECOND {
            queue.wrote(1, now);
            queue.push(&[b"x"], now).expect("fits");
            assert!(queue.holds_room(50, now));
            now += Duration::from_millis(10);
        }
        assert_eq!(queue.verdict(now, SECOND), Some(TooSlow::Holding));
    }
}
