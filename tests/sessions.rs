//! Sessions (issue 25) at the wire: `/session` gives a token and numbered
//! runs of room lines; a connection that breaks is held for a minute (its
//! name stays taken, the room is not told); `/resume TOKEN LAST` on a new
//! connection gets back the name, the room and exactly the lines missed.
//! Raw clients on an in-process server; the real client's reconnecting is
//! tested in `tests/client.rs`.

use std::time::Duration;

mod common;
use common::{Client, TestServer};

/// A raw client that speaks the session protocol: it counts the room lines
/// it gets from the `#SEQ COUNT` markers, as the real client does.
struct Numbered {
    client: Client,
    token: String,
    last: u64,
    /// The next number, and how many lines of the current run are left.
    run: (u64, u64),
}

impl Numbered {
    /// Names itself `name`, asks for a session, and waits for its token.
    fn join(server: &TestServer, name: &str) -> Numbered {
        let mut client = Client::connect(server.addr);
        client.send(&format!("/nick {name}"));
        client.expect(&format!("* you are now {name}"));
        client.send("/session");
        let line = client.wait_for("the token", |l| l.starts_with("#session "));
        let mut words = line.split(' ').skip(1);
        let token = words.next().expect("a token").to_string();
        let last = words.next().and_then(|n| n.parse().ok()).expect("a number");
        Numbered {
            client,
            token,
            last,
            run: (0, 0),
        }
    }

    /// The next line that is not a marker, counting room lines.
    fn line(&mut self) -> String {
        loop {
            let line = self.client.line();
            if let Some(marker) = line.strip_prefix('#') {
                let mut words = marker.split(' ');
                if let (Some(seq), Some(count)) = (words.next(), words.next()) {
                    if let (Ok(seq), Ok(count)) = (seq.parse(), count.parse()) {
                        self.run = (seq, count);
                        continue;
                    }
                }
                continue; // `#session ...`
            }
            if self.run.1 > 0 {
                self.last = self.run.0;
                self.run = (self.run.0 + 1, self.run.1 - 1);
            }
            return line;
        }
    }

    fn expect(&mut self, want: &str) {
        let got = self.line();
        assert_eq!(got, want, "history: {:?}", self.client.history);
    }
}

/// A server whose newcomers have the default join grace, so a connection
/// that resumes with its first line is never announced by its address.
fn server() -> TestServer {
    TestServer::with(|c| c.join_grace = Duration::from_millis(500))
}

/// ann's connection is reset (with a line of bob's unread: lost with it);
/// carol tries ann's name and joins; bob says three more lines; ann's new
/// connection resumes and gets exactly the five room lines she missed, in
/// order, then how many; bob never hears that ann left; meanwhile nobody
/// may take her name.
#[test]
fn a_broken_connection_resumes_with_exactly_the_lines_it_missed() {
    let server = server();
    let mut ann = Numbered::join(&server, "ann");
    let mut bob = Client::connect(server.addr);
    bob.send("/nick bob");
    bob.expect("* you are now bob");
    ann.expect("* bob joined");
    bob.send("before the break");
    ann.expect("> bob: before the break");
    let (token, last) = (ann.token.clone(), ann.last);
    // A line reaches ann's machine but not ann: the reset throws it away,
    // so she has missed it too.
    bob.send("lost in the break");
    ann.client.reset();
    // While ann is away: her name is held.
    let mut carol = Client::connect(server.addr);
    carol.send("/nick ann");
    carol.expect("! name ann is taken");
    for i in 1..=3 {
        bob.send(&format!("gap {i}"));
    }
    // Said while ann is away: in the room before she resumes.
    carol.wait_for("bob's last line", |l| l == "> bob: gap 3");
    let mut back = Numbered {
        client: Client::connect(server.addr),
        token: String::new(),
        last: 0,
        run: (0, 0),
    };
    back.client.send(&format!("/resume {token} {last}"));
    back.expect("> bob: lost in the break");
    // carol, refused ann's name, was announced by her address at once.
    back.expect(&format!("* {} joined", carol.name));
    for i in 1..=3 {
        back.expect(&format!("> bob: gap {i}"));
    }
    back.expect("* resumed: 5 lines you missed");
    back.client.send("/who");
    let who = back.line();
    assert!(
        who.starts_with("* online (") && who.contains("ann"),
        "{who}"
    );
    back.client.send("I am back");
    // bob's next lines: carol's join, then ann's line: no `ann left`, no
    // `ann joined`.
    bob.wait_for("ann's line", |l| {
        assert!(
            !l.contains("ann left") && !l.starts_with("* ann joined"),
            "{l}"
        );
        l == "> ann: I am back"
    });
}

