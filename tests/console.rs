//! The teacher's console, driven through the server binary's standard input:
//! `say`, `who`, `kick`, `mute`, mistakes, the end of input, a server started
//! in the background; and `--history` for late joiners.

use std::time::Duration;

mod common;
mod tools;
use common::{console_server_with_bob, retry, server_binary, wait_until, Client, TIMEOUT};

/// `say` reaches everyone as `* [server] TEXT`; the console confirms on stdout.
#[test]
fn say_reaches_everyone() {
    let (mut server, addr) = server_binary(&["--join-grace-ms", "0"]);
    let mut ann = Client::connect(addr);
    let mut bob = Client::connect(addr);
    ann.expect(&format!("* {} joined", bob.name));
    server.type_line("say quiz starts in 5 minutes");
    server.wait_for("stdout", "ok: said to everyone");
    ann.expect("* [server] quiz starts in 5 minutes");
    bob.expect("* [server] quiz starts in 5 minutes");
}

/// `who` lists every client with its address, time, lines and queue.
#[test]
fn who_lists_every_client() {
    let (mut server, addr) = server_binary(&["--join-grace-ms", "0"]);
    let mut ann = Client::connect(addr);
    ann.send("/nick ann");
    ann.expect("* you are now ann");
    ann.send("one line");
    ann.send("/who");
    ann.wait_for("the who answer", |l| l.starts_with("* online"));
    let _bob = Client::connect(addr);
    server.type_line("/who");
    server.wait_for("stdout", "2 clients connected");
    let line = server.wait_for("stdout", "ann (127.0.0.1:");
    assert!(line.contains(", 1 line sent, 0 bytes queued"), "{line}");
    assert!(line.contains("connected 0h00m"), "{line}");
}

/// `kick NAME` and `kick NAME REASON`: the client gets its line and is
/// disconnected; the others see why.
#[test]
fn kick_with_and_without_a_reason() {
    let (mut server, addr, mut ann, mut bob) = console_server_with_bob();
    server.type_line("kick BOB pasting nonsense");
    server.wait_for("stdout", "ok: kicked bob");
    bob.expect("! kicked by the server: pasting nonsense");
    bob.expect_closed();
    ann.expect("* bob left (kicked: pasting nonsense)");
    let mut carl = Client::connect(addr);
    ann.expect(&format!("* {} joined", carl.name));
    server.type_line(&format!("kick {}", carl.name));
    carl.expect("! kicked by the server");
    carl.expect_closed();
    ann.expect(&format!("* {} left (kicked)", carl.name));
}

/// A kicked `nc`-style client that never closes is still disconnected: its
/// place is free again (a one-place server lets the next client in).
#[test]
fn a_kicked_client_that_never_closes_loses_its_place() {
    let (mut server, addr) = server_binary(&["--join-grace-ms", "0", "--max-clients", "1"]);
    let mut stubborn = Client::connect(addr);
    server.type_line(&format!("kick {}", stubborn.name));
    stubborn.expect("! kicked by the server");
    // It keeps its socket open; the server must still let the next one in.
    retry(
        "a place for the next client",
        TIMEOUT,
        Duration::from_millis(20),
        || {
            Client::connect_raw(addr)
                .line()
                .starts_with("* welcome")
                .then_some(())
        },
    );
    drop(stubborn);
}

/// `mute`: the muted client's chat, `/me` and `/msg` reach nobody and it is
/// told so; its commands still work; nobody else is told. `unmute` and a mute
/// that runs out both end it with `* you can talk again`.
#[test]
fn mute_unmute_and_expiry() {
    let (mut server, _addr, mut ann, mut bob) = console_server_with_bob();
    server.type_line("mute bob 60");
    server.wait_for("stdout", "ok: muted bob for 60 s");
    bob.expect("! you are muted for 60 s");
    for line in ["hello?", "/me waves", "/msg ann psst"] {
        bob.send(line);
        let answer = bob.line();
        assert!(answer.starts_with("! you are muted ("), "{answer}");
    }
    bob.send("/who");
    bob.wait_for("the who answer", |l| l.starts_with("* online (2)"));
    server.type_line("unmute bob");
    server.wait_for("stdout", "ok: unmuted bob");
    bob.expect("* you can talk again");
    bob.send("back");
    // Nothing of the muted lines reached ann: this is her next line.
    ann.expect("> bob: back");
    server.type_line("unmute bob");
    server.wait_for("stdout", "error: bob is not muted");
    // A short mute runs out by itself, noticed at the next line.
    server.type_line("mute bob 1");
    bob.expect("! you are muted for 1 s");
    bob.send("too soon");
    let answer = bob.line();
    assert!(answer.starts_with("! you are muted ("), "{answer}");
    wait_until(
        "the mute run out",
        TIMEOUT,
        Duration::from_millis(200),
        || {
            bob.send("/who");
            let line = bob.line();
            if line == "* you can talk again" {
                return Ok(());
            }
            assert!(line.starts_with("* online"), "{line}");
            Err(line)
        },
    );
    bob.send("free");
    ann.expect("> bob: free");
}

