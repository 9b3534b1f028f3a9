//! Who is in which room, as the broadcaster sees it (in the order of its
//! events), and the crowd rule: in a room of more than `--crowd` members,
//! joins and leaves are counted and told at most once a second, as
//! `* 37 joined, 5 left (1234 here)`. Pure: told the time, it decides.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use crate::server::registry::ClientId;
use crate::server::rooms::RoomId;

/// How often a crowded room hears about its comings and goings.
pub(super) const CROWD_EVERY: Duration = Duration::from_secs(1);

/// Joins and leaves in a crowded room, not yet told.
#[derive(Debug)]
struct Tally {
    joined: usize,
    left: usize,
    /// When to tell them.
    due: Instant,
}

/// What to say about a join or a leave.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Say {
    /// The usual line, now.
    Now,
    /// Nothing now: it is counted for the room's next summary.
    Later,
}

/// The members of every room, and the tallies of crowded rooms.
#[derive(Debug)]
pub(super) struct Members {
    rooms: HashMap<RoomId, HashSet<ClientId>>,
    tallies: HashMap<RoomId, Tally>,
    /// Rooms of more members than this are crowded; `usize::MAX` never.
    crowd: usize,
    /// Members of every room together.
    total: usize,
}

impl Members {
    /// No members yet; rooms of more than `crowd` members are crowded.
    pub(super) fn new(crowd: usize) -> Members {
        Members {
            rooms: HashMap::new(),
            tallies: HashMap::new(),
            crowd,
            total: 0,
        }
    }

    /// The members of `room`.
    pub(super) fn of(&self, room: RoomId) -> impl Iterator<Item = ClientId> + '_ {
        self.rooms.get(&room).into_iter().flatten().copied()
    }

    /// How many are in `room`.
    pub(super) fn count(&self, room: RoomId) -> usize {
        self.rooms.get(&room).map_or(0, HashSet::len)
    }

    /// How many are in all rooms together.
    pub(super) fn total(&self) -> usize {
        self.total
    }

    /// Puts `id` in `room`.
    pub(super) fn enter(&mut self, id: ClientId, room: RoomId) {
        if self.rooms.entry(room).or_default().insert(id) {
            self.total += 1;
        }
    }

    /// Takes `id` out of `room`. A room left empty is forgotten; true then.
    pub(super) fn leave(&mut self, id: ClientId, room: RoomId) -> bool {
        let Some(members) = self.rooms.get_mut(&room) else {
            return false;
        };
        if members.remove(&id) {
            self.total -= 1;
        }
        if members.is_empty() {
            self.rooms.remove(&room);
            self.tallies.remove(&room);
            return true;
        }
        false
    }

    /// Decides how a join to `room` (already entered) is told.
    pub(super) fn joined(&mut self, room: RoomId, now: Instant) -> Say {
        let crowded = self.count(room) > self.crowd;
        self.tally(room, now, crowded, |tally| tally.joined += 1)
    }

    /// Decides how a leave from `room` (already left) is told.
    pub(super) fn left(&mut self, room: RoomId, now: Instant) -> Say {
        // The member who just left still counted toward the crowd.
        let crowded = self.count(room) + 1 > self.crowd;
        self.tally(room, now, crowded, |tally| tally.left += 1)
    }

    /// A change in a crowded room, or in one with a summary already waiting
    /// (so the order of what the room hears stays the order things happened),
    /// is counted for the summary; any other is told now.
    fn tally(
        &mut self,
        room: RoomId,
        now: Instant,
        crowded: bool,
        count: impl FnOnce(&mut Tally),
    ) -> Say {
        if !crowded && !self.tallies.contains_key(&room) {
            return Say::Now;
        }
        let tally = self.tallies.entry(room).or_insert(Tally {
            joined: 0,
            left: 0,
            due: now + CROWD_EVERY,
        });
        count(tally);
        Say::Later
    }

    /// When the next summary is due, if any is waiting.
    pub(super) fn next_due(&self) -> Option<Instant> {
        self.tallies.values().map(|t| t.due).min()
    }

    /// The summaries due by `now`: (room, joined, left, members now). A room
    /// that is no longer crowded goes back to the usual lines afterwards.
    pub(super) fn due(&mut self, now: Instant) -> Vec<(RoomId, usize, usize, usize)> {
        let due: Vec<RoomId> = self
            .tallies
            .iter()
            .filter(|(_, t)| t.due <= now)
            .map(|(&room, _)| room)
            .collect();
        let mut out = Vec::with_capacity(due.len());
        for room in due {
            if let Some(tally) = self.tallies.remove(&room) {
                out.push((room, tally.joined, tally.left, self.count(room)));
            }
        }
        out.sort_unstable_by_key(|(room, ..)| *room);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_small_room_hears_every_join_at_once() {
        let mut members = Members::new(3);
        let now = Instant::now();
        for i in 0..3 {
            members.enter(ClientId(i), RoomId::LOBBY);
            assert_eq!(members.joined(RoomId::LOBBY, now), Say::Now);
        }
        assert_eq!(members.next_due(), None);
    }

    #[test]
    fn a_crowded_room_hears_a_summary_once_a_second() {
        let mut members = Members::new(3);
        let start = Instant::now();
        for i in 0..10 {
            members.enter(ClientId(i), RoomId::LOBBY);
            let said = members.joined(RoomId::LOBBY, start);
            assert_eq!(said == Say::Now, i < 3, "join {i}");
        }
        members.leave(ClientId(0), RoomId::LOBBY);
        assert_eq!(members.left(RoomId::LOBBY, start), Say::Later);
        assert!(members.due(start).is_empty(), "not yet");
        assert_eq!(members.next_due(), Some(start + CROWD_EVERY));
        assert_eq!(members.due(start + CROWD_EVERY), [(RoomId::LOBBY, 7, 1, 9)]);
        // Still crowded: the next change waits for the next summary.
        members.leave(ClientId(1), RoomId::LOBBY);
        assert_eq!(members.left(RoomId::LOBBY, start + CROWD_EVERY), Say::Later);
    }

    #[test]
    fn empty_rooms_are_forgotten() {
        let mut members = Members::new(100);
        let lab = RoomId(3);
        members.enter(ClientId(1), lab);
        assert!(!members.leave(ClientId(2), lab));
        assert_eq!(members.total(), 1);
        assert!(members.leave(ClientId(1), lab));
        assert_eq!(members.count(lab), 0);
        assert_eq!(members.total(), 0);
    }
}
