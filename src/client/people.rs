//! The other people this client has seen, followed through the server's
//! lines, most recently active first: what Tab completes names from. Pure:
//! lines in, a list of names out.

/// Names kept at most; the least recently active go first.
const KEPT: usize = 1000;

/// The names of people seen and not seen leaving, most recently active
/// first (as irssi orders its nick completion: whoever just spoke is the
/// likeliest to be answered).
///
/// Only lines whose shape only the server can give count: chat
/// (`> NAME: …`, `> NAME (private): …`), `* NAME joined`, `* NAME left…`,
/// `* OLD is now known as NEW` and the `/who` answer `* online (N): A, B`.
/// A `/me` action (`* NAME TEXT`) does not: its first word is not always a
/// name (`* server shutting down`).
#[derive(Debug, Default)]
pub(crate) struct People {
    names: Vec<String>,
}

impl People {
    /// Reads one line from the server (cleaned, without its newline).
    pub(crate) fn line(&mut self, line: &str) {
        if let Some(rest) = line.strip_prefix("> ") {
            // The first `": "` ends the name: an address name has colons,
            // never one followed by a space.
            let name = match rest.split_once(": ") {
                Some((name, _)) => name.strip_suffix(" (private)").unwrap_or(name),
                None => return,
            };
            self.spoke(name);
            return;
        }
        let Some(notice) = line.strip_prefix("* ") else {
            return;
        };
        if let Some(name) = notice.strip_suffix(" joined") {
            self.spoke(name);
        } else if let Some((name, _)) = notice
            .split_once(" left (")
            .filter(|_| notice.ends_with(')'))
        {
            self.forget(name);
        } else if let Some(name) = notice.strip_suffix(" left") {
            self.forget(name);
        } else if let Some((old, new)) = notice.split_once(" is now known as ") {
            if is_name(old) && self.forget(old) {
                self.spoke(new);
            }
        } else if let Some(list) = notice.strip_prefix("online (") {
            if let Some((_, names)) = list.split_once("): ") {
                for name in names.split(", ") {
                    self.seen(name);
                }
            }
        }
    }

    /// The names, most recently active first.
    pub(crate) fn names(&self) -> impl Iterator<Item = &str> {
        self.names.iter().map(String::as_str)
    }

    /// `name` was active: first in the list.
    fn spoke(&mut self, name: &str) {
        if !is_name(name) {
            return;
        }
        self.forget(name);
        if self.names.len() == KEPT {
            self.names.pop();
        }
        self.names.insert(0, name.to_string());
    }

    /// `name` is here (the `/who` answer): last in the list if it is new.
    fn seen(&mut self, name: &str) {
        let known = self.names.iter().any(|n| n.eq_ignore_ascii_case(name));
        if is_name(name) && !known && self.names.len() < KEPT {
            self.names.push(name.to_string());
        }
    }

    /// `name` left; true if it was in the list. Names are unique ignoring
    /// case, as the server compares them.
    fn forget(&mut self, name: &str) -> bool {
        let before = self.names.len();
        self.names.retain(|n| !n.eq_ignore_ascii_case(name));
        self.names.len() != before
    }
}

/// Whether `word` can be someone's name: not empty, no spaces (a chosen
/// name, or an address before `/nick`).
fn is_name(word: &str) -> bool {
    !word.is_empty() && !word.contains(char::is_whitespace)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::lines;

    fn people(lines: &[Vec<u8>]) -> Vec<String> {
        let mut people = People::default();
        for line in lines {
            let text = String::from_utf8_lossy(line);
            people.line(text.trim_end_matches('\n'));
        }
        people.names().map(str::to_string).collect()
    }

    fn chat(name: &str) -> Vec<u8> {
        let mut line = Vec::new();
        lines::push_chat(&mut line, name, "hello: there");
        line
    }

    #[test]
    fn whoever_spoke_last_comes_first() {
        assert_eq!(
            people(&[
                lines::joined("ann"),
                lines::joined("bob"),
                chat("ann"),
                lines::private("carol", "psst"),
            ]),
            ["carol", "ann", "bob"]
        );
    }

    #[test]
    fn leaving_and_renaming_are_followed() {
        assert_eq!(
            people(&[
                lines::joined("127.0.0.1:5000"),
                lines::joined("bob"),
                lines::renamed("127.0.0.1:5000", "ann"),
                lines::left("bob", Some("quit: lunch")),
                lines::joined("dan"),
                lines::left("dan", None),
            ]),
            ["ann"]
        );
        // A rename of someone never seen is someone's `/me`: ignored.
        assert_eq!(
            people(&[lines::action("eve", "is now known as bob")]),
            Vec::<String>::new()
        );
    }

    #[test]
    fn the_who_answer_adds_everyone_not_yet_known() {
        assert_eq!(
            people(&[chat("bob"), lines::online(&["ann", "BOB", "carol"])]),
            ["bob", "ann", "carol"]
        );
    }

    #[test]
    fn server_notices_are_not_names() {
        assert_eq!(
            people(&[
                lines::welcome("127.0.0.1:5000", 2, &[], lines::Recording::Off),
                lines::you_are_now("ann"),
                lines::shutting_down(),
                lines::crowd(37, 5, 1234),
                lines::action("bob", "waves"),
                lines::server_says("quiz at 3"),
                lines::rooms(&[("lobby", 3)]),
            ]),
            Vec::<String>::new()
        );
    }

    #[test]
    fn only_so_many_are_kept() {
        let lines: Vec<Vec<u8>> = (0..KEPT + 5)
            .map(|n| lines::joined(&format!("p{n}")))
            .collect();
        let names = people(&lines);
        assert_eq!(names.len(), KEPT);
        assert_eq!(names[0], format!("p{}", KEPT + 4));
    }
}
