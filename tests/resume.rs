//! The `client` binary against a fake server (a listener on port 0 that
//! speaks issue 25's protocol by script): control lines hidden and room lines
//! counted, reconnecting and resuming after a loss or a shutdown (and not
//! after a kick or a wrong code), the class code asked for or given with
//! `--key`, and, in a real terminal (tmux), the half-typed line kept across
//! a reconnect and the code asked for on the input line.

mod common;
mod tools;

use std::net::TcpListener;
use std::process::Command;
use std::time::{Duration, Instant};

use common::{poll, ChildGuard, Client, TIMEOUT};

const TOKEN: &str = "0123456789abcdef0123456789abcdef";
const WELCOME_1: &str = "* welcome 127.0.0.1:40001, 1 other online, /help lists the commands";
const WELCOME_2: &str = "* welcome 127.0.0.1:40002, 1 other online, /help lists the commands";
const CODE_WANTED: &str = "! this class needs a code: /key CODE";

/// A fake server: a listener on a free loopback port whose connections the
/// test takes one at a time.
#[derive(Debug)]
struct Fake {
    listener: TcpListener,
    port: String,
}

impl Fake {
    fn start() -> Fake {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the fake server");
        // Polled, so that a test can also see that nobody knocked.
        listener
            .set_nonblocking(true)
            .expect("a non-blocking listener");
        let port = listener
            .local_addr()
            .expect("its address")
            .port()
            .to_string();
        Fake { listener, port }
    }

    /// The next connection, and when it was taken; `None` if none comes
    /// within `within`.
    fn accept_within(&self, within: Duration) -> Option<(Client, Instant)> {
        let accepted = poll(within, Duration::from_millis(5), || {
            match self.listener.accept() {
                Ok((stream, _)) => Ok(stream),
                Err(e) => Err(e),
            }
        });
        let stream = accepted.ok()?;
        let at = Instant::now();
        // On some systems an accepted socket inherits the listener's mode.
        stream.set_nonblocking(false).expect("a blocking socket");
        Some((Client::from_stream(stream), at))
    }

    /// The next connection; panics if none comes within [`TIMEOUT`].
    fn accept(&self) -> Client {
        self.accept_within(TIMEOUT)
            .expect("the client connected to the fake server")
            .0
    }

    /// True if no connection waits to be accepted. Once the client has
    /// exited, any connection it made is waiting (the kernel completed it
    /// before the client's `connect` returned): this shows it made none.
    fn nobody_knocked(&self) -> bool {
        matches!(self.listener.accept(), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock)
    }
}

/// The client binary in plain mode against `fake`, without colour.
fn client(fake: &Fake, args: &[&str]) -> ChildGuard {
    let mut command = Command::new(env!("CARGO_BIN_EXE_client"));
    command
        .args(["--port", &fake.port, "--color", "never"])
        .args(args);
    ChildGuard::spawn(command)
}

/// Ann's client, joined with a session: the fake has answered her `/nick`
/// and `/session`, and she has shown room line 1 (so she has read the
/// `#session` line before it).
fn joined(fake: &Fake) -> (ChildGuard, Client) {
    let mut ann = client(fake, &["--name", "ann"]);
    let mut conn = fake.accept();
    conn.expect("/nick ann");
    conn.expect("/session");
    for line in [
        WELCOME_1,
        "* you are now ann",
        &format!("#session {TOKEN}"),
        "#1 1",
        "> bob: one",
    ] {
        conn.send(line);
    }
    ann.wait_for("stdout", "> bob: one");
    (ann, conn)
}

/// What the client printed on `stream`, in order.
fn printed(client: &mut ChildGuard, stream: &str) -> Vec<String> {
    let prefix = format!("{stream}: ");
    client
        .seen
        .iter()
        .filter_map(|l| l.strip_prefix(&prefix).map(str::to_string))
        .collect()
}

/// Closes `conn` with a reset (SO_LINGER 0), whatever is unread in it.
fn reset(conn: Client) {
    socket2::SockRef::from(&conn.stream)
        .set_linger(Some(Duration::ZERO))
        .expect("set SO_LINGER to 0");
    drop(conn);
}

