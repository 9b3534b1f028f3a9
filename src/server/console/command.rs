//! The teacher's console commands, parsed: one line of the server's standard
//! input becomes a [`ConsoleCommand`], or an error line for the console. Pure.

use std::time::Duration;

use crate::protocol::{is_valid_room, ROOM_RULE};

/// How long `mute NAME` lasts without a number.
pub(crate) const DEFAULT_MUTE: Duration = Duration::from_secs(300);

/// The longest mute the console accepts (a day): a typo of many digits should
/// not mute someone for ever.
const MAX_MUTE_SECS: u64 = 24 * 3600;

/// How long `ban NAME` lasts without a number, in minutes: the rest of a
/// lesson's exercise, not the rest of the term.
pub(crate) const DEFAULT_BAN_MINUTES: u64 = 10;

/// The longest ban the console accepts (a day), like the longest mute.
const MAX_BAN_MINUTES: u64 = 24 * 60;

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
    /// Kick NAME and refuse its address for some minutes.
    Ban(&'a str, u64),
    /// Lift the ban of a name or an address.
    Unban(&'a str),
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
    "ban NAME [MINUTES]   kick NAME and refuse its address for MINUTES (default 10)",
    "unban NAME|ADDRESS   let a banned name's address (or an address) in again",
    "move NAME ROOM       move NAME to ROOM (made if needed)",
    "stats                the server's counters",
    "help                 this list",
    "shutdown             stop the server, as Ctrl-C does",
];

/// What `help` adds on a terminal, where the console has the line editor
/// and the log scrolls above it. Not in [`CONSOLE_HELP`], whose lines each
/// start with a command.
pub(crate) const TERMINAL_HELP: &[&str] = &[
    "keys: Tab completes commands and names, Up and Down recall commands,",
    "      Ctrl-C stops the server, Ctrl-D on an empty line closes the console",
    "chat: the log shows the first 5 lines every 5 s and sums up the rest",
    "      (start the server with 2>FILE to keep every line in FILE)",
];

/// Parses one console line. A leading `/` is optional; command words are
/// case-insensitive. The rule is the chat commands' (see
/// [`ParseError`](crate::protocol::ParseError)): the last word a command
/// takes is the rest of the line; words that do not fit get `usage: ` and the
/// command's line from [`CONSOLE_HELP`]; a word that breaks its rule gets
/// that rule.
///
/// # Errors
/// The text of the error line for the console: unknown command, words that
/// do not fit, or a bad room name or number of seconds.
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
    // The first word, and what follows it (the rest of the line), if anything.
    let (first, more) = match rest.split_once(char::is_whitespace) {
        Some((first, more)) => (first, Some(more.trim_start())),
        None => (rest, None),
    };
    let usage = |text: &str| Err(format!("usage: {text}"));
    let nothing = |command, text: &str| match rest {
        "" => Ok(command),
        _ => usage(text),
    };
    match word.to_ascii_lowercase().as_str() {
        "who" => nothing(ConsoleCommand::Who, "who"),
        "say" if rest.is_empty() => usage("say TEXT"),
        "say" => Ok(ConsoleCommand::Say(rest)),
        "kick" if rest.is_empty() => usage("kick NAME [REASON]"),
        "kick" => Ok(ConsoleCommand::Kick(first, more)),
        "mute" if rest.is_empty() => usage("mute NAME [SECONDS]"),
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
        "unmute" if rest.is_empty() => usage("unmute NAME"),
        "unmute" => Ok(ConsoleCommand::Unmute(rest)),
        "ban" if rest.is_empty() => usage("ban NAME [MINUTES]"),
        "ban" => match more {
            None => Ok(ConsoleCommand::Ban(first, DEFAULT_BAN_MINUTES)),
            Some(minutes) => match minutes.parse::<u64>() {
                Ok(n) if (1..=MAX_BAN_MINUTES).contains(&n) => Ok(ConsoleCommand::Ban(first, n)),
                _ => Err(format!(
                    "ban: '{minutes}' is not a number of minutes from 1 to {MAX_BAN_MINUTES}"
                )),
            },
        },
        "unban" if rest.is_empty() => usage("unban NAME|ADDRESS"),
        "unban" => Ok(ConsoleCommand::Unban(rest)),
        "move" => match more {
            Some(room) if is_valid_room(room) => Ok(ConsoleCommand::Move(first, room)),
            Some(_) => Err(format!("invalid room name: {ROOM_RULE}")),
            None => usage("move NAME ROOM"),
        },
        "stats" => nothing(ConsoleCommand::Stats, "stats"),
        "help" => nothing(ConsoleCommand::Help, "help"),
        "shutdown" => nothing(ConsoleCommand::Shutdown, "shutdown"),
        _ => Err(unknown(word)),
    }
}

