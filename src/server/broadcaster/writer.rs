//! Which clients a flush or a service writes to, and from which plan: the
//! fan-out's [`Writer`]. It is handed the rooms' logs and the peers the
//! fan-out owns, makes each write through `write.rs`, keeps who is behind,
//! and hands back the clients whose writes failed or who stalled, for the
//! fan-out to evict; it never evicts, and never calls the fan-out.
//!
//! A flush writes each room with new lines to its members (those standing
//! where the room was last written share one common plan, made once), then
//! the clients named since; a service writes again to those behind whose
//! retry is due. Either half-closes a client that left once it has had
//! everything.

use std::collections::{BTreeSet, HashMap};
use std::net::Shutdown;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::limits::Limits;
use super::logs::Logs;
use super::peer::Peer;
use super::plan::Plan;
use super::write::{write_common, write_tailored, When};
use crate::server::client::ClientId;
use crate::server::socket::Failure;
use crate::server::stats::Stats;

/// The clients whose writes failed, or who stalled, and why.
pub(super) type Failures = Vec<(ClientId, Failure)>;

/// After a write that waited for a full socket, no write waits for this
/// long. A write that may wait has the socket's 1 ms timeout, but the
/// kernel counts it in timer ticks: measured, a write to a full socket
/// returned after 6 to 8 ms. When many sockets fill at once (a crowded
/// machine, a burst bigger than their buffers), a flush that let each of
/// them wait in turn took 76 ms, and a pair chatting in another room
/// waited for it (bench scenario G: p99 51 ms, worst 150 ms). After the
/// first such wait every write is made without waiting, which costs two
/// more system calls each (the switch to non-blocking and back). A second,
/// as for one client that was behind (`CAREFUL_FOR` in `pace.rs`): the
/// server pays one such wait a second at most. (Windows of 1 ms let G's
/// pair wait 111 ms again; 50 ms did as well as a second; D's spread hid
/// any difference between them.)
const HURRY_FOR: Duration = Duration::from_secs(1);

/// The writing of flushes and services: who is behind, and the scratch plans.
#[derive(Debug)]
pub(super) struct Writer {
    limits: Limits,
    stats: Arc<Stats>,
    /// Peers with bytes waiting: the only ones to look at between batches.
    behind: BTreeSet<ClientId>,
    /// Counts flushes, so a peer is written at most once per flush.
    turn: u64,
    /// Until when no write may wait (see [`HURRY_FOR`]).
    hurry_until: Option<Instant>,
    /// Scratch plans, kept to reuse their buffers.
    plan: Plan,
    common: Plan,
    common_session: Plan,
}

impl Writer {
    /// Nobody behind yet.
    pub(super) fn new(limits: Limits, stats: Arc<Stats>) -> Writer {
        Writer {
            limits,
            stats,
            behind: BTreeSet::new(),
            turn: 0,
            hurry_until: None,
            plan: Plan::default(),
            common: Plan::default(),
            common_session: Plan::default(),
        }
    }

    /// A peer the fan-out dropped (evicted, held): nothing to look at.
    pub(super) fn forget(&mut self, id: ClientId) {
        self.behind.remove(&id);
    }

