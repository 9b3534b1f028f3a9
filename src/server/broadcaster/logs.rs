//! Every room as the fan-out keeps it: its log, its members, and the
//! clients that left it but still have some of its log to get. It owns the
//! memory bound: each log holds at most `--room-log-bytes`, all of them
//! together at most `--logs-bytes` (the biggest logs forget first), and a
//! room nobody is in and nobody still reads is dropped with its log, except
//! the lobby, whose log is kept within its cap. Numbers every room line
//! server-wide, so a line's number says which room and where.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use super::roomlog::{Kind, RoomLog};
use crate::server::client::ClientId;
use crate::server::rooms::{RoomId, LOBBY_NAME};

/// One room.
#[derive(Debug, Default)]
pub(super) struct Room {
    /// Its name, for the records.
    pub(super) name: Arc<str>,
    /// What it heard.
    pub(super) log: RoomLog,
    /// Its members, in the order they joined (ids grow), which is the order
    /// they are written to: the same on every batch keeps the readers at the
    /// other end in step (measured: random order cost the 5000-client
    /// scenario D a fifth of its throughput).
    pub(super) members: BTreeSet<ClientId>,
    /// Clients that have left it but still have bytes of its log to get.
    leavers: usize,
    /// The head when its members were last written to: a member standing
    /// here with nothing of its own waiting shares the common view.
    pub(super) flushed: u64,
}

/// Every room, and what their logs hold.
#[derive(Debug)]
pub(super) struct Logs {
    rooms: HashMap<RoomId, Room>,
    /// Most bytes one log holds, and all of them together.
    room_cap: usize,
    all_cap: usize,
    /// Bytes all the logs hold.
    held: usize,
    /// The server-wide number of the next room line.
    next_seq: u64,
    /// Rooms with bytes appended since they were last flushed.
    dirty: Vec<RoomId>,
}

impl Logs {
    /// No rooms yet; logs of at most `room_cap` bytes, `all_cap` in all.
    pub(super) fn new(room_cap: usize, all_cap: usize) -> Logs {
        Logs {
            rooms: HashMap::new(),
            room_cap,
            all_cap: all_cap.max(room_cap),
            held: 0,
            next_seq: 1,
            dirty: Vec::new(),
        }
    }

    /// A room, if it exists.
    pub(super) fn get(&self, room: RoomId) -> Option<&Room> {
        self.rooms.get(&room)
    }

    /// A room, made (empty, called `name`) if it does not exist.
    pub(super) fn open(&mut self, room: RoomId, name: &Arc<str>) -> &mut Room {
        self.rooms.entry(room).or_insert_with(|| Room {
            name: name.clone(),
            ..Room::default()
        })
    }

    /// The lobby, made if needed.
    pub(super) fn lobby(&mut self) -> &mut Room {
        self.open(RoomId::LOBBY, &Arc::from(LOBBY_NAME))
    }

    /// How many are in `room`.
    pub(super) fn count(&self, room: RoomId) -> usize {
        self.rooms.get(&room).map_or(0, |room| room.members.len())
    }

    /// The name of a room that exists.
    pub(super) fn name(&self, room: RoomId) -> Option<Arc<str>> {
        self.rooms.get(&room).map(|room| room.name.clone())
    }

    /// Appends lines to `room`'s log, not for `except`. Returns the
    /// server-wide number of the first line, if the room exists.
    pub(super) fn append(
        &mut self,
        room: RoomId,
        bytes: &[u8],
        lines: u32,
        except: Option<ClientId>,
        kind: Kind,
    ) -> Option<u64> {
        let target = self.rooms.get_mut(&room)?;
        let seq = self.next_seq;
        self.next_seq += u64::from(lines);
        target.log.append(bytes, lines, seq, except, kind);
        self.held += bytes.len();
        self.held -= target.log.trim_to(self.room_cap);
        if !self.dirty.contains(&room) {
            self.dirty.push(room);
        }
        if self.held > self.all_cap {
            self.trim_all();
        }
        Some(seq)
    }

    /// Appends a line to every room's log (the goodbye, `say`, a rename,
    /// which everyone hears wherever they are), not for `except`. Returns
    /// each room with the number its line got there.
    pub(super) fn append_everywhere(
        &mut self,
        bytes: &[u8],
        except: Option<ClientId>,
        kind: Kind,
    ) -> Vec<(RoomId, u64)> {
        let rooms: Vec<RoomId> = self.rooms.keys().copied().collect();
        rooms
            .into_iter()
            .filter_map(|room| Some((room, self.append(room, bytes, 1, except, kind)?)))
            .collect()
    }

    /// The number of the last room line appended anywhere (0 before any).
    pub(super) fn last_seq(&self) -> u64 {
        self.next_seq - 1
    }

    /// Over the limit for all logs together: the biggest logs lose their
    /// oldest blocks until the whole fits.
    fn trim_all(&mut self) {
        while self.held > self.all_cap {
            let Some(biggest) = self.rooms.values_mut().max_by_key(|room| room.log.held()) else {
                return;
            };
            let freed = biggest.log.drop_oldest_block();
            if freed == 0 {
                return;
            }
            self.held -= freed;
        }
    }

