//! What the bytes a keyboard sends mean: [`KeyDecoder`] turns them into [`Key`]s
//! for the line editor, and [`clean_typed_line`] strips escape sequences from
//! a line typed in plain mode. Pure: bytes in, keys or bytes out.

use crate::protocol::is_forbidden;

/// One key press, as far as the line editor cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Key {
    /// A printable character (multi-byte UTF-8 already assembled).
    Char(char),
    /// Enter (`\r` or `\n`).
    Enter,
    /// Backspace (DEL or Ctrl-H): delete the character before the cursor.
    Backspace,
    /// Delete (`ESC [ 3 ~`): delete the character under the cursor.
    Delete,
    /// Left arrow or Ctrl-B.
    Left,
    /// Right arrow or Ctrl-F.
    Right,
    /// Alt-b, Ctrl-Left or Alt-Left: to the start of the word before.
    WordLeft,
    /// Alt-f, Ctrl-Right or Alt-Right: to the end of the word after.
    WordRight,
    /// Home or Ctrl-A.
    Home,
    /// End or Ctrl-E.
    End,
    /// Up arrow or Ctrl-P: the previous line sent.
    Up,
    /// Down arrow or Ctrl-N: the next line sent.
    Down,
    /// Ctrl-U: clear the line.
    ClearLine,
    /// Ctrl-W: delete back to the previous space, as a shell does.
    DeleteSpaceWord,
    /// Alt-Backspace: delete the word before the cursor.
    DeleteWordBefore,
    /// Alt-d, Ctrl-Delete or Alt-Delete: delete the word after the cursor.
    DeleteWordAfter,
    /// Tab: complete the word before the cursor, or the next choice.
    Tab,
    /// Shift-Tab (`ESC [ Z`): the previous choice.
    BackTab,
    /// Ctrl-L: draw the screen again.
    Redraw,
    /// Ctrl-D: quit on an empty line, otherwise Delete.
    EndOfInput,
    /// Ctrl-C: quit.
    Interrupt,
    /// Ctrl-Z: suspend the client, as the shell's job control would.
    Suspend,
}

/// Where the decoder is inside a multi-byte input.
#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    Ground,
    /// After ESC.
    Escape,
    /// After `ESC [`: parameter bytes so far (at most a few kept).
    Csi(Vec<u8>),
    /// After `ESC O` (what some terminals send for arrows, Home and End).
    Ss3,
    /// Inside a UTF-8 character: the bytes so far and how many it needs.
    Utf8(Vec<u8>, usize),
}

/// Turns keyboard bytes into [`Key`]s. Stateful, because one key can arrive in
/// several reads (an arrow key is three bytes, and over a slow link they can
/// be split), and a UTF-8 character is up to four.
#[derive(Debug)]
pub(crate) struct KeyDecoder {
    state: State,
}

/// Parameters longer than this are not a key we know; the rest is skipped.
const MAX_PARAMS: usize = 16;

impl KeyDecoder {
    pub(crate) fn new() -> Self {
        KeyDecoder {
            state: State::Ground,
        }
    }

    /// Decodes `bytes`, appending the keys they complete to `keys`. Bytes that
    /// mean nothing to the editor (other control characters, unknown escape
    /// sequences, invalid UTF-8) are dropped.
    pub(crate) fn feed(&mut self, bytes: &[u8], keys: &mut Vec<Key>) {
        for &b in bytes {
            self.byte(b, keys);
        }
    }

