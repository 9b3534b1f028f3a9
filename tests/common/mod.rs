//! Test helpers: an in-process server on port 0, a line client whose every read
//! has a timeout, and a guard for child processes that kills them on drop.
//! Each test file uses a different subset, hence the `dead_code` allowance.
#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use chatroom::{Server, ServerConfig, ShutdownHandle};

mod queues;

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

/// What one read of a [`Client`]'s socket brought.
#[derive(Debug, PartialEq, Eq)]
enum Got {
    /// Some bytes, now at the end of the client's buffer.
    Bytes,
    /// Nothing before the deadline.
    TimedOut,
    /// The server closed the connection (or reset it).
    Closed,
}

/// The one raw chat client of the test suite: it reads bytes into a buffer of
/// its own and takes whole lines (or raw text) from it, every read with a
/// deadline, and keeps each line it took so a failing assertion can print it.
#[derive(Debug)]
pub(crate) struct Client {
    /// The name from the welcome line: the client's address as the server
    /// sees it (`IP:PORT`). Empty for [`Client::connect_raw`].
    pub(crate) name: String,
    pub(crate) stream: TcpStream,
    /// Received and not yet taken, as a line or as raw text.
    buf: Vec<u8>,
    /// True once a read found the connection closed.
    closed: bool,
    /// Every line taken so far, oldest first.
    pub(crate) history: Vec<String>,
}

