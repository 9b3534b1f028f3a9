//! The `client` binary in plain line mode (pipes, as scripts and Windows get
//! it): bad flags, typed escape sequences, `--name` refusals, a server that
//! sends text without newlines, and the exit code for each way out.

mod common;

use std::io::Write;
use std::net::TcpListener;
use std::process::Command;

use common::{server_binary, ChildGuard, Client, TestServer};

fn client_binary(args: &[&str]) -> ChildGuard {
    let mut command = Command::new(env!("CARGO_BIN_EXE_client"));
    command.args(args);
    ChildGuard::spawn(command)
}

/// Starts the client against `server` with `args`, and returns it with the
/// name `peer` saw it join under.
fn joined(server: &TestServer, peer: &mut Client, args: &[&str]) -> (ChildGuard, String) {
    let port = server.addr.port().to_string();
    let mut all = vec!["--port", &port];
    all.extend(args);
    let client = client_binary(&all);
    let joined = peer.wait_for("the join", |l| l.ends_with(" joined"));
    let name = joined.trim_start_matches("* ").trim_end_matches(" joined");
    (client, name.to_string())
}

/// A bad flag is one line naming it and one pointing at `--help`, exit 2;
/// `--help` itself prints the usage, `--color` included.
#[test]
fn a_bad_flag_is_one_line_and_a_hint() {
    let bad = Command::new(env!("CARGO_BIN_EXE_client"))
        .arg("--bogus")
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert_eq!(
        stderr,
        "client: unknown option '--bogus'\ntry 'client --help'\n"
    );
    let bad_value = Command::new(env!("CARGO_BIN_EXE_client"))
        .args(["--color", "pink"])
        .output()
        .unwrap();
    assert_eq!(bad_value.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&bad_value.stderr).lines().count(),
        2
    );
    let help = Command::new(env!("CARGO_BIN_EXE_client"))
        .arg("--help")
        .output()
        .unwrap();
    assert!(help.status.success());
    let usage = String::from_utf8_lossy(&help.stdout);
    assert!(usage.contains("--color WHEN"), "{usage}");
}

/// Arrow keys typed in a terminal's line mode arrive as escape sequences in
/// the line; they are removed before sending, and a line of nothing else is
/// not sent at all.
#[test]
fn typed_escape_sequences_are_never_sent() {
    let server = TestServer::start();
    let mut peer = server.connect();
    let (mut client, name) = joined(&server, &mut peer, &[]);
    client.type_line("hi\x1b[A\x1b[D there\x1bOB");
    peer.expect(&format!("> {name}: hi there"));
    client.type_line("\x1b[A\x1b[B\x07");
    client.type_line("marker");
    // Had the arrow-only line been sent, the server would relay `[A[B` first.
    peer.expect(&format!("> {name}: marker"));
}

/// `--name` explains every refusal on stderr, whatever the server's `!` line
/// says, and the client carries on under its address.
#[test]
fn every_name_refusal_is_explained() {
    let server = TestServer::start();
    let mut peer = server.connect();
    for (asked, reason) in [
        ("bad name!", "invalid name: use 1 to 20 ASCII letters"),
        ("b@d", "invalid name: use 1 to 20 ASCII letters"),
        ("server", "name server is reserved"),
    ] {
        let (mut client, name) = joined(&server, &mut peer, &["--name", asked]);
        let said = client.wait_for("stderr", "refused the name");
        assert!(
            said.starts_with(&format!("The server refused the name {asked} ({reason}")),
            "{said}"
        );
        client.type_line("still here");
        peer.wait_for("the message", |l| l == format!("> {name}: still here"));
    }
}

