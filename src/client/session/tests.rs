//! The session machine through whole conversations, with made-up time: what
//! it sends, shows and hides, when it reconnects and when it gives up.

use super::handshake::{CHECK_TIMEOUT, NO_KEYS, NO_SESSIONS};
use super::*;

const TOKEN: &str = "0123456789abcdef0123456789abcdef";
const WELCOME_1: &str = "* welcome 127.0.0.1:5000, 1 other online, /help lists the commands";
const WELCOME_2: &str = "* welcome 127.0.0.1:6000, 1 other online, /help lists the commands";

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn line(text: &str) -> ServerLine {
    ServerLine {
        text: text.to_string(),
        whole: true,
        blank: false,
    }
}

/// A short, comparable form of what the session asked for.
fn said(dos: Vec<Do>) -> Vec<String> {
    dos.into_iter()
        .map(|d| match d {
            Do::Send(l) => format!("send {l}"),
            Do::Show(l) => format!("show {l}"),
            Do::Tell(l) => format!("tell {l}"),
            Do::AskCode => "ask code".to_string(),
            Do::Connect(t) => format!("connect {}s", t.as_secs()),
            Do::Ready => "ready".to_string(),
            Do::HangUp => "hang up".to_string(),
            Do::End(e) => format!("end {e}"),
        })
        .collect()
}

/// Feeds whole lines; returns everything the session asked for.
fn feed(session: &mut Session, lines: &[&str]) -> Vec<String> {
    lines
        .iter()
        .flat_map(|l| said(session.line(&line(l))))
        .collect()
}

fn reset() -> Option<io::Error> {
    Some(io::Error::from(io::ErrorKind::ConnectionReset))
}

/// Ann's session after joining, with a session token and room lines 1 and 2.
fn joined() -> Session {
    let mut s = Session::new(Some("ann".into()), None, true);
    assert_eq!(said(s.opened()), ["send /nick ann", "send /session"]);
    let shown = feed(
        &mut s,
        &[
            WELCOME_1,
            "* you are now ann",
            &format!("#session {TOKEN}"),
            "#1 2",
            "> bob: one",
            "> bob: two",
        ],
    );
    assert_eq!(
        shown,
        [
            &format!("show {WELCOME_1}"),
            "show * you are now ann",
            "show > bob: one",
            "show > bob: two",
        ]
    );
    assert_eq!(s.markers.last(), 2);
    assert!(s.can_send());
    s
}

/// Runs an outage where every attempt is refused at once, from `start`;
/// returns when each attempt was made (from `start`), and how it ended.
fn refused_until_the_end(s: &mut Session, start: Instant) -> (Vec<u128>, Vec<String>) {
    let mut attempts = Vec::new();
    let refused = io::Error::from(io::ErrorKind::ConnectionRefused);
    loop {
        let at = s.wake_at().expect("a next attempt");
        let dos = said(s.tick(at));
        assert_eq!(dos.len(), 1, "{dos:?}");
        assert!(dos[0].starts_with("connect "), "{dos:?}");
        attempts.push((at - start).as_millis());
        let after = said(s.connect_failed(&refused, at));
        if !after.is_empty() {
            return (attempts, after);
        }
    }
}

