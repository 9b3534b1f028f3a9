//! How a connection ended, as a value the connection loops return: you quit,
//! the server shut down, it sent you away or refused you, or the connection
//! was lost. Pure: the server's last line and the way the socket closed in,
//! an [`Ending`] out. Whether to reconnect is decided from it elsewhere.

use std::fmt;
use std::io;

/// How a session's connection ended. Both modes return it; the binary turns
/// it into an exit code ([`super::Exit`]), and the client decides from it
/// whether to reconnect by itself.
#[derive(Debug)]
pub enum Ending {
    /// You ended it: `/quit` (the server answered `* bye`), Ctrl-D, Ctrl-C,
    /// the end of the input in plain mode, SIGTERM or SIGHUP.
    Quit,
    /// The server said `* server shutting down`, then closed.
    ServerShutdown,
    /// The server sent you away for good: kicked or banned you, or refused
    /// your class code. Holds its last line, without the `! `.
    SentAway(String),
    /// The server refused the connection for now: server full, server busy,
    /// too many connections from your address. Holds its last line, without
    /// the `! `. Worth trying again while reconnecting, unlike [`Ending::SentAway`].
    Refused(String),
    /// The connection ended without a goodbye: the server closed it with no
    /// last word (a crash, an eviction as too slow), or it failed (a reset).
    Lost(Option<io::Error>),
}

impl fmt::Display for Ending {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Ending::Quit => write!(f, "you quit"),
            Ending::ServerShutdown => write!(f, "the server shut down"),
            Ending::SentAway(why) => write!(f, "sent away by the server: {why}"),
            Ending::Refused(why) => write!(f, "refused by the server: {why}"),
            Ending::Lost(None) => write!(f, "connection lost"),
            Ending::Lost(Some(e)) => write!(f, "connection lost: {e}"),
        }
    }
}

/// A last line from the server that explains why it closes.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Goodbye {
    /// `* bye`, the answer to `/quit`.
    Bye,
    /// `* server shutting down`.
    Shutdown,
    /// `! kicked by the server…`, `! banned from this server…`,
    /// `! wrong code`, `! too many wrong codes…`: the text after `! `.
    SentAway(String),
    /// `! server full…`, `! server busy…`, `! too many connections from…`:
    /// the text after `! `.
    Refused(String),
}

/// The starts of the `!` lines that send a client away for good: a kick, a
/// ban, a wrong class code (as `protocol::lines` writes them; the tests
/// below check each against it).
const SENT_AWAY: [&str; 4] = [
    "kicked by the server",
    "banned from this server",
    "wrong code",
    "too many wrong codes",
];

/// The starts of the `!` lines that refuse a connection for now.
const REFUSED: [&str; 3] = ["server full ", "server busy", "too many connections from "];

/// Which goodbye `line` (cleaned, without its newline) is, if any. The
/// texts are those of `protocol::lines` (`bye`, `shutting_down`, `kicked`,
/// `banned`, `wrong_code`, `too_many_wrong_codes`, `server_full`,
/// `server_busy`, `too_many_from`); the tests hold them together.
fn goodbye(line: &str) -> Option<Goodbye> {
    match line {
        "* bye" => return Some(Goodbye::Bye),
        "* server shutting down" => return Some(Goodbye::Shutdown),
        _ => {}
    }
    let error = line.strip_prefix("! ")?;
    let starts = |starts: &[&str]| starts.iter().any(|start| error.starts_with(start));
    if starts(&SENT_AWAY) {
        Some(Goodbye::SentAway(error.to_string()))
    } else if starts(&REFUSED) {
        Some(Goodbye::Refused(error.to_string()))
    } else {
        None
    }
}

/// Follows the server's lines for the one that explains a close. Only the
/// very last line counts: the server's goodbye is always the last thing it
/// sends, so a goodbye-like line with more after it (another client's
/// `/me`, say) explains nothing.
#[derive(Debug, Default)]
pub(crate) struct LastWord {
    goodbye: Option<Goodbye>,
}

