//! The teacher's console commands, parsed: one line of the server's standard
//! input becomes a [`ConsoleCommand`], or an error line for the console. Pure.

use std::time::Duration;

use crate::protocol::{is_valid_room, ROOM_RULE};

/// How long `mute NAME` lasts without a number.
pub(crate) const DEFAULT_MUTE: Duration = Duration::from_secs(300);

/// The longest mute the console accepts (a day): a typo of many digits should
/// not mute someone for ever.
const MAX_MUTE_SECS: u64 = 24 * 3600;

/// One console command.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum ConsoleCommand<'a> {
    /// List every connected client.
    Who,
    /// Tell everyone `* [server] TEXT`.
    Say(&'a str),
    /// Disconnect NAME, with an optional reason.
    Kick(&'a str, Option<&'a str>),
    /// Silence NAME for a while.
    Mute(&'a str, Duration),
    /// End NAME's mute.
    Unmute(&'a str),
    /// Move NAME to ROOM.
    Move(&'a str, &'a str),
    /// The `/stats` line.
    Stats,
    /// List the console's commands.
    Help,
    /// Stop the server, as Ctrl-C does.
    Shutdown,
    /// A blank line: nothing to do.
    Nothing,
}

/// The console's `help`, one line per command.
pub(crate) const CONSOLE_HELP: &[&str] = &[
    "who                  list every connected client",
    "say TEXT             tell everyone: * [server] TEXT",
    "kick NAME [REASON]   disconnect NAME",
    "mute NAME [SECONDS]  NAME's chat reaches nobody for SECONDS (default 300)",
    "unmute NAME          end NAME's mute",
    "move NAME ROOM       move NAME to ROOM (made if needed)",
    "stats                the server's counters",
    "help                 this list",
    "shutdown             stop the server, as Ctrl-C does",
];

/// Parses one console line. A leading `/` is optional; command words are
/// case-insensitive.
///
/// # Errors
/// The text of the error line for the console: unknown command, missing or
/// bad argument.
pub(crate) fn parse(line: &str) -> Result<ConsoleCommand<'_>, String> {
    let line = line.trim();
    let line = line.strip_prefix('/').unwrap_or(line);
    if line.is_empty() {
        return Ok(ConsoleCommand::Nothing);
    }
    let (word, rest) = match line.split_once(char::is_whitespace) {
        Some((word, rest)) => (word, rest.trim()),
        None => (line, ""),
    };
    let (first, more) = match rest.split_once(char::is_whitespace) {
        Some((first, more)) => (first, Some(more.trim()).filter(|m| !m.is_empty())),
        None => (rest, None),
    };
    let usage = |text: &str| Err(format!("usage: {text}"));
    match word.to_ascii_lowercase().as_str() {
        "who" => Ok(ConsoleCommand::Who),
        "say" if rest.is_empty() => usage("say TEXT"),
        "say" => Ok(ConsoleCommand::Say(rest)),
        "kick" if first.is_empty() => usage("kick NAME [REASON]"),
        "kick" => Ok(ConsoleCommand::Kick(first, more)),
        "mute" if first.is_empty() => usage("mute NAME [SECONDS]"),
        "mute" => match more {
            None => Ok(ConsoleCommand::Mute(first, DEFAULT_MUTE)),
            Some(secs) => match secs.parse::<u64>() {
                Ok(n) if (1..=MAX_MUTE_SECS).contains(&n) => {
                    Ok(ConsoleCommand::Mute(first, Duration::from_secs(n)))
                }
                _ => Err(format!(
                    "mute: '{secs}' is not a number of seconds from 1 to {MAX_MUTE_SECS}"
                )),
            },
        },
        "unmute" if first.is_empty() || more.is_some() => usage("unmute NAME"),
        "unmute" => Ok(ConsoleCommand::Unmute(first)),
        "move" => match more {
            Some(room) if !first.is_empty() && !room.contains(char::is_whitespace) => {
                if is_valid_room(room) {
                    Ok(ConsoleCommand::Move(first, room))
                } else {
                    Err(format!("invalid room name: {ROOM_RULE}"))
                }
            }
            _ => usage("move NAME ROOM"),
        },
        "stats" => Ok(ConsoleCommand::Stats),
        "help" => Ok(ConsoleCommand::Help),
        "shutdown" => Ok(ConsoleCommand::Shutdown),
        _ => Err(format!("unknown command '{word}' (try help)")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_command_with_or_without_a_slash() {
        assert_eq!(parse("who"), Ok(ConsoleCommand::Who));
        assert_eq!(parse("/WHO"), Ok(ConsoleCommand::Who));
        assert_eq!(
            parse("say  hello class "),
            Ok(ConsoleCommand::Say("hello class"))
        );
        assert_eq!(parse("kick bob"), Ok(ConsoleCommand::Kick("bob", None)));
        assert_eq!(
            parse("/kick bob  pasting nonsense"),
            Ok(ConsoleCommand::Kick("bob", Some("pasting nonsense")))
        );
        assert_eq!(
            parse("mute bob"),
            Ok(ConsoleCommand::Mute("bob", DEFAULT_MUTE))
        );
        assert_eq!(
            parse("mute bob 60"),
            Ok(ConsoleCommand::Mute("bob", Duration::from_secs(60)))
        );
        assert_eq!(parse("unmute bob"), Ok(ConsoleCommand::Unmute("bob")));
        assert_eq!(parse("stats"), Ok(ConsoleCommand::Stats));
        assert_eq!(
            parse("move bob lab1"),
            Ok(ConsoleCommand::Move("bob", "lab1"))
        );
        assert_eq!(parse("help"), Ok(ConsoleCommand::Help));
        assert_eq!(parse("shutdown"), Ok(ConsoleCommand::Shutdown));
        assert_eq!(parse("   "), Ok(ConsoleCommand::Nothing));
    }

    #[test]
    fn mistakes_get_one_line() {
        assert_eq!(
            parse("dance"),
            Err("unknown command 'dance' (try help)".into())
        );
        assert_eq!(parse("say"), Err("usage: say TEXT".into()));
        assert_eq!(parse("kick"), Err("usage: kick NAME [REASON]".into()));
        assert_eq!(parse("unmute a b"), Err("usage: unmute NAME".into()));
        assert_eq!(parse("move bob"), Err("usage: move NAME ROOM".into()));
        assert!(parse("move bob 9x")
            .unwrap_err()
            .starts_with("invalid room name"));
        assert!(parse("mute bob soon").unwrap_err().contains("'soon'"));
        assert!(parse("mute bob 0").is_err());
        assert!(parse("mute bob 999999999").is_err());
    }
}
