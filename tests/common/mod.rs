//! Test helpers: an in-process server on port 0, a line client whose every read
//! has a timeout, and a guard for child processes that kills them on drop.
//! Each test file uses a different subset, hence the `dead_code` allowance.
#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use chatroom::{Server, ServerConfig, ShutdownHandle};

/// Long enough for a loaded 2-core CI machine; a bug fails after this rather than hanging.
pub(crate) const TIMEOUT: Duration = Duration::from_secs(10);

/// The settings tests start from: the server's defaults, except that a
/// newcomer is announced at once (no join grace), so tests that wait for
/// `* NAME joined` do not wait for the grace, and silent newcomers are
/// announced in the order they connected.
pub(crate) fn test_config() -> ServerConfig {
    ServerConfig {
        join_grace: Duration::ZERO,
        ..ServerConfig::default()
    }
}

/// A server running in this process; stopped and joined on drop.
pub(crate) struct TestServer {
    pub(crate) addr: SocketAddr,
    handle: ShutdownHandle,
    thread: Option<JoinHandle<io::Result<()>>>,
    /// The dashboard's address, when the config asked for one.
    pub(crate) dashboard: Option<SocketAddr>,
}

impl TestServer {
    /// A default server (quiet, port 0).
    pub(crate) fn start() -> TestServer {
        TestServer::with(|_| {})
    }

    /// A server with `adjust` applied to [`test_config`].
    pub(crate) fn with(adjust: impl FnOnce(&mut ServerConfig)) -> TestServer {
        let mut config = test_config();
        adjust(&mut config);
        TestServer::from_config(config)
    }

    /// A server with `config`, except that it always listens quietly on a
    /// free port (of `config.host`, which defaults to 127.0.0.1).
    pub(crate) fn from_config(config: ServerConfig) -> TestServer {
        let config = ServerConfig {
            port: 0,
            quiet: true,
            ..config
        };
        let server = Server::bind(config).expect("bind a test server");
        let addr = server.local_addr();
        let handle = server.shutdown_handle();
        let dashboard = server.local_dashboard_addr();
        let thread = thread::Builder::new()
            .name("test-server".into())
            .spawn(move || server.run())
            .expect("spawn the server thread");
        TestServer {
            addr,
            handle,
            thread: Some(thread),
            dashboard,
        }
    }

    /// Connects a client and reads its welcome line.
    pub(crate) fn connect(&self) -> Client {
        Client::connect(self.addr)
    }

    /// Connects `n` clients one by one, each time reading the `joined` notice on
    /// every earlier client, so the room is quiet when this returns.
    pub(crate) fn room(&self, n: usize) -> Vec<Client> {
        let mut clients: Vec<Client> = Vec::new();
        for _ in 0..n {
            let new = self.connect();
            for old in &mut clients {
                old.expect(&format!("* {} joined", new.name));
            }
            clients.push(new);
        }
        clients
    }

    /// Stops the server and waits for it, returning how long that took.
    pub(crate) fn stop(mut self) -> Duration {
        let started = Instant::now();
        self.shutdown_and_join();
        started.elapsed()
    }

    /// Stops the server and waits at most `limit` for `run` to return; true if
    /// it did. A server that does not stop is left running, so the test fails
    /// instead of hanging.
    pub(crate) fn stop_within(mut self, limit: Duration) -> bool {
        self.handle.shutdown();
        let thread = self.thread.take().expect("the server is running");
        let deadline = Instant::now() + limit;
        while !thread.is_finished() {
            if Instant::now() > deadline {
                return false;
            }
            thread::sleep(Duration::from_millis(50));
        }
        thread
            .join()
            .expect("server thread panicked")
            .expect("server run failed");
        true
    }

    fn shutdown_and_join(&mut self) {
        self.handle.shutdown();
        if let Some(thread) = self.thread.take() {
            thread
                .join()
                .expect("server thread panicked")
                .expect("server run failed");
        }
    }

    /// A server with its dashboard on a free loopback port, and `adjust`
    /// applied to [`test_config`].
    pub(crate) fn with_dashboard(adjust: impl FnOnce(&mut ServerConfig)) -> TestServer {
        TestServer::with(|c| {
            c.dashboard = Some("127.0.0.1:0".into());
            adjust(c);
        })
    }

