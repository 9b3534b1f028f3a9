//! Who is connected: one [`ClientRecord`] per connection, the rooms, and
//! the sessions held for clients that may come back, in one mutex-guarded
//! map. Readers add, rename and move themselves here, and take sessions
//! back; the broadcaster attaches to new clients and removes (or holds) the
//! ones that go; the console and the dashboard read snapshots. A client's
//! own state is described in `client.rs`; this file is the map and its lock.

use std::collections::HashMap;
use std::net::TcpStream;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use parking_lot::Mutex;

use crate::protocol::skeleton;

use super::client::{ClientId, ClientRecord, ClientView, Meters};
use super::rooms::{RoomId, Rooms};
use super::session::{Held, Replaced, Resumed};
use super::token::Token;

/// Why a rename was refused.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum RenameError {
    /// Another client has this name (compared ignoring case).
    Taken,
    /// Another client's name looks the same (see [`skeleton`]); holds it.
    TooClose(Arc<str>),
    /// The client already has exactly this name.
    Unchanged,
    /// The client is no longer registered.
    Gone,
}

/// The shared map of connected clients.
///
/// Every method takes the lock once and holds it only for a few map operations:
/// nothing here does I/O, so a slow socket can never keep the lock held.
#[derive(Debug, Default)]
pub(crate) struct Registry {
    state: Mutex<State>,
}

/// What the registry lock guards: the clients, the rooms and the held
/// sessions, together, so a client's room and the rooms' counts never
/// disagree, and a held name is never taken by someone else.
#[derive(Debug, Default)]
struct State {
    clients: HashMap<ClientId, ClientRecord>,
    rooms: Rooms,
    held: HashMap<Token, Held>,
}

/// A move from one room to another, as `/join` made it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Moved {
    /// The client's name.
    pub(crate) name: Arc<str>,
    /// The room it left.
    pub(crate) from: RoomId,
    /// The room it entered, and that room's name.
    pub(crate) to: RoomId,
    /// See `to`.
    pub(crate) to_name: Arc<str>,
}

/// Why a move did not happen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum JoinError {
    /// The client is in that room already (holds its name as written).
    Already(Arc<str>),
    /// The client is no longer registered.
    Gone,
}

impl Registry {
    /// Adds a client that has just connected.
    /// The client starts in the lobby.
    pub(crate) fn insert(&self, id: ClientId, mut record: ClientRecord) {
        let mut state = self.state.lock();
        record.room = RoomId::LOBBY;
        state.rooms.enter(RoomId::LOBBY);
        state.clients.insert(id, record);
    }

    /// Removes a client and marks it gone, returning its record; `None` if it
    /// was already removed. Whoever gets `Some` announces the departure, which
    /// is how a client is announced as leaving exactly once.
    pub(crate) fn remove(&self, id: ClientId) -> Option<ClientRecord> {
        let mut state = self.state.lock();
        let record = state.clients.remove(&id)?;
        state.rooms.leave(record.room);
        record.meters.gone.store(true, Ordering::Release);
        Some(record)
    }

    /// The socket and meters of a registered client, for the broadcaster to
    /// keep while it writes to that client.
    pub(crate) fn attach(&self, id: ClientId) -> Option<(Arc<TcpStream>, Arc<Meters>)> {
        let state = self.state.lock();
        let record = state.clients.get(&id)?;
        Some((record.stream.clone(), record.meters.clone()))
    }

    /// The meters of a registered client: what the console reads and sets
    /// (its mute) without holding the lock.
    pub(crate) fn meters(&self, id: ClientId) -> Option<Arc<Meters>> {
        let state = self.state.lock();
        state.clients.get(&id).map(|record| record.meters.clone())
    }

    /// The remote address of a registered client.
    pub(crate) fn address(&self, id: ClientId) -> Option<std::net::SocketAddr> {
        self.state.lock().clients.get(&id).map(|record| record.addr)
    }

