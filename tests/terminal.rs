//! The real `client` binary in a real pseudo-terminal (tmux): the line editor,
//! incoming lines above the input line, colour, and a terminal left exactly
//! as it was found on every way out. Unix only: Windows has plain mode alone.
//! Without tmux each test fails with the command that installs it, unless
//! `SKIP_TMUX=1` says to skip it.
#![cfg(unix)]

mod common;
mod tools;

use std::io::{BufRead, Write};

use common::{shell_quote, Client, TestServer, Tmux, TIMEOUT};

/// The shell command that runs the client against `server` with `args`,
/// colour as the environment `env` (for `env`) says. `TERM` is set because
/// the colour choice depends on it.
fn client_command(server: &TestServer, env: &str, args: &[&str]) -> String {
    let mut command = format!(
        "env -u NO_COLOR TERM=xterm-256color {env} {} --port {}",
        shell_quote(env!("CARGO_BIN_EXE_client")),
        server.addr.port()
    );
    for arg in args {
        command.push(' ');
        command.push_str(&shell_quote(arg));
    }
    command
}

/// Ann's flags. These tests are about the terminal, so the client exits
/// when the server goes (`--no-reconnect`), as it always did, whether or
/// not the server keeps sessions; `tests/resume.rs` tests reconnecting.
const ANN: &[&str] = &["--name", "ann", "--no-reconnect"];

/// A raw client named bob, in the room before ann arrives.
fn bob(server: &TestServer) -> Client {
    let mut bob = server.connect();
    bob.send("/nick bob");
    bob.expect("* you are now bob");
    bob
}

/// Starts ann's client in tmux, waits until bob has seen her arrive under her
/// name and her prompt is up (so the terminal is switched and keys typed now
/// reach the editor, not the terminal's own line mode). With `stty`, the
/// client runs between two `stty -g`, followed by its exit status and `stty -a`.
fn ann(test: &str, server: &TestServer, bob: &mut Client, env: &str, stty: bool) -> Option<Tmux> {
    let client = client_command(server, env, ANN);
    let command = if stty {
        // The inner shell prints its pid and becomes the client (`env` execs
        // too), so the test knows the client's pid for `kill`.
        let inner = shell_quote(&format!("echo \"pid $$\"; exec {client}"));
        format!("stty -g; sh -c {inner}; echo \"client exited $?\"; stty -g; stty -a")
    } else {
        client
    };
    let tmux = Tmux::start(test, &command)?;
    // Today's server announces the address, then the rename; a server that
    // lets a client join under its name says `* ann joined` at once.
    bob.wait_for("ann's arrival under her name", |l| {
        l == "* ann joined" || l.ends_with(" is now known as ann")
    });
    tmux.wait_for("ann's prompt", |s| last_line(s) == "ann>");
    Some(tmux)
}

/// The lines on the screen that are not empty.
fn non_empty_lines(screen: &str) -> Vec<&str> {
    screen.lines().filter(|l| !l.is_empty()).collect()
}

/// The last line on the screen that is not empty.
fn last_line(screen: &str) -> &str {
    screen.lines().rev().find(|l| !l.is_empty()).unwrap_or("")
}

/// A half-typed line survives an incoming message, with the cursor where it
/// was, and is then sent whole; the sent line is echoed as `ann> …`.
#[test]
fn half_typed_line_survives_an_incoming_message() {
    if !tools::tmux_ready("half_typed_line_survives_an_incoming_message") {
        return;
    }
    let server = TestServer::start();
    let mut bob = bob(&server);
    let Some(tmux) = ann("survives", &server, &mut bob, "", false) else {
        return;
    };
    tmux.type_text("half typ");
    tmux.wait_for("the half line", |s| last_line(s) == "ann> half typ");
    bob.send("hello ann");
    // The message goes above the input line, which stays intact below it.
    tmux.wait_for("bob's line above the half line, cursor at its end", |s| {
        non_empty_lines(s).ends_with(&["> bob: hello ann", "ann> half typ"])
            && tmux.cursor().0 == "ann> half typ".len()
    });
    tmux.type_text("ed");
    tmux.keys(&["Enter"]);
    bob.expect("> ann: half typed");
    let screen = tmux.wait_for("the echo and a fresh prompt", |s| {
        non_empty_lines(s).ends_with(&["ann> half typed", "ann>"])
    });
    assert!(!screen.contains("half typ>"), "{screen}");
}

