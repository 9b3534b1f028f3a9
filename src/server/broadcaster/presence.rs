//! Who the others are told about, and how: a client is announced once (`*
//! NAME joined`), its departure is told only if its arrival was, and a
//! newcomer's welcome counts only the announced, so the count and the join
//! notices that follow agree. The crowd rule: in a room of more than
//! `--crowd` members, joins and leaves are counted and told at most once a
//! second, as `* 37 joined, 5 left (1234 here)`, since in a lecture hall of
//! 3000 every join told to everyone would cost nine million lines. Pure:
//! told the time and the room's size, it decides.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use crate::protocol::lines;
use crate::server::client::ClientId;
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

/// The announced clients, and the tallies of crowded rooms.
#[derive(Debug)]
pub(super) struct Presence {
    announced: HashSet<ClientId>,
    tallies: HashMap<RoomId, Tally>,
    /// Rooms of more members than this are crowded; `usize::MAX` never.
    crowd: usize,
}

impl Presence {
    /// Nobody announced yet; rooms of more than `crowd` members are crowded.
    pub(super) fn new(crowd: usize) -> Presence {
        Presence {
            announced: HashSet::new(),
            tallies: HashMap::new(),
            crowd,
        }
    }

    /// How many the others have been told about: a newcomer's count.
    pub(super) fn others(&self) -> usize {
        self.announced.len()
    }

    /// `id` is announced in `room`, which now has `members`: how it is told,
    /// or `None` if it was announced already.
    pub(super) fn joined(
        &mut self,
        id: ClientId,
        room: RoomId,
        members: usize,
        now: Instant,
    ) -> Option<Say> {
        if !self.announced.insert(id) {
            return None;
        }
        Some(self.arrived(room, members, now))
    }

    /// `id` left `room`, which now has `members`: how it is told, or
    /// `None` if its arrival never was (then its departure is not either).
    pub(super) fn left(
        &mut self,
        id: ClientId,
        room: RoomId,
        members: usize,
        now: Instant,
    ) -> Option<Say> {
        if !self.announced.remove(&id) {
            return None;
        }
        Some(self.departed(room, members, now))
    }

    /// An announced client went from one room to another: how its leaving
    /// `from` (now `from_members`) and its joining `to` (now `to_members`)
    /// are told; `None` for a client never announced.
    pub(super) fn moved(
        &mut self,
        id: ClientId,
        (from, from_members): (RoomId, usize),
        (to, to_members): (RoomId, usize),
        now: Instant,
    ) -> Option<(Say, Say)> {
        if !self.announced.contains(&id) {
            return None;
        }
        let left = self.departed(from, from_members, now);
        Some((left, self.arrived(to, to_members, now)))
    }

    /// The room knows a client under a new id (it took its session back on
    /// a new connection): what was told of `old` holds for `new`.
    pub(super) fn transfer(&mut self, old: ClientId, new: ClientId) {
        if self.announced.remove(&old) {
            self.announced.insert(new);
        }
    }

    /// Takes `id` as announced without telling anyone: a client held by a
    /// previous run of the server, which the room knew.
    pub(super) fn known(&mut self, id: ClientId) {
        self.announced.insert(id);
    }

    /// Forgets `id` without telling anyone (at shutdown).
    pub(super) fn forget(&mut self, id: ClientId) {
        self.announced.remove(&id);
    }

    fn arrived(&mut self, room: RoomId, members: usize, now: Instant) -> Say {
        let crowded = members > self.crowd;
        self.tally(room, now, crowded, |tally| tally.joined += 1)
    }

    fn departed(&mut self, room: RoomId, members: usize, now: Instant) -> Say {
        // The member who just left still counted toward the crowd.
        let crowded = members + 1 > self.crowd;
        if members == 0 {
            self.tallies.remove(&room);
            return Say::Now;
        }
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

    /// The summaries due by `now`, each with its room, `members` telling a
    /// room's size. A room that is no longer crowded goes back to the usual
    /// lines afterwards.
    pub(super) fn due(
        &mut self,
        now: Instant,
        members: impl Fn(RoomId) -> usize,
    ) -> Vec<(RoomId, Vec<u8>)> {
        let due: Vec<RoomId> = self
            .tallies
            .iter()
            .filter(|(_, t)| t.due <= now)
            .map(|(&room, _)| room)
            .collect();
        let mut out = Vec::with_capacity(due.len());
        for room in due {
            if let Some(tally) = self.tallies.remove(&room) {
                out.push((room, lines::crowd(tally.joined, tally.left, members(room))));
            }
        }
        out.sort_unstable_by_key(|(room, ..)| *room);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOBBY: RoomId = RoomId::LOBBY;

    #[test]
    fn a_small_room_hears_every_join_at_once_and_each_only_once() {
        let mut presence = Presence::new(3);
        let now = Instant::now();
        for i in 1..=3 {
            assert_eq!(presence.others(), i as usize - 1, "the welcome's count");
            assert_eq!(
                presence.joined(ClientId(i), LOBBY, i as usize, now),
                Some(Say::Now)
            );
        }
        assert_eq!(presence.joined(ClientId(1), LOBBY, 3, now), None, "once");
        assert_eq!(presence.next_due(), None);
    }

    #[test]
    fn a_departure_is_told_only_after_an_arrival() {
        let mut presence = Presence::new(3);
        let now = Instant::now();
        assert_eq!(presence.left(ClientId(9), LOBBY, 0, now), None);
        presence.joined(ClientId(9), LOBBY, 2, now);
        assert_eq!(presence.left(ClientId(9), LOBBY, 1, now), Some(Say::Now));
        assert_eq!(presence.others(), 0);
    }

    #[test]
    fn a_crowded_room_hears_a_summary_once_a_second() {
        let mut presence = Presence::new(3);
        let start = Instant::now();
        for i in 1..=10 {
            let said = presence.joined(ClientId(i), LOBBY, i as usize, start);
            assert_eq!(said == Some(Say::Now), i <= 3, "join {i}");
        }
        assert_eq!(
            presence.left(ClientId(1), LOBBY, 9, start),
            Some(Say::Later)
        );
        assert!(presence.due(start, |_| 9).is_empty(), "not yet");
        assert_eq!(presence.next_due(), Some(start + CROWD_EVERY));
        assert_eq!(
            presence.due(start + CROWD_EVERY, |_| 9),
            [(LOBBY, b"* 7 joined, 1 left (9 here)\n".to_vec())]
        );
        // Still crowded: the next change waits for the next summary.
        let later = start + CROWD_EVERY;
        assert_eq!(
            presence.left(ClientId(2), LOBBY, 8, later),
            Some(Say::Later)
        );
    }

    #[test]
    fn moves_of_the_unannounced_are_not_told() {
        let mut presence = Presence::new(3);
        let now = Instant::now();
        let lab = RoomId(4);
        assert_eq!(presence.moved(ClientId(1), (LOBBY, 0), (lab, 1), now), None);
        presence.joined(ClientId(1), LOBBY, 1, now);
        assert_eq!(
            presence.moved(ClientId(1), (LOBBY, 0), (lab, 1), now),
            Some((Say::Now, Say::Now))
        );
    }
}