    /// Every registered socket (for shutdown).
    pub(crate) fn all_streams(&self) -> Vec<Arc<TcpStream>> {
        self.state
            .lock()
            .clients
            .values()
            .map(|c| c.stream.clone())
            .collect()
    }

    /// Renames a client if no other client has the name (ignoring case) or one
    /// that looks like it (the same [`skeleton`]). The check
    /// and the change happen under one lock, so of two clients racing for a
    /// name exactly one wins. Returns the old name.
    ///
    /// # Errors
    /// [`RenameError`] says why the name was not changed.
    pub(crate) fn rename(&self, id: ClientId, new: &str) -> Result<Arc<str>, RenameError> {
        let wanted = skeleton(new);
        let mut state = self.state.lock();
        let others = state.clients.iter().filter(|(&other, _)| other != id);
        for (_, c) in others {
            if c.name.eq_ignore_ascii_case(new) {
                return Err(RenameError::Taken);
            }
            if skeleton(&c.name) == wanted {
                return Err(RenameError::TooClose(c.name.clone()));
            }
        }
        for held in state.held.values() {
            if held.name.eq_ignore_ascii_case(new) {
                return Err(RenameError::Taken);
            }
            if skeleton(&held.name) == wanted {
                return Err(RenameError::TooClose(held.name.clone()));
            }
        }
        let client = state.clients.get_mut(&id).ok_or(RenameError::Gone)?;
        if &*client.name == new {
            return Err(RenameError::Unchanged);
        }
        Ok(std::mem::replace(&mut client.name, Arc::from(new)))
    }

    /// Gives client `id` a session token (the one it has, if it asked before).
    pub(crate) fn start_session(&self, id: ClientId) -> Option<Token> {
        let mut state = self.state.lock();
        let record = state.clients.get_mut(&id)?;
        Some(record.token.get_or_insert_with(Token::new).clone())
    }

    /// Client `id` (a new connection) takes back the session `token`: the
    /// held session of a client that went, or the session of a connection
    /// the server still thinks alive (which is removed, and marked gone).
    /// It gets the session's name and room. `None` if no session has it.
    pub(crate) fn resume(&self, id: ClientId, token: &Token) -> Option<Resumed> {
        let mut state = self.state.lock();
        let State {
            clients,
            rooms,
            held,
        } = &mut *state;
        // The new connection first: if it is gone already (it broke as it
        // resumed), the session stays as it was, held or live.
        if !clients.contains_key(&id) {
            return None;
        }
        let (name, room, replaced, muted_until) = if let Some(session) = held.remove(token) {
            let muted_until = session.muted_until;
            (
                session.name,
                session.room,
                Replaced::Held(session.id),
                muted_until,
            )
        } else {
            let old = clients
                .iter()
                .find(|(&other, c)| other != id && c.token.as_ref() == Some(token))
                .map(|(&other, _)| other)?;
            let record = clients.remove(&old)?;
            // Kept (as if held) until the new connection is in it.
            rooms.hold(record.room);
            rooms.leave(record.room);
            record.meters.gone.store(true, Ordering::Release);
            let muted_until = record.meters.mute.until();
            (record.name, record.room, Replaced::Live(old), muted_until)
        };
        let record = clients.get_mut(&id)?;
        rooms.leave(record.room);
        // In before the hold is let go, or an empty room would go.
        rooms.enter(room);
        rooms.release(room);
        record.room = room;
        record.name = name.clone();
        record.token = Some(token.clone());
        if muted_until != 0 {
            record.meters.mute.set(muted_until);
        }
        Some(Resumed {
            room_name: rooms.name(room).unwrap_or_else(|| Arc::from("?")),
            name,
            room,
            replaced,
        })
    }

