//! One connection as the handshake follows it ([`Conn`]): the lines it opens
//! with, the class code asked for once, the welcome, a resume's answer and
//! what is held back until `#session`, the hidden replies to the client's own
//! commands, and the check after a sleep. Pure: the session machine
//! (`mod.rs`) feeds it the server's lines and acts on what it [`Heard`].

use std::io;
use std::time::{Duration, Instant};

use crate::client::ending::{Ending, LastWord};

/// The server's lines the handshake reads, by how they start: as
/// `protocol::lines` writes them (the tests check each against it).
const CODE_WANTED: &str = "! this class needs a code";
const WELCOME: &str = "* welcome ";
const RESUMED: &str = "* resumed: ";
const CANNOT_RESUME: &str = "! cannot resume";
/// What a server older than sessions answers to the client's own commands:
/// hidden, as the user never typed them.
pub(super) const NO_SESSIONS: &str = "! unknown command /session (try /help)";
pub(super) const NO_KEYS: &str = "! unknown command /key (try /help)";
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

/// How long the server has to answer the check made after the computer
/// slept (see `sleep.rs`), before the connection is taken for dead: an
/// answer takes a round trip; a Wi-Fi coming back after a wake may take a
/// few seconds more.
pub(super) const CHECK_TIMEOUT: Duration = Duration::from_secs(5);

