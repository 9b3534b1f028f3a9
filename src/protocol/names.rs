//! The name rules: what `/nick` accepts, which names are reserved, and when
//! two names look too much alike ([`skeleton`]). Pure; the server's registry
//! applies them to the names online.

/// Longest name `/nick` accepts, in characters.
pub const MAX_NAME_CHARS: usize = 20;

/// Why a name is refused; its `Display` follows `! invalid name: `.
pub const NAME_RULE: &str = "use 1 to 20 ASCII letters, digits, _ or -, starting with a letter";

/// Checks the `/nick` rule: 1 to 20 ASCII letters, digits, `_` and `-`,
/// starting with a letter. (Address names like `127.0.0.1:5000` never pass,
/// so a chosen name can never collide with one.)
pub fn is_valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic())
        && name.len() <= MAX_NAME_CHARS
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// Why a room name is refused; its `Display` follows `! invalid room name: `.
pub const ROOM_RULE: &str = "use 1 to 20 ASCII letters, digits, _ or -, starting with a letter";

/// Room names follow the same rule as client names.
pub fn is_valid_room(name: &str) -> bool {
    is_valid_name(name)
}

/// Names nobody may take, because the server's own notices begin with them
/// (`* server shutting down`, `* you are now …`, `* welcome …`, `* online …`,
/// `* rooms …`, `* history: …`, `* end of history`, `* bye`): with one of these
/// names, `/me` could print a line that reads as the server's. Compared by how
/// a name reads ([`is_reserved`]), so `SERVER`, `Y0U`, `serv3r` or `5erver`
/// count too.
pub const RESERVED_NAMES: &[&str] = &[
    "server", "you", "welcome", "online", "rooms", "history", "end", "bye",
];

/// True for a name nobody may take (see [`RESERVED_NAMES`]): one that reads
/// as a reserved word once its look-alikes are folded ([`skeleton`]) and its
/// digits are read as the letters they stand for in "leet" spelling.
pub fn is_reserved(name: &str) -> bool {
    let reading = reading(name);
    RESERVED_NAMES
        .iter()
        .any(|reserved| reading == self::reading(reserved))
}

/// How a name reads as a word: its [`skeleton`] after each digit that is
/// written for a letter is read as that letter: `3` e, `4` a, `5` s, `7` t,
/// `8` b, `9` g (the skeleton already reads `0` as o and `1` as l).
///
/// This looser fold is for the reserved names only. Whether two people's
/// names are too close is a matter of how they *look*, and `0` and `o` look
/// alike where `3` and `e` do not: `ann3` and `anne` are told apart at a
/// glance, and may both be online. Whether a name is the server's is a matter
/// of how it *reads*, and `* serv3r shutting down` reads as the server.
/// `2` and `6` are left as they are: they stand for several letters (`z` or
/// "to"; `b` or `g`), and no reserved word needs them.
fn reading(name: &str) -> String {
    let letters: String = name
        .chars()
        .map(|c| match c {
            '3' => 'e',
            '4' => 'a',
            '5' => 's',
            '7' => 't',
            '8' => 'b',
            '9' => 'g',
            c => c,
        })
        .collect();
    skeleton(&letters)
}

/// What a name looks like, roughly: lower case, with the characters and pairs
/// that are easy to mistake for one another folded together (`0` and `o`;
/// `1`, `l` and `i`; `rn` and `m`; `vv` and `w`; `-` and `_`). Two names with
/// the same skeleton are too close to tell apart on a screen, so only one of
/// them may be online at a time. Digits that merely stand for letters (`3`
/// for e) are not folded here: see [`is_reserved`] for where they are.
pub fn skeleton(name: &str) -> String {
    let folded: String = name
        .chars()
        .map(|c| match c.to_ascii_lowercase() {
            '0' => 'o',
            '1' | 'i' => 'l',
            '-' => '_',
            c => c,
        })
        .collect();
    folded.replace("rn", "m").replace("vv", "w")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn name_rule() {
        for ok in ["a", "Ann", "bob_2", "x-y", "A2345678901234567890"] {
            assert!(is_valid_name(ok), "{ok} should be valid");
        }
        for bad in [
            "",
            "2ann",
            "_x",
            "a b",
            "é",
            "127.0.0.1:5000",
            "A23456789012345678901",
        ] {
            assert!(!is_valid_name(bad), "{bad} should be invalid");
        }
    }

    #[test]
    fn look_alikes_share_a_skeleton() {
        for (a, b) in [
            ("BOB", "B0B"),
            ("ALICE", "AIICE"),
            ("alice", "AIice"),
            ("rn", "m"),
            ("vvendy", "wendy"),
            ("ann-b", "ann_b"),
            ("l1nus", "Iinus"),
        ] {
            assert_eq!(skeleton(a), skeleton(b), "{a} and {b}");
        }
        // Digits that only stand for letters do not make two names too
        // close: ann3 and anne look different.
        for (a, b) in [
            ("bob", "rob"),
            ("ann", "anne"),
            ("m", "n"),
            ("ann3", "anne"),
            ("team5", "teams"),
            ("b8", "bb"),
        ] {
            assert_ne!(skeleton(a), skeleton(b), "{a} and {b}");
        }
    }

    #[test]
    fn the_servers_words_are_reserved() {
        for name in ["server", "SERVER", "Server", "you", "YOU", "bye", "0nline"] {
            assert!(is_reserved(name), "{name} should be reserved");
        }
        for name in ["servers", "yours", "ann", "serv2r", "6ye"] {
            assert!(!is_reserved(name), "{name} should be free");
        }
    }

    #[test]
    fn digits_read_as_letters_are_reserved_too() {
        for name in [
            "serv3r", "5erver", "53RV3R", "y0u", "we1c0me", "0nl1ne", "r00m5", "h1570ry", "3nd",
            "8ye", "bye",
        ] {
            assert!(is_reserved(name), "{name} should be reserved");
        }
    }
}
