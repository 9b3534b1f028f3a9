//! The server under test: the real `server` binary, started through `sh`
//! so that `ulimit -n` can lower its descriptor limit before it runs, with
//! its console on a pipe the soak writes to, its log copied to a file (and
//! searched for panics) by a thread, and stopped as a service manager
//! would, with SIGTERM. Killed if the soak ends any other way.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Write};
use std::net::SocketAddrV4;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crossbeam_channel::{bounded, unbounded, Receiver, Sender};

/// How long the server may take to say where it listens.
const START_TIMEOUT: Duration = Duration::from_secs(20);
/// How long it may take to stop after SIGTERM: its own deadlines (the
/// write timeout, 2 s, the linger) add up to under 5 s.
const STOP_TIMEOUT: Duration = Duration::from_secs(15);

/// How to start it.
#[derive(Debug, Clone)]
pub(crate) struct Launch {
    /// The binary (`target/release/server`).
    pub(crate) binary: PathBuf,
    /// Its flags, besides `--port 0` and `--dashboard 0`.
    pub(crate) flags: Vec<String>,
    /// `ulimit -n` for it.
    pub(crate) fd_limit: usize,
    /// Where its log goes.
    pub(crate) log: PathBuf,
}

/// The running server.
#[derive(Debug)]
pub(crate) struct Server {
    child: Option<Child>,
    pub(crate) pid: u32,
    pub(crate) chat: SocketAddrV4,
    pub(crate) dashboard: SocketAddrV4,
    log_thread: Option<JoinHandle<LogSummary>>,
}

/// The console: the server's standard input, and its answers.
#[derive(Debug)]
pub(crate) struct ConsolePipe {
    pub(crate) input: ChildStdin,
    /// Each line the server printed on standard output.
    pub(crate) answers: Receiver<String>,
}

/// What the server's log (standard error) held.
#[derive(Debug, Default, Clone)]
pub(crate) struct LogSummary {
    pub(crate) lines: usize,
    /// Lines that tell of a panic, with the few after each.
    pub(crate) panics: Vec<String>,
    /// Lines that tell of an error worth a look (`accept failed`, `cannot`).
    pub(crate) notable: Vec<String>,
}

/// How it stopped.
#[derive(Debug, Clone)]
pub(crate) struct Stopped {
    /// Its exit status, if it exited by itself in time.
    pub(crate) status: Option<ExitStatus>,
    pub(crate) took: Duration,
    pub(crate) log: LogSummary,
}

impl Server {
    /// Starts the server and waits for the lines that give its addresses.
    ///
    /// # Errors
    /// It could not be started, or did not say where it listens in time.
    pub(crate) fn start(launch: &Launch) -> io::Result<(Server, ConsolePipe)> {
        let mut child = Command::new("sh")
            .arg("-c")
            .arg("ulimit -n \"$0\" && exec \"$@\"")
            .arg(launch.fd_limit.to_string())
            .arg(&launch.binary)
            .args(["--host", "127.0.0.1", "--port", "0", "--dashboard", "0"])
            .args(&launch.flags)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()?;
        let pid = child.id();
        let input = child.stdin.take().expect("stdin was piped");
        let stdout = child.stdout.take().expect("stdout was piped");
        let stderr = child.stderr.take().expect("stderr was piped");
        let (addrs_tx, addrs_rx) = bounded::<(String, String)>(4);
        let log = File::create(&launch.log)?;
        let log_thread = thread::Builder::new()
            .name("server-log".to_string())
            .spawn(move || copy_log(stderr, log, &addrs_tx))?;
        let (answers_tx, answers) = unbounded();
        thread::Builder::new()
            .name("server-stdout".to_string())
            .spawn(move || {
                for line in BufReader::new(stdout).lines() {
                    let Ok(line) = line else { break };
                    if answers_tx.send(line).is_err() {
                        break;
                    }
                }
            })?;
        let mut server = Server {
            child: Some(child),
            pid,
            chat: SocketAddrV4::new([127, 0, 0, 1].into(), 0),
            dashboard: SocketAddrV4::new([127, 0, 0, 1].into(), 0),
            log_thread: Some(log_thread),
        };
        let deadline = Instant::now() + START_TIMEOUT;
        let (mut chat, mut dashboard) = (None, None);
        while chat.is_none() || dashboard.is_none() {
            match addrs_rx.recv_deadline(deadline) {
                Ok((what, addr)) if what == "chat" => chat = addr.parse().ok(),
                Ok((_, addr)) => dashboard = addr.parse().ok(),
                Err(_) => {
                    return Err(io::Error::other(format!(
                        "the server did not say where it listens (see {})",
                        launch.log.display()
                    )))
                }
            }
        }
        server.chat = chat.expect("checked above");
        server.dashboard = dashboard.expect("checked above");
        Ok((server, ConsolePipe { input, answers }))
    }

    /// Sends SIGTERM and waits for the server to exit (killing it if it
    /// does not in time), then returns how it went and what its log held.
    pub(crate) fn stop(mut self) -> Stopped {
        let asked = Instant::now();
        let mut status = None;
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-TERM", &self.pid.to_string()])
                .status();
            while asked.elapsed() < STOP_TIMEOUT {
                if let Ok(Some(exited)) = child.try_wait() {
                    status = Some(exited);
                    break;
                }
                thread::sleep(Duration::from_millis(20));
            }
            if status.is_none() {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
        let took = asked.elapsed();
        let log = self
            .log_thread
            .take()
            .and_then(|thread| thread.join().ok())
            .unwrap_or_default();
        Stopped { status, took, log }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Copies the server's log to `file`, hands on the addresses it listens
/// on, and keeps every panic and notable line.
fn copy_log(stderr: impl io::Read, file: File, addrs_tx: &Sender<(String, String)>) -> LogSummary {
    let mut file = io::BufWriter::new(file);
    let mut summary = LogSummary::default();
    let mut after_panic = 0;
    for line in BufReader::new(stderr).lines() {
        let Ok(line) = line else { break };
        let _ = writeln!(file, "{line}");
        summary.lines += 1;
        if let Some(addr) = line.split("listening on ").nth(1) {
            let _ = addrs_tx.try_send(("chat".to_string(), addr.trim().to_string()));
        }
        if let Some(url) = line.split("dashboard on http://").nth(1) {
            let addr = url.trim().trim_end_matches('/').to_string();
            let _ = addrs_tx.try_send(("dashboard".to_string(), addr));
        }
        if line.contains("panicked") {
            after_panic = 4;
        }
        if after_panic > 0 {
            after_panic -= 1;
            if summary.panics.len() < 40 {
                summary.panics.push(line);
            }
        } else if (line.contains("accept failed") || line.contains("cannot"))
            && summary.notable.len() < 20
        {
            summary.notable.push(line);
        }
    }
    let _ = file.flush();
    summary
}

/// The release binary next to this program (`target/release/examples/soak`
/// sits two folders below `target/release/server`).
pub(crate) fn default_binary() -> PathBuf {
    let exe = std::env::current_exe().unwrap_or_default();
    exe.parent()
        .and_then(Path::parent)
        .map(|dir| dir.join("server"))
        .unwrap_or_else(|| PathBuf::from("target/release/server"))
}