/// The error for a word that is no command: with the commands closest to it
/// ([`suggest`]), or with `(try help)` when none is close (the handouts quote
/// that form).
fn unknown(word: &str) -> String {
    match suggest(word).as_slice() {
        [] => format!("unknown command '{word}' (try help)"),
        close => format!(
            "unknown command '{word}' (did you mean {}?)",
            close.join(" or ")
        ),
    }
}

/// The console's command words, in the order `help` lists them: the first
/// word of each line of [`CONSOLE_HELP`], so a new command is suggested and
/// completed as soon as `help` shows it.
pub(crate) fn command_words() -> impl Iterator<Item = &'static str> {
    CONSOLE_HELP
        .iter()
        .filter_map(|line| line.split_whitespace().next())
}

/// The commands a mistyped `word` was probably meant to be: those at the
/// smallest [`edit_distance`] from it, if that is small enough to be a slip
/// of the fingers: 1 for a command of up to four letters, 2 for a longer
/// one. (A fixed 2 would offer `who` for `w`, and `say` for `sh`: guesses,
/// not slips.) Ties are all offered, in `help`'s order: `nban` may be `ban`
/// or `unban`, and only the teacher knows which.
pub(crate) fn suggest(word: &str) -> Vec<&'static str> {
    let word = word.to_ascii_lowercase();
    let close: Vec<(usize, &'static str)> = command_words()
        .map(|command| (edit_distance(&word, command), command))
        .filter(|&(distance, command)| {
            let slip = if command.len() <= 4 { 1 } else { 2 };
            distance <= slip
        })
        .collect();
    let Some(best) = close.iter().map(|&(distance, _)| distance).min() else {
        return Vec::new();
    };
    close
        .into_iter()
        .filter(|&(distance, _)| distance == best)
        .map(|(_, command)| command)
        .collect()
}

