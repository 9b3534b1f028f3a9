//! What the server sends, as lines: [`LineAssembler`] (pure) cuts the byte
//! stream at newlines and ends text that stops without one, and [`read_lines`]
//! feeds it from the socket and strips escape sequences. Both modes print it.

use std::io::{self, Read};
use std::net::TcpStream;
use std::ops::ControlFlow;
use std::time::Duration;

use crate::term::EscapeStripper;

/// How long unterminated text waits for more before it is shown as a line.
///
/// This server ends every line with `\n`, so this only matters against a
/// server like the Node tutorial's, which relays raw pieces of text with no
/// newline: without it, a piece and whatever follows it (the next piece,
/// `Disconnected from the server.`) would run together on one line. Long
/// enough that a line split across two TCP segments is joined again, short
/// enough to look immediate to a person.
pub(crate) const IDLE: Duration = Duration::from_millis(150);

/// Unterminated text kept at most; past this it is shown as it is, so a
/// server that never sends a newline cannot grow the client's memory.
const MAX_PENDING: usize = 64 * 1024;

/// A line of text from the server, or a piece of one shown as a line.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Received {
    /// The text, without its `\n`.
    pub(crate) text: String,
    /// True if a `\n` ended it; false for text shown before its line ended
    /// (nothing more came for a moment, or too much came without a `\n`).
    /// An escape sequence may go on from such a piece into the next.
    pub(crate) ended: bool,
}

/// Reassembles the server's lines from what TCP delivers.
#[derive(Debug, Default)]
pub(crate) struct LineAssembler {
    partial: Vec<u8>,
}

impl LineAssembler {
    /// Feeds bytes just read; appends every line they complete to `lines`.
    /// Invalid UTF-8 becomes U+FFFD, as on the server.
    pub(crate) fn push(&mut self, data: &[u8], lines: &mut Vec<Received>) {
        let mut rest = data;
        while let Some(at) = rest.iter().position(|&b| b == b'\n') {
            self.partial.extend_from_slice(&rest[..at]);
            lines.push(Received {
                text: String::from_utf8_lossy(&self.partial).into_owned(),
                ended: true,
            });
            self.partial.clear();
            rest = &rest[at + 1..];
        }
        self.partial.extend_from_slice(rest);
        if self.partial.len() > MAX_PENDING {
            let cut = complete_utf8_len(&self.partial);
            lines.push(Received {
                text: String::from_utf8_lossy(&self.partial[..cut]).into_owned(),
                ended: false,
            });
            self.partial.drain(..cut);
        }
    }

    /// True while unterminated text waits for the rest of its line.
    pub(crate) fn waiting(&self) -> bool {
        !self.partial.is_empty()
    }

    /// The unterminated text, as a line of its own: called when nothing more
    /// came within [`IDLE`], or when the connection ends. An unfinished UTF-8
    /// character in it becomes U+FFFD, as the Node tutorial's client shows it.
    pub(crate) fn flush(&mut self) -> Option<Received> {
        if self.partial.is_empty() {
            return None;
        }
        let text = String::from_utf8_lossy(&self.partial).into_owned();
        self.partial.clear();
        Some(Received { text, ended: false })
    }
}

/// How much of `bytes` can be decoded now: all of it, except an unfinished
/// UTF-8 sequence at the very end that the next read may complete.
fn complete_utf8_len(bytes: &[u8]) -> usize {
    // Look back at most three bytes for the lead byte of the last sequence.
    for back in 1..=bytes.len().min(3) {
        let lead = bytes[bytes.len() - back];
        if lead & 0b1100_0000 == 0b1000_0000 {
            continue; // a continuation byte: keep looking for the lead
        }
        let needed = match lead {
            0xc2..=0xdf => 2,
            0xe0..=0xef => 3,
            0xf0..=0xf4 => 4,
            _ => 1,
        };
        return if needed > back {
            bytes.len() - back
        } else {
            bytes.len()
        };
    }
    bytes.len()
}

/// Why [`read_lines`] returned.
#[derive(Debug)]
pub(crate) enum Ended {
    /// The server closed the connection.
    Closed,
    /// Reading failed (a reset, for example).
    Failed(io::Error),
    /// `on_line` asked to stop.
    Stopped,
}

/// A line from the server as [`read_lines`] hands it on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ServerLine {
    /// The text, without its `\n`, cleaned by an [`EscapeStripper`].
    pub(crate) text: String,
    /// True if a `\n` ended it; false for a piece shown before its line
    /// ended (see [`Received::ended`]), or cut off by the end of the
    /// connection. Only whole lines count as received room lines.
    pub(crate) whole: bool,
    /// True if the server's text held nothing but escape sequences: there is
    /// nothing to print, yet it was a line.
    pub(crate) blank: bool,
}