impl LastWord {
    /// Notes a line from the server (cleaned, without its newline).
    pub(crate) fn line(&mut self, line: &str) {
        self.goodbye = goodbye(line);
    }

    /// How the connection ended, now that it has: `you_quit` if you asked
    /// to leave before it closed (that wins: whatever the server says after
    /// you leave is no surprise), `failure` if reading failed rather than
    /// seeing the server close.
    pub(crate) fn ending(self, you_quit: bool, failure: Option<io::Error>) -> Ending {
        if you_quit {
            return Ending::Quit;
        }
        match self.goodbye {
            Some(Goodbye::Bye) => Ending::Quit,
            Some(Goodbye::Shutdown) => Ending::ServerShutdown,
            Some(Goodbye::SentAway(why)) => Ending::SentAway(why),
            Some(Goodbye::Refused(why)) => Ending::Refused(why),
            None => Ending::Lost(failure),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::lines;

    /// The ending after `lines` and a close (a failure with `failed`).
    fn after(lines: &[Vec<u8>], you_quit: bool, failed: bool) -> Ending {
        let mut last = LastWord::default();
        for line in lines {
            let text = String::from_utf8_lossy(line);
            last.line(text.trim_end_matches('\n'));
        }
        let failure = failed.then(|| io::Error::from(io::ErrorKind::ConnectionReset));
        last.ending(you_quit, failure)
    }

    fn chat() -> Vec<u8> {
        let mut line = Vec::new();
        lines::push_chat(&mut line, "bob", "hi");
        line
    }

    #[test]
    fn the_servers_own_goodbyes_are_recognised() {
        assert!(matches!(
            after(&[chat(), lines::bye()], false, false),
            Ending::Quit
        ));
        assert!(matches!(
            after(&[chat(), lines::shutting_down()], false, false),
            Ending::ServerShutdown
        ));
        for line in [
            lines::kicked(None),
            lines::kicked(Some("spam")),
            lines::banned(10),
            lines::wrong_code(),
            lines::too_many_wrong_codes(5),
        ] {
            let text = String::from_utf8_lossy(&line).trim_end().to_string();
            match after(&[line], false, false) {
                Ending::SentAway(why) => assert_eq!(format!("! {why}"), text),
                other => panic!("{text:?} gave {other:?}"),
            }
        }
        for line in [
            lines::server_full(2),
            lines::server_busy(),
            lines::too_many_from("127.0.0.2", 2),
        ] {
            let text = String::from_utf8_lossy(&line).trim_end().to_string();
            match after(&[line], false, false) {
                Ending::Refused(why) => assert_eq!(format!("! {why}"), text),
                other => panic!("{text:?} gave {other:?}"),
            }
        }
    }

    #[test]
    fn a_close_without_a_goodbye_is_a_loss() {
        assert!(matches!(after(&[chat()], false, false), Ending::Lost(None)));
        assert!(matches!(after(&[], false, true), Ending::Lost(Some(_))));
        // A goodbye that was not the last line explains nothing.
        assert!(matches!(
            after(&[lines::shutting_down(), chat()], false, false),
            Ending::Lost(None)
        ));
        // Other errors are not goodbyes.
        assert!(matches!(
            after(&[lines::no_such_user("x")], false, false),
            Ending::Lost(None)
        ));
    }

    #[test]
    fn a_goodbye_explains_even_a_reset() {
        assert!(matches!(
            after(&[lines::kicked(None)], false, true),
            Ending::SentAway(_)
        ));
    }

    #[test]
    fn quitting_first_wins() {
        assert!(matches!(after(&[chat()], true, false), Ending::Quit));
        assert!(matches!(after(&[], true, true), Ending::Quit));
        assert!(matches!(
            after(&[lines::shutting_down()], true, false),
            Ending::Quit
        ));
    }
}
