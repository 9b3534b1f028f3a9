//! The teacher's console, driven through the server binary's standard input:
//! `say`, `who`, `kick`, `mute`, mistakes, the end of input, a server started
//! in the background; `--history` for late joiners; and the console on a
//! terminal (tmux): the log above the command being typed, the chat summed
//! up, Tab, Up and Ctrl-C.

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

/// A mute outlives a broken connection: the session that comes back (the
/// client's `/resume`) is still muted, and nothing it says reaches anyone.
#[test]
fn a_mute_survives_a_resume() {
    let (mut server, addr) = server_binary(&[]);
    let mut ann = Client::connect(addr);
    ann.send("/nick ann");
    ann.expect("* you are now ann");
    let mut bob = Client::connect(addr);
    bob.send("/nick bob");
    bob.expect("* you are now bob");
    ann.expect("* bob joined");
    bob.send("/session");
    let line = bob.wait_for("the token", |l| l.starts_with("#session "));
    let words: Vec<&str> = line.split(' ').collect();
    let (token, last) = (words[1].to_string(), words[2].to_string());
    server.type_line("mute bob 60");
    server.wait_for("stdout", "ok: muted bob for 60 s");
    bob.expect("! you are muted for 60 s");
    // A line of ann's left unread, and the connection reset: held.
    ann.send("still there?");
    bob.reset();
    let mut back = Client::connect(addr);
    back.send(&format!("/resume {token} {last}"));
    back.wait_for("the resume", |l| l.starts_with("* resumed: "));
    back.send("muted no more?");
    let answer = back.line();
    assert!(answer.starts_with("! you are muted ("), "{answer}");
    // Nothing of bob's reached ann: her next line is the teacher's.
    server.type_line("say done");
    ann.expect("* [server] done");
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
    server.type_line("whoo");
    server.wait_for(
        "stdout",
        "error: unknown command 'whoo' (did you mean who?)",
    );
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
    if !tools::tmux_ready(test) {
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

/// Through pipes the log keeps every chat line, however many: only a console
/// on a terminal sums the chat up.
#[test]
fn a_piped_console_keeps_every_chat_line_in_the_log() {
    let (mut server, addr) = server_binary(&["--join-grace-ms", "0"]);
    let mut ann = Client::connect(addr);
    ann.send("/nick ann");
    ann.expect("* you are now ann");
    for n in 0..20 {
        ann.send(&format!("flood {n}"));
    }
    for n in 0..20 {
        server.wait_for("stderr", &format!("ann: flood {n}"));
    }
}

/// The console on a terminal: only Unix has one (elsewhere it reads plain
/// lines, which the tests above cover).
#[cfg(unix)]
mod on_a_terminal {
    use std::net::SocketAddr;

    use super::common::{shell_quote, Client, Tmux};
    use super::tools;

    /// The last row of the screen that is not empty: the console's input line.
    fn last_line(screen: &str) -> &str {
        screen.lines().rev().find(|l| !l.is_empty()).unwrap_or("")
    }

    /// The server binary in tmux, between two `stty -g` (so a test can tell the
    /// terminal was restored), with `args`; returns once its prompt is up (the
    /// terminal is switched: keys typed now reach the editor), with its address.
    fn console_in_tmux(test: &str, args: &[&str]) -> Option<(Tmux, SocketAddr)> {
        let mut server = shell_quote(env!("CARGO_BIN_EXE_server"));
        for arg in ["--port", "0"].iter().chain(args) {
            server.push(' ');
            server.push_str(&shell_quote(arg));
        }
        let command = format!("stty -g; {server}; echo \"server exited $?\"; stty -g");
        let tmux = Tmux::start(test, &command)?;
        let screen = tmux.wait_for("the console's prompt", |s| last_line(s) == "console>");
        let addr = screen
            .lines()
            .find_map(|l| l.split_once("listening on ").map(|(_, a)| a.trim()))
            .and_then(|a| a.parse().ok())
            .unwrap_or_else(|| panic!("no address on the screen:\n{screen}"));
        Some((tmux, addr))
    }

    /// A log line that arrives while a command is half typed scrolls above it:
    /// the command stays whole on the bottom line, the cursor at its end, and
    /// then runs when finished.
    #[test]
    fn a_log_line_leaves_the_command_being_typed_whole() {
        let test = "a_log_line_leaves_the_command_being_typed_whole";
        if !tools::tmux_ready(test) {
            return;
        }
        let Some((tmux, addr)) = console_in_tmux(test, &["--join-grace-ms", "0"]) else {
            return;
        };
        tmux.type_text("sa");
        tmux.wait_for("the half command", |s| last_line(s) == "console> sa");
        // The log line comes while `sa` is on the screen, not before it.
        let mut ann = Client::connect(addr);
        let connected = format!("{} connected", ann.name);
        let screen = tmux.wait_for("the log line above the half command", |s| {
            let rows: Vec<&str> = s.lines().filter(|l| !l.is_empty()).collect();
            rows.len() >= 2
                && rows[rows.len() - 2].ends_with(&connected)
                && last_line(s) == "console> sa"
                && tmux.cursor().0 == "console> sa".len()
        });
        // The log line has a row of its own: no other row holds the prompt (a
        // line written over it would leave `console> sa2026-…` behind).
        let prompts = screen.lines().filter(|l| l.contains("console>")).count();
        assert_eq!(prompts, 1, "the command was split:\n{screen}");
        tmux.type_text("y hello all");
        tmux.keys(&["Enter"]);
        ann.expect("* [server] hello all");
        let screen = tmux.wait_for("the command, its log line and its answer", |s| {
            s.contains("console> say hello all\n")
                && s.contains("console: say hello all\n")
                && s.contains("ok: said to everyone\n")
                && last_line(s) == "console>"
        });
        // The command as typed, then what it logged, then the answer.
        let at = |text: &str| screen.find(text).expect("on the screen");
        assert!(
            at("console> say hello all") < at("console: say hello all")
                && at("console: say hello all") < at("ok: said to everyone"),
            "{screen}"
        );
    }

    /// On a terminal the log shows the first chat lines of every few seconds and
    /// sums up the rest in one line, so a flood takes a few rows; events (a
    /// rename here) are shown as they come. Every line is accounted for: those
    /// shown plus those summed up are all that were sent.
    #[test]
    fn a_flood_of_chat_is_summed_up_on_a_terminal() {
        let test = "a_flood_of_chat_is_summed_up_on_a_terminal";
        if !tools::tmux_ready(test) {
            return;
        }
        let Some((tmux, addr)) =
            console_in_tmux(test, &["--join-grace-ms", "0", "--rate-limit", "0"])
        else {
            return;
        };
        // No rate limit: the flood arrives at once, within one or two summaries.
        const SENT: usize = 60;
        let mut ann = Client::connect(addr);
        ann.send("/nick ann");
        ann.expect("* you are now ann");
        for n in 0..SENT {
            ann.send(&format!("flood {n}"));
        }
        // The flood may straddle two summaries: wait until both are in.
        let accounted = |screen: &str| {
            let shown = screen
                .lines()
                .filter(|l| l.contains(" ann: flood "))
                .count();
            let summed: usize = screen
                .lines()
                .filter_map(|l| l.split_once(" chat: ")?.1.split_once(" more line"))
                .map(|(n, _)| n.parse::<usize>().expect("a number"))
                .sum();
            (shown, summed)
        };
        let screen = tmux.wait_for("every line shown or summed up", |s| {
            let (shown, summed) = accounted(s);
            shown + summed == SENT
        });
        let (shown, summed) = accounted(&screen);
        assert!(summed > 0 && shown <= 10, "{screen}");
        assert!(
            screen.contains("more lines from ann in the last "),
            "{screen}"
        );
        assert!(screen.contains(" is now known as ann\n"), "{screen}");
        assert_eq!(last_line(&screen), "console>");
    }

    /// Tab completes a command and a client's name, Up brings the last command
    /// back, and Ctrl-C stops the server as it does anywhere (exit 0, the
    /// handler's `stopping` line), with the terminal restored exactly.
    #[test]
    fn tab_up_and_ctrl_c_at_the_console() {
        let test = "tab_up_and_ctrl_c_at_the_console";
        if !tools::tmux_ready(test) {
            return;
        }
        let Some((tmux, addr)) = console_in_tmux(test, &["--join-grace-ms", "0"]) else {
            return;
        };
        let mut bob = Client::connect(addr);
        bob.send("/nick bobby");
        bob.expect("* you are now bobby");
        tmux.type_text("mu");
        tmux.keys(&["Tab"]);
        tmux.wait_for("the command completed", |s| last_line(s) == "console> mute");
        tmux.type_text("bo");
        tmux.keys(&["Tab"]);
        tmux.wait_for("the name completed", |s| {
            last_line(s) == "console> mute bobby"
        });
        tmux.type_text("30");
        tmux.keys(&["Enter"]);
        bob.expect("! you are muted for 30 s");
        tmux.wait_for("the answer", |s| s.contains("ok: muted bobby for 30 s\n"));
        tmux.keys(&["Up"]);
        tmux.wait_for("the command recalled", |s| {
            last_line(s) == "console> mute bobby 30"
        });
        tmux.keys(&["C-c"]);
        bob.expect("* server shutting down");
        let screen = tmux.wait_for("the server's exit and the second stty -g", |s| {
            s.contains("server exited 0\n") && s.lines().filter(|l| l.contains(':')).count() > 2
        });
        assert!(
            screen.contains("console> mute bobby 30 (not run)\n"),
            "the recalled command stays, marked:\n{screen}"
        );
        assert!(
            screen.contains("^Cstopping (press Ctrl-C again to quit at once)\n"),
            "{screen}"
        );
        // `stty -g` before and after: one line of colon-separated settings each.
        let settings: Vec<&str> = screen
            .lines()
            .filter(|l| !l.contains(' ') && l.matches(':').count() > 10)
            .collect();
        assert_eq!(settings.len(), 2, "{screen}");
        assert_eq!(settings[0], settings[1], "the terminal was not restored");
    }
}
