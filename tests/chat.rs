//! The core chat room over real loopback sockets: relaying, framing,
//! sanitising, limits, joins and leaves (protocol v1, docs/PROTOCOL.md).

mod common;

use std::net::Shutdown;
use std::time::Duration;

use common::{Client, TestServer};

/// A line goes to every other client as `> NAME: TEXT`, never back to its sender.
#[test]
fn chat_reaches_everyone_but_the_sender() {
    let server = TestServer::start();
    let mut room = server.room(3);
    let sender = room[0].name.clone();
    room[0].send("hello, room");
    room[1].expect(&format!("> {sender}: hello, room"));
    room[2].expect(&format!("> {sender}: hello, room"));
    // Had the sender got its own line back, it would come before this one.
    room[1].send("marker");
    let marker_from = room[1].name.clone();
    room[0].expect(&format!("> {marker_from}: marker"));
}

/// The welcome names the client and counts the others; joins and leaves are announced.
#[test]
fn welcome_join_and_leave_notices() {
    let server = TestServer::start();
    let mut first = server.connect();
    assert!(
        first.history[0].contains(", 0 others online"),
        "{:?}",
        first.history
    );
    let second = server.connect();
    assert!(
        second.history[0].contains(", 1 other online"),
        "{:?}",
        second.history
    );
    assert!(second.history[0].contains("/help"));
    first.expect(&format!("* {} joined", second.name));
    let name = second.name.clone();
    drop(second);
    first.expect(&format!("* {name} left"));
}

/// A client's name is its address as the server sees it, `IP:PORT`.
#[test]
fn default_name_is_the_peer_address() {
    let server = TestServer::start();
    let client = server.connect();
    let local = client.stream.local_addr().unwrap();
    assert_eq!(client.name, local.to_string());
}

/// One line in many writes, and many lines in one write, come out as whole lines.
#[test]
fn lines_are_reassembled_from_any_split() {
    let server = TestServer::start();
    let mut room = server.room(2);
    let name = room[0].name.clone();
    for piece in ["he", "llo wo", "rld\nsecond ", "line\nthird\nfou", "rth\n"] {
        room[0].send_raw(piece.as_bytes());
        // Each piece is read on its own: the server has read it before the
        // next is sent, so every cut above is a cut between two reads.
        room[0].until_server_has_read_all();
    }
    for text in ["hello world", "second line", "third", "fourth"] {
        room[1].expect(&format!("> {name}: {text}"));
    }
}

/// `\r\n` endings, surrounding blanks and empty lines are handled as documented.
#[test]
fn crlf_trimming_and_empty_lines() {
    let server = TestServer::start();
    let mut room = server.room(2);
    let name = room[0].name.clone();
    room[0].send_raw(b"from telnet\r\n\r\n   \n\t padded \t\nlast\n");
    room[1].expect(&format!("> {name}: from telnet"));
    room[1].expect(&format!("> {name}: padded"));
    room[1].expect(&format!("> {name}: last"));
}

/// Invalid UTF-8 becomes U+FFFD and does not cost the connection.
#[test]
fn invalid_utf8_is_replaced_not_fatal() {
    let server = TestServer::start();
    let mut room = server.room(2);
    let name = room[0].name.clone();
    // (Not 0xff: that byte is telnet's IAC, which the telnet filter removes.)
    room[0].send_raw(b"bad \xfe\xc3 bytes\n");
    room[1].expect(&format!("> {name}: bad \u{fffd}\u{fffd} bytes"));
    room[0].send("still here");
    room[1].expect(&format!("> {name}: still here"));
}

/// Escape sequences, C1 controls and bidi overrides never reach another screen.
#[test]
fn control_characters_are_removed() {
    let server = TestServer::start();
    let mut room = server.room(2);
    let name = room[0].name.clone();
    room[0].send_raw("\x1b[2J\x1b[31mred\x07 \u{202e}txet\u{2069} \u{85}ok\x7f\n".as_bytes());
    room[1].expect(&format!("> {name}: [2J[31mred txet ok"));
    // A line that is nothing but controls is empty after cleaning: ignored.
    room[0].send_raw(b"\x1b\x1b\x00\n");
    room[0].send("after");
    room[1].expect(&format!("> {name}: after"));
}

/// An overlong line is refused whole with an error; the connection carries on.
#[test]
fn overlong_line_is_refused_and_the_connection_survives() {
    let server = TestServer::with(|c| c.max_line_bytes = 64);
    let mut room = server.room(2);
    let name = room[0].name.clone();
    let exact = "x".repeat(64);
    room[0].send(&exact);
    room[1].expect(&format!("> {name}: {exact}"));
    // A long line, sent in pieces, some of it before the error could be known.
    room[0].send_raw(&[b'y'; 50]);
    room[0].send_raw(&[b'y'; 5000]);
    room[0].send_raw(b"yyy\nafter\n");
    room[0].expect("! line too long (max 64 bytes)");
    room[1].expect(&format!("> {name}: after"));
}