#[test]
fn a_lost_connection_resumes_from_the_last_line_received_whole() {
    let mut s = joined();
    feed(&mut s, &["#3 2", "> bob: three"]);
    // Line 4 is cut in half by the loss: it does not count.
    let cut = ServerLine {
        text: "> bob: fo".into(),
        whole: false,
        blank: false,
    };
    assert_eq!(said(s.line(&cut)), ["show > bob: fo"]);
    let t0 = Instant::now();
    let told = said(s.closed(reset(), false, t0));
    assert_eq!(told.len(), 1);
    assert!(
        told[0].starts_with("tell Connection lost: ") && told[0].ends_with("up to 60 s."),
        "{told:?}"
    );
    assert!(!s.can_send());
    assert_eq!(s.status(t0).as_deref(), Some("reconnecting in 1 s..."));
    // Nothing happens before the first attempt is due, a quarter second on.
    assert_eq!(s.wake_at(), Some(t0 + ms(250)));
    assert!(s.tick(t0 + ms(249)).is_empty());
    assert_eq!(said(s.tick(t0 + ms(250))), ["connect 10s"]);
    assert_eq!(s.status(t0).as_deref(), Some("reconnecting..."));
    // The first attempt is refused; the next waits twice as long.
    let refused = io::Error::from(io::ErrorKind::ConnectionRefused);
    assert!(s.connect_failed(&refused, t0 + ms(260)).is_empty());
    assert_eq!(s.wake_at(), Some(t0 + ms(760)));
    assert_eq!(said(s.tick(t0 + ms(760))), ["connect 10s"]);
    assert_eq!(said(s.opened()), [format!("send /resume {TOKEN} 3")]);
    assert_eq!(s.status(t0).as_deref(), Some("resuming..."));
    // The welcome is not shown again, nor the control lines; the missed
    // lines are, then the resume line, and then typing may go on.
    let resumed = feed(
        &mut s,
        &[
            WELCOME_2,
            &format!("#session {TOKEN}"),
            "#4 2",
            "> bob: four",
            "> bob: five",
            "* resumed: 2 lines you missed",
        ],
    );
    assert_eq!(
        resumed,
        [
            "tell Reconnected; resuming your session.",
            "show > bob: four",
            "show > bob: five",
            "show * resumed: 2 lines you missed",
            "ready"
        ]
    );
    assert!(s.can_send());
    assert_eq!(s.status(t0), None);
    assert_eq!(s.name(), Some("ann"));
    assert_eq!(s.markers.last(), 5);
    // A second loss is a new outage, with a fresh backoff and window.
    let t1 = t0 + Duration::from_secs(100);
    s.closed(None, false, t1);
    assert_eq!(s.wake_at(), Some(t1 + ms(250)));
}

#[test]
fn a_session_that_cannot_be_resumed_joins_again() {
    let mut s = joined();
    let t0 = Instant::now();
    s.closed(reset(), false, t0);
    s.tick(t0 + ms(250));
    assert_eq!(said(s.opened())[0], format!("send /resume {TOKEN} 2"));
    let answer = feed(
        &mut s,
        &[
            WELCOME_2,
            "* history: the last 1 line",
            "> bob: before",
            "* end of history",
            "! cannot resume: no such session (it ran out, or the server forgot it)",
        ],
    );
    assert_eq!(
        answer,
        [
            "show ! cannot resume: no such session (it ran out, or the server forgot it)",
            "tell Your session could not be resumed: joining again as ann; \
             what was said while you were away is lost.",
            &format!("show {WELCOME_2}"),
            "show * history: the last 1 line",
            "show > bob: before",
            "show * end of history",
            "send /nick ann",
            "send /session",
            "ready",
        ]
    );
    assert!(s.can_send());
    assert_eq!(s.token, None);
    assert_eq!(s.markers.last(), 0);
    assert_eq!(
        feed(&mut s, &["* you are now ann", "#session ffff"]),
        ["show * you are now ann"]
    );
    assert_eq!(s.name(), Some("ann"));
    assert_eq!(s.token.as_deref(), Some("ffff"));
}

#[test]
fn a_name_taken_meanwhile_is_explained_on_the_rejoin() {
    let mut s = joined();
    let t0 = Instant::now();
    s.closed(reset(), false, t0);
    s.tick(t0 + ms(250));
    s.opened();
    feed(&mut s, &[WELCOME_2, "! cannot resume: no such session"]);
    let refused = feed(&mut s, &["! name ann is taken"]);
    assert_eq!(refused[0], "show ! name ann is taken");
    assert!(refused[1].starts_with("tell The server refused the name ann"));
}

#[test]
fn after_a_shutdown_it_tries_for_thirty_seconds_then_ends_as_a_shutdown() {
    let mut s = joined();
    feed(&mut s, &["* server shutting down"]);
    let t0 = Instant::now();
    let told = said(s.closed(None, false, t0));
    assert_eq!(
        told,
        ["tell The server is shutting down; reconnecting for up to 30 s, in case it restarts."]
    );
    let (attempts, end) = refused_until_the_end(&mut s, t0);
    assert_eq!(
        attempts,
        [250, 750, 1750, 3750, 7750, 11750, 15750, 19750, 23750, 27750, 30000]
    );
    assert_eq!(end.len(), 2);
    assert!(
        end[0].starts_with("tell The server did not come back within 30 s (the last try: "),
        "{end:?}"
    );
    assert_eq!(end[1], "end the server shut down");
    assert_eq!(s.wake_at(), None);
}

