//! What Tab completes at the interactive console: the command's name in
//! the first word, a room's name in `move NAME ROOM`'s third, a client's
//! name anywhere else. Pure: the caller gives the names online and the rooms.

use super::command::command_words;

/// The choices for `word` (the part of a word typed before the cursor) after
/// `before` (the line before that word), each followed by a space, in
/// alphabetical order; letters compared ignoring case, each choice spelt as
/// it is. A leading `/` on the command is kept, since the console takes it.
pub(crate) fn choices(before: &str, word: &str, names: &[&str], rooms: &[&str]) -> Vec<String> {
    let words_before: Vec<&str> = before.split_whitespace().collect();
    let (slash, word, offered): (&str, &str, Vec<&str>) = match words_before.as_slice() {
        [] => match word.strip_prefix('/') {
            Some(rest) => ("/", rest, command_words().collect()),
            None => ("", word, command_words().collect()),
        },
        [command, _name] if is_move(command) => ("", word, rooms.to_vec()),
        _ => ("", word, names.to_vec()),
    };
    let mut choices: Vec<String> = offered
        .into_iter()
        .filter(|choice| starts_with_ignoring_case(choice, word))
        .map(|choice| format!("{slash}{choice} "))
        .collect();
    choices.sort_unstable_by_key(|choice| choice.to_ascii_lowercase());
    choices.dedup();
    choices
}

/// `move` or `/MOVE`: the command whose third word is a room.
fn is_move(command: &str) -> bool {
    command
        .strip_prefix('/')
        .unwrap_or(command)
        .eq_ignore_ascii_case("move")
}

fn starts_with_ignoring_case(text: &str, prefix: &str) -> bool {
    text.get(..prefix.len())
        .is_some_and(|start| start.eq_ignore_ascii_case(prefix))
}

#[cfg(test)]
mod tests {
    use super::*;

    const NAMES: &[&str] = &["bob", "Bea", "ann", "127.0.0.1:5000"];
    const ROOMS: &[&str] = &["lobby", "lab1", "Lab2"];

    #[test]
    fn the_first_word_is_a_command() {
        assert_eq!(
            choices("", "s", NAMES, ROOMS),
            ["say ", "shutdown ", "stats "]
        );
        assert_eq!(choices("", "UN", NAMES, ROOMS), ["unban ", "unmute "]);
        assert_eq!(choices("  ", "/ki", NAMES, ROOMS), ["/kick "]);
        assert_eq!(choices("", "x", NAMES, ROOMS), Vec::<String>::new());
    }

    #[test]
    fn later_words_are_names_and_moves_go_to_rooms() {
        assert_eq!(choices("kick ", "b", NAMES, ROOMS), ["Bea ", "bob "]);
        assert_eq!(choices("mute ", "A", NAMES, ROOMS), ["ann "]);
        assert_eq!(choices("say hi ", "bo", NAMES, ROOMS), ["bob "]);
        assert_eq!(choices("kick ", "127", NAMES, ROOMS), ["127.0.0.1:5000 "]);
        assert_eq!(choices("move ", "b", NAMES, ROOMS), ["Bea ", "bob "]);
        assert_eq!(
            choices("/MOVE bob ", "la", NAMES, ROOMS),
            ["lab1 ", "Lab2 "]
        );
        assert_eq!(
            choices("move bob ", "z", NAMES, ROOMS),
            Vec::<String>::new()
        );
        assert_eq!(choices("kick ", "é", NAMES, ROOMS), Vec::<String>::new());
    }
}
