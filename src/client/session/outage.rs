//! One outage, from the loss of an established connection until a session
//! runs again or the client gives up ([`Outage`]): when each attempt is made
//! and how long it may take, why the last one failed, and what the user is
//! told as it begins and ends. Pure: the pace and the windows are
//! `retry.rs`'s; the session machine (`mod.rs`) asks.

use std::time::{Duration, Instant};

use super::retry::{delay, Cause};
use crate::client::ending::Ending;

/// The longest a connection attempt may take. Far longer than a refused
/// connection takes; what it bounds is a connect to a network that drops
/// packets (the Wi-Fi is down), which would otherwise hang for minutes.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// The shortest time given to an attempt, even the last one at the very end
/// of the window.
const MIN_CONNECT_TIMEOUT: Duration = Duration::from_secs(1);

/// What to do after a failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Next {
    /// Try again at this instant.
    TryAt(Instant),
    /// The window is over: stop.
    GiveUp,
}

/// An outage: from the loss of an established connection until a session
/// is running again, or the client gives up.
#[derive(Debug, Clone)]
pub(crate) struct Outage {
    cause: Cause,
    started: Instant,
    failures: u32,
    /// Why the last attempt to connect failed, for the message if the
    /// client gives up.
    last_error: Option<String>,
}

impl Outage {
    /// An outage that began at `now`.
    pub(crate) fn new(cause: Cause, now: Instant) -> Outage {
        Outage {
            cause,
            started: now,
            failures: 0,
            last_error: None,
        }
    }

    /// What the user is told as it begins, the connection having ended
    /// with `ending`.
    pub(crate) fn announce(&self, ending: &Ending) -> String {
        let window = self.cause.window().as_secs();
        match (ending, self.cause) {
            (Ending::Lost(Some(e)), _) => {
                format!("Connection lost: {e}; reconnecting for up to {window} s.")
            }
            (_, Cause::Lost) => format!("Connection lost; reconnecting for up to {window} s."),
            (_, Cause::Shutdown) => format!(
                "The server is shutting down; reconnecting for up to {window} s, \
                 in case it restarts."
            ),
        }
    }

    /// When the client stops trying.
    pub(crate) fn deadline(&self) -> Instant {
        self.started + self.cause.window()
    }

    /// How long an attempt started at `now` may take: what is left of the
    /// window, within [`MIN_CONNECT_TIMEOUT`] and [`CONNECT_TIMEOUT`].
    pub(crate) fn attempt_timeout(&self, now: Instant) -> Duration {
        let left = self.deadline().saturating_duration_since(now);
        left.clamp(MIN_CONNECT_TIMEOUT, CONNECT_TIMEOUT)
    }

    /// The loss, or an attempt (failed because of `why`), failed at `now`:
    /// when to try next. The last attempt is made at the deadline itself,
    /// so the window is used whole; a failure at or after it gives up.
    pub(crate) fn failed(&mut self, now: Instant, why: Option<String>) -> Next {
        self.last_error = why;
        let deadline = self.deadline();
        if now >= deadline {
            return Next::GiveUp;
        }
        let wait = delay(self.failures);
        self.failures = self.failures.saturating_add(1);
        Next::TryAt((now + wait).min(deadline))
    }

    /// The client gives up, because of `why` if it is not the last
    /// attempt's failure: what the user is told, and how the session ends
    /// (as the outage began).
    pub(crate) fn give_up(self, why: Option<String>) -> (String, Ending) {
        let window = self.cause.window().as_secs();
        let why = why
            .or(self.last_error)
            .map(|e| format!(" (the last try: {e})"))
            .unwrap_or_default();
        let told = match self.cause {
            Cause::Lost => format!("Could not reconnect within {window} s{why}; giving up."),
            Cause::Shutdown => {
                format!("The server did not come back within {window} s{why}; giving up.")
            }
        };
        (told, self.cause.ending())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The attempts an outage makes when every one fails at once: their
    /// times in milliseconds from the start.
    fn attempts(cause: Cause) -> Vec<u128> {
        let start = Instant::now();
        let mut outage = Outage::new(cause, start);
        let mut now = start;
        let mut times = Vec::new();
        while let Next::TryAt(at) = outage.failed(now, None) {
            assert!(at > now && at <= outage.deadline());
            times.push((at - start).as_millis());
            now = at;
        }
        times
    }

    #[test]
    fn a_shutdown_tries_for_thirty_seconds_and_a_loss_for_sixty() {
        assert_eq!(
            attempts(Cause::Shutdown),
            [250, 750, 1750, 3750, 7750, 11750, 15750, 19750, 23750, 27750, 30000]
        );
        let lost = attempts(Cause::Lost);
        assert_eq!(lost.last(), Some(&60_000));
        assert_eq!(lost.len(), 4 + 14 + 1);
    }

    #[test]
    fn a_slow_attempt_still_gives_up_at_the_deadline() {
        let start = Instant::now();
        let mut outage = Outage::new(Cause::Shutdown, start);
        assert_eq!(
            outage.failed(start, None),
            Next::TryAt(start + Duration::from_millis(250))
        );
        // An attempt that hung until past the window ends it.
        assert_eq!(
            outage.failed(start + Duration::from_secs(31), None),
            Next::GiveUp
        );
        assert_eq!(outage.cause, Cause::Shutdown);
    }
}