/// Control lines are never printed; the room lines their markers number
/// are counted, and a connection closed without a goodbye is resumed from
/// the last of them, with no second welcome; a line typed afterwards goes
/// out on the new connection.
#[test]
fn markers_are_hidden_and_counted_and_a_lost_connection_resumes() {
    let fake = Fake::start();
    let (mut ann, mut conn) = joined(&fake);
    for line in [
        "#2 2",
        "> bob: two",
        "* bob waves",
        "! no such user carl",
        "#4 1",
        "> bob: four",
    ] {
        conn.send(line);
    }
    ann.wait_for("stdout", "> bob: four");
    // Closed without a goodbye (everything she sent was read: a FIN).
    drop(conn);
    ann.wait_for("stderr", "Connection lost; reconnecting for up to 60 s.");
    let mut again = fake.accept();
    again.expect(&format!("/resume {TOKEN} 4"));
    for line in [
        WELCOME_2,
        &format!("#session {TOKEN}"),
        "#5 1",
        "> bob: five",
        "* resumed: 1 line you missed",
    ] {
        again.send(line);
    }
    ann.wait_for("stdout", "* resumed: 1 line you missed");
    ann.type_line("back again");
    again.expect("back again");
    ann.type_line("/quit");
    again.expect("/quit");
    again.send("* bye");
    drop(again);
    assert_eq!(ann.exit_code(), Some(0));
    ann.rest();
    assert_eq!(
        printed(&mut ann, "stdout"),
        [
            WELCOME_1,
            "* you are now ann",
            "> bob: one",
            "> bob: two",
            "* bob waves",
            "! no such user carl",
            "> bob: four",
            "> bob: five",
            "* resumed: 1 line you missed",
            "* bye",
        ]
    );
    let status = printed(&mut ann, "stderr");
    assert!(
        status.contains(&"Reconnected; resuming your session.".to_string()),
        "{status:#?}"
    );
}

/// A room line cut in half by a reset does not count: the client had shown
/// its first half (so the cut really happened inside it), and resumes from
/// the line before.
#[test]
fn a_reset_resumes_from_the_last_whole_line() {
    let fake = Fake::start();
    let (mut ann, mut conn) = joined(&fake);
    conn.send("#2 2");
    conn.send("> bob: two");
    conn.send_raw(b"> bob: thr");
    // The half line, shown on its own once nothing more came for a moment.
    ann.wait_for("stdout", "> bob: thr");
    reset(conn);
    let lost = ann.wait_for("stderr", "Connection lost: ");
    assert!(lost.contains("reset"), "not a reset: {lost}");
    let mut again = fake.accept();
    again.expect(&format!("/resume {TOKEN} 2"));
    for line in [
        WELCOME_2,
        &format!("#session {TOKEN}"),
        "#3 1",
        "> bob: three",
        "* resumed: 1 line you missed",
    ] {
        again.send(line);
    }
    ann.wait_for("stdout", "> bob: three");
    ann.wait_for("stdout", "* resumed: 1 line you missed");
}

/// After `* server shutting down`, the client knocks again and again, ever
/// slower, for the restart window (30 s), then gives up and exits 4. Every
/// knock asks to resume; this fake closes each at once.
#[test]
fn after_a_shutdown_it_knocks_for_the_restart_window_then_exits_4() {
    let fake = Fake::start();
    let (mut ann, mut conn) = joined(&fake);
    conn.send("* server shutting down");
    let shutdown = Instant::now();
    drop(conn);
    let mut knocks = Vec::new();
    // The last knock comes 30 s after the shutdown; after it, nothing
    // comes, and the wait ends TIMEOUT later.
    while let Some((mut knock, at)) = fake.accept_within(TIMEOUT) {
        knock.expect(&format!("/resume {TOKEN} 1"));
        knocks.push(at - shutdown);
    }
    ann.wait_for("stderr", "The server did not come back within 30 s");
    assert_eq!(ann.exit_code(), Some(4));
    let secs: Vec<f64> = knocks.iter().map(Duration::as_secs_f64).collect();
    assert!((6..=12).contains(&knocks.len()), "knocks at {secs:?}");
    assert!(secs[0] < 2.0, "the first knock came late: {secs:?}");
    let last = secs[secs.len() - 1];
    assert!((26.0..=33.0).contains(&last), "knocks at {secs:?}");
    // The waits grow, and never pass 4 s (plus a busy machine's delay).
    let gaps: Vec<f64> = secs.windows(2).map(|w| w[1] - w[0]).collect();
    assert!(gaps[0] < gaps[3], "the waits did not grow: {gaps:?}");
    assert!(gaps.iter().all(|&g| g < 6.0), "a wait too long: {gaps:?}");
    assert!(fake.nobody_knocked());
}