impl Client {
    /// Connects and reads the welcome line, taking the name from it. Once this
    /// returns, the server has registered the client.
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
            .set_write_timeout(Some(TIMEOUT))
            .expect("set a write timeout");
        // Each write leaves at once, as with the real client: a test that
        // writes a line in pieces means pieces.
        stream.set_nodelay(true).expect("set TCP_NODELAY");
        Client {
            name: String::new(),
            stream,
            buf: Vec::new(),
            closed: false,
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

    /// One read into the buffer, waiting at most until `deadline`.
    fn read_some(&mut self, deadline: Instant) -> Got {
        let mut chunk = [0u8; 64 * 1024];
        loop {
            if self.closed {
                return Got::Closed;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Got::TimedOut;
            }
            // `left` is not zero, which set_read_timeout would take as "forever".
            self.stream
                .set_read_timeout(Some(left))
                .expect("set a read timeout");
            match self.stream.read(&mut chunk) {
                Ok(0) => self.closed = true,
                Ok(n) => {
                    self.buf.extend_from_slice(&chunk[..n]);
                    return Got::Bytes;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if is_timeout(&e) => return Got::TimedOut,
                Err(e) if e.kind() == io::ErrorKind::ConnectionReset => self.closed = true,
                Err(e) => panic!(
                    "{}: read failed: {e}; history: {:#?}",
                    self.name, self.history
                ),
            }
        }
    }

    /// Takes the next whole line out of the buffer, if there is one.
    fn take_line(&mut self) -> Option<String> {
        let end = self.buf.iter().position(|&b| b == b'\n')?;
        let raw: Vec<u8> = self.buf.drain(..=end).collect();
        let line = String::from_utf8(raw[..end].to_vec()).expect("the server sends UTF-8");
        self.history.push(line.clone());
        Some(line)
    }

    /// The next line, or the reason there is none by `deadline`.
    fn next_line(&mut self, deadline: Instant) -> Result<String, Got> {
        loop {
            if let Some(line) = self.take_line() {
                return Ok(line);
            }
            match self.read_some(deadline) {
                Got::Bytes => {}
                other => return Err(other),
            }
        }
    }

    /// The next line, without its `\n`; panics after [`TIMEOUT`].
    pub(crate) fn line(&mut self) -> String {
        match self.try_line(TIMEOUT) {
            Some(line) => line,
            None => panic!(
                "{}: no line within {TIMEOUT:?} (closed: {}); received so far: {:#?}",
                self.name, self.closed, self.history
            ),
        }
    }

    /// The next line, or `None` if the connection closed or `wait` passed.
    pub(crate) fn try_line(&mut self, wait: Duration) -> Option<String> {
        self.next_line(Instant::now() + wait).ok()
    }

    /// The next line, or `None` if none is complete by `deadline`. For loops
    /// that check something else between lines; the server closing the
    /// connection is a test failure here.
    pub(crate) fn line_before(&mut self, deadline: Instant) -> Option<String> {
        match self.next_line(deadline) {
            Ok(line) => Some(line),
            Err(Got::Closed) => panic!(
                "{}: the server closed the connection; history: {:#?}, unfinished: {:?}",
                self.name,
                self.history,
                String::from_utf8_lossy(&self.buf)
            ),
            Err(_) => None,
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
        let deadline = Instant::now() + TIMEOUT;
        loop {
            match self.next_line(deadline) {
                Ok(line) if wanted(&line) => return line,
                Ok(_) => {}
                Err(why) => panic!(
                    "{}: never got {what} ({why:?}); received: {:#?}, unfinished: {:?}",
                    self.name,
                    self.history,
                    String::from_utf8_lossy(&self.buf)
                ),
            }
        }
    }

    /// Reads until the bytes received and not yet taken contain `wanted`,
    /// then takes and returns all of them, line breaks and all. For the
    /// chunk-framing demo mode, whose output is not made of lines.
    pub(crate) fn raw_until(&mut self, wanted: &str) -> String {
        let deadline = Instant::now() + TIMEOUT;
        while !String::from_utf8_lossy(&self.buf).contains(wanted) {
            let read = self.read_some(deadline);
            assert_eq!(
                read,
                Got::Bytes,
                "{}: never received {wanted:?}; got {:?}",
                self.name,
                String::from_utf8_lossy(&self.buf)
            );
        }
        String::from_utf8_lossy(&std::mem::take(&mut self.buf)).into_owned()
    }

    /// Asserts the server closes the connection (after any lines already sent).
    pub(crate) fn expect_closed(&mut self) {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            match self.read_some(deadline) {
                Got::Closed => return,
                Got::Bytes => {}
                Got::TimedOut => panic!(
                    "{}: connection not closed within {TIMEOUT:?}; history {:#?}, then {:?}",
                    self.name,
                    self.history,
                    String::from_utf8_lossy(&self.buf)
                ),
            }
        }
    }

    /// Asks `/who` and waits for the answer: the server still serves this client.
    pub(crate) fn still_served(&mut self) {
        self.send("/who");
        self.wait_for("the /who answer", |l| l.starts_with("* online"));
    }

    /// Half-closes the sending side, as `client` does when stdin ends.
    pub(crate) fn finish_sending(&self) {
        self.stream
            .shutdown(Shutdown::Write)
            .expect("half-close the socket");
    }

    /// Waits until the server has read every byte this client sent (Linux:
    /// see [`queues`]). A test that writes a line in pieces calls this after
    /// each piece, so the server's next read cannot hold the next piece too:
    /// the split really happens, instead of being likely.
    pub(crate) fn until_server_has_read_all(&self) {
        queues::until_server_has_read_all(&self.stream);
    }

    /// Closes the connection with a reset rather than a FIN: waits until bytes
    /// from the server sit unread in this socket's kernel buffer, then closes
    /// it, and a socket closed with unread data is reset by the kernel.
    pub(crate) fn reset(self) {
        let unread = close_with_reset(self.stream);
        assert!(!unread.is_empty());
    }
}

/// Closes `stream` with a reset (see [`Client::reset`]), and returns the
/// start of what was left unread. Panics if no byte arrives within [`TIMEOUT`].
pub(crate) fn close_with_reset(stream: TcpStream) -> String {
    stream
        .set_read_timeout(Some(TIMEOUT))
        .expect("set a read timeout");
    let mut start = [0u8; 64];
    // `peek` waits for data without taking it out of the kernel's buffer.
    match stream.peek(&mut start) {
        Ok(n) if n > 0 => {
            drop(stream);
            String::from_utf8_lossy(&start[..n]).into_owned()
        }
        other => panic!("nothing unread to make the close a reset: {other:?}"),
    }
}

/// True for the errors a socket timeout produces (which one depends on the OS).
pub(crate) fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

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
        let deadline = Instant::now() + TIMEOUT;
        loop {
            if let Some(status) = self.child.try_wait().expect("poll the child") {
                return status.code();
            }
            if Instant::now() > deadline {
                panic!("child did not exit; it printed {:#?}", self.rest());
            }
            // A poll interval: std has no wait with a timeout.
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

/// The server binary on a free port (newcomers announced at once) with two
/// clients joined, the second renamed `bob`; for driving the console.
pub(crate) fn console_server_with_bob() -> (ChildGuard, SocketAddr, Client, Client) {
    let (server, addr) = server_binary(&["--join-grace-ms", "0"]);
    let mut first = Client::connect(addr);
    let mut bob = Client::connect(addr);
    first.expect(&format!("* {} joined", bob.name));
    let address = bob.name.clone();
    bob.send("/nick bob");
    bob.expect("* you are now bob");
    first.expect(&format!("* {address} is now known as bob"));
    bob.name = "bob".to_string();
    (server, addr, first, bob)
}

/// Calls `attempt` until it returns `Some`, pausing `pace` between tries (a
/// retry pace for things that happen "a moment later", such as a place given
/// back when a thread ends; not synchronisation); panics after `within`.
pub(crate) fn retry<T>(
    what: &str,
    within: Duration,
    pace: Duration,
    mut attempt: impl FnMut() -> Option<T>,
) -> T {
    let deadline = Instant::now() + within;
    loop {
        if let Some(done) = attempt() {
            return done;
        }
        assert!(Instant::now() < deadline, "{what}: not within {within:?}");
        thread::sleep(pace);
    }
}
