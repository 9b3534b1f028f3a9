//! The child-process guard: a program the tests start (a binary, a shell) is
//! killed and reaped when its guard drops, and everything it printed is
//! kept, so a failing test can show it.

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use super::wait::{poll, TIMEOUT};

/// What a child printed, as its output threads pass it on.
#[derive(Debug)]
enum Printed {
    /// A whole line, without its line break (or the last text, once the
    /// stream has ended without one).
    Line(String),
    /// Everything printed since the last line break, so far: a program may
    /// print text without a newline and expect it to be seen at once.
    Unfinished(String),
}

/// A child process that is killed and reaped when dropped; its stderr and
/// stdout are collected line by line so tests can wait for a line and print
/// everything when they fail.
#[derive(Debug)]
pub(crate) struct ChildGuard {
    pub(crate) child: Child,
    pub(crate) stdin: Option<ChildStdin>,
    printed_rx: mpsc::Receiver<(&'static str, Printed)>,
    /// Every line collected so far, as `stdout: …` or `stderr: …`.
    pub(crate) seen: Vec<String>,
    /// For each stream, how far into `seen` [`ChildGuard::wait_for`] has read.
    cursors: HashMap<String, usize>,
    /// For each stream, the text printed after its last line break.
    unfinished: HashMap<&'static str, String>,
}

impl ChildGuard {
    /// Starts `command` with piped stdin, stdout and stderr.
    pub(crate) fn spawn(mut command: Command) -> ChildGuard {
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start the child process");
        let (printed_tx, printed_rx) = mpsc::channel();
        let stdout = child.stdout.take().expect("piped stdout");
        let stderr = child.stderr.take().expect("piped stderr");
        forward_output("stdout", stdout, printed_tx.clone());
        forward_output("stderr", stderr, printed_tx);
        let stdin = child.stdin.take();
        ChildGuard {
            child,
            stdin,
            printed_rx,
            seen: Vec::new(),
            cursors: HashMap::new(),
            unfinished: HashMap::new(),
        }
    }

    /// Takes in what the output threads passed on, waiting until `deadline`
    /// for it; false if nothing came (or both outputs have ended).
    fn collect(&mut self, deadline: Instant) -> bool {
        let left = deadline.saturating_duration_since(Instant::now());
        match self.printed_rx.recv_timeout(left) {
            Ok((from, Printed::Line(line))) => {
                self.unfinished.remove(from);
                self.seen.push(format!("{from}: {line}"));
                true
            }
            Ok((from, Printed::Unfinished(text))) => {
                self.unfinished.insert(from, text);
                true
            }
            Err(_) => false,
        }
    }

    /// Waits for a line on `stream` ("stdout" or "stderr") containing `needle`.
    ///
    /// Each stream is read in order, independently: the two outputs arrive
    /// through separate threads, so a line on one may be collected before an
    /// earlier-printed line on the other. Waiting on stdout never uses up a
    /// stderr line a later wait will look for.
    pub(crate) fn wait_for(&mut self, stream: &str, needle: &str) -> String {
        let prefix = format!("{stream}: ");
        let deadline = Instant::now() + TIMEOUT;
        let mut next = *self.cursors.get(stream).unwrap_or(&0);
        loop {
            while next < self.seen.len() {
                let entry = &self.seen[next];
                next += 1;
                if let Some(line) = entry.strip_prefix(&prefix) {
                    if line.contains(needle) {
                        let line = line.to_string();
                        self.cursors.insert(stream.to_string(), next);
                        return line;
                    }
                }
            }
            if !self.collect(deadline) {
                panic!(
                    "never saw {needle:?} on {stream}; the child printed: {:#?}",
                    self.seen
                );
            }
        }
    }

    /// Waits until `needle` is on `stream`, printed either as part of a line
    /// (one [`ChildGuard::wait_for`] has not passed yet) or as text not yet
    /// followed by a line break. Shows that the child printed it by now,
    /// without waiting for its output to end; a child that holds text back
    /// until then makes this time out.
    pub(crate) fn wait_for_printed(&mut self, stream: &str, needle: &str) {
        let prefix = format!("{stream}: ");
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let mut next = *self.cursors.get(stream).unwrap_or(&0);
            while next < self.seen.len() {
                let entry = &self.seen[next];
                next += 1;
                if entry
                    .strip_prefix(&prefix)
                    .is_some_and(|line| line.contains(needle))
                {
                    self.cursors.insert(stream.to_string(), next);
                    return;
                }
            }
            if self
                .unfinished
                .get(stream)
                .is_some_and(|text| text.contains(needle))
            {
                return;
            }
            if !self.collect(deadline) {
                panic!(
                    "never saw {needle:?} printed on {stream}; the child printed: {:#?}, \
                     then {:?}",
                    self.seen,
                    self.unfinished.get(stream)
                );
            }
        }
    }

    /// Everything printed until the child closes both outputs (or TIMEOUT).
    pub(crate) fn rest(&mut self) -> Vec<String> {
        let deadline = Instant::now() + TIMEOUT;
        while self.collect(deadline) {}
        self.seen.clone()
    }

    /// Waits for the child to exit, with a timeout; returns its exit code.
    pub(crate) fn exit_code(&mut self) -> Option<i32> {
        // std has no wait with a timeout: ask if it has exited.
        let child = &mut self.child;
        let exited = poll(TIMEOUT, Duration::from_millis(10), || {
            child.try_wait().expect("poll the child").ok_or(())
        });
        match exited {
            Ok(status) => status.code(),
            Err(()) => panic!("child did not exit; it printed {:#?}", self.rest()),
        }
    }

    /// Writes to the child's stdin.
    pub(crate) fn type_line(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().expect("stdin still open");
        writeln!(stdin, "{line}").expect("write to the child's stdin");
    }

    /// Closes the child's stdin (Ctrl-D).
    pub(crate) fn close_stdin(&mut self) {
        self.stdin = None;
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        // A test that failed elsewhere (a client's assertion) still shows
        // what the child printed; the harness shows this only on failure.
        if thread::panicking() {
            let deadline = Instant::now() + Duration::from_secs(1);
            while self.collect(deadline) {}
            eprintln!("the child printed: {:#?}", self.seen);
        }
    }
}

/// Passes on what `source` prints: each whole line, and after every read
/// that ends mid-line, the unfinished text so far.
fn forward_output(
    name: &'static str,
    mut source: impl Read + Send + 'static,
    printed_tx: mpsc::Sender<(&'static str, Printed)>,
) {
    thread::spawn(move || {
        let text = |bytes: &[u8]| {
            let bytes = bytes.strip_suffix(b"\r").unwrap_or(bytes);
            String::from_utf8_lossy(bytes).into_owned()
        };
        let mut pending: Vec<u8> = Vec::new();
        let mut chunk = [0u8; 4096];
        loop {
            let n = match source.read(&mut chunk) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => break,
            };
            pending.extend_from_slice(&chunk[..n]);
            while let Some(end) = pending.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = pending.drain(..=end).collect();
                let line = Printed::Line(text(&line[..end]));
                if printed_tx.send((name, line)).is_err() {
                    return;
                }
            }
            if !pending.is_empty() {
                let so_far = Printed::Unfinished(String::from_utf8_lossy(&pending).into_owned());
                if printed_tx.send((name, so_far)).is_err() {
                    return;
                }
            }
        }
        if !pending.is_empty() {
            let _ = printed_tx.send((name, Printed::Line(text(&pending))));
        }
    });
}
