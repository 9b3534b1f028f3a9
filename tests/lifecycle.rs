//! Every way a connection ends closes it: end of input delivers what is
//! already due (the welcome, replies, the `/quit` goodbye) and then closes;
//! nothing is left in CLOSE-WAIT; a server out of descriptors recovers fully
//! once connections that read everything have closed. The kernel's table of
//! sockets (`/proc/net/tcp`) shows what the server still holds.

use std::io::Read;
use std::net::{Shutdown, SocketAddr, TcpStream};
#[cfg(target_os = "linux")]
use std::thread;
use std::time::Duration;
#[cfg(target_os = "linux")]
use std::time::Instant;

mod common;
use common::{Client, TestServer, TIMEOUT};

/// Connects, sends `input`, half-closes at once, and reads everything the
/// server sends until it closes.
fn send_and_half_close(addr: SocketAddr, input: &[u8]) -> String {
    use std::io::Write;
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream.set_read_timeout(Some(TIMEOUT)).expect("timeout");
    stream.write_all(input).expect("send");
    stream.shutdown(Shutdown::Write).expect("half-close");
    let mut got = Vec::new();
    match stream.read_to_end(&mut got) {
        Ok(_) => {}
        Err(e) => panic!(
            "no end from the server ({e}); got {:?}",
            String::from_utf8_lossy(&got)
        ),
    }
    String::from_utf8_lossy(&got).into_owned()
}

/// A client that sends `/quit` and half-closes in the same moment still
/// gets its welcome and `* bye`, then the server's FIN; one that says
/// nothing and half-closes gets its welcome, then FIN. Twenty times each,
/// since the old failure was a race.
#[test]
fn end_of_input_delivers_what_is_due_then_closes() {
    let server = TestServer::start();
    for round in 0..20 {
        let got = send_and_half_close(server.addr, b"hi\n/quit\n");
        let lines: Vec<&str> = got.lines().collect();
        assert!(
            lines.first().is_some_and(|l| l.starts_with("* welcome")),
            "round {round}: {got:?}"
        );
        assert_eq!(lines.last(), Some(&"* bye"), "round {round}: {got:?}");
        let got = send_and_half_close(server.addr, b"");
        assert!(got.starts_with("* welcome"), "round {round}: {got:?}");
        assert_eq!(got.lines().count(), 1, "round {round}: {got:?}");
    }
}

/// What the kernel says of the server's end of each connection to `port`.
#[cfg(target_os = "linux")]
fn server_side_states(port: u16) -> Vec<u8> {
    let mut states = Vec::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let Ok(text) = std::fs::read_to_string(table) else {
            continue;
        };
        for row in text.lines().skip(1) {
            let fields: Vec<&str> = row.split_whitespace().collect();
            let (Some(local), Some(state)) = (fields.get(1), fields.get(3)) else {
                continue;
            };
            let local_port = local
                .rsplit(':')
                .next()
                .and_then(|p| u16::from_str_radix(p, 16).ok());
            let listening = *state == "0A";
            if local_port == Some(port) && !listening {
                states.extend(u8::from_str_radix(state, 16));
            }
        }
    }
    states
}

/// CLOSE-WAIT in the kernel's table: the client closed, the server has not.
#[cfg(target_os = "linux")]
const CLOSE_WAIT: u8 = 0x08;

/// Waits until no server-side socket on `port` is in CLOSE-WAIT; panics
/// after `within`, saying how many still are.
#[cfg(target_os = "linux")]
fn until_nothing_in_close_wait(port: u16, within: Duration) {
    let deadline = Instant::now() + within;
    loop {
        let waiting = server_side_states(port)
            .into_iter()
            .filter(|&s| s == CLOSE_WAIT)
            .count();
        if waiting == 0 {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{waiting} server sockets still in CLOSE-WAIT after {within:?}"
        );
        // A poll interval: the condition is checked each time.
        thread::sleep(Duration::from_millis(20));
    }
}

/// Clients that read their welcome and close, clients that half-close
/// without a word (before their join grace ends, so nothing else is ever
/// sent to the room), and the last client of all: within a second none of
/// their sockets is left in CLOSE-WAIT on the server's side, even though no
/// other event comes along to wake anything.
#[cfg(target_os = "linux")]
#[test]
fn nothing_is_left_in_close_wait() {
    let server = TestServer::with(|c| c.join_grace = Duration::from_secs(5));
    let port = server.addr.port();
    let mut quiet = Vec::new();
    for _ in 0..10 {
        let client = Client::connect(server.addr);
        client.stream.shutdown(Shutdown::Write).expect("half-close");
        quiet.push(client);
    }
    for _ in 0..10 {
        drop(Client::connect(server.addr));
    }
    until_nothing_in_close_wait(port, Duration::from_secs(1));
    for mut client in quiet {
        client.expect_closed();
    }
}

/// With few descriptors (`ulimit -n 64`), 100 clients in turn read their
/// welcome and close: the server closes each of them at once, so every one
/// of them is let in (none is told `server busy`: a descriptor was free each
/// time), nothing is left in CLOSE-WAIT, and a client afterwards gets in too.
#[cfg(target_os = "linux")]
#[test]
fn closed_clients_free_their_descriptors_at_once() {
    use common::ChildGuard;
    use std::process::Command;

    let mut command = Command::new("sh");
    command.args([
        "-c",
        &format!(
            "ulimit -n 64 && exec {} --port 0 --quiet",
            env!("CARGO_BIN_EXE_server")
        ),
    ]);
    let mut server = ChildGuard::spawn(command);
    let line = server.wait_for("stderr", "listening on ");
    let addr: SocketAddr = line.rsplit(' ').next().unwrap().parse().unwrap();
    for round in 0..100 {
        let mut client = Client::connect_raw(addr);
        let welcome = client.line();
        assert!(
            welcome.starts_with("* welcome"),
            "client {round}: {welcome}"
        );
        // Read all it was sent (the welcome), then close, within its join
        // grace: the room never hears of it.
        drop(client);
    }
    until_nothing_in_close_wait(addr.port(), Duration::from_secs(1));
    let mut late = Client::connect(addr);
    late.send("/who");
    late.wait_for("the who answer", |l| l.starts_with("* online (1)"));
}

/// The welcome counts only the others who were announced, so its count and
/// the join notices that follow agree: a newcomer that arrives while another
/// is still in its join grace reads `0 others online`, then `* NAME joined`.
#[test]
fn the_welcome_count_and_the_join_notices_agree() {
    let server = TestServer::with(|c| c.join_grace = Duration::from_millis(300));
    let mut first = Client::connect_raw(server.addr);
    let welcome = first.line();
    assert!(welcome.contains(", 0 others online"), "{welcome}");
    let mut second = Client::connect_raw(server.addr);
    let welcome = second.line();
    assert!(
        welcome.contains(", 0 others online"),
        "the first is not announced yet: {welcome}"
    );
    let joined = second.wait_for("the first's join", |l| l.ends_with(" joined"));
    assert!(joined.starts_with("* 127.0.0.1:"), "{joined}");
    // Whenever a client arrives, its count and the joins it then sees add
    // up to everyone who came before.
    let mut third = Client::connect_raw(server.addr);
    let welcome = third.line();
    let counted: usize = welcome
        .split(", ")
        .nth(1)
        .and_then(|part| part.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no count in {welcome}"));
    for _ in counted..2 {
        third.wait_for("a join of one counted out", |l| l.ends_with(" joined"));
    }
}
