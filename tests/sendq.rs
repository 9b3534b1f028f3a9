//! Send queues: clients that stop reading cost the room nothing and are
//! evicted as `too slow`; a slow but steady reader is not; shutdown still
//! delivers every accepted line to every healthy client. In-process servers,
//! real loopback sockets; no timings asserted (the benchmark measures those).

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

use chatroom::ServerConfig;
use socket2::{Domain, Protocol, Socket, Type};

mod common;
use common::{Client, TestServer};

/// Bytes per flood line, newline included (the measurement used 190).
const LINE: usize = 190;

/// A client that reads its welcome and then never reads again, with a 4 KiB
/// receive buffer so that it stalls as soon as the kernel has little to give.
fn stalled_client(addr: SocketAddr) -> (TcpStream, String) {
    let socket = Socket::new(Domain::IPV4, Type::STREAM, Some(Protocol::TCP)).expect("socket");
    socket.set_recv_buffer_size(4096).expect("SO_RCVBUF");
    socket.connect(&addr.into()).expect("connect");
    let stream: TcpStream = socket.into();
    stream
        .set_read_timeout(Some(common::TIMEOUT))
        .expect("timeout");
    let mut welcome = Vec::new();
    let mut byte = [0u8; 1];
    while !welcome.ends_with(b"\n") {
        let n = (&stream).read(&mut byte).expect("the welcome line");
        assert!(n == 1, "closed before the welcome: {welcome:?}");
        welcome.push(byte[0]);
    }
    let name = stream.local_addr().expect("local addr").to_string();
    (stream, name)
}

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

/// A server with the rate limit off, so one sender can flood.
fn unlimited() -> TestServer {
    TestServer::with(|c: &mut ServerConfig| c.rate_limit = 0)
}

/// Five clients that never read, during a 3.8 MB flood: a healthy observer
/// gets every flood line in order, and each stalled client is evicted as
/// `too slow` (which shows that it really did stall the server's writes).
#[test]
fn stalled_clients_are_evicted_and_the_observer_misses_nothing() {
    let server = unlimited();
    let mut observer = server.connect();
    let mut stalled = Vec::new();
    for _ in 0..5 {
        let (stream, name) = stalled_client(server.addr);
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

/// A reader with a small receive buffer that reads a little every few
/// milliseconds, far slower than the flood but steadily: the room waits for
/// it instead of evicting it, and it gets every line in order.
#[test]
fn a_slow_but_steady_reader_is_not_evicted() {
    let server = unlimited();
    let mut observer = server.connect();
    let (slow, slow_name) = stalled_client(server.addr);
    observer.expect(&format!("* {slow_name} joined"));
    let flooder = Client::connect(server.addr);
    let flooder_name = flooder.name.clone();
    observer.expect(&format!("* {flooder_name} joined"));
    // 2.5 MB: ten times the default send queue, so the server must hold it back.
    let count = 13_000u64;
    let sending = flood(flooder.stream, count);
    slow.set_read_timeout(Some(Duration::from_millis(100)))
        .expect("timeout");
    let mut received = Vec::new();
    let mut next = 0u64;
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut chunk = [0u8; 8192];
    while next < count {
        assert!(
            Instant::now() < deadline,
            "the slow reader got {next} of {count} lines"
        );
        match (&slow).read(&mut chunk) {
            Ok(0) => panic!("the slow reader was disconnected after {next} lines"),
            Ok(n) => received.extend_from_slice(&chunk[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) => {}
            Err(e) => panic!("the slow reader's read failed after {next} lines: {e}"),
        }
        while let Some(end) = received.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = received.drain(..=end).collect();
            let line = String::from_utf8_lossy(&line[..end]).into_owned();
            if let Some(n) = flood_number(&line, &flooder_name) {
                assert_eq!(n, next, "flood lines out of order or lost");
                next += 1;
            } else {
                assert!(
                    !line.contains("left"),
                    "unexpected line for the slow reader: {line:?}"
                );
            }
        }
        // Slow: about 8 KiB every 5 ms, a fraction of what the flood could do.
        thread::sleep(Duration::from_millis(5));
    }
    sending.join().expect("the flooder");
    // The observer saw nobody leave.
    observer.send("/who");
    let who = observer.wait_for("the /who answer", |l| l.starts_with("* online"));
    assert!(who.contains(&slow_name), "{who}");
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

/// Shutdown while a flood is in flight and stalled clients hold megabytes in
/// their send queues: both healthy observers get the same unbroken run of
/// flood lines, then `* server shutting down`, and the server stops.
#[test]
fn shutdown_delivers_every_accepted_line_despite_stalled_clients() {
    // Queues big enough that the stalled clients are not evicted for
    // overflowing before the shutdown: it must deal with them.
    let server = TestServer::with(|c: &mut ServerConfig| {
        c.rate_limit = 0;
        c.sendq_bytes = 64 * 1024 * 1024;
    });
    let mut first = server.connect();
    let mut second = server.connect();
    first.expect(&format!("* {} joined", second.name));
    let mut stalled = Vec::new();
    for _ in 0..5 {
        let (stream, name) = stalled_client(server.addr);
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
    // peer, so every stalled client has bytes waiting in its send queue.
    let relayed = (kernel_send_buffer_max() + 1024 * 1024) / LINE;
    let sending = flood(
        flooder.stream.try_clone().expect("clone"),
        2 * relayed as u64,
    );
    let mut first_count = 0u64;
    while first_count < relayed as u64 {
        let line = first.line();
        let n = flood_number(&line, &flooder_name).expect("only flood lines");
        assert_eq!(n, first_count, "a gap in the flood");
        first_count += 1;
    }
    let stopping = thread::spawn(move || server.stop_within(Duration::from_secs(10)));
    let mut second_count = 0u64;
    for (observer, next) in [
        (&mut first, &mut first_count),
        (&mut second, &mut second_count),
    ] {
        loop {
            let line = observer.line();
            if let Some(n) = flood_number(&line, &flooder_name) {
                assert_eq!(n, *next, "{}: a gap in the flood", observer.name);
                *next += 1;
            } else {
                assert_eq!(line, "* server shutting down", "{}", observer.name);
                break;
            }
        }
        observer.expect_closed();
    }
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
