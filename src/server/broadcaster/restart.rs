//! What a restarted server hands the broadcaster before its first event:
//! the rooms' lines and the sessions it holds, as `Server::run` read them
//! back from the transcript (see `recorder/reload.rs`).

use std::sync::Arc;
use std::time::Instant;

use crate::server::client::ClientId;
use crate::server::rooms::RoomId;

/// What a restarted server takes back (from its transcript) before its
/// first event: rooms' lines, and the sessions held in them.
#[derive(Debug)]
pub(crate) struct Restart {
    /// Rooms with their names and lines, oldest first.
    pub(crate) rooms: Vec<RestoredLines>,
    /// The held sessions' ids (the room knew them), rooms and rooms' names.
    pub(crate) held: Vec<(ClientId, RoomId, Arc<str>)>,
    /// The number the next room line gets.
    pub(crate) next_line: u64,
    /// When the held sessions run out.
    pub(crate) until: Instant,
}

/// A room a restart gives lines back to: its id and name, and its lines'
/// numbers, text and, for a held session's own lines, whose they are.
pub(crate) type RestoredLines = (RoomId, Arc<str>, Vec<(u64, Vec<u8>, Option<ClientId>)>);