/// Backspace, Delete, the arrows, Home/End, Ctrl-W, Ctrl-U and Up edit the
/// line; the server receives exactly the edited text, multi-byte characters
/// included.
#[test]
fn editing_keys_shape_what_is_sent() {
    if !tools::tmux_ready("editing_keys_shape_what_is_sent") {
        return;
    }
    let server = TestServer::start();
    let mut bob = bob(&server);
    let Some(tmux) = ann("editing", &server, &mut bob, "", false) else {
        return;
    };
    tmux.type_text("helllo wrld");
    tmux.keys(&["Home", "Right", "Right", "Right", "DC"]);
    tmux.keys(&["End", "Left", "Left", "Left"]);
    tmux.type_text("oxx");
    tmux.keys(&["BSpace", "BSpace"]);
    tmux.wait_for("the edited line, cursor after 'wo'", |s| {
        last_line(s) == "ann> hello world" && tmux.cursor().0 == "ann> hello wo".len()
    });
    tmux.keys(&["Enter"]);
    bob.expect("> ann: hello world");

    tmux.type_text("some junk words");
    tmux.keys(&["C-w"]);
    tmux.wait_for("a word deleted", |s| last_line(s) == "ann> some junk");
    tmux.keys(&["C-u"]);
    tmux.wait_for("the line cleared", |s| last_line(s) == "ann>");
    tmux.keys(&["Up", "BSpace", "BSpace", "BSpace", "BSpace", "BSpace"]);
    tmux.type_text("again");
    tmux.keys(&["Enter"]);
    bob.expect("> ann: hello again");

    tmux.type_text("café ✓");
    tmux.keys(&["Left", "BSpace"]);
    tmux.wait_for("UTF-8 edited", |s| last_line(s) == "ann> café✓");
    tmux.keys(&["Enter"]);
    bob.expect("> ann: café✓");
}

/// A window made narrower than a long input line leaves one clean input
/// line, scrolled to the cursor and marked, and no wrapped pieces of the old one.
#[test]
fn a_resize_leaves_one_clean_input_line() {
    if !tools::tmux_ready("a_resize_leaves_one_clean_input_line") {
        return;
    }
    let server = TestServer::start();
    let mut bob = bob(&server);
    let Some(tmux) = ann("resize", &server, &mut bob, "", false) else {
        return;
    };
    let text = "0123456789".repeat(9);
    tmux.type_text(&text);
    tmux.wait_for("the long line", |s| last_line(s) == format!("ann> {text}"));
    tmux.resize(50, 30);
    // 50 columns: 5 for the prompt, the last one free, 44 for `<` (the line
    // goes on to the left) and the text's end.
    let want = format!("ann> <{}", &text[text.len() - 43..]);
    let screen = tmux.wait_for("the line redrawn for 50 columns", |s| last_line(s) == want);
    let pieces = screen.lines().filter(|l| l.contains("56789")).count();
    assert_eq!(pieces, 1, "pieces of the old line are left:\n{screen}");
    tmux.keys(&["Enter"]);
    bob.expect(&format!("> ann: {text}"));
}

/// On a terminal the client colours names and notices; with `NO_COLOR=1`
/// the same screen has no colour codes at all.
#[test]
fn colour_on_a_terminal_and_none_with_no_color() {
    if !tools::tmux_ready("colour_on_a_terminal_and_none_with_no_color") {
        return;
    }
    let server = TestServer::start();
    let mut bob = bob(&server);
    let Some(tmux) = ann("colour", &server, &mut bob, "", false) else {
        return;
    };
    bob.send("hi ann");
    let screen = tmux.wait_for_screen("bob's line", true, |s| s.contains("hi ann"));
    let line = screen
        .lines()
        .find(|l| l.contains("hi ann"))
        .expect("the line was waited for");
    assert!(
        line.contains("\x1b["),
        "no colour on a terminal:\n{screen:?}"
    );
    drop(tmux);

    let Some(tmux) = ann("no-colour", &server, &mut bob, "NO_COLOR=1", false) else {
        return;
    };
    bob.send("hi again ann");
    let screen = tmux.wait_for_screen("bob's line", true, |s| s.contains("hi again ann"));
    assert!(
        screen.contains("* you are now ann") && !screen.contains('\x1b'),
        "colour despite NO_COLOR=1:\n{screen:?}"
    );
}

