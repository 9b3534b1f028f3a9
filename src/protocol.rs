//! The wire protocol as pure functions: cutting a byte stream into lines
//! ([`LineFramer`]), cleaning text ([`sanitize`]) and writing the server's
//! outgoing line formats. No I/O here, so every rule is unit-tested directly.

use std::borrow::Cow;

/// What the framer found in the bytes it was given.
#[derive(Debug, PartialEq, Eq)]
pub enum Frame<'a> {
    /// One whole line, without its `\n` and without a `\r` just before it.
    Line(&'a [u8]),
    /// A line grew past the limit; it is being skipped up to its `\n`.
    /// Reported once per overlong line, as soon as it is detected.
    TooLong,
}

/// Reassembles lines from the arbitrary pieces TCP delivers.
///
/// TCP is a byte stream: one `read` may return half a line or ten lines. The
/// framer keeps the unfinished tail between reads, but never more than
/// `max_line_bytes` (+1 for a possible `\r`), so a client that sends an endless
/// line costs the server a bounded buffer while the rest is skipped.
#[derive(Debug)]
pub struct LineFramer {
    partial: Vec<u8>,
    max_line_bytes: usize,
    skipping: bool,
}

impl LineFramer {
    /// A framer that refuses lines longer than `max_line_bytes`.
    pub fn new(max_line_bytes: usize) -> Self {
        LineFramer {
            partial: Vec::new(),
            max_line_bytes,
            skipping: false,
        }
    }

    /// Bytes of an unfinished line held right now (never more than the limit + 1).
    pub fn buffered(&self) -> usize {
        self.partial.len()
    }

    /// Feeds the next bytes read from the socket and calls `on_frame` for every
    /// line they complete, in order. Lines that lie wholly inside `data` are
    /// handed out without being copied.
    pub fn push(&mut self, mut data: &[u8], mut on_frame: impl FnMut(Frame<'_>)) {
        while let Some(pos) = data.iter().position(|&b| b == b'\n') {
            let (head, rest) = (&data[..pos], &data[pos + 1..]);
            data = rest;
            if self.skipping {
                // The end of an overlong line: drop it and start afresh.
                self.skipping = false;
                continue;
            }
            if self.partial.is_empty() {
                self.emit(head, &mut on_frame);
            } else if self.partial.len() + head.len() > self.max_line_bytes + 1 {
                self.partial.clear();
                on_frame(Frame::TooLong);
            } else {
                let mut line = std::mem::take(&mut self.partial);
                line.extend_from_slice(head);
                self.emit(&line, &mut on_frame);
                // Keep the allocation for the next partial line.
                line.clear();
                self.partial = line;
            }
        }
        // `data` is now an unfinished line (or nothing).
        if self.skipping || data.is_empty() {
            return;
        }
        if self.partial.len() + data.len() > self.max_line_bytes + 1 {
            self.partial.clear();
            self.skipping = true;
            on_frame(Frame::TooLong);
        } else {
            self.partial.extend_from_slice(data);
        }
    }

    fn emit(&self, line: &[u8], on_frame: &mut impl FnMut(Frame<'_>)) {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.len() > self.max_line_bytes {
            on_frame(Frame::TooLong);
        } else {
            on_frame(Frame::Line(line));
        }
    }
}

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

/// Appends `> NAME: TEXT\n`, a chat line from another client.
pub fn push_chat(out: &mut Vec<u8>, name: &str, text: &str) {
    out.reserve(name.len() + text.len() + 5);
    out.extend_from_slice(b"> ");
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b": ");
    out.extend_from_slice(text.as_bytes());
    out.push(b'\n');
}

/// `> SENDER (private): TEXT\n`, a private message.
pub fn private(from: &str, text: &str) -> Vec<u8> {
    format!("> {from} (private): {text}\n").into_bytes()
}

/// `* TEXT\n`, a notice from the server.
pub fn notice(text: &str) -> Vec<u8> {
    format!("* {text}\n").into_bytes()
}

/// `! TEXT\n`, an error for the one client it concerns.
pub fn error(text: &str) -> Vec<u8> {
    format!("! {text}\n").into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames(max: usize, pieces: &[&[u8]]) -> Vec<String> {
        let mut framer = LineFramer::new(max);
        let mut out = Vec::new();
        for piece in pieces {
            framer.push(piece, |f| {
                out.push(match f {
                    Frame::Line(l) => String::from_utf8_lossy(l).into_owned(),
                    Frame::TooLong => "<too long>".to_string(),
                })
            });
        }
        out
    }

    #[test]
    fn lines_split_and_merged_come_out_whole() {
        assert_eq!(
            frames(100, &[b"hel", b"lo\nwor", b"ld\n"]),
            ["hello", "world"]
        );
        assert_eq!(frames(100, &[b"a\nb\nc\n"]), ["a", "b", "c"]);
        assert_eq!(frames(100, &[b"no newline yet"]), Vec::<String>::new());
    }

    #[test]
    fn carriage_return_before_newline_is_dropped() {
        assert_eq!(
            frames(100, &[b"telnet\r\n", b"mid\rdle\n"]),
            ["telnet", "mid\rdle"]
        );
    }

    #[test]
    fn limit_counts_bytes_before_the_line_end() {
        assert_eq!(
            frames(3, &[b"abc\n", b"abc\r\n", b"abcd\n"]),
            ["abc", "abc", "<too long>"]
        );
    }

    #[test]
    fn overlong_line_is_reported_once_and_skipped_with_bounded_memory() {
        let mut framer = LineFramer::new(4);
        let mut seen = Vec::new();
        for _ in 0..1000 {
            framer.push(b"xxxxxxxx", |f| seen.push(format!("{f:?}")));
            assert!(framer.buffered() <= 5);
        }
        framer.push(b"yy\nok\n", |f| seen.push(format!("{f:?}")));
        assert_eq!(seen, ["TooLong", "Line([111, 107])"]);
    }

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

    #[test]
    fn formats() {
        let mut out = Vec::new();
        push_chat(&mut out, "ann", "hi");
        assert_eq!(out, b"> ann: hi\n");
        assert_eq!(private("ann", "psst"), b"> ann (private): psst\n");
        assert_eq!(notice("bob joined"), b"* bob joined\n");
        assert_eq!(error("nope"), b"! nope\n");
    }
}
