//! A session's token: what `/session` gives a client and `/resume` takes
//! back. Hard to guess, cheap to make, with no crate for randomness.

use std::fmt;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

/// A session's token: 32 hex digits, hard to guess.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct Token(Arc<str>);

impl Token {
    /// A fresh token: 128 bits from std's randomly keyed hasher (its keys
    /// come from the operating system's random source once per process),
    /// fed the time and a counter. Not a secret worth a cryptographic
    /// library: it guards a classroom name for a minute.
    pub(crate) fn new() -> Token {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let count = COUNTER.fetch_add(1, Ordering::Relaxed);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let half = |salt: u64| {
            let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
            hasher.write_u128(nanos);
            hasher.write_u64(count);
            hasher.write_u64(salt);
            hasher.finish()
        };
        Token(Arc::from(format!("{:016x}{:016x}", half(1), half(2))))
    }

    /// A token as a client sent it, if it has a token's shape.
    pub(crate) fn parse(text: &str) -> Option<Token> {
        let shaped = text.len() == 32 && text.bytes().all(|b| b.is_ascii_hexdigit());
        shaped.then(|| Token(Arc::from(text.to_ascii_lowercase())))
    }

    /// The token as text.
    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_long_different_and_read_back() {
        let a = Token::new();
        let b = Token::new();
        assert_ne!(a, b);
        assert_eq!(a.as_str().len(), 32);
        assert_eq!(Token::parse(&a.as_str().to_uppercase()), Some(a));
        assert_eq!(Token::parse("abc"), None);
        assert_eq!(Token::parse(&"g".repeat(32)), None);
    }
}
