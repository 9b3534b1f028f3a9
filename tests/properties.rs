//! Property tests of the pure parts: framing, sanitising, command parsing.

use chatroom::protocol::Command;
use chatroom::protocol::{is_forbidden, sanitize, Frame, LineFramer};
use proptest::prelude::*;

fn frames_of(max: usize, data: &[u8], cuts: &[usize]) -> Vec<Option<Vec<u8>>> {
    let mut framer = LineFramer::new(max);
    let mut out = Vec::new();
    let mut start = 0;
    let mut points: Vec<usize> = cuts.iter().map(|c| c % (data.len() + 1)).collect();
    points.sort_unstable();
    points.push(data.len());
    for end in points {
        framer.push(&data[start..end], |frame| {
            out.push(match frame {
                Frame::Line(line) => Some(line.to_vec()),
                Frame::TooLong => None,
            })
        });
        start = end;
    }
    out
}

/// Invisible characters that must never reach another screen: the ones
/// issue 14 found relayed, and a sample of the other format characters.
const HIDDEN: [char; 14] = [
    '\u{200e}',
    '\u{200f}',
    '\u{61c}',
    '\u{200b}',
    '\u{feff}',
    '\u{2028}',
    '\u{2029}',
    '\u{ad}',
    '\u{200d}',
    '\u{2060}',
    '\u{2066}',
    '\u{202e}',
    '\u{e0001}',
    '\u{fff9}',
];

proptest! {
    /// Any split of a byte stream into reads yields the same frames as one read.
    #[test]
    fn any_split_gives_the_same_lines(
        data in proptest::collection::vec(prop_oneof![Just(b'\n'), Just(b'\r'), any::<u8>()], 0..400),
        cuts in proptest::collection::vec(any::<usize>(), 0..20),
        max in 1usize..40,
    ) {
        prop_assert_eq!(frames_of(max, &data, &cuts), frames_of(max, &data, &[]));
    }

    /// The framer never holds more than the limit (+1 for a `\r`).
    #[test]
    fn framer_memory_is_bounded(chunks in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..100), 0..50), max in 1usize..64) {
        let mut framer = LineFramer::new(max);
        for chunk in chunks {
            framer.push(&chunk, |_| {});
            prop_assert!(framer.buffered() <= max + 1);
        }
    }

    /// Sanitised text has no forbidden character, no surrounding whitespace,
    /// and sanitising again changes nothing.
    #[test]
    fn sanitize_is_clean_and_idempotent(text in any::<String>()) {
        let once = sanitize(&text).into_owned();
        prop_assert!(!once.chars().any(is_forbidden), "{:?}", once);
        prop_assert_eq!(once.trim(), once.as_str());
        prop_assert_eq!(sanitize(&once).into_owned(), once);
    }

    /// Text salted with the characters the issue names (direction marks, zero
    /// width, byte-order mark, line and paragraph separators) and the rest of
    /// the format characters comes out with none of them, and nothing else lost.
    #[test]
    fn sanitize_removes_every_invisible_character(
        parts in proptest::collection::vec(
            prop_oneof![
                "[a-z ]{0,5}",
                proptest::sample::select(HIDDEN.to_vec()).prop_map(String::from),
            ],
            0..30,
        )
    ) {
        let text: String = parts.concat();
        let once = sanitize(&text).into_owned();
        prop_assert!(!once.chars().any(|c| HIDDEN.contains(&c) || is_forbidden(c)), "{:?}", once);
        let visible: String = text.chars().filter(|c| !HIDDEN.contains(c)).collect();
        prop_assert_eq!(once, visible.trim());
    }

    /// The command parser never panics, whatever the line.
    #[test]
    fn command_parse_never_panics(line in any::<String>()) {
        let _ = Command::parse(&line);
        let slashed = format!("/{line}");
        let _ = Command::parse(&slashed);
    }
}