/// A kick is final: the client exits 5 and never knocks again.
#[test]
fn no_reconnect_after_a_kick() {
    let fake = Fake::start();
    let (mut ann, mut conn) = joined(&fake);
    conn.send("! kicked by the server");
    drop(conn);
    ann.wait_for("stdout", "! kicked by the server");
    assert_eq!(ann.exit_code(), Some(5));
    assert!(fake.nobody_knocked(), "the client reconnected");
    let status = printed(&mut ann, "stderr");
    assert!(
        !status.iter().any(|l| l.contains("reconnect")),
        "{status:#?}"
    );
}

/// Without `--key`, the server's request for a code is answered by asking
/// the user (plain mode: the next input line), never printed; the code goes
/// out, then the lines the server refused without it, and it is sent again
/// first thing on the reconnection.
#[test]
fn the_code_is_asked_for_and_remembered() {
    let fake = Fake::start();
    let mut ann = client(&fake, &["--name", "ann"]);
    let mut conn = fake.accept();
    conn.expect("/nick ann");
    conn.expect("/session");
    // The greeting, and the answers to the two lines sent before the code.
    for _ in 0..3 {
        conn.send(CODE_WANTED);
    }
    ann.wait_for("stderr", "This class needs a code");
    ann.type_line("blue-42");
    conn.expect("/key blue-42");
    conn.expect("/nick ann");
    conn.expect("/session");
    for line in [
        WELCOME_1,
        "* you are now ann",
        &format!("#session {TOKEN}"),
        "> bob: hi",
    ] {
        conn.send(line);
    }
    ann.wait_for("stdout", "> bob: hi");
    drop(conn);
    let mut again = fake.accept();
    again.expect("/key blue-42");
    again.expect(&format!("/resume {TOKEN} 0"));
    again.send(CODE_WANTED);
    again.send(WELCOME_2);
    again.send("* resumed: 0 lines you missed");
    ann.wait_for("stdout", "* resumed: 0 lines you missed");
    let stdout = printed(&mut ann, "stdout");
    assert_eq!(
        stdout,
        [
            WELCOME_1,
            "* you are now ann",
            "> bob: hi",
            "* resumed: 0 lines you missed"
        ]
    );
}

/// With `--key`, the code is the first line, sent before the server says
/// anything; a wrong code is final: exit 5, and no knock again.
#[test]
fn with_key_the_code_goes_first_and_a_wrong_one_is_final() {
    let fake = Fake::start();
    let mut ann = client(&fake, &["--name", "ann", "--key", "red"]);
    let mut conn = fake.accept();
    conn.expect("/key red");
    conn.expect("/nick ann");
    conn.expect("/session");
    conn.send(CODE_WANTED);
    conn.send("! wrong code");
    drop(conn);
    ann.wait_for("stdout", "! wrong code");
    assert_eq!(ann.exit_code(), Some(5));
    assert!(fake.nobody_knocked(), "the client reconnected");
    let stdout = printed(&mut ann, "stdout");
    assert_eq!(stdout, ["! wrong code"]);
}

