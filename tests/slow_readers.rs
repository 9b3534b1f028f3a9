//! Nobody waits for anybody: clients that stop reading cost the room nothing
//! and are evicted as `too slow`; a slow but steady reader is never evicted,
//! and when it falls further behind than its room keeps it skips ahead, is
//! told how many lines it missed, and gets every other line in order; the
//! room never waits for it, nor does any other room; shutdown still
//! delivers every accepted line to every healthy client. In-process servers,
//! real loopback sockets; timings are only asserted as loose bounds where
//! the behaviour is "does not wait" (the benchmark measures the rest).

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

use chatroom::ServerConfig;

mod common;
use common::{small_buffer_client, Client, TestServer};

/// Bytes per flood line, newline included (the measurement used 190).
const LINE: usize = 190;

/// A flood line: `flood N xxx…`, `LINE` bytes with its newline.
fn flood_line(n: u64) -> Vec<u8> {
    let mut line = format!("flood {n} ").into_bytes();
    line.resize(LINE - 1, b'x');
    line.push(b'\n');
    line
}

/// Sends `count` flood lines as fast as the server takes them, on its own thread.
fn flood(mut sender: TcpStream, count: u64) -> thread::JoinHandle<TcpStream> {
    thread::spawn(move || {
        let mut batch = Vec::with_capacity(64 * LINE);
        for n in 0..count {
            batch.extend_from_slice(&flood_line(n));
            if batch.len() >= 64 * LINE || n + 1 == count {
                if sender.write_all(&batch).is_err() {
                    break;
                }
                batch.clear();
            }
        }
        sender
    })
}

/// The number of a flood line from `name`, if `line` is one.
fn flood_number(line: &str, name: &str) -> Option<u64> {
    let rest = line.strip_prefix(&format!("> {name}: flood "))?;
    rest.split(' ').next()?.parse().ok()
}

/// A server with the rate limit off, so one sender can flood, and a room
/// log that holds the whole flood for the test's observers.
fn unlimited() -> TestServer {
    TestServer::with(|c: &mut ServerConfig| {
        c.rate_limit = 0;
        common::keep_every_line(c);
    })
}

/// Five clients that never read, during a 3.8 MB flood: a healthy observer
/// gets every flood line in order, and each stalled client is evicted as
/// `too slow` once its socket has taken nothing for its patience (three
/// write timeouts, for a client that never sipped), which shows that it
/// really did stall.
#[test]
fn stalled_clients_are_evicted_and_the_observer_misses_nothing() {
    let server = unlimited();
    let mut observer = server.connect();
    let mut stalled = Vec::new();
    for _ in 0..5 {
        let (stream, name) = small_buffer_client(server.addr);
        observer.expect(&format!("* {name} joined"));
        stalled.push((stream, name));
    }
    let flooder = Client::connect(server.addr);
    let flooder_name = flooder.name.clone();
    observer.expect(&format!("* {flooder_name} joined"));
    let count = 20_000;
    let sending = flood(flooder.stream, count);
    let mut next = 0u64;
    let mut evicted = Vec::new();
    while next < count || evicted.len() < stalled.len() {
        let line = observer.line();
        if let Some(n) = flood_number(&line, &flooder_name) {
            assert_eq!(n, next, "flood lines out of order or lost");
            next += 1;
        } else if let Some(name) = line
            .strip_prefix("* ")
            .and_then(|l| l.strip_suffix(" left (too slow)"))
        {
            evicted.push(name.to_string());
        } else {
            panic!("unexpected line {line:?}");
        }
    }
    evicted.sort();
    let mut names: Vec<String> = stalled.iter().map(|(_, n)| n.clone()).collect();
    names.sort();
    assert_eq!(evicted, names, "every stalled client is evicted, once");
    sending.join().expect("the flooder");
}

/// A reader that reads `chunk` bytes every `pause`: far slower than a
/// flood, but steady. Collects the flood numbers it gets and the skip
/// notices among them, until it has seen flood line `last`.
struct SlowReader {
    stream: TcpStream,
    name: String,
    received: Vec<u8>,
    /// (flood number, skip notices seen just before it).
    got: Vec<(u64, Vec<u64>)>,
    skipped: Vec<u64>,
    bytes: usize,
}

impl SlowReader {
    fn new(addr: SocketAddr) -> SlowReader {
        let (stream, name) = small_buffer_client(addr);
        stream
            .set_read_timeout(Some(Duration::from_millis(100)))
            .expect("timeout");
        SlowReader {
            stream,
            name,
            received: Vec::new(),
            got: Vec::new(),
            skipped: Vec::new(),
            bytes: 0,
        }
    }

