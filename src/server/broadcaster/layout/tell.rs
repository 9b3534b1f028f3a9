//! [`Tell`]: where the layout's decisions are carried out. It owns the
//! [`Fanout`] (the rooms' logs and the peers), the [`Presence`] rules (who
//! the others were told about) and the sending end of the recorder, and
//! offers what every kind of event needs: append a line to a room, queue
//! one for a client alone, announce a join or a leave, hand a record on.
//! It decides nothing about departures or sessions; those are the
//! layout's (`mod.rs`) and `sessions.rs`'s, which call it.

use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use crate::protocol::lines;
use crate::server::broadcaster::fanout::{Eviction, Fanout};
use crate::server::broadcaster::presence::{Presence, Say};
use crate::server::broadcaster::roomlog::Kind;
use crate::server::client::ClientId;
use crate::server::recorder::{Entry, Record, Recorder};
use crate::server::rooms::RoomId;
use crate::server::shared::Shared;

/// The rooms, the presence rules and the recorder, as the layout tells them.
#[derive(Debug)]
pub(super) struct Tell {
    shared: Arc<Shared>,
    /// Where records go (the recorder thread), never waited for.
    recorder: Recorder,
    /// The rooms' logs and the peers: the writing half.
    pub(super) fanout: Fanout,
    /// Who the others were told about, and the crowded rooms' tallies.
    pub(super) presence: Presence,
    /// Bytes appended and queued since the batch began: the loop ends a
    /// batch early once it is large (see `Limits::batch_bytes`).
    pub(super) batch_bytes: usize,
}

impl Tell {
    /// The rooms and rules of a server with `shared`'s settings.
    pub(super) fn new(shared: Arc<Shared>, recorder: Recorder, fanout: Fanout) -> Tell {
        Tell {
            presence: Presence::new(shared.config.crowd),
            shared,
            recorder,
            fanout,
            batch_bytes: 0,
        }
    }

    /// Hands a record to the recorder (which never makes the chat wait);
    /// `room` and `line` say where in which room's log it stands, if
    /// anywhere.
    pub(super) fn record(&mut self, entry: Entry, room: Option<RoomId>, line: Option<u64>) {
        if !self.recorder.is_on() {
            return;
        }
        let room = room.and_then(|room| self.fanout.room_name(room));
        self.recorder.record(Record {
            at: SystemTime::now(),
            room,
            line,
            entry,
        });
    }

    /// Appends to a room's log, counting the batch's bytes. Returns the
    /// number of the first line, in a room whose lines are numbered.
    pub(super) fn append(
        &mut self,
        room: RoomId,
        bytes: &[u8],
        lines: u32,
        except: Option<ClientId>,
        kind: Kind,
    ) -> Option<u64> {
        self.batch_bytes += bytes.len();
        self.fanout.append(room, bytes, lines, except, kind)
    }

    /// Appends one line to every room's log (a rename, the teacher's
    /// `say`, the goodbye); returns each room with the number it took.
    pub(super) fn append_everywhere(
        &mut self,
        line: &[u8],
        except: Option<ClientId>,
        kind: Kind,
    ) -> Vec<(RoomId, u64)> {
        self.batch_bytes += line.len();
        self.fanout.append_everywhere(line, except, kind)
    }

    /// Queues lines for one client alone. One whose own queue overflows is
    /// evicted, and comes back for the layout to announce.
    #[must_use]
    pub(super) fn send_to(&mut self, id: ClientId, bytes: &[u8]) -> Option<Eviction> {
        self.batch_bytes += bytes.len();
        self.fanout.send_to(id, bytes)
    }

    /// Counts what one chat or action event delivers: its `lines` times the
    /// others in the sender's room. Once per event, not per recipient: a rate
    /// to watch (the dashboard's deliveries/s), not an audit.
    pub(super) fn count_deliveries(&self, room: RoomId, lines: u64) {
        let recipients = self.fanout.count(room).saturating_sub(1) as u64;
        self.shared
            .stats
            .deliveries
            .fetch_add(lines * recipients, Relaxed);
    }

    /// `* NAME joined`, to the others in the client's room (counted instead,
    /// in a crowded room).
    pub(super) fn announce_join(&mut self, id: ClientId, name: &str) {
        let Some(room) = self.fanout.room_of(id) else {
            return;
        };
        let members = self.fanout.count(room);
        let seq = match self.presence.joined(id, room, members, Instant::now()) {
            None => return,
            Some(Say::Now) => self.append(room, &lines::joined(name), 1, Some(id), Kind::Notice),
            Some(Say::Later) => None,
        };
        let entry = Entry::Join {
            name: name.to_string(),
        };
        self.record(entry, Some(room), seq);
    }

    /// `* NAME left (REASON)`, to the room the client was in (counted
    /// instead, in a crowded room), if the others were told it joined.
    pub(super) fn announce_leave(
        &mut self,
        id: ClientId,
        room: RoomId,
        name: &str,
        reason: Option<String>,
    ) {
        let members = self.fanout.count(room);
        let seq = match self.presence.left(id, room, members, Instant::now()) {
            None => return,
            Some(Say::Now) => {
                let line = lines::left(name, reason.as_deref());
                self.append(room, &line, 1, None, Kind::Notice)
            }
            Some(Say::Later) => None,
        };
        let entry = Entry::Leave {
            name: name.to_string(),
            reason,
        };
        self.record(entry, Some(room), seq);
    }

    /// Tells each crowded room whose second is up who came and went.
    pub(super) fn tell_crowds(&mut self, now: Instant) {
        let fanout = &self.fanout;
        let due = self.presence.due(now, |room| fanout.count(room));
        for (room, line) in due {
            self.append(room, &line, 1, None, Kind::Notice);
        }
    }
}
