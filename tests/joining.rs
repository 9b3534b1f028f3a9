//! Joining under your name: a client whose first act is `/nick NAME` is
//! announced once, as `* NAME joined`; a silent one by address after the join
//! grace; one whose first line is chat before that line.

use std::process::Command;
use std::time::Duration;

mod common;
use common::{ChildGuard, Client, TestServer};

/// The server's default grace, so these tests see what a class sees.
fn with_grace() -> TestServer {
    TestServer::with(|c| c.join_grace = Duration::from_millis(500))
}

/// A raw socket (like `nc`) whose first line is `/nick ann`: the others see
/// exactly `* ann joined`, no rename line; ann gets its welcome and
/// `* you are now ann` as before.
#[test]
fn a_client_that_names_itself_first_is_announced_once_by_name() {
    let server = with_grace();
    let mut observer = server.connect();
    let mut ann = Client::connect_raw(server.addr);
    ann.send("/nick ann");
    let welcome = ann.line();
    assert!(welcome.starts_with("* welcome 127.0.0.1:"), "{welcome}");
    ann.expect("* you are now ann");
    observer.expect("* ann joined");
    ann.send("hello");
    observer.expect("> ann: hello");
}

/// The real client with `--name ann`: the same single line.
#[test]
fn client_name_flag_joins_under_the_name() {
    let server = with_grace();
    let mut observer = server.connect();
    let mut command = Command::new(env!("CARGO_BIN_EXE_client"));
    command.args(["--port", &server.addr.port().to_string(), "--name", "ann"]);
    let mut client = ChildGuard::spawn(command);
    observer.expect("* ann joined");
    client.type_line("hi from ann");
    observer.expect("> ann: hi from ann");
}

/// A client that says nothing is still announced, by address, once its grace
/// is over; the address is its name from the start.
#[test]
fn a_silent_client_is_announced_by_address() {
    let server = with_grace();
    let mut observer = server.connect();
    let silent = Client::connect(server.addr);
    let line = observer
        .try_line(Duration::from_secs(3))
        .expect("the silent client is announced");
    assert_eq!(line, format!("* {} joined", silent.name));
}

/// A client whose first line is chat is announced (by address) before that
/// line is relayed; a later `/nick` is a rename, seen as such.
#[test]
fn a_client_that_chats_first_is_announced_before_its_line() {
    let server = with_grace();
    let mut observer = server.connect();
    let mut talker = Client::connect(server.addr);
    talker.send("hi all");
    let name = talker.name.clone();
    observer.expect(&format!("* {name} joined"));
    observer.expect(&format!("> {name}: hi all"));
    talker.send("/nick tom");
    observer.expect(&format!("* {name} is now known as tom"));
}

/// A first `/nick` that is refused: announced by address, then told why.
#[test]
fn a_refused_first_nick_is_announced_by_address() {
    let server = with_grace();
    let mut observer = server.connect();
    observer.send("/nick bob");
    observer.expect("* you are now bob");
    let mut late = Client::connect(server.addr);
    late.send("/nick BOB");
    late.expect("! name BOB is taken");
    observer.expect(&format!("* {} joined", late.name));
}

/// In the chunk-framing demo mode too, a client whose first chunk is chat is
/// announced before its chunk is relayed.
#[test]
fn chunk_mode_announces_before_the_first_chunk() {
    let server = TestServer::with(|c| {
        c.join_grace = Duration::from_millis(500);
        c.framing = chatroom::Framing::Chunks;
    });
    let mut observer = server.connect();
    let mut talker = Client::connect(server.addr);
    talker.send("hello");
    observer.expect(&format!("* {} joined", talker.name));
    let chunk = observer.line();
    assert_eq!(chunk, format!("> {}: hello", talker.name));
}