/// Against a server that sends text without newlines (the Node tutorial's),
/// each piece that is not followed by more ends its own line, so pieces and
/// `Disconnected from the server.` never run together.
#[test]
fn pieces_without_newlines_get_lines_of_their_own() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port().to_string();
    let mut client = client_binary(&["--port", &port]);
    let (mut socket, _) = listener.accept().unwrap();
    socket.write_all(b"> 1.2.3.4:5: hel").unwrap();
    // The helper only sees whole lines: this line can only show up because
    // the client ended it, while the connection is still open.
    client.wait_for("stdout", "> 1.2.3.4:5: hel");
    socket.write_all(b"> 1.2.3.4:5: lo").unwrap();
    client.wait_for("stdout", "> 1.2.3.4:5: lo");
    socket.write_all(b"* 1.2.3.4:5 left").unwrap();
    drop(socket);
    client.wait_for("stderr", "Disconnected from the server.");
    // The Node tutorial's server says no goodbye: to the client, the
    // connection was lost.
    assert_eq!(client.exit_code(), Some(3));
    let stdout: Vec<String> = client
        .rest()
        .into_iter()
        .filter_map(|l| l.strip_prefix("stdout: ").map(str::to_string))
        .collect();
    assert_eq!(
        stdout,
        ["> 1.2.3.4:5: hel", "> 1.2.3.4:5: lo", "* 1.2.3.4:5 left"]
    );
}

/// Waits until `observer` sees the client that asked for `name` arrive
/// under it (announced under its name, or under its address and renamed).
fn arrived(observer: &mut Client, name: &str) {
    observer.wait_for(&format!("{name}'s arrival"), |l| {
        l == format!("* {name} joined") || l.ends_with(&format!(" is now known as {name}"))
    });
}

/// `/quit` exits 0; a kick from the teacher's console exits 5.
#[test]
fn quit_exits_0_and_a_kick_exits_5() {
    let (mut server, addr) = server_binary(&["--join-grace-ms", "0"]);
    let mut observer = Client::connect(addr);
    let port = addr.port().to_string();
    let mut quinn = client_binary(&["--port", &port, "--name", "quinn"]);
    arrived(&mut observer, "quinn");
    quinn.type_line("/quit");
    quinn.wait_for("stdout", "* bye");
    assert_eq!(quinn.exit_code(), Some(0));

    let mut kim = client_binary(&["--port", &port, "--name", "kim"]);
    arrived(&mut observer, "kim");
    server.type_line("kick kim");
    kim.wait_for("stdout", "! kicked by the server");
    assert_eq!(kim.exit_code(), Some(5));
}

/// A server that is full refuses the client with one line: exit 5.
#[test]
fn a_full_server_exits_5() {
    let server = TestServer::with(|c| c.max_clients = 1);
    let _first = server.connect();
    let port = server.addr.port().to_string();
    let mut refused = client_binary(&["--port", &port]);
    refused.wait_for("stdout", "! server full (1 clients)");
    assert_eq!(refused.exit_code(), Some(5));
}

/// A connection reset by the server is a lost connection: the error is
/// shown, and the exit code is 3.
#[test]
fn a_reset_exits_3() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port().to_string();
    let mut client = client_binary(&["--port", &port]);
    let (socket, _) = listener.accept().unwrap();
    client.type_line("never read");
    // Closing a socket with unread data makes the kernel send a reset.
    let mut peek = [0u8; 1];
    socket.peek(&mut peek).expect("the client's line arrived");
    drop(socket);
    let said = client.wait_for("stderr", "Connection error: ");
    assert!(said.contains("reset"), "not a reset: {said}");
    assert_eq!(client.exit_code(), Some(3));
}

/// A reset after the input has ended is still told (`Connection error`),
/// though the session ended as the user wished (exit 0): lab 5 shows what
/// a socket closed with unread input does to its peer.
#[test]
fn a_reset_after_the_input_ended_is_still_told() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port().to_string();
    let mut client = client_binary(&["--port", &port]);
    let (socket, _) = listener.accept().unwrap();
    let mut server_side = Client::from_stream(socket);
    server_side.expect("/session");
    client.type_line("last words");
    client.close_stdin();
    server_side.expect("last words");
    // The client's end of input: it half-closed.
    server_side.expect_closed();
    socket2::SockRef::from(&server_side.stream)
        .set_linger(Some(std::time::Duration::ZERO))
        .expect("set SO_LINGER to 0");
    drop(server_side);
    let said = client.wait_for("stderr", "Connection error: ");
    assert!(said.contains("reset"), "not a reset: {said}");
    assert_eq!(client.exit_code(), Some(0));
}
