//! Cleaning text: which characters may reach another person's screen, for
//! lines the server relays ([`sanitize`]) and text the client prints
//! ([`strip_for_terminal`]). Pure.

use std::borrow::Cow;

/// True for the characters no client may put on another person's screen:
/// C0 controls except tab, DEL, C1 controls, and the bidirectional overrides
/// and isolates that can make text display reversed.
pub fn is_forbidden(c: char) -> bool {
    matches!(c,
        '\u{0}'..='\u{8}' | '\u{a}'..='\u{1f}' | '\u{7f}'..='\u{9f}'
        | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
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
    fn invalid_utf8_becomes_replacement_characters() {
        assert_eq!(clean_line(b"ok \xff\xfe end"), "ok \u{fffd}\u{fffd} end");
    }

    #[test]
    fn terminal_text_keeps_newlines_only() {
        assert_eq!(strip_for_terminal("a\u{1b}]0;x\u{7}b\n"), "a]0;xb\n");
    }
}
