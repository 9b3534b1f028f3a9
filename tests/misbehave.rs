//! The `misbehave` example, run as a lab runs it: every mode passes against
//! the default server, and the matching modes fail against the demo modes.
//! The issue-14 modes (`crowd`, `ghost`, `spoof`, `hidden`) have a test of
//! their own, so a failure there is told apart from one in the older modes,
//! and so has the issue-23 mode on the dashboard (`dashboard-lurkers`).

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Mutex, OnceLock};
use std::thread::{self, JoinHandle};
use std::time::Duration;

mod common;
use common::poll;

/// The modes the server has passed since they were written.
const HARDENING_MODES: [&str; 8] = [
    "split", "merge", "slow", "flood", "bomb", "reset", "churn", "escape",
];
/// The modes of issue 14: fair admission, honest exits, the server's voice,
/// clean text. `misbehave all` runs these after the ones above.
const ISSUE_14_MODES: [&str; 4] = ["crowd", "ghost", "spoof", "hidden"];

/// One run at a time: the verdicts measure timing, and two runs in parallel
/// on a small machine would only measure each other.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// The example binary, next to this test's: test binaries live in
/// `target/<profile>/deps/`, examples in `target/<profile>/examples/`.
///
/// `cargo test` builds examples, but `cargo test --test misbehave` does not,
/// so build it first (a no-op when it is fresh): never run a stale binary.
fn misbehave_binary() -> &'static Path {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(|| {
        let exe = std::env::current_exe().expect("the test binary has a path");
        let profile_dir = exe
            .parent()
            .and_then(Path::parent)
            .expect("the test binary is in target/<profile>/deps");
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| env!("CARGO").into());
        let mut build = Command::new(cargo);
        build.args(["build", "--quiet", "--example", "misbehave"]);
        match profile_dir.file_name().and_then(|name| name.to_str()) {
            Some("debug") | None => {}
            Some("release") => {
                build.arg("--release");
            }
            Some(profile) => {
                build.args(["--profile", profile]);
            }
        }
        let status = build.status().expect("cargo runs");
        assert!(status.success(), "cargo build --example misbehave failed");
        let binary = profile_dir
            .join("examples")
            .join(format!("misbehave{}", std::env::consts::EXE_SUFFIX));
        assert!(binary.exists(), "no example binary at {}", binary.display());
        binary
    })
}

/// A running `misbehave`, killed (and waited for) if it is dropped early.
#[derive(Debug)]
struct Running {
    child: Child,
    stdout: Option<JoinHandle<String>>,
    stderr: Option<JoinHandle<String>>,
}

/// What a finished run printed.
#[derive(Debug)]
struct Finished {
    status: ExitStatus,
    stdout: String,
    stderr: String,
}

impl Finished {
    /// Everything printed, for failure messages.
    fn output(&self) -> String {
        format!(
            "exit status: {}\n--- stdout ---\n{}--- stderr ---\n{}",
            self.status, self.stdout, self.stderr
        )
    }

    /// The verdict line of `mode`, if one was printed.
    fn verdict(&self, mode: &str) -> Option<&str> {
        self.stdout.lines().find(|line| {
            ["PASS", "FAIL"]
                .iter()
                .any(|word| line.starts_with(&format!("{word} {mode}:")))
        })
    }
}

impl Running {
    fn start(args: &[&str]) -> Running {
        let mut child = Command::new(misbehave_binary())
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("misbehave starts");
        Running {
            stdout: child.stdout.take().map(collect),
            stderr: child.stderr.take().map(collect),
            child,
        }
    }