    /// Writes what was appended and queued since the last flush: each room
    /// with new lines to its members, then every client in `named`. A
    /// member already behind is left for [`service`](Writer::service) when
    /// its retry is not due yet.
    pub(super) fn flush(
        &mut self,
        logs: &mut Logs,
        peers: &mut HashMap<ClientId, Peer>,
        named: &mut Vec<ClientId>,
        now: Instant,
    ) -> Failures {
        self.turn += 1;
        let mut results: Vec<(ClientId, Result<(), Failure>)> = Vec::new();
        let mut excepted: Vec<ClientId> = Vec::new();
        for room_id in logs.take_dirty() {
            let Some(room) = logs.get_mut(room_id) else {
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
                let Some(peer) = peers.get_mut(&id) else {
                    continue;
                };
                if peer.pace.is_behind() && !peer.pace.is_due(now) {
                    continue;
                }
                peer.visited = self.turn;
                let shares = peer.shares_view_from(from)
                    && peer
                        .ids(id)
                        .iter()
                        .all(|i| excepted.binary_search(i).is_err());
                let when = self.when(now);
                let may_wait = when.may_wait(peer);
                let (limits, stats) = (&self.limits, &*self.stats);
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
                    write_common(peer, &room.log, common, limits, stats, when)
                } else {
                    write_tailored(id, peer, &room.log, &mut self.plan, limits, stats, when)
                };
                self.waited_if(may_wait, peer, now);
                results.push((id, result));
            }
        }
        let mut failures: Failures = Vec::new();
        for (id, result) in results {
            self.after_write(logs, peers, id, result, &mut failures, now);
        }
        for id in std::mem::take(named) {
            let Some(peer) = peers.get_mut(&id) else {
                continue;
            };
            if peer.visited == self.turn || (peer.pace.is_behind() && !peer.pace.is_due(now)) {
                continue;
            }
            peer.visited = self.turn;
            let result = self.write_one(logs, peers, id, now);
            self.after_write(logs, peers, id, result, &mut failures, now);
        }
        failures
    }

    /// Writes again to the peers that are behind and due, and finds those
    /// that took nothing for the write timeout.
    pub(super) fn service(
        &mut self,
        logs: &mut Logs,
        peers: &mut HashMap<ClientId, Peer>,
        now: Instant,
    ) -> Failures {
        let mut failures: Failures = Vec::new();
        let timeout = self.limits.write_timeout.unwrap_or(Duration::MAX);
        let due: Vec<ClientId> = self
            .behind
            .iter()
            .copied()
            .filter(|id| {
                peers
                    .get(id)
                    .is_some_and(|p| p.pace.is_due(now) || p.pace.is_stalled(now, timeout))
            })
            .collect();
        for id in due {
            let result = self.write_one(logs, peers, id, now);
            self.after_write(logs, peers, id, result, &mut failures, now);
        }
        failures
    }

    /// Writes to one peer what it alone is due.
    fn write_one(
        &mut self,
        logs: &Logs,
        peers: &mut HashMap<ClientId, Peer>,
        id: ClientId,
        now: Instant,
    ) -> Result<(), Failure> {
        let Some(peer) = peers.get_mut(&id) else {
            return Ok(());
        };
        let Some(room) = logs.get(peer.room) else {
            return Ok(());
        };
        let when = self.when(now);
        let may_wait = when.may_wait(peer);
        let (limits, stats) = (&self.limits, &*self.stats);
        let result = write_tailored(id, peer, &room.log, &mut self.plan, limits, stats, when);
        self.waited_if(may_wait, peer, now);
        result
    }

    /// The moment of a write, and whether writes may wait.
    fn when(&self, now: Instant) -> When {
        let hurry = self.hurry_until.is_some_and(|until| now < until);
        When { now, hurry }
    }

    /// After a write to `peer` that `may_wait`ed: if it left bytes waiting,
    /// the socket was full and the write waited for its timeout; from now
    /// on, none waits (see [`HURRY_FOR`]).
    fn waited_if(&mut self, may_wait: bool, peer: &Peer, now: Instant) {
        if may_wait && peer.pace.is_behind() {
            self.hurry_until = Some(now + HURRY_FOR);
        }
    }

    /// After a write to `id`: keeps track of who is behind, finds the
    /// stalled, and closes a peer that has left once it has had everything.
    fn after_write(
        &mut self,
        logs: &mut Logs,
        peers: &mut HashMap<ClientId, Peer>,
        id: ClientId,
        result: Result<(), Failure>,
        failures: &mut Failures,
        now: Instant,
    ) {
        if let Err(failure) = result {
            failures.push((id, failure));
            return;
        }
        let Some(peer) = peers.get(&id) else {
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
            close(logs, peers, id);
        }
    }

    /// The earliest moment a peer that is behind needs another look.
    pub(super) fn next_check(&self, peers: &HashMap<ClientId, Peer>) -> Option<Instant> {
        let timeout = self.limits.write_timeout?;
        self.behind
            .iter()
            .filter_map(|id| peers.get(id)?.pace.next_check(timeout))
            .min()
    }
}

/// Half-closes a peer that has left and had everything, so its last
/// line is followed by FIN, and forgets it.
fn close(logs: &mut Logs, peers: &mut HashMap<ClientId, Peer>, id: ClientId) {
    let Some(peer) = peers.remove(&id) else {
        return;
    };
    // Ignore errors: the client may be gone already.
    let _ = peer.stream.shutdown(Shutdown::Write);
    if peer.leaving.is_some_and(|leaving| leaving.kicked) {
        // Its reader may be blocked reading a client that will never
        // close (nc): shutting the read side makes that read return.
        let _ = peer.stream.shutdown(Shutdown::Read);
    }
    logs.done_reading(peer.room);
}