    /// The dashboard's address; panics if the server was started without one.
    pub(crate) fn dashboard_addr(&self) -> SocketAddr {
        self.dashboard
            .expect("a server started with its dashboard on")
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if self.thread.is_some() {
            self.handle.shutdown();
            if let Some(thread) = self.thread.take() {
                let _ = thread.join();
            }
        }
    }
}

/// A chat client for tests: reads whole lines, each with a timeout, and keeps
/// what it received so a failing assertion can print it.
pub(crate) struct Client {
    pub(crate) name: String,
    pub(crate) stream: TcpStream,
    reader: BufReader<TcpStream>,
    pub(crate) history: Vec<String>,
}

impl Client {
    /// Connects and reads the welcome line, taking the name from it.
    pub(crate) fn connect(addr: SocketAddr) -> Client {
        let mut client = Client::connect_raw(addr);
        let welcome = client.line();
        let name = welcome
            .strip_prefix("* welcome ")
            .and_then(|rest| rest.split(", ").next())
            .unwrap_or_else(|| panic!("expected a welcome line, got {welcome:?}"))
            .to_string();
        client.name = name;
        client
    }

    /// Connects without reading anything.
    pub(crate) fn connect_raw(addr: SocketAddr) -> Client {
        Client::from_stream(TcpStream::connect(addr).expect("connect to the test server"))
    }

    /// Wraps a connected socket made elsewhere, without reading anything.
    pub(crate) fn from_stream(stream: TcpStream) -> Client {
        stream
            .set_read_timeout(Some(TIMEOUT))
            .expect("set a read timeout");
        stream
            .set_write_timeout(Some(TIMEOUT))
            .expect("set a write timeout");
        let reader = BufReader::new(stream.try_clone().expect("clone the stream"));
        Client {
            name: String::new(),
            stream,
            reader,
            history: Vec::new(),
        }
    }

    /// Sends `text` and a newline.
    pub(crate) fn send(&mut self, text: &str) {
        self.send_raw(format!("{text}\n").as_bytes());
    }

    /// Sends bytes exactly as given.
    pub(crate) fn send_raw(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).expect("write to the server");
    }

    /// The next line, without its `\n`; panics after [`TIMEOUT`].
    pub(crate) fn line(&mut self) -> String {
        match self.try_line(TIMEOUT) {
            Some(line) => line,
            None => panic!(
                "{}: no line within {TIMEOUT:?}; received so far: {:#?}",
                self.name, self.history
            ),
        }
    }

    /// The next line, or `None` if the connection closed or `wait` passed.
    pub(crate) fn try_line(&mut self, wait: Duration) -> Option<String> {
        self.reader
            .get_ref()
            .set_read_timeout(Some(wait))
            .expect("set a read timeout");
        let mut raw = Vec::new();
        let result = self.reader.read_until(b'\n', &mut raw);
        let _ = self.reader.get_ref().set_read_timeout(Some(TIMEOUT));
        match result {
            Ok(_) if raw.ends_with(b"\n") => {
                raw.pop();
                let line = String::from_utf8(raw).expect("the server sends UTF-8");
                self.history.push(line.clone());
                Some(line)
            }
            _ => None,
        }
    }

    /// Asserts the next line is exactly `want`.
    pub(crate) fn expect(&mut self, want: &str) {
        let got = self.line();
        assert_eq!(
            got, want,
            "{}: unexpected line; history: {:#?}",
            self.name, self.history
        );
    }

    /// Reads lines until one satisfies `wanted`, and returns it.
    pub(crate) fn wait_for(&mut self, what: &str, wanted: impl Fn(&str) -> bool) -> String {
        loop {
            let line = match self.try_line(TIMEOUT) {
                Some(line) => line,
                None => panic!(
                    "{}: never got {what}; received: {:#?}",
                    self.name, self.history
                ),
            };
            if wanted(&line) {
                return line;
            }
        }
    }

    /// Asserts the server closes the connection (after any lines already sent).
    pub(crate) fn expect_closed(&mut self) {
        let mut rest = Vec::new();
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let mut buf = [0u8; 4096];
            match self.reader.read(&mut buf) {
                Ok(0) => return,
                Ok(n) => rest.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == io::ErrorKind::ConnectionReset => return,
                Err(e) if Instant::now() < deadline && e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => panic!(
                    "{}: connection not closed ({e}); history {:#?}, then {:?}",
                    self.name,
                    self.history,
                    String::from_utf8_lossy(&rest)
                ),
            }
        }
    }

    /// Half-closes the sending side, as `client` does when stdin ends.
    pub(crate) fn finish_sending(&self) {
        self.stream
            .shutdown(Shutdown::Write)
            .expect("half-close the socket");
    }
}

