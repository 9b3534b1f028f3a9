//! The server's log: one timestamped line per event on stderr, and the UTC
//! clock it and the transcript share. `--quiet` keeps only start, stop and errors.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

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
            write_line(line);
        }
    }

    /// A start, stop or error line, kept even with `--quiet`.
    pub fn always(&self, line: &str) {
        write_line(line);
    }
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

fn write_line(line: &str) {
    let line = format!("{} {line}\n", utc_now());
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
