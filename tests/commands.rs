//! Names and commands: `/nick`, `/who`, `/msg`, `/me`, `/help`, `/stats`,
//! `/quit`, `//`, and every error line they can produce.

mod common;

use std::sync::{Arc, Barrier};
use std::thread;

use chatroom::protocol::HELP;
use common::{Client, TestServer};

/// `/nick` renames: the others are told, the client is told, new lines carry the name.
#[test]
fn nick_renames_and_announces() {
    let server = TestServer::start();
    let mut room = server.room(3);
    let old = room[0].name.clone();
    room[0].send("/nick Ann");
    room[0].expect("* you are now Ann");
    room[1].expect(&format!("* {old} is now known as Ann"));
    room[2].expect(&format!("* {old} is now known as Ann"));
    room[0].send("hello");
    room[1].expect("> Ann: hello");
    room[2].expect("> Ann: hello");
    // Same name again: a notice, nothing broadcast.
    room[0].send("/nick Ann");
    room[0].expect("* you are already Ann");
    // A change of case of your own name is a rename.
    room[0].send("/nick ann");
    room[0].expect("* you are now ann");
    room[1].expect("* Ann is now known as ann");
    room[2].expect("* Ann is now known as ann");
}

/// Names are unique ignoring case; invalid names are refused with the rule.
#[test]
fn nick_errors() {
    let server = TestServer::start();
    let mut room = server.room(2);
    room[0].send("/nick bob");
    room[0].expect("* you are now bob");
    room[1].line();
    room[1].send("/nick BOB");
    room[1].expect("! name BOB is taken");
    for bad in ["1abc", "a.b", "waytoolongname_abcdefgh", "_x"] {
        room[1].send(&format!("/nick {bad}"));
        room[1].expect(
            "! invalid name: use 1 to 20 ASCII letters, digits, _ or -, starting with a letter",
        );
    }
    room[1].send("/nick");
    room[1].expect("! usage: /nick NAME");
    // None of it reached the first client: its next line is this one.
    room[1].send("done");
    let name = room[1].name.clone();
    room[0].expect(&format!("> {name}: done"));
}

/// Two clients racing for one name (in any case): exactly one wins.
#[test]
fn nick_race_has_one_winner() {
    for round in 0..20 {
        // A fresh room each round, so the last round's leavers do not interfere.
        let server = TestServer::start();
        let mut room = server.room(2);
        let barrier = Arc::new(Barrier::new(2));
        let name = format!("racer{round}");
        let handles: Vec<_> = room
            .drain(..)
            .enumerate()
            .map(|(i, mut client)| {
                let (barrier, name) = (barrier.clone(), name.clone());
                thread::spawn(move || {
                    let wanted = if i == 0 { name } else { name.to_uppercase() };
                    barrier.wait();
                    client.send(&format!("/nick {wanted}"));
                    let answer = client.wait_for("the answer", |l| {
                        l.starts_with("* you are now") || l.starts_with("! name")
                    });
                    (answer, client)
                })
            })
            .collect();
        // Keep both clients connected until both have answers: a client that
        // left would free the name for the other.
        let results: Vec<(String, Client)> =
            handles.into_iter().map(|h| h.join().unwrap()).collect();
        let answers: Vec<&String> = results.iter().map(|(answer, _)| answer).collect();
        let wins = answers
            .iter()
            .filter(|a| a.starts_with("* you are now"))
            .count();
        assert_eq!(wins, 1, "round {round}: {answers:?}");
    }
}

/// `/who` lists everyone, the asker included, in the order they joined.
#[test]
fn who_lists_in_join_order() {
    let server = TestServer::start();
    let mut room = server.room(3);
    room[1].send("/nick middle");
    room[1].expect("* you are now middle");
    room[2].send("/WHO");
    room[2].wait_for("the list", |l| l.starts_with("* online"));
    let want = format!("* online (3): {}, middle, {}", room[0].name, room[2].name);
    assert_eq!(room[2].history.last().unwrap(), &want);
}

/// `/msg` reaches only its recipient, found by name ignoring case.
#[test]
fn private_messages() {
    let server = TestServer::start();
    let mut room = server.room(3);
    room[1].send("/nick Bob");
    room[1].expect("* you are now Bob");
    room[0].line();
    room[2].line();
    let sender = room[0].name.clone();
    room[0].send("/msg bob  psst, over here ");
    room[1].expect(&format!("> {sender} (private): psst, over here"));
    room[0].send("/msg nobody hi");
    room[0].expect("! no such user nobody");
    room[0].send("/msg Bob");
    room[0].expect("! usage: /msg NAME TEXT");
    room[0].send("/msg");
    room[0].expect("! usage: /msg NAME TEXT");
    // The third client saw none of it: its next line is this public one.
    room[0].send("public");
    room[2].expect(&format!("> {sender}: public"));
    room[1].expect(&format!("> {sender}: public"));
}

