//! The fan-out: the broadcaster's writing half. It owns the rooms' logs
//! ([`Logs`]) and a [`Peer`] per client, and who is in which room; the
//! layout appends what was said and queues what is meant for one client,
//! then asks it to [`flush`](Fanout::flush), which its [`Writer`]
//! (`writer.rs`) carries out. Whatever goes wrong with a client comes back
//! as an [`Eviction`], a value the layout announces: this file never calls
//! back into the one that uses it.
//!
//! **Nobody waits for anybody.** A line is appended once to its room's log;
//! each member then gets what its socket takes *now*, from its cursor on
//! (`write.rs`). A member whose socket is full simply falls behind, its
//! cursor lagging, and is tried again soon (see `pace.rs`); the others are
//! never held back. A member left behind the log's tail skips ahead and is
//! told how many lines it missed; one whose socket takes nothing for the
//! write timeout is evicted. Memory is bounded by the rooms' logs, however
//! many members lag behind in them.

use std::collections::HashMap;
use std::net::TcpStream;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use super::limits::Limits;
use super::logs::Logs;
use super::peer::{Leaving, Peer};
use super::roomlog::Kind;
use super::writer::{Failures, Writer};
use crate::server::client::{ClientId, Meters};
use crate::server::rooms::RoomId;
use crate::server::socket::{reset, Failure};
use crate::server::stats::Stats;

/// A client the fan-out had to drop, for the broadcaster to announce.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Eviction {
    /// Who.
    pub(super) id: ClientId,
    /// The room it was in.
    pub(super) room: RoomId,
    /// Why.
    pub(super) failure: Failure,
    /// It had a session: its room is kept open for it to come back (the
    /// broadcaster releases it if it does not hold the session after all).
    pub(super) kept: bool,
}

/// Every room's log and every peer.
#[derive(Debug)]
pub(super) struct Fanout {
    logs: Logs,
    peers: HashMap<ClientId, Peer>,
    limits: Limits,
    stats: Arc<Stats>,
    /// Peers with lines of their own, or that left, since the last flush.
    named: Vec<ClientId>,
    /// What a flush and a service write, and who is behind.
    writer: Writer,
}

impl Fanout {
    /// No rooms but the lobby, no peers.
    pub(super) fn new(limits: Limits, stats: Arc<Stats>) -> Fanout {
        let mut logs = Logs::new(limits.room_log, limits.all_logs);
        logs.lobby();
        Fanout {
            logs,
            peers: HashMap::new(),
            limits,
            writer: Writer::new(limits, stats.clone()),
            stats,
            named: Vec::new(),
        }
    }

    /// Starts writing to a client, in the lobby, from its head on.
    pub(super) fn join(&mut self, id: ClientId, stream: Arc<TcpStream>, meters: Arc<Meters>) {
        let lobby = self.logs.lobby();
        let peer = Peer::new(
            stream,
            meters,
            RoomId::LOBBY,
            &lobby.log,
            self.limits.own_queue,
            Instant::now(),
        );
        lobby.members.insert(id);
        self.peers.insert(id, peer);
    }

    /// The room of a peer that has not left.
    pub(super) fn room_of(&self, id: ClientId) -> Option<RoomId> {
        self.peers
            .get(&id)
            .filter(|peer| peer.leaving.is_none())
            .map(|peer| peer.room)
    }

    /// The name of a room that exists.
    pub(super) fn room_name(&self, room: RoomId) -> Option<Arc<str>> {
        self.logs.name(room)
    }

    /// How many are in `room`.
    pub(super) fn count(&self, room: RoomId) -> usize {
        self.logs.count(room)
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
        self.logs.append(room, bytes, lines, except, kind)
    }

    /// Appends a line to every room's log (the goodbye, `say`, a rename,
    /// which everyone hears wherever they are), not for `except`. Returns
    /// each room with its line's number.
    pub(super) fn append_everywhere(
        &mut self,
        bytes: &[u8],
        except: Option<ClientId>,
        kind: Kind,
    ) -> Vec<(RoomId, u64)> {
        self.logs.append_everywhere(bytes, except, kind)
    }