/// Unknown commands, unknown names and bad arguments get one error line, and
/// the server carries on.
#[test]
fn mistakes_get_one_error_line() {
    let (mut server, addr) = server_binary(&[]);
    server.type_line("dance");
    server.wait_for("stdout", "error: unknown command 'dance' (try help)");
    server.type_line("kick nobody");
    server.wait_for("stdout", "error: no such client nobody");
    server.type_line("mute");
    server.wait_for("stdout", "error: usage: mute NAME [SECONDS]");
    server.type_line("help");
    server.wait_for("stdout", "kick NAME [REASON]");
    Client::connect(addr).still_served();
}

/// At the end of its input (a closed pipe), the console stops and the
/// server goes on serving.
#[test]
fn the_end_of_input_stops_only_the_console() {
    let (mut server, addr) = server_binary(&[]);
    server.close_stdin();
    server.wait_for("stderr", "console: end of input");
    Client::connect(addr).still_served();
}

/// `shutdown` stops the server as Ctrl-C does.
#[test]
fn shutdown_from_the_console() {
    let (mut server, addr) = server_binary(&[]);
    let mut ann = Client::connect(addr);
    server.type_line("shutdown");
    ann.expect("* server shutting down");
    ann.expect_closed();
    assert_eq!(server.exit_code(), Some(0));
}

/// `--history 3`: a newcomer gets the last three public lines (chat and
/// actions, not private messages or notices) between two notices, in order.
#[test]
fn history_for_late_joiners() {
    let (_server, addr) = server_binary(&["--join-grace-ms", "0", "--history", "3"]);
    let mut first = Client::connect(addr);
    // Empty history: nothing but the welcome (the next line is our own).
    first.send("/who");
    first.wait_for("the who answer", |l| l.starts_with("* online (1)"));
    let mut second = Client::connect(addr);
    first.expect(&format!("* {} joined", second.name));
    let name = first.name.clone();
    for line in [
        "one",
        "two",
        "/me waves",
        &format!("/msg {} secret", second.name),
        "four",
    ] {
        first.send(line);
    }
    second.wait_for("the last line", |l| l.ends_with(": four"));
    let mut late = Client::connect(addr);
    late.expect("* history: the last 3 lines");
    late.expect(&format!("> {name}: two"));
    late.expect(&format!("* {name} waves"));
    late.expect(&format!("> {name}: four"));
    late.expect("* end of history");
}

/// A server started in the background of an interactive shell (`server &`)
/// is not stopped by its console reading the terminal: it keeps serving, and
/// its process is not in the stopped state. Run in a real terminal (tmux).
#[cfg(target_os = "linux")]
#[test]
fn a_background_server_is_not_stopped_by_its_console() {
    use std::process::Command;

    let test = "a_background_server_is_not_stopped_by_its_console";
    if !tools::ready(
        test,
        tools::tmux_missing(),
        "SKIP_TMUX",
        tools::INSTALL_TMUX,
    ) {
        return;
    }
    let dir = std::env::temp_dir().join(format!("chatroom-bg-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a temp dir");
    let log = dir.join("server.log");
    let pid_file = dir.join("server.pid");
    let socket = format!("chatroom-bg-{}", std::process::id());
    let tmux = |args: &[&str]| {
        Command::new("tmux")
            .args(["-L", &socket])
            .args(args)
            .output()
            .expect("tmux runs")
    };
    struct Kill(String, std::path::PathBuf);
    impl Drop for Kill {
        fn drop(&mut self) {
            if let Ok(pid) = std::fs::read_to_string(&self.1) {
                let _ = Command::new("kill").arg(pid.trim()).status();
            }
            let _ = Command::new("tmux")
                .args(["-L", &self.0, "kill-server"])
                .status();
        }
    }
    let _guard = Kill(socket.clone(), pid_file.clone());
    tmux(&[
        "new-session",
        "-d",
        "-x",
        "100",
        "-y",
        "20",
        "bash --norc -i",
    ]);
    let start = format!(
        "{} --port 0 2>{} & echo $! > {}",
        env!("CARGO_BIN_EXE_server"),
        log.display(),
        pid_file.display()
    );
    tmux(&["send-keys", &start, "Enter"]);
    // Its log is a file: poll it for the line that gives the address.
    let addr: std::net::SocketAddr = wait_until(
        "the server's address in its log",
        TIMEOUT,
        Duration::from_millis(50),
        || {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            let addr = text.lines().find_map(|l| {
                l.rsplit_once("listening on ")
                    .map(|(_, a)| a.trim().to_string())
            });
            addr.ok_or(text)
        },
    )
    .parse()
    .expect("an address");
    // Give a console that wrongly read the terminal time to be stopped: it
    // checks every 500 ms. Then the room must still work.
    std::thread::sleep(Duration::from_millis(1500));
    let mut ann = Client::connect(addr);
    ann.send("/who");
    ann.wait_for("the who answer", |l| l.starts_with("* online (1)"));
    let pid = std::fs::read_to_string(&pid_file).expect("the pid");
    let stat = std::fs::read_to_string(format!("/proc/{}/stat", pid.trim())).expect("its stat");
    let state = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.trim_start().chars().next());
    assert_ne!(state, Some(Some('T')), "the server was stopped: {stat}");
    // Brought to the foreground, it reads its console.
    tmux(&["send-keys", "fg", "Enter"]);
    std::thread::sleep(Duration::from_millis(1000));
    tmux(&["send-keys", "say from the foreground", "Enter"]);
    ann.expect("* [server] from the foreground");
}

