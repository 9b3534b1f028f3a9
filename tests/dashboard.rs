//! The dashboard (`--dashboard`) over raw TCP: the page, `/state.json` (read
//! with `serde_json`), the `/events` stream, refusals (404, 405, 400, 408,
//! 421), what the snapshot counts, and the chat carrying on while junk, slow
//! and greedy dashboard clients do their worst; and (issue 23) nobody
//! locking the dashboard out: streams that never read, half-finished
//! requests, both kept up, and requests for another `Host`.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;

mod common;
use common::{poll, server_binary, small_buffer_client, Client, TestServer, TIMEOUT};

/// The server's limits, as `src/server/dashboard/` states them: the request
/// head deadline, places per address, and places in all.
const REQUEST_DEADLINE: Duration = Duration::from_secs(2);
const PER_ADDRESS: usize = 8;
#[cfg(target_os = "linux")]
const MAX_CONNECTIONS: usize = 64;
/// How long a stream may stay behind before it is dropped.
#[cfg(target_os = "linux")]
const BEHIND_FOR: Duration = Duration::from_secs(2);
/// How late something due at a moment may be on a busy 2-core machine.
const SLACK: Duration = Duration::from_secs(2);

/// One HTTP response, read until the server closed the connection.
#[derive(Debug)]
struct Response {
    head: String,
    body: String,
}

impl Response {
    fn status(&self) -> &str {
        self.head.lines().next().unwrap_or("")
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().skip(1).find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.eq_ignore_ascii_case(name).then(|| value.trim())
        })
    }
}

/// A connection to the dashboard with a read timeout.
fn open(addr: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect(addr).expect("connect to the dashboard");
    stream
        .set_read_timeout(Some(TIMEOUT))
        .expect("set a read timeout");
    stream
}

/// Sends `request` as it is and reads the answer to the end.
fn exchange(addr: SocketAddr, request: &[u8]) -> Response {
    let mut stream = open(addr);
    stream.write_all(request).expect("send the request");
    read_response(&mut stream)
}

fn read_response(stream: &mut TcpStream) -> Response {
    let mut raw = Vec::new();
    if let Err(e) = stream.read_to_end(&mut raw) {
        panic!(
            "the dashboard did not close the connection ({e}); got {:?}",
            String::from_utf8_lossy(&raw)
        );
    }
    let text = String::from_utf8(raw).expect("UTF-8 answer");
    let (head, body) = text
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("no end of head in {text:?}"));
    Response {
        head: head.to_string(),
        body: body.to_string(),
    }
}

