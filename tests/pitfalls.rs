//! The demo modes really are broken, and the defaults really are not: chunk
//! framing splits and merges messages, and without a write timeout one client
//! that stops reading freezes the room. Real loopback sockets, in-process servers.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use chatroom::{Framing, ServerConfig};

mod common;
use common::TestServer;

/// Every read waits at most this long, so a test loop can check its deadline.
const READ_POLL: Duration = Duration::from_millis(100);
/// Generous: a line the server sends at once arrives well within this.
const ARRIVES: Duration = Duration::from_secs(5);

/// A test client: raw bytes in, lines out, every read with a timeout.
#[derive(Debug)]
struct Client {
    stream: TcpStream,
    /// Received and not yet taken.
    buf: Vec<u8>,
    /// Everything taken so far, for failure messages.
    seen: Vec<String>,
}

impl Client {
    /// Connects and reads the welcome line, so the server has registered us.
    fn join(server: &TestServer) -> Client {
        let stream = TcpStream::connect(server.addr).expect("connect");
        stream.set_read_timeout(Some(READ_POLL)).expect("timeout");
        stream
            .set_write_timeout(Some(Duration::from_secs(5)))
            .expect("timeout");
        stream.set_nodelay(true).expect("nodelay");
        let mut client = Client {
            stream,
            buf: Vec::new(),
            seen: Vec::new(),
        };
        client.wait_line("the welcome", ARRIVES, |l| l.starts_with("* welcome "));
        client
    }

    /// The name the server gives a client that has not used /nick.
    fn name(&self) -> String {
        self.stream.local_addr().expect("local addr").to_string()
    }

    fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).expect("write");
    }

    /// One read into `buf`; false if nothing came within [`READ_POLL`].
    fn read_some(&mut self) -> bool {
        let mut chunk = [0u8; 64 * 1024];
        match self.stream.read(&mut chunk) {
            Ok(0) => panic!("the server closed the connection; seen: {:?}", self.seen),
            Ok(n) => {
                self.buf.extend_from_slice(&chunk[..n]);
                true
            }
            Err(e) if is_timeout(&e) => false,
            Err(e) => panic!("read failed: {e}; seen: {:?}", self.seen),
        }
    }

    /// The next whole line, or `None` if none is complete by `deadline`.
    fn line_before(&mut self, deadline: Instant) -> Option<String> {
        loop {
            if let Some(pos) = self.buf.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = self.buf.drain(..=pos).collect();
                let line = String::from_utf8_lossy(&line[..pos]).into_owned();
                self.seen.push(line.clone());
                return Some(line);
            }
            if Instant::now() >= deadline {
                return None;
            }
            self.read_some();
        }
    }

    /// Skips lines until one satisfies `wanted`; panics with what was seen
    /// if none does within `timeout`.
    fn wait_line(
        &mut self,
        what: &str,
        timeout: Duration,
        wanted: impl Fn(&str) -> bool,
    ) -> String {
        let deadline = Instant::now() + timeout;
        while let Some(line) = self.line_before(deadline) {
            if wanted(&line) {
                return line;
            }
        }
        panic!(
            "no line like {what} within {timeout:?}; seen: {:?}, unfinished: {:?}",
            self.seen,
            String::from_utf8_lossy(&self.buf)
        );
    }

    /// Reads until the bytes received (not yet taken as lines) contain
    /// `wanted`, then takes and returns all of them.
    fn raw_until(&mut self, wanted: &str, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        while !String::from_utf8_lossy(&self.buf).contains(wanted) {
            assert!(
                Instant::now() < deadline,
                "never received {wanted:?}; got {:?}",
                String::from_utf8_lossy(&self.buf)
            );
            self.read_some();
        }
        String::from_utf8_lossy(&std::mem::take(&mut self.buf)).into_owned()
    }
}

fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

fn chunk_framing() -> ServerConfig {
    ServerConfig {
        framing: Framing::Chunks,
        ..common::test_config()
    }
}

/// An observer and a sender, with the observer past the sender's join notice.
fn observer_and_sender(server: &TestServer) -> (Client, Client, String) {
    let mut observer = Client::join(server);
    let sender = Client::join(server);
    let name = sender.name();
    let joined = format!("* {name} joined");
    observer.wait_line(&joined, ARRIVES, |l| l == joined);
    (observer, sender, name)
}

