//! Where words start and end in the line being edited, for the editor's
//! word keys (Alt-b, Alt-f, Alt-d, Alt-Backspace, Ctrl-W). Pure.
//!
//! Two kinds of word, as in bash and every readline program, so that the
//! keys do what a shell user's fingers expect: for the Alt keys and
//! Ctrl-arrows a word is letters and digits (of any script), so Alt-b stops
//! inside `hello,world` and `well-known`; for Ctrl-W it is anything between
//! spaces, so Ctrl-W takes `http://example.org/x` back in one go.

/// Whether `c` belongs to a word for the Alt keys: a letter or a digit.
fn is_word_char(c: char) -> bool {
    c.is_alphanumeric()
}

/// Where the word before `cursor` starts: back over what is not a word,
/// then over the word (readline's `backward-word`).
pub(crate) fn word_start_before(line: &[char], cursor: usize) -> usize {
    let mut at = cursor.min(line.len());
    while at > 0 && !is_word_char(line[at - 1]) {
        at -= 1;
    }
    while at > 0 && is_word_char(line[at - 1]) {
        at -= 1;
    }
    at
}

/// Where the word after `cursor` ends: forward over what is not a word,
/// then over the word (readline's `forward-word`: the cursor lands just
/// after the word, so Alt-f and Alt-d reach the same place).
pub(crate) fn word_end_after(line: &[char], cursor: usize) -> usize {
    let mut at = cursor.min(line.len());
    while at < line.len() && !is_word_char(line[at]) {
        at += 1;
    }
    while at < line.len() && is_word_char(line[at]) {
        at += 1;
    }
    at
}

/// Where the space-separated word before `cursor` starts: back over spaces,
/// then over everything that is not one (Ctrl-W, `unix-word-rubout`).
pub(crate) fn spaced_word_start_before(line: &[char], cursor: usize) -> usize {
    let mut at = cursor.min(line.len());
    while at > 0 && line[at - 1].is_whitespace() {
        at -= 1;
    }
    while at > 0 && !line[at - 1].is_whitespace() {
        at -= 1;
    }
    at
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chars(text: &str) -> Vec<char> {
        text.chars().collect()
    }

    #[test]
    fn backward_stops_at_each_word_start() {
        let line = chars("/msg bob  hello,world!");
        let mut at = line.len();
        let mut stops = Vec::new();
        while at > 0 {
            at = word_start_before(&line, at);
            stops.push(at);
        }
        assert_eq!(stops, [16, 10, 5, 1, 0]);
    }

    #[test]
    fn forward_stops_at_each_word_end() {
        let line = chars("/msg bob  hello,world!");
        let mut at = 0;
        let mut stops = Vec::new();
        while at < line.len() {
            at = word_end_after(&line, at);
            stops.push(at);
        }
        assert_eq!(stops, [4, 8, 15, 21, 22]);
    }

    #[test]
    fn letters_of_any_script_and_digits_make_words() {
        let line = chars("café 漢字 l33t");
        assert_eq!(word_start_before(&line, line.len()), 8);
        assert_eq!(word_start_before(&line, 8), 5);
        assert_eq!(word_end_after(&line, 0), 4);
        assert_eq!(word_end_after(&line, 4), 7);
    }

    #[test]
    fn spaced_words_run_between_spaces() {
        let line = chars("see http://x.org/a  ");
        assert_eq!(spaced_word_start_before(&line, line.len()), 4);
        assert_eq!(spaced_word_start_before(&line, 4), 0);
        assert_eq!(spaced_word_start_before(&line, 0), 0);
    }

    #[test]
    fn ends_of_the_line_are_safe() {
        let line = chars("ab");
        assert_eq!(word_start_before(&line, 0), 0);
        assert_eq!(word_end_after(&line, 2), 2);
        assert_eq!(word_end_after(&line, 99), 2);
        assert_eq!(word_start_before(&[], 0), 0);
    }
}