fn get(addr: SocketAddr, path: &str) -> Response {
    exchange(
        addr,
        format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nAccept: */*\r\n\r\n").as_bytes(),
    )
}

/// `/state.json`, parsed.
fn state(addr: SocketAddr) -> Value {
    let response = get(addr, "/state.json");
    assert_eq!(response.status(), "HTTP/1.1 200 OK", "{response:?}");
    assert_eq!(response.header("Content-Type"), Some("application/json"));
    serde_json::from_str(&response.body)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", response.body))
}

/// Asks for `/state.json` until `wanted` holds (a snapshot is taken every
/// half second, so what just happened shows within one), and returns it.
fn wait_for_state(addr: SocketAddr, what: &str, wanted: impl Fn(&Value) -> bool) -> Value {
    let last = poll(TIMEOUT, Duration::from_millis(100), || {
        let state = state(addr);
        if wanted(&state) {
            Ok(state)
        } else {
            Err(state)
        }
    });
    last.unwrap_or_else(|state| panic!("never saw {what}; the last state: {state:#}"))
}

/// The client called `name` in a snapshot.
fn client<'a>(state: &'a Value, name: &str) -> Option<&'a Value> {
    state["clients"]
        .as_array()
        .expect("a clients array")
        .iter()
        .find(|c| c["name"] == name)
}

/// Two named clients in a quiet room: the chat the dashboard watches.
fn chat_pair(server: &TestServer) -> (Client, Client) {
    let mut ann = server.connect();
    let mut bob = server.connect();
    ann.expect(&format!("* {} joined", bob.name));
    ann.send("/nick ann");
    ann.expect("* you are now ann");
    bob.expect(&format!("* {} is now known as ann", ann.name));
    ann.name = "ann".into();
    (ann, bob)
}

/// A line from ann reaches bob (the chat is working).
fn chat_goes_on(ann: &mut Client, bob: &mut Client, text: &str) {
    ann.send(text);
    bob.expect(&format!("> ann: {text}"));
}

/// What one watched connection received, and when.
#[derive(Debug, Default)]
struct Watched {
    got: Vec<u8>,
    first_byte: Option<Instant>,
    /// When the server closed it (a reset counts).
    closed: Option<Instant>,
}

impl Watched {
    /// Its status line, or how it ended without one.
    fn summary(&self) -> String {
        let text = String::from_utf8_lossy(&self.got);
        match (text.lines().next(), self.closed) {
            (Some(status), _) => status.to_string(),
            (None, Some(_)) => "closed without an answer".to_string(),
            (None, None) => "no answer yet".to_string(),
        }
    }
}

/// Reads every one of `streams` without blocking, until all are closed or
/// `how_long` has passed, keeping what each received and when.
fn watch(streams: &mut [TcpStream], how_long: Duration) -> Vec<Watched> {
    let deadline = Instant::now() + how_long;
    let mut seen: Vec<Watched> = streams.iter().map(|_| Watched::default()).collect();
    for stream in streams.iter() {
        stream.set_nonblocking(true).expect("non-blocking");
    }
    let mut buf = [0u8; 16 * 1024];
    while Instant::now() < deadline && seen.iter().any(|w| w.closed.is_none()) {
        for (stream, watched) in streams.iter_mut().zip(&mut seen) {
            while watched.closed.is_none() {
                match stream.read(&mut buf) {
                    Ok(0) => watched.closed = Some(Instant::now()),
                    Ok(n) => {
                        watched.first_byte.get_or_insert_with(Instant::now);
                        watched.got.extend_from_slice(&buf[..n]);
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(_) => watched.closed = Some(Instant::now()),
                }
            }
        }
        thread::sleep(Duration::from_millis(10)); // a polling pace
    }
    for stream in streams.iter() {
        stream.set_nonblocking(false).expect("blocking again");
    }
    seen
}

/// A connection to the dashboard at `to` from `127.0.0.last`: on Linux all
/// of 127/8 is this machine, so each is another address to the server.
#[cfg(target_os = "linux")]
fn open_from(last: u8, to: SocketAddr) -> TcpStream {
    use socket2::{Domain, Socket, Type};
    use std::net::{Ipv4Addr, SocketAddrV4};
    let socket = Socket::new(Domain::IPV4, Type::STREAM, None).expect("socket");
    let local = SocketAddrV4::new(Ipv4Addr::new(127, 0, 0, last), 0);
    socket.bind(&SocketAddr::from(local).into()).expect("bind");
    socket.connect(&to.into()).expect("connect");
    let stream = TcpStream::from(socket);
    stream
        .set_read_timeout(Some(TIMEOUT))
        .expect("set a read timeout");
    stream
}

#[cfg(target_os = "linux")]
/// Waits until `stream` has `prefix` waiting unread (what the server
/// wrote to it), without reading it.
fn wait_unread(stream: &TcpStream, prefix: &str) {
    let deadline = Instant::now() + TIMEOUT;
    let mut buf = vec![0u8; prefix.len()];
    loop {
        let n = stream.peek(&mut buf).expect("peek");
        if buf[..n] == *prefix.as_bytes() {
            return;
        }
        assert!(
            n > 0 && n < prefix.len() && Instant::now() < deadline,
            "waited for {prefix:?}, have {:?}",
            String::from_utf8_lossy(&buf[..n])
        );
        thread::sleep(Duration::from_millis(10)); // a polling pace
    }
}

#[cfg(target_os = "linux")]
/// Asks for `/state.json` as a browser would, and says how long the
/// answer took; it must be `200` and list ann.
fn fresh_state(addr: SocketAddr) -> Duration {
    let asked = Instant::now();
    let answer = get(addr, "/state.json");
    let took = asked.elapsed();
    assert_eq!(answer.status(), "HTTP/1.1 200 OK", "{answer:?}");
    assert!(answer.body.contains("\"ann\""), "{answer:?}");
    took
}

/// `GET /` is the page: HTML, self-contained, subscribing to `/events`.
#[test]
fn the_page_is_served() {
    let server = TestServer::with_dashboard(|_| {});
    let page = get(server.dashboard_addr(), "/");
    assert_eq!(page.status(), "HTTP/1.1 200 OK", "{page:?}");
    assert_eq!(
        page.header("Content-Type"),
        Some("text/html; charset=utf-8")
    );
    assert_eq!(
        page.header("Content-Length"),
        Some(page.body.len().to_string().as_str())
    );
    assert!(page.body.starts_with("<!doctype html>"));
    assert!(page.body.contains("new EventSource(\"/events\")"));
    // Nothing is loaded from elsewhere, and the browser is told so.
    assert!(!page.body.contains("http://") && !page.body.contains("https://"));
    let policy = page
        .header("Content-Security-Policy")
        .expect("a content security policy");
    assert!(policy.starts_with("default-src 'none'"), "{policy}");
}

/// The events queue gauge is read from the channel itself: in the demo
/// mode where one stalled client freezes the room, the page shows the queue
/// full while the broadcaster is stuck in its write, not the figure from
/// before it got stuck.
#[test]
fn the_queue_gauge_shows_a_frozen_room() {
    let server = TestServer::with_dashboard(|c| {
        c.write_timeout = None;
        c.rate_limit = 0;
    });
    let addr = server.dashboard_addr();
    let (_stalled, _) = small_buffer_client(server.addr);
    let mut flooder = TcpStream::connect(server.addr).expect("connect");
    let flooding = std::thread::spawn(move || {
        let line = format!("{}\n", "x".repeat(1000));
        // Far more than the kernel takes for the stalled client: the
        // broadcaster blocks, and the flooder's reader fills the channel.
        // The writes block too, until the server cuts every connection
        // as it stops.
        for _ in 0..20_000 {
            if flooder.write_all(line.as_bytes()).is_err() {
                break;
            }
        }
    });
    let state = wait_for_state(addr, "a full queue", |s| {
        s["events_queued"].as_u64() >= s["events_capacity"].as_u64()
    });
    assert_eq!(state["events_capacity"], 1024);
    drop(server);
    let _ = flooding.join();
}

/// With a class code, the page counts the connections turned away for a
/// wrong one.
#[test]
fn the_state_counts_wrong_codes() {
    let server = TestServer::with_dashboard(|c| c.key = Some("owl".into()));
    let addr = server.dashboard_addr();
    let mut stranger = Client::connect_raw(server.addr);
    stranger.expect("! this class needs a code: /key CODE");
    stranger.send("/key cat");
    stranger.expect("! wrong code");
    let state = wait_for_state(addr, "one turned away", |s| s["totals"]["turned_away"] == 1);
    assert_eq!(state["class_code"], true);
}

/// `/state.json` lists a connected client by name, with its room, and the
/// room with its members; and the rename that named it.
#[test]
fn the_state_lists_a_connected_client_and_its_room() {
    let server = TestServer::with_dashboard(|_| {});
    let addr = server.dashboard_addr();
    let (_ann, _bob) = chat_pair(&server);
    let state = wait_for_state(addr, "ann", |s| client(s, "ann").is_some());
    let ann = client(&state, "ann").expect("ann");
    assert_eq!(ann["room"], "lobby");
    assert!(ann["addr"]
        .as_str()
        .is_some_and(|a| a.starts_with("127.0.0.1:")));
    for field in [
        "id",
        "connected_secs",
        "lines_sent",
        "queued_bytes",
        "skipped_lines",
    ] {
        assert!(ann[field].is_u64(), "{field} in {ann}");
    }
    assert_eq!(
        (&ann["rate_limited"], &ann["muted"]),
        (&false.into(), &false.into())
    );
    assert_eq!(state["totals"]["clients"], 2);
    assert_eq!(state["sendq_limit"], 256 * 1024);
    assert_eq!(state["room_log_bytes"], 1024 * 1024);
    assert_eq!(state["class_code"], false);
    for total in ["lines_skipped", "turned_away", "records_dropped"] {
        assert_eq!(state["totals"][total], 0, "{total}");
    }
    assert_eq!(state["events_capacity"], 1024);
    let lobby = &state["rooms"][0];
    assert_eq!(lobby["name"], "lobby");
    let members = lobby["members"].as_array().expect("members");
    assert!(members.contains(&Value::from("ann")), "{lobby}");
    assert_eq!(members.len(), 2);
    let renamed = state["recent"]
        .as_array()
        .expect("recent events")
        .iter()
        .any(|e| e["kind"] == "rename" && e["detail"] == "ann");
    assert!(renamed, "{:#}", state["recent"]);
    // The kernel's queues are there exactly where they can be read.
    let linux = cfg!(target_os = "linux");
    assert_eq!(state["kernel_queues"], linux);
    assert_eq!(ann["kernel_send"].is_u64(), linux, "{ann}");
    assert_eq!(ann["kernel_recv"].is_u64(), linux, "{ann}");
}

/// `/events` is an event stream whose first snapshot arrives within a
/// second, and the next ones keep coming.
#[test]
fn events_stream_snapshots() {
    let server = TestServer::with_dashboard(|_| {});
    let mut stream = open(server.dashboard_addr());
    let asked = Instant::now();
    stream
        .write_all(b"GET /events HTTP/1.1\r\nHost: localhost\r\nAccept: text/event-stream\r\n\r\n")
        .expect("ask for the stream");
    let mut seen = String::new();
    let mut events: Vec<Value> = Vec::new();
    let mut first_after = None;
    while events.len() < 3 {
        let mut buf = [0u8; 4096];
        let n = stream.read(&mut buf).expect("the stream keeps coming");
        assert!(n > 0, "the stream ended: {seen}");
        seen.push_str(std::str::from_utf8(&buf[..n]).expect("UTF-8"));
        // Each complete event is `data: JSON` and a blank line.
        while let Some(end) = seen.find("\n\n") {
            let block: String = seen.drain(..end + 2).collect();
            if let Some(json) = block.strip_prefix("data: ") {
                events.push(serde_json::from_str(json.trim_end()).expect("JSON data"));
                first_after.get_or_insert(asked.elapsed());
            } else if block.starts_with("HTTP/1.1 ") {
                assert!(block.starts_with("HTTP/1.1 200 OK\r\n"), "{block}");
                assert!(
                    block.contains("\r\nContent-Type: text/event-stream\r\n"),
                    "{block}"
                );
            }
        }
    }
    let first_after = first_after.expect("an event");
    assert!(
        first_after < Duration::from_secs(1),
        "the first event took {first_after:?}"
    );
    let uptimes: Vec<u64> = events
        .iter()
        .map(|e| e["uptime_secs"].as_u64().expect("uptime"))
        .collect();
    assert!(uptimes.windows(2).all(|w| w[0] <= w[1]), "{uptimes:?}");
}

/// Unknown paths are 404, other methods 405 (read-only), and the room
/// is untouched by them.
#[test]
fn not_found_and_not_allowed() {
    let server = TestServer::with_dashboard(|_| {});
    let addr = server.dashboard_addr();
    let missing = get(addr, "/admin");
    assert_eq!(missing.status(), "HTTP/1.1 404 Not Found", "{missing:?}");
    let post = exchange(
        addr,
        b"POST /state.json HTTP/1.1\r\nContent-Length: 9\r\n\r\nkick=ann\n",
    );
    assert_eq!(post.status(), "HTTP/1.1 405 Method Not Allowed", "{post:?}");
    assert_eq!(post.header("Allow"), Some("GET"));
}

/// Junk and an oversized head get `400` and a close, and the chat goes on.
#[test]
fn junk_gets_400_and_the_chat_goes_on() {
    let server = TestServer::with_dashboard(|_| {});
    let addr = server.dashboard_addr();
    let (mut ann, mut bob) = chat_pair(&server);
    for junk in [
        &b"hello there\r\n\r\n"[..],
        b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03\n",
        b"GET / HTTP/1.1\r\nno header here\r\n\r\n",
    ] {
        let answer = exchange(addr, junk);
        assert_eq!(answer.status(), "HTTP/1.1 400 Bad Request", "{answer:?}");
    }
    let huge = format!("GET / HTTP/1.1\r\nX-Big: {}\r\n\r\n", "a".repeat(20_000));
    let answer = exchange(addr, huge.as_bytes());
    assert_eq!(answer.status(), "HTTP/1.1 400 Bad Request", "{answer:?}");
    chat_goes_on(&mut ann, &mut bob, "still here after the junk");
    assert_eq!(get(addr, "/").status(), "HTTP/1.1 200 OK");
}

/// A request that never finishes does not hold up the chat, and the
/// dashboard gives up on it (`408`, then close) at its deadline: two seconds.
#[test]
fn a_slow_request_is_cut_off_and_the_chat_goes_on() {
    let server = TestServer::with_dashboard(|_| {});
    let addr = server.dashboard_addr();
    let (mut ann, mut bob) = chat_pair(&server);
    let mut slow = open(addr);
    let started = Instant::now();
    slow.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n")
        .expect("half a request");
    chat_goes_on(&mut ann, &mut bob, "talking while a request hangs");
    // The situation is real: the request is still unanswered now.
    slow.set_read_timeout(Some(Duration::from_millis(200)))
        .expect("a short timeout");
    let mut byte = [0u8; 1];
    let early = slow.read(&mut byte);
    assert!(
        matches!(&early, Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut)),
        "the half request was answered early: {early:?}"
    );
    slow.set_read_timeout(Some(TIMEOUT))
        .expect("a long timeout");
    let answer = read_response(&mut slow);
    assert_eq!(
        answer.status(),
        "HTTP/1.1 408 Request Timeout",
        "{answer:?}"
    );
    let after = started.elapsed();
    assert!(
        (REQUEST_DEADLINE - Duration::from_millis(100)..REQUEST_DEADLINE + SLACK).contains(&after),
        "cut off after {after:?}"
    );
    chat_goes_on(&mut ann, &mut bob, "and after it");
}

/// A page that subscribes to `/events` and never reads does not hold up the
/// chat (no chat thread writes to it), nor the other viewers.
#[test]
fn a_viewer_that_never_reads_does_not_hold_up_the_chat() {
    use socket2::{Domain, Protocol, Socket, Type};
    let server = TestServer::with_dashboard(|_| {});
    let addr = server.dashboard_addr();
    let (mut ann, mut bob) = chat_pair(&server);
    let socket = Socket::new(Domain::IPV4, Type::STREAM, Some(Protocol::TCP)).expect("socket");
    socket.set_recv_buffer_size(4096).expect("SO_RCVBUF");
    socket.connect(&addr.into()).expect("connect");
    let mut stalled: TcpStream = socket.into();
    stalled
        .write_all(b"GET /events HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .expect("subscribe");
    for i in 0..20 {
        chat_goes_on(
            &mut ann,
            &mut bob,
            &format!("line {i} while a viewer sleeps"),
        );
        thread::sleep(Duration::from_millis(100)); // a talking pace, over two seconds
    }
    // The situation is real: snapshots were sent to it and lie unread.
    stalled.set_nonblocking(true).expect("non-blocking");
    let mut peek = [0u8; 1024];
    let waiting = stalled.peek(&mut peek).expect("bytes wait unread");
    assert!(waiting > 0);
    // Another viewer is served as usual.
    wait_for_state(addr, "ann", |s| client(s, "ann").is_some());
}

/// A hundred idle connections from one address hold eight places at most:
/// each newcomer past the eighth displaces the oldest (closed without an
/// answer), the last eight are cut off at the request deadline (`408`), the
/// chat never notices, and the dashboard serves again at once.
#[test]
fn a_hundred_idle_connections_from_one_address_hold_eight_places() {
    let server = TestServer::with_dashboard(|_| {});
    let addr = server.dashboard_addr();
    let (mut ann, mut bob) = chat_pair(&server);
    let mut idle: Vec<TcpStream> = (0..100).map(|_| open(addr)).collect();
    chat_goes_on(&mut ann, &mut bob, "a crowd is at the dashboard");
    let seen = watch(&mut idle, REQUEST_DEADLINE + SLACK);
    let answers: Vec<String> = seen.iter().map(Watched::summary).collect();
    let displaced = "closed without an answer";
    let timed_out = "HTTP/1.1 408 Request Timeout";
    let mut expected = vec![displaced; 100 - PER_ADDRESS];
    expected.extend([timed_out; PER_ADDRESS]);
    assert_eq!(answers, expected);
    chat_goes_on(&mut ann, &mut bob, "still talking");
    drop(idle);
    assert_eq!(get(addr, "/state.json").status(), "HTTP/1.1 200 OK");
    chat_goes_on(&mut ann, &mut bob, "and after the crowd");
}

/// A client over the rate limit shows as rate limited, and on Linux the
/// lines its sleeping reader has not read show in its kernel receive queue.
#[test]
fn a_throttled_client_and_its_kernel_receive_queue() {
    let server = TestServer::with_dashboard(|c| c.rate_limit = 1);
    let addr = server.dashboard_addr();
    let (mut ann, _bob) = chat_pair(&server);
    // 300 lines of 100 bytes: the burst of 50 passes, the rest waits.
    let line = format!("{}\n", "x".repeat(99));
    ann.send_raw(line.repeat(300).as_bytes());
    let state = wait_for_state(addr, "ann rate limited", |s| {
        client(s, "ann").is_some_and(|a| {
            a["rate_limited"] == true
                && (!cfg!(target_os = "linux") || a["kernel_recv"].as_u64() > Some(0))
        })
    });
    let ann = client(&state, "ann").expect("ann");
    let sent = ann["lines_sent"].as_u64().expect("lines sent");
    assert!(
        (40..300).contains(&sent),
        "the burst passed, the rest waits: {ann}"
    );
}

/// Deliveries count each chat line once per recipient; a kick is counted
/// and listed as a kick; the teacher's commands (`kick`, `say`, `mute`) are
/// listed as the teacher's, in order. Through the real binary:
/// `--dashboard` and its log line.
#[test]
fn deliveries_and_kicks_are_counted() {
    let (mut server, chat) = server_binary(&["--join-grace-ms", "0", "--dashboard", "0"]);
    let line = server.wait_for("stderr", "dashboard on http://127.0.0.1:");
    let addr: SocketAddr = line
        .rsplit("http://")
        .next()
        .and_then(|a| a.trim().trim_end_matches('/').parse().ok())
        .unwrap_or_else(|| panic!("no address in {line:?}"));
    let mut ann = Client::connect(chat);
    let mut bob = Client::connect(chat);
    let mut cy = Client::connect(chat);
    ann.expect(&format!("* {} joined", bob.name));
    ann.expect(&format!("* {} joined", cy.name));
    bob.expect(&format!("* {} joined", cy.name));
    ann.send("one");
    ann.send("two");
    for other in [&mut bob, &mut cy] {
        other.expect(&format!("> {}: one", ann.name));
        other.expect(&format!("> {}: two", ann.name));
    }
    // Two lines to two others: four deliveries.
    wait_for_state(addr, "four deliveries", |s| s["totals"]["deliveries"] == 4);
    server.type_line(&format!("kick {} enough", cy.name));
    cy.expect("! kicked by the server: enough");
    let state = wait_for_state(addr, "the kick", |s| {
        s["totals"]["evicted"]["kicked"] == 1 && s["totals"]["clients"] == 2
    });
    let last = state["recent"]
        .as_array()
        .and_then(|r| r.last())
        .expect("a recent event");
    assert_eq!(
        (&last["kind"], &last["name"], &last["detail"]),
        (
            &"kick".into(),
            &Value::from(cy.name.as_str()),
            &"enough".into()
        ),
        "{last}"
    );
    // The teacher's actions are in the recent events too, in their place.
    server.type_line("say back to work");
    server.type_line(&format!("mute {} 60", bob.name));
    bob.wait_for("the say", |l| l == "* [server] back to work");
    let state = wait_for_state(addr, "the teacher's mute", |s| {
        s["recent"].as_array().is_some_and(|r| {
            r.iter().any(|e| {
                e["kind"] == "teacher"
                    && e["detail"].as_str().is_some_and(|d| d.starts_with("mute "))
            })
        })
    });
    let teacher: Vec<&str> = state["recent"]
        .as_array()
        .expect("recent events")
        .iter()
        .filter(|e| e["kind"] == "teacher")
        .filter_map(|e| e["detail"].as_str())
        .collect();
    assert_eq!(
        teacher,
        [
            format!("kick {} enough", cy.name),
            "say back to work".to_string(),
            format!("mute {} 60", bob.name)
        ]
    );
}

/// A taken port is a clear start-up error, not a server without its dashboard.
#[test]
fn a_taken_dashboard_port_stops_the_server_at_start() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("a port to take");
    let port = taken.local_addr().expect("its address").port().to_string();
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_server"));
    command.args(["--port", "0", "--console", "off", "--dashboard", &port]);
    let mut server = common::ChildGuard::spawn(command);
    server.wait_for(
        "stderr",
        &format!("server: cannot serve the dashboard on 127.0.0.1:{port}:"),
    );
    assert_eq!(server.exit_code(), Some(1));
}

/// The attackers' addresses: eight of them, enough to fill every place.
#[cfg(target_os = "linux")]
const ATTACKERS: std::ops::RangeInclusive<u8> = 2..=9;

/// Streams that never read cannot lock the dashboard out. Eight addresses
/// each open eight `/events` streams, filling every place, and never read
/// (the attack is checked: each has its `200` and snapshots waiting unread).
/// A ninth from each address displaces that address's oldest; a browser's
/// request from another address is served at once, displacing just one more;
/// everyone else keeps streaming.
#[cfg(target_os = "linux")]
#[test]
fn streams_that_never_read_cannot_lock_out_the_dashboard() {
    let server = TestServer::with_dashboard(|_| {});
    let addr = server.dashboard_addr();
    let (mut ann, mut bob) = chat_pair(&server);
    wait_for_state(addr, "ann", |s| client(s, "ann").is_some());
    let subscribe = format!("GET /events HTTP/1.1\r\nHost: {addr}\r\n\r\n");
    let mut lurkers: Vec<(u8, TcpStream)> = Vec::new();
    for from in ATTACKERS {
        for _ in 0..PER_ADDRESS {
            let mut stream = open_from(from, addr);
            stream.write_all(subscribe.as_bytes()).expect("subscribe");
            lurkers.push((from, stream));
        }
    }
    assert_eq!(lurkers.len(), MAX_CONNECTIONS);
    for (_, stream) in &lurkers {
        wait_unread(stream, "HTTP/1.1 200 OK\r\n");
    }
    // Every place is held by a stream that does not read. One more each:
    let mut ninths = Vec::new();
    for from in ATTACKERS {
        let mut stream = open_from(from, addr);
        stream.write_all(subscribe.as_bytes()).expect("subscribe");
        ninths.push((from, stream));
    }
    for (_, stream) in &ninths {
        wait_unread(stream, "HTTP/1.1 200 OK\r\n");
    }
    let took = fresh_state(addr);
    assert!(took < SLACK, "a browser waited {took:?}");
    chat_goes_on(&mut ann, &mut bob, "the lurkers change nothing here");

    lurkers.extend(ninths);
    let (froms, mut streams): (Vec<u8>, Vec<TcpStream>) = lurkers.into_iter().unzip();
    let seen = watch(&mut streams, Duration::from_secs(2));
    let closed: Vec<(usize, u8)> = seen
        .iter()
        .enumerate()
        .filter(|(_, w)| w.closed.is_some())
        .map(|(i, _)| (i, froms[i]))
        .collect();
    // Each address's first stream, displaced by its ninth...
    for (n, from) in ATTACKERS.enumerate() {
        assert!(
            closed.contains(&(n * PER_ADDRESS, from)),
            "127.0.0.{from} kept its oldest stream; closed: {closed:?}"
        );
    }
    // ...and exactly one more, for the browser's request.
    assert_eq!(closed.len(), ATTACKERS.count() + 1, "closed: {closed:?}");
    // Those still open are still being sent snapshots.
    for (i, watched) in seen.iter().enumerate() {
        if watched.closed.is_none() {
            assert!(
                String::from_utf8_lossy(&watched.got).contains("data: {"),
                "stream {i} got {} bytes and no snapshot",
                watched.got.len()
            );
        }
    }
}

/// Half-finished requests cannot lock the dashboard out, however often they
/// come. Twice over, eight addresses each send nine request heads that never
/// end: the ninth displaces the first, the rest hold every place until their
/// deadline (the attack is checked: no `408` comes before it), then get
/// `408`. A browser's request in the middle of each wave is served at once,
/// before any of the half requests has been answered. (The second wave
/// starts as soon as the first is answered, while some of its connections
/// may still be closing, so only the first is counted to the connection.)
#[cfg(target_os = "linux")]
#[test]
fn half_finished_requests_cannot_lock_out_the_dashboard() {
    let server = TestServer::with_dashboard(|_| {});
    let addr = server.dashboard_addr();
    let (mut ann, mut bob) = chat_pair(&server);
    wait_for_state(addr, "ann", |s| client(s, "ann").is_some());
    let half = format!("GET /state.json HTTP/1.1\r\nHost: {addr}\r\n");
    for wave in 1..=2 {
        let mut sent: Vec<Instant> = Vec::new();
        let mut halves: Vec<TcpStream> = Vec::new();
        for from in ATTACKERS {
            for _ in 0..=PER_ADDRESS {
                // Before connecting: the server's deadline cannot start sooner.
                sent.push(Instant::now());
                let mut stream = open_from(from, addr);
                stream.write_all(half.as_bytes()).expect("half a request");
                halves.push(stream);
            }
        }
        let took = fresh_state(addr);
        let served = Instant::now();
        assert!(took < SLACK, "wave {wave}: a browser waited {took:?}");
        chat_goes_on(&mut ann, &mut bob, &format!("wave {wave} changes nothing"));

        let seen = watch(&mut halves, REQUEST_DEADLINE + SLACK * 2);
        let answers: Vec<String> = seen.iter().map(Watched::summary).collect();
        let count = |what: &str| answers.iter().filter(|a| *a == what).count();
        let (displaced, timed_out) = (
            count("closed without an answer"),
            count("HTTP/1.1 408 Request Timeout"),
        );
        assert_eq!(
            displaced + timed_out,
            halves.len(),
            "wave {wave}: {answers:#?}"
        );
        // Each address's first, and the one the browser displaced.
        let per_address = PER_ADDRESS + 1;
        for n in 0..ATTACKERS.count() {
            assert_eq!(
                answers[n * per_address],
                "closed without an answer",
                "wave {wave}"
            );
        }
        if wave == 1 {
            assert_eq!(displaced, ATTACKERS.count() + 1, "{answers:#?}");
            assert_eq!(timed_out, MAX_CONNECTIONS - 1, "{answers:#?}");
        } else {
            assert!(displaced >= ATTACKERS.count(), "{answers:#?}");
        }
        for (i, watched) in seen.iter().enumerate() {
            let Some(answered) = watched.first_byte else {
                continue;
            };
            let after = answered - sent[i];
            assert!(
                (REQUEST_DEADLINE..REQUEST_DEADLINE + SLACK).contains(&after),
                "wave {wave}: half request {i} answered after {after:?}"
            );
            assert!(
                answered > served,
                "wave {wave}: a 408 came before the browser was served"
            );
        }
    }
}

/// A browser is served within a couple of seconds, every time, while
/// attackers on eight addresses keep every place taken: each holds eight
/// `/events` streams it never reads and opens a new half-finished request
/// every 25 ms. The attack is checked: the attackers saw hundreds of their
/// connections displaced while the browser asked.
#[cfg(target_os = "linux")]
#[test]
fn a_browser_is_served_while_attackers_keep_coming() {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use std::sync::Arc;

    let server = TestServer::with_dashboard(|_| {});
    let addr = server.dashboard_addr();
    let (mut ann, mut bob) = chat_pair(&server);
    wait_for_state(addr, "ann", |s| client(s, "ann").is_some());
    let stop = Arc::new(AtomicBool::new(false));
    let displaced = Arc::new(AtomicUsize::new(0));
    let ready = Arc::new(AtomicUsize::new(0));
    let attackers: Vec<_> = ATTACKERS
        .map(|from| {
            let (stop, displaced, ready) = (stop.clone(), displaced.clone(), ready.clone());
            thread::Builder::new()
                .name(format!("attacker-{from}"))
                .spawn(move || {
                    let subscribe = format!("GET /events HTTP/1.1\r\nHost: {addr}\r\n\r\n");
                    let streams: Vec<TcpStream> = (0..PER_ADDRESS)
                        .map(|_| {
                            let mut stream = open_from(from, addr);
                            stream.write_all(subscribe.as_bytes()).expect("subscribe");
                            wait_unread(&stream, "HTTP/1.1 200 OK\r\n");
                            stream
                        })
                        .collect();
                    ready.fetch_add(1, Ordering::SeqCst);
                    let half = format!("GET / HTTP/1.1\r\nHost: {addr}\r\n");
                    let mut halves: Vec<TcpStream> = Vec::new();
                    while !stop.load(Ordering::SeqCst) {
                        let mut stream = open_from(from, addr);
                        let _ = stream.write_all(half.as_bytes());
                        stream.set_nonblocking(true).expect("non-blocking");
                        halves.push(stream);
                        // A half request closed (or reset) with nothing said
                        // was displaced; one answered has timed out.
                        halves.retain(|h| match h.peek(&mut [0u8; 1]) {
                            Err(e) if e.kind() == io::ErrorKind::WouldBlock => true,
                            Ok(n) if n > 0 => false,
                            _ => {
                                displaced.fetch_add(1, Ordering::SeqCst);
                                false
                            }
                        });
                        thread::sleep(Duration::from_millis(25)); // the attack's pace
                    }
                    drop(streams);
                })
                .expect("start an attacker")
        })
        .collect();
    let deadline = Instant::now() + TIMEOUT;
    while ready.load(Ordering::SeqCst) < ATTACKERS.count() {
        assert!(
            Instant::now() < deadline,
            "the attackers never took their places"
        );
        thread::sleep(Duration::from_millis(20)); // a polling pace
    }
    let before = displaced.load(Ordering::SeqCst);
    let mut slowest = Duration::ZERO;
    for _ in 0..15 {
        slowest = slowest.max(fresh_state(addr));
        thread::sleep(Duration::from_millis(200)); // a viewer's reload pace
    }
    let during = displaced.load(Ordering::SeqCst) - before;
    chat_goes_on(&mut ann, &mut bob, "the siege changes nothing here");
    stop.store(true, Ordering::SeqCst);
    for attacker in attackers {
        attacker.join().expect("an attacker panicked");
    }
    assert!(slowest < SLACK, "a browser waited {slowest:?}");
    assert!(
        during >= 100,
        "only {during} attacking connections were displaced: was there an attack?"
    );
}

/// A request must name this server in `Host` (the defence against DNS
/// rebinding): `localhost`, a loopback address or the address it reached,
/// with any port. Another name gets `421` and none of the room's names,
/// for a snapshot and for the stream, while the same request naming this
/// server is answered with them; HTTP/1.1 without `Host` is `400`.
#[test]
fn the_host_must_name_this_server() {
    let server = TestServer::with_dashboard(|_| {});
    let addr = server.dashboard_addr();
    let (_ann, _bob) = chat_pair(&server);
    wait_for_state(addr, "ann", |s| client(s, "ann").is_some());
    let ask = |path: &str, host: &str| {
        exchange(
            addr,
            format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nAccept: */*\r\n\r\n").as_bytes(),
        )
    };
    let port = addr.port();
    for host in [
        format!("localhost:{port}"),
        format!("127.0.0.1:{port}"),
        "127.0.0.1".to_string(),
        format!("[::1]:{port}"),
        "localhost:8000".to_string(),
    ] {
        let answer = ask("/state.json", &host);
        assert_eq!(answer.status(), "HTTP/1.1 200 OK", "{host}: {answer:?}");
        assert!(answer.body.contains("\"ann\""), "{host}: {answer:?}");
    }
    for host in [
        format!("evil.example:{port}"),
        "rebind.127.0.0.1.nip.io".to_string(),
        format!("10.1.2.3:{port}"),
    ] {
        for path in ["/state.json", "/events", "/"] {
            let answer = ask(path, &host);
            assert_eq!(
                answer.status(),
                "HTTP/1.1 421 Misdirected Request",
                "{host}{path}: {answer:?}"
            );
            assert!(!answer.body.contains("ann"), "{host}{path}: {answer:?}");
            assert!(answer.body.contains("localhost"), "{answer:?}");
        }
    }
    let no_host = exchange(addr, b"GET /state.json HTTP/1.1\r\nAccept: */*\r\n\r\n");
    assert_eq!(no_host.status(), "HTTP/1.1 400 Bad Request", "{no_host:?}");
}

