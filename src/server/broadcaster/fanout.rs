//! The fan-out: the broadcaster's writing half. It owns every room's log,
//! who is in which room, and a [`Peer`] per client; the broadcaster's loop
//! (`mod.rs`) appends what was said and queues what is meant for one
//! client, then asks it to [`flush`](Fanout::flush). Whatever goes wrong
//! with a client comes back as an [`Eviction`], a value the loop announces:
//! this file never calls back into the one that uses it.
//!
//! **Nobody waits for anybody.** A line is appended once to its room's log;
//! each member then gets what its socket takes *now*, from its cursor on.
//! A member whose socket is full simply falls behind, its cursor lagging,
//! and is tried again soon (see `peer.rs`); the others are never held
//! back. A member left behind the log's tail skips ahead and is told how
//! many lines it missed; one whose socket takes nothing for the write
//! timeout is evicted. Memory is bounded by the rooms' logs, however many
//! members lag behind in them.

use std::collections::{BTreeSet, HashMap};
use std::io::IoSlice;
use std::net::{Shutdown, TcpStream};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use super::limits::Limits;
use super::peer::{Leaving, Peer, Plan};
use super::roomlog::{Kind, RoomLog};
use crate::protocol::lines;
use crate::server::client::{ClientId, Meters};
use crate::server::rooms::{RoomId, LOBBY_NAME};
use crate::server::socket::{reset, write_all_blocking, write_now, write_once, Failure};
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
}

/// One room as the fan-out keeps it.
#[derive(Debug, Default)]
struct Room {
    /// Its name, for the records.
    name: Arc<str>,
    log: RoomLog,
    /// Its members, in the order they joined (ids grow), which is the order
    /// they are written to: the same on every batch keeps the readers at the
    /// other end in step (measured: random order cost the 5000-client
    /// scenario D a fifth of its throughput).
    members: BTreeSet<ClientId>,
    /// Peers that have left it but still have bytes of its log to get.
    leavers: usize,
    /// The head when its members were last written to: a member standing
    /// here with nothing of its own waiting shares the common view.
    flushed: u64,
}

/// Every room's log, every peer, and who is where.
#[derive(Debug)]
pub(super) struct Fanout {
    rooms: HashMap<RoomId, Room>,
    peers: HashMap<ClientId, Peer>,
    limits: Limits,
    stats: Arc<Stats>,
    /// The server-wide number of the next room line.
    next_seq: u64,
    /// Bytes all the logs hold.
    held: usize,
    /// Rooms with bytes appended since the last flush.
    dirty: Vec<RoomId>,
    /// Peers with lines of their own, or that left, since the last flush.
    named: Vec<ClientId>,
    /// Peers with bytes waiting: the only ones to look at between batches.
    behind: BTreeSet<ClientId>,
    /// Counts flushes, so a peer is written at most once per flush.
    turn: u64,
    /// Scratch plans, kept to reuse their buffers.
    plan: Plan,
    common: Plan,
    common_session: Plan,
}

impl Fanout {
    /// No rooms, no peers.
    pub(super) fn new(limits: Limits, stats: Arc<Stats>) -> Fanout {
        Fanout {
            rooms: HashMap::new(),
            peers: HashMap::new(),
            limits,
            stats,
            next_seq: 1,
            held: 0,
            dirty: Vec::new(),
            named: Vec::new(),
            behind: BTreeSet::new(),
            turn: 0,
            plan: Plan::default(),
            common: Plan::default(),
            common_session: Plan::default(),
        }
    }

    /// Starts writing to a client, in `room`, from the room's head on.
    pub(super) fn join(
        &mut self,
        id: ClientId,
        stream: Arc<TcpStream>,
        meters: Arc<Meters>,
        room: RoomId,
        now: Instant,
    ) {
        let entry = self.rooms.entry(room).or_insert_with(|| Room {
            name: Arc::from(LOBBY_NAME),
            ..Room::default()
        });
        let peer = Peer::new(stream, meters, room, &entry.log, self.limits.own_queue, now);
        entry.members.insert(id);
        self.peers.insert(id, peer);
    }

    /// The room of a peer that has not left.
    pub(super) fn room_of(&self, id: ClientId) -> Option<RoomId> {
        self.peers
            .get(&id)
            .filter(|peer| peer.leaving.is_none())
            .map(|peer| peer.room)
    }

