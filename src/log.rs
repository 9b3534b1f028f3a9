//! The server's log: one timestamped line per event on stderr, and the UTC
//! clock it and the transcript share. `--quiet` keeps only start, stop and
//! errors. While the console draws on the terminal, lines go to it instead
//! (a `Sink`), so they scroll above the command being typed.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use parking_lot::Mutex;

/// Writes log lines to stderr.
#[derive(Debug, Clone, Copy)]
pub struct Log {
    quiet: bool,
}

impl Log {
    /// A log that drops [`Log::info`] lines when `quiet`.
    pub fn new(quiet: bool) -> Self {
        Log { quiet }
    }

    /// True when per-event lines are being kept; callers test it before
    /// formatting a line, so `--quiet` keeps formatting off the hot path.
    pub fn verbose(&self) -> bool {
        !self.quiet
    }

    /// A per-event line (connection, disconnection, message).
    pub fn info(&self, line: &str) {
        if !self.quiet {
            write_line(line, Level::Info);
        }
    }

    /// A start, stop or error line, kept even with `--quiet`.
    pub fn always(&self, line: &str) {
        write_line(line, Level::Always);
    }
}

/// Which of [`Log`]'s methods wrote a line: a [`Sink`] may treat them
/// differently (the console summarises chat, which only `info` writes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Level {
    /// [`Log::info`]: a per-event line, dropped under `--quiet`.
    Info,
    /// [`Log::always`]: a start, stop or error line.
    Always,
}

/// Set by [`capture_for_tests`]: log lines go through `eprint!`.
static FOR_TESTS: AtomicBool = AtomicBool::new(false);

/// Sends every log line of this process through `eprint!`, which the Rust
/// test harness captures for each test and prints only if that test fails
/// (threads inherit the capture of the thread that started them, so a
/// server started by a test logs into that test's output). For test suites
/// that run servers in their own process, which would otherwise fill the
/// output of a passing run with `listening on` lines; `cargo test --
/// --nocapture` still shows everything.
///
/// Not for a real server: `eprint!` panics if stderr is gone (a closed
/// terminal), where the default drops the line and carries on.
pub fn capture_for_tests() {
    FOR_TESTS.store(true, Ordering::Relaxed);
}

/// Whoever draws on the terminal that stderr is, while it does: the
/// server's interactive console. Log lines written to stderr meanwhile would
/// land in the middle of the command being typed, so the log hands them to
/// the sink, which prints them above it.
///
/// A trait here, implemented by the console, so that imports point down:
/// the log knows nothing of consoles, and every thread that logs (readers,
/// the broadcaster) goes on calling [`Log`] as before.
pub(crate) trait Sink: Send + Sync + std::fmt::Debug {
    /// Takes one line: `stamp` is its time ([`utc_now`]), `line` its text,
    /// `level` the method that wrote it. Called on the logging thread, so it
    /// must not block: false if it does not take the line (the console is
    /// gone, or stderr is not its terminal), which then goes to stderr.
    fn line(&self, stamp: &str, line: &str, level: Level) -> bool;

    /// Gives the terminal back ([`restore_stderr`]): the console stops
    /// drawing, erases its input line and restores the terminal's mode.
    /// Returns when that is done, or after a moment if it cannot be.
    fn close(&self);
}

/// The sink in use, if any: one per process, as stderr is.
static SINK: Mutex<Option<Arc<dyn Sink>>> = Mutex::new(None);

/// Sends this process's log lines to `sink` until the returned [`Diversion`]
/// is dropped, or [`restore_stderr`] is called. (Only a Unix terminal
/// console diverts the log.)
#[cfg_attr(not(unix), allow(dead_code))]
pub(crate) fn divert(sink: Arc<dyn Sink>) -> Diversion {
    *SINK.lock() = Some(sink.clone());
    Diversion { sink }
}

/// While it lives, the log goes to its sink; dropping it sends the log to
/// stderr again (if the sink is still the one in use).
#[derive(Debug)]
#[cfg_attr(not(unix), allow(dead_code))]
pub(crate) struct Diversion {
    sink: Arc<dyn Sink>,
}

impl Drop for Diversion {
    fn drop(&mut self) {
        let mut current = SINK.lock();
        if current.as_ref().is_some_and(|s| Arc::ptr_eq(s, &self.sink)) {
            *current = None;
        }
    }
}

/// Sends the log to stderr again, after the sink in use (the interactive
/// console) has handed the terminal back, its mode restored. The `server`
/// binary calls this when [`Server::run`](crate::Server::run) returns and
/// before it exits at a second Ctrl-C: the console's thread is never joined,
/// and a process that ended while the terminal was switched would leave the
/// teacher's shell without echo. Does nothing when nothing was diverted.
pub fn restore_stderr() {
    // Taken out first, so that lines logged meanwhile go to stderr, and the
    // lock is not held while the console finishes.
    let sink = SINK.lock().take();
    if let Some(sink) = sink {
        sink.close();
    }
}

fn write_line(line: &str, level: Level) {
    let stamp = utc_now();
    // Cloned out, so no lock is held while the sink works.
    let sink = SINK.lock().clone();
    if sink.is_some_and(|sink| sink.line(&stamp, line, level)) {
        return;
    }
    let line = format!("{stamp} {line}\n");
    if FOR_TESTS.load(Ordering::Relaxed) {
        eprint!("{line}");
        return;
    }
    // One write per line, so lines from different threads never mix; a
    // failed write to stderr has nowhere better to be reported, so it is ignored.
    let _ = std::io::stderr().lock().write_all(line.as_bytes());
}

/// The current time as `YYYY-MM-DDTHH:MM:SS.mmmZ`.
pub fn utc_now() -> String {
    let since_epoch = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    format_utc(since_epoch.as_secs(), since_epoch.subsec_millis())
}

/// Formats seconds and milliseconds since the Unix epoch as an ISO 8601 UTC time.
pub fn format_utc(secs: u64, millis: u32) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{millis:03}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

/// Days since 1970-01-01 to a (year, month, day) in the proleptic Gregorian
/// calendar: Howard Hinnant's well-known `civil_from_days` algorithm, which
/// counts in 400-year eras starting on 1 March so leap days fall at the end.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_dates() {
        assert_eq!(format_utc(0, 0), "1970-01-01T00:00:00.000Z");
        assert_eq!(format_utc(951_782_400, 5), "2000-02-29T00:00:00.005Z");
        assert_eq!(format_utc(1_796_000_000, 123), "2026-11-30T00:53:20.123Z");
    }
}