#[test]
fn after_a_loss_it_tries_for_sixty_seconds_then_ends_as_lost() {
    let mut s = joined();
    let t0 = Instant::now();
    s.closed(None, false, t0);
    let (attempts, end) = refused_until_the_end(&mut s, t0);
    assert_eq!(attempts.last(), Some(&60_000));
    assert!(end[0].starts_with("tell Could not reconnect within 60 s"));
    assert_eq!(end[1], "end connection lost");
}

#[test]
fn attempts_the_server_closes_or_refuses_are_tried_again_until_it_sends_you_away() {
    let mut s = joined();
    let t0 = Instant::now();
    s.closed(reset(), false, t0);
    s.tick(t0 + ms(250));
    s.opened();
    // Closed at once, as a server still starting might: try again.
    assert!(s.closed(None, false, t0 + ms(300)).is_empty());
    assert_eq!(s.wake_at(), Some(t0 + ms(800)));
    s.tick(t0 + ms(800));
    s.opened();
    feed(&mut s, &["! server full (30 clients), try again later"]);
    assert!(s.closed(None, false, t0 + ms(900)).is_empty());
    s.tick(t0 + ms(1900));
    s.opened();
    feed(&mut s, &["! banned from this server for 10 min"]);
    assert_eq!(
        said(s.closed(None, false, t0 + ms(2000))),
        ["end sent away by the server: banned from this server for 10 min"]
    );
}

#[test]
fn a_resume_that_never_comes_gives_up_at_the_end_of_the_window() {
    let mut s = joined();
    let t0 = Instant::now();
    s.closed(reset(), false, t0);
    s.tick(t0 + ms(250));
    s.opened();
    feed(&mut s, &[WELCOME_2]);
    assert_eq!(s.wake_at(), Some(t0 + Duration::from_secs(60)));
    assert!(s.tick(t0 + Duration::from_secs(59)).is_empty());
    let end = said(s.tick(t0 + Duration::from_secs(60)));
    assert!(end[0].contains("never answered the resume"), "{end:?}");
    assert_eq!(end[1], "end connection lost");
}

#[test]
fn no_reconnect_after_quitting_being_sent_away_or_without_a_session() {
    for last in [
        "* bye",
        "! kicked by the server",
        "! banned from this server for 10 min",
    ] {
        let mut s = joined();
        feed(&mut s, &[last]);
        let dos = said(s.closed(None, false, Instant::now()));
        assert_eq!(dos.len(), 1, "{last}: {dos:?}");
        assert!(dos[0].starts_with("end "), "{last}: {dos:?}");
    }
    // You quit (Ctrl-D in plain mode), whatever the server said last.
    let mut s = joined();
    assert_eq!(said(s.closed(None, true, Instant::now())), ["end you quit"]);
    // --no-reconnect.
    let mut s = Session::new(None, None, false);
    s.opened();
    feed(&mut s, &[WELCOME_1, &format!("#session {TOKEN}")]);
    assert_eq!(
        said(s.closed(reset(), false, Instant::now())),
        ["end connection lost: connection reset"]
    );
    // A server older than sessions: its refusal of /session is hidden, and
    // a loss ends the client as before (there is nothing to resume).
    let mut s = Session::new(None, None, true);
    assert_eq!(said(s.opened()), ["send /session"]);
    let shown = feed(&mut s, &[WELCOME_1, NO_SESSIONS, "> bob: hi"]);
    assert_eq!(shown, [&format!("show {WELCOME_1}"), "show > bob: hi"]);
    assert_eq!(
        said(s.closed(None, false, Instant::now())),
        ["end connection lost"]
    );
}