    /// The name of a room that has members.
    pub(super) fn room_name(&self, room: RoomId) -> Option<Arc<str>> {
        self.rooms.get(&room).map(|room| room.name.clone())
    }

    /// How many are in `room`.
    pub(super) fn count(&self, room: RoomId) -> usize {
        self.rooms.get(&room).map_or(0, |room| room.members.len())
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
        self.held -= target.log.trim_to(self.limits.room_log);
        if !self.dirty.contains(&room) {
            self.dirty.push(room);
        }
        if self.held > self.limits.all_logs {
            self.trim_all();
        }
        Some(seq)
    }

    /// Appends a line to every room's log (the goodbye, `say`, a rename,
    /// which everyone hears wherever they are), not for `except`.
    pub(super) fn append_everywhere(&mut self, bytes: &[u8], except: Option<ClientId>, kind: Kind) {
        let rooms: Vec<RoomId> = self.rooms.keys().copied().collect();
        for room in rooms {
            self.append(room, bytes, 1, except, kind);
        }
    }

    /// Over the limit for all logs together: the biggest logs lose their
    /// oldest blocks until the whole fits.
    fn trim_all(&mut self) {
        while self.held > self.limits.all_logs {
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

    /// The last public lines of `room`, for a newcomer's history: as many
    /// as `--history` asks, as far as the log reaches, and no more than
    /// half of what the newcomer's own queue may hold.
    pub(super) fn history(&self, room: RoomId) -> Vec<Vec<u8>> {
        if self.limits.history == 0 {
            return Vec::new();
        }
        let Some(room) = self.rooms.get(&room) else {
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
        let room = self.rooms.get(&peer.room)?;
        if peer.push_own(bytes, &room.log).is_err() {
            return self.evict(id, Failure::TooSlow);
        }
        self.named.push(id);
        None
    }

    /// Moves a peer to another room (made if needed, called `name`).
    pub(super) fn move_to(&mut self, id: ClientId, to: RoomId, name: &Arc<str>) {
        let Some(peer) = self.peers.get_mut(&id) else {
            return;
        };
        let from = peer.room;
        if from == to || peer.leaving.is_some() {
            return;
        }
        let mut new = self.rooms.remove(&to).unwrap_or_else(|| Room {
            name: name.clone(),
            ..Room::default()
        });
        if let Some(old) = self.rooms.get_mut(&from) {
            if let Some(skipped) = peer.skip_if_lost(&old.log, self.limits.landing) {
                self.stats.lines_skipped.fetch_add(skipped, Relaxed);
            }
            peer.move_to(id, &old.log, &new.log, to);
            old.members.remove(&id);
        }
        new.members.insert(id);
        self.rooms.insert(to, new);
        self.named.push(id);
        self.forget_if_empty(from);
    }

    /// A peer leaves: it gets what its room said before now and its own
    /// lines (a farewell), then FIN. Returns its room.
    pub(super) fn leave(&mut self, id: ClientId, kicked: bool) -> Option<RoomId> {
        let peer = self.peers.get_mut(&id)?;
        if peer.leaving.is_some() {
            return None;
        }
        let room = self.rooms.get_mut(&peer.room)?;
        peer.leaving = Some(Leaving {
            stop: room.log.head(),
            kicked,
        });
        room.members.remove(&id);
        room.leavers += 1;
        self.named.push(id);
        Some(peer.room)
    }

    /// Drops a peer at once and resets its connection. Returns what the
    /// broadcaster announces, unless the peer had already left.
    pub(super) fn evict(&mut self, id: ClientId, failure: Failure) -> Option<Eviction> {
        self.behind.remove(&id);
        let peer = self.peers.remove(&id)?;
        reset(&peer.stream);
        let room = peer.room;
        if let Some(entry) = self.rooms.get_mut(&room) {
            if peer.leaving.is_some() {
                entry.leavers -= 1;
            } else {
                entry.members.remove(&id);
            }
        }
        self.forget_if_empty(room);
        peer.leaving
            .is_none()
            .then_some(Eviction { id, room, failure })
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

    /// True when something was appended or queued that is not written yet.
    pub(super) fn has_unflushed(&self) -> bool {
        !self.dirty.is_empty() || !self.named.is_empty()
    }

    /// Writes what was appended and queued since the last flush: each room
    /// with new lines to its members, then every client named since. A
    /// member already behind is left for [`service`](Fanout::service) when
    /// its retry is not due yet.
    pub(super) fn flush(&mut self, now: Instant) -> Vec<Eviction> {
        self.turn += 1;
        let mut results: Vec<(ClientId, Result<(), Failure>)> = Vec::new();
        let mut excepted: Vec<ClientId> = Vec::new();
        for room_id in std::mem::take(&mut self.dirty) {
            let Some(room) = self.rooms.get_mut(&room_id) else {
                continue;
            };
            let (from, to) = (room.flushed, room.log.head());
            room.flushed = to;
            // Who the new lines leave out (their senders) cannot share the
            // common view; everyone else standing at `from` can.
            excepted.clear();
            room.log.excepted(from, to, &mut excepted);
            let mut commons_made = [false, false];
            for &id in &room.members {
                let Some(peer) = self.peers.get_mut(&id) else {
                    continue;
                };
                if peer.pace.is_behind() && !peer.pace.is_due(now) {
                    continue;
                }
                peer.visited = self.turn;
                let shares = peer.shares_view_from(from) && excepted.binary_search(&id).is_err();
                let result = if shares {
                    let index = usize::from(peer.session);
                    let common = if peer.session {
                        &mut self.common_session
                    } else {
                        &mut self.common
                    };
                    if !commons_made[index] {
                        common.common(&room.log, from, to, peer.session);
                        commons_made[index] = true;
                    }
                    write_common(peer, &room.log, common, &self.limits, &self.stats, now)
                } else {
                    write_tailored(
                        id,
                        peer,
                        &room.log,
                        &mut self.plan,
                        &self.limits,
                        &self.stats,
                        now,
                    )
                };
                results.push((id, result));
            }
        }
        let mut failures: Vec<(ClientId, Failure)> = Vec::new();
        for (id, result) in results {
            self.after_write(id, result, &mut failures, now);
        }
        for id in std::mem::take(&mut self.named) {
            let Some(peer) = self.peers.get_mut(&id) else {
                continue;
            };
            if peer.visited == self.turn || (peer.pace.is_behind() && !peer.pace.is_due(now)) {
                continue;
            }
            peer.visited = self.turn;
            let Some(room) = self.rooms.get(&peer.room) else {
                continue;
            };
            let result = write_tailored(
                id,
                peer,
                &room.log,
                &mut self.plan,
                &self.limits,
                &self.stats,
                now,
            );
            self.after_write(id, result, &mut failures, now);
        }
        self.evict_all(failures)
    }

    /// Writes again to the peers that are behind and due, and evicts those
    /// that took nothing for the write timeout.
    pub(super) fn service(&mut self, now: Instant) -> Vec<Eviction> {
        let mut failures: Vec<(ClientId, Failure)> = Vec::new();
        let timeout = self.limits.write_timeout.unwrap_or(Duration::MAX);
        let due: Vec<ClientId> = self
            .behind
            .iter()
            .copied()
            .filter(|id| {
                self.peers
                    .get(id)
                    .is_some_and(|p| p.pace.is_due(now) || p.pace.is_stalled(now, timeout))
            })
            .collect();
        for id in due {
            let Some(peer) = self.peers.get_mut(&id) else {
                continue;
            };
            let Some(room) = self.rooms.get(&peer.room) else {
                continue;
            };
            let result = write_tailored(
                id,
                peer,
                &room.log,
                &mut self.plan,
                &self.limits,
                &self.stats,
                now,
            );
            self.after_write(id, result, &mut failures, now);
        }
        self.evict_all(failures)
    }

    /// After a write to `id`: keeps track of who is behind, finds the
    /// stalled, and closes a peer that has left once it has had everything.
    fn after_write(
        &mut self,
        id: ClientId,
        result: Result<(), Failure>,
        failures: &mut Vec<(ClientId, Failure)>,
        now: Instant,
    ) {
        if let Err(failure) = result {
            failures.push((id, failure));
            return;
        }
        let Some(peer) = self.peers.get(&id) else {
            return;
        };
        if peer.pace.is_behind() {
            self.behind.insert(id);
            let timeout = self.limits.write_timeout.unwrap_or(Duration::MAX);
            if peer.pace.is_stalled(now, timeout) {
                failures.push((id, Failure::TooSlow));
            }
            return;
        }
        self.behind.remove(&id);
        if peer.leaving.is_some() {
            self.close(id);
        }
    }

    /// Half-closes a peer that has left and had everything, so its last
    /// line is followed by FIN, and forgets it.
    fn close(&mut self, id: ClientId) {
        let Some(peer) = self.peers.remove(&id) else {
            return;
        };
        // Ignore errors: the client may be gone already.
        let _ = peer.stream.shutdown(Shutdown::Write);
        if peer.leaving.is_some_and(|leaving| leaving.kicked) {
            // Its reader may be blocked reading a client that will never
            // close (nc): shutting the read side makes that read return.
            let _ = peer.stream.shutdown(Shutdown::Read);
        }
        if let Some(room) = self.rooms.get_mut(&peer.room) {
            room.leavers -= 1;
        }
        self.forget_if_empty(peer.room);
    }

    fn evict_all(&mut self, failures: Vec<(ClientId, Failure)>) -> Vec<Eviction> {
        failures
            .into_iter()
            .filter_map(|(id, failure)| self.evict(id, failure))
            .collect()
    }

    /// The earliest moment a peer that is behind needs another look.
    pub(super) fn next_check(&self) -> Option<Instant> {
        let timeout = self.limits.write_timeout?;
        self.behind
            .iter()
            .filter_map(|id| self.peers.get(id)?.pace.next_check(timeout))
            .min()
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

/// Writes the room's common view to a member that shares it.
fn write_common(
    peer: &mut Peer,
    log: &RoomLog,
    plan: &Plan,
    limits: &Limits,
    stats: &Stats,
    now: Instant,
) -> Result<(), Failure> {
    let written = {
        let slices = plan.slices(log, None);
        write(
            &peer.stream,
            &slices,
            plan.total,
            limits,
            peer.pace.is_careful(now),
        )?
    };
    stats.bytes_out.fetch_add(written as u64, Relaxed);
    peer.advance(log, plan, written);
    let left = peer.pending(log);
    peer.pace.wrote(written, left, now);
    Ok(())
}

/// Writes to one peer what it alone is due: a few writes at most, while
/// the socket takes everything and more waits.
fn write_tailored(
    id: ClientId,
    peer: &mut Peer,
    log: &RoomLog,
    plan: &mut Plan,
    limits: &Limits,
    stats: &Stats,
    now: Instant,
) -> Result<(), Failure> {
    if let Some(skipped) = peer.skip_if_lost(log, limits.landing) {
        stats.lines_skipped.fetch_add(skipped, Relaxed);
    }
    let mut taken = 0;
    for _ in 0..4 {
        peer.plan(log, id, plan);
        if plan.total == 0 {
            // Nothing to send: only lines it never gets (its own) were ahead.
            peer.advance(log, plan, 0);
            break;
        }
        let written = {
            let slices = plan.slices(log, Some(peer));
            write(
                &peer.stream,
                &slices,
                plan.total,
                limits,
                peer.pace.is_careful(now),
            )?
        };
        stats.bytes_out.fetch_add(written as u64, Relaxed);
        taken += written;
        peer.advance(log, plan, written);
        if written < plan.total || peer.pending(log) == 0 {
            break;
        }
    }
    let left = peer.pending(log);
    peer.pace.wrote(taken, left, now);
    Ok(())
}

/// One write to one client: without waiting at all for a client that is
/// or was lately behind; with the short socket timeout for one that keeps
/// up (it costs one system call instead of three, and a socket with room
/// takes the bytes at once); blocking in the demo mode.
fn write(
    stream: &TcpStream,
    slices: &[IoSlice<'_>],
    total: usize,
    limits: &Limits,
    careful: bool,
) -> Result<usize, Failure> {
    let result = match limits.write_timeout {
        None => {
            // DEMO MODE (--no-write-timeout): block until it is all written.
            let mut slices = slices.to_vec();
            write_all_blocking(stream, &mut slices).map(|()| total)
        }
        Some(_) if careful => write_now(stream, slices),
        Some(_) => write_once(stream, slices),
    };
    result.map_err(|e| Failure::of(&e))
}

/// The lines a newcomer's welcome is followed by when its room keeps history.
pub(super) fn history_lines(history: &[Vec<u8>]) -> Vec<u8> {
    if history.is_empty() {
        return Vec::new();
    }
    let mut out = lines::history_start(history.len());
    for line in history {
        out.extend_from_slice(line);
    }
    out.extend_from_slice(&lines::history_end());
    out
}
