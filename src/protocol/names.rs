//! The name rule: what `/nick` accepts. Pure; the server's registry enforces
//! uniqueness, this file only says what a well-formed name is.

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
}
