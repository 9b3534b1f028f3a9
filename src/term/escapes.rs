//! Text from elsewhere made safe to print: [`EscapeStripper`] removes every
//! escape sequence whole (not just its ESC), then every character no screen
//! should get. Pure: the client feeds it what the server sends.

use crate::protocol::is_forbidden;

/// Where the stripper is, inside or outside a sequence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Ordinary text.
    Text,
    /// After ESC.
    Escape,
    /// After ESC and one or more intermediate bytes (`ESC ( B`, `ESC # 8`).
    EscapeIntermediate,
    /// Inside a control sequence: `ESC [` or CSI, up to its final byte.
    Csi,
    /// Inside a control string (OSC, DCS, SOS, PM, APC), up to its end.
    ControlString,
    /// ESC inside a control string: `\` ends the string (ST), anything else
    /// ends it too and starts a new sequence.
    ControlStringEscape,
}

/// Removes escape sequences, as a terminal would parse them (ECMA-48, and
/// the state machine of DEC's terminals that xterm and the others follow):
///
/// - control sequences: `ESC [` or CSI (U+009B), parameter and intermediate
///   bytes, one final byte (`ESC [ 31 m`, `ESC [ 2 J`, `ESC [ ? 1049 h`);
/// - control strings: OSC (`ESC ]`, U+009D), DCS (`ESC P`, U+0090), SOS
///   (`ESC X`, U+0098), PM (`ESC ^`, U+009E) and APC (`ESC _`, U+009F), up to
///   ST (`ESC \`, U+009C) or BEL: window titles, hyperlinks, clipboard
///   writes, terminal queries;
/// - the other escape sequences, ESC with any intermediate bytes and one
///   final byte (`ESC c` resets the terminal, `ESC 7`, `ESC ( 0`);
/// - every other C1 control; CAN and SUB cancel a sequence, as on a terminal.
///
/// What is left then loses every character [`is_forbidden`] names (the rest
/// of the C0 controls, bidi overrides, invisible format characters), so the
/// output holds no control character at all: whatever this parser got
/// wrong, a terminal can only show it, never obey it. The parser is there
/// so that what is shown is the text, not `[31mRED[0m`.
///
/// Stateful, so that a sequence split across two reads (or across the
/// pieces a server sends without newlines) is still removed whole. A
/// newline ends any sequence ([`EscapeStripper::end_line`]): a terminal would
/// let an unterminated control string swallow the lines after it, but here a
/// hostile server can hide at most the rest of one line.
#[derive(Debug)]
pub(crate) struct EscapeStripper {
    state: State,
}

/// ESC.
const ESC: char = '\u{1b}';
/// BEL, which also ends a control string (xterm's OSC convention).
const BEL: char = '\u{7}';
/// CAN and SUB: cancel a sequence.
const CAN: char = '\u{18}';
const SUB: char = '\u{1a}';
/// The C1 controls with a meaning here, as characters.
const CSI: char = '\u{9b}';
const ST: char = '\u{9c}';

impl EscapeStripper {
    pub(crate) fn new() -> Self {
        EscapeStripper { state: State::Text }
    }

    /// Appends `text`, without its escape sequences and forbidden
    /// characters, to `out`. A sequence left open at the end continues in
    /// the next call.
    pub(crate) fn push(&mut self, text: &str, out: &mut String) {
        for c in text.chars() {
            self.state = self.next(c, out);
        }
    }

    /// A line ended: any sequence still open ends with it.
    pub(crate) fn end_line(&mut self) {
        self.state = State::Text;
    }

    /// The state after `c`, appending `c` to `out` if it is text to show.
    fn next(&self, c: char, out: &mut String) -> State {
        match self.state {
            State::Text => text(c, out),
            State::Escape => match c {
                '[' => State::Csi,
                ']' | 'P' | 'X' | '^' | '_' => State::ControlString,
                ' '..='/' => State::EscapeIntermediate,
                // A final byte: a two-character sequence, removed.
                '0'..='~' => State::Text,
                _ => self.inside_sequence(c, out),
            },
            State::EscapeIntermediate => match c {
                ' '..='/' => State::EscapeIntermediate,
                '0'..='~' => State::Text,
                _ => self.inside_sequence(c, out),
            },
            State::Csi => match c {
                // Parameters and intermediates, then the final byte.
                '0'..='?' | ' '..='/' => State::Csi,
                '@'..='~' => State::Text,
                _ => self.inside_sequence(c, out),
            },
            State::ControlString => match c {
                BEL | ST | CAN | SUB => State::Text,
                ESC => State::ControlStringEscape,
                // Everything else is the string's content: a title, a URL.
                _ => State::ControlString,
            },
            State::ControlStringEscape => match c {
                '\\' => State::Text,
                _ => State::Escape.after(c, out),
            },
        }
    }

    /// A character that cannot continue the sequence in progress. A control
    /// character is dropped and the sequence goes on, as a terminal runs a
    /// C0 control met mid-sequence and carries on parsing; ESC starts a new
    /// sequence; CAN and SUB cancel; anything else (a letter from another
    /// script, DEL) means the sequence was malformed: it ends, and the
    /// character is read as text.
    fn inside_sequence(&self, c: char, out: &mut String) -> State {
        match c {
            ESC => State::Escape,
            CAN | SUB => State::Text,
            '\u{0}'..='\u{1f}' => self.state,
            _ => text(c, out),
        }
    }
}

impl State {
    /// The state after `c` read in state `self` by a fresh stripper.
    fn after(self, c: char, out: &mut String) -> State {
        EscapeStripper { state: self }.next(c, out)
    }
}

