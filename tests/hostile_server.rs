//! The `client` against a hostile server (a fake one on port 0) that sends
//! escape sequences of every kind: each is removed whole, in plain mode
//! (pipes) and in interactive mode (a real terminal, in tmux).

mod common;
mod tools;

use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::process::Command;
use std::sync::mpsc;
use std::thread;

use common::{ChildGuard, TIMEOUT};

/// What the fake server sends, one line each, and what the user must see.
const HOSTILE: &[(&str, &str)] = &[
    (
        "\x1b[31mRED\x1b[0m and \x1b[1;38;5;196mbold\x1b[m",
        "RED and bold",
    ),
    ("\x1b[2J\x1b[H\x1b[?1049hscreen kept", "screen kept"),
    ("\x1b]0;pwned\x07title by BEL", "title by BEL"),
    ("\x1b]2;pwned\x1b\\title by ST", "title by ST"),
    (
        "see \x1b]8;;http://evil.example/\x1b\\this\x1b]8;;\x1b\\ link",
        "see this link",
    ),
    (
        "\x1b]52;c;cGF5bG9hZA==\x07clipboard untouched",
        "clipboard untouched",
    ),
    (
        "\x1bP1$r0m\x1b\\\x1b_apc\x1b\\\x1b^pm\x1b\\\x1bXsos\x1b\\strings",
        "strings",
    ),
    ("\x1bc\x1b7\x1b(0two-byte\x1b(B\x1b8", "two-byte"),
    (
        "\u{9b}31mC1\u{9b}0m\u{9d}2;pwned\u{9c} controls",
        "C1 controls",
    ),
    ("bell\x07 and\x08 back\r space", "bell and back space"),
];

/// The line sent last, so a test knows everything before it has arrived.
const LAST: &str = "the last hostile line";

/// A listener on a free port, and a thread that hands over the first
/// connection to it (or nothing, if none comes within [`TIMEOUT`]).
fn fake_server() -> (u16, mpsc::Receiver<TcpStream>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind the fake server");
    let port = listener.local_addr().expect("its address").port();
    let (accepted_tx, accepted_rx) = mpsc::channel();
    thread::spawn(move || {
        if let Ok((socket, _)) = listener.accept() {
            let _ = accepted_tx.send(socket);
        }
    });
    (port, accepted_rx)
}

/// Waits for the client's connection to the fake server.
fn accept(accepted: &mpsc::Receiver<TcpStream>) -> TcpStream {
    accepted
        .recv_timeout(TIMEOUT)
        .expect("the client connected to the fake server")
}

/// Every hostile line, each ended by a newline.
fn hostile_lines() -> String {
    HOSTILE
        .iter()
        .map(|(sent, _)| format!("{sent}\n"))
        .collect()
}

/// Plain mode prints each line's text and nothing of its sequences, even
/// one split across two pieces shown apart (text without a newline is shown
/// on its own after a moment: the sequence goes on into the next piece).
#[test]
fn plain_mode_removes_every_sequence_whole() {
    let (port, accepted) = fake_server();
    let mut command = Command::new(env!("CARGO_BIN_EXE_client"));
    command.args(["--port", &port.to_string(), "--color", "never"]);
    let mut client = ChildGuard::spawn(command);
    let mut socket = accept(&accepted);
    socket.write_all(hostile_lines().as_bytes()).unwrap();
    for (_, shown) in HOSTILE {
        let line = client.wait_for("stdout", shown);
        assert_eq!(&line, shown);
    }
    // A sequence cut in two: the first piece is shown by itself (the client
    // printed it, so the pieces really were apart), then the rest.
    socket.write_all(b"split \x1b[3").unwrap();
    client.wait_for("stdout", "split ");
    socket.write_all(b"1;4mdone\n").unwrap();
    let line = client.wait_for("stdout", "done");
    assert_eq!(line, "done");
    socket.write_all(format!("{LAST}\n").as_bytes()).unwrap();
    client.wait_for("stdout", LAST);
    drop(socket);
    client.wait_for("stderr", "Disconnected from the server.");
    // No goodbye before the close: the connection was lost.
    assert_eq!(client.exit_code(), Some(3));
    let printed = client.rest();
    assert!(
        !printed
            .iter()
            .any(|l| l.contains('\x1b') || l.contains('\x07')),
        "{printed:#?}"
    );
}

/// In a terminal, the screen shows each line's text, with no colour or
/// attribute from the server (the client's own colour is off), and the
/// server could not set the window's title, which a sequence printed raw
/// would (a control title set first shows that it can).
#[cfg(unix)]
#[test]
fn interactive_mode_removes_every_sequence_whole() {
    use common::{shell_quote, Tmux};

    let test = "interactive_mode_removes_every_sequence_whole";
    if !tools::tmux_ready(test) {
        return;
    }

    let (port, accepted) = fake_server();
    let client = format!(
        "env -u NO_COLOR TERM=xterm-256color {} --port {port} --color never",
        shell_quote(env!("CARGO_BIN_EXE_client"))
    );
    let title = "echo \"title: $(tmux display-message -p '#{pane_title}')\"";
    let command = format!(
        "printf '\\033]2;control-title\\007'; {title}; {client}; echo \"client exited $?\"; {title}"
    );
    let Some(tmux) = Tmux::start("hostile", &command) else {
        return;
    };
    let mut socket = accept(&accepted);
    tmux.wait_for("the client's connection", |s| s.contains("Connected to"));
    socket.write_all(hostile_lines().as_bytes()).unwrap();
    socket.write_all(format!("{LAST}\n").as_bytes()).unwrap();
    let screen = tmux.wait_for_screen("the last line", true, |s| s.contains(LAST));
    assert!(
        !screen.contains('\x1b'),
        "a sequence got through:\n{screen:?}"
    );
    let rows: Vec<&str> = screen.lines().collect();
    for (_, shown) in HOSTILE {
        assert!(rows.contains(shown), "{shown:?} is not a row of:\n{screen}");
    }
    drop(socket);
    let screen = tmux.wait_for("the title after the client", |s| {
        s.lines().filter(|l| l.starts_with("title: ")).count() == 2
    });
    assert!(screen.contains("client exited 3"), "{screen}");
    let titles: Vec<&str> = screen
        .lines()
        .filter(|l| l.starts_with("title: "))
        .collect();
    assert_eq!(
        titles,
        ["title: control-title", "title: control-title"],
        "{screen}"
    );
}