    fn byte(&mut self, b: u8, keys: &mut Vec<Key>) {
        match std::mem::replace(&mut self.state, State::Ground) {
            State::Ground => self.ground(b, keys),
            State::Escape => match b {
                b'[' => self.state = State::Csi(Vec::new()),
                b'O' => self.state = State::Ss3,
                0x1b => self.state = State::Escape,
                // Alt+key arrives as ESC and the key (a terminal's "meta
                // sends escape", the usual setting). Escape pressed just
                // before b, f or d reads the same, as in every readline
                // program.
                b'b' | b'B' => keys.push(Key::WordLeft),
                b'f' | b'F' => keys.push(Key::WordRight),
                b'd' | b'D' => keys.push(Key::DeleteWordAfter),
                0x7f | 0x08 => keys.push(Key::DeleteWordBefore),
                // Any other Alt+key, or Escape pressed on its own and then a
                // key: the ESC is dropped and the key counts, so nothing
                // typed is lost.
                _ => self.ground(b, keys),
            },
            State::Csi(mut params) => match b {
                0x30..=0x3f => {
                    if params.len() < MAX_PARAMS {
                        params.push(b);
                    }
                    self.state = State::Csi(params);
                }
                // Intermediate bytes: no key we handle uses them.
                0x20..=0x2f => self.state = State::Csi(params),
                0x40..=0x7e => keys.extend(csi_key(&params, b)),
                // Not part of a sequence: the sequence was cut short.
                _ => self.ground(b, keys),
            },
            State::Ss3 => match b {
                // rxvt's Ctrl-Right and Ctrl-Left.
                b'c' => keys.push(Key::WordRight),
                b'd' => keys.push(Key::WordLeft),
                0x40..=0x7e => keys.extend(csi_key(b"", b)),
                _ => self.ground(b, keys),
            },
            State::Utf8(mut bytes, needed) => {
                if b & 0b1100_0000 != 0b1000_0000 {
                    // The character was cut short: drop it, and read this byte afresh.
                    return self.ground(b, keys);
                }
                bytes.push(b);
                if bytes.len() < needed {
                    self.state = State::Utf8(bytes, needed);
                    return;
                }
                let decoded = std::str::from_utf8(&bytes)
                    .ok()
                    .and_then(|s| s.chars().next());
                if let Some(c) = decoded.filter(|&c| !is_forbidden(c)) {
                    keys.push(Key::Char(c));
                }
            }
        }
    }

    fn ground(&mut self, b: u8, keys: &mut Vec<Key>) {
        let utf8_len = match b {
            0xc2..=0xdf => 2,
            0xe0..=0xef => 3,
            0xf0..=0xf4 => 4,
            _ => 0,
        };
        if utf8_len > 0 {
            self.state = State::Utf8(vec![b], utf8_len);
            return;
        }
        let key = match b {
            0x1b => {
                self.state = State::Escape;
                return;
            }
            0x20..=0x7e => Key::Char(b as char),
            // Never a character in the line: a tab would move the terminal's
            // cursor to a tab stop the editor cannot predict.
            b'\t' => Key::Tab,
            0x0c => Key::Redraw,
            b'\r' | b'\n' => Key::Enter,
            0x7f | 0x08 => Key::Backspace,
            0x01 => Key::Home,
            0x05 => Key::End,
            0x02 => Key::Left,
            0x06 => Key::Right,
            0x10 => Key::Up,
            0x0e => Key::Down,
            0x15 => Key::ClearLine,
            0x17 => Key::DeleteSpaceWord,
            0x04 => Key::EndOfInput,
            0x03 => Key::Interrupt,
            0x1a => Key::Suspend,
            _ => return,
        };
        keys.push(key);
    }
}

/// The key a complete `ESC [ PARAMS FINAL` (or `ESC O FINAL`) sequence means.
/// A modifier (`ESC [ 1 ; 5 C` is Ctrl-Right) turns an arrow or Delete into
/// its word-sized version if it holds Ctrl or Alt; Shift alone is ignored.
fn csi_key(params: &[u8], final_byte: u8) -> Option<Key> {
    let mut fields = params.split(|&b| b == b';');
    let first = fields.next().unwrap_or(b"");
    // xterm's modifier parameter is 1 plus a bit mask: Shift 1, Alt 2, Ctrl 4.
    let modifiers = fields
        .next()
        .and_then(|m| std::str::from_utf8(m).ok()?.parse::<u8>().ok())
        .map_or(0, |m| m.saturating_sub(1));
    let by_word = modifiers & 0b110 != 0;
    match (final_byte, first) {
        (b'A', _) => Some(Key::Up),
        (b'B', _) => Some(Key::Down),
        (b'C', _) if by_word => Some(Key::WordRight),
        (b'C', _) => Some(Key::Right),
        (b'D', _) if by_word => Some(Key::WordLeft),
        (b'D', _) => Some(Key::Left),
        (b'H', _) => Some(Key::Home),
        (b'F', _) => Some(Key::End),
        (b'Z', _) => Some(Key::BackTab),
        (b'~', b"1" | b"7") => Some(Key::Home),
        (b'~', b"4" | b"8") => Some(Key::End),
        (b'~', b"3") if by_word => Some(Key::DeleteWordAfter),
        (b'~', b"3") => Some(Key::Delete),
        _ => None,
    }
}