/// A connection reset is announced as such and removes only that client.
#[test]
fn reset_client_is_removed_alone() {
    let server = TestServer::start();
    let mut room = server.room(3);
    let gone = room.pop().unwrap();
    let name = gone.name.clone();
    room[0].send("unread by the leaver");
    room[1].line();
    // Unread data at close makes the kernel send RST instead of FIN: `reset`
    // waits until that line sits unread in the leaver's buffer, then closes.
    gone.reset();
    for client in &mut room {
        let notice = client.wait_for("the leave notice", |l| {
            l.starts_with(&format!("* {name} left"))
        });
        // The server saw a reset, not an ordinary close.
        assert_eq!(notice, format!("* {name} left (connection reset)"));
    }
    room[0].send("still chatting");
    let sender = room[0].name.clone();
    room[1].expect(&format!("> {sender}: still chatting"));
}

/// A half-closed client is removed exactly once, and its last line still counts.
#[test]
fn half_closed_client_leaves_once() {
    let server = TestServer::start();
    let mut room = server.room(2);
    let name = room[0].name.clone();
    room[0].send_raw(b"last words\n");
    room[0].stream.shutdown(Shutdown::Write).unwrap();
    room[1].expect(&format!("> {name}: last words"));
    room[1].expect(&format!("* {name} left"));
    room[0].expect_closed();
    let mut third = server.connect();
    third.send("/who");
    third.expect(&format!("* online (2): {}, {}", room[1].name, third.name));
}

/// Over `--max-clients`, a client is told and closed; the others carry on.
#[test]
fn server_full_refuses_politely() {
    let server = TestServer::with(|c| c.max_clients = 2);
    let mut room = server.room(2);
    let mut extra = Client::connect_raw(server.addr);
    extra.name = "extra".into();
    extra.expect("! server full (2 clients), try again later");
    extra.expect_closed();
    room[0].send("unbothered");
    let name = room[0].name.clone();
    room[1].expect(&format!("> {name}: unbothered"));
    // A place frees up when someone leaves.
    let leaver = room.pop().unwrap();
    let leaver_name = leaver.name.clone();
    drop(leaver);
    room[0].expect(&format!("* {leaver_name} left"));
    let _newcomer = Client::connect(server.addr);
}

/// Shutdown delivers what was accepted, then the goodbye, then closes everyone.
#[test]
fn shutdown_says_goodbye_after_pending_messages() {
    let server = TestServer::start();
    let mut room = server.room(2);
    let name = room[0].name.clone();
    for i in 0..30 {
        room[0].send(&format!("in flight {i}"));
    }
    // The last line is read by the server before shutdown starts: wait for it.
    room[1].wait_for("the last line", |l| l.ends_with("in flight 29"));
    server.stop();
    room[0].expect("* server shutting down");
    room[0].expect_closed();
    room[1].expect("* server shutting down");
    room[1].expect_closed();
    assert_eq!(
        room[1]
            .history
            .iter()
            .filter(|l| l.starts_with(&format!("> {name}")))
            .count(),
        30
    );
}

/// Many clients: every one gets the message, and shutdown still takes about a second at most.
#[test]
fn a_hundred_clients_and_a_quick_shutdown() {
    let server = TestServer::with(|c| c.rate_limit = 0);
    let mut room = server.room(100);
    room[0].send("to all");
    let name = room[0].name.clone();
    for client in &mut room[1..] {
        client.expect(&format!("> {name}: to all"));
    }
    let took = server.stop();
    for client in &mut room {
        client.expect("* server shutting down");
    }
    assert!(took < Duration::from_secs(5), "shutdown took {took:?}");
}

/// Over IPv6 the name is `[IP]:PORT` (skipped where the machine has no IPv6 loopback).
#[test]
fn ipv6_names_are_bracketed() {
    if std::net::TcpListener::bind("[::1]:0").is_err() {
        eprintln!("no IPv6 loopback here; nothing to check");
        return;
    }
    let server = TestServer::with(|c| c.host = "::1".into());
    assert!(server.addr.is_ipv6());
    let mut room = server.room(2);
    assert!(room[0].name.starts_with("[::1]:"), "{}", room[0].name);
    room[0].send("over six");
    let name = room[0].name.clone();
    room[1].expect(&format!("> {name}: over six"));
}