/// A session whose connection the server still thinks alive (the client
/// saw it drop, the server did not) is taken over: the old connection is
/// cut off silently, the new one goes on under the name.
#[test]
fn a_live_session_is_taken_over_by_its_new_connection() {
    let server = server();
    let mut ann = Numbered::join(&server, "ann");
    let mut bob = Client::connect(server.addr);
    bob.send("/nick bob");
    bob.expect("* you are now bob");
    ann.expect("* bob joined");
    let mut again = Client::connect(server.addr);
    again.send(&format!("/resume {} {}", ann.token, ann.last));
    again.expect(&format!("#session {} {}", ann.token, ann.last));
    again.expect("* resumed: 0 lines you missed");
    ann.client.expect_closed();
    again.send("still me");
    bob.expect("> ann: still me");
}

/// A client that sends its class code first, to a server that has none (a
/// restart without `--key`), may still resume with the line after it.
#[test]
fn a_code_before_the_resume_does_not_count_as_the_first_line() {
    let server = server();
    let mut ann = Numbered::join(&server, "ann");
    let mut again = Client::connect_raw(server.addr);
    again.wait_for("the welcome", |l| l.starts_with("* welcome "));
    again.send("/key owl");
    again.expect("* no code needed here");
    again.send(&format!("/resume {} {}", ann.token, ann.last));
    again.expect(&format!("#session {} {}", ann.token, ann.last));
    again.expect("* resumed: 0 lines you missed");
    ann.client.expect_closed();
}

/// On a server with no join grace, the new connection is announced by its
/// address before its `/resume` is read: the room then hears that address
/// leave as the session is taken back, so every join has its leave.
#[test]
fn a_resume_announced_by_address_leaves_under_it() {
    let server = TestServer::with(|c| c.join_grace = Duration::ZERO);
    let mut ann = Numbered::join(&server, "ann");
    let mut bob = Client::connect(server.addr);
    bob.send("/nick bob");
    bob.wait_for("bob's name", |l| l == "* you are now bob");
    ann.client
        .wait_for("bob", |l| l.ends_with("is now known as bob"));
    bob.send("unread");
    ann.client.reset();
    let mut back = Client::connect(server.addr);
    let address = back.name.clone();
    bob.expect(&format!("* {address} joined"));
    back.send(&format!("/resume {} {}", ann.token, ann.last));
    back.wait_for("the resume", |l| l.starts_with("* resumed: "));
    bob.expect(&format!("* {address} left"));
    back.send("still ann");
    bob.expect("> ann: still ann");
}

/// A token nobody has gets a clear no, and the connection goes on as a new
/// client, announced under the name it gives next; `/resume` after the
/// first line is refused.
#[test]
fn a_resume_without_a_session_goes_on_as_a_new_client() {
    let server = server();
    let mut bob = Client::connect(server.addr);
    bob.send("/nick bob");
    bob.expect("* you are now bob");
    let mut lost = Client::connect(server.addr);
    lost.send(&format!("/resume {} 7", "0".repeat(32)));
    lost.expect("! cannot resume: no such session (it ran out, or the server forgot it)");
    lost.send("/nick zed");
    lost.expect("* you are now zed");
    // Announced once, under the name it gave next, as any newcomer.
    bob.expect("* zed joined");
    lost.send("/resume abc 1");
    lost.expect("! /resume must be the first line");
}

/// A client that never asked for a session is not held: its reset is told
/// at once, and its name is free again.
#[test]
fn a_client_without_a_session_is_not_held() {
    let server = server();
    let mut ann = Client::connect(server.addr);
    ann.send("/nick ann");
    ann.expect("* you are now ann");
    let mut bob = Client::connect(server.addr);
    bob.send("/nick bob");
    bob.expect("* you are now bob");
    ann.expect("* bob joined");
    bob.send("unread");
    ann.reset();
    bob.expect("* ann left (connection reset)");
    bob.send("/nick ann");
    bob.expect("* you are now ann");
}

/// A held session that never comes back: when its hold runs out (here
/// `--hold-secs 1`), the room is told it left, with the reason its
/// connection ended, and its name is free again.
#[test]
fn a_held_session_that_never_comes_back_is_told_gone() {
    let server = TestServer::with(|c| {
        c.join_grace = Duration::from_millis(500);
        c.hold = Duration::from_secs(1);
    });
    let mut ann = Numbered::join(&server, "ann");
    let mut bob = Client::connect(server.addr);
    bob.send("/nick bob");
    bob.expect("* you are now bob");
    ann.expect("* bob joined");
    bob.send("unread");
    ann.client.reset();
    bob.expect("* ann left (connection reset)");
    bob.send("/nick ann");
    bob.expect("* you are now ann");
}

