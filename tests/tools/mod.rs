//! Programs a test drives that cargo does not install (tmux, Chromium): a
//! test whose program is missing fails with the command that installs it,
//! unless the user opted out by name (`SKIP_TMUX=1`, `SKIP_BROWSER=1`);
//! then it is skipped, and the skip is written down for `make test`'s summary.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::PathBuf;

/// Where skipped tests are listed, one a line; `make test` empties it first
/// and reads it last.
pub(crate) fn skipped_list() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("skipped-tests.txt")
}

/// True if `test` may go on. `missing` is why it cannot (`None`: nothing is
/// missing); `opt_out` the variable that skips it; `install` the command
/// that makes it pass.
#[allow(dead_code)]
pub(crate) fn ready(test: &str, missing: Option<String>, opt_out: &str, install: &str) -> bool {
    let Some(missing) = missing else { return true };
    if std::env::var_os(opt_out).is_some_and(|v| !v.is_empty() && v != "0") {
        let line = format!("{test}: {missing} ({opt_out} is set)");
        if let Ok(mut list) = OpenOptions::new()
            .create(true)
            .append(true)
            .open(skipped_list())
        {
            let _ = writeln!(list, "{line}");
        }
        // Past the harness's capture, so the skip shows in every run.
        let _ = writeln!(std::io::stderr(), "skipped {line}");
        return false;
    }
    panic!(
        "{test} cannot run: {missing}. Install it with `{install}`, or set {opt_out}=1 to skip it"
    );
}

/// Why tmux cannot run, if it cannot.
#[allow(dead_code)]
pub(crate) fn tmux_missing() -> Option<String> {
    match std::process::Command::new("tmux").arg("-V").output() {
        Ok(out) if out.status.success() => None,
        _ => Some("tmux is not installed".into()),
    }
}

/// True if a test that needs tmux may go on (see [`ready`]): tmux is
/// there, or the test fails saying how to install it, unless `SKIP_TMUX`
/// is set.
#[allow(dead_code)]
pub(crate) fn tmux_ready(test: &str) -> bool {
    ready(test, tmux_missing(), "SKIP_TMUX", INSTALL_TMUX)
}

/// The command that installs tmux on Debian and Ubuntu (as root: CI is).
#[allow(dead_code)]
pub(crate) const INSTALL_TMUX: &str = "sudo apt-get install tmux";