/// A child process that is killed and reaped when dropped; its stderr and
/// stdout are collected line by line so tests can wait for a line and print
/// everything when they fail.
pub(crate) struct ChildGuard {
    pub(crate) child: Child,
    pub(crate) stdin: Option<ChildStdin>,
    lines_rx: mpsc::Receiver<(&'static str, String)>,
    /// Every line collected so far, as `stdout: …` or `stderr: …`.
    pub(crate) seen: Vec<String>,
    /// For each stream, how far into `seen` [`ChildGuard::wait_for`] has read.
    cursors: HashMap<String, usize>,
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
        let (lines_tx, lines_rx) = mpsc::channel();
        let stdout = child.stdout.take().expect("piped stdout");
        let stderr = child.stderr.take().expect("piped stderr");
        forward_lines("stdout", stdout, lines_tx.clone());
        forward_lines("stderr", stderr, lines_tx);
        let stdin = child.stdin.take();
        ChildGuard {
            child,
            stdin,
            lines_rx,
            seen: Vec::new(),
            cursors: HashMap::new(),
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
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines_rx.recv_timeout(left) {
                Ok((from, line)) => self.seen.push(format!("{from}: {line}")),
                Err(_) => panic!(
                    "never saw {needle:?} on {stream}; the child printed: {:#?}",
                    self.seen
                ),
            }
        }
    }

    /// Everything printed until the child closes both outputs (or TIMEOUT).
    pub(crate) fn rest(&mut self) -> Vec<String> {
        let deadline = Instant::now() + TIMEOUT;
        while let Ok((from, line)) = self
            .lines_rx
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
        {
            self.seen.push(format!("{from}: {line}"));
        }
        self.seen.clone()
    }

    /// Waits for the child to exit, with a timeout; returns its exit code.
    pub(crate) fn exit_code(&mut self) -> Option<i32> {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            if let Some(status) = self.child.try_wait().expect("poll the child") {
                return status.code();
            }
            if Instant::now() > deadline {
                panic!("child did not exit; it printed {:#?}", self.rest());
            }
            thread::sleep(Duration::from_millis(10));
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
    }
}

fn forward_lines(
    name: &'static str,
    source: impl Read + Send + 'static,
    lines_tx: mpsc::Sender<(&'static str, String)>,
) {
    thread::spawn(move || {
        for line in BufReader::new(source).lines() {
            let Ok(line) = line else { break };
            if lines_tx.send((name, line)).is_err() {
                break;
            }
        }
    });
}

/// Starts the real `server` binary on a free port and returns it with its address.
pub(crate) fn server_binary(args: &[&str]) -> (ChildGuard, SocketAddr) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_server"));
    command.args(["--port", "0"]).args(args);
    let mut server = ChildGuard::spawn(command);
    let line = server.wait_for("stderr", "listening on ");
    let addr = line
        .rsplit("listening on ")
        .next()
        .and_then(|a| a.trim().parse().ok())
        .unwrap_or_else(|| panic!("no address in {line:?}"));
    (server, addr)
}

/// A tmux server of its own (a socket name no other test uses) with one
/// detached session, 100 columns by 30 rows, running a shell command: a real
/// pseudo-terminal for testing the interactive client. Killed on drop.
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
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let screen = self.screen(colours);
            if wanted(&screen) {
                return screen;
            }
            if Instant::now() > deadline {
                panic!("never saw {what}; the screen shows:\n{screen}");
            }
            thread::sleep(Duration::from_millis(50));
        }
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
