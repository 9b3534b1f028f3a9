//! Noticing that the computer slept: the wall clock went on while the
//! monotonic clock (which stops during a suspend on Linux and macOS) did
//! not. Pure: readings of both clocks in, "it slept" out.
//!
//! Why it matters: while a laptop sleeps, the server gives up on it and
//! closes the connection, but the goodbye never arrives. On waking, the
//! client's socket looks open, and a client that only reads would wait
//! forever; the next line typed would vanish into a dead connection. So on
//! waking the client checks the connection first (`super::Session::clock`).

use std::time::{Duration, Instant, SystemTime};

/// A gap between the two clocks larger than this is a sleep. Far above the
/// drift of a busy machine's clocks between two readings a second apart;
/// far below any sleep long enough for the server to have let go.
pub(crate) const SLEPT: Duration = Duration::from_secs(3);

/// The last reading of both clocks.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Clocks {
    wall: SystemTime,
    monotonic: Instant,
}

impl Clocks {
    /// The clocks as read now.
    pub(crate) fn new(wall: SystemTime, monotonic: Instant) -> Clocks {
        Clocks { wall, monotonic }
    }

    /// Reads the clocks again; true if the wall clock went further than the
    /// monotonic one by more than [`SLEPT`] since the last reading. A wall
    /// clock set back, or forward by hand, is at worst one needless check.
    pub(crate) fn slept(&mut self, wall: SystemTime, monotonic: Instant) -> bool {
        let wall_passed = wall.duration_since(self.wall).unwrap_or_default();
        let monotonic_passed = monotonic.saturating_duration_since(self.monotonic);
        *self = Clocks { wall, monotonic };
        wall_passed.saturating_sub(monotonic_passed) > SLEPT
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_gap_between_the_clocks_is_a_sleep() {
        let wall = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        let mono = Instant::now();
        let mut clocks = Clocks::new(wall, mono);
        let second = Duration::from_secs(1);
        // Both went on together: awake, even with a little drift.
        assert!(!clocks.slept(wall + second, mono + second));
        assert!(!clocks.slept(
            wall + 2 * second + Duration::from_millis(300),
            mono + 2 * second
        ));
        // Ten minutes on the wall, a second of running: it slept.
        let later = wall + 2 * second + Duration::from_secs(600);
        assert!(clocks.slept(later, mono + 3 * second));
        // Only once: the next reading starts from the wake.
        assert!(!clocks.slept(later + second, mono + 4 * second));
        // A wall clock set back is no sleep.
        assert!(!clocks.slept(wall, mono + 5 * second));
    }
}
