//! Your name as the server sees it, followed through the server's lines: for
//! the prompt, and to explain a refused `--name`. Pure: lines in, events out.

use std::collections::VecDeque;

/// What a line from the server meant for your name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum NameEvent {
    /// You are now known by this name (the welcome, or a `/nick` that worked).
    Changed(String),
    /// The server refused the name asked for with `--name`; `reason` is its
    /// `!` line without the mark.
    Refused {
        /// The name `--name` asked for.
        name: String,
        /// What the server said.
        reason: String,
    },
}

/// `/nick` requests typed by hand and not yet answered, kept at most.
const ASKED_LIMIT: usize = 8;

/// Follows your name.
///
/// Only the server writes lines that start with `*` or `!` on its own, but a
/// client named `you` can make one: `/me are now bob` reaches everyone as
/// `* you are now bob`. So a `* you are now NAME` line counts only when NAME
/// is a name this client asked for and has no answer for yet.
#[derive(Debug)]
pub(crate) struct NameTracker {
    name: Option<String>,
    /// True once the name is one the server gave on request (`/nick`), not
    /// the address the welcome names you by.
    chosen: bool,
    welcomed: bool,
    /// The `--name` request, until its answer. The server answers lines in
    /// order and it was the first line sent, so the first answer-like line
    /// after the welcome (`* you are …` or any `!` line) is its answer.
    requested: Option<String>,
    /// Names asked for with `/nick` typed by hand.
    asked: VecDeque<String>,
}

impl NameTracker {
    /// A tracker for a session that asked for `requested` with `--name`
    /// (`None` if it did not, or if sending the request failed).
    pub(crate) fn new(requested: Option<String>) -> Self {
        NameTracker {
            name: None,
            chosen: false,
            welcomed: false,
            requested,
            asked: VecDeque::new(),
        }
    }

    /// Your current name; `None` until the welcome line.
    pub(crate) fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// The name you chose and the server granted, if any: what a client that
    /// joins again asks for.
    pub(crate) fn chosen(&self) -> Option<&str> {
        self.name.as_deref().filter(|_| self.chosen)
    }

    /// Starts over on a new connection where you join afresh: its welcome
    /// names you again (by your new address), and `requested` is the name
    /// asked for right after it, as `--name` is on the first connection.
    pub(crate) fn rejoin(&mut self, requested: Option<String>) {
        self.welcomed = false;
        self.chosen = false;
        self.requested = requested;
        self.asked.clear();
    }

    /// Notes a line this client sent, so that the answer to a `/nick` in it
    /// is recognised.
    pub(crate) fn sent(&mut self, line: &str) {
        let mut words = line.split_whitespace();
        let is_nick = words
            .next()
            .is_some_and(|w| w.eq_ignore_ascii_case("/nick"));
        if let (true, Some(name), None) = (is_nick, words.next(), words.next()) {
            if self.asked.len() == ASKED_LIMIT {
                self.asked.pop_front();
            }
            self.asked.push_back(name.to_string());
        }
    }

    /// Reads one line from the server (cleaned, without its newline).
    pub(crate) fn line(&mut self, line: &str) -> Option<NameEvent> {
        if !self.welcomed {
            let name = line
                .strip_prefix("* welcome ")
                .and_then(|rest| rest.split(", ").next())
                .filter(|name| !name.is_empty())?;
            self.welcomed = true;
            self.chosen = false;
            self.name = Some(name.to_string());
            return Some(NameEvent::Changed(name.to_string()));
        }
        let new = line
            .strip_prefix("* you are now ")
            .or_else(|| line.strip_prefix("* you are already "));
        if let Some(new) = new.map(str::trim) {
            let is_answer = |asked: &String| asked.eq_ignore_ascii_case(new);
            if self.requested.as_ref().is_some_and(is_answer) {
                self.requested = None;
            } else if let Some(at) = self.asked.iter().position(is_answer) {
                self.asked.remove(at);
            } else {
                return None;
            }
            self.chosen = true;
            self.name = Some(new.to_string());
            return Some(NameEvent::Changed(new.to_string()));
        }
        let reason = line.strip_prefix("! ")?;
        let name = self.requested.take()?;
        Some(NameEvent::Refused {
            name,
            reason: reason.to_string(),
        })
    }
}

