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

/// Before it counts as stalled, any client may take nothing for this many
/// write timeouts, whatever its pauses were. What the server sees is the
/// socket, not the program: a program that reads a little at a time
/// leaves its window closed until enough is free (Linux waits for a
/// sixteenth of the receive buffer, or half of a small one), so its socket
/// takes nothing between sips though it never stops reading. Measured on
/// loopback, 1 KiB read every 250 ms through an 8 KiB buffer: the socket
/// took 4 to 6 KiB every 1.48 to 1.54 s, from the very first pause, when
/// no earlier pause could vouch for it. One and a half write timeouts (the
/// floor this replaced) evicted that reader half the time; three leave it
/// twice its pause, and keep any reader of 2 KB/s or more. A laptop that
/// sleeps is found after three write timeouts: with the room logs it costs
/// nobody else anything meanwhile (see `roomlog.rs`).
const MIN_PATIENCE: u32 = 3;

/// A reader that takes bytes in sips is also given this many of its
/// longest recent pause, when that is more than [`MIN_PATIENCE`] write
/// timeouts. The server's kernel learns that a closed window opened only
/// at its next zero-window probe, whose interval doubles each time, so one
/// pause may be twice or three times the one before (measured: 1.0 s,
/// then 3.0 s, for 4 KiB read each second through an 8 KiB buffer, and a
/// large receive buffer read slowly has pauses of many seconds). A client
/// that was keeping up has no such pauses.
const PATIENCE: u32 = 4;

const MAX_PATIENCE: u32 = 8;

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
    /// How long this client's socket takes nothing, at most, between two
    /// writes it takes part of while it is behind: the longest recent
    /// pause, each older one counting for three quarters at every new one.
    usual_pause: Duration,
}

impl Pace {
    pub(super) fn new(now: Instant) -> Pace {
        Pace {
            last_progress: now,
            retry_at: now,
            backoff: MIN_BACKOFF,
            careful_until: now,
            behind: false,
            usual_pause: Duration::ZERO,
        }
    }

    /// Records a write that the socket took `taken` bytes of, after which
    /// `left` bytes still wait.
    pub(super) fn wrote(&mut self, taken: usize, left: usize, now: Instant) {
        if taken > 0 && self.behind {
            // A sip after a pause: what this reader's pauses are like.
            let pause = now.saturating_duration_since(self.last_progress);
            // The longest recent pause, forgotten slowly: pauses that grow
            // (each zero-window probe comes twice as late as the one
            // before) are met by the longest, not by an average.
            self.usual_pause = pause.max(self.usual_pause * 3 / 4);
        }
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
        self.behind.then(|| {
            self.retry_at
                .min(self.last_progress + self.patience(write_timeout))
        })
    }

    /// True when bytes have waited without the socket taking any for
    /// [`MIN_PATIENCE`] `write_timeout`s, or, for a reader that sips,
    /// [`PATIENCE`] times its longest recent pause, up to [`MAX_PATIENCE`]
    /// write timeouts: the client has stopped reading.
    pub(super) fn is_stalled(&self, now: Instant, write_timeout: Duration) -> bool {
        self.behind
            && now.saturating_duration_since(self.last_progress) >= self.patience(write_timeout)
    }

    /// How long this client may take nothing before it counts as stalled:
    /// see [`MIN_PATIENCE`] and [`PATIENCE`].
    fn patience(&self, write_timeout: Duration) -> Duration {
        (self.usual_pause * PATIENCE)
            .clamp(write_timeout * MIN_PATIENCE, write_timeout * MAX_PATIENCE)
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
        assert!(!pace.is_stalled(start + second * 2, second));
        assert!(
            pace.is_stalled(start + second * 3, second),
            "no progress for three write timeouts, no pause seen yet"
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

    #[test]
    fn a_reader_that_sips_is_given_its_usual_pauses() {
        let start = Instant::now();
        let second = Duration::from_secs(1);
        let mut pace = Pace::new(start);
        pace.wrote(0, 100, start);
        // A sip every 1.2 s: longer than the write timeout, every time.
        let mut at = start;
        for _ in 0..10 {
            at += Duration::from_millis(1200);
            assert!(!pace.is_stalled(at, second), "kept while it sips");
            pace.wrote(10, 90, at);
        }
        assert!(!pace.is_stalled(at + Duration::from_millis(4700), second));
        // Then it stops: found stalled after four of its pauses.
        assert!(pace.is_stalled(at + Duration::from_millis(4800), second));
        assert_eq!(
            pace.next_check(second),
            Some(
                pace.retry_at
                    .min(pace.last_progress + pace.patience(second))
            )
        );
    }

    #[test]
    fn patience_has_a_floor_and_a_ceiling() {
        let start = Instant::now();
        let second = Duration::from_secs(1);
        let mut pace = Pace::new(start);
        // A reader whose pauses were short gets three write timeouts.
        pace.wrote(0, 100, start);
        pace.wrote(100, 0, start + Duration::from_millis(1));
        pace.wrote(0, 100, start + Duration::from_millis(2));
        assert!(!pace.is_stalled(start + Duration::from_millis(3001), second));
        assert!(pace.is_stalled(start + Duration::from_millis(3002), second));
        // However long its pauses were, at most eight write timeouts.
        let mut pace = Pace::new(start);
        pace.wrote(0, 100, start);
        let mut at = start;
        for _ in 0..20 {
            at += Duration::from_secs(30);
            pace.wrote(1, 99, at);
        }
        assert!(!pace.is_stalled(at + second * 7, second));
        assert!(pace.is_stalled(at + second * 8, second));
    }

    #[test]
    fn a_first_pause_of_a_second_and_a_half_is_met() {
        // Measured on loopback: 1 KiB read every 250 ms through an 8 KiB
        // receive buffer; the very first pause after it fell behind.
        let start = Instant::now();
        let second = Duration::from_secs(1);
        let mut pace = Pace::new(start);
        pace.wrote(0, 100, start);
        pace.wrote(10, 90, start + Duration::from_millis(200));
        assert!(!pace.is_stalled(start + Duration::from_millis(1750), second));
    }

    #[test]
    fn pauses_that_grow_as_the_probes_back_off_are_met() {
        // Measured on loopback: 1 KiB read every 250 ms through an 8 KiB
        // receive buffer; the socket took bytes after these pauses.
        let start = Instant::now();
        let second = Duration::from_secs(1);
        let mut pace = Pace::new(start);
        pace.wrote(0, 100, start);
        let mut at = start;
        for pause in [260, 950, 1000, 3040, 2950, 2960, 3000, 2950] {
            at += Duration::from_millis(pause);
            assert!(
                !pace.is_stalled(at, second),
                "evicted at a {pause} ms pause"
            );
            pace.wrote(10, 90, at);
        }
    }
}
