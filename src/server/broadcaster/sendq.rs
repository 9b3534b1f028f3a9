//! One client's send queue (what IRC servers call its SendQ): the bytes its
//! socket has not taken yet, and the rules for when to try again, when the
//! room waits for it, and when it is too slow. Pure: it is told the time and
//! what each write achieved, and the broadcaster does the writing.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// After a write that the socket took only part of, try again this soon: the
/// client is reading, and its socket buffer will have room again shortly.
const RETRY_SOON: Duration = Duration::from_micros(500);

/// After a write the socket took nothing of, wait this long before the next
/// try, doubling up to [`MAX_BACKOFF`]. Each fruitless try costs the
/// broadcaster one short write timeout, so a stalled client is tried a handful
/// of times in its last second, not hundreds.
const MIN_BACKOFF: Duration = Duration::from_millis(20);
const MAX_BACKOFF: Duration = Duration::from_millis(250);

/// A client whose socket had room again this recently is "reading": when
/// its queue is over the high-water mark the room waits for it, as TCP would
/// make a sender wait. One that has drained nothing for longer is treated as
/// stalled, and the room goes on without it. 80 ms: long enough that a
/// healthy reader on a busy machine (descheduled for a few time slices) is
/// waited for, not evicted; short enough that a client that stops reading in
/// the middle of a flood (while its kernel buffers still drain) holds the
/// room that long at most, keeping a normal line under 100 ms. (Measured
/// with the benchmark's scenario E: 50 ms left a loaded machine's readers
/// evicted now and then, 250 ms let a line wait 600 ms.)
pub(super) const MOVING: Duration = Duration::from_millis(80);

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

/// Most pieces one write hands the socket (a vectored write takes a list).
const MAX_SLICES: usize = 64;

/// Bytes waiting, kept as the pieces they arrived in: appending never copies
/// what already waits, and a queue holds its bytes plus a few words per
/// piece, never a doubled buffer.
#[derive(Debug, Default)]
struct Pieces {
    pieces: VecDeque<Box<[u8]>>,
    /// How much of the first piece has been written already.
    head: usize,
    len: usize,
}

impl Pieces {
    fn len(&self) -> usize {
        self.len
    }

    fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn push(&mut self, part: &[u8]) {
        if !part.is_empty() {
            self.pieces.push_back(part.into());
            self.len += part.len();
        }
    }

    /// The first pieces, in order, for one vectored write.
    fn slices(&self) -> Vec<&[u8]> {
        let mut out = Vec::with_capacity(self.pieces.len().min(MAX_SLICES));
        for (i, piece) in self.pieces.iter().take(MAX_SLICES).enumerate() {
            out.push(if i == 0 {
                &piece[self.head..]
            } else {
                &piece[..]
            });
        }
        out
    }

    /// Forgets the first `n` bytes (written).
    fn consume(&mut self, mut n: usize) {
        n = n.min(self.len);
        self.len -= n;
        while n > 0 {
            let Some(front) = self.pieces.front() else {
                break;
            };
            let left = front.len() - self.head;
            if n < left {
                self.head += n;
                return;
            }
            n -= left;
            self.head = 0;
            self.pieces.pop_front();
        }
    }
}

/// The bytes waiting for one client, and when it last made progress.
#[derive(Debug)]
pub(super) struct SendQueue {
    bytes: Pieces,
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
    /// The last write attempt took nothing.
    blocked: bool,
    /// When a retry last found room in the socket: proof that the client is
    /// reading. (A first write that fills the socket proves nothing: a client
    /// that has just stopped reading takes that one too.)
    last_drain: Option<Instant>,
}

impl SendQueue {
    /// An empty queue that may hold `limit` bytes.
    pub(super) fn new(limit: usize, now: Instant) -> SendQueue {
        SendQueue {
            bytes: Pieces::default(),
            limit,
            last_progress: now,
            retry_at: now,
            backoff: MIN_BACKOFF,
            holding_since: None,
            blocked: false,
            last_drain: None,
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
            self.bytes.push(part);
        }
        Ok(())
    }

    /// True after a write attempt that the socket took nothing of, until one
    /// it takes something of: retrying such a client costs a write timeout.
    pub(super) fn is_blocked(&self) -> bool {
        self.blocked
    }

    /// The first waiting bytes, as slices for one vectored write.
    pub(super) fn slices(&self) -> Vec<&[u8]> {
        self.bytes.slices()
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
        self.bytes.consume(written);
        if written > 0 {
            self.last_drain = Some(now);
        }
        self.after_write(written, now);
    }

    /// Records a direct write (of bytes that were never queued) that the socket
    /// took only `written` bytes of, once the caller has queued the rest.
    pub(super) fn wrote_direct(&mut self, written: usize, now: Instant) {
        self.after_write(written, now);
    }

    fn after_write(&mut self, written: usize, now: Instant) {
        self.blocked = written == 0;
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
        let reading = self
            .last_drain
            .is_some_and(|at| now.duration_since(at) < MOVING);
        let holding = self.bytes.len() > high_water && reading;
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
        assert_eq!(queue.slices().concat(), b"cde");
        queue.wrote(1, now);
        assert_eq!(queue.slices(), [&b"de"[..]]);
        queue.push(&[b"fghijklm"], now).expect("fits again");
        assert_eq!(queue.len(), 10);
        assert_eq!(queue.slices().concat(), b"defghijklm");
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
        queue.push(&[&[0; 61]], start).expect("fits");
        assert!(
            !queue.holds_room(50, start),
            "never drained: it may have stalled already"
        );
        queue.wrote(1, start);
        assert!(queue.holds_room(50, start), "over high water, just drained");
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
