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
/// names, `/me` could print a line that reads as the server's. Compared by
/// [`skeleton`], so `SERVER`, `Y0U` or `0nline` count too.
pub const RESERVED_NAMES: &[&str] = &[
    "server", "you", "welcome", "online", "rooms", "history", "end", "bye",
];

/// True for a name nobody may take (see [`RESERVED_NAMES`]).
pub fn is_reserved(name: &str) -> bool {
    let skeleton = skeleton(name);
    RESERVED_NAMES
        .iter()
        .any(|reserved| skeleton == self::skeleton(reserved))
}

/// What a name looks like, roughly: lower case, with the characters and pairs
/// that are easy to mistake for one another folded together (`0` and `o`;
/// `1`, `l` and `i`; `rn` and `m`; `vv` and `w`; `-` and `_`). Two names with
/// the same skeleton are too close to tell apart on a screen, so only one of
/// them may be online at a time.
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
        for (a, b) in [("bob", "rob"), ("ann", "anne"), ("m", "n")] {
            assert_ne!(skeleton(a), skeleton(b), "{a} and {b}");
        }
    }

    #[test]
    fn the_servers_words_are_reserved() {
        for name in ["server", "SERVER", "Server", "you", "YOU", "bye", "0nline"] {
            assert!(is_reserved(name), "{name} should be reserved");
        }
        for name in ["servers", "yours", "ann"] {
            assert!(!is_reserved(name), "{name} should be free");
        }
    }
}
