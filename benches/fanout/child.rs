//! One measurement in a child process: this same program, started with a run's
//! flags and `--json`, so each run begins with a fresh heap and its peak RSS is
//! its own. The suite and scenario E both take their figures this way.

use std::process::{Command, Stdio};

/// Runs this program with `args` and `--json`, and returns the last line of its
/// standard output that is a JSON object.
///
/// # Errors
/// The program could not be started, failed, or printed no JSON; the message
/// includes its standard error.
pub(crate) fn run_json(args: &[String]) -> Result<String, String> {
    let exe = std::env::current_exe().map_err(|e| format!("cannot find this program: {e}"))?;
    let output = Command::new(exe)
        .args(args)
        .arg("--json")
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot start a run: {e}"))?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let line = stdout.lines().rev().find(|l| l.starts_with('{'));
    match (output.status.success(), line) {
        (true, Some(line)) => Ok(line.to_string()),
        _ => Err(format!(
            "run {} failed ({}):\n{}",
            args.join(" "),
            output.status,
            String::from_utf8_lossy(&output.stderr)
        )),
    }
}
