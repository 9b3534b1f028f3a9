//! The terminals a handout asks for, as windows of one tmux server: a real
//! pseudo-terminal each, so Ctrl-C, Ctrl-Z, `fg` and the interactive client
//! behave as on a student's screen. Killed, with all it runs, on drop.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

/// How often a screen is read while waiting for something on it.
const POLL: Duration = Duration::from_millis(50);

#[derive(Debug)]
pub(crate) struct Terminals {
    socket: String,
    /// Where each terminal's shell records the exit status of every command.
    state: PathBuf,
    root: PathBuf,
    /// The environment every shell starts with.
    env: Vec<(String, String)>,
    open: HashMap<u32, Terminal>,
    started: bool,
    /// The server's socket file, removed with it (tmux leaves it behind).
    socket_path: Option<String>,
}

/// What the checker knows about one terminal.
#[derive(Debug, Default)]
pub(crate) struct Terminal {
    /// Commands typed at the shell's prompt so far.
    pub(crate) commands: usize,
    /// The shell's process id: the terminal's session, for `pgrep -s`.
    pub(crate) shell_pid: u32,
}

impl Terminals {
    /// No terminal is open yet; the first one asked for starts the tmux server.
    pub(crate) fn new(
        name: &str,
        state: &Path,
        root: &Path,
        env: Vec<(String, String)>,
    ) -> Terminals {
        // A long history: a quote is looked for in all a terminal has shown.
        let _ = fs::write(
            state.join("tmux.conf"),
            "set-option -g history-limit 100000\n",
        );
        Terminals {
            socket: format!("chatroom-handouts-{}-{name}", std::process::id()),
            state: state.to_path_buf(),
            root: root.to_path_buf(),
            env,
            open: HashMap::new(),
            started: false,
            socket_path: None,
        }
    }

    fn tmux(&self, args: &[&str]) -> Result<String, String> {
        let out = Command::new("tmux")
            .args(["-L", &self.socket, "-f"])
            .arg(self.state.join("tmux.conf"))
            .args(args)
            .output()
            .map_err(|e| format!("cannot run tmux: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "tmux {} failed: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    fn done_file(&self, term: u32) -> PathBuf {
        self.state.join(format!("terminal-{term}.done"))
    }

    /// Opens terminal `term` if it is not open yet, and waits for its prompt.
    pub(crate) fn open(&mut self, term: u32) -> Result<&mut Terminal, String> {
        if !self.open.contains_key(&term) {
            let done = self.done_file(term);
            // Each prompt appends the last command's exit status: how the
            // checker knows a command has ended, and how it ended.
            let mut shell = format!(
                "exec env PS1='$ ' HISTFILE=/dev/null PROMPT_COMMAND='echo $? >> {}'",
                done.display()
            );
            for (key, value) in &self.env {
                shell.push_str(&format!(" {key}='{value}'"));
            }
            shell.push_str(" bash --norc --noprofile -i");
            let name = term.to_string();
            let root = self.root.display().to_string();
            if self.started {
                self.tmux(&[
                    "new-window",
                    "-d",
                    "-n",
                    &format!("t{name}"),
                    "-c",
                    &root,
                    &shell,
                ])?;
            } else {
                self.tmux(&[
                    "new-session",
                    "-d",
                    "-s",
                    "lab",
                    "-n",
                    &format!("t{name}"),
                    "-x",
                    "220",
                    "-y",
                    "50",
                    "-c",
                    &root,
                    &shell,
                ])?;
                self.started = true;
                let path = self.tmux(&["display-message", "-p", "#{socket_path}"])?;
                self.socket_path = Some(path.trim().to_string());
            }
            let pid = self.tmux(&[
                "display-message",
                "-p",
                "-t",
                &format!("lab:t{name}"),
                "#{pane_pid}",
            ])?;
            let terminal = Terminal {
                commands: 0,
                shell_pid: pid.trim().parse().unwrap_or(0),
            };
            self.open.insert(term, terminal);
            self.wait_until(Duration::from_secs(10), || {
                Ok(!self.statuses(term).is_empty())
            })
            .map_err(|_| format!("terminal {term}'s shell never showed its prompt"))?;
        }
        Ok(self.open.get_mut(&term).expect("just opened"))
    }

    pub(crate) fn shell_pid(&self, term: u32) -> Option<u32> {
        self.open.get(&term).map(|t| t.shell_pid)
    }

    /// The exit status of every command ended so far (the first is the shell's start).
    pub(crate) fn statuses(&self, term: u32) -> Vec<i32> {
        fs::read_to_string(self.done_file(term))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.trim().parse().ok())
            .collect()
    }

    /// True when the shell shows its prompt: every command typed has ended.
    pub(crate) fn idle(&self, term: u32) -> bool {
        match self.open.get(&term) {
            Some(t) => self.statuses(term).len() > t.commands,
            None => true,
        }
    }

    /// Types `text` and Enter at the shell's prompt (each line of it).
    pub(crate) fn command(&mut self, term: u32, text: &str) -> Result<(), String> {
        self.open(term)?.commands += 1;
        self.type_line(term, text)
    }

    /// Types `text` and Enter into whatever reads the terminal.
    pub(crate) fn type_line(&mut self, term: u32, text: &str) -> Result<(), String> {
        self.open(term)?;
        let target = format!("lab:t{term}");
        for line in text.lines() {
            self.tmux(&["send-keys", "-t", &target, "-l", line])?;
            self.tmux(&["send-keys", "-t", &target, "Enter"])?;
        }
        Ok(())
    }

    pub(crate) fn keys(&mut self, term: u32, keys: &[String]) -> Result<(), String> {
        self.open(term)?;
        let target = format!("lab:t{term}");
        let mut args = vec!["send-keys", "-t", &target];
        args.extend(keys.iter().map(String::as_str));
        self.tmux(&args).map(|_| ())
    }

    /// Everything the terminal has shown, scrolled-off lines included, with
    /// wrapped lines joined and trailing blanks cut.
    pub(crate) fn screen(&self, term: u32) -> Result<Vec<String>, String> {
        if !self.open.contains_key(&term) {
            return Ok(Vec::new());
        }
        let text = self.tmux(&[
            "capture-pane",
            "-p",
            "-J",
            "-S",
            "-",
            "-E",
            "-",
            "-t",
            &format!("lab:t{term}"),
        ])?;
        let mut lines: Vec<String> = text.lines().map(|l| l.trim_end().to_string()).collect();
        while lines.last().is_some_and(|l| l.is_empty()) {
            lines.pop();
        }
        Ok(lines)
    }

    /// Polls `ready` until it says yes or `limit` passes.
    pub(crate) fn wait_until(
        &self,
        limit: Duration,
        mut ready: impl FnMut() -> Result<bool, String>,
    ) -> Result<(), String> {
        let deadline = Instant::now() + limit;
        loop {
            if ready()? {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(format!("nothing after {} s", limit.as_secs_f64()));
            }
            // A screen cannot be waited on; it is read again shortly.
            thread::sleep(POLL);
        }
    }
}

impl Drop for Terminals {
    fn drop(&mut self) {
        if self.started && std::env::var_os("HANDOUTS_KEEP").is_some() {
            eprintln!(
                "HANDOUTS_KEEP: the terminals stay open: tmux -L {} attach",
                self.socket
            );
        } else if self.started {
            // Every program in every terminal gets SIGHUP with its terminal.
            let _ = self.tmux(&["kill-server"]);
            if let Some(path) = &self.socket_path {
                let _ = fs::remove_file(path);
            }
        }
    }
}