    /// The last public lines of `room`, for a newcomer's history: as many
    /// as `--history` asks, as far as the log reaches, and no more than
    /// half of what the newcomer's own queue may hold.
    pub(super) fn history(&self, room: RoomId) -> Vec<Vec<u8>> {
        if self.limits.history == 0 {
            return Vec::new();
        }
        let Some(room) = self.logs.get(room) else {
            return Vec::new();
        };
        let mut budget = self.limits.own_queue / 2;
        let mut lines: Vec<Vec<u8>> = Vec::new();
        for line in room.log.public_tail(self.limits.history).into_iter().rev() {
            if line.len() > budget {
                break;
            }
            budget -= line.len();
            lines.push(line.to_vec());
        }
        lines.reverse();
        lines
    }

    /// Queues `bytes` for one client, after what its room has said so far.
    /// A client whose own queue overflows is not reading: it is evicted.
    pub(super) fn send_to(&mut self, id: ClientId, bytes: &[u8]) -> Option<Eviction> {
        let peer = self.peers.get_mut(&id)?;
        let room = self.logs.get(peer.room)?;
        if peer.push_own(bytes, &room.log).is_err() {
            return self.evict(id, Failure::TooSlow);
        }
        self.named.push(id);
        None
    }

    /// Moves a peer to another room (made if needed, called `name`).
    pub(super) fn move_to(&mut self, id: ClientId, to: RoomId, name: &Arc<str>) {
        self.logs.open(to, name);
        let Some(peer) = self.peers.get_mut(&id) else {
            return;
        };
        let from = peer.room;
        let (Some(old), Some(new)) = (self.logs.get(from), self.logs.get(to)) else {
            return;
        };
        if from == to || peer.leaving.is_some() {
            return;
        }
        if let Some(skipped) = peer.skip_if_lost(&old.log, self.limits.landing) {
            self.stats.lines_skipped.fetch_add(skipped, Relaxed);
        }
        peer.move_to(id, &old.log, &new.log, to);
        self.logs.exit(id, from, false);
        self.logs.enter(id, to, name);
        self.named.push(id);
    }

    /// A peer leaves: it gets what its room said before now and its own
    /// lines (a farewell), then FIN. Returns its room.
    pub(super) fn leave(&mut self, id: ClientId, kicked: bool) -> Option<RoomId> {
        let peer = self.peers.get_mut(&id)?;
        if peer.leaving.is_some() {
            return None;
        }
        let room = peer.room;
        peer.leaving = Some(Leaving {
            stop: self.logs.get(room)?.log.head(),
            kicked,
        });
        self.logs.exit(id, room, true);
        self.named.push(id);
        Some(room)
    }

    /// Drops a peer at once and resets its connection. Returns what the
    /// broadcaster announces, unless the peer had already left. A peer with
    /// a session keeps its room open (see [`Eviction::kept`]).
    pub(super) fn evict(&mut self, id: ClientId, failure: Failure) -> Option<Eviction> {
        self.writer.forget(id);
        let peer = self.peers.remove(&id)?;
        reset(&peer.stream);
        let room = peer.room;
        if peer.leaving.is_some() {
            self.logs.done_reading(room);
            return None;
        }
        let kept = peer.session;
        self.logs.exit(id, room, kept);
        Some(Eviction {
            id,
            room,
            failure,
            kept,
        })
    }

    /// A peer whose connection broke, held for a while: dropped, its room
    /// kept open until [`release_room`](Fanout::release_room).
    pub(super) fn hold(&mut self, id: ClientId) {
        self.writer.forget(id);
        if let Some(peer) = self.peers.remove(&id) {
            reset(&peer.stream);
            self.logs.exit(id, peer.room, true);
        }
    }

    /// Gives back a room's lines from a previous run, with their numbers.
    pub(super) fn restore(
        &mut self,
        room: RoomId,
        name: &Arc<str>,
        lines: &[(u64, Vec<u8>, Option<ClientId>)],
    ) {
        self.logs.open(room, name);
        for (seq, bytes, from) in lines {
            self.logs.append_numbered(room, bytes, *seq, *from);
        }
        if let Some(room) = self.logs.get_mut(room) {
            room.flushed = room.log.head();
        }
        self.logs.take_dirty();
    }

