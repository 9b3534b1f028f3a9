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
}

/// Why a line starting with `/` is not a valid command. Its `Display` is the
/// text of the `! ` error line sent back.
#[derive(Debug, PartialEq, Eq)]
pub enum ParseError {
    /// A command name nobody knows (stored without its `/`).
    Unknown(String),
    /// A known command with missing arguments; holds its usage.
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

/// One line per command for `/help`, in the order they are listed.
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
    "//TEXT - send a message that starts with /",
];

impl<'a> Command<'a> {
    /// Parses a line that has already been cleaned and trimmed (see
    /// [`crate::protocol::clean_line`]). Never panics, whatever the input.
    ///
    /// # Errors
    /// A `/` line that names no command, or lacks a required argument.
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
        let arg = (!rest.is_empty()).then_some(rest);
        match word.to_ascii_lowercase().as_str() {
            // Extra words stay in the name, so the answer is "invalid name"
            // (which says what a name may hold), not a usage line.
            "nick" => arg
                .map(Command::Nick)
                .ok_or(ParseError::Usage("/nick NAME")),
            "who" => Ok(Command::Who),
            // Extra words stay in the room name, so the answer says what a room
            // name may hold only if there is one word; more is a usage error.
            "join" => match rest.split_whitespace().count() {
                1 => Ok(Command::Join(rest)),
                _ => Err(ParseError::Usage("/join ROOM")),
            },
            "rooms" => Ok(Command::Rooms),
            "msg" => {
                let (to, text) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
                let text = text.trim();
                if to.is_empty() || text.is_empty() {
                    Err(ParseError::Usage("/msg NAME TEXT"))
                } else {
                    Ok(Command::Msg { to, text })
                }
            }
            "me" => arg.map(Command::Me).ok_or(ParseError::Usage("/me TEXT")),
            "help" => Ok(Command::Help),
            "stats" => Ok(Command::Stats),
            "quit" => Ok(Command::Quit(arg)),
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
        assert_eq!(parse("/Who extra"), Ok(Command::Who));
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
        assert_eq!(
            parse("/quit\tgone home"),
            Ok(Command::Quit(Some("gone home")))
        );
    }

    #[test]
    fn every_error_line() {
        assert_eq!(parse("/nick"), Err("usage: /nick NAME".into()));
        assert_eq!(parse("/nick a b"), Ok(Command::Nick("a b")));
        assert_eq!(parse("/msg"), Err("usage: /msg NAME TEXT".into()));
        assert_eq!(parse("/msg bob"), Err("usage: /msg NAME TEXT".into()));
        assert_eq!(parse("/me"), Err("usage: /me TEXT".into()));
        assert_eq!(parse("/join"), Err("usage: /join ROOM".into()));
        assert_eq!(parse("/join a b"), Err("usage: /join ROOM".into()));
        assert_eq!(
            parse("/dance now"),
            Err("unknown command /dance (try /help)".into())
        );
        assert_eq!(parse("/"), Err("unknown command / (try /help)".into()));
    }
}