/// In a real terminal: while the client reconnects, the input line shows
/// the status before the prompt and keeps the half-typed line; Enter does
/// not send it; after the resume the missed line is shown, the welcome is
/// not shown twice, and the line, finished, is sent on the new connection.
#[cfg(unix)]
#[test]
fn a_reconnect_keeps_the_half_typed_line() {
    use common::Tmux;

    let test = "a_reconnect_keeps_the_half_typed_line";
    if !tools::tmux_ready(test) {
        return;
    }
    let fake = Fake::start();
    let Some(tmux) = Tmux::start("reconnect", &terminal_client(&fake, "")) else {
        return;
    };
    let mut conn = fake.accept();
    conn.expect("/nick ann");
    conn.expect("/session");
    for line in [
        WELCOME_1,
        "* you are now ann",
        &format!("#session {TOKEN}"),
        "#1 1",
        "> bob: one",
    ] {
        conn.send(line);
    }
    tmux.wait_for("ann's prompt", |s| {
        s.contains("> bob: one") && last_line(s) == "ann>"
    });
    tmux.type_text("half typed");
    tmux.wait_for("the half line", |s| last_line(s) == "ann> half typed");
    reset(conn);
    // The client knocks at once; the fake takes the connection but does not
    // answer yet, so the client waits for its resume.
    let mut again = fake.accept();
    again.expect(&format!("/resume {TOKEN} 1"));
    tmux.wait_for("the status before the kept line", |s| {
        last_line(s) == "(resuming...) ann> half typed"
    });
    tmux.keys(&["Enter"]);
    tmux.wait_for("Enter held", |s| {
        s.contains("(not connected: your line stays")
    });
    for line in [
        WELCOME_2,
        &format!("#session {TOKEN}"),
        "#2 1",
        "> bob: while you were away",
        "* resumed: 1 line you missed",
    ] {
        again.send(line);
    }
    let screen = tmux.wait_for_screen("the resume", true, |s| {
        s.contains("* resumed: 1 line you missed")
    });
    let plain = tmux.wait_for("the prompt back", |s| last_line(s) == "ann> half typed");
    let rows = non_empty_lines(&plain);
    let at = |text: &str| rows.iter().position(|r| r.starts_with(text));
    assert!(
        at("Connection lost: ") < at("Reconnected; resuming")
            && at("Reconnected; resuming") < at("> bob: while you were away")
            && at("> bob: while you were away") < at("* resumed: 1 line you missed"),
        "{plain}"
    );
    assert_eq!(
        rows.iter().filter(|r| r.starts_with("* welcome")).count(),
        1,
        "{plain}"
    );
    assert!(!plain.contains('#'), "a control line was shown:\n{plain}");
    // For the report: how a student sees it, in colour.
    eprintln!("the screen after the resume:\n{screen}");
    tmux.type_text(", finished");
    tmux.keys(&["Enter"]);
    again.expect("half typed, finished");
}

/// In a real terminal, the code is asked for on the input line (`code>`)
/// and never shown in the chat; the chat's half-typed line comes back.
#[cfg(unix)]
#[test]
fn the_code_is_asked_for_on_the_input_line() {
    use common::Tmux;

    let test = "the_code_is_asked_for_on_the_input_line";
    if !tools::tmux_ready(test) {
        return;
    }
    let fake = Fake::start();
    let Some(tmux) = Tmux::start("code", &terminal_client(&fake, "")) else {
        return;
    };
    let mut conn = fake.accept();
    conn.expect("/nick ann");
    conn.expect("/session");
    conn.send(CODE_WANTED);
    tmux.wait_for("the code prompt", |s| last_line(s) == "code>");
    tmux.type_text("blue-42");
    tmux.wait_for("the code typed", |s| last_line(s) == "code> blue-42");
    tmux.keys(&["Enter"]);
    conn.expect("/key blue-42");
    conn.expect("/nick ann");
    conn.expect("/session");
    conn.send(WELCOME_1);
    conn.send("* you are now ann");
    let screen = tmux.wait_for("ann's prompt", |s| last_line(s) == "ann>");
    assert!(!screen.contains("blue-42"), "the code was shown:\n{screen}");
    assert!(!screen.contains("/key"), "{screen}");
    // Up brings back nothing: the code is not in the chat's history.
    tmux.keys(&["Up"]);
    tmux.type_text("x");
    tmux.wait_for("an empty history", |s| last_line(s) == "ann> x");
}

/// The shell command that runs ann's client in tmux against `fake`.
#[cfg(unix)]
fn terminal_client(fake: &Fake, env: &str) -> String {
    format!(
        "env -u NO_COLOR TERM=xterm-256color {env} {} --port {} --name ann; \
         echo \"client exited $?\"",
        common::shell_quote(env!("CARGO_BIN_EXE_client")),
        fake.port
    )
}

/// The lines on the screen that are not empty.
#[cfg(unix)]
fn non_empty_lines(screen: &str) -> Vec<&str> {
    screen.lines().filter(|l| !l.is_empty()).collect()
}

/// The last line on the screen that is not empty.
#[cfg(unix)]
fn last_line(screen: &str) -> &str {
    screen.lines().rev().find(|l| !l.is_empty()).unwrap_or("")
}
