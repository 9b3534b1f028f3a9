//! Cleaning text: which characters may reach another person's screen, for
//! lines the server relays ([`sanitize`]) and text the client prints
//! ([`strip_for_terminal`]). Pure.

use std::borrow::Cow;

/// Unicode's format characters (general category Cf, Unicode 15.1): invisible
/// characters that change how the text around them is shown or read, such as
/// direction marks, zero-width spaces and joiners, the byte-order mark and
/// the language tags. A short table of ranges, so no crate is needed.
const FORMAT_CHARACTERS: &[(char, char)] = &[
    ('\u{ad}', '\u{ad}'),
    ('\u{600}', '\u{605}'),
    ('\u{61c}', '\u{61c}'),
    ('\u{6dd}', '\u{6dd}'),
    ('\u{70f}', '\u{70f}'),
    ('\u{890}', '\u{891}'),
    ('\u{8e2}', '\u{8e2}'),
    ('\u{180e}', '\u{180e}'),
    ('\u{200b}', '\u{200f}'),
    ('\u{202a}', '\u{202e}'),
    ('\u{2060}', '\u{2064}'),
    ('\u{2066}', '\u{206f}'),
    ('\u{feff}', '\u{feff}'),
    ('\u{fff9}', '\u{fffb}'),
    ('\u{110bd}', '\u{110bd}'),
    ('\u{110cd}', '\u{110cd}'),
    ('\u{13430}', '\u{1343f}'),
    ('\u{1bca0}', '\u{1bca3}'),
    ('\u{1d173}', '\u{1d17a}'),
    ('\u{e0001}', '\u{e0001}'),
    ('\u{e0020}', '\u{e007f}'),
];

/// True for the characters no client may put on another person's screen:
/// C0 controls except tab, DEL, C1 controls, the line and paragraph
/// separators (U+2028, U+2029: a line break a terminal may honour), and every
/// format character (the table `FORMAT_CHARACTERS` above), which includes the
/// bidirectional overrides and isolates that can make text display reversed.
pub fn is_forbidden(c: char) -> bool {
    if matches!(c, '\u{0}'..='\u{8}' | '\u{a}'..='\u{1f}' | '\u{7f}'..='\u{9f}' | '\u{2028}' | '\u{2029}')
    {
        return true;
    }
    // Every format character is at U+00AD or above: plain text skips the search.
    c >= '\u{ad}'
        && FORMAT_CHARACTERS
            .binary_search_by(|&(low, high)| {
                if high < c {
                    std::cmp::Ordering::Less
                } else if low > c {
                    std::cmp::Ordering::Greater
                } else {
                    std::cmp::Ordering::Equal
                }
            })
            .is_ok()
}

/// Decodes a line (invalid UTF-8 becomes U+FFFD), removes forbidden characters
/// and trims surrounding whitespace. An empty result means "ignore this line".
pub fn clean_line(bytes: &[u8]) -> Cow<'_, str> {
    match String::from_utf8_lossy(bytes) {
        Cow::Borrowed(text) => sanitize(text),
        Cow::Owned(text) => Cow::Owned(sanitize(&text).into_owned()),
    }
}

/// Removes forbidden characters (see [`is_forbidden`]) and trims surrounding
/// whitespace. Idempotent; borrows when there is nothing to remove.
pub fn sanitize(text: &str) -> Cow<'_, str> {
    // Fast path: printable ASCII and tabs need only trimming.
    if text
        .bytes()
        .all(|b| b == b'\t' || (0x20..0x7f).contains(&b))
    {
        return Cow::Borrowed(text.trim());
    }
    let cleaned: String = text.chars().filter(|&c| !is_forbidden(c)).collect();
    // Removing a character can expose whitespace at an end, so trim after.
    let trimmed = cleaned.trim();
    if trimmed.len() == cleaned.len() {
        Cow::Owned(cleaned)
    } else {
        Cow::Owned(trimmed.to_string())
    }
}

/// Removes forbidden characters but keeps `\n`: what the client does to text it
/// prints, so that a hostile server cannot drive the user's terminal.
pub fn strip_for_terminal(text: &str) -> Cow<'_, str> {
    if !text.chars().any(|c| c != '\n' && is_forbidden(c)) {
        return Cow::Borrowed(text);
    }
    Cow::Owned(
        text.chars()
            .filter(|&c| c == '\n' || !is_forbidden(c))
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sanitize_removes_controls_and_bidi_and_trims() {
        assert_eq!(sanitize("  hi\tthere  "), "hi\tthere");
        assert_eq!(sanitize("\u{1b}[31mred\u{7}"), "[31mred");
        assert_eq!(sanitize("a\u{85}b\u{202e}c\u{2066}d"), "abcd");
        assert_eq!(sanitize("\u{0} \u{1b}"), "");
        assert_eq!(sanitize("héllo ✓"), "héllo ✓");
    }

    #[test]
    fn invisible_and_separator_characters_are_removed() {
        let hidden =
            "a\u{200e}b\u{200f}c\u{61c}d\u{200b}e\u{feff}f\u{2028}g\u{2029}h\u{ad}i\u{e0041}j";
        assert_eq!(sanitize(hidden), "abcdefghij");
        // Neighbours of the removed ranges stay.
        assert_eq!(
            sanitize("\u{ac}\u{ae}\u{2027}\u{202f}\u{2070}"),
            "\u{ac}\u{ae}\u{2027}\u{202f}\u{2070}"
        );
    }

    #[test]
    fn the_format_table_is_sorted_and_disjoint() {
        for pair in FORMAT_CHARACTERS.windows(2) {
            assert!(pair[0].0 <= pair[0].1 && pair[0].1 < pair[1].0, "{pair:?}");
        }
    }

    #[test]
    fn invalid_utf8_becomes_replacement_characters() {
        assert_eq!(clean_line(b"ok \xff\xfe end"), "ok \u{fffd}\u{fffd} end");
    }

    #[test]
    fn terminal_text_keeps_newlines_only() {
        assert_eq!(strip_for_terminal("a\u{1b}]0;x\u{7}b\n"), "a]0;xb\n");
    }
}
