//! One chat session across connections, as a pure state machine: what to
//! send when a connection opens (the class code, then a resume or a join),
//! what each line from the server means (shown or hidden, a code wanted, a
//! resume settled), and what to do when a connection ends (try again when,
//! or stop). `link.rs` carries out what it decides; both modes drive it.

mod markers;
mod retry;
mod sleep;

use std::io;
use std::time::{Duration, Instant, SystemTime};

use super::ending::{Ending, LastWord};
use super::incoming::ServerLine;
use super::names::{refusal, NameEvent, NameTracker};
use markers::{Markers, Seen};
use retry::{try_again_after, Cause, Next, Outage};
use sleep::Clocks;

/// The server's lines the handshake reads, by how they start: as
/// `protocol::lines` writes them (the tests check each against it).
const CODE_WANTED: &str = "! this class needs a code";
const WELCOME: &str = "* welcome ";
const RESUMED: &str = "* resumed: ";
const CANNOT_RESUME: &str = "! cannot resume";
/// What a server older than sessions answers to the client's own commands:
/// hidden, as the user never typed them.
const NO_SESSIONS: &str = "! unknown command /session (try /help)";
const NO_KEYS: &str = "! unknown command /key (try /help)";
/// A server without a class code answers `/key` so; the client forgets its
/// code for this server.
const NO_CODE_NEEDED: &str = "* no code needed here";
/// A server that takes `/resume` only as a connection's very first line
/// says so to one that sent its code first: the client, having forgotten
/// the code, tries again.
const RESUME_FIRST: &str = "! /resume must be the first line";

/// The most lines a resuming connection keeps back until the server
/// answers its `/resume`: a welcome, a history, a moment of chat.
const MAX_HELD_BACK: usize = 1000;

/// The longest a connection attempt may take. Far longer than a refused
/// connection takes; what it bounds is a connect to a network that drops
/// packets (the Wi-Fi is down), which would otherwise hang for minutes.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// The shortest time given to an attempt, even the last one at the very end
/// of the window.
const MIN_CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
/// How long the server has to answer the check made after the computer
/// slept (see `sleep.rs`), before the connection is taken for dead: an
/// answer takes a round trip; a Wi-Fi coming back after a wake may take a
/// few seconds more.
const CHECK_TIMEOUT: Duration = Duration::from_secs(5);

/// What the session asks its driver to do, in order.
#[derive(Debug)]
pub(crate) enum Do {
    /// Write this line (no newline yet) to the connection.
    Send(String),
    /// Show this line from the server (cleaned) to the user.
    Show(String),
    /// Tell the user this: a status line of the client's own.
    Tell(String),
    /// Ask the user for the class code, and hand it to [`Session::code`].
    AskCode,
    /// Connect again, giving the attempt at most this long; then call
    /// [`Session::opened`] or [`Session::connect_failed`].
    Connect(Duration),
    /// Lines the user typed may be sent again: the session is resumed, or
    /// joined again, or the connection answered its check.
    Ready,
    /// Close the connection: it did not answer its check. Its end comes
    /// back as [`Session::closed`].
    HangUp,
    /// The session is over, this way. The connection, if one is still open,
    /// is no longer wanted.
    End(Ending),
}

/// Where the session stands.
#[derive(Debug)]
enum Phase {
    /// A connection is open.
    Open(Conn),
    /// No connection; the next attempt is due at this instant.
    Waiting(Instant),
    /// An attempt to connect is under way.
    Connecting,
    /// Over: nothing more happens.
    Over,
}

/// Whether this connection resumes the session.
#[derive(Debug)]
enum Resume {
    /// It does not (the first connection), or it is settled.
    No,
    /// `/resume` was sent. Until the server takes the session back (its
    /// `#session` line), what this connection is sent as a newcomer (its
    /// welcome, a room's history, lines said meanwhile, all of which the
    /// replay that follows covers) is kept back: shown only if the session
    /// starts afresh.
    Asked {
        held_back: Vec<String>,
        taken_back: bool,
    },
}