#[test]
fn the_code_is_asked_for_once_and_the_refused_lines_sent_again() {
    let mut s = Session::new(Some("ann".into()), None, true);
    assert_eq!(said(s.opened()), ["send /nick ann", "send /session"]);
    // The server's greeting, then its answers to /nick and /session.
    let asked = feed(
        &mut s,
        &[
            "! this class needs a code: /key CODE",
            "! this class needs a code: /key CODE",
            "! this class needs a code: /key CODE",
        ],
    );
    assert_eq!(asked, ["ask code"]);
    assert!(s.asking_code() && !s.can_send());
    assert_eq!(
        said(s.code("blue-42".into())),
        ["send /key blue-42", "send /nick ann", "send /session"]
    );
    assert!(!s.asking_code() && s.can_send());
    let shown = feed(&mut s, &[WELCOME_1, "* you are now ann"]);
    assert_eq!(shown[0], format!("show {WELCOME_1}"));
    // The code is remembered for the resume.
    feed(&mut s, &[&format!("#session {TOKEN}")]);
    let t0 = Instant::now();
    s.closed(reset(), false, t0);
    s.tick(t0 + ms(250));
    assert_eq!(
        said(s.opened()),
        ["send /key blue-42", &format!("send /resume {TOKEN} 0")]
    );
    // The greeting that the server sent before reading the code is hidden.
    assert!(feed(&mut s, &["! this class needs a code: /key CODE"]).is_empty());
    assert!(!s.asking_code());
}

#[test]
fn with_a_key_the_code_goes_first_and_the_greeting_is_hidden() {
    let mut s = Session::new(None, Some("blue".into()), true);
    assert_eq!(said(s.opened()), ["send /key blue", "send /session"]);
    let shown = feed(
        &mut s,
        &["! this class needs a code: /key CODE", WELCOME_1, NO_KEYS],
    );
    assert_eq!(shown, [format!("show {WELCOME_1}")]);
    // A wrong code: shown, and the end is final.
    let mut s = Session::new(None, Some("red".into()), true);
    s.opened();
    assert_eq!(
        feed(
            &mut s,
            &["! this class needs a code: /key CODE", "! wrong code"]
        ),
        ["show ! wrong code"]
    );
    assert_eq!(
        said(s.closed(None, false, Instant::now())),
        ["end sent away by the server: wrong code"]
    );
}

#[test]
fn control_lines_and_blank_lines_are_never_shown() {
    let mut s = joined();
    let blank = ServerLine {
        text: String::new(),
        whole: true,
        blank: true,
    };
    assert!(s.line(&blank).is_empty());
    assert!(feed(&mut s, &["#session x", "#12 0", "#what is this"]).is_empty());
}

#[test]
fn after_a_sleep_the_connection_is_checked_before_lines_go_out() {
    let mut s = joined();
    let wall = std::time::SystemTime::now();
    let t0 = Instant::now();
    assert!(s.clock(wall, t0).is_empty());
    // Awake: nothing to check.
    assert!(s.clock(wall + ms(1000), t0 + ms(1000)).is_empty());
    // Ten minutes passed on the wall, a moment on the monotonic clock.
    let woke = t0 + ms(1100);
    let dos = said(s.clock(wall + Duration::from_secs(601), woke));
    assert_eq!(dos, ["send /session"]);
    assert!(!s.can_send());
    assert_eq!(
        s.status(woke).as_deref(),
        Some("checking the connection...")
    );
    assert_eq!(s.wake_at(), Some(woke + CHECK_TIMEOUT));
    // The server still has it: its hidden answer lets lines go again.
    assert_eq!(feed(&mut s, &[&format!("#session {TOKEN}")]), ["ready"]);
    assert!(s.can_send());
    assert_eq!(s.wake_at(), None);
}

#[test]
fn a_check_not_answered_hangs_up_and_reconnects() {
    let mut s = joined();
    let wall = std::time::SystemTime::now();
    let t0 = Instant::now();
    s.clock(wall, t0);
    s.clock(wall + Duration::from_secs(601), t0 + ms(100));
    assert!(s.tick(t0 + ms(5000)).is_empty());
    assert_eq!(said(s.tick(t0 + ms(5100))), ["hang up"]);
    let told = said(s.closed(None, false, t0 + ms(5200)));
    assert_eq!(
        told,
        ["tell Connection lost: no answer after the computer slept; \
          reconnecting for up to 60 s."]
    );
    assert_eq!(said(s.tick(t0 + ms(5450))), ["connect 10s"]);
}

