//! Cutting a byte stream into lines: [`LineFramer`] keeps the unfinished tail
//! between reads and bounds it. The reader thread feeds it; nothing here does I/O.

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
}