/// How many one-character edits turn `a` into `b`: inserting, deleting or
/// replacing a character, or swapping two neighbours (the "optimal string
/// alignment" distance). Swaps count as one edit because `mvoe` for `move`
/// is the commonest slip on a keyboard; plain Levenshtein would call it two.
/// Counted in characters, not bytes. Pure.
pub(crate) fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    // rows[i][j]: the distance between the first i characters of a and the
    // first j of b. Three rows are all the recurrence looks back on, but the
    // words are a few letters long: the whole table is clearer.
    let mut rows = vec![vec![0; b.len() + 1]; a.len() + 1];
    for (i, row) in rows.iter_mut().enumerate() {
        row[0] = i;
    }
    rows[0] = (0..=b.len()).collect();
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let replace = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (rows[i - 1][j] + 1)
                .min(rows[i][j - 1] + 1)
                .min(rows[i - 1][j - 1] + replace);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(rows[i - 2][j - 2] + 1);
            }
            rows[i][j] = best;
        }
    }
    rows[a.len()][b.len()]
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
        assert_eq!(
            parse("ban bob"),
            Ok(ConsoleCommand::Ban("bob", DEFAULT_BAN_MINUTES))
        );
        assert_eq!(parse("ban bob 30"), Ok(ConsoleCommand::Ban("bob", 30)));
        assert!(parse("ban bob 0").unwrap_err().contains("'0'"));
        assert_eq!(parse("ban"), Err("usage: ban NAME [MINUTES]".into()));
        assert_eq!(
            parse("unban 192.0.2.7"),
            Ok(ConsoleCommand::Unban("192.0.2.7"))
        );
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
        for (line, usage) in [
            ("say", "say TEXT"),
            ("kick", "kick NAME [REASON]"),
            ("mute", "mute NAME [SECONDS]"),
            ("unmute", "unmute NAME"),
            ("move bob", "move NAME ROOM"),
            ("who all", "who"),
            ("stats now", "stats"),
            ("help kick", "help"),
            ("shutdown now", "shutdown"),
        ] {
            assert_eq!(parse(line), Err(format!("usage: {usage}")), "{line}");
        }
        let room_rule = format!("invalid room name: {ROOM_RULE}");
        assert_eq!(parse("move bob 9x"), Err(room_rule.clone()));
        assert_eq!(parse("move bob lab 1"), Err(room_rule));
        assert_eq!(
            parse("mute bob soon"),
            Err("mute: 'soon' is not a number of seconds from 1 to 86400".into())
        );
        assert!(parse("mute bob 0").is_err());
        assert!(parse("mute bob 60 more").unwrap_err().contains("'60 more'"));
        assert!(parse("mute bob 999999999").is_err());
    }

    #[test]
    fn edit_distance_counts_one_character_edits() {
        assert_eq!(edit_distance("who", "who"), 0);
        assert_eq!(edit_distance("whoo", "who"), 1, "one inserted");
        assert_eq!(edit_distance("wo", "who"), 1, "one deleted");
        assert_eq!(edit_distance("wha", "who"), 1, "one replaced");
        assert_eq!(edit_distance("mvoe", "move"), 1, "two swapped");
        assert_eq!(edit_distance("", "kick"), 4);
        assert_eq!(edit_distance("kick", ""), 4);
        assert_eq!(edit_distance("dance", "ban"), 3);
        assert_eq!(edit_distance("é", "e"), 1, "characters, not bytes");
        // Symmetric, as a distance must be.
        for (a, b) in [("shutdwn", "shutdown"), ("ab", "ba"), ("xyz", "")] {
            assert_eq!(edit_distance(a, b), edit_distance(b, a), "{a} {b}");
        }
    }

    #[test]
    fn a_slip_gets_a_suggestion_and_a_stranger_gets_help() {
        assert_eq!(
            parse("whoo"),
            Err("unknown command 'whoo' (did you mean who?)".into())
        );
        assert_eq!(
            parse("SHUTDWON"),
            Err("unknown command 'SHUTDWON' (did you mean shutdown?)".into())
        );
        assert_eq!(suggest("sya"), ["say"]);
        assert_eq!(suggest("stat"), ["stats"]);
        assert_eq!(suggest("unmtue"), ["unmute"]);
        assert_eq!(suggest("nban"), ["ban", "unban"], "a tie offers both");
        assert_eq!(suggest("mutee"), ["mute"], "the closest wins");
        // Too far to be a slip: the handouts' wording stays.
        for word in ["dance", "w", "sh", "banana", "x"] {
            assert_eq!(suggest(word), Vec::<&str>::new(), "{word}");
        }
        assert_eq!(
            parse("dance"),
            Err("unknown command 'dance' (try help)".into())
        );
        assert_eq!(
            command_words().collect::<Vec<_>>(),
            [
                "who", "say", "kick", "mute", "unmute", "ban", "unban", "move", "stats", "help",
                "shutdown"
            ]
        );
    }

    #[test]
    fn the_last_word_takes_the_rest_of_the_line() {
        // No client's name has a space, so the console answers that there
        // is no such client: a name, looked up, not a usage error.
        assert_eq!(parse("unmute a b"), Ok(ConsoleCommand::Unmute("a b")));
        assert_eq!(
            parse("kick bob  two  words"),
            Ok(ConsoleCommand::Kick("bob", Some("two  words")))
        );
    }

    #[test]
    fn every_usage_line_starts_its_help_line() {
        for line in [
            "say",
            "kick",
            "mute",
            "unmute",
            "move",
            "who x",
            "stats x",
            "help x",
            "shutdown x",
        ] {
            let error = parse(line).expect_err("words that do not fit");
            let usage = error.strip_prefix("usage: ").expect("a usage line");
            assert!(
                CONSOLE_HELP.iter().any(|help| help
                    .strip_prefix(usage)
                    .is_some_and(|r| r.starts_with("  "))),
                "{usage}"
            );
        }
    }
}