/// How a refused `--name` is explained, in both modes.
pub(crate) fn refusal(name: &str, reason: &str) -> String {
    format!("The server refused the name {name} ({reason}); carrying on under your address.")
}

#[cfg(test)]
mod tests {
    use super::*;

    const WELCOME: &str = "* welcome 127.0.0.1:5000, 0 others online, /help lists the commands";

    fn changed(name: &str) -> Option<NameEvent> {
        Some(NameEvent::Changed(name.to_string()))
    }

    #[test]
    fn the_welcome_gives_the_first_name() {
        let mut t = NameTracker::new(None);
        assert_eq!(t.name(), None);
        assert_eq!(t.line("* bob joined"), None);
        assert_eq!(t.line(WELCOME), changed("127.0.0.1:5000"));
        assert_eq!(t.name(), Some("127.0.0.1:5000"));
        // A second welcome-looking line (someone's /me) changes nothing.
        assert_eq!(t.line("* welcome evil, hi"), None);
    }

    #[test]
    fn the_name_flag_is_followed_to_its_answer() {
        let mut t = NameTracker::new(Some("ann".into()));
        t.line(WELCOME);
        assert_eq!(t.line("* you are now ann"), changed("ann"));
        assert_eq!(t.name(), Some("ann"));
        // Answered: a later error is not about the name.
        assert_eq!(t.line("! unknown command /x (try /help)"), None);
    }

    #[test]
    fn every_refusal_of_the_name_flag_is_reported() {
        for reason in [
            "name ann is taken",
            "invalid name: use 1 to 20 ASCII letters, digits, _ or -, starting with a letter",
            "usage: /nick NAME",
            "some reply a newer server might give",
        ] {
            let mut t = NameTracker::new(Some("ann".into()));
            t.line(WELCOME);
            assert_eq!(t.line("> bob: chat in between"), None);
            assert_eq!(
                t.line(&format!("! {reason}")),
                Some(NameEvent::Refused {
                    name: "ann".into(),
                    reason: reason.into()
                })
            );
            assert_eq!(t.name(), Some("127.0.0.1:5000"));
        }
    }

    #[test]
    fn an_error_before_the_welcome_is_not_about_the_name() {
        let mut t = NameTracker::new(Some("ann".into()));
        assert_eq!(t.line("! server full (2 clients), try again later"), None);
    }

    #[test]
    fn same_name_counts_as_an_answer() {
        let mut t = NameTracker::new(Some("Ann".into()));
        t.line(WELCOME);
        assert_eq!(t.line("* you are already Ann"), changed("Ann"));
    }

    #[test]
    fn a_typed_nick_moves_the_name() {
        let mut t = NameTracker::new(None);
        t.line(WELCOME);
        t.sent("/NICK bob");
        t.sent("/nick two words");
        assert_eq!(t.line("* you are now bob"), changed("bob"));
        assert_eq!(t.name(), Some("bob"));
    }

    #[test]
    fn a_rejoin_asks_again_for_the_chosen_name() {
        let mut t = NameTracker::new(Some("ann".into()));
        t.line(WELCOME);
        assert_eq!(t.chosen(), None);
        t.line("* you are now ann");
        assert_eq!(t.chosen(), Some("ann"));
        t.rejoin(Some("ann".into()));
        let again = "* welcome 127.0.0.1:6000, 2 others online, /help lists the commands";
        assert_eq!(t.line(again), changed("127.0.0.1:6000"));
        assert_eq!(t.chosen(), None);
        assert_eq!(
            t.line("! name ann is taken"),
            Some(NameEvent::Refused {
                name: "ann".into(),
                reason: "name ann is taken".into()
            })
        );
    }

    #[test]
    fn a_lookalike_line_from_someone_named_you_is_ignored() {
        let mut t = NameTracker::new(None);
        t.line(WELCOME);
        assert_eq!(t.line("* you are now mallory"), None);
        t.sent("/nick bob");
        assert_eq!(t.line("* you are now mallory"), None);
        assert_eq!(t.name(), Some("127.0.0.1:5000"));
    }
}