/// The server stops (SIGTERM) and starts again within a second on the same
/// port with the same transcript: three clients that had sessions resume
/// under their names (nobody is told anything left or joined), and a
/// client that joins afterwards gets the lines said before the restart as
/// its history.
#[cfg(unix)]
#[test]
fn a_restart_keeps_the_class() {
    use common::server_binary;
    use std::process::Command;

    let dir = std::env::temp_dir().join(format!("chatroom-restart-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let transcript = dir.join("class.jsonl");
    let _ = std::fs::remove_file(&transcript);
    let path = transcript.to_str().expect("a UTF-8 path").to_string();
    let args = ["--transcript", path.as_str(), "--history", "10", "--quiet"];
    let (mut first, addr) = server_binary(&args);
    let port = addr.port().to_string();
    let connect = |name: &str| {
        let mut client = Numbered {
            client: Client::connect(addr),
            token: String::new(),
            last: 0,
            run: (0, 0),
        };
        client.client.send(&format!("/nick {name}"));
        client.client.expect(&format!("* you are now {name}"));
        client.client.send("/session");
        let line = client
            .client
            .wait_for("the token", |l| l.starts_with("#session "));
        let mut words = line.split(' ').skip(1);
        client.token = words.next().expect("a token").to_string();
        client.last = words.next().and_then(|n| n.parse().ok()).expect("a number");
        client
    };
    let mut class = vec![connect("ann"), connect("bob"), connect("cy")];
    class[0].client.send("before the restart");
    for other in &mut class[1..] {
        other
            .client
            .wait_for("ann's line", |l| l.ends_with("before the restart"));
    }
    let pid = first.child.id().to_string();
    let stopped = Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill");
    assert!(stopped.success());
    assert_eq!(first.exit_code(), Some(0), "a clean stop");
    for client in &mut class {
        client
            .client
            .wait_for("the goodbye", |l| l == "* server shutting down");
    }
    let (_second, again) = server_binary(&[
        "--port",
        &port,
        "--transcript",
        &path,
        "--history",
        "10",
        "--quiet",
    ]);
    assert_eq!(again.port(), addr.port());
    // Each resumes from the last line it counted (none since its session
    // began): bob and cy missed ann's line; ann is not sent her own.
    let mut returned = Vec::new();
    for (client, (name, missed)) in class.iter().zip([("ann", 0), ("bob", 1), ("cy", 1)]) {
        let mut back = Client::connect(again);
        back.send(&format!("/resume {} {}", client.token, client.last));
        let resumed = back.wait_for("the resume", |l| l.starts_with("* resumed: "));
        assert!(
            resumed.starts_with(&format!("* resumed: {missed} line")),
            "{name}: {resumed}; {:?}",
            back.history
        );
        back.send("/who");
        let who = back.wait_for("the who answer", |l| l.starts_with("* online"));
        assert!(who.contains(name), "{who}");
        returned.push(back);
    }
    let mut late = Client::connect(again);
    late.expect("* history: the last 1 line");
    late.expect("> ann: before the restart");
    late.expect("* end of history");
    let _ = std::fs::remove_dir_all(&dir);
}

/// The goodbye is a numbered room line too, and a restarted server counts
/// on past it: a client that read the goodbye, and resumes after someone
/// joined the restarted server, gets that join.
#[cfg(unix)]
#[test]
fn a_restart_counts_on_past_the_goodbye() {
    use common::server_binary;
    use std::process::Command;

    let dir = std::env::temp_dir().join(format!("chatroom-goodbye-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a scratch folder");
    let path = dir.join("class.jsonl");
    let _ = std::fs::remove_file(&path);
    let path = path.to_str().expect("a UTF-8 path").to_string();
    let (mut first, addr) = server_binary(&["--transcript", &path, "--quiet"]);
    let mut ann = Numbered {
        client: Client::connect(addr),
        token: String::new(),
        last: 0,
        run: (0, 0),
    };
    ann.client.send("/nick ann");
    ann.expect("* you are now ann");
    ann.client.send("/session");
    // The token, and where her count starts.
    let line = ann
        .client
        .wait_for("the token", |l| l.starts_with("#session "));
    let mut words = line.split(' ').skip(1);
    ann.token = words.next().expect("a token").to_string();
    ann.last = words.next().and_then(|n| n.parse().ok()).expect("a number");
    let pid = first.child.id().to_string();
    let stopped = Command::new("kill").args(["-TERM", &pid]).status();
    assert!(stopped.expect("run kill").success());
    // She reads (and counts) the goodbye.
    ann.expect("* server shutting down");
    assert_eq!(first.exit_code(), Some(0));
    let port = addr.port().to_string();
    let (_second, again) = server_binary(&["--port", &port, "--transcript", &path, "--quiet"]);
    let mut carl = Client::connect(again);
    carl.send("/nick carl");
    carl.expect("* you are now carl");
    let mut back = Numbered {
        client: Client::connect(again),
        token: String::new(),
        last: 0,
        run: (0, 0),
    };
    back.client
        .send(&format!("/resume {} {}", ann.token, ann.last));
    back.expect("* carl joined");
    back.expect("* resumed: 1 line you missed");
    let _ = std::fs::remove_dir_all(&dir);
}
