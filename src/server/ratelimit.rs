//! A token bucket: how long a reader must wait before handling its next line.
//! Pure arithmetic on `Instant`s; the reader does the waiting.

use std::time::{Duration, Instant};

/// Lines a client may send at once before the sustained rate applies, unless
/// two seconds' worth is more: a pasted screenful goes through unslowed.
pub(crate) const MIN_BURST: f64 = 50.0;

/// Allows `rate` lines per second on average, with bursts of
/// `max(50, 2 * rate)` lines.
#[derive(Debug)]
pub(crate) struct TokenBucket {
    rate: f64,
    burst: f64,
    tokens: f64,
    last: Instant,
}

impl TokenBucket {
    /// A full bucket for `rate` lines per second (`rate` > 0).
    pub(crate) fn new(rate: u32, now: Instant) -> Self {
        let rate = f64::from(rate);
        let burst = MIN_BURST.max(2.0 * rate);
        TokenBucket {
            rate,
            burst,
            tokens: burst,
            last: now,
        }
    }

    /// Takes one token for a line. Returns how long to wait before handling
    /// that line: zero while the burst lasts. The line is never dropped; the
    /// token is spent in advance and the caller sleeps.
    pub(crate) fn take(&mut self, now: Instant) -> Duration {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = now;
        self.tokens = (self.tokens + elapsed * self.rate).min(self.burst) - 1.0;
        if self.tokens >= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-self.tokens / self.rate)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_passes_then_the_rate_applies() {
        let start = Instant::now();
        let mut bucket = TokenBucket::new(10, start);
        for _ in 0..50 {
            assert_eq!(bucket.take(start), Duration::ZERO);
        }
        // The 51st line at the same instant waits one tenth of a second.
        let wait = bucket.take(start);
        assert!((wait.as_secs_f64() - 0.1).abs() < 1e-9, "{wait:?}");
        // A caller that waited as told is let through, then waits again.
        let later = start + wait;
        assert!((bucket.take(later).as_secs_f64() - 0.1).abs() < 1e-9);
    }

    #[test]
    fn idle_time_refills_up_to_the_burst_only() {
        let start = Instant::now();
        let mut bucket = TokenBucket::new(100, start);
        for _ in 0..200 {
            bucket.take(start);
        }
        let hour_later = start + Duration::from_secs(3600);
        for _ in 0..200 {
            assert_eq!(bucket.take(hour_later), Duration::ZERO);
        }
        assert!(bucket.take(hour_later) > Duration::ZERO);
    }
}