/// One connection, as the handshake follows it.
#[derive(Debug)]
struct Conn {
    last_word: LastWord,
    /// `/key` was sent on this connection: the server's request for a code,
    /// which it sends before it has read anything, is answered already.
    key_sent: bool,
    /// The user is being asked for the code.
    asking_code: bool,
    welcomed: bool,
    resume: Resume,
    /// `/session` was sent and neither answer has come.
    session_asked: bool,
    /// After the computer slept, `/session` was sent again to check that
    /// the connection still works: until when its answer may take.
    check: Option<Instant>,
    /// The check was not answered: the connection was hung up.
    silent: bool,
}

impl Conn {
    fn new() -> Conn {
        Conn {
            last_word: LastWord::default(),
            key_sent: false,
            asking_code: false,
            welcomed: false,
            resume: Resume::No,
            session_asked: false,
            check: None,
            silent: false,
        }
    }
}

/// The session: your name, the class code, the resume token and the count
/// of room lines, which outlive every connection, and the current one.
#[derive(Debug)]
pub(crate) struct Session {
    /// `--name`: asked for on the first connection.
    wanted_name: Option<String>,
    /// `--key`, or the code the user typed when asked.
    key: Option<String>,
    /// `false` with `--no-reconnect`.
    reconnect: bool,
    /// From `#session TOKEN`: `None` until the server gives one (a server
    /// older than sessions never does, and is not reconnected to).
    token: Option<String>,
    markers: Markers,
    names: NameTracker,
    phase: Phase,
    /// While reconnecting: since when, why, and the attempts' pace.
    outage: Option<Outage>,
    /// Why the last attempt to connect failed, for the message if the
    /// client gives up.
    last_error: Option<String>,
    /// The clocks when last read, to notice a sleep.
    clocks: Option<Clocks>,
}

impl Session {
    /// A session that will ask for `wanted_name` and send `key` on every
    /// connection, and reconnects by itself if `reconnect`. Its first
    /// connection is opened by the caller, which then calls [`Session::opened`].
    pub(crate) fn new(wanted_name: Option<String>, key: Option<String>, reconnect: bool) -> Self {
        Session {
            names: NameTracker::new(wanted_name.clone()),
            wanted_name,
            key,
            reconnect,
            token: None,
            markers: Markers::default(),
            phase: Phase::Connecting,
            outage: None,
            last_error: None,
            clocks: None,
        }
    }

    /// Your current name: `None` until the first welcome.
    pub(crate) fn name(&self) -> Option<&str> {
        self.names.name()
    }

    /// True while lines the user types can be sent: a connection is open,
    /// and neither a resume, nor the class code, nor the answer to a check
    /// is awaited on it.
    pub(crate) fn can_send(&self) -> bool {
        match &self.phase {
            Phase::Open(conn) => {
                self.outage.is_none()
                    && !conn.asking_code
                    && matches!(conn.resume, Resume::No)
                    && conn.check.is_none()
            }
            _ => false,
        }
    }

    /// True while the user is asked for the class code.
    pub(crate) fn asking_code(&self) -> bool {
        matches!(&self.phase, Phase::Open(conn) if conn.asking_code)
    }

    /// The session's state in a few words, for the input line, while it is
    /// not connected: `reconnecting in 3 s...`, `reconnecting...`,
    /// `resuming...`. `None` while all is well. (Plain mode has no input
    /// line: it says what happens in status lines instead.)
    #[cfg_attr(not(unix), allow(dead_code))]
    pub(crate) fn status(&self, now: Instant) -> Option<String> {
        match &self.phase {
            Phase::Waiting(at) => {
                // Whole seconds, rounded up: "in 0 s" would be a lie.
                let left = at.saturating_duration_since(now).as_millis();
                let secs = left.div_ceil(1000).max(1);
                Some(format!("reconnecting in {secs} s..."))
            }
            Phase::Connecting if self.outage.is_some() => Some("reconnecting...".to_string()),
            Phase::Open(_) if self.outage.is_some() => Some("resuming...".to_string()),
            Phase::Open(conn) if conn.check.is_some() => {
                Some("checking the connection...".to_string())
            }
            _ => None,
        }
    }

    /// When [`Session::tick`] must be called next, if ever: the next
    /// attempt, the end of the window while a resume hangs, or the end of
    /// a check's wait.
    pub(crate) fn wake_at(&self) -> Option<Instant> {
        match (&self.phase, &self.outage) {
            (Phase::Waiting(at), _) => Some(*at),
            (Phase::Open(_), Some(outage)) => Some(outage.deadline()),
            (Phase::Open(conn), None) => conn.check,
            _ => None,
        }
    }

