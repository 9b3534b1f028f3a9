//! Rooms: `/join`, `/rooms`, `/who` per room, chat and `/me` kept in the
//! room, `/msg` across rooms, rooms that empty disappearing, the order of
//! lines around a `/join`, crowded rooms, and the console's `move`.

mod common;
use common::{console_server_with_bob, Client, TestServer};

/// Names everyone in a fresh room of four: ann, bob, carl, dee.
fn four(server: &TestServer) -> Vec<Client> {
    let mut room = server.room(4);
    for (i, name) in ["ann", "bob", "carl", "dee"].iter().enumerate() {
        room[i].send(&format!("/nick {name}"));
        room[i].expect(&format!("* you are now {name}"));
        let old = room[i].name.clone();
        for (j, other) in room.iter_mut().enumerate() {
            if j != i {
                other.expect(&format!("* {old} is now known as {name}"));
            }
        }
        room[i].name = name.to_string();
    }
    room
}

/// The whole flow with four clients.
#[test]
fn join_chat_who_rooms_and_leave() {
    let server = TestServer::start();
    let mut c = four(&server);
    c[0].send("/join lab1");
    c[0].expect("* you are now in lab1");
    for other in &mut c[1..] {
        other.expect("* ann left (went to lab1)");
    }
    c[1].send("/join LAB1");
    c[1].expect("* you are now in lab1");
    c[0].expect("* bob joined");
    for other in &mut c[2..] {
        other.expect("* bob left (went to lab1)");
    }
    c[1].send("/join lab1");
    c[1].expect("* you are already in lab1");
    // Chat and /me stay in the room.
    c[0].send("only for lab1");
    c[1].expect("> ann: only for lab1");
    c[1].send("/me nods");
    c[0].expect("* bob nods");
    c[2].send("lobby talk");
    c[3].expect("> carl: lobby talk");
    // /msg crosses rooms.
    c[3].send("/msg ann hello from the lobby");
    c[0].expect("> dee (private): hello from the lobby");
    // /who lists the room, /rooms every room.
    c[0].send("/who");
    c[0].expect("* online (2): ann, bob");
    c[2].send("/who");
    c[2].expect("* online (2): carl, dee");
    c[2].send("/rooms");
    c[2].expect("* rooms (2): lobby (2), lab1 (2)");
    // Bad names and usage.
    c[2].send("/join 9lives");
    c[2].expect(
        "! invalid room name: use 1 to 20 ASCII letters, digits, _ or -, starting with a letter",
    );
    c[2].send("/join");
    c[2].expect("! usage: /join ROOM");
    c[2].send("/join a b");
    c[2].expect(
        "! invalid room name: use 1 to 20 ASCII letters, digits, _ or -, starting with a letter",
    );
    // Nothing of lab1 reached the lobby: carl's next line is dee's.
    c[3].send("still here");
    c[2].expect("> dee: still here");
    // A disconnect is told to its room only; an emptied room disappears.
    let bob = c.remove(1);
    drop(bob);
    c[0].wait_for("bob's leave", |l| l.starts_with("* bob left"));
    c[0].send("/join lobby");
    c[0].expect("* you are now in lobby");
    c[1].expect("* ann joined");
    c[2].expect("* ann joined");
    c[1].send("/rooms");
    c[1].expect("* rooms (1): lobby (3)");
}

/// Lines sent before a `/join` go to the old room, lines after it to the new
/// one, even when all of them arrive in one write.
#[test]
fn lines_around_a_join_keep_their_order() {
    let server = TestServer::with(|c| c.rate_limit = 0);
    let mut c = four(&server);
    c[1].send("/join lab");
    c[1].expect("* you are now in lab");
    for i in [0, 2, 3] {
        c[i].expect("* bob left (went to lab)");
    }
    let mut burst = String::new();
    for n in 0..200 {
        burst.push_str(&format!("before {n}\n"));
    }
    burst.push_str("/join lab\n");
    for n in 0..200 {
        burst.push_str(&format!("after {n}\n"));
    }
    c[0].send_raw(burst.as_bytes());
    for n in 0..200 {
        c[2].expect(&format!("> ann: before {n}"));
    }
    c[2].expect("* ann left (went to lab)");
    c[1].expect("* ann joined");
    for n in 0..200 {
        c[1].expect(&format!("> ann: after {n}"));
    }
    // The lobby got nothing after the move: its next line is this.
    c[3].send("end");
    c[2].expect("> dee: end");
}