/// In `--framing chunks`, one line written in two parts reaches the others as
/// two `> NAME:` pieces: the server relays each read as it comes.
#[test]
fn chunk_framing_relays_a_line_written_in_two_parts_as_two_pieces() {
    let server = TestServer::from_config(chunk_framing());
    let (mut observer, mut sender, name) = observer_and_sender(&server);
    sender.send(b"hel");
    // Wait until the first part has been relayed: then the second part
    // cannot be read together with it.
    let first = observer.raw_until(&format!("> {name}: hel"), ARRIVES);
    sender.send(b"lo\n");
    let second = observer.raw_until("lo\n", ARRIVES);
    assert_eq!(
        format!("{first}{second}"),
        format!("> {name}: hel> {name}: lo\n")
    );
}

/// In `--framing chunks`, two lines in one write reach the others as one piece:
/// the second line arrives with no sender at all.
#[test]
fn chunk_framing_relays_two_lines_in_one_write_as_one_piece() {
    let server = TestServer::from_config(chunk_framing());
    let (mut observer, mut sender, name) = observer_and_sender(&server);
    sender.send(b"one\ntwo\n");
    let merged = observer.raw_until("two\n", ARRIVES);
    assert_eq!(merged, format!("> {name}: one\ntwo\n"));
}

/// In `--framing chunks`, commands still work: only chat is relayed raw.
#[test]
fn chunk_framing_keeps_commands_working() {
    let server = TestServer::from_config(chunk_framing());
    let (mut observer, mut sender, name) = observer_and_sender(&server);
    sender.send(b"/nick chunky\n");
    observer.raw_until("chunky\n", ARRIVES);
    sender.send(b"/who\n");
    let who = format!("* online (2): {}, chunky\n", observer.name());
    assert!(sender.raw_until(&who, ARRIVES).ends_with(&who));
    sender.send(b"raw");
    assert_eq!(observer.raw_until("raw", ARRIVES), "> chunky: raw");
    let _ = name;
}

/// With the default line framing, the same split and merged writes arrive as
/// whole lines, each on its own with its sender's name.
#[test]
fn line_framing_relays_split_and_merged_writes_as_whole_lines() {
    let server = TestServer::from_config(common::test_config());
    let (mut observer, mut sender, name) = observer_and_sender(&server);
    sender.send(b"hel");
    // The one sleep used to create a split: the server reads "hel" on its own.
    thread::sleep(Duration::from_millis(200));
    sender.send(b"lo\none\ntwo\n");
    for text in ["hello", "one", "two"] {
        let line = observer.wait_line(text, ARRIVES, |_| true);
        assert_eq!(
            line,
            format!("> {name}: {text}"),
            "seen: {:?}",
            observer.seen
        );
    }
}

/// Bytes per flood line, newline included: big lines fill buffers fast.
const FLOOD_LINE: usize = 1000;
/// Most a flooder sends; a few MB fill a non-reader's loopback buffers.
const FLOOD_BUDGET: u64 = 64 * 1024 * 1024;

/// A client writing numbered lines (`flood N fff...`, all [`FLOOD_LINE`]
/// bytes long) as fast as TCP lets it, on its own thread, until told to stop
/// or its budget is spent.
#[derive(Debug)]
struct Flooder {
    /// Held open until the flooder is dropped: closing a socket with unread
    /// data resets it, and a reset throws away whatever is still in flight.
    _stream: Arc<TcpStream>,
    stop: Arc<AtomicBool>,
    done: Arc<AtomicBool>,
    thread: Option<JoinHandle<u64>>,
}

impl Flooder {
    fn start(client: Client) -> Flooder {
        let stop = Arc::new(AtomicBool::new(false));
        let done = Arc::new(AtomicBool::new(false));
        let (stopped, finished) = (stop.clone(), done.clone());
        let stream = Arc::new(client.stream);
        stream
            .set_write_timeout(Some(Duration::from_millis(200)))
            .expect("timeout");
        let writer = stream.clone();
        let thread = thread::Builder::new()
            .name("flooder".to_string())
            .spawn(move || {
                let lines = flood(&writer, &stopped);
                finished.store(true, Ordering::Release);
                lines
            })
            .expect("the flooder thread starts");
        Flooder {
            _stream: stream,
            stop,
            done,
            thread: Some(thread),
        }
    }

