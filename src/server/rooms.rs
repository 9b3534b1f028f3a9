//! The rooms of one server: the lobby, which always exists, and the rooms
//! `/join` creates, in the order they were created, each with its member
//! count. Pure data; the registry keeps it under the same lock as the
//! clients, so a client's room and its name change in one step.

use std::sync::Arc;

/// A room's identity. A room that empties and is created again by name is a
/// new room, with a new id (and an empty history).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct RoomId(pub(crate) u64);

impl RoomId {
    /// The lobby, where every client starts.
    pub(crate) const LOBBY: RoomId = RoomId(0);
}

/// The lobby's name.
pub(crate) const LOBBY_NAME: &str = "lobby";

#[derive(Debug)]
struct Room {
    id: RoomId,
    /// As first written.
    name: Arc<str>,
    members: usize,
    /// Sessions held for clients that may come back to it: it stays while
    /// there are any, so they come back to the room they left.
    holds: usize,
}

/// Every room, the lobby first.
#[derive(Debug)]
pub(crate) struct Rooms {
    rooms: Vec<Room>,
    next_id: u64,
}

impl Default for Rooms {
    fn default() -> Self {
        Rooms {
            rooms: vec![Room {
                id: RoomId::LOBBY,
                name: Arc::from(LOBBY_NAME),
                members: 0,
                holds: 0,
            }],
            next_id: 1,
        }
    }
}

impl Rooms {
    /// The room called `name`, ignoring case, if it exists.
    pub(crate) fn find(&self, name: &str) -> Option<(RoomId, Arc<str>)> {
        self.rooms
            .iter()
            .find(|room| room.name.eq_ignore_ascii_case(name))
            .map(|room| (room.id, room.name.clone()))
    }

    /// The room called `name` (ignoring case), created empty if it does not
    /// exist; a new room keeps `name` as written.
    pub(crate) fn find_or_create(&mut self, name: &str) -> (RoomId, Arc<str>) {
        if let Some(found) = self.find(name) {
            return found;
        }
        let id = RoomId(self.next_id);
        self.next_id += 1;
        let name: Arc<str> = Arc::from(name);
        self.rooms.push(Room {
            id,
            name: name.clone(),
            members: 0,
            holds: 0,
        });
        (id, name)
    }

    /// A room's name, if it exists.
    pub(crate) fn name(&self, id: RoomId) -> Option<Arc<str>> {
        self.rooms
            .iter()
            .find(|room| room.id == id)
            .map(|room| room.name.clone())
    }

    /// Counts one more member in `id`.
    pub(crate) fn enter(&mut self, id: RoomId) {
        if let Some(room) = self.rooms.iter_mut().find(|room| room.id == id) {
            room.members += 1;
        }
    }

    /// Counts one member less in `id`; a room other than the lobby that
    /// empties (and holds no session) disappears.
    pub(crate) fn leave(&mut self, id: RoomId) {
        self.change(id, |room| room.members = room.members.saturating_sub(1));
    }

    /// Keeps `id` for a held session.
    pub(crate) fn hold(&mut self, id: RoomId) {
        self.change(id, |room| room.holds += 1);
    }

    /// A held session of `id` came back or ran out; a room left with no
    /// member and no hold disappears.
    pub(crate) fn release(&mut self, id: RoomId) {
        self.change(id, |room| room.holds = room.holds.saturating_sub(1));
    }

    fn change(&mut self, id: RoomId, change: impl FnOnce(&mut Room)) {
        if let Some(index) = self.rooms.iter().position(|room| room.id == id) {
            let room = &mut self.rooms[index];
            change(room);
            if room.members == 0 && room.holds == 0 && room.id != RoomId::LOBBY {
                self.rooms.remove(index);
            }
        }
    }

    /// Every room with its member count, the lobby first, then in the order
    /// they were created.
    pub(crate) fn list(&self) -> Vec<(Arc<str>, usize)> {
        self.rooms
            .iter()
            .map(|room| (room.name.clone(), room.members))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rooms_come_and_go_but_the_lobby_stays() {
        let mut rooms = Rooms::default();
        rooms.enter(RoomId::LOBBY);
        let (lab, name) = rooms.find_or_create("Lab1");
        assert_eq!(&*name, "Lab1");
        assert_eq!(rooms.find_or_create("LAB1"), (lab, Arc::from("Lab1")));
        rooms.enter(lab);
        rooms.enter(lab);
        let (other, _) = rooms.find_or_create("other");
        rooms.enter(other);
        let list: Vec<(String, usize)> = rooms
            .list()
            .into_iter()
            .map(|(n, c)| (n.to_string(), c))
            .collect();
        assert_eq!(
            list,
            [("lobby".into(), 1), ("Lab1".into(), 2), ("other".into(), 1)]
        );
        rooms.leave(lab);
        rooms.leave(lab);
        assert!(rooms.find("lab1").is_none(), "an empty room disappears");
        rooms.leave(RoomId::LOBBY);
        assert!(rooms.find("lobby").is_some(), "the lobby never does");
        let (again, _) = rooms.find_or_create("lab1");
        assert_ne!(again, lab, "a room made again is a new room");
        rooms.enter(again);
        rooms.hold(again);
        rooms.leave(again);
        assert!(rooms.find("lab1").is_some(), "kept for a held session");
        rooms.release(again);
        assert!(rooms.find("lab1").is_none());
    }
}
