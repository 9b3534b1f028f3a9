//! Sessions: what lets a client that lost its connection come back as
//! itself. `/session` gives a client a token (`token.rs`); when its connection ends
//! without a goodbye (a reset, an eviction), the registry keeps a [`Held`]
//! session for `--hold-secs`: its name stays taken and its room stays open, and
//! a new connection that says `/resume TOKEN LAST` takes it back. Pure
//! data; the registry keeps the sessions under its lock.

use std::sync::Arc;
use std::time::Instant;

use super::client::ClientId;
use super::rooms::RoomId;

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
    /// When its mute ends ([`Mute::until`](super::client::Mute::until)), 0
    /// for none: a student cannot shake off a mute by breaking the connection.
    pub(crate) muted_until: u64,
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