/// In a room of more than `--crowd` members, joins and leaves come as one
/// summary a second; a smaller room hears each one.
#[test]
fn a_crowded_room_hears_summaries() {
    let server = TestServer::with(|c| c.crowd = 3);
    let mut observer = server.connect();
    let mut others = Vec::new();
    for _ in 0..2 {
        let other = server.connect();
        observer.expect(&format!("* {} joined", other.name));
        others.push(other);
    }
    // Past three members: counted, then summed up.
    for _ in 0..4 {
        others.push(server.connect());
    }
    let line = observer.wait_for("a summary", |l| l.contains(" here)"));
    assert_eq!(line, "* 4 joined (7 here)");
    drop(others.pop());
    let line = observer.wait_for("a summary", |l| l.contains(" here)"));
    assert_eq!(line, "* 1 left (6 here)");
}

/// The console's `move` moves a client as `/join` would, and `say` reaches
/// every room.
#[test]
fn the_console_moves_clients_and_speaks_to_every_room() {
    let (mut server, _addr, mut ann, mut bob) = console_server_with_bob();
    server.type_line("move bob group2");
    server.wait_for("stdout", "ok: moved bob to group2");
    bob.expect("* the teacher moved you to group2");
    ann.expect("* bob left (went to group2)");
    server.type_line("say time is up");
    ann.expect("* [server] time is up");
    bob.expect("* [server] time is up");
    server.type_line("move bob group2");
    server.wait_for("stdout", "error: bob is already in group2");
}

/// `--history` is kept per room, and `/join` shows the new room's history.
#[test]
fn each_room_has_its_own_history() {
    let server = TestServer::with(|c| c.history = 5);
    let mut c = four(&server);
    c[0].send("/join lab");
    c[0].expect("* you are now in lab");
    for other in &mut c[1..] {
        other.expect("* ann left (went to lab)");
    }
    c[0].send("lab line");
    // The answer to ann's /who comes after her line has been relayed (one
    // reader, one channel, in order): it is in lab's history now.
    c[0].send("/who");
    c[0].expect("* online (1): ann");
    c[1].send("lobby line");
    c[2].expect("> bob: lobby line");
    c[2].send("/join lab");
    c[2].expect("* you are now in lab");
    c[2].expect("* history: the last 1 line");
    c[2].expect("> ann: lab line");
    c[2].expect("* end of history");
    c[0].expect("* carl joined");
}

/// History is bounded in bytes whatever `--history` asks: with the room's
/// log at its smallest (128 KiB), `--history 10000` after two thousand
/// lines of a kilobyte shows a newcomer only what the log still holds (and
/// at most half its own queue), the newest lines, in order.
#[test]
fn history_is_bounded_by_the_room_log() {
    let server = TestServer::with(|c| {
        c.rate_limit = 0;
        c.history = 10_000;
        c.room_log_bytes = chatroom::config::MIN_ROOM_LOG_BYTES;
    });
    let mut talker = server.connect();
    let filler = "x".repeat(1000);
    let mut batch = String::new();
    for i in 0..2000 {
        batch.push_str(&format!("{i:04} {filler}\n"));
    }
    talker.send_raw(batch.as_bytes());
    talker.send("/who");
    talker.wait_for("the who answer after the lines", |l| {
        l.starts_with("* online")
    });
    let mut late = server.connect();
    let heading = late.line();
    let count: usize = heading
        .strip_prefix("* history: the last ")
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("a history heading, got {heading}"));
    assert!(
        count > 0 && count * 1024 <= chatroom::config::MIN_ROOM_LOG_BYTES,
        "{count} lines of history"
    );
    let mut previous = None;
    for _ in 0..count {
        let line = late.line();
        let number: u32 = line
            .split(": ")
            .nth(1)
            .and_then(|rest| rest.split(' ').next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("a numbered line, got {line:.40}"));
        if let Some(previous) = previous {
            assert_eq!(number, previous + 1, "in order");
        }
        previous = Some(number);
    }
    assert_eq!(previous, Some(1999), "the newest lines");
    late.expect("* end of history");
}