    /// Asks the flooder to stop; it does at the end of its batch, or at once
    /// if the server has stopped reading it. Never blocks.
    fn request_stop(&self) {
        self.stop.store(true, Ordering::Release);
    }

    fn is_done(&self) -> bool {
        self.done.load(Ordering::Acquire)
    }

    /// How many whole lines were sent; call once [`Flooder::is_done`].
    fn lines_sent(&mut self) -> u64 {
        let thread = self.thread.take().expect("asked once");
        thread.join().expect("the flooder does not panic")
    }
}

impl Drop for Flooder {
    fn drop(&mut self) {
        self.request_stop();
    }
}

/// Sends 64-line batches; returns the number of whole lines written. Told to
/// stop, it finishes its batch, unless a write times out (the server is not
/// reading it): then it stops at once, and a cut last line is not counted
/// (the server never relays a line without its newline).
fn flood(stream: &TcpStream, stop: &AtomicBool) -> u64 {
    let mut written = 0u64;
    let mut next = 0u64;
    let mut batch = Vec::with_capacity(64 * FLOOD_LINE);
    while !stop.load(Ordering::Acquire) && written < FLOOD_BUDGET {
        batch.clear();
        for _ in 0..64 {
            let head = format!("flood {next} ");
            batch.extend_from_slice(head.as_bytes());
            batch.resize(batch.len() + FLOOD_LINE - head.len() - 1, b'f');
            batch.push(b'\n');
            next += 1;
        }
        let mut offset = 0;
        while offset < batch.len() {
            match (&*stream).write(&batch[offset..]) {
                Ok(n) => {
                    offset += n;
                    written += n as u64;
                }
                Err(e) if is_timeout(&e) || e.kind() == io::ErrorKind::Interrupted => {
                    if stop.load(Ordering::Acquire) {
                        return written / FLOOD_LINE as u64;
                    }
                }
                Err(e) => panic!("flood write failed: {e}"),
            }
        }
    }
    written / FLOOD_LINE as u64
}

/// The number in `> NAME: flood N fff...`, if `line` is a flood line from `name`.
fn flood_number(line: &str, name: &str) -> Option<u64> {
    line.strip_prefix(&format!("> {name}: flood "))?
        .split(' ')
        .next()?
        .parse()
        .ok()
}

/// An observer, a client that never reads, and a flooder, all joined and
/// seen joining by the observer.
fn observer_sleeper_flooder(server: &TestServer) -> (Client, Client, Client) {
    let mut observer = Client::join(server);
    let sleeper = Client::join(server);
    let flooder = Client::join(server);
    for name in [sleeper.name(), flooder.name()] {
        let joined = format!("* {name} joined");
        observer.wait_line(&joined, ARRIVES, |l| l == joined);
    }
    (observer, sleeper, flooder)
}

/// A server without a write timeout, with an observer, a client that never
/// reads, and a flooder already flooding.
fn frozen_room_setup() -> (TestServer, Client, Client, Flooder, String) {
    let server = TestServer::from_config(ServerConfig {
        write_timeout: None,
        rate_limit: 0,
        ..common::test_config()
    });
    let (observer, sleeper, flooder) = observer_sleeper_flooder(&server);
    let name = flooder.name();
    (server, observer, sleeper, Flooder::start(flooder), name)
}

/// Reads the flood until the observer has heard some of it and then nothing
/// for `silence`; returns how many flood lines it heard.
fn wait_for_silence(
    observer: &mut Client,
    name: &str,
    silence: Duration,
    flooder: &Flooder,
) -> u64 {
    let deadline = Instant::now() + Duration::from_secs(30);
    let (mut received, mut last) = (0u64, Instant::now());
    while received == 0 || last.elapsed() < silence {
        assert!(
            Instant::now() < deadline,
            "the room never froze: the observer got {received} flood lines, the flooder done: {}",
            flooder.is_done()
        );
        if let Some(line) = observer.line_before(Instant::now() + READ_POLL) {
            if flood_number(&line, name).is_some() {
                received += 1;
                last = Instant::now();
            }
            // Only the last line is needed for the failure message.
            observer.seen.clear();
        }
    }
    received
}