/// Runs ann with `stty -g` printed before and after, makes her leave with
/// `leave` (given the server and the client's pid), and checks that the
/// client exited with `code` and the terminal is exactly as it was: the same
/// `stty -g`, and `stty -a` showing `icanon`, `echo` and `isig` switched on.
/// `leave` hands the server back unless it stopped it: the server must run
/// until the client has exited, or its goodbye could race the key pressed.
fn terminal_restored_after(
    test: &str,
    code: i32,
    leave: impl FnOnce(&Tmux, TestServer, u32) -> Option<TestServer>,
) {
    let server = TestServer::start();
    let mut bob = bob(&server);
    let Some(tmux) = ann(test, &server, &mut bob, "", true) else {
        return;
    };
    let before = tmux.screen(false).lines().next().unwrap_or("").to_string();
    assert!(
        before.contains(':'),
        "no stty -g line:\n{}",
        tmux.screen(false)
    );
    let pid = tmux
        .screen(false)
        .lines()
        .find_map(|l| l.strip_prefix("pid ")?.parse().ok())
        .expect("the client's pid on the screen");
    let _still_running = leave(&tmux, server, pid);
    // The shell prints the exit code, then `stty -g`, then `stty -a`: wait
    // for the last, which names the modes.
    let screen = tmux.wait_for("the client's exit and the modes after it", |s| {
        s.split("client exited")
            .nth(1)
            .is_some_and(|after| after.contains("icanon") && after.contains("isig"))
    });
    let after: Vec<&str> = screen
        .lines()
        .skip_while(|l| !l.starts_with("client exited"))
        .collect();
    assert_eq!(after[0], format!("client exited {code}"), "{screen}");
    assert_eq!(after.get(1), Some(&before.as_str()), "{screen}");
    let words: Vec<&str> = after[2..]
        .iter()
        .flat_map(|l| l.split_whitespace())
        .collect();
    for mode in ["icanon", "echo", "isig"] {
        assert!(
            words.contains(&mode) && !words.contains(&format!("-{mode}").as_str()),
            "{mode} is not back on:\n{screen}"
        );
    }
}

/// After Ctrl-C, with a half-typed line, the terminal is back in its original mode.
#[test]
fn ctrl_c_restores_the_terminal() {
    if !tools::tmux_ready("ctrl_c_restores_the_terminal") {
        return;
    }
    terminal_restored_after("ctrl-c", 0, |tmux, server, _pid| {
        tmux.type_text("half a line");
        tmux.wait_for("the half line", |s| last_line(s) == "ann> half a line");
        tmux.keys(&["C-c"]);
        Some(server)
    });
}

/// Ctrl-D on an empty line quits and restores the terminal.
#[test]
fn ctrl_d_restores_the_terminal() {
    if !tools::tmux_ready("ctrl_d_restores_the_terminal") {
        return;
    }
    terminal_restored_after("ctrl-d", 0, |tmux, server, _pid| {
        tmux.keys(&["C-d"]);
        Some(server)
    });
}

/// `/quit` (the server says `* bye` and closes) restores the terminal.
#[test]
fn quit_command_restores_the_terminal() {
    if !tools::tmux_ready("quit_command_restores_the_terminal") {
        return;
    }
    terminal_restored_after("quit", 0, |tmux, server, _pid| {
        tmux.type_text("/quit");
        tmux.keys(&["Enter"]);
        Some(server)
    });
}

/// The server shutting down restores the terminal; the exit code says so (4).
#[test]
fn server_shutdown_restores_the_terminal() {
    if !tools::tmux_ready("server_shutdown_restores_the_terminal") {
        return;
    }
    terminal_restored_after("server-gone", 4, |_tmux, server, _pid| {
        server.stop();
        None
    });
}