    /// Waits for the run to end; kills it and fails the test after `timeout`.
    fn finish(mut self, timeout: Duration) -> Finished {
        // std has no wait with a timeout: ask if it has exited.
        let child = &mut self.child;
        let exited = poll(timeout, Duration::from_millis(50), || {
            child.try_wait().expect("try_wait works").ok_or(())
        });
        if exited.is_err() {
            let _ = self.child.kill();
        }
        let status = exited.unwrap_or_else(|()| self.child.wait().expect("wait works"));
        let text = |handle: Option<JoinHandle<String>>| {
            handle
                .map(|h| h.join().unwrap_or_default())
                .unwrap_or_default()
        };
        let finished = Finished {
            status,
            stdout: text(self.stdout.take()),
            stderr: text(self.stderr.take()),
        };
        assert!(
            exited.is_ok(),
            "misbehave took longer than {timeout:?} and was killed\n{}",
            finished.output()
        );
        finished
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Reads a pipe to its end on a thread, so a full pipe never blocks the child.
fn collect(mut pipe: impl Read + Send + 'static) -> JoinHandle<String> {
    thread::Builder::new()
        .name("misbehave-output".to_string())
        .spawn(move || {
            let mut text = String::new();
            let _ = pipe.read_to_string(&mut text);
            text
        })
        .expect("the output reader thread starts")
}

/// Runs `misbehave` with `args`, alone, and waits for it.
fn misbehave(args: &[&str]) -> Finished {
    let _alone = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    Running::start(args).finish(Duration::from_secs(120))
}

/// Runs `modes` against the default in-process server and expects every one
/// to pass, and the exit status to say so.
fn all_pass(modes: &[&str]) {
    let run = misbehave(modes);
    for mode in modes {
        let verdict = run.verdict(mode);
        assert!(
            verdict.is_some_and(|v| v.starts_with("PASS")),
            "{mode}: {verdict:?}\n{}",
            run.output()
        );
    }
    assert!(run.status.success(), "{}", run.output());
}

/// Against the default server every hardening mode passes.
#[test]
fn the_hardening_modes_pass_against_the_default_server() {
    all_pass(&HARDENING_MODES);
}

/// Against the default server the issue-14 modes pass: one address cannot fill
/// the room, a reset flooder leaves at once and says nothing more, nobody
/// speaks in the server's voice, and hidden characters are removed.
#[test]
fn the_issue_14_modes_pass_against_the_default_server() {
    all_pass(&ISSUE_14_MODES);
}

/// Against chunk framing, `split` and `merge` fail, and say it is chunk framing.
#[test]
fn split_and_merge_fail_against_chunk_framing() {
    let run = misbehave(&["split", "merge", "--demo", "chunks"]);
    for mode in ["split", "merge"] {
        let verdict = run.verdict(mode);
        assert!(
            verdict.is_some_and(|v| v.starts_with("FAIL") && v.contains("chunk framing")),
            "{mode}: {verdict:?}\n{}",
            run.output()
        );
    }
    assert_eq!(run.status.code(), Some(1), "{}", run.output());
}

/// Without a write timeout, `slow` fails: the observers saw the room freeze.
#[test]
fn slow_fails_without_a_write_timeout() {
    let run = misbehave(&["slow", "--demo", "no-write-timeout"]);
    let verdict = run.verdict("slow");
    assert!(
        verdict.is_some_and(
            |v| v.starts_with("FAIL slow: the room froze") && v.contains("no write timeout")
        ),
        "{verdict:?}\n{}",
        run.output()
    );
    assert_eq!(run.status.code(), Some(1), "{}", run.output());
}

/// Against the default server `half-close` passes: ten clients that send
/// `/quit` and close their side at once each get `* bye` and the server's
/// FIN, and (on Linux) no server socket is left in CLOSE-WAIT.
#[test]
fn half_close_passes_against_the_default_server() {
    let run = misbehave(&["half-close"]);
    let verdict = run.verdict("half-close");
    assert!(
        verdict.is_some_and(|v| v.starts_with("PASS")),
        "{verdict:?}\n{}",
        run.output()
    );
    assert!(
        run.stdout.contains("the server closed 10"),
        "{}",
        run.output()
    );
}

/// Against the default server `dashboard-lurkers` passes: a fresh viewer gets
/// `/state.json` at once, every time, while one address holds dashboard
/// streams that never read and requests that never end. Its report shows the
/// lurking happened: all 80 connections opened, and every unfinished request
/// ended by the server, some displaced as newer ones came.
#[test]
fn dashboard_lurkers_pass_against_the_default_server() {
    let run = misbehave(&["dashboard-lurkers"]);
    let verdict = run.verdict("dashboard-lurkers");
    assert!(
        verdict.is_some_and(|v| v.starts_with("PASS")),
        "{verdict:?}\n{}",
        run.output()
    );
    assert!(run.status.success(), "{}", run.output());
    let out = &run.stdout;
    assert!(
        out.contains("opened 40 /events streams that never read and 40 requests that never end"),
        "{}",
        run.output()
    );
    let looks = out
        .lines()
        .filter(|l| l.contains("a fresh look at /state.json: HTTP/1.1 200 OK"))
        .count();
    assert_eq!(looks, 5, "{}", run.output());
    // "of the unfinished requests, T got 408, C were closed without an answer"
    let count_before = |marker: &str| -> usize {
        let at = out
            .find(marker)
            .unwrap_or_else(|| panic!("no {marker:?}\n{}", run.output()));
        out[..at]
            .rsplit(' ')
            .next()
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no number before {marker:?}\n{}", run.output()))
    };
    let timed_out = count_before(" got 408");
    let displaced = count_before(" were closed without an answer");
    assert_eq!(timed_out + displaced, 40, "{}", run.output());
    assert!(displaced > 0, "{}", run.output());
}

/// Against a server at `--addr`, `dashboard-lurkers` needs `--dashboard`:
/// named without it, misbehave says so and exits 2 before doing anything.
#[test]
fn dashboard_lurkers_at_an_address_needs_the_dashboard() {
    let run = misbehave(&["dashboard-lurkers", "--addr", "127.0.0.1:9"]);
    assert_eq!(run.status.code(), Some(2), "{}", run.output());
    assert!(
        run.stderr
            .contains("dashboard-lurkers with --addr needs --dashboard HOST:PORT"),
        "{}",
        run.output()
    );
}