/// The port of `addr` as `/proc/net/tcp` prints it, and its IPv4 address as
/// the kernel's 32-bit word in this machine's order.
#[cfg(target_os = "linux")]
fn proc_net_tcp_key(addr: SocketAddr) -> String {
    let std::net::IpAddr::V4(ip) = addr.ip() else {
        panic!("an IPv4 address: {addr}");
    };
    format!(
        "{:08X}:{:04X}",
        u32::from_ne_bytes(ip.octets()),
        addr.port()
    )
}

/// The server's socket from `local` to `remote`, from `/proc/net/tcp`:
/// whether it is still open (`ESTABLISHED`) and the bytes it has sent and
/// not had acknowledged. `None` if it is not in the table at all.
#[cfg(target_os = "linux")]
fn server_socket(local: SocketAddr, remote: SocketAddr) -> Option<(bool, u64)> {
    let table = std::fs::read_to_string("/proc/net/tcp").expect("read /proc/net/tcp");
    let (local, remote) = (proc_net_tcp_key(local), proc_net_tcp_key(remote));
    table.lines().skip(1).find_map(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.get(1) != Some(&local.as_str()) || fields.get(2) != Some(&remote.as_str()) {
            return None;
        }
        let (tx, _) = fields.get(4)?.split_once(':')?;
        Some((*fields.get(3)? == "01", u64::from_str_radix(tx, 16).ok()?))
    })
}

