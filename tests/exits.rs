//! Fair admission and honest exits: one address cannot take every place, a
//! client that resets stops at once and gives its place back, and nothing of
//! it is relayed after its `left` notice.

use std::net::TcpStream;
use std::time::{Duration, Instant};

mod common;
use common::{wait_until, Client, TestServer};

/// Knocks until the server lets a client in (places are given back when a
/// reader thread ends, a moment after the connection closes), or panics.
/// The pause between knocks is a retry pace, not synchronisation.
fn knock_until_welcome(connect: impl Fn() -> TcpStream, within: Duration) -> (Client, String) {
    wait_until("a welcome", within, Duration::from_millis(20), || {
        let mut client = Client::from_stream(connect());
        let answer = client.line();
        let Some(rest) = answer.strip_prefix("* welcome ") else {
            return Err(answer);
        };
        let name = rest.split(", ").next().unwrap_or_default().to_string();
        client.name = name.clone();
        Ok((client, name))
    })
}

/// A client that sends 2000 lines in one burst is held back by the rate
/// limiter; when it resets the connection, the others are told at once that
/// it left, they get nothing of it after that, and its place is free again.
#[test]
fn a_throttled_flooder_that_resets_stops_at_once() {
    // Two places: the observer's and the ghost's. A third client gets in only
    // once the ghost's reader has ended and given its place back.
    let server = TestServer::with(|c| c.max_clients = 2);
    let mut observer = server.connect();
    let mut ghost = server.connect();
    let ghost_name = ghost.name.clone();
    observer.expect(&format!("* {ghost_name} joined"));
    let burst: String = (0..2000).map(|n| format!("ghost line {n}\n")).collect();
    ghost.send_raw(burst.as_bytes());
    // The first 50 lines pass at once (the burst), then 20 a second.
    observer.wait_for("the ghost's 50th line", |l| l.ends_with("ghost line 49"));
    // Make the server send the ghost something it never reads: closing a
    // socket with unread data makes the OS reset the connection.
    observer.send("are you there?");
    let mut peek = [0u8; 1];
    ghost
        .stream
        .peek(&mut peek)
        .expect("the line reached the ghost");
    let reset_at = Instant::now();
    drop(ghost);
    let mut relayed = 50;
    loop {
        let line = observer.line();
        if line.starts_with(&format!("> {ghost_name}: ghost line ")) {
            relayed += 1;
            continue;
        }
        assert_eq!(line, format!("* {ghost_name} left (connection reset)"));
        break;
    }
    eprintln!(
        "the reset was announced after {:?}, with {relayed} of 2000 lines relayed",
        reset_at.elapsed()
    );
    assert!(
        relayed < 1000,
        "the ghost was not held back: {relayed} lines"
    );
    // Its place is free again, and nothing of it comes after its notice: the
    // observer's next lines are the newcomer's.
    let (mut newcomer, name) = knock_until_welcome(
        || TcpStream::connect(server.addr).expect("connect"),
        Duration::from_secs(3),
    );
    observer.expect(&format!("* {name} joined"));
    newcomer.send("hello");
    observer.expect(&format!("> {name}: hello"));
}

/// With `--max-per-ip 2`, a third connection from one address is told why and
/// closed, unnoticed by the others; another address still gets in; and a
/// place given back is taken again at once. (Linux: every 127.x.y.z address
/// is this machine, so a client can come from 127.0.0.2 and 127.0.0.3.)
#[cfg(target_os = "linux")]
#[test]
fn one_address_cannot_take_every_place() {
    use common::TIMEOUT;
    use socket2::{Domain, Socket, Type};
    use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};

    let server = TestServer::with(|c| c.max_per_ip = Some(2));
    let from = |last: u8| {
        let addr = server.addr;
        move || {
            let socket = Socket::new(Domain::IPV4, Type::STREAM, None).expect("socket");
            let local = SocketAddrV4::new(Ipv4Addr::new(127, 0, 0, last), 0);
            socket.bind(&SocketAddr::from(local).into()).expect("bind");
            socket.connect(&addr.into()).expect("connect");
            TcpStream::from(socket)
        }
    };
    let mut observer = Client::from_stream(from(1)());
    observer.wait_for("the welcome", |l| l.starts_with("* welcome "));
    let mut crowd = Vec::new();
    for _ in 0..2 {
        let (client, name) = knock_until_welcome(from(2), TIMEOUT);
        observer.expect(&format!("* {name} joined"));
        crowd.push(client);
    }
    let mut refused = Client::from_stream(from(2)());
    refused.expect("! too many connections from 127.0.0.2 (max 2)");
    refused.expect_closed();
    let (mut other, other_name) = knock_until_welcome(from(3), TIMEOUT);
    // Nobody heard of the refused one: the observer's next line is this.
    observer.expect(&format!("* {other_name} joined"));
    let gone = crowd.remove(0);
    let gone_name = gone.stream.local_addr().expect("addr").to_string();
    drop(gone);
    // (It never read the notices sent to it, so its close may be a reset.)
    let left = observer.line();
    assert!(left.starts_with(&format!("* {gone_name} left")), "{left:?}");
    let (_again, again_name) = knock_until_welcome(from(2), Duration::from_secs(3));
    observer.expect(&format!("* {again_name} joined"));
    other.send("done");
    observer.expect(&format!("> {other_name}: done"));
}

/// Without `--max-per-ip`, loopback has no limit, so a lab can run many
/// clients on one machine.
#[test]
fn loopback_is_not_limited_by_default() {
    let server = TestServer::start();
    let clients: Vec<Client> = (0..40).map(|_| server.connect()).collect();
    assert_eq!(clients.len(), 40);
}