/// A client kicked before it was announced (within its join grace) leaves
/// without a notice: nobody was told it came.
#[test]
fn a_client_kicked_before_its_announcement_leaves_unseen() {
    let (mut server, addr) = server_binary(&["--join-grace-ms", "5000"]);
    let mut ann = Client::connect_raw(addr);
    ann.send("/nick ann");
    ann.wait_for("the rename", |l| l == "* you are now ann");
    let quiet = Client::connect(addr);
    server.type_line(&format!("kick {}", quiet.name));
    server.wait_for("stdout", "ok: kicked");
    let mut late = Client::connect_raw(addr);
    late.send("/nick late");
    // ann's next line is the late one's join: nothing about the kicked one.
    ann.expect("* late joined");
}

/// While muted, nothing a student chooses reaches the others: a rename is
/// refused, a room move is silent in both rooms, a quit reason is dropped.
#[test]
fn a_muted_student_cannot_speak_through_names_rooms_or_quit_reasons() {
    let (mut server, _addr, mut ann, mut bob) = console_server_with_bob();
    server.type_line("mute bob 60");
    server.wait_for("stdout", "ok: muted bob for 60 s");
    bob.expect("! you are muted for 60 s");
    bob.send("/nick insult_one");
    let answer = bob.line();
    assert!(answer.starts_with("! you are muted ("), "{answer}");
    bob.send("/join go_away_idiot");
    bob.expect("* you are now in go_away_idiot");
    bob.send("/join lobby");
    bob.expect("* you are now in lobby");
    bob.send("/quit buy_my_stuff");
    bob.expect("* bye");
    // Nothing of it reached ann: no rename, no moves, a reasonless leave.
    ann.expect("* bob left");
    ann.send("/who");
    let only_ann = format!("* online (1): {}", ann.name);
    ann.wait_for("the who answer", |l| l == only_ann);
}

/// `ban NAME [MINUTES]` kicks the client with `! banned ...`, tells the
/// room `* NAME left (banned)`, and refuses its address with the same line
/// until `unban`; `who` lists the ban. (Linux: the banned client comes from
/// 127.0.0.2, so the others, on 127.0.0.1, still get in.)
#[cfg(target_os = "linux")]
#[test]
fn ban_refuses_an_address_until_unban() {
    use socket2::{Domain, Socket, Type};
    use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, TcpStream};

    let (mut server, addr) = server_binary(&["--join-grace-ms", "0"]);
    let from = |last: u8| {
        let socket = Socket::new(Domain::IPV4, Type::STREAM, None).expect("socket");
        let local = SocketAddrV4::new(Ipv4Addr::new(127, 0, 0, last), 0);
        socket.bind(&SocketAddr::from(local).into()).expect("bind");
        socket.connect(&addr.into()).expect("connect");
        Client::from_stream(TcpStream::from(socket))
    };
    let mut ann = Client::connect(addr);
    let mut bob = from(2);
    bob.wait_for("the welcome", |l| l.starts_with("* welcome "));
    bob.send("/nick bob");
    bob.expect("* you are now bob");
    ann.wait_for("bob's name", |l| l.ends_with("is now known as bob"));
    server.type_line("ban bob 5");
    server.wait_for("stdout", "ok: banned bob (127.0.0.2) for 5 min");
    bob.expect("! banned from this server for 5 min");
    bob.expect_closed();
    ann.expect("* bob left (banned)");
    let mut again = from(2);
    again.expect("! banned from this server for 5 min");
    again.expect_closed();
    let mut other = Client::connect(addr);
    ann.expect(&format!("* {} joined", other.name));
    server.type_line("who");
    server.wait_for("stdout", "banned: 127.0.0.2 (bob), 5 min left");
    server.type_line("unban bob");
    server.wait_for("stdout", "ok: unbanned bob (127.0.0.2)");
    let mut back = from(2);
    back.wait_for("a welcome", |l| l.starts_with("* welcome "));
    server.type_line("unban bob");
    server.wait_for("stdout", "error: no ban for bob");
    other.send("/who");
    other.wait_for("the who answer", |l| l.starts_with("* online (3)"));
}

/// The console's `move` tells the student who moved it.
#[test]
fn a_moved_student_is_told_who_moved_it() {
    let (mut server, _addr, mut ann, mut bob) = console_server_with_bob();
    server.type_line("move bob lab");
    server.wait_for("stdout", "ok: moved bob to lab");
    bob.expect("* the teacher moved you to lab");
    ann.expect("* bob left (went to lab)");
}