/// SIGTERM (from `kill`, or a session manager) restores the terminal too.
#[test]
fn sigterm_restores_the_terminal() {
    if !tools::tmux_ready("sigterm_restores_the_terminal") {
        return;
    }
    terminal_restored_after("sigterm", 0, |_tmux, server, pid| {
        let status = std::process::Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .expect("run kill");
        assert!(status.success());
        Some(server)
    });
}

/// Ctrl-Z suspends the client like any program (the shell shows `Stopped`),
/// and `fg` brings it back with the half-typed line, which is then sent whole.
#[test]
fn ctrl_z_suspends_and_fg_resumes() {
    if !tools::tmux_ready("ctrl_z_suspends_and_fg_resumes") {
        return;
    }
    let server = TestServer::start();
    let mut bob = bob(&server);
    // An interactive shell, for job control; no rc files, a plain prompt.
    let Some(tmux) = Tmux::start("ctrl-z", "env PS1='$ ' bash --norc --noprofile -i") else {
        return;
    };
    tmux.wait_for("the shell's prompt", |s| last_line(s) == "$");
    tmux.type_text(&client_command(&server, "", &["--name", "ann"]));
    tmux.keys(&["Enter"]);
    bob.wait_for("ann's arrival under her name", |l| {
        l == "* ann joined" || l.ends_with(" is now known as ann")
    });
    tmux.wait_for("ann's prompt", |s| last_line(s) == "ann>");
    tmux.type_text("half");
    tmux.wait_for("the half line", |s| last_line(s) == "ann> half");
    tmux.keys(&["C-z"]);
    let screen = tmux.wait_for("the shell after Ctrl-Z", |s| last_line(s) == "$");
    assert!(screen.contains("Stopped"), "{screen}");
    tmux.type_text("fg");
    tmux.keys(&["Enter"]);
    tmux.wait_for("the half line back", |s| last_line(s) == "ann> half");
    tmux.type_text("way");
    tmux.keys(&["Enter"]);
    bob.expect("> ann: halfway");
}

/// Starts ann's client in tmux as [`ann`] does, followed by its exit status.
fn ann_then_status(test: &str, server: &TestServer, bob: &mut Client) -> Option<Tmux> {
    let client = client_command(server, "", ANN);
    let tmux = Tmux::start(test, &format!("{client}; echo \"client exited $?\""))?;
    bob.wait_for("ann's arrival under her name", |l| {
        l == "* ann joined" || l.ends_with(" is now known as ann")
    });
    tmux.wait_for("ann's prompt", |s| last_line(s) == "ann>");
    Some(tmux)
}

/// On Ctrl-C, the half-typed line stays on the screen, whole (a long line
/// was scrolled sideways), with a note that it was not sent.
#[test]
fn ctrl_c_keeps_the_half_typed_line() {
    if !tools::tmux_ready("ctrl_c_keeps_the_half_typed_line") {
        return;
    }
    let server = TestServer::start();
    let mut bob = bob(&server);
    let Some(tmux) = ann_then_status("ctrl-c-keeps", &server, &mut bob) else {
        return;
    };
    let long = "a long thought ".repeat(8);
    let long = long.trim_end();
    tmux.type_text(long);
    tmux.wait_for("the scrolled line", |s| {
        last_line(s).ends_with("long thought")
    });
    tmux.keys(&["C-c"]);
    let screen = tmux.wait_for("the exit", |s| s.contains("client exited"));
    let lines = non_empty_lines(&screen);
    let kept = format!("ann> {long} (not sent)");
    assert!(lines.contains(&kept.as_str()), "{screen}");
    assert!(
        lines.ends_with(&["Disconnected from the server.", "client exited 0"]),
        "{screen}"
    );
}