/// With `--no-write-timeout`, one client that never reads freezes the room
/// once its buffers fill: the observer hears nothing for seconds while the
/// flood is still going (the default would have evicted it within 1 s).
#[test]
fn without_a_write_timeout_a_client_that_never_reads_freezes_the_room() {
    let (_server, mut observer, sleeper, flooder, name) = frozen_room_setup();
    let silence = Duration::from_secs(3);
    let received = wait_for_silence(&mut observer, &name, silence, &flooder);
    assert!(
        !flooder.is_done(),
        "the flood must still be going while the room is silent"
    );
    eprintln!("the observer heard nothing for {silence:?} after {received} flood lines");
    // Unfreeze: a closing non-reader makes the stuck write fail. The flooder
    // gives up at its next timed-out write.
    flooder.request_stop();
    drop(sleeper);
}

/// Even a frozen room (no write timeout, a client that never reads) stops on
/// Ctrl-C: past a deadline the server shuts every socket, which unsticks the
/// broadcaster's blocked write.
#[test]
fn a_frozen_room_still_shuts_down() {
    let (server, mut observer, _sleeper, flooder, name) = frozen_room_setup();
    wait_for_silence(&mut observer, &name, Duration::from_secs(1), &flooder);
    // The deadline is 2 s; allow plenty for a loaded machine.
    assert!(
        server.stop_within(Duration::from_secs(15)),
        "the server did not stop"
    );
}

/// With the default write timeout, the client that never reads is evicted
/// (`too slow`) and the observer gets every flood line, in order.
#[test]
fn with_the_default_write_timeout_a_client_that_never_reads_is_evicted() {
    let server = TestServer::from_config(ServerConfig {
        rate_limit: 0,
        ..common::test_config()
    });
    let (mut observer, sleeper, flooder) = observer_sleeper_flooder(&server);
    let (name, sleeper_name) = (flooder.name(), sleeper.name());
    let mut flooder = Flooder::start(flooder);
    let left = format!("* {sleeper_name} left");
    let deadline = Instant::now() + Duration::from_secs(30);
    let (mut next, mut evicted, mut sent) = (0u64, None, None);
    // Read on while the flooder winds down: an observer that stopped reading
    // would be the next slow client.
    while sent != Some(next) {
        if evicted.is_some() && sent.is_none() && flooder.is_done() {
            sent = Some(flooder.lines_sent());
            continue;
        }
        let Some(line) = observer.line_before(Instant::now() + READ_POLL) else {
            assert!(
                Instant::now() < deadline,
                "stuck after {next} flood lines; evicted: {evicted:?}, sent: {sent:?}"
            );
            continue;
        };
        match flood_number(&line, &name) {
            Some(n) => {
                assert_eq!(n, next, "flood lines lost or out of order");
                next += 1;
            }
            None if line.starts_with(&left) => {
                evicted = Some(line);
                flooder.request_stop();
            }
            None => {}
        }
        observer.seen.clear();
    }
    assert_eq!(evicted, Some(format!("{left} (too slow)")));
    eprintln!("the observer got all {next} flood lines in order");
    drop(sleeper);
}

/// Each demo mode says so in every welcome line; the default server does not.
#[test]
fn each_demo_mode_says_so_in_the_welcome_line() {
    let cases = [
        (common::test_config(), None),
        (chunk_framing(), Some("(demo mode: chunk framing)")),
        (
            ServerConfig {
                write_timeout: None,
                ..common::test_config()
            },
            Some("(demo mode: no write timeout)"),
        ),
        (
            ServerConfig {
                write_timeout: None,
                ..chunk_framing()
            },
            Some("(demo mode: chunk framing, no write timeout)"),
        ),
    ];
    for (config, expected) in cases {
        let server = TestServer::from_config(config);
        let client = Client::join(&server);
        let welcome = &client.seen[0];
        match expected {
            Some(expected) => assert!(welcome.ends_with(expected), "{welcome}"),
            None => assert!(!welcome.contains("demo mode"), "{welcome}"),
        }
    }
}