    /// Removes a client whose connection ended without a goodbye. If it has
    /// a session, the session is held until `until` (its name stays taken,
    /// its room open) and `true` comes back with the record; otherwise this
    /// is [`Registry::remove`].
    pub(crate) fn hold(
        &self,
        id: ClientId,
        reason: Option<String>,
        until: Instant,
    ) -> Option<(ClientRecord, bool)> {
        let mut state = self.state.lock();
        let record = state.clients.remove(&id)?;
        record.meters.gone.store(true, Ordering::Release);
        if record.token.is_some() {
            // Held before it leaves, or a room it empties would go.
            state.rooms.hold(record.room);
        }
        state.rooms.leave(record.room);
        let Some(token) = record.token.clone() else {
            return Some((record, false));
        };
        let session = Held {
            id,
            name: record.name.clone(),
            room: record.room,
            reason,
            until,
            muted_until: record.meters.mute.until(),
        };
        state.held.insert(token, session);
        Some((record, true))
    }

    /// Holds a session of a previous run of the server (from its
    /// transcript), in the room called `room`, made if needed.
    pub(crate) fn hold_restored(
        &self,
        id: ClientId,
        token: Token,
        name: &str,
        room: &str,
        until: Instant,
    ) -> RoomId {
        let mut state = self.state.lock();
        let (room, _) = state.rooms.find_or_create(room);
        state.rooms.hold(room);
        let session = Held {
            id,
            name: Arc::from(name),
            room,
            reason: None,
            until,
            muted_until: 0,
        };
        state.held.insert(token, session);
        room
    }

    /// Forgets the held sessions that ran out by `now`, returning them: the
    /// room is told they left.
    pub(crate) fn expire(&self, now: Instant) -> Vec<Held> {
        let mut state = self.state.lock();
        let expired: Vec<Token> = state
            .held
            .iter()
            .filter(|(_, session)| session.until <= now)
            .map(|(token, _)| token.clone())
            .collect();
        let mut out = Vec::with_capacity(expired.len());
        for token in expired {
            if let Some(session) = state.held.remove(&token) {
                state.rooms.release(session.room);
                out.push(session);
            }
        }
        out
    }

    /// When the next held session runs out, if any is held.
    pub(crate) fn next_expiry(&self) -> Option<Instant> {
        self.state.lock().held.values().map(|s| s.until).min()
    }

    /// Finds a client by name, ignoring case (names are unique that way).
    pub(crate) fn find(&self, name: &str) -> Option<(ClientId, Arc<str>)> {
        self.state
            .lock()
            .clients
            .iter()
            .find(|(_, c)| c.name.eq_ignore_ascii_case(name))
            .map(|(&id, c)| (id, c.name.clone()))
    }

    /// The names of everyone in the room of client `id`, in the order they
    /// joined (the answer to `/who`).
    pub(crate) fn names_in_room_of(&self, id: ClientId) -> Vec<Arc<str>> {
        let state = self.state.lock();
        let Some(room) = state.clients.get(&id).map(|c| c.room) else {
            return Vec::new();
        };
        let mut named: Vec<(ClientId, Arc<str>)> = state
            .clients
            .iter()
            .filter(|(_, c)| c.room == room)
            .map(|(&id, c)| (id, c.name.clone()))
            .collect();
        named.sort_unstable_by_key(|(id, _)| *id);
        named.into_iter().map(|(_, name)| name).collect()
    }

    /// Moves client `id` to the room called `room` (ignoring case), creating
    /// it if needed. Under the one lock, so a line the client sent before
    /// the move was relayed to the old room and one after it goes to the new.
    ///
    /// # Errors
    /// [`JoinError`]: already there, or no longer registered.
    pub(crate) fn join(&self, id: ClientId, room: &str) -> Result<Moved, JoinError> {
        let mut state = self.state.lock();
        let State { clients, rooms, .. } = &mut *state;
        let record = clients.get_mut(&id).ok_or(JoinError::Gone)?;
        if let Some((current, name)) = rooms.find(room) {
            if current == record.room {
                return Err(JoinError::Already(name));
            }
        }
        let (to, to_name) = rooms.find_or_create(room);
        let from = record.room;
        rooms.enter(to);
        rooms.leave(from);
        record.room = to;
        Ok(Moved {
            name: record.name.clone(),
            from,
            to,
            to_name,
        })
    }

