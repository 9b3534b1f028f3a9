//! The class code (`--key`, issue 25): without the code a connection is
//! asked for it and nobody hears of it; the right code lets it in, lines
//! sent with it included; a wrong code closes it; repeated wrong codes from
//! one address are slowed (and, the admission's unit tests show, refused
//! for a while); `/stats` counts who was turned away.

use std::time::{Duration, Instant};

mod common;
use common::{Client, TestServer};

const CODE: &str = "open sesame";

/// A server with the code, and the default join grace: a client that
/// names itself at once is announced by its name.
fn server() -> TestServer {
    TestServer::with(|c| {
        c.key = Some(CODE.to_string());
        c.join_grace = Duration::from_millis(500);
    })
}

/// Connects and gives the right code; returns the client after its welcome.
fn enter(server: &TestServer) -> Client {
    let mut client = Client::connect_raw(server.addr);
    client.expect("! this class needs a code: /key CODE");
    client.send(&format!("/key {CODE}"));
    let welcome = client.line();
    client.name = welcome
        .strip_prefix("* welcome ")
        .and_then(|rest| rest.split(", ").next())
        .unwrap_or_else(|| panic!("a welcome, got {welcome}"))
        .to_string();
    client
}

/// Without the code, a connection is asked for it at once and again for
/// each line it sends; it is not announced and its lines reach nobody.
#[test]
fn without_the_code_nobody_hears_of_a_connection() {
    let server = server();
    let mut inside = enter(&server);
    let mut outside = Client::connect_raw(server.addr);
    outside.expect("! this class needs a code: /key CODE");
    outside.send("hello?");
    outside.expect("! this class needs a code: /key CODE");
    outside.send("/nick sneaky");
    outside.expect("! this class needs a code: /key CODE");
    // The one inside hears of nobody: its next line is a newcomer's join.
    let newcomer = enter(&server);
    inside.expect(&format!("* {} joined", newcomer.name));
}

/// The right code lets a connection in; lines sent in the same write as
/// the code are handled as usual once it is in.
#[test]
fn the_right_code_lets_a_connection_in() {
    let server = server();
    let mut ann = enter(&server);
    let mut bob = Client::connect_raw(server.addr);
    bob.expect("! this class needs a code: /key CODE");
    bob.send_raw(format!("/key {CODE}\n/nick bob\nhi all\n").as_bytes());
    bob.wait_for("the welcome", |l| l.starts_with("* welcome "));
    bob.expect("* you are now bob");
    ann.expect("* bob joined");
    ann.expect("> bob: hi all");
}

/// A wrong code is answered `! wrong code` and the connection is closed.
#[test]
fn a_wrong_code_closes_the_connection() {
    let server = server();
    let mut guess = Client::connect_raw(server.addr);
    guess.expect("! this class needs a code: /key CODE");
    guess.send("/key abracadabra");
    guess.expect("! wrong code");
    guess.expect_closed();
}

/// An address that keeps guessing is slowed: the first three wrong codes
/// are answered at once, the fourth only after a pause. `/stats` counts
/// every one turned away.
#[test]
fn repeated_wrong_codes_are_slowed() {
    let server = server();
    for round in 1..=4 {
        let mut guess = Client::connect_raw(server.addr);
        guess.expect("! this class needs a code: /key CODE");
        let asked = Instant::now();
        guess.send(&format!("/key guess{round}"));
        guess.expect("! wrong code");
        let took = asked.elapsed();
        if round <= 3 {
            assert!(
                took < Duration::from_millis(900),
                "guess {round} took {took:?}"
            );
        } else {
            assert!(
                took >= Duration::from_secs(1),
                "guess {round} took {took:?}"
            );
        }
    }
    let mut ann = enter(&server);
    ann.send("/stats");
    let stats = ann.wait_for("the stats", |l| l.starts_with("* stats:"));
    assert!(stats.ends_with(", turned away 4"), "{stats}");
}

/// A connection that never gives the code does not hold up the server's
/// stop: nobody else knows of it, so its reader looks up while it waits.
#[test]
fn a_connection_waiting_for_the_code_does_not_hold_up_a_stop() {
    let server = server();
    let mut waiting = Client::connect_raw(server.addr);
    waiting.expect("! this class needs a code: /key CODE");
    // Blank lines are no code, and buy no time.
    waiting.send("");
    assert!(
        server.stop_within(Duration::from_secs(5)),
        "the stop waited for the connection asked for the code"
    );
}
