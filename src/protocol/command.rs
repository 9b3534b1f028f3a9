//! Turning one cleaned line into a [`Command`]: pure parsing, no I/O, so every
//! form and every parse error is unit-tested here. The server's reader thread
//! decides what to do with each command.

use std::fmt;

/// What a line asks the server to do.
#[derive(Debug, PartialEq, Eq)]
pub enum Command<'a> {
    /// Ordinary chat text for everyone else (`//x` arrives here as `/x`).
    Chat(&'a str),
    /// `/nick NAME`: rename.
    Nick(&'a str),
    /// `/who`: list everyone in your room.
    Who,
    /// `/join ROOM`: move to ROOM, creating it if needed.
    Join(&'a str),
    /// `/rooms`: list the rooms.
    Rooms,
    /// `/msg NAME TEXT`: a private message.
    Msg {
        /// The recipient's name, as typed.
        to: &'a str,
        /// The message.
        text: &'a str,
    },
    /// `/me TEXT`: an action, shown as `* NAME TEXT`.
    Me(&'a str),
    /// `/help`: list the commands.
    Help,
    /// `/stats`: the server's counters.
    Stats,
    /// `/quit [REASON]`: leave.
    Quit(Option<&'a str>),
    /// `/session`: ask for a resume token; the room's lines then come with
    /// `#SEQ COUNT` markers (see [`lines::push_marker`](crate::protocol::lines::push_marker)).
    Session,
    /// `/resume TOKEN LAST`: a new connection takes over the session TOKEN,
    /// whose client last received the room line numbered LAST.
    Resume {
        /// The token `/session` gave.
        token: &'a str,
        /// The number of the last room line received whole (0: none).
        last: u64,
    },
    /// `/key CODE`: the class code, the first line on a server with `--key`.
    Key(&'a str),
}

/// Why a line starting with `/` is not a valid command. Its `Display` is the
/// text of the `! ` error line sent back.
///
/// Every command follows one rule, so every mistake is answered in one of
/// two forms: words that do not fit the command (a word it needs is missing,
/// or words follow a command that takes none) get `usage: ` and the
/// command's line from [`HELP`]; a word in the right place that breaks its
/// rule (a name, a room) gets that rule, from the server's reader. The last
/// word a command takes is the rest of the line, spaces and all, as `/msg`'s
/// TEXT and `/quit`'s REASON are: `/nick a b` asks for the name `a b`, which
/// the name rule refuses.
#[derive(Debug, PartialEq, Eq)]
pub enum ParseError {
    /// A command name nobody knows (stored without its `/`).
    Unknown(String),
    /// A known command whose words do not fit it; holds its usage, the
    /// start of its line in [`HELP`].
    Usage(&'static str),
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParseError::Unknown(word) => write!(f, "unknown command /{word} (try /help)"),
            ParseError::Usage(usage) => write!(f, "usage: {usage}"),
        }
    }
}

/// One line per command for `/help`, in the order they are listed: its
/// usage, ` - `, and what it does.
pub const HELP: &[&str] = &[
    "/nick NAME - change your name (1 to 20 letters, digits, _ or -, starting with a letter)",
    "/who - list everyone in your room",
    "/join ROOM - move to ROOM (made if needed; everyone starts in lobby)",
    "/rooms - list the rooms and how many are in each",
    "/msg NAME TEXT - send a private message",
    "/me TEXT - describe what you are doing",
    "/stats - show the server's statistics",
    "/help - show this list",
    "/quit [REASON] - leave the chat",
    "/key CODE - the class code, when the server asks for one",
    "/session - get a token to resume with after a lost connection",
    "/resume TOKEN LAST - take your session back (the client does this)",
    "//TEXT - send a message that starts with /",
];

impl<'a> Command<'a> {
    /// Parses a line that has already been cleaned and trimmed (see
    /// [`crate::protocol::clean_line`]). Never panics, whatever the input.
    ///
    /// # Errors
    /// A `/` line that names no command, or whose words do not fit the
    /// command (see [`ParseError`]).
    pub fn parse(line: &'a str) -> Result<Command<'a>, ParseError> {
        let Some(body) = line.strip_prefix('/') else {
            return Ok(Command::Chat(line));
        };
        if body.starts_with('/') {
            return Ok(Command::Chat(body));
        }
        let (word, rest) = match body.split_once(char::is_whitespace) {
            Some((word, rest)) => (word, rest.trim()),
            None => (body, ""),
        };
        // The rest of the line, for a command whose last word takes it.
        let rest_of_line = |usage| match rest {
            "" => Err(ParseError::Usage(usage)),
            rest => Ok(rest),
        };
        // Nothing, for a command that takes no words.
        let nothing = |command, usage| match rest {
            "" => Ok(command),
            _ => Err(ParseError::Usage(usage)),
        };
        match word.to_ascii_lowercase().as_str() {
            "nick" => rest_of_line("/nick NAME").map(Command::Nick),
            "who" => nothing(Command::Who, "/who"),
            "join" => rest_of_line("/join ROOM").map(Command::Join),
            "rooms" => nothing(Command::Rooms, "/rooms"),
            "msg" => match rest.split_once(char::is_whitespace) {
                Some((to, text)) => Ok(Command::Msg {
                    to,
                    text: text.trim_start(),
                }),
                None => Err(ParseError::Usage("/msg NAME TEXT")),
            },
            "me" => rest_of_line("/me TEXT").map(Command::Me),
            "help" => nothing(Command::Help, "/help"),
            "stats" => nothing(Command::Stats, "/stats"),
            "quit" => Ok(Command::Quit((!rest.is_empty()).then_some(rest))),
            "key" => rest_of_line("/key CODE").map(Command::Key),
            "session" => nothing(Command::Session, "/session"),
            "resume" => match rest.split_once(char::is_whitespace) {
                Some((token, last)) => match last.trim().parse() {
                    Ok(last) => Ok(Command::Resume { token, last }),
                    Err(_) => Err(ParseError::Usage("/resume TOKEN LAST")),
                },
                None => Err(ParseError::Usage("/resume TOKEN LAST")),
            },
            _ => Err(ParseError::Unknown(word.to_string())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(line: &str) -> Result<Command<'_>, String> {
        Command::parse(line).map_err(|e| e.to_string())
    }

    #[test]
    fn plain_text_and_escaped_slash_are_chat() {
        assert_eq!(parse("hello"), Ok(Command::Chat("hello")));
        assert_eq!(parse("//etc/passwd"), Ok(Command::Chat("/etc/passwd")));
        assert_eq!(parse("hi /nick x"), Ok(Command::Chat("hi /nick x")));
    }

    #[test]
    fn every_command_form() {
        assert_eq!(parse("/nick ann"), Ok(Command::Nick("ann")));
        assert_eq!(parse("/NICK   ann  "), Ok(Command::Nick("ann")));
        assert_eq!(parse("/who"), Ok(Command::Who));
        assert_eq!(parse("/Who  "), Ok(Command::Who));
        assert_eq!(
            parse("/msg bob  hi there"),
            Ok(Command::Msg {
                to: "bob",
                text: "hi there"
            })
        );
        assert_eq!(parse("/me waves"), Ok(Command::Me("waves")));
        assert_eq!(parse("/help"), Ok(Command::Help));
        assert_eq!(parse("/join lab1"), Ok(Command::Join("lab1")));
        assert_eq!(parse("/rooms"), Ok(Command::Rooms));
        assert_eq!(parse("/stats"), Ok(Command::Stats));
        assert_eq!(parse("/quit"), Ok(Command::Quit(None)));
        assert_eq!(parse("/session"), Ok(Command::Session));
        assert_eq!(
            parse("/resume 0a1b 42"),
            Ok(Command::Resume {
                token: "0a1b",
                last: 42
            })
        );
        assert_eq!(parse("/key open sesame"), Ok(Command::Key("open sesame")));
        assert_eq!(
            parse("/quit\tgone home"),
            Ok(Command::Quit(Some("gone home")))
        );
    }

    #[test]
    fn words_that_do_not_fit_get_the_usage_line() {
        for (line, usage) in [
            ("/nick", "/nick NAME"),
            ("/join", "/join ROOM"),
            ("/msg", "/msg NAME TEXT"),
            ("/msg bob", "/msg NAME TEXT"),
            ("/me", "/me TEXT"),
            ("/who extra", "/who"),
            ("/rooms all", "/rooms"),
            ("/help nick", "/help"),
            ("/STATS now", "/stats"),
            ("/session now", "/session"),
            ("/resume", "/resume TOKEN LAST"),
            ("/resume abc", "/resume TOKEN LAST"),
            ("/resume abc x", "/resume TOKEN LAST"),
            ("/key", "/key CODE"),
        ] {
            assert_eq!(parse(line), Err(format!("usage: {usage}")), "{line}");
        }
        assert_eq!(
            parse("/dance now"),
            Err("unknown command /dance (try /help)".into())
        );
        assert_eq!(parse("/"), Err("unknown command / (try /help)".into()));
    }

    #[test]
    fn the_last_word_takes_the_rest_of_the_line() {
        // The reader then answers with the name or room rule, which says
        // that a name has no spaces: the same form for /nick and /join.
        assert_eq!(parse("/nick a b"), Ok(Command::Nick("a b")));
        assert_eq!(parse("/join a  b"), Ok(Command::Join("a  b")));
        assert_eq!(
            parse("/msg bob hi  there "),
            Ok(Command::Msg {
                to: "bob",
                text: "hi  there"
            })
        );
        assert_eq!(parse("/me  waves  twice"), Ok(Command::Me("waves  twice")));
    }

    #[test]
    fn every_usage_line_starts_its_help_line() {
        let help_of = |usage: &str| {
            HELP.iter()
                .any(|line| line.starts_with(&format!("{usage} - ")))
        };
        for line in [
            "/nick", "/join", "/msg", "/me", "/who x", "/rooms x", "/help x", "/stats x",
        ] {
            match Command::parse(line) {
                Err(ParseError::Usage(usage)) => assert!(help_of(usage), "{usage}"),
                other => panic!("{line}: {other:?}"),
            }
        }
    }
}
