//! The demo modes really are broken, and the defaults really are not: chunk
//! framing splits and merges messages, and without a write timeout one client
//! that stops reading freezes the room. Real loopback sockets, in-process servers.

use std::io::{self, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use chatroom::{Framing, ServerConfig};

mod common;
use common::{is_timeout, wait_until, Client, TestServer};

/// How long the flood loops wait for one line before checking their deadline.
const READ_POLL: Duration = Duration::from_millis(100);

fn chunk_framing() -> ServerConfig {
    ServerConfig {
        framing: Framing::Chunks,
        ..common::test_config()
    }
}

/// An observer and a sender, with the observer past the sender's join notice.
fn observer_and_sender(server: &TestServer) -> (Client, Client, String) {
    let mut observer = server.connect();
    let sender = server.connect();
    let name = sender.name.clone();
    let joined = format!("* {name} joined");
    observer.wait_for(&joined, |l| l == joined);
    (observer, sender, name)
}

/// In `--framing chunks`, one line written in two parts reaches the others as
/// two `> NAME:` pieces: the server relays each read as it comes.
#[test]
fn chunk_framing_relays_a_line_written_in_two_parts_as_two_pieces() {
    let server = TestServer::from_config(chunk_framing());
    let (mut observer, mut sender, name) = observer_and_sender(&server);
    sender.send_raw(b"hel");
    // Wait until the first part has been relayed: then the second part
    // cannot be read together with it.
    let first = observer.raw_until(&format!("> {name}: hel"));
    sender.send_raw(b"lo\n");
    let second = observer.raw_until("lo\n");
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
    sender.send_raw(b"one\ntwo\n");
    let merged = observer.raw_until("two\n");
    assert_eq!(merged, format!("> {name}: one\ntwo\n"));
}

/// In `--framing chunks`, commands still work: only chat is relayed raw.
#[test]
fn chunk_framing_keeps_commands_working() {
    let server = TestServer::from_config(chunk_framing());
    let (mut observer, mut sender, name) = observer_and_sender(&server);
    sender.send_raw(b"/nick chunky\n");
    observer.raw_until("chunky\n");
    sender.send_raw(b"/who\n");
    let who = format!("* online (2): {}, chunky\n", observer.name);
    assert!(sender.raw_until(&who).ends_with(&who));
    sender.send_raw(b"raw");
    assert_eq!(observer.raw_until("raw"), "> chunky: raw");
    let _ = name;
}

/// With the default line framing, the same split and merged writes arrive as
/// whole lines, each on its own with its sender's name.
#[test]
fn line_framing_relays_split_and_merged_writes_as_whole_lines() {
    let server = TestServer::from_config(common::test_config());
    let (mut observer, mut sender, name) = observer_and_sender(&server);
    sender.send_raw(b"hel");
    // The split, for certain: the server has read "hel" on its own before
    // the rest is sent.
    sender.until_server_has_read_all();
    sender.send_raw(b"lo\none\ntwo\n");
    for text in ["hello", "one", "two"] {
        let line = observer.wait_for(text, |_| true);
        assert_eq!(
            line,
            format!("> {name}: {text}"),
            "seen: {:?}",
            observer.history
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
    let mut observer = server.connect();
    let sleeper = server.connect();
    let flooder = server.connect();
    for name in [sleeper.name.clone(), flooder.name.clone()] {
        let joined = format!("* {name} joined");
        observer.wait_for(&joined, |l| l == joined);
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
    let name = flooder.name.clone();
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
    let (mut received, mut last) = (0u64, Instant::now());
    // Each try reads for at most READ_POLL, so no pause is needed between.
    wait_until(
        "the room to freeze",
        Duration::from_secs(30),
        Duration::ZERO,
        || {
            if let Some(line) = observer.line_before(Instant::now() + READ_POLL) {
                if flood_number(&line, name).is_some() {
                    received += 1;
                    last = Instant::now();
                }
                // Only the last line is needed for the failure message.
                observer.history.clear();
            }
            if received > 0 && last.elapsed() >= silence {
                Ok(received)
            } else {
                Err(format!(
                    "{received} flood lines so far, the flooder done: {}",
                    flooder.is_done()
                ))
            }
        },
    )
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
    let mut config = ServerConfig {
        rate_limit: 0,
        ..common::test_config()
    };
    common::keep_every_line(&mut config);
    let server = TestServer::from_config(config);
    let (mut observer, sleeper, flooder) = observer_sleeper_flooder(&server);
    let (name, sleeper_name) = (flooder.name.clone(), sleeper.name.clone());
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
        observer.history.clear();
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
        let client = server.connect();
        let welcome = &client.history[0];
        match expected {
            Some(expected) => assert!(welcome.ends_with(expected), "{welcome}"),
            None => assert!(!welcome.contains("demo mode"), "{welcome}"),
        }
    }
}