/// A line typed in plain mode, without the escape sequences and control
/// characters a terminal in line mode lets through (an arrow key pressed while
/// typing arrives as `ESC [ A` inside the line). The server would drop the
/// ESC and relay `[A` to everyone; cleaning here means it never leaves.
/// Works on bytes so that text that is not UTF-8 goes out untouched.
pub(crate) fn clean_typed_line(line: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(line.len());
    let mut i = 0;
    while i < line.len() {
        let b = line[i];
        i += 1;
        match b {
            0x1b => i = skip_escape(line, i),
            b'\t' => out.push(b),
            0x00..=0x1f | 0x7f => {}
            _ => out.push(b),
        }
    }
    out
}

/// Index just past the escape sequence whose ESC ended at `i`.
fn skip_escape(line: &[u8], mut i: usize) -> usize {
    match line.get(i) {
        Some(b'[') => {
            i += 1;
            // Parameters and intermediates, then one final byte.
            while let Some(&b) = line.get(i) {
                i += 1;
                if !(0x20..=0x3f).contains(&b) {
                    break;
                }
            }
            i
        }
        Some(b'O') => (i + 2).min(line.len()),
        Some(0x20..=0x7e) => i + 1,
        _ => i,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(pieces: &[&[u8]]) -> Vec<Key> {
        let mut decoder = KeyDecoder::new();
        let mut keys = Vec::new();
        for piece in pieces {
            decoder.feed(piece, &mut keys);
        }
        keys
    }

    #[test]
    fn printable_and_control_keys() {
        use Key::*;
        assert_eq!(
            keys(&[b"a Z~\t\r\n\x7f\x08\x01\x05\x02\x06\x10\x0e\x15\x17\x04\x03"]),
            [
                Char('a'),
                Char(' '),
                Char('Z'),
                Char('~'),
                Tab,
                Enter,
                Enter,
                Backspace,
                Backspace,
                Home,
                End,
                Left,
                Right,
                Up,
                Down,
                ClearLine,
                DeleteSpaceWord,
                EndOfInput,
                Interrupt
            ]
        );
        assert_eq!(keys(&[b"\x1a\x0c"]), [Suspend, Redraw]);
        // Other control characters mean nothing.
        assert_eq!(keys(&[b"\x00\x07\x0b\x1c"]), []);
    }

    #[test]
    fn every_spelling_of_the_movement_keys() {
        use Key::*;
        assert_eq!(
            keys(&[b"\x1b[A\x1b[B\x1b[C\x1b[D\x1bOA\x1bOB\x1bOC\x1bOD"]),
            [Up, Down, Right, Left, Up, Down, Right, Left]
        );
        assert_eq!(
            keys(&[b"\x1b[H\x1b[F\x1bOH\x1bOF\x1b[1~\x1b[4~\x1b[7~\x1b[8~\x1b[3~"]),
            [Home, End, Home, End, Home, End, Home, End, Delete]
        );
        // Shift alone changes nothing.
        assert_eq!(keys(&[b"\x1b[1;2C\x1b[3;2~"]), [Right, Delete]);
        // Unknown sequences (F5, Page Up, bracketed paste marks) are dropped whole.
        assert_eq!(keys(&[b"\x1b[15~\x1b[5~\x1b[200~x"]), [Char('x')]);
    }

    #[test]
    fn word_keys_in_every_spelling() {
        use Key::*;
        // Alt-b, Alt-f, Alt-d, Alt-Backspace (both Backspace bytes).
        assert_eq!(
            keys(&[b"\x1bb\x1bf\x1bd\x1b\x7f\x1b\x08\x1bB\x1bF\x1bD"]),
            [
                WordLeft,
                WordRight,
                DeleteWordAfter,
                DeleteWordBefore,
                DeleteWordBefore,
                WordLeft,
                WordRight,
                DeleteWordAfter
            ]
        );
        // Ctrl and Alt (and with Shift) on the arrows and Delete, as xterm
        // and tmux send them; rxvt's Ctrl-arrows.
        assert_eq!(
            keys(&[b"\x1b[1;5D\x1b[1;5C\x1b[1;3D\x1b[1;3C\x1b[1;6D\x1b[1;7C"]),
            [WordLeft, WordRight, WordLeft, WordRight, WordLeft, WordRight]
        );
        assert_eq!(
            keys(&[b"\x1b[3;5~\x1b[3;3~\x1bOd\x1bOc"]),
            [DeleteWordAfter, DeleteWordAfter, WordLeft, WordRight]
        );
        // Shift-Tab.
        assert_eq!(keys(&[b"\x1b[Z"]), [BackTab]);
        // Split across reads like any key.
        assert_eq!(keys(&[b"\x1b", b"b"]), [WordLeft]);
        assert_eq!(keys(&[b"\x1b[1;", b"5D"]), [WordLeft]);
    }

    #[test]
    fn sequences_split_across_reads() {
        assert_eq!(keys(&[b"\x1b", b"[", b"3", b"~"]), [Key::Delete]);
        assert_eq!(
            keys(&[b"ab\x1b[", b"Dc"]),
            [Key::Char('a'), Key::Char('b'), Key::Left, Key::Char('c')]
        );
        assert_eq!(keys(&[b"\x1bO", b"F"]), [Key::End]);
    }

    #[test]
    fn a_lone_escape_loses_nothing() {
        // Escape, then a key: the key counts (unless it is b, f or d, which
        // make the Alt keys).
        assert_eq!(keys(&[b"\x1b", b"h"]), [Key::Char('h')]);
        assert_eq!(keys(&[b"\x1b\x1b[C"]), [Key::Right]);
        // A sequence cut short by a control key: the control key counts.
        assert_eq!(keys(&[b"\x1b[1\r"]), [Key::Enter]);
    }

    #[test]
    fn utf8_characters_are_one_key_even_when_split() {
        let text = "é✓😀".as_bytes();
        assert_eq!(
            keys(&[text]),
            [Key::Char('é'), Key::Char('✓'), Key::Char('😀')]
        );
        let pieces: Vec<&[u8]> = text.chunks(1).collect();
        assert_eq!(
            keys(&pieces),
            [Key::Char('é'), Key::Char('✓'), Key::Char('😀')]
        );
    }

    #[test]
    fn invalid_utf8_and_invisible_controls_are_dropped() {
        // A stray continuation byte, a cut-short character, an impossible lead.
        assert_eq!(
            keys(&[b"\x80a\xe2\x9cb\xffc"]),
            [Key::Char('a'), Key::Char('b'), Key::Char('c')]
        );
        // C1 controls and a bidi override, typed or pasted, never reach the line.
        let c1 = "\u{85}\u{202e}x".as_bytes();
        assert_eq!(keys(&[c1]), [Key::Char('x')]);
    }

    #[test]
    fn plain_mode_lines_lose_escape_sequences() {
        assert_eq!(
            clean_typed_line(b"hi\x1b[A there\x1b[1;5D!\n"),
            b"hi there!"
        );
        assert_eq!(clean_typed_line(b"\x1bOA\x1b[3~\x1bx"), b"");
        assert_eq!(clean_typed_line(b"tab\tok\r\x07"), b"tab\tok");
        assert_eq!(
            clean_typed_line("café \u{2713}".as_bytes()),
            "café ✓".as_bytes()
        );
        // Cut short at the end of the line: nothing of the sequence is left.
        assert_eq!(clean_typed_line(b"x\x1b["), b"x");
        assert_eq!(clean_typed_line(b"x\x1b"), b"x");
        // Not UTF-8: passed on as it is, for the server to judge.
        assert_eq!(clean_typed_line(b"\xff\xfe"), b"\xff\xfe");
    }
}
