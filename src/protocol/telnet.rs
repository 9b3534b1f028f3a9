//! Telnet's commands, removed before framing: a `telnet` user who presses
//! Ctrl-C sends `IAC IP IAC DO TIMING-MARK` (bytes 255 244 255 253 6), which
//! would otherwise reach everyone as replacement characters. Pure and
//! stateful, since a command may be cut across two reads.
//!
//! RFC 854: IAC (255) starts a command. Followed by WILL, WONT, DO or DONT
//! (251 to 254) it takes one more byte, the option; SB (250) opens a
//! subnegotiation that runs to IAC SE (255 240); IAC IAC is a data byte 255,
//! which is never part of UTF-8 text, so it goes too; a byte from 240 to 249
//! after IAC (NOP, IP, AYT, ...) is a two-byte command. A byte below 240
//! after IAC is no command at all: the lone IAC goes, and the byte stays, so
//! a stray 255 costs the text nothing more. Byte 255 never occurs in UTF-8,
//! so text from `nc` or any ordinary client is never touched.

/// Where the filter is in a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Plain data.
    Data,
    /// Just after IAC.
    Command,
    /// After WILL, WONT, DO or DONT: one option byte to skip.
    Option,
    /// Inside a subnegotiation.
    Sub,
    /// Just after IAC inside a subnegotiation.
    SubCommand,
}

const IAC: u8 = 255;
/// The lowest command byte (SE); every byte after IAC from here up is one.
const SE: u8 = 240;
const SB: u8 = 250;

/// Removes telnet commands from a byte stream.
#[derive(Debug)]
pub struct TelnetFilter {
    state: State,
    out: Vec<u8>,
}

impl Default for TelnetFilter {
    fn default() -> Self {
        TelnetFilter {
            state: State::Data,
            out: Vec::new(),
        }
    }
}

impl TelnetFilter {
    /// Returns `input` without telnet commands. Borrows `input` as it is when
    /// there is nothing to remove (the usual case: no byte 255 and no command
    /// left open by the previous read).
    pub fn filter<'a>(&'a mut self, input: &'a [u8]) -> &'a [u8] {
        if self.state == State::Data && !input.contains(&IAC) {
            return input;
        }
        self.out.clear();
        for &byte in input {
            self.state = match (self.state, byte) {
                (State::Data, IAC) => State::Command,
                (State::Data, _) => {
                    self.out.push(byte);
                    State::Data
                }
                (State::Command, SB) => State::Sub,
                (State::Command, 251..=254) => State::Option,
                // A two-byte command, or IAC IAC (a data 255, dropped).
                (State::Command, SE..) | (State::Option, _) => State::Data,
                // Not a command: the IAC was a stray 255, and this is data.
                (State::Command, _) => {
                    self.out.push(byte);
                    State::Data
                }
                (State::Sub, IAC) => State::SubCommand,
                (State::Sub, _) => State::Sub,
                (State::SubCommand, SE) => State::Data,
                (State::SubCommand, _) => State::Sub,
            };
        }
        &self.out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(pieces: &[&[u8]]) -> Vec<u8> {
        let mut filter = TelnetFilter::default();
        pieces
            .iter()
            .flat_map(|piece| filter.filter(piece).to_vec())
            .collect()
    }

    #[test]
    fn ctrl_c_from_telnet_disappears() {
        assert_eq!(run(&[b"\xff\xf4\xff\xfd\x06hello\r\n"]), b"hello\r\n");
    }

    #[test]
    fn commands_cut_across_reads_are_still_removed() {
        assert_eq!(run(&[b"a\xff", b"\xfb", b"\x01b"]), b"ab");
        assert_eq!(run(&[b"x\xff\xfa\x18\x01", b"junk\xff", b"\xf0y"]), b"xy");
    }

    #[test]
    fn plain_text_and_utf8_pass_untouched() {
        let text = "héllo ✓ wörld\n".as_bytes();
        assert_eq!(run(&[text]), text);
        let mut filter = TelnetFilter::default();
        assert!(
            std::ptr::eq(filter.filter(text), text),
            "borrowed, not copied"
        );
    }

    #[test]
    fn escaped_255_and_two_byte_commands_go() {
        assert_eq!(run(&[b"a\xff\xffb\xff\xf1c"]), b"abc");
    }

    #[test]
    fn a_lone_255_goes_and_the_byte_after_it_stays() {
        assert_eq!(run(&[b"a\xffbc\n"]), b"abc\n");
        assert_eq!(run(&[b"a\xff\n"]), b"a\n");
        // Cut between two reads, and before the two bytes of a UTF-8 "é".
        assert_eq!(run(&[b"x\xff", b"y"]), b"xy");
        assert_eq!(run(&[b"caf\xff\xc3\xa9"]), "café".as_bytes());
        // Byte 239 is the last that is kept; from 240 (SE) up, a command.
        assert_eq!(run(&[b"\xff\xef\xff\xf0z"]), b"\xefz");
    }
}