#[test]
fn without_a_session_a_sleep_checks_nothing() {
    let mut s = Session::new(None, None, true);
    s.opened();
    feed(&mut s, &[WELCOME_1]);
    let wall = std::time::SystemTime::now();
    let t0 = Instant::now();
    s.clock(wall, t0);
    assert!(s
        .clock(wall + Duration::from_secs(600), t0 + ms(10))
        .is_empty());
    assert!(s.can_send());
}

#[test]
fn a_session_starts_counting_where_the_server_says() {
    let mut s = Session::new(Some("ann".into()), None, true);
    s.opened();
    feed(
        &mut s,
        &[
            WELCOME_1,
            "* you are now ann",
            &format!("#session {TOKEN} 40"),
        ],
    );
    // No room line yet: a loss resumes from line 40, not from the start.
    let t0 = Instant::now();
    s.closed(reset(), false, t0);
    s.tick(t0 + ms(250));
    assert_eq!(said(s.opened())[0], format!("send /resume {TOKEN} 40"));
    // The resume's own `#session TOKEN LAST` and its markers go on from there.
    feed(
        &mut s,
        &[
            WELCOME_2,
            &format!("#session {TOKEN} 40"),
            "#41 1",
            "> bob: forty-one",
            "* resumed: 1 line you missed",
        ],
    );
    assert_eq!(s.markers.last(), 41);
}

#[test]
fn a_code_the_server_does_not_need_is_forgotten() {
    let mut s = Session::new(Some("ann".into()), Some("blue".into()), true);
    assert_eq!(
        said(s.opened()),
        ["send /key blue", "send /nick ann", "send /session"]
    );
    let shown = feed(
        &mut s,
        &[
            WELCOME_1,
            "* no code needed here",
            "* you are now ann",
            &format!("#session {TOKEN} 0"),
        ],
    );
    assert_eq!(
        shown,
        [
            format!("show {WELCOME_1}"),
            "show * you are now ann".to_string()
        ]
    );
    let t0 = Instant::now();
    s.closed(reset(), false, t0);
    s.tick(t0 + ms(250));
    assert_eq!(said(s.opened()), [format!("send /resume {TOKEN} 0")]);
}

#[test]
fn a_resume_refused_for_not_coming_first_is_tried_again_without_the_code() {
    let mut s = Session::new(Some("ann".into()), Some("blue".into()), true);
    s.opened();
    feed(&mut s, &[WELCOME_1, &format!("#session {TOKEN} 0")]);
    let t0 = Instant::now();
    s.closed(reset(), false, t0);
    s.tick(t0 + ms(250));
    assert_eq!(said(s.opened())[0], "send /key blue");
    // A server restarted without a code.
    let answer = feed(
        &mut s,
        &[
            WELCOME_2,
            "* no code needed here",
            "! /resume must be the first line",
        ],
    );
    assert_eq!(answer, ["hang up"]);
    assert!(s.closed(None, false, t0 + ms(400)).is_empty());
    s.tick(t0 + ms(900));
    assert_eq!(said(s.opened())[0], format!("send /resume {TOKEN} 0"));
}

#[test]
fn a_client_that_will_not_reconnect_asks_for_no_session() {
    let mut s = Session::new(Some("ann".into()), None, false);
    assert_eq!(said(s.opened()), ["send /nick ann"]);
}

#[test]
fn what_a_resuming_connection_gets_as_a_newcomer_is_not_shown() {
    let mut s = joined();
    let t0 = Instant::now();
    s.closed(reset(), false, t0);
    s.tick(t0 + ms(250));
    s.opened();
    // Its welcome, the room's history and a line said before the server
    // handled the resume: the replay after `#session` has all of it.
    let resumed = feed(
        &mut s,
        &[
            WELCOME_2,
            "* history: the last 1 line",
            "> bob: two",
            "* end of history",
            "> bob: three",
            &format!("#session {TOKEN} 2"),
            "#3 1",
            "> bob: three",
            "* resumed: 1 line you missed",
        ],
    );
    assert_eq!(
        resumed,
        [
            "tell Reconnected; resuming your session.",
            "show > bob: three",
            "show * resumed: 1 line you missed",
            "ready"
        ]
    );
}
