//! Sessions: what lets a client that lost its connection come back as
//! itself. `/session` gives a client a [`Token`]; when its connection ends
//! without a goodbye (a reset, an eviction), the registry keeps a [`Held`]
//! session for `--hold-secs`: its name stays taken and its room stays open, and
//! a new connection that says `/resume TOKEN LAST` takes it back. Pure
//! data; the registry keeps the sessions under its lock.

use std::fmt;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use super::client::ClientId;
use super::rooms::RoomId;

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

/// A session whose connection ended without a goodbye, kept for `--hold-secs`.
#[derive(Debug, Clone)]
pub(crate) struct Held {
    /// The id its last connection had: the room knows it by that id.
    pub(crate) id: ClientId,
    /// Its name, which nobody else may take meanwhile.
    pub(crate) name: Arc<str>,
    /// The room it was in, kept open for it.
    pub(crate) room: RoomId,
    /// Why its connection ended: the reason the room hears if it never
    /// comes back.
    pub(crate) reason: Option<String>,
    /// When the hold runs out.
    pub(crate) until: Instant,
}

/// What a successful `/resume` took over.
#[derive(Debug)]
pub(crate) enum Replaced {
    /// A held session: its connection was gone already.
    Held(ClientId),
    /// A session whose old connection the server still thought alive (a
    /// Wi-Fi drop seen only by the client): that connection is dropped.
    Live(ClientId),
}

impl Replaced {
    /// The id of the connection taken over.
    pub(crate) fn id(&self) -> ClientId {
        match self {
            Replaced::Held(id) | Replaced::Live(id) => *id,
        }
    }
}

/// A client that took its session back: who it is again, and where.
#[derive(Debug)]
pub(crate) struct Resumed {
    /// Its name.
    pub(crate) name: Arc<str>,
    /// Its room, and that room's name.
    pub(crate) room: RoomId,
    /// See `room`.
    pub(crate) room_name: Arc<str>,
    /// What it took over.
    pub(crate) replaced: Replaced,
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