/// What a line from the server (not a control line, not blank) means to
/// the connection; the session acts on it.
#[derive(Debug)]
pub(crate) enum Heard {
    /// Show it.
    Shown,
    /// Not for the user: an answer to the client's own command, a request
    /// for the code already answered, or a line held back.
    Hidden,
    /// The server wants the class code: ask the user (once).
    CodeWanted,
    /// The server took the session back: show the line, and lines typed
    /// may go out again.
    Resumed,
    /// The server could not take the session back: what was held back,
    /// to be shown now that the session starts afresh.
    CannotResume(Vec<String>),
    /// The server needs no code: forget it.
    NoCodeNeeded,
    /// The server takes `/resume` only first: hang up and try again.
    ResumeFirst,
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
pub(crate) struct Conn {
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
    /// A connection just opened: nothing sent on it yet.
    pub(crate) fn new() -> Conn {
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

    /// True while lines the user types can go out on it: neither a resume,
    /// nor the class code, nor the answer to a check is awaited.
    pub(crate) fn can_send(&self) -> bool {
        !self.asking_code && matches!(self.resume, Resume::No) && self.check.is_none()
    }

    /// True while the user is asked for the class code.
    pub(crate) fn asking_code(&self) -> bool {
        self.asking_code
    }

    /// Until when the answer to a check may take, while one is awaited.
    pub(crate) fn check_due(&self) -> Option<Instant> {
        self.check
    }

    /// The line that sends the class code.
    pub(crate) fn send_key(&mut self, key: &str) -> String {
        self.key_sent = true;
        format!("/key {key}")
    }

    /// The line that resumes the session `token` from room line `last`;
    /// what the connection is sent as a newcomer is held back from now on.
    pub(crate) fn ask_resume(&mut self, token: &str, last: u64) -> String {
        self.resume = Resume::Asked {
            held_back: Vec::new(),
            taken_back: false,
        };
        format!("/resume {token} {last}")
    }

    /// The join: `/nick NAME` if you have a name to ask for, then `/session`
    /// (not with `--no-reconnect`).
    pub(crate) fn join(&mut self, name: Option<String>, reconnect: bool) -> Vec<String> {
        let mut lines = Vec::new();
        if let Some(name) = name {
            lines.push(format!("/nick {name}"));
        }
        // A client that will not come back asks for no session: the server
        // would hold its name, and keep the room from hearing that it left.
        if reconnect {
            lines.push("/session".to_string());
            self.session_asked = true;
        }
        lines
    }

    /// The user typed the code: the lines the server refused without it
    /// are about to be sent again, and answered afresh.
    pub(crate) fn code_given(&mut self) {
        self.asking_code = false;
        self.session_asked = false;
    }

    /// After the computer slept, at `now`: the line that checks that the
    /// connection still works (the server answers `#session TOKEN`).
    pub(crate) fn start_check(&mut self, now: Instant) -> String {
        self.check = Some(now + CHECK_TIMEOUT);
        self.session_asked = true;
        "/session".to_string()
    }

    /// True if the check was not answered by `now`: the connection is to
    /// be hung up, and its close will be taken for a loss.
    pub(crate) fn check_timed_out(&mut self, now: Instant) -> bool {
        if self.check.is_some_and(|until| now >= until) {
            self.check = None;
            self.silent = true;
            return true;
        }
        false
    }

    /// The server's `#session` line came. True if it answers a resume: the
    /// server took the session back, and what was held back is not needed.
    pub(crate) fn session_given(&mut self) -> bool {
        self.session_asked = false;
        if let Resume::Asked {
            held_back,
            taken_back,
        } = &mut self.resume
        {
            held_back.clear();
            *taken_back = true;
            return true;
        }
        false
    }

    /// True if a check was awaited: the `#session` line answered it.
    pub(crate) fn check_answered(&mut self) -> bool {
        self.check.take().is_some()
    }

    /// Reads one line from the server (not a control line, not blank), or
    /// a piece of one (`whole` false).
    pub(crate) fn heard(&mut self, text: &str, whole: bool) -> Heard {
        self.last_word.line(text);
        if whole && !self.welcomed {
            if text.starts_with(CODE_WANTED) {
                // Sent before the server read anything, and again for each
                // line sent before the code: asked once, never shown.
                if !self.key_sent && !self.asking_code {
                    self.asking_code = true;
                    return Heard::CodeWanted;
                }
                return Heard::Hidden;
            }
            if text.starts_with(WELCOME) {
                self.welcomed = true;
            }
        }
        if let Resume::Asked { held_back, .. } = &mut self.resume {
            if text.starts_with(RESUMED) {
                self.resume = Resume::No;
                return Heard::Resumed;
            }
            if text.starts_with(CANNOT_RESUME) {
                let held_back = std::mem::take(held_back);
                self.resume = Resume::No;
                return Heard::CannotResume(held_back);
            }
        }
        if (self.session_asked && text == NO_SESSIONS) || (self.key_sent && text == NO_KEYS) {
            self.session_asked = false;
            return Heard::Hidden;
        }
        if self.key_sent && text == NO_CODE_NEEDED {
            return Heard::NoCodeNeeded;
        }
        if matches!(self.resume, Resume::Asked { .. }) && text.starts_with(RESUME_FIRST) {
            return Heard::ResumeFirst;
        }
        if let Resume::Asked {
            held_back,
            taken_back: false,
        } = &mut self.resume
        {
            // Bounded: a server that never answers the resume cannot fill
            // the client's memory (and the lines past this are lost to a
            // session that starts afresh, as it says).
            if whole && held_back.len() < MAX_HELD_BACK {
                held_back.push(text.to_string());
            }
            return Heard::Hidden;
        }
        Heard::Shown
    }

    /// How the connection ended: the server closed it, or it failed with
    /// `failure`; `you_quit` if the user had asked to leave. A close after
    /// a check went unanswered is a loss.
    pub(crate) fn ending(self, you_quit: bool, failure: Option<io::Error>) -> Ending {
        let failure = match failure {
            None if self.silent => Some(io::Error::new(
                io::ErrorKind::TimedOut,
                "no answer after the computer slept",
            )),
            other => other,
        };
        self.last_word.ending(you_quit, failure)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lines_the_handshake_reads_are_the_servers() {
        use crate::protocol::lines::{self, Recording};
        let text = |line: Vec<u8>| String::from_utf8(line).expect("text");
        assert!(text(lines::needs_code()).starts_with(CODE_WANTED));
        assert!(text(lines::welcome("ann", 1, &[], Recording::Off)).starts_with(WELCOME));
        assert!(text(lines::resumed(3)).starts_with(RESUMED));
        assert!(text(lines::cannot_resume()).starts_with(CANNOT_RESUME));
        assert_eq!(text(lines::no_code_needed()), format!("{NO_CODE_NEEDED}\n"));
        assert_eq!(text(lines::resume_first()), format!("{RESUME_FIRST}\n"));
    }
}
