//! tmux as a real pseudo-terminal for the interactive client: keys in, the
//! screen out, each test on a tmux server of its own.

use std::io::{self, Write};
use std::process::Command;
use std::time::Duration;

use super::wait::{poll, TIMEOUT};

/// A tmux server of its own (a socket name no other test uses) with one
/// detached session, 100 columns by 30 rows, running a shell command: a real
/// pseudo-terminal for testing the interactive client. Killed on drop.
#[derive(Debug)]
pub(crate) struct Tmux {
    socket: String,
    /// Where the server's socket file is, to remove it after the server is
    /// killed (tmux leaves it behind).
    socket_path: Option<String>,
}

impl Tmux {
    /// Starts `command` in a new session, or returns `None` after printing
    /// why on stderr when tmux is not installed (the CI script installs it).
    pub(crate) fn start(test: &str, command: &str) -> Option<Tmux> {
        if Command::new("tmux").arg("-V").output().is_err() {
            // Written to stderr itself, not with `eprintln!`, which the test
            // harness captures and shows only for failing tests.
            let _ = writeln!(
                io::stderr(),
                "SKIPPED {test}: tmux is not installed, so there is no pseudo-terminal \
                 to run the client in (`apt-get install tmux`; .ci/run does it)"
            );
            return None;
        }
        let mut tmux = Tmux {
            socket: format!("chatroom-{}-{test}", std::process::id()),
            socket_path: None,
        };
        // `sleep` keeps the pane, and what the command printed, after it ends.
        let command = format!("{command}; exec sleep 600");
        let out = tmux
            .command(&["new-session", "-d", "-s", "main", "-x", "100", "-y", "30"])
            .arg(command)
            .output()
            .expect("run tmux");
        assert!(
            out.status.success(),
            "tmux new-session failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let path = tmux.run(&["display-message", "-p", "#{socket_path}"]);
        tmux.socket_path = Some(path.trim().to_string());
        Some(tmux)
    }

    /// A tmux command line on this test's server, with no user configuration,
    /// in a UTF-8 locale (tmux reads text typed with `send-keys -l` by it).
    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new("tmux");
        command
            .env("LC_ALL", "C.UTF-8")
            .args(["-L", &self.socket, "-f", "/dev/null"])
            .args(args);
        command
    }

    fn run(&self, args: &[&str]) -> String {
        let out = self.command(args).output().expect("run tmux");
        assert!(
            out.status.success(),
            "tmux {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Presses keys by tmux name (`Enter`, `BSpace`, `Left`, `C-c`, …).
    pub(crate) fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", "main"];
        args.extend(keys);
        self.run(&args);
    }

    /// Types `text` as it is.
    pub(crate) fn type_text(&self, text: &str) {
        self.run(&["send-keys", "-t", "main", "-l", text]);
    }

    /// Resizes the window, as a user dragging its corner would.
    pub(crate) fn resize(&self, columns: u16, rows: u16) {
        let (x, y) = (columns.to_string(), rows.to_string());
        self.run(&["resize-window", "-t", "main", "-x", &x, "-y", &y]);
    }

    /// The screen as text, wrapped lines joined, trailing spaces dropped;
    /// with `colours`, including the escape codes of colours and attributes.
    pub(crate) fn screen(&self, colours: bool) -> String {
        let mut args = vec!["capture-pane", "-p", "-J", "-t", "main"];
        if colours {
            args.push("-e");
        }
        // `-J` keeps trailing spaces; they say nothing a test looks for.
        let screen = self.run(&args);
        screen
            .lines()
            .map(|l| l.trim_end().to_string() + "\n")
            .collect()
    }

    /// The cursor's column and row.
    pub(crate) fn cursor(&self) -> (usize, usize) {
        let at = self.run(&[
            "display-message",
            "-p",
            "-t",
            "main",
            "#{cursor_x} #{cursor_y}",
        ]);
        let mut numbers = at.split_whitespace().map(|n| n.parse().expect("a number"));
        (
            numbers.next().expect("cursor_x"),
            numbers.next().expect("cursor_y"),
        )
    }

    /// Polls the screen every 50 ms until `wanted` holds, and returns it;
    /// panics with the last screen after [`TIMEOUT`].
    pub(crate) fn wait_for(&self, what: &str, wanted: impl Fn(&str) -> bool) -> String {
        self.wait_for_screen(what, false, wanted)
    }

    /// [`Tmux::wait_for`], on the screen with its colour codes.
    pub(crate) fn wait_for_screen(
        &self,
        what: &str,
        colours: bool,
        wanted: impl Fn(&str) -> bool,
    ) -> String {
        let last = poll(TIMEOUT, Duration::from_millis(50), || {
            let screen = self.screen(colours);
            if wanted(&screen) {
                Ok(screen)
            } else {
                Err(screen)
            }
        });
        last.unwrap_or_else(|screen| panic!("never saw {what}; the screen shows:\n{screen}"))
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.command(&["kill-server"]).output();
        if let Some(path) = &self.socket_path {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// `text` quoted for `sh`.
pub(crate) fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}