    /// Reads the clocks (the caller does, every second or so, and before
    /// acting on an event): if the computer slept, checks that the
    /// connection still works before any line typed goes out on it, by
    /// asking for the session again (the server answers `#session TOKEN`,
    /// hidden). Only for a session the server keeps: with no token there
    /// is nothing to resume, and nothing to gain.
    pub(crate) fn clock(&mut self, wall: SystemTime, now: Instant) -> Vec<Do> {
        let mut out = Vec::new();
        let slept = match &mut self.clocks {
            Some(clocks) => clocks.slept(wall, now),
            None => {
                self.clocks = Some(Clocks::new(wall, now));
                false
            }
        };
        if !slept || self.token.is_none() || !self.can_send() {
            return out;
        }
        if let Phase::Open(conn) = &mut self.phase {
            conn.check = Some(now + CHECK_TIMEOUT);
            conn.session_asked = true;
            out.push(Do::Send("/session".to_string()));
        }
        out
    }

    /// A connection is open (the first, or one made for [`Do::Connect`]):
    /// the lines to send first. On every connection the class code comes
    /// first, if known; then, while reconnecting, `/resume TOKEN LAST`, and
    /// otherwise the join: `/nick NAME` and `/session`.
    pub(crate) fn opened(&mut self) -> Vec<Do> {
        let mut out = Vec::new();
        let mut conn = Conn::new();
        self.greet(&mut conn, &mut out);
        self.phase = Phase::Open(conn);
        out
    }

    /// The user typed the class code: it is sent, and kept for every later
    /// connection; the lines the server refused without it are sent again.
    pub(crate) fn code(&mut self, code: String) -> Vec<Do> {
        self.key = Some(code);
        let mut out = Vec::new();
        match std::mem::replace(&mut self.phase, Phase::Over) {
            Phase::Open(mut conn) => {
                conn.asking_code = false;
                conn.session_asked = false;
                self.greet(&mut conn, &mut out);
                self.phase = Phase::Open(conn);
            }
            other => self.phase = other,
        }
        out
    }

    /// Notes a line the user sent (a `/nick` in it is followed to its answer).
    pub(crate) fn typed(&mut self, line: &str) {
        self.names.sent(line);
    }

    /// Reads one line from the server.
    pub(crate) fn line(&mut self, line: &ServerLine) -> Vec<Do> {
        let mut out = Vec::new();
        let Phase::Open(conn) = &mut self.phase else {
            return out;
        };
        match self.markers.line(&line.text, line.whole) {
            Seen::Control => return out,
            Seen::Session { token, last } => {
                conn.session_asked = false;
                // Said when the server takes the session back, not when the
                // connection opens: a network still down may accept and
                // reset the next connection at once.
                if let Resume::Asked {
                    held_back,
                    taken_back,
                } = &mut conn.resume
                {
                    held_back.clear();
                    *taken_back = true;
                    out.push(Do::Tell("Reconnected; resuming your session.".to_string()));
                }
                // Counting starts where the server says when a session
                // starts; a later answer (a resume's, a check's) changes
                // nothing the markers do not.
                if let (None, Some(last)) = (&self.token, last) {
                    self.markers.start_at(last);
                }
                self.token = Some(token);
                if conn.check.take().is_some() {
                    out.push(Do::Ready);
                }
                return out;
            }
            Seen::Shown => {}
        }
        if line.blank {
            return out;
        }
        let text = line.text.as_str();
        conn.last_word.line(text);
        if line.whole && !conn.welcomed {
            if text.starts_with(CODE_WANTED) {
                // Sent before the server read anything, and again for each
                // line sent before the code: asked once, never shown.
                if !conn.key_sent && !conn.asking_code {
                    conn.asking_code = true;
                    out.push(Do::AskCode);
                }
                return out;
            }
            if text.starts_with(WELCOME) {
                conn.welcomed = true;
            }
        }
        if let Resume::Asked { held_back, .. } = &mut conn.resume {
            if text.starts_with(RESUMED) {
                conn.resume = Resume::No;
                self.outage = None;
                out.push(Do::Show(text.to_string()));
                out.push(Do::Ready);
                return out;
            }
            if text.starts_with(CANNOT_RESUME) {
                let held_back = std::mem::take(held_back);
                conn.resume = Resume::No;
                self.outage = None;
                self.token = None;
                self.markers.new_session();
                out.push(Do::Show(text.to_string()));
                let name = self
                    .names
                    .chosen()
                    .map(str::to_string)
                    .or_else(|| self.wanted_name.clone());
                out.push(Do::Tell(match &name {
                    Some(name) => format!(
                        "Your session could not be resumed: joining again as {name}; \
                         what was said while you were away is lost."
                    ),
                    None => "Your session could not be resumed: joining again; \
                             what was said while you were away is lost."
                        .to_string(),
                }));
                self.names.rejoin(name.clone());
                for line in &held_back {
                    show(&mut self.names, line, &mut out);
                }
                join(name, conn, &mut out, self.reconnect);
                out.push(Do::Ready);
                return out;
            }
        }
        if (conn.session_asked && text == NO_SESSIONS) || (conn.key_sent && text == NO_KEYS) {
            conn.session_asked = false;
            return out;
        }
        if conn.key_sent && text == NO_CODE_NEEDED {
            self.key = None;
            return out;
        }
        if matches!(conn.resume, Resume::Asked { .. }) && text.starts_with(RESUME_FIRST) {
            out.push(Do::HangUp);
            return out;
        }
        if let Resume::Asked {
            held_back,
            taken_back: false,
        } = &mut conn.resume
        {
            // Bounded: a server that never answers the resume cannot fill
            // the client's memory (and the lines past this are lost to a
            // session that starts afresh, as it says).
            if line.whole && held_back.len() < MAX_HELD_BACK {
                held_back.push(text.to_string());
            }
            return out;
        }
        show(&mut self.names, text, &mut out);
        out
    }