/// Reads the server's lines until it closes, calling `on_line` with each,
/// until `on_line` breaks. Each line is cleaned by an [`EscapeStripper`]:
/// escape sequences go whole, and no control character survives, so a
/// hostile server can neither drive the terminal nor litter it with
/// `[31m`. A line that held nothing but sequences is passed on marked
/// [`ServerLine::blank`], so that whoever counts lines still sees it.
///
/// The socket blocks with no timeout while no text waits, and with [`IDLE`]
/// as its timeout while some does: a timeout means the text is complete.
pub(crate) fn read_lines(
    stream: &TcpStream,
    mut on_line: impl FnMut(ServerLine) -> ControlFlow<()>,
) -> Ended {
    let mut assembler = LineAssembler::default();
    let mut stripper = EscapeStripper::new();
    let mut lines = Vec::new();
    let mut buf = [0u8; 8192];
    let mut timeout_set = false;
    let mut reader = stream;
    let mut pass_on = |received: Received| {
        let mut clean = String::with_capacity(received.text.len());
        stripper.push(&received.text, &mut clean);
        if received.ended {
            stripper.end_line();
        }
        let blank = clean.is_empty() && !received.text.is_empty();
        on_line(ServerLine {
            text: clean,
            whole: received.ended,
            blank,
        })
    };
    let ended = loop {
        if assembler.waiting() != timeout_set {
            timeout_set = assembler.waiting();
            if let Err(e) = stream.set_read_timeout(timeout_set.then_some(IDLE)) {
                break Ended::Failed(e);
            }
        }
        match reader.read(&mut buf) {
            Ok(0) => break Ended::Closed,
            Ok(n) => assembler.push(&buf[..n], &mut lines),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            // WouldBlock on Unix, TimedOut on Windows: the idle time passed.
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                lines.extend(assembler.flush());
            }
            Err(e) => break Ended::Failed(e),
        }
        for received in lines.drain(..) {
            if pass_on(received).is_break() {
                return Ended::Stopped;
            }
        }
    };
    if let Some(received) = assembler.flush() {
        if pass_on(received).is_break() {
            return Ended::Stopped;
        }
    }
    ended
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The texts of the lines `data` completes (all ended by a newline, or
    /// the test says otherwise).
    fn push(assembler: &mut LineAssembler, data: &[u8]) -> Vec<String> {
        let mut lines = Vec::new();
        assembler.push(data, &mut lines);
        lines.into_iter().map(|l| l.text).collect()
    }

    fn flush(assembler: &mut LineAssembler) -> Option<String> {
        let piece = assembler.flush()?;
        assert!(!piece.ended);
        Some(piece.text)
    }

    #[test]
    fn lines_split_and_merged_come_out_whole() {
        let mut a = LineAssembler::default();
        assert_eq!(push(&mut a, b"> bob: hel"), Vec::<String>::new());
        assert!(a.waiting());
        assert_eq!(
            push(&mut a, b"lo\n* ann joined\n> b"),
            ["> bob: hello", "* ann joined"]
        );
        assert_eq!(push(&mut a, b"ob: x\n"), ["> bob: x"]);
        assert!(!a.waiting());
        assert_eq!(flush(&mut a), None);
    }

    #[test]
    fn a_character_split_across_reads_is_joined() {
        let mut a = LineAssembler::default();
        let check = "✓\n".as_bytes();
        assert_eq!(push(&mut a, &check[..1]), Vec::<String>::new());
        assert_eq!(push(&mut a, &check[1..]), ["✓"]);
    }

    #[test]
    fn unterminated_text_is_flushed_as_a_line() {
        let mut a = LineAssembler::default();
        push(&mut a, "> 1.2.3.4:5: caf\u{e9}".as_bytes());
        assert_eq!(flush(&mut a).as_deref(), Some("> 1.2.3.4:5: café"));
        assert!(!a.waiting());
        // Half a character at a flush is shown as U+FFFD, not kept.
        push(&mut a, &"é".as_bytes()[..1]);
        assert_eq!(flush(&mut a).as_deref(), Some("\u{fffd}"));
    }

    #[test]
    fn endless_text_is_shown_in_bounded_pieces() {
        let mut a = LineAssembler::default();
        let mut shown = 0;
        for _ in 0..100 {
            shown += push(&mut a, &"✓".repeat(1000).into_bytes()).len();
            assert!(a.partial.len() <= MAX_PENDING);
        }
        assert!(shown >= 4, "only {shown} pieces");
        // Every piece was cut between characters.
        let mut lines = Vec::new();
        a.push(&[b'x'; MAX_PENDING], &mut lines);
        assert!(lines
            .iter()
            .all(|l| !l.text.contains('\u{fffd}') && !l.ended));
    }

    #[test]
    fn unfinished_utf8_is_held_back() {
        let check = "✓".as_bytes();
        assert_eq!(complete_utf8_len(b"abc"), 3);
        assert_eq!(complete_utf8_len(&[b'a', check[0], check[1]]), 1);
        assert_eq!(complete_utf8_len(&[0xff, b'a', check[0]]), 2);
    }
}