    /// Appends a public line of a previous run to `room`, numbered `seq`.
    pub(super) fn append_numbered(
        &mut self,
        room: RoomId,
        bytes: &[u8],
        seq: u64,
        except: Option<ClientId>,
    ) {
        self.next_seq = self.next_seq.max(seq);
        self.append(room, bytes, 1, except, Kind::Public);
    }

    /// Numbers the next line at least `next`.
    pub(super) fn continue_from(&mut self, next: u64) {
        self.next_seq = self.next_seq.max(next);
    }

    /// Keeps `room` (made if needed, called `name`) while a session is held
    /// in it; [`Logs::done_reading`] lets it go.
    pub(super) fn keep(&mut self, room: RoomId, name: &Arc<str>) {
        self.open(room, name).leavers += 1;
    }

    /// The rooms appended to since the last call.
    pub(super) fn take_dirty(&mut self) -> Vec<RoomId> {
        std::mem::take(&mut self.dirty)
    }

    /// True when a room was appended to since the last [`Logs::take_dirty`].
    pub(super) fn has_dirty(&self) -> bool {
        !self.dirty.is_empty()
    }

    /// A room, to write its new lines to its members.
    pub(super) fn get_mut(&mut self, room: RoomId) -> Option<&mut Room> {
        self.rooms.get_mut(&room)
    }

    /// `id` enters `room` (made if needed, called `name`).
    pub(super) fn enter(&mut self, id: ClientId, room: RoomId, name: &Arc<str>) {
        self.open(room, name).members.insert(id);
    }

    /// A member leaves `room`; if it `still_reads` (it has left but has
    /// bytes of the log to get), the room is kept for it.
    pub(super) fn exit(&mut self, id: ClientId, room: RoomId, still_reads: bool) {
        if let Some(entry) = self.rooms.get_mut(&room) {
            entry.members.remove(&id);
            if still_reads {
                entry.leavers += 1;
            }
        }
        self.forget_if_empty(room);
    }

    /// A client that had left `room` has had all it was due.
    pub(super) fn done_reading(&mut self, room: RoomId) {
        if let Some(entry) = self.rooms.get_mut(&room) {
            entry.leavers = entry.leavers.saturating_sub(1);
        }
        self.forget_if_empty(room);
    }

    /// A room nobody is in and nobody still reads is dropped with its log
    /// (but the lobby).
    fn forget_if_empty(&mut self, room: RoomId) {
        if room == RoomId::LOBBY {
            return;
        }
        if let Some(entry) = self.rooms.get(&room) {
            if entry.members.is_empty() && entry.leavers == 0 {
                self.held -= entry.log.held();
                self.rooms.remove(&room);
                self.dirty.retain(|&r| r != room);
            }
        }
    }

    /// Bytes all the logs hold.
    #[cfg(test)]
    pub(super) fn held(&self) -> usize {
        self.held
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_log_and_all_of_them_stay_within_their_caps() {
        let mut logs = Logs::new(256 * 1024, 1024 * 1024);
        let line = vec![b'x'; 1023];
        let mut entry = line.clone();
        entry.push(b'\n');
        for room in 0..10 {
            let name: Arc<str> = Arc::from(format!("r{room}"));
            logs.enter(ClientId(room), RoomId(room), &name);
            for _ in 0..2000 {
                logs.append(RoomId(room), &entry, 1, None, Kind::Public);
            }
            let log = &logs.get(RoomId(room)).expect("made").log;
            assert!(log.held() <= 256 * 1024, "room {room}: {}", log.held());
        }
        assert!(logs.held() <= 1024 * 1024, "all: {}", logs.held());
        // Every room empties: their logs go (the lobby's stays).
        for room in 1..10 {
            logs.exit(ClientId(room), RoomId(room), false);
        }
        assert!(logs.held() <= 256 * 1024);
        assert!(logs.get(RoomId(3)).is_none());
    }

    #[test]
    fn a_room_is_kept_while_a_leaver_still_reads_it() {
        let mut logs = Logs::new(256 * 1024, 1024 * 1024);
        let lab = RoomId(7);
        logs.enter(ClientId(1), lab, &Arc::from("lab"));
        logs.append(lab, b"* bye\n", 1, None, Kind::Notice);
        logs.exit(ClientId(1), lab, true);
        assert!(logs.get(lab).is_some(), "kept for the leaver");
        logs.done_reading(lab);
        assert!(logs.get(lab).is_none());
        assert_eq!(logs.held(), 0);
    }

    #[test]
    fn line_numbers_are_server_wide() {
        let mut logs = Logs::new(256 * 1024, 1024 * 1024);
        let lab = RoomId(7);
        logs.lobby();
        logs.open(lab, &Arc::from("lab"));
        assert_eq!(
            logs.append(RoomId::LOBBY, b"a\nb\n", 2, None, Kind::Public),
            Some(1)
        );
        assert_eq!(logs.append(lab, b"c\n", 1, None, Kind::Public), Some(3));
        assert_eq!(
            logs.append(RoomId::LOBBY, b"d\n", 1, None, Kind::Public),
            Some(4)
        );
        assert_eq!(logs.append(RoomId(99), b"e\n", 1, None, Kind::Public), None);
    }
}