/// `/me` is an action for the others; `/help` lists every command.
#[test]
fn me_and_help() {
    let server = TestServer::start();
    let mut room = server.room(2);
    room[0].send("/nick ann");
    room[0].expect("* you are now ann");
    room[1].line();
    room[0].send("/me waves");
    room[1].expect("* ann waves");
    room[0].send("/me");
    room[0].expect("! usage: /me TEXT");
    room[1].send("/Help");
    // Every line of the list, in its order, as a notice to the asker.
    assert!(HELP.len() >= 10, "{HELP:?}");
    for help in HELP {
        room[1].expect(&format!("* {help}"));
    }
    room[1].send("/Help me");
    room[1].expect("! usage: /help");
    // The other client saw none of it: its next line is this public one.
    let name = room[1].name.clone();
    room[1].send("done");
    room[0].expect(&format!("> {name}: done"));
}

/// `//TEXT` is chat starting with `/`; any other `/word` is an unknown command.
#[test]
fn escaped_slash_and_unknown_commands() {
    let server = TestServer::start();
    let mut room = server.room(2);
    let name = room[0].name.clone();
    room[0].send("//shrug");
    room[1].expect(&format!("> {name}: /shrug"));
    room[0].send("/dance wildly");
    room[0].expect("! unknown command /dance (try /help)");
    room[0].send("/");
    room[0].expect("! unknown command / (try /help)");
}

/// `/quit REASON`: `* bye`, the connection closes, the others see the reason.
#[test]
fn quit_with_and_without_reason() {
    let server = TestServer::start();
    let mut room = server.room(3);
    let name = room[0].name.clone();
    room[0].send("/quit gone fishing");
    room[0].expect("* bye");
    room[0].expect_closed();
    room[1].expect(&format!("* {name} left (quit: gone fishing)"));
    room[2].expect(&format!("* {name} left (quit: gone fishing)"));
    let name = room[1].name.clone();
    room[1].send("/QUIT");
    room[1].expect("* bye");
    room[1].expect_closed();
    room[2].expect(&format!("* {name} left"));
}

/// Lines after `/quit` in the same write are not relayed.
#[test]
fn nothing_after_quit_is_relayed() {
    let server = TestServer::start();
    let mut room = server.room(2);
    let name = room[0].name.clone();
    room[0].send_raw(b"before\n/quit\nafter\n");
    room[1].expect(&format!("> {name}: before"));
    room[1].expect(&format!("* {name} left"));
}

/// A rename racing with a stream of messages: every line arrives, in order,
/// under the name in force when it was sent.
#[test]
fn rename_racing_with_messages() {
    let server = TestServer::with(|c| c.rate_limit = 0);
    let mut room = server.room(2);
    let old = room[0].name.clone();
    let mut burst = String::new();
    for i in 0..200 {
        burst.push_str(&format!("line {i}\n"));
        if i == 99 {
            burst.push_str("/nick renamed\n");
        }
    }
    room[0].send_raw(burst.as_bytes());
    for i in 0..100 {
        room[1].expect(&format!("> {old}: line {i}"));
    }
    room[1].expect(&format!("* {old} is now known as renamed"));
    for i in 100..200 {
        room[1].expect(&format!("> renamed: line {i}"));
    }
}

/// Arguments are cleaned like chat text: no control characters get through.
#[test]
fn command_arguments_are_sanitised() {
    let server = TestServer::start();
    let mut room = server.room(2);
    room[0].send("/nick ann");
    room[0].expect("* you are now ann");
    room[1].line();
    room[0].send_raw("/me \x1b[5mblinks\u{202e}\n".as_bytes());
    room[1].expect("* ann [5mblinks");
    let line = format!("/msg {} \x07ding\n", room[1].name);
    room[0].send_raw(line.as_bytes());
    room[1].expect("> ann (private): ding");
}

/// A newcomer can use a freed name; `/msg` to an address name works too.
#[test]
fn freed_names_and_address_names() {
    let server = TestServer::start();
    let mut room = server.room(2);
    room[0].send("/nick solo");
    room[0].expect("* you are now solo");
    room[1].line();
    room.remove(0);
    room[0].expect("* solo left");
    let mut newcomer = Client::connect(server.addr);
    newcomer.send("/nick SOLO");
    newcomer.expect("* you are now SOLO");
    let target = room[0].name.clone();
    newcomer.send(&format!("/msg {target} hello address"));
    room[0].wait_for("the private message", |l| {
        l == "> SOLO (private): hello address"
    });
}

/// A client that renames before reading anything: the others still see it
/// join under its address first, then the rename, as it happened.
#[test]
fn join_is_announced_before_a_quick_rename() {
    let server = TestServer::start();
    let mut first = server.connect();
    let mut quick = Client::connect_raw(server.addr);
    quick.send("/nick quick");
    let address = quick.stream.local_addr().unwrap().to_string();
    first.expect(&format!("* {address} joined"));
    first.expect(&format!("* {address} is now known as quick"));
    quick.expect(&format!(
        "* welcome {address}, 1 other online, /help lists the commands"
    ));
    quick.expect("* you are now quick");
}