/// When the server shuts down, the half-typed line stays with a note; the
/// exit code is 4.
#[test]
fn a_shutdown_keeps_the_half_typed_line() {
    if !tools::tmux_ready("a_shutdown_keeps_the_half_typed_line") {
        return;
    }
    let server = TestServer::start();
    let mut bob = bob(&server);
    let Some(tmux) = ann_then_status("shutdown-keeps", &server, &mut bob) else {
        return;
    };
    tmux.type_text("half a thought");
    tmux.wait_for("the half line", |s| last_line(s) == "ann> half a thought");
    server.stop();
    let screen = tmux.wait_for("the exit", |s| s.contains("client exited"));
    assert!(
        non_empty_lines(&screen).ends_with(&[
            "* server shutting down",
            "ann> half a thought (not sent: the server shut down)",
            "Disconnected from the server.",
            "client exited 4",
        ]),
        "{screen}"
    );
}

/// When the connection is lost (a server that closes with no goodbye), the
/// half-typed line stays with a note; the exit code is 3.
#[test]
fn a_lost_connection_keeps_the_half_typed_line() {
    if !tools::tmux_ready("a_lost_connection_keeps_the_half_typed_line") {
        return;
    }
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("address").port();
    let client = format!(
        "env -u NO_COLOR TERM=xterm-256color {} --port {port}",
        shell_quote(env!("CARGO_BIN_EXE_client"))
    );
    let Some(tmux) = Tmux::start(
        "lost-keeps",
        &format!("{client}; echo \"client exited $?\""),
    ) else {
        return;
    };
    let mut socket = accept_within_timeout(listener);
    socket
        .write_all(b"* welcome ann, 0 others online, /help lists the commands\n")
        .expect("write the welcome");
    // The client asks for a session; this server does not know sessions,
    // so the client cannot resume and ends. The line is read, so that the
    // close is a clean one (unread data would make it a reset).
    let mut asked = String::new();
    socket.set_read_timeout(Some(TIMEOUT)).expect("a timeout");
    std::io::BufReader::new(&socket)
        .read_line(&mut asked)
        .expect("the client's first line");
    assert_eq!(asked, "/session\n");
    tmux.wait_for("ann's prompt", |s| last_line(s) == "ann>");
    tmux.type_text("words in flight");
    tmux.wait_for("the half line", |s| last_line(s) == "ann> words in flight");
    drop(socket);
    let screen = tmux.wait_for("the exit", |s| s.contains("client exited"));
    assert!(
        non_empty_lines(&screen).ends_with(&[
            "ann> words in flight (not sent: connection lost)",
            "Disconnected from the server.",
            "client exited 3",
        ]),
        "{screen}"
    );
}

/// The first connection to `listener`, or a panic if none comes within
/// [`TIMEOUT`] (a client that never connects must not hang the test).
fn accept_within_timeout(listener: std::net::TcpListener) -> std::net::TcpStream {
    let (accepted_tx, accepted_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        if let Ok((socket, _)) = listener.accept() {
            let _ = accepted_tx.send(socket);
        }
    });
    accepted_rx
        .recv_timeout(TIMEOUT)
        .expect("the client connected")
}

/// Alt-b, Alt-f, Ctrl-Left, Ctrl-Right, Alt-d and Alt-Backspace move and
/// delete by word (where Alt-b used to type `b`); Home on a line wider than
/// the window shows `>` where it goes on.
#[test]
fn word_keys_move_and_delete_by_word() {
    if !tools::tmux_ready("word_keys_move_and_delete_by_word") {
        return;
    }
    let server = TestServer::start();
    let mut bob = bob(&server);
    let Some(tmux) = ann("words", &server, &mut bob, "", false) else {
        return;
    };
    tmux.type_text("one two three four");
    tmux.keys(&["M-b", "C-Left"]);
    tmux.type_text("2 ");
    tmux.keys(&["M-f"]);
    tmux.type_text("!");
    tmux.keys(&["Home", "C-Right"]);
    tmux.type_text(",");
    tmux.wait_for("the words moved over", |s| {
        last_line(s) == "ann> one, two 2 three! four" && tmux.cursor().0 == "ann> one,".len()
    });
    tmux.keys(&["M-d", "End", "M-BSpace"]);
    tmux.wait_for("words deleted", |s| last_line(s) == "ann> one, 2 three!");
    tmux.keys(&["Enter"]);
    bob.expect("> ann: one, 2 three!");

    let long = "word ".repeat(30);
    tmux.type_text(long.trim_end());
    tmux.keys(&["Home"]);
    tmux.wait_for("the start of a long line, marked", |s| {
        let line = last_line(s);
        line.starts_with("ann> word word") && line.ends_with('>') && line.chars().count() == 99
    });
}

