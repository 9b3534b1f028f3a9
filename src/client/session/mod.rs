//! One chat session across connections, as a pure state machine: what to
//! send when a connection opens (the class code, then a resume or a join),
//! what each line from the server means (shown or hidden, a code wanted, a
//! resume settled), and what to do when a connection ends (try again when,
//! or stop). `link.rs` carries out what it decides; both modes drive it.
//! One connection's handshake is `handshake.rs`'s, one outage `outage.rs`'s.

mod handshake;
mod markers;
mod outage;
mod retry;
mod sleep;

use std::io;
use std::time::{Duration, Instant, SystemTime};

use super::ending::Ending;
use super::incoming::ServerLine;
use super::names::{refusal, NameEvent, NameTracker};
use handshake::{Conn, Heard};
use markers::{Markers, Seen};
use outage::{Next, Outage};
use retry::{try_again_after, Cause};
use sleep::Clocks;

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
    /// While reconnecting: since when, why, the attempts' pace, and why
    /// the last one failed.
    outage: Option<Outage>,
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
            Phase::Open(conn) => self.outage.is_none() && conn.can_send(),
            _ => false,
        }
    }

    /// True while the user is asked for the class code.
    pub(crate) fn asking_code(&self) -> bool {
        matches!(&self.phase, Phase::Open(conn) if conn.asking_code())
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
            Phase::Open(conn) if conn.check_due().is_some() => {
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
            (Phase::Open(conn), None) => conn.check_due(),
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
            out.push(Do::Send(conn.start_check(now)));
        }
        out
    }

    /// A connection is open (the first, or one made for [`Do::Connect`]):
    /// the lines to send first. On every connection the class code comes
    /// first, if known; then, while reconnecting, `/resume TOKEN LAST`, and
    /// otherwise the join: `/nick NAME` and `/session`.
    pub(crate) fn opened(&mut self) -> Vec<Do> {
        let mut conn = Conn::new();
        let out = self.greet(&mut conn);
        self.phase = Phase::Open(conn);
        out
    }

    /// The user typed the class code: it is sent, and kept for every later
    /// connection; the lines the server refused without it are sent again.
    pub(crate) fn code(&mut self, code: String) -> Vec<Do> {
        self.key = Some(code);
        match std::mem::replace(&mut self.phase, Phase::Over) {
            Phase::Open(mut conn) => {
                conn.code_given();
                let out = self.greet(&mut conn);
                self.phase = Phase::Open(conn);
                out
            }
            other => {
                self.phase = other;
                Vec::new()
            }
        }
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
                // Said when the server takes the session back, not when the
                // connection opens: a network still down may accept and
                // reset the next connection at once.
                if conn.session_given() {
                    out.push(Do::Tell("Reconnected; resuming your session.".to_string()));
                }
                // Counting starts where the server says when a session
                // starts; a later answer (a resume's, a check's) changes
                // nothing the markers do not.
                if let (None, Some(last)) = (&self.token, last) {
                    self.markers.start_at(last);
                }
                self.token = Some(token);
                if conn.check_answered() {
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
        match conn.heard(text, line.whole) {
            Heard::Shown => show(&mut self.names, text, &mut out),
            Heard::Hidden => {}
            Heard::CodeWanted => out.push(Do::AskCode),
            Heard::Resumed => {
                self.outage = None;
                out.push(Do::Show(text.to_string()));
                out.push(Do::Ready);
            }
            Heard::CannotResume(held_back) => {
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
                out.extend(conn.join(name, self.reconnect).into_iter().map(Do::Send));
                out.push(Do::Ready);
            }
            Heard::NoCodeNeeded => self.key = None,
            Heard::ResumeFirst => out.push(Do::HangUp),
        }
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
        let ending = conn.ending(you_quit, failure);
        if self.outage.is_some() {
            // An attempt made while reconnecting.
            if try_again_after(&ending) {
                self.schedule(now, Some(ending.to_string()), &mut out);
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
        let outage = Outage::new(cause, now);
        out.push(Do::Tell(outage.announce(&ending)));
        self.outage = Some(outage);
        self.schedule(now, None, &mut out);
        out
    }

    /// The attempt asked for by [`Do::Connect`] failed.
    pub(crate) fn connect_failed(&mut self, error: &io::Error, now: Instant) -> Vec<Do> {
        let mut out = Vec::new();
        if matches!(self.phase, Phase::Connecting) {
            self.schedule(now, Some(error.to_string()), &mut out);
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
                out.push(Do::Connect(outage.attempt_timeout(now)));
            }
            Phase::Open(_) if now >= deadline => {
                self.phase = Phase::Over;
                let why = "the server never answered the resume".to_string();
                self.give_up(Some(why), &mut out);
            }
            _ => {}
        }
        out
    }

    /// A check not answered in time: the connection is hung up, and its
    /// close will be taken for a loss.
    fn check_timed_out(&mut self, now: Instant, out: &mut Vec<Do>) {
        if let Phase::Open(conn) = &mut self.phase {
            if conn.check_timed_out(now) {
                out.push(Do::HangUp);
            }
        }
    }

    /// After a failure during an outage (the loss itself, or an attempt
    /// that failed because of `why`): the next attempt, or the end.
    fn schedule(&mut self, now: Instant, why: Option<String>, out: &mut Vec<Do>) {
        let Some(outage) = self.outage.as_mut() else {
            return;
        };
        match outage.failed(now, why) {
            Next::TryAt(at) => self.phase = Phase::Waiting(at),
            Next::GiveUp => {
                self.phase = Phase::Over;
                self.give_up(None, out);
            }
        }
    }

    /// Says the client gives up (because of `why`, or the last attempt's
    /// failure), and ends the session as its outage began.
    fn give_up(&mut self, why: Option<String>, out: &mut Vec<Do>) {
        let Some(outage) = self.outage.take() else {
            return;
        };
        let (told, ending) = outage.give_up(why);
        out.push(Do::Tell(told));
        out.push(Do::End(ending));
    }

    /// The first lines on a connection: the code if known, then the resume
    /// while reconnecting, or the join.
    fn greet(&self, conn: &mut Conn) -> Vec<Do> {
        let mut lines = Vec::new();
        if let Some(key) = &self.key {
            lines.push(conn.send_key(key));
        }
        match (&self.outage, &self.token) {
            (Some(_), Some(token)) => {
                // Said once: not again when the code the server asked for
                // comes, and the resume is sent again.
                lines.push(conn.ask_resume(token, self.markers.last()));
            }
            _ => {
                let name = self
                    .names
                    .chosen()
                    .map(str::to_string)
                    .or_else(|| self.wanted_name.clone());
                lines.extend(conn.join(name, self.reconnect));
            }
        }
        lines.into_iter().map(Do::Send).collect()
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