/// A stream whose reader stopped is dropped about two seconds after its
/// window closed (plus a sampling interval or two), before its writes would
/// time out. The reader has a small receive buffer and never reads; the
/// attack is checked: the server's socket is seen holding bytes the reader
/// has not acknowledged, and the room (ten clients) keeps the snapshots
/// coming. (Linux: the dashboard reads that from the kernel's tables, as
/// this test does; how long a reading takes sets how often it can sample.)
#[cfg(target_os = "linux")]
#[test]
fn a_stream_whose_reader_stopped_is_dropped() {
    use socket2::{Domain, Socket, Type};
    let server = TestServer::with_dashboard(|_| {});
    let addr = server.dashboard_addr();
    let _room = server.room(10);
    let socket = Socket::new(Domain::IPV4, Type::STREAM, None).expect("socket");
    socket.set_recv_buffer_size(4096).expect("SO_RCVBUF");
    socket.connect(&addr.into()).expect("connect");
    let mut stalled: TcpStream = socket.into();
    let me = stalled.local_addr().expect("local address");
    stalled
        .write_all(format!("GET /events HTTP/1.1\r\nHost: {addr}\r\n\r\n").as_bytes())
        .expect("subscribe");
    wait_unread(&stalled, "HTTP/1.1 200 OK\r\n");
    // Watched in the kernel's table, without reading: reading would open
    // the window again.
    let deadline = Instant::now() + TIMEOUT * 2;
    let mut behind_since = None;
    let mut slowest_reading = Duration::ZERO;
    let closed_after = loop {
        let reading = Instant::now();
        let socket = server_socket(addr, me);
        slowest_reading = slowest_reading.max(reading.elapsed());
        match socket {
            Some((true, bytes)) => {
                if bytes > 0 {
                    behind_since.get_or_insert_with(Instant::now);
                }
            }
            _ => match behind_since {
                Some(since) => break since.elapsed(),
                None => panic!("the stream was closed before it fell behind"),
            },
        }
        assert!(
            Instant::now() < deadline,
            "still open; behind since {behind_since:?}"
        );
        thread::sleep(Duration::from_millis(20)); // a polling pace
    };
    // The dashboard sees it behind at its next sample, drops it at the
    // first sample two seconds later, and a sample comes every half second
    // plus however long the table takes to read on this machine.
    let sampling = Duration::from_millis(500) + slowest_reading;
    let bound = BEHIND_FOR + sampling * 2 + slowest_reading + Duration::from_secs(1);
    assert!(
        closed_after < bound,
        "dropped {closed_after:?} after falling behind (allowed {bound:?})"
    );
    // What it had been sent, then the end.
    let seen = watch(std::slice::from_mut(&mut stalled), TIMEOUT);
    assert!(seen[0].closed.is_some(), "no end after the data");
    assert!(String::from_utf8_lossy(&seen[0].got).contains("data: {"));
}