    /// Numbers the next room line `next` (or past any line restored).
    pub(super) fn continue_numbering(&mut self, next: u64) {
        self.logs.continue_from(next);
    }

    /// Keeps a room (called `name`) open for a session held in it.
    pub(super) fn keep_room(&mut self, room: RoomId, name: &Arc<str>) {
        self.logs.keep(room, name);
    }

    /// A held session came back, or ran out: its room need not be kept.
    pub(super) fn release_room(&mut self, room: RoomId) {
        self.logs.done_reading(room);
    }

    /// Starts numbering a peer's room lines (`/session`): it is told
    /// `#session TOKEN LAST`, the number of the room's last line before.
    pub(super) fn start_session(&mut self, id: ClientId, token: &str) {
        let last = self.logs.last_seq();
        if let Some(peer) = self.peers.get_mut(&id) {
            peer.session = true;
        }
        self.send_to(id, &crate::protocol::lines::session(token, last));
    }

    /// A new connection takes back a session (`/resume`): it joins the
    /// session's `room` (called `name`) where the client stopped reading,
    /// after room line `last`; `former` is the connection it replaces, whose
    /// own lines it must not get back. Returns how many lines it missed.
    pub(super) fn resume(
        &mut self,
        id: ClientId,
        former: ClientId,
        (room, name): (RoomId, &Arc<str>),
        token: &str,
        last: u64,
    ) -> u64 {
        self.logs.open(room, name);
        let Some(peer) = self.peers.get_mut(&id) else {
            return 0;
        };
        let from = peer.room;
        if from != room {
            self.logs.exit(id, from, false);
            self.logs.enter(id, room, name);
        }
        let Some(log) = self.logs.get(room).map(|room| &room.log) else {
            return 0;
        };
        let line = crate::protocol::lines::session(token, last);
        let missed = peer.resume(id, former, (room, log), &line, last, self.limits.landing);
        self.named.push(id);
        missed
    }

    /// True when something was appended or queued that is not written yet.
    pub(super) fn has_unflushed(&self) -> bool {
        self.logs.has_dirty() || !self.named.is_empty()
    }

    /// Writes what was appended and queued since the last flush (see
    /// [`Writer::flush`]), and evicts the clients whose writes failed.
    pub(super) fn flush(&mut self, now: Instant) -> Vec<Eviction> {
        let failures = self
            .writer
            .flush(&mut self.logs, &mut self.peers, &mut self.named, now);
        self.evict_all(failures)
    }

    /// Writes again to the peers that are behind and due, and evicts those
    /// that took nothing for the write timeout.
    pub(super) fn service(&mut self, now: Instant) -> Vec<Eviction> {
        let failures = self.writer.service(&mut self.logs, &mut self.peers, now);
        self.evict_all(failures)
    }

    /// Evicts each client whose write failed, or who stalled.
    fn evict_all(&mut self, failures: Failures) -> Vec<Eviction> {
        failures
            .into_iter()
            .filter_map(|(id, failure)| self.evict(id, failure))
            .collect()
    }

    /// The earliest moment a peer that is behind needs another look.
    pub(super) fn next_check(&self) -> Option<Instant> {
        self.writer.next_check(&self.peers)
    }

    /// After the last batch: everyone is leaving. Writes out what waits for
    /// each (every healthy client gets every line, then the goodbye), within
    /// the write timeout and a grace, half-closing each as it is done; those
    /// still behind at the deadline are cut off.
    pub(super) fn goodbye(&mut self, grace: Duration) {
        let ids: Vec<ClientId> = self.peers.keys().copied().collect();
        for id in ids {
            self.leave(id, false);
        }
        let now = Instant::now();
        self.flush(now);
        if let Some(timeout) = self.limits.write_timeout {
            let deadline = now + timeout + grace;
            while !self.peers.is_empty() && Instant::now() < deadline {
                self.service(Instant::now());
                let wake = self.next_check().unwrap_or(deadline).min(deadline);
                let nap = wake
                    .saturating_duration_since(Instant::now())
                    .clamp(Duration::from_micros(200), Duration::from_millis(20));
                thread::sleep(nap);
            }
        }
        for peer in self.peers.values() {
            // Still unwritten after the deadline: cut it off.
            reset(&peer.stream);
        }
        self.peers.clear();
    }
}
