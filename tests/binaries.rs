//! The real `server` and `client` binaries: flags, exit codes, logs, signals,
//! and every way the client can end.

mod common;

use std::io::Write;
use std::net::TcpListener;
use std::process::Command;

use common::{server_binary, ChildGuard, Client, TestServer};

fn client_binary(args: &[String]) -> ChildGuard {
    let mut command = Command::new(env!("CARGO_BIN_EXE_client"));
    command.args(args);
    ChildGuard::spawn(command)
}

/// Starts the client binary against `server` and returns it with the name
/// `peer` saw it join under.
fn joined_client(server: &TestServer, peer: &mut Client) -> (ChildGuard, String) {
    // Without reconnecting: these tests end the server and expect the
    // client to end with it.
    let mut args = port_args(server.addr.port());
    args.push("--no-reconnect".into());
    let client = client_binary(&args);
    let joined = peer.wait_for("the join", |l| l.ends_with(" joined"));
    let name = joined.trim_start_matches("* ").trim_end_matches(" joined");
    (client, name.to_string())
}

fn port_args(port: u16) -> Vec<String> {
    vec!["--port".into(), port.to_string()]
}

/// `--help` prints the usage and exits 0; a bad flag is one line plus the
/// server's usage, or the client's pointer to `--help`, exit 2.
#[test]
fn help_and_bad_flags() {
    for (binary, hint) in [
        (env!("CARGO_BIN_EXE_server"), "try 'server --help'"),
        (env!("CARGO_BIN_EXE_client"), "try 'client --help'"),
    ] {
        let help = Command::new(binary).arg("--help").output().unwrap();
        assert!(help.status.success());
        assert!(String::from_utf8_lossy(&help.stdout).contains("--port PORT"));
        let bad = Command::new(binary).arg("--colour").output().unwrap();
        assert_eq!(bad.status.code(), Some(2));
        let stderr = String::from_utf8_lossy(&bad.stderr);
        assert!(
            stderr
                .lines()
                .next()
                .unwrap()
                .ends_with("unknown option '--colour'"),
            "{stderr}"
        );
        assert!(stderr.contains(hint), "{stderr}");
        assert_eq!(stderr.lines().count(), 2, "one error and a hint: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}

/// A flag whose value is missing, is another flag, or is a number out of its
/// range is named in one line that gives the range, exit 2.
#[test]
fn bad_values_are_named_with_what_would_do() {
    for (binary, args, first_line) in [
        (
            env!("CARGO_BIN_EXE_client"),
            &["--port", "99999"][..],
            "client: --port: '99999' is not a number from 1 to 65535",
        ),
        (
            env!("CARGO_BIN_EXE_server"),
            &["--port", "99999"],
            "server: --port: '99999' is not a number from 0 to 65535",
        ),
        (
            env!("CARGO_BIN_EXE_server"),
            &["--host", "--port", "9"],
            "server: --host needs a value, not '--port' \
             (a value that starts with '-' is written --host=VALUE)",
        ),
    ] {
        let bad = Command::new(binary).args(args).output().unwrap();
        assert_eq!(bad.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8_lossy(&bad.stderr);
        assert_eq!(stderr.lines().next(), Some(first_line), "{stderr}");
        assert_eq!(stderr.lines().count(), 2, "one error and a hint: {stderr}");
    }
}

/// A port already in use is one clear line naming the address, exit 1.
#[test]
fn bind_failure_names_the_address() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let out = Command::new(env!("CARGO_BIN_EXE_server"))
        .args(["--port", &port.to_string()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.starts_with(&format!("server: cannot listen on 127.0.0.1:{port}: ")),
        "{stderr}"
    );
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
}

/// The log has the bound address, then a line per connection, message and
/// disconnection; `--quiet` keeps only start and stop.
#[test]
fn server_logs_events_unless_quiet() {
    let (mut server, addr) = server_binary(&[]);
    let mut room = vec![Client::connect(addr), Client::connect(addr)];
    let joined = format!("* {} joined", room[1].name);
    room[0].expect(&joined);
    room[0].send("logged line");
    room[1].line();
    let name = room[0].name.clone();
    server.wait_for("stderr", &format!("{name} connected"));
    server.wait_for("stderr", &format!("{name}: logged line"));
    room.remove(0);
    server.wait_for("stderr", &format!("{name} disconnected"));

    let (mut quiet, addr) = server_binary(&["--quiet"]);
    let mut room = vec![Client::connect(addr), Client::connect(addr)];
    let joined = format!("* {} joined", room[1].name);
    room[0].expect(&joined);
    room[0].send("not logged");
    room[1].line();
    drop(room);
    #[cfg(unix)]
    {
        signal(&quiet, "INT");
        assert_eq!(quiet.exit_code(), Some(0));
        let log = quiet.rest().join("\n");
        assert!(
            !log.contains("not logged") && !log.contains("connected"),
            "{log}"
        );
        assert!(log.contains("server stopped"), "{log}");
    }
    #[cfg(not(unix))]
    let _ = &mut quiet;
}

#[cfg(unix)]
fn signal(child: &ChildGuard, name: &str) {
    let status = Command::new("kill")
        .args([&format!("-{name}"), &child.child.id().to_string()])
        .status()
        .expect("run kill");
    assert!(status.success());
}

/// SIGINT and SIGTERM: every client is told, the server exits 0 within about a second.
#[cfg(unix)]
#[test]
fn signals_shut_down_cleanly() {
    for sig in ["INT", "TERM"] {
        let (mut server, addr) = server_binary(&["--quiet", "--max-clients", "2000"]);
        let mut room: Vec<Client> = (0..50).map(|_| Client::connect(addr)).collect();
        room[49].send("/who"); // the room is complete once the last has its answer
        room[49].wait_for("the who list", |l| l.starts_with("* online (50)"));
        let started = std::time::Instant::now();
        signal(&server, sig);
        for client in &mut room {
            client.wait_for("the goodbye", |l| l == "* server shutting down");
            client.expect_closed();
        }
        assert_eq!(
            server.exit_code(),
            Some(0),
            "SIG{sig}: {:#?}",
            server.rest()
        );
        let took = started.elapsed();
        assert!(
            took < std::time::Duration::from_secs(5),
            "SIG{sig} took {took:?}"
        );
    }
}

/// A second Ctrl-C does not wait for the clean stop: exit 130 at once.
#[cfg(unix)]
#[test]
fn second_ctrl_c_exits_130() {
    let (mut server, addr) = server_binary(&["--quiet"]);
    // This client never closes, so a clean stop would linger for it.
    let mut stubborn = Client::connect(addr);
    signal(&server, "INT");
    stubborn.expect("* server shutting down");
    server.wait_for("stderr", "press Ctrl-C again");
    signal(&server, "INT");
    assert_eq!(server.exit_code(), Some(130));
}

/// The client prints what others say on stdout, status lines on stderr, and
/// exits at once when the server goes, even though stdin is still open, with
/// 4: the server shut down.
#[test]
fn client_chats_and_exits_when_the_server_closes() {
    let server = TestServer::start();
    let mut peer = server.connect();
    let (mut client, name) = joined_client(&server, &mut peer);
    client.wait_for("stderr", "Connected to ");
    client.type_line("hi from the binary");
    peer.expect(&format!("> {name}: hi from the binary"));
    peer.send("hi back");
    client.wait_for("stdout", &format!("> {}: hi back", peer.name));
    server.stop();
    client.wait_for("stdout", "* server shutting down");
    client.wait_for("stderr", "Disconnected from the server.");
    assert_eq!(client.exit_code(), Some(4));
}

/// When stdin ends, the client sends what is left, keeps printing until the
/// server closes, and exits 0.
#[test]
fn client_stdin_end_half_closes() {
    let server = TestServer::start();
    let mut peer = server.connect();
    let (mut client, name) = joined_client(&server, &mut peer);
    let stdin = client.stdin.as_mut().unwrap();
    stdin.write_all(b"first\nno newline at the end").unwrap();
    client.close_stdin();
    peer.expect(&format!("> {name}: first"));
    peer.expect(&format!("> {name}: no newline at the end"));
    peer.expect(&format!("* {name} left"));
    client.wait_for("stderr", "Disconnected from the server.");
    assert_eq!(client.exit_code(), Some(0));
}

/// Nobody listening: `Connection error: ...` naming the address, exit 1.
#[test]
fn client_connection_refused() {
    let port = {
        let probe = TcpListener::bind("127.0.0.1:0").unwrap();
        probe.local_addr().unwrap().port()
    };
    let out = Command::new(env!("CARGO_BIN_EXE_client"))
        .args(["--port", &port.to_string()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.starts_with(&format!(
            "Connection error: cannot connect to 127.0.0.1:{port}"
        )),
        "{stderr}"
    );
}

/// Against a server like the Node tutorial's (raw text, no newline, escape
/// codes), the client prints text at once and strips the escape sequences whole.
#[test]
fn client_prints_unterminated_text_without_controls() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let mut client = client_binary(&port_args(port));
    let (mut socket, _) = listener.accept().unwrap();
    socket
        .write_all(b"> 1.2.3.4:5: hi\x1b[2J\x07 there\n")
        .unwrap();
    client.wait_for("stdout", "> 1.2.3.4:5: hi there");
    socket
        .write_all("> 1.2.3.4:5: no newline ✓".as_bytes())
        .unwrap();
    // Printed while the connection is still open: the client does not hold
    // unterminated text back until the server closes.
    client.wait_for_printed("stdout", "> 1.2.3.4:5: no newline ✓");
    drop(socket);
    client.wait_for("stderr", "Disconnected from the server.");
    // A close with no goodbye: the connection was lost.
    assert_eq!(client.exit_code(), Some(3));
    // The unterminated text is printed too (the helper sees it as a line once
    // stdout closes).
    let printed = client.rest();
    assert!(
        printed.contains(&"stdout: > 1.2.3.4:5: no newline ✓".to_string()),
        "{printed:#?}"
    );
}

/// `--name` asks for the name; a refusal is explained on stderr and the
/// client carries on under its address.
#[test]
fn client_name_flag() {
    let server = TestServer::start();
    let mut peer = server.connect();
    peer.send("/nick taken");
    peer.expect("* you are now taken");
    let mut args = port_args(server.addr.port());
    args.extend(["--name".to_string(), "ann".to_string()]);
    let mut ann = client_binary(&args);
    ann.wait_for("stdout", "* you are now ann");
    peer.wait_for("the rename", |l| l.ends_with(" is now known as ann"));
    let mut args = port_args(server.addr.port());
    args.extend(["--name".to_string(), "TAKEN".to_string()]);
    let mut refused = client_binary(&args);
    refused.wait_for("stderr", "refused the name TAKEN (name TAKEN is taken)");
    refused.type_line("still talking");
    peer.wait_for("the message", |l| {
        l.starts_with("> 127.0.0.1:") && l.ends_with(": still talking")
    });
}
