//! What Tab completes in the chat: command names after a `/` at the start of
//! the line, otherwise the names of people seen. Pure: the editor asks a
//! [`ChatCompleter`] for the choices and cycles through them itself.

use super::people::People;
use crate::protocol::HELP;
use crate::term::Completer;

/// The choices for a word, from what the client knows now.
///
/// - The first word of the line, if it starts with `/`: the server's
///   commands (from its `/help` list), in alphabetical order, each followed
///   by a space: `/m` offers `/me `, then `/msg `.
/// - Any other word: the names of the people seen ([`People`]), most
///   recently active first, your own left out. At the start of the line the
///   name gets `: ` after it, as chat clients address someone (`bob: hi`);
///   elsewhere a space (`/msg bob `).
/// - Letters are compared ignoring case; the choice is written as the
///   server spells it. `//` (a line that starts with `/`) completes nothing.
#[derive(Debug)]
pub(crate) struct ChatCompleter<'a> {
    /// The people seen.
    pub(crate) people: &'a People,
    /// Your name, which is never offered.
    pub(crate) me: Option<&'a str>,
}

impl Completer for ChatCompleter<'_> {
    fn choices(&self, before: &str, word: &str) -> Vec<String> {
        let at_start = before.trim().is_empty();
        if at_start && word.starts_with('/') {
            if word.starts_with("//") {
                return Vec::new();
            }
            let mut commands: Vec<&str> = commands()
                .filter(|command| starts_with_ignoring_case(command, word))
                .collect();
            commands.sort_unstable();
            return commands.iter().map(|c| format!("{c} ")).collect();
        }
        let after = if at_start { ": " } else { " " };
        self.people
            .names()
            .filter(|name| starts_with_ignoring_case(name, word))
            .filter(|name| !self.me.is_some_and(|me| me.eq_ignore_ascii_case(name)))
            .map(|name| format!("{name}{after}"))
            .collect()
    }
}

/// The server's commands, as `/help` lists them: the first word of each of
/// its lines (so a new command completes as soon as `/help` shows it).
fn commands() -> impl Iterator<Item = &'static str> {
    HELP.iter()
        .filter_map(|line| line.split_whitespace().next())
        .filter(|word| word.starts_with('/') && !word.starts_with("//"))
}

/// Whether `text` starts with `prefix`, ignoring the case of ASCII letters
/// (names are ASCII; an address name has digits, dots and colons).
fn starts_with_ignoring_case(text: &str, prefix: &str) -> bool {
    text.len() >= prefix.len()
        && text.is_char_boundary(prefix.len())
        && text[..prefix.len()].eq_ignore_ascii_case(prefix)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn people(lines: &[&str]) -> People {
        let mut people = People::default();
        for line in lines {
            people.line(line);
        }
        people
    }

    #[test]
    fn commands_after_a_slash_at_the_start() {
        let people = People::default();
        let complete = ChatCompleter {
            people: &people,
            me: None,
        };
        assert_eq!(complete.choices("", "/m"), ["/me ", "/msg "]);
        assert_eq!(complete.choices("", "/J"), ["/join "]);
        assert_eq!(complete.choices("  ", "/qu"), ["/quit "]);
        assert_eq!(complete.choices("", "/x"), Vec::<String>::new());
        assert_eq!(complete.choices("", "//"), Vec::<String>::new());
        // Every command `/help` lists, and nothing else.
        assert_eq!(
            complete.choices("", "/"),
            [
                "/help ",
                "/join ",
                "/key ",
                "/me ",
                "/msg ",
                "/nick ",
                "/quit ",
                "/resume ",
                "/rooms ",
                "/session ",
                "/stats ",
                "/who "
            ]
        );
        // Not the first word: a slash is just text.
        assert_eq!(complete.choices("see ", "/m"), Vec::<String>::new());
    }

    #[test]
    fn names_most_recent_first_without_your_own() {
        let people = people(&[
            "* bobby joined",
            "* Bob joined",
            "> ann: hi",
            "> bea (private): psst",
        ]);
        let complete = ChatCompleter {
            people: &people,
            me: Some("ANN"),
        };
        assert_eq!(complete.choices("", "b"), ["bea: ", "Bob: ", "bobby: "]);
        assert_eq!(complete.choices("/msg ", "BO"), ["Bob ", "bobby "]);
        assert_eq!(complete.choices("hi ", "a"), Vec::<String>::new());
        assert_eq!(complete.choices("hi ", "é"), Vec::<String>::new());
    }

    #[test]
    fn address_names_complete_too() {
        let people = people(&["* 127.0.0.1:5000 joined"]);
        let complete = ChatCompleter {
            people: &people,
            me: None,
        };
        assert_eq!(complete.choices("/msg ", "127"), ["127.0.0.1:5000 "]);
    }
}