    /// One slow read, and the lines it completed.
    fn step(&mut self, flooder: &str, chunk: &mut [u8]) {
        match (&self.stream).read(chunk) {
            Ok(0) => panic!(
                "{} was disconnected after {} flood lines",
                self.name,
                self.got.len()
            ),
            Ok(n) => {
                self.bytes += n;
                self.received.extend_from_slice(&chunk[..n]);
            }
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) => {}
            Err(e) => panic!("{}: read failed: {e}", self.name),
        }
        while let Some(end) = self.received.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = self.received.drain(..=end).collect();
            let line = String::from_utf8_lossy(&line[..end]).into_owned();
            if let Some(n) = flood_number(&line, flooder) {
                self.got.push((n, std::mem::take(&mut self.skipped)));
            } else if let Some(count) = line
                .strip_prefix("* ")
                .and_then(|l| l.strip_suffix(" lines skipped: you fell behind"))
            {
                self.skipped.push(count.parse().expect("a count"));
            } else {
                assert!(!line.contains("left"), "{}: unexpected {line:?}", self.name);
            }
        }
    }
}

/// More than a kernel can hold for one peer, plus the room's log: a flood
/// of this many lines leaves a slow reader behind the log's tail.
fn lines_beyond_the_kernel() -> u64 {
    ((kernel_send_buffer_max() + 4 * 1024 * 1024) / LINE) as u64
}

/// A slow but steady reader (about 3 MB/s through a 4 KiB receive buffer)
/// during a flood bigger than the kernel's buffers and the room's log (the
/// smallest log the flags allow): it is never evicted, it skips ahead when
/// the log has dropped what it had not read, each skip notice counts
/// exactly the flood lines missing at that point, and every line it does
/// get is in order. The healthy observer gets the whole flood, and gets it
/// while the slow reader is still far behind: the room did not wait.
#[test]
fn a_slow_reader_skips_ahead_is_told_how_many_and_is_never_evicted() {
    let server = TestServer::with(|c: &mut ServerConfig| {
        c.rate_limit = 0;
        c.room_log_bytes = chatroom::config::MIN_ROOM_LOG_BYTES;
    });
    let mut observer = server.connect();
    let mut slow = SlowReader::new(server.addr);
    observer.expect(&format!("* {} joined", slow.name));
    let flooder = Client::connect(server.addr);
    let flooder_name = flooder.name.clone();
    observer.expect(&format!("* {flooder_name} joined"));
    let count = lines_beyond_the_kernel();
    let sending = flood(flooder.stream.try_clone().expect("clone"), count);
    let watching = {
        let flooder_name = flooder_name.clone();
        thread::spawn(move || {
            for next in 0..count {
                let line = observer.line();
                assert_eq!(flood_number(&line, &flooder_name), Some(next), "{line}");
            }
            observer
        })
    };
    let mut chunk = [0u8; 16 * 1024];
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut slow_bytes_when_observer_done = None;
    while slow.got.last().map(|(n, _)| *n) != Some(count - 1) {
        assert!(
            Instant::now() < deadline,
            "the slow reader got {} lines",
            slow.got.len()
        );
        slow.step(&flooder_name, &mut chunk);
        if slow_bytes_when_observer_done.is_none() && watching.is_finished() {
            slow_bytes_when_observer_done = Some(slow.bytes);
        }
        thread::sleep(Duration::from_millis(5));
    }
    let mut observer = watching.join().expect("the observer got the whole flood");
    sending.join().expect("the flooder");
    let mut previous: Option<u64> = None;
    let mut skips = 0;
    for (n, skipped) in &slow.got {
        let missed: u64 = skipped.iter().sum();
        skips += skipped.len();
        let expected = previous.map_or(0, |p| p + 1) + missed;
        assert_eq!(*n, expected, "after {previous:?}, skipped {skipped:?}");
        previous = Some(*n);
    }
    assert!(skips > 0, "the slow reader never fell off the log");
    let flood_bytes = count as usize * LINE;
    if let Some(bytes) = slow_bytes_when_observer_done {
        assert!(
            bytes < flood_bytes / 2,
            "the observer finished only once the slow reader had read {bytes} of {flood_bytes} bytes"
        );
    }
    // Still there: never evicted.
    observer.send("/who");
    let who = observer.wait_for("the /who answer", |l| l.starts_with("* online"));
    assert!(who.contains(&slow.name), "{who}");
    drop(flooder);
}