/// `c` read as text: the start of a sequence, or a character to show.
fn text(c: char, out: &mut String) -> State {
    match c {
        ESC => State::Escape,
        CSI => State::Csi,
        // OSC, DCS, SOS, PM, APC as single characters.
        '\u{9d}' | '\u{90}' | '\u{98}' | '\u{9e}' | '\u{9f}' => State::ControlString,
        _ => {
            if !is_forbidden(c) {
                out.push(c);
            }
            State::Text
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `line` stripped on its own.
    fn strip_line(line: &str) -> String {
        let mut out = String::new();
        EscapeStripper::new().push(line, &mut out);
        out
    }

    #[test]
    fn colours_go_whole() {
        assert_eq!(strip_line("\x1b[31mRED\x1b[0m"), "RED");
        assert_eq!(strip_line("a\x1b[1;38;5;196mb\x1b[m c"), "ab c");
        assert_eq!(strip_line("\x1b[?1049h\x1b[2J\x1b[Hx"), "x");
        // Intermediate bytes (`ESC [ 2 SP q`: the cursor's shape).
        assert_eq!(strip_line("\x1b[2 qok"), "ok");
    }

    #[test]
    fn control_strings_go_with_their_content() {
        // A window title, ended by BEL and by ST.
        assert_eq!(strip_line("\x1b]0;pwned\x07hi"), "hi");
        assert_eq!(strip_line("\x1b]2;pwned\x1b\\hi"), "hi");
        // A hyperlink: only its text stays.
        assert_eq!(
            strip_line("see \x1b]8;;http://evil.example/\x1b\\this\x1b]8;;\x1b\\ now"),
            "see this now"
        );
        // A clipboard write, DCS, SOS, PM and APC.
        assert_eq!(strip_line("\x1b]52;c;ZXZpbA==\x07a"), "a");
        assert_eq!(strip_line("\x1bP1$r0m\x1b\\b"), "b");
        assert_eq!(
            strip_line("\x1bXsos\x1b\\\x1b^pm\x1b\\\x1b_apc\x1b\\c"),
            "c"
        );
    }

    #[test]
    fn two_character_sequences_and_charsets() {
        assert_eq!(strip_line("\x1bcreset"), "reset");
        assert_eq!(strip_line("\x1b7\x1b8\x1b=\x1b>\x1bMx"), "x");
        assert_eq!(strip_line("\x1b(0lqk\x1b(B"), "lqk");
        assert_eq!(strip_line("\x1b#8y"), "y");
        // A lone ST.
        assert_eq!(strip_line("\x1b\\z"), "z");
    }

    #[test]
    fn c1_controls_as_characters() {
        assert_eq!(strip_line("\u{9b}31mRED\u{9b}0m"), "RED");
        assert_eq!(strip_line("\u{9d}0;title\u{9c}text"), "text");
        assert_eq!(strip_line("\u{90}dcs\u{9c}\u{9f}apc\u{9c}d"), "d");
        assert_eq!(strip_line("a\u{85}b\u{8d}c"), "abc");
    }

    #[test]
    fn cancelled_and_malformed_sequences() {
        // CAN and SUB cancel; the text after them shows.
        assert_eq!(strip_line("\x1b[31\x18RED"), "RED");
        assert_eq!(strip_line("\x1b]0;t\x1aafter"), "after");
        // A control character mid-sequence is dropped, the sequence goes on.
        assert_eq!(strip_line("\x1b[3\x081mx"), "x");
        // ESC restarts; a character no sequence may hold ends it and shows.
        assert_eq!(strip_line("\x1b[3\x1b[0mok"), "ok");
        assert_eq!(strip_line("\x1b[3é"), "é");
        assert_eq!(strip_line("\x1bé"), "é");
        // Cut short at the end of the line: nothing of it shows.
        assert_eq!(strip_line("x\x1b[3"), "x");
        assert_eq!(strip_line("x\x1b]0;no end"), "x");
    }

    #[test]
    fn other_controls_and_invisible_characters_go_too() {
        assert_eq!(strip_line("a\x07b\x08c\rd\x7fe"), "abcde");
        assert_eq!(strip_line("tab\tkept"), "tab\tkept");
        assert_eq!(strip_line("x\u{202e}y\u{200b}z"), "xyz");
        assert_eq!(strip_line("café ✓ 漢字"), "café ✓ 漢字");
    }

    #[test]
    fn a_sequence_split_across_pieces_is_removed_whole() {
        let mut stripper = EscapeStripper::new();
        let mut out = String::new();
        for piece in ["a\x1b", "[3", "1mRED\x1b]0;ti", "tle\x1b", "\\b"] {
            stripper.push(piece, &mut out);
        }
        assert_eq!(out, "aREDb");
    }

    #[test]
    fn a_newline_ends_an_open_sequence() {
        let mut stripper = EscapeStripper::new();
        let mut out = String::new();
        stripper.push("one\x1b]0;never ended", &mut out);
        stripper.end_line();
        stripper.push("two", &mut out);
        assert_eq!(out, "onetwo");
    }

    #[test]
    fn no_control_character_ever_survives() {
        // Every character from NUL to U+00A0 after every kind of opener.
        let all: String = ('\u{0}'..='\u{a0}').collect();
        for opener in ["", "\x1b", "\x1b[", "\x1b]", "\x1b(", "\u{9b}", "\u{9d}"] {
            for c in all.chars() {
                let line = format!("{opener}{c}{all}");
                let out = strip_line(&line);
                assert!(!out.chars().any(is_forbidden), "{line:?} left {out:?}");
            }
        }
    }
}
