//! The chat in the log, summarised while the console is interactive: which
//! log lines are chat ([`chat_sender`]), and the [`Tally`] that lets the
//! first few of each [`SUMMARY_EVERY`] through and sums up the rest. Pure.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use crate::protocol::is_valid_name;

/// How often the interactive console prints the chat's summary (when there
/// was chat). Five seconds: a teacher reading the screen sees at most one
/// line of it per sentence read, and a flood still shows within a moment.
pub(crate) const SUMMARY_EVERY: Duration = Duration::from_secs(5);

/// Chat lines shown in full in each [`SUMMARY_EVERY`]; the rest are summed
/// up. Five: a calm class's conversation (and a lab's `hello`) reads as it
/// is, while a flood of hundreds takes six rows, and the joins, leaves and
/// kicks between them stay in view. (Summarising every chat line would hide
/// the one a student looks for; showing them all is the flood this stops.)
pub(crate) const SHOWN_EVERY: u64 = 5;

/// The sender of a log line that is chat, or `None` for any other line.
///
/// The readers log a client's message as `NAME: TEXT` and its `/me` as
/// `* NAME TEXT`, and no other line of theirs starts that way: the events
/// read `NAME connected`, `NAME went to lab`, `ADDRESS: wrong class code` (an
/// address without a port is no client's name). So a line is chat when it
/// has one of those two forms with a client's name in it: a `/nick` name or
/// an address name (`127.0.0.1:5000`). Only per-event lines ([`Log::info`])
/// are asked: lines kept under `--quiet`, such as `console: who`, are never
/// chat.
///
/// [`Log::info`]: crate::log::Log::info
pub(crate) fn chat_sender(line: &str) -> Option<&str> {
    let name = match line.strip_prefix("* ") {
        Some(action) => action.split_once(' ')?.0,
        None => line.split_once(": ")?.0,
    };
    let is_name = is_valid_name(name) || name.parse::<SocketAddr>().is_ok();
    is_name.then_some(name)
}

/// The chat since the last summary: how many lines were shown, and the
/// lines not shown, by sender.
#[derive(Debug, Default)]
pub(crate) struct Tally {
    shown: u64,
    hidden: BTreeMap<String, u64>,
}

impl Tally {
    /// Counts one line of chat from `sender`: true if it is shown in full
    /// (one of the first [`SHOWN_EVERY`] since the last summary), false if
    /// it is only counted.
    pub(crate) fn count(&mut self, sender: &str) -> bool {
        if self.shown < SHOWN_EVERY {
            self.shown += 1;
            return true;
        }
        match self.hidden.get_mut(sender) {
            Some(lines) => *lines += 1,
            None => {
                self.hidden.insert(sender.to_string(), 1);
            }
        }
        false
    }

    /// The summary of the lines not shown in the last `secs` seconds, and a
    /// fresh start; `None` if every line was shown. One sender is named; of
    /// several, the one who sent most (the first by name on a tie), since
    /// that is who a teacher looks for in a flood:
    /// `chat: 165 more lines from 3 clients in the last 5 s, most from bob (150)`.
    pub(crate) fn take_summary(&mut self, secs: u64) -> Option<String> {
        self.shown = 0;
        let by_sender = std::mem::take(&mut self.hidden);
        let total: u64 = by_sender.values().sum();
        let lines = match total {
            0 => return None,
            1 => "1 more line".to_string(),
            n => format!("{n} more lines"),
        };
        // Reversed by count, then by name: `max_by_key` keeps the last of
        // equals, which in a name-ordered map is the last name.
        let (most, most_lines) = by_sender
            .iter()
            .rev()
            .max_by_key(|(_, &lines)| lines)
            .expect("a total above 0 has a sender");
        Some(match by_sender.len() {
            1 => format!("chat: {lines} from {most} in the last {secs} s"),
            n => format!(
                "chat: {lines} from {n} clients in the last {secs} s, most from {most} ({most_lines})"
            ),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chat_and_actions_are_chat_and_events_are_not() {
        assert_eq!(chat_sender("ann: hello all"), Some("ann"));
        assert_eq!(chat_sender("ann: see: this"), Some("ann"));
        assert_eq!(chat_sender("* ann waves"), Some("ann"));
        assert_eq!(chat_sender("127.0.0.1:5000: hi"), Some("127.0.0.1:5000"));
        assert_eq!(chat_sender("[::1]:5000: hi"), Some("[::1]:5000"));
        assert_eq!(
            chat_sender("* 127.0.0.1:5000 waves"),
            Some("127.0.0.1:5000")
        );
        for event in [
            "ann connected",
            "ann disconnected (reset: connection reset by peer)",
            "ann went to lab",
            "ann is now known as bob",
            "ann evicted (write failed: broken pipe)",
            "ann's session is held for 60 s",
            "ann is back (3 lines missed)",
            "127.0.0.1: wrong class code",
            "::1: wrong class code",
            "ann kicked by the server: pasting nonsense",
            "*  two spaces",
            "",
        ] {
            assert_eq!(chat_sender(event), None, "{event}");
        }
    }

    #[test]
    fn the_console_help_gives_these_numbers() {
        let said = format!(
            "the first {SHOWN_EVERY} lines every {} s",
            SUMMARY_EVERY.as_secs()
        );
        assert!(
            crate::server::console::command::TERMINAL_HELP
                .iter()
                .any(|line| line.contains(&said)),
            "{said}"
        );
    }

    #[test]
    fn the_first_few_are_shown_and_the_rest_summed_up() {
        let mut tally = Tally::default();
        assert_eq!(tally.take_summary(5), None, "no chat, no line");
        let shown = (0..SHOWN_EVERY).filter(|_| tally.count("ann")).count();
        assert_eq!(shown as u64, SHOWN_EVERY, "a calm room reads in full");
        assert_eq!(tally.take_summary(5), None, "nothing was hidden");
        for _ in 0..SHOWN_EVERY {
            assert!(tally.count("ann"), "shown again after a summary");
        }
        assert!(!tally.count("ann"));
        assert_eq!(
            tally.take_summary(5).as_deref(),
            Some("chat: 1 more line from ann in the last 5 s")
        );
        assert_eq!(tally.take_summary(5), None, "counted afresh");
    }

    #[test]
    fn a_flood_is_one_line_that_names_the_loudest() {
        let mut tally = Tally::default();
        let mut shown = 0;
        for (sender, lines) in [("bob", 150), ("ann", 15), ("carl", 5)] {
            for _ in 0..lines {
                shown += u64::from(tally.count(sender));
            }
        }
        assert_eq!(shown, SHOWN_EVERY);
        assert_eq!(
            tally.take_summary(5).as_deref(),
            Some("chat: 165 more lines from 3 clients in the last 5 s, most from bob (145)")
        );
        for sender in ["x"; 5].into_iter().chain(["bob", "ann"]) {
            tally.count(sender);
        }
        assert_eq!(
            tally.take_summary(6).as_deref(),
            Some("chat: 2 more lines from 2 clients in the last 6 s, most from ann (1)"),
            "a tie names the first by name"
        );
    }
}
