//! The crowd rule: in a room of more than `--crowd` members, joins and
//! leaves are counted and told at most once a second, as
//! `* 37 joined, 5 left (1234 here)`, since in a lecture hall of 3000
//! every join told to everyone would cost nine million lines. Pure: told
//! the time and the room's size, it decides.

use std::collections::HashMap;
use std::time::{Duration, Instant};

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

/// The tallies of crowded rooms.
#[derive(Debug)]
pub(super) struct Crowds {
    tallies: HashMap<RoomId, Tally>,
    /// Rooms of more members than this are crowded; `usize::MAX` never.
    crowd: usize,
}

impl Crowds {
    /// No tallies yet; rooms of more than `crowd` members are crowded.
    pub(super) fn new(crowd: usize) -> Crowds {
        Crowds {
            tallies: HashMap::new(),
            crowd,
        }
    }

    /// Forgets a room that emptied.
    pub(super) fn forget(&mut self, room: RoomId) {
        self.tallies.remove(&room);
    }

    /// Decides how a join to `room`, which now has `members`, is told.
    pub(super) fn joined(&mut self, room: RoomId, members: usize, now: Instant) -> Say {
        let crowded = members > self.crowd;
        self.tally(room, now, crowded, |tally| tally.joined += 1)
    }

    /// Decides how a leave from `room`, which now has `members`, is told.
    pub(super) fn left(&mut self, room: RoomId, members: usize, now: Instant) -> Say {
        // The member who just left still counted toward the crowd.
        let crowded = members + 1 > self.crowd;
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

    /// The summaries due by `now`: (room, joined, left, members now), with
    /// `members` telling a room's size. A room that is no longer crowded
    /// goes back to the usual lines afterwards.
    pub(super) fn due(
        &mut self,
        now: Instant,
        members: impl Fn(RoomId) -> usize,
    ) -> Vec<(RoomId, usize, usize, usize)> {
        let due: Vec<RoomId> = self
            .tallies
            .iter()
            .filter(|(_, t)| t.due <= now)
            .map(|(&room, _)| room)
            .collect();
        let mut out = Vec::with_capacity(due.len());
        for room in due {
            if let Some(tally) = self.tallies.remove(&room) {
                out.push((room, tally.joined, tally.left, members(room)));
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
        let mut crowds = Crowds::new(3);
        let now = Instant::now();
        for members in 1..=3 {
            assert_eq!(crowds.joined(RoomId::LOBBY, members, now), Say::Now);
        }
        assert_eq!(crowds.next_due(), None);
    }

    #[test]
    fn a_crowded_room_hears_a_summary_once_a_second() {
        let mut crowds = Crowds::new(3);
        let start = Instant::now();
        for members in 1..=10 {
            let said = crowds.joined(RoomId::LOBBY, members, start);
            assert_eq!(said == Say::Now, members <= 3, "join {members}");
        }
        assert_eq!(crowds.left(RoomId::LOBBY, 9, start), Say::Later);
        assert!(crowds.due(start, |_| 9).is_empty(), "not yet");
        assert_eq!(crowds.next_due(), Some(start + CROWD_EVERY));
        assert_eq!(
            crowds.due(start + CROWD_EVERY, |_| 9),
            [(RoomId::LOBBY, 7, 1, 9)]
        );
        // Still crowded: the next change waits for the next summary.
        assert_eq!(
            crowds.left(RoomId::LOBBY, 8, start + CROWD_EVERY),
            Say::Later
        );
    }

    #[test]
    fn a_room_that_empties_is_forgotten() {
        let mut crowds = Crowds::new(1);
        let lab = RoomId(3);
        let now = Instant::now();
        assert_eq!(crowds.joined(lab, 2, now), Say::Later);
        crowds.forget(lab);
        assert_eq!(crowds.next_due(), None);
    }
}