/// Tab completes a command after `/` and the names of people seen, and
/// each further Tab offers the next choice.
#[test]
fn tab_completes_commands_and_names() {
    if !tools::tmux_ready("tab_completes_commands_and_names") {
        return;
    }
    let server = TestServer::start();
    let mut bob = bob(&server);
    let Some(tmux) = ann("tab", &server, &mut bob, "", false) else {
        return;
    };
    // Ann has seen bob once he speaks, and bea when she arrives.
    bob.send("hello");
    tmux.wait_for("bob's line", |s| s.contains("> bob: hello"));
    let mut bea = server.connect();
    bea.send("/nick bea");
    bea.expect("* you are now bea");
    tmux.wait_for("bea's arrival", |s| s.contains("is now known as bea"));

    // Most recently active first: bea, then bob.
    tmux.type_text("b");
    tmux.keys(&["Tab"]);
    tmux.wait_for("the first name", |s| last_line(s) == "ann> bea:");
    tmux.keys(&["Tab"]);
    tmux.wait_for("the next name", |s| last_line(s) == "ann> bob:");
    // The choice brought its `: `.
    tmux.type_text("hi");
    tmux.keys(&["Enter"]);
    bob.wait_for("ann's line", |l| l == "> ann: bob: hi");

    tmux.type_text("/ms");
    tmux.keys(&["Tab"]);
    tmux.type_text("bo");
    tmux.keys(&["Tab"]);
    tmux.type_text("psst");
    tmux.wait_for("the private line", |s| last_line(s) == "ann> /msg bob psst");
    tmux.keys(&["Enter"]);
    bob.expect("> ann (private): psst");

    // `/m` offers `/me`, then `/msg`, then `/me` again.
    tmux.type_text("/m");
    tmux.keys(&["Tab", "Tab", "Tab"]);
    tmux.type_text("waves");
    tmux.keys(&["Enter"]);
    bob.expect("* ann waves");
}

/// Ctrl-L clears what another program scribbled on the terminal and draws
/// the chat lines and the input line again.
#[test]
fn ctrl_l_redraws_the_screen() {
    if !tools::tmux_ready("ctrl_l_redraws_the_screen") {
        return;
    }
    let server = TestServer::start();
    let mut bob = bob(&server);
    // The pane says which terminal it is, so the test can write to it as
    // another program would.
    let tty_file = std::env::temp_dir().join(format!("chatroom-tty-{}", std::process::id()));
    let client = client_command(&server, "", &["--name", "ann"]);
    let command = format!(
        "tty > {}; exec {client}",
        shell_quote(&tty_file.display().to_string())
    );
    let Some(tmux) = Tmux::start("ctrl-l", &command) else {
        return;
    };
    bob.wait_for("ann's arrival under her name", |l| {
        l == "* ann joined" || l.ends_with(" is now known as ann")
    });
    tmux.wait_for("ann's prompt", |s| last_line(s) == "ann>");
    let tty = std::fs::read_to_string(&tty_file).expect("the pane's tty");
    let _ = std::fs::remove_file(&tty_file);
    bob.send("before the mess");
    tmux.type_text("half");
    tmux.wait_for("bob's line and the half line", |s| {
        s.contains("> bob: before the mess") && last_line(s) == "ann> half"
    });
    std::fs::OpenOptions::new()
        .write(true)
        .open(tty.trim())
        .and_then(|mut tty| tty.write_all(b"\r\nSCRIBBLE SCRIBBLE\r\n"))
        .expect("write to the pane's terminal");
    tmux.wait_for("the scribble", |s| s.contains("SCRIBBLE"));
    tmux.keys(&["C-l"]);
    let screen = tmux.wait_for("the redrawn screen", |s| !s.contains("SCRIBBLE"));
    assert!(
        non_empty_lines(&screen).ends_with(&["> bob: before the mess", "ann> half"]),
        "{screen}"
    );
    tmux.type_text(" done");
    tmux.keys(&["Enter"]);
    bob.expect("> ann: half done");
}