    /// The connection ended: the server closed it, or it failed with
    /// `failure`; `you_quit` if the user had asked to leave. Says whether
    /// the session goes on (nothing to do until [`Session::wake_at`]) or
    /// ends.
    pub(crate) fn closed(
        &mut self,
        failure: Option<io::Error>,
        you_quit: bool,
        now: Instant,
    ) -> Vec<Do> {
        let mut out = Vec::new();
        let conn = match std::mem::replace(&mut self.phase, Phase::Over) {
            Phase::Open(conn) => conn,
            other => {
                self.phase = other;
                return out;
            }
        };
        self.markers.connection_ended();
        let failure = match failure {
            None if conn.silent => Some(io::Error::new(
                io::ErrorKind::TimedOut,
                "no answer after the computer slept",
            )),
            other => other,
        };
        let ending = conn.last_word.ending(you_quit, failure);
        if self.outage.is_some() {
            // An attempt made while reconnecting.
            if try_again_after(&ending) {
                self.last_error = Some(ending.to_string());
                self.schedule(now, &mut out);
            } else {
                out.push(Do::End(ending));
            }
            return out;
        }
        let cause = Cause::of(&ending).filter(|_| self.reconnect && self.token.is_some());
        let Some(cause) = cause else {
            out.push(Do::End(ending));
            return out;
        };
        let window = cause.window().as_secs();
        out.push(Do::Tell(match (&ending, cause) {
            (Ending::Lost(Some(e)), _) => {
                format!("Connection lost: {e}; reconnecting for up to {window} s.")
            }
            (_, Cause::Lost) => format!("Connection lost; reconnecting for up to {window} s."),
            (_, Cause::Shutdown) => format!(
                "The server is shutting down; reconnecting for up to {window} s, \
                 in case it restarts."
            ),
        }));
        self.outage = Some(Outage::new(cause, now));
        self.last_error = None;
        self.schedule(now, &mut out);
        out
    }

    /// The attempt asked for by [`Do::Connect`] failed.
    pub(crate) fn connect_failed(&mut self, error: &io::Error, now: Instant) -> Vec<Do> {
        let mut out = Vec::new();
        if matches!(self.phase, Phase::Connecting) {
            self.last_error = Some(error.to_string());
            self.schedule(now, &mut out);
        }
        out
    }

