//! The restart hand-over: what a previous run left in the transcript (the
//! [`Restored`] that `Server::bind` read back) becomes sessions held in the
//! registry, and the [`Restart`] the broadcaster takes before its first
//! event. Apart from `mod.rs` because it is one step of a restart, done once
//! before the accept loop starts, with rules of its own (which rooms keep
//! their lines, which ids the held sessions get).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use super::broadcaster::Restart;
use super::client::ClientId;
use super::recorder::reload::Restored;
use super::rooms::{RoomId, LOBBY_NAME};
use super::shared::Shared;
use super::token::Token;

/// Holds the sessions a previous run left open (from the transcript), in
/// their rooms, and says what the broadcaster takes back: the lines of
/// the lobby and of those rooms. Rooms nobody can come back to are left
/// out, as a room that empties loses its history.
pub(super) fn hand_over(shared: &Shared, restored: Restored) -> Restart {
    let until = Instant::now() + shared.config.hold;
    let mut rooms: HashMap<String, RoomId> = HashMap::new();
    rooms.insert(LOBBY_NAME.to_string(), RoomId::LOBBY);
    let mut held = Vec::new();
    let mut held_ids: HashMap<String, ClientId> = HashMap::new();
    for (n, session) in restored.sessions.iter().enumerate() {
        let Some(token) = Token::parse(&session.token) else {
            continue;
        };
        // Ids from the top down: the accept loop counts up from 1.
        let id = ClientId(u64::MAX - n as u64);
        let room = shared
            .registry
            .hold_restored(id, token, &session.name, &session.room, until);
        rooms.insert(session.room.to_ascii_lowercase(), room);
        held_ids.insert(session.name.to_ascii_lowercase(), id);
        held.push((id, room, Arc::from(session.room.as_str())));
    }
    if !held.is_empty() {
        let sessions = match held.len() {
            1 => "1 session".to_string(),
            n => format!("{n} sessions"),
        };
        shared.log.always(&format!(
            "holding {sessions} from the transcript for {} s",
            shared.config.hold.as_secs()
        ));
    }
    let lines = restored
        .rooms
        .into_iter()
        .filter_map(|room| {
            let id = *rooms.get(&room.name.to_ascii_lowercase())?;
            let lines = room
                .lines
                .into_iter()
                .map(|line| {
                    let from = line
                        .from
                        .as_ref()
                        .and_then(|from| held_ids.get(&from.to_ascii_lowercase()).copied());
                    (line.seq, line.bytes, from)
                })
                .collect();
            Some((id, Arc::from(room.name.as_str()), lines))
        })
        .collect();
    Restart {
        rooms: lines,
        held,
        next_line: restored.next_line,
        until,
    }
}
