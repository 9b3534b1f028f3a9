//! The dashboard (`--dashboard`) over raw TCP: the page, `/state.json` (read
//! with `serde_json`), the `/events` stream, refusals (404, 405, 400, 408,
//! 503), what the snapshot counts, and the chat carrying on while junk, slow
//! and greedy dashboard clients do their worst.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;

mod common;
use common::{poll, server_binary, wait_until, Client, TestServer, TIMEOUT};

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
    for field in ["id", "connected_secs", "lines_sent", "queued_bytes"] {
        assert!(ann[field].is_u64(), "{field} in {ann}");
    }
    assert_eq!(
        (&ann["rate_limited"], &ann["muted"]),
        (&false.into(), &false.into())
    );
    assert_eq!(state["totals"]["clients"], 2);
    assert_eq!(state["sendq_limit"], 256 * 1024);
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
        .write_all(b"GET /events HTTP/1.1\r\nAccept: text/event-stream\r\n\r\n")
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
/// dashboard gives up on it (`408`, then close) after its deadline.
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
    assert!(
        started.elapsed() < TIMEOUT,
        "cut off only after {:?}",
        started.elapsed()
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
        .write_all(b"GET /events HTTP/1.1\r\n\r\n")
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
    let state = state(addr);
    assert!(client(&state, "ann").is_some(), "{state:#}");
}

/// A hundred idle dashboard connections: past the cap the dashboard answers
/// `503` and closes at once, the ones it took are cut off at the request
/// deadline (`408`), the chat never notices, and the dashboard then serves
/// again.
#[test]
fn a_hundred_dashboard_connections_are_capped_and_the_chat_goes_on() {
    const CAP: usize = 32;
    let server = TestServer::with_dashboard(|_| {});
    let addr = server.dashboard_addr();
    let (mut ann, mut bob) = chat_pair(&server);
    let mut idle: Vec<TcpStream> = (0..100).map(|_| open(addr)).collect();
    chat_goes_on(&mut ann, &mut bob, "a crowd is at the dashboard");
    let mut answers: Vec<String> = Vec::new();
    for stream in &mut idle {
        let status = read_response(stream).status().to_string();
        answers.push(status);
        if answers.len() == 50 {
            chat_goes_on(&mut ann, &mut bob, "still talking");
        }
    }
    let count = |status: &str| answers.iter().filter(|a| *a == status).count();
    assert_eq!(
        (
            count("HTTP/1.1 503 Service Unavailable"),
            count("HTTP/1.1 408 Request Timeout")
        ),
        (100 - CAP, CAP),
        "{answers:#?}"
    );
    drop(idle);
    // The places come back as the idle connections close.
    wait_until(
        "the dashboard serving again",
        TIMEOUT,
        Duration::from_millis(50),
        || {
            let answer = get(addr, "/state.json");
            match answer.status() {
                "HTTP/1.1 200 OK" => Ok(()),
                _ => Err(answer),
            }
        },
    );
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
/// and listed as a kick. Through the real binary: `--dashboard` and its log line.
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