    /// Time passed: starts the next attempt when it is due, gives up when
    /// the window ends on a connection whose resume never came, and hangs
    /// up a connection that did not answer its check.
    pub(crate) fn tick(&mut self, now: Instant) -> Vec<Do> {
        let mut out = Vec::new();
        self.check_timed_out(now, &mut out);
        let Some(outage) = &self.outage else {
            return out;
        };
        let deadline = outage.deadline();
        match self.phase {
            Phase::Waiting(at) if now >= at => {
                self.phase = Phase::Connecting;
                let left = deadline.saturating_duration_since(now);
                out.push(Do::Connect(
                    left.clamp(MIN_CONNECT_TIMEOUT, CONNECT_TIMEOUT),
                ));
            }
            Phase::Open(_) if now >= deadline => {
                self.phase = Phase::Over;
                self.last_error = Some("the server never answered the resume".to_string());
                self.give_up(&mut out);
            }
            _ => {}
        }
        out
    }

    /// A check not answered in time: the connection is hung up, and its
    /// close will be taken for a loss.
    fn check_timed_out(&mut self, now: Instant, out: &mut Vec<Do>) {
        if let Phase::Open(conn) = &mut self.phase {
            if conn.check.is_some_and(|until| now >= until) {
                conn.check = None;
                conn.silent = true;
                out.push(Do::HangUp);
            }
        }
    }

    /// After a failure during an outage: the next attempt, or the end.
    fn schedule(&mut self, now: Instant, out: &mut Vec<Do>) {
        let Some(outage) = self.outage.as_mut() else {
            return;
        };
        match outage.failed(now) {
            Next::TryAt(at) => self.phase = Phase::Waiting(at),
            Next::GiveUp => {
                self.phase = Phase::Over;
                self.give_up(out);
            }
        }
    }

    /// Says the client gives up, and ends the session as its outage began.
    fn give_up(&mut self, out: &mut Vec<Do>) {
        let Some(outage) = self.outage.take() else {
            return;
        };
        let window = outage.cause().window().as_secs();
        let why = self
            .last_error
            .take()
            .map(|e| format!(" (the last try: {e})"))
            .unwrap_or_default();
        out.push(Do::Tell(match outage.cause() {
            Cause::Lost => format!("Could not reconnect within {window} s{why}; giving up."),
            Cause::Shutdown => {
                format!("The server did not come back within {window} s{why}; giving up.")
            }
        }));
        out.push(Do::End(outage.cause().ending()));
    }

    /// The first lines on a connection: the code if known, then the resume
    /// while reconnecting, or the join.
    fn greet(&mut self, conn: &mut Conn, out: &mut Vec<Do>) {
        if let Some(key) = &self.key {
            out.push(Do::Send(format!("/key {key}")));
            conn.key_sent = true;
        }
        match (&self.outage, &self.token) {
            (Some(_), Some(token)) => {
                // Said once: not again when the code the server asked for
                // comes, and the resume is sent again.
                out.push(Do::Send(format!("/resume {token} {}", self.markers.last())));
                conn.resume = Resume::Asked {
                    held_back: Vec::new(),
                    taken_back: false,
                };
            }
            _ => {
                let name = self
                    .names
                    .chosen()
                    .map(str::to_string)
                    .or_else(|| self.wanted_name.clone());
                join(name, conn, out, self.reconnect);
            }
        }
    }
}

/// The join: `/nick NAME` if you have a name to ask for, then `/session`
/// (not with `--no-reconnect`).
fn join(name: Option<String>, conn: &mut Conn, out: &mut Vec<Do>, reconnect: bool) {
    if let Some(name) = name {
        out.push(Do::Send(format!("/nick {name}")));
    }
    // A client that will not come back asks for no session: the server
    // would hold its name, and keep the room from hearing that it left.
    if reconnect {
        out.push(Do::Send("/session".to_string()));
        conn.session_asked = true;
    }
}

/// Shows a line from the server, and explains it if it refused the name
/// asked for (a name it gave is read from [`Session::name`]).
fn show(names: &mut NameTracker, text: &str, out: &mut Vec<Do>) {
    let event = names.line(text);
    out.push(Do::Show(text.to_string()));
    if let Some(NameEvent::Refused { name, reason }) = event {
        out.push(Do::Tell(refusal(&name, &reason)));
    }
}

#[cfg(test)]
mod tests;
