//! Waiting with a deadline: [`TIMEOUT`] for any one thing a test waits for,
//! and the one polling loop of the suite, for what happens "a moment later"
//! without a line or a message to wait for.

use std::thread;
use std::time::{Duration, Instant};

/// Long enough for a loaded 2-core CI machine; a bug fails after this rather than hanging.
pub(crate) const TIMEOUT: Duration = Duration::from_secs(10);

/// Calls `check` until it gives `Ok`, pausing `pace` between tries, for at
/// most `within`; then gives back its last answer, `Err` if it never got
/// there. The pace is a polling interval for a condition nobody can be told
/// of (a place given back when a thread ends, a child that exits), never a
/// guess at how long something takes: the loop always checks again.
pub(crate) fn poll<T, E>(
    within: Duration,
    pace: Duration,
    mut check: impl FnMut() -> Result<T, E>,
) -> Result<T, E> {
    let deadline = Instant::now() + within;
    loop {
        let answer = check();
        if answer.is_ok() || Instant::now() >= deadline {
            return answer;
        }
        thread::sleep(pace);
    }
}

/// [`poll`]s `check`, and panics if it never gives `Ok`, naming `what` it
/// waited for and the last thing `check` saw instead: the failure shows the
/// state things stopped in.
pub(crate) fn wait_until<T, E: std::fmt::Debug>(
    what: &str,
    within: Duration,
    pace: Duration,
    check: impl FnMut() -> Result<T, E>,
) -> T {
    poll(within, pace, check)
        .unwrap_or_else(|last| panic!("never saw {what} within {within:?}; the last try: {last:?}"))
}

/// [`wait_until`] for an `attempt` that has nothing to show when it fails:
/// calls it until it gives `Some`.
pub(crate) fn retry<T>(
    what: &str,
    within: Duration,
    pace: Duration,
    mut attempt: impl FnMut() -> Option<T>,
) -> T {
    wait_until(what, within, pace, || attempt().ok_or("nothing yet"))
}