    /// Every room with its member count, the lobby first (for `/rooms`).
    pub(crate) fn rooms(&self) -> Vec<(Arc<str>, usize)> {
        self.state.lock().rooms.list()
    }

    /// A copy of every record's public state, in the order clients joined,
    /// taken under one lock: what the console's `who` and the dashboard show.
    pub(crate) fn snapshot(&self) -> Vec<ClientView> {
        let state = self.state.lock();
        let mut views: Vec<ClientView> = state
            .clients
            .iter()
            .map(|(&id, c)| ClientView {
                id,
                addr: c.addr,
                name: c.name.clone(),
                since: c.since,
                meters: c.meters.clone(),
                room: state.rooms.name(c.room).unwrap_or_else(|| Arc::from("?")),
            })
            .collect();
        drop(state);
        views.sort_unstable_by_key(|v| v.id);
        views
    }

    /// How many clients are registered.
    pub(crate) fn len(&self) -> usize {
        self.state.lock().clients.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;
    use std::time::Instant;

    fn record(name: &str) -> ClientRecord {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        let stream = TcpStream::connect(listener.local_addr().expect("local addr"))
            .expect("connect loopback");
        ClientRecord {
            addr: stream.local_addr().expect("local addr"),
            since: Instant::now(),
            name: Arc::from(name),
            stream: Arc::new(stream),
            meters: Arc::default(),
            room: RoomId::LOBBY,
            token: None,
        }
    }

    fn registry(names: &[&str]) -> Registry {
        let registry = Registry::default();
        for (i, name) in names.iter().enumerate() {
            registry.insert(ClientId(i as u64 + 1), record(name));
        }
        registry
    }

    #[test]
    fn rename_rules() {
        let registry = registry(&["ann", "1.2.3.4:5"]);
        assert_eq!(registry.rename(ClientId(2), "ANN"), Err(RenameError::Taken));
        assert_eq!(
            registry.rename(ClientId(1), "ann"),
            Err(RenameError::Unchanged)
        );
        assert_eq!(registry.rename(ClientId(1), "Ann").as_deref(), Ok("ann"));
        assert_eq!(registry.rename(ClientId(9), "zed"), Err(RenameError::Gone));
        assert_eq!(
            registry.rename(ClientId(2), "AnN"),
            Err(RenameError::Taken),
            "taken, not merely close"
        );
        assert_eq!(
            registry.rename(ClientId(2), "Arn"),
            Ok(Arc::from("1.2.3.4:5"))
        );
        assert_eq!(
            registry.rename(ClientId(1), "Am"),
            Err(RenameError::TooClose(Arc::from("Arn")))
        );
        assert_eq!(registry.find("aNN").map(|(id, _)| id), Some(ClientId(1)));
    }

    #[test]
    fn names_in_join_order_and_removal_once() {
        let registry = registry(&["c", "a", "b"]);
        let names: Vec<String> = registry
            .names_in_room_of(ClientId(1))
            .iter()
            .map(|n| n.to_string())
            .collect();
        assert_eq!(names, ["c", "a", "b"]);
        let snapshot: Vec<String> = registry
            .snapshot()
            .iter()
            .map(|v| v.name.to_string())
            .collect();
        assert_eq!(snapshot, names, "a snapshot is in join order too");
        let (_, meters) = registry.attach(ClientId(2)).expect("registered");
        assert!(!meters.gone.load(Ordering::Acquire));
        assert!(registry.remove(ClientId(2)).is_some());
        assert!(
            meters.gone.load(Ordering::Acquire),
            "removal marks the client gone"
        );
        assert!(
            registry.remove(ClientId(2)).is_none(),
            "removed exactly once"
        );
        assert!(registry.attach(ClientId(2)).is_none());
        assert_eq!(registry.len(), 2);
    }

    #[test]
    fn joining_rooms_moves_members_and_counts() {
        let registry = registry(&["a", "b", "c"]);
        let moved = registry.join(ClientId(2), "Lab").expect("moved");
        assert_eq!((moved.from, &*moved.to_name), (RoomId::LOBBY, "Lab"));
        assert_eq!(
            registry.join(ClientId(2), "LAB"),
            Err(JoinError::Already(Arc::from("Lab")))
        );
        registry.join(ClientId(3), "lab").expect("moved");
        let in_lab: Vec<String> = registry
            .names_in_room_of(ClientId(3))
            .iter()
            .map(|n| n.to_string())
            .collect();
        assert_eq!(in_lab, ["b", "c"]);
        let rooms: Vec<(String, usize)> = registry
            .rooms()
            .into_iter()
            .map(|(n, c)| (n.to_string(), c))
            .collect();
        assert_eq!(rooms, [("lobby".into(), 1), ("Lab".into(), 2)]);
        registry.remove(ClientId(2));
        registry.join(ClientId(3), "lobby").expect("moved back");
        assert_eq!(registry.rooms().len(), 1, "the empty room is gone");
        assert_eq!(registry.join(ClientId(9), "x"), Err(JoinError::Gone));
    }

    #[test]
    fn a_held_session_keeps_its_name_and_room_until_it_comes_back_or_runs_out() {
        let registry = registry(&["ann", "bob"]);
        registry.join(ClientId(1), "lab").expect("moved");
        let token = registry.start_session(ClientId(1)).expect("registered");
        assert_eq!(
            registry.start_session(ClientId(1)),
            Some(token.clone()),
            "the same"
        );
        let later = Instant::now() + std::time::Duration::from_secs(60);
        let (_, held) = registry
            .hold(ClientId(1), Some("connection reset".into()), later)
            .expect("registered");
        assert!(held);
        assert_eq!(registry.rename(ClientId(2), "ANN"), Err(RenameError::Taken));
        assert!(
            registry.rooms().iter().any(|(name, _)| &**name == "lab"),
            "kept"
        );
        assert!(registry.find("ann").is_none(), "not connected");
        // A connection that is gone by the time its resume is handled takes
        // nothing: the session stays held.
        assert!(registry.resume(ClientId(7), &token).is_none());
        assert_eq!(registry.rename(ClientId(2), "ann"), Err(RenameError::Taken));
        // A new connection takes it back.
        registry.insert(ClientId(3), record("127.0.0.1:9"));
        let resumed = registry.resume(ClientId(3), &token).expect("held");
        assert_eq!((&*resumed.name, &*resumed.room_name), ("ann", "lab"));
        assert!(matches!(resumed.replaced, Replaced::Held(ClientId(1))));
        assert_eq!(registry.find("ann").map(|(id, _)| id), Some(ClientId(3)));
        // Held again, it runs out.
        registry.hold(ClientId(3), None, Instant::now());
        assert_eq!(
            registry.next_expiry().map(|at| at <= Instant::now()),
            Some(true)
        );
        let expired = registry.expire(Instant::now());
        assert_eq!(expired.len(), 1);
        assert_eq!(expired[0].id, ClientId(3));
        assert!(registry.resume(ClientId(2), &token).is_none(), "gone");
        assert_eq!(registry.rename(ClientId(2), "ann").map(|_| ()), Ok(()));
        assert!(!registry.rooms().iter().any(|(name, _)| &**name == "lab"));
    }

    #[test]
    fn a_client_without_a_session_is_removed_not_held() {
        let registry = registry(&["ann"]);
        let (_, held) = registry
            .hold(
                ClientId(1),
                None,
                Instant::now() + std::time::Duration::from_secs(60),
            )
            .expect("registered");
        assert!(!held);
        assert_eq!(registry.next_expiry(), None);
    }
}