/// While a flood runs in the lobby with three readers on slow, steady
/// links there (about 160 KB/s each, as on poor Wi-Fi), a pair in another
/// room talks as if nothing happened: each of their lines arrives within a
/// second. (Before rooms had logs, the whole server went at the slow
/// readers' pace and such a line waited up to ten seconds.)
#[test]
fn another_room_never_waits_for_slow_readers() {
    let server = unlimited();
    let mut ann = server.connect();
    let mut bob = server.connect();
    ann.expect(&format!("* {} joined", bob.name));
    for client in [&mut ann, &mut bob] {
        client.send("/join quiet");
        client.wait_for("the move", |l| l == "* you are now in quiet");
    }
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let trickles: Vec<_> = (0..3)
        .map(|_| {
            let (stream, _) = small_buffer_client(server.addr);
            let done = done.clone();
            thread::spawn(move || {
                stream
                    .set_read_timeout(Some(Duration::from_millis(100)))
                    .expect("timeout");
                let mut chunk = [0u8; 4096];
                let mut total = 0usize;
                while !done.load(std::sync::atomic::Ordering::Relaxed) {
                    if let Ok(n) = (&stream).read(&mut chunk) {
                        assert!(n > 0, "a slow reader was disconnected");
                        total += n;
                    }
                    thread::sleep(Duration::from_millis(25));
                }
                total
            })
        })
        .collect();
    let flooder = Client::connect(server.addr);
    let sending = flood(flooder.stream.try_clone().expect("clone"), 40_000);
    for i in 0..10 {
        let sent = Instant::now();
        ann.send(&format!("ping {i}"));
        let line = bob.wait_for("ann's ping", |l| l.ends_with(&format!("ping {i}")));
        assert!(
            sent.elapsed() < Duration::from_secs(1),
            "{line} took {:?}",
            sent.elapsed()
        );
        thread::sleep(Duration::from_millis(100));
    }
    sending.join().expect("the flooder");
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    for trickle in trickles {
        let read = trickle.join().expect("a slow reader");
        assert!(read > 0, "a slow reader read nothing");
    }
}

/// True for `* NAME left (too slow)`: a stalled client evicted.
fn is_eviction(line: &str) -> bool {
    line.starts_with("* ") && line.ends_with(" left (too slow)")
}

/// The most a kernel may buffer for one stalled peer on its own side (the
/// socket's send buffer grows up to `tcp_wmem`'s maximum); where it cannot be
/// read, a generous guess.
fn kernel_send_buffer_max() -> usize {
    std::fs::read_to_string("/proc/sys/net/ipv4/tcp_wmem")
        .ok()
        .and_then(|text| text.split_whitespace().nth(2)?.parse().ok())
        .unwrap_or(4 * 1024 * 1024)
}

/// Shutdown while a flood is in flight and stalled clients are megabytes
/// behind: both healthy observers get the same unbroken run of flood lines,
/// then `* server shutting down`, and the server stops.
#[test]
fn shutdown_delivers_every_accepted_line_despite_stalled_clients() {
    // Every line must reach both observers. A write timeout of 3 s keeps the
    // stalled clients in the room until the server stops, even on a slow
    // machine (one evicted sooner is told, and the test reads past it).
    let server = TestServer::with(|c: &mut ServerConfig| {
        c.rate_limit = 0;
        c.write_timeout = Some(Duration::from_secs(3));
        common::keep_every_line(c);
    });
    let mut first = server.connect();
    let mut second = server.connect();
    first.expect(&format!("* {} joined", second.name));
    let mut stalled = Vec::new();
    for _ in 0..5 {
        let (stream, name) = small_buffer_client(server.addr);
        first.expect(&format!("* {name} joined"));
        second.expect(&format!("* {name} joined"));
        stalled.push(stream);
    }
    let flooder = Client::connect(server.addr);
    let flooder_name = flooder.name.clone();
    for observer in [&mut first, &mut second] {
        observer.expect(&format!("* {flooder_name} joined"));
    }
    // Stop once more has been relayed than a kernel can hold for a stalled
    // peer, so every stalled client is behind when the server stops.
    let relayed = (kernel_send_buffer_max() + 1024 * 1024) / LINE;
    let sending = flood(
        flooder.stream.try_clone().expect("clone"),
        2 * relayed as u64,
    );
    // Each observer is read on its own thread, as fast as it can.
    let read_all = |mut observer: Client, name: String| {
        thread::spawn(move || {
            let mut next = 0u64;
            loop {
                let line = observer.line();
                if let Some(n) = flood_number(&line, &name) {
                    assert_eq!(n, next, "{}: a gap in the flood", observer.name);
                    next += 1;
                } else if !is_eviction(&line) {
                    assert_eq!(line, "* server shutting down", "{}", observer.name);
                    break;
                }
            }
            observer.expect_closed();
            next
        })
    };
    let second_reading = read_all(second, flooder_name.clone());
    let mut first_count = 0u64;
    while first_count < relayed as u64 {
        let line = first.line();
        if is_eviction(&line) {
            continue;
        }
        let n = flood_number(&line, &flooder_name).expect("only flood lines");
        assert_eq!(n, first_count, "a gap in the flood");
        first_count += 1;
    }
    let stopping = thread::spawn(move || server.stop_within(Duration::from_secs(10)));
    loop {
        let line = first.line();
        if let Some(n) = flood_number(&line, &flooder_name) {
            assert_eq!(n, first_count, "first: a gap in the flood");
            first_count += 1;
        } else if !is_eviction(&line) {
            assert_eq!(line, "* server shutting down", "first");
            break;
        }
    }
    first.expect_closed();
    let second_count = second_reading.join().expect("the second observer");
    assert_eq!(
        first_count, second_count,
        "both observers got the same lines"
    );
    assert!(
        stopping.join().expect("the stopper"),
        "the server did not stop"
    );
    drop(stalled);
    drop(flooder);
    let _ = sending.join();
}
