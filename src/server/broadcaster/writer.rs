//! The broadcaster's writing half: a laid-out batch to the sockets of its
//! recipients, the send queues retried between batches, evictions, and the
//! last writes at shutdown. The layout half (`mod.rs`) decides what goes to
//! whom; this file only writes it.

use std::collections::HashSet;
use std::io::IoSlice;
use std::net::Shutdown;
use std::sync::atomic::Ordering::Relaxed;
use std::thread;
use std::time::{Duration, Instant};

use super::limits::{Budget, GOODBYE_GRACE, PROBE_SPACING};
use super::outbox::Audience;
use super::peers::Peer;
use super::sendq::TooSlow;
use super::state::Broadcaster;
use crate::server::registry::ClientId;
use crate::server::rooms::RoomId;
use crate::server::socket::{write_all_blocking, write_once, Failure};

impl Broadcaster {
    /// Writes the batch to its recipients: the members of the rooms it
    /// speaks to and the clients it names (everyone, if any line is for
    /// everyone). A member no segment names gets its room's common view,
    /// laid out once per room; the few others a tailored view. A peer whose
    /// queue is empty gets one direct write, and what its socket does not take
    /// joins its queue; a peer with bytes already waiting gets the batch
    /// queued behind them, without a write. Clients that fail are evicted, and
    /// the notices about them start the next batch.
    pub(super) fn flush(&mut self) {
        if self.outbox.is_empty() {
            return;
        }
        let mut named: Vec<ClientId> = Vec::new();
        let mut rooms: Vec<RoomId> = Vec::new();
        let mut everyone = false;
        for segment in &self.outbox.segments {
            if let Some(id) = segment.audience.named() {
                named.push(id);
            }
            match segment.audience {
                Audience::All | Audience::AllExcept(_) => everyone = true,
                Audience::Room(room, _) => rooms.push(room),
                Audience::Only(_) => {}
            }
        }
        named.sort_unstable();
        named.dedup();
        rooms.sort_unstable();
        rooms.dedup();
        let mut batch = Batch {
            outbox: &self.outbox,
            named: &named,
            common: Vec::new(),
            now: Instant::now(),
            write_timeout: self.limits.write_timeout,
            failures: Vec::new(),
            written: 0,
        };
        // Only the recipients are visited: a line in a room of 50 costs 50
        // writes, not a look at every client on the server.
        if everyone {
            for (&id, peer) in self.peers.iter_mut() {
                batch.give(id, peer, &mut self.queued);
            }
        } else {
            // In the order clients joined: the same order on every batch, which
            // keeps the readers at the other end in step (measured: random
            // order cost the 5000-client scenario D a fifth of its throughput).
            let mut members: Vec<ClientId> = rooms
                .iter()
                .flat_map(|&room| self.members.of(room))
                .collect();
            members.sort_unstable();
            for id in members {
                if let Some(peer) = self.peers.get_mut(&id) {
                    batch.give(id, peer, &mut self.queued);
                }
            }
            // Named clients outside those rooms (a private message's
            // recipient, a newcomer's welcome, a leaver's farewell).
            for &id in &named {
                if let Some(peer) = self.peers.get_mut(&id) {
                    if peer.leaving || rooms.binary_search(&peer.room).is_err() {
                        batch.give(id, peer, &mut self.queued);
                    }
                }
            }
        }
        let (failures, written) = (batch.failures, batch.written);
        self.shared.stats.bytes_out.fetch_add(written, Relaxed);
        self.outbox.clear();
        // Only the named and those who joined or left had a window other than
        // the whole batch; everyone else's still is.
        let mut visit = std::mem::take(&mut self.touched);
        visit.extend_from_slice(&named);
        for id in visit {
            let Some(peer) = self.peers.get_mut(&id) else {
                continue;
            };
            peer.next_batch();
            if close_if_done(peer) {
                self.peers.remove(&id);
                self.queued.remove(&id);
            }
        }
        for (id, failure) in failures {
            self.evict(id, failure);
        }
    }

    /// Retries the send queues that are due, and evicts the clients that are
    /// too slow. See [`Budget`] for how many fruitless retries it makes.
    pub(super) fn service(&mut self, budget: Budget) {
        let now = Instant::now();
        let timeout = self.limits.write_timeout.unwrap_or(Duration::MAX);
        let mut due: Vec<ClientId> = self
            .queued
            .iter()
            .filter(|id| {
                self.peers
                    .get(id)
                    .and_then(|p| p.queue.next_check(timeout))
                    .is_some_and(|at| at <= now)
            })
            .copied()
            .collect();
        if due.is_empty() {
            return;
        }
        due.sort_unstable();
        self.turn = self.turn.wrapping_add(1);
        let start = self.turn % due.len();
        due.rotate_left(start);
        let busy = budget == Budget::OneWhileBusy && !self.events_rx.is_empty();
        let mut failures = Vec::new();
        let mut written = 0u64;
        for id in due {
            let Some(peer) = self.peers.get_mut(&id) else {
                continue;
            };
            if busy && peer.queue.is_blocked() && now < self.quiet_until {
                // Lines are waiting, and another fruitless retry was made
                // moments ago: this one can wait its turn.
                continue;
            }
            let slices: Vec<IoSlice<'_>> =
                peer.queue.slices().into_iter().map(IoSlice::new).collect();
            let result = write_once(&peer.stream, &slices);
            let now = Instant::now();
            let taken = match result {
                Ok(n) => n,
                Err(e) => {
                    failures.push((id, Failure::of(&e)));
                    continue;
                }
            };
            written += taken as u64;
            peer.queue.wrote(taken, now);
            peer.publish();
            if peer.queue.verdict(now, timeout).is_some() {
                failures.push((id, Failure::TooSlow));
            } else if close_if_done(peer) {
                self.peers.remove(&id);
                self.queued.remove(&id);
            } else if peer.queue.is_empty() {
                self.queued.remove(&id);
            }
            if taken == 0 && busy {
                self.quiet_until = now + PROBE_SPACING;
                break;
            }
        }
        self.shared.stats.bytes_out.fetch_add(written, Relaxed);
        for (id, failure) in failures {
            self.evict(id, failure);
        }
    }

    /// True while a client that is still reading is so far behind that the
    /// room should wait for it (see `SendQueue::holds_room`).
    pub(super) fn room_waits(&mut self) -> bool {
        let now = Instant::now();
        let high_water = self.limits.high_water;
        let mut waits = false;
        for id in &self.queued {
            if let Some(peer) = self.peers.get_mut(id) {
                if !peer.leaving {
                    waits |= peer.queue.holds_room(high_water, now);
                }
            }
        }
        waits
    }

    /// The earliest moment a send queue or a crowd summary needs attention.
    pub(super) fn next_check(&self) -> Option<Instant> {
        let queues = self.limits.write_timeout.and_then(|timeout| {
            self.queued
                .iter()
                .filter_map(|id| self.peers.get(id)?.queue.next_check(timeout))
                .min()
        });
        match (queues, self.members.next_due()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Sleeps until a send queue is due (briefly, if one already is).
    pub(super) fn sleep_until_due(&self) {
        let now = Instant::now();
        let wake = self.next_check().unwrap_or(now + Duration::from_millis(1));
        let nap = wake
            .saturating_duration_since(now)
            .clamp(Duration::from_micros(200), Duration::from_millis(50));
        thread::sleep(nap);
    }

    /// Disconnects a client that is too slow or whose connection broke.
    /// `shutdown(Both)` also wakes its reader, which then finds it already
    /// removed and just ends.
    pub(super) fn evict(&mut self, id: ClientId, failure: Failure) {
        self.queued.remove(&id);
        let Some(peer) = self.peers.remove(&id) else {
            return;
        };
        let _ = peer.stream.shutdown(Shutdown::Both);
        if !peer.leaving {
            self.forget_member(id, peer.room);
        }
        let Some(record) = self.shared.registry.remove(id) else {
            return;
        };
        let counter = match failure {
            Failure::TooSlow => &self.shared.stats.evicted_slow,
            Failure::Reset => &self.shared.stats.evicted_reset,
        };
        counter.fetch_add(1, Relaxed);
        self.shared
            .log
            .info(&format!("{} evicted ({})", record.name, failure.reason()));
        if !self.stopping && peer.announced {
            self.announce_leave(peer.room, &record.name, Some(failure.reason().to_string()));
        }
    }

    /// After the last batch: write out what waits in the send queues (every
    /// healthy client gets every line, then the goodbye), within a bound, then
    /// half-close every socket so the goodbye is followed by FIN. Readers end
    /// when their clients close; the server makes sure of the rest.
    pub(super) fn say_goodbye(&mut self) {
        self.stopping = true;
        // Everyone is leaving now: each socket is half-closed as soon as its
        // own queue is written, not when the slowest client's is.
        for peer in self.peers.values_mut() {
            peer.leaving = true;
        }
        let queued = &mut self.queued;
        self.peers.retain(|id, peer| {
            let done = close_if_done(peer);
            if done {
                queued.remove(id);
            }
            !done
        });
        if let Some(timeout) = self.limits.write_timeout {
            let deadline = Instant::now() + timeout + GOODBYE_GRACE;
            while !self.peers.is_empty() && Instant::now() < deadline {
                self.service(Budget::All);
                self.sleep_until_due();
            }
        }
        for peer in self.peers.values() {
            // Still unwritten after the deadline: cut it off.
            let _ = peer.stream.shutdown(Shutdown::Both);
        }
    }
}

/// One batch being written: what each recipient gets, and the outcome.
struct Batch<'a> {
    outbox: &'a super::outbox::Outbox,
    named: &'a [ClientId],
    /// Each room's common view, laid out once (a batch seldom speaks to
    /// more than a room or two, so a short list beats a map).
    common: Vec<(RoomId, Vec<(usize, usize)>)>,
    now: Instant,
    write_timeout: Option<Duration>,
    failures: Vec<(ClientId, Failure)>,
    written: u64,
}

impl Batch<'_> {
    /// Gives one recipient its part of the batch.
    fn give(&mut self, id: ClientId, peer: &mut Peer, queued: &mut HashSet<ClientId>) {
        let outbox = self.outbox;
        let tailored;
        let ranges: &[(usize, usize)] =
            if peer.sees_whole_batch() && self.named.binary_search(&id).is_err() {
                let index = match self.common.iter().position(|(room, _)| *room == peer.room) {
                    Some(index) => index,
                    None => {
                        let view = outbox.ranges_for(None, peer.room, 0, usize::MAX);
                        self.common.push((peer.room, view));
                        self.common.len() - 1
                    }
                };
                &self.common[index].1
            } else {
                tailored = outbox.ranges_for(Some(id), peer.room, peer.from, peer.to);
                &tailored
            };
        if ranges.is_empty() {
            return;
        }
        let parts: Vec<&[u8]> = ranges
            .iter()
            .map(|&(start, end)| &outbox.bytes[start..end])
            .collect();
        match deliver(peer, &parts, self.write_timeout, self.now) {
            Ok(n) => self.written += n as u64,
            Err(failure) => self.failures.push((id, failure)),
        }
        if !peer.queue.is_empty() {
            queued.insert(id);
        }
    }
}

/// Gives `parts` to one peer: written directly when nothing waits for it
/// (what the socket does not take joins its queue), queued behind what waits
/// otherwise. Returns how many bytes were written now.
fn deliver(
    peer: &mut Peer,
    parts: &[&[u8]],
    write_timeout: Option<Duration>,
    now: Instant,
) -> Result<usize, Failure> {
    let total: usize = parts.iter().map(|p| p.len()).sum();
    let mut slices: Vec<IoSlice<'_>> = parts.iter().map(|p| IoSlice::new(p)).collect();
    if write_timeout.is_none() {
        // DEMO MODE (--no-write-timeout): block until it is all written.
        return write_all_blocking(&peer.stream, &mut slices)
            .map(|()| total)
            .map_err(|e| Failure::of(&e));
    }
    let too_slow = |_: TooSlow| Failure::TooSlow;
    if !peer.queue.is_empty() {
        peer.queue.push(parts, now).map_err(too_slow)?;
        peer.publish();
        return Ok(0);
    }
    let taken = write_once(&peer.stream, &slices).map_err(|e| Failure::of(&e))?;
    if taken < total {
        // Queued first (waiting starts), then the write it came from is
        // recorded (it schedules the next try, and counts as progress if the
        // socket took anything).
        peer.queue
            .push(&skip(parts, taken), now)
            .map_err(too_slow)?;
        peer.queue.wrote_direct(taken, Instant::now());
        peer.publish();
    }
    Ok(taken)
}

/// What is left of `parts` after the first `n` bytes.
fn skip<'a>(parts: &[&'a [u8]], mut n: usize) -> Vec<&'a [u8]> {
    let mut rest = Vec::with_capacity(parts.len());
    for part in parts {
        if n >= part.len() {
            n -= part.len();
        } else {
            rest.push(&part[n..]);
            n = 0;
        }
    }
    rest
}

/// For a peer that has left: once nothing waits for it, half-close its socket
/// so its farewell is followed by FIN. True if it is done and can be dropped.
pub(super) fn close_if_done(peer: &Peer) -> bool {
    if peer.leaving && peer.queue.is_empty() {
        // Ignore errors: the client may be gone already.
        let _ = peer.stream.shutdown(Shutdown::Write);
        if peer.kicked {
            // Its reader may be blocked reading a client that will never
            // close (nc): shutting the read side makes that read return.
            let _ = peer.stream.shutdown(Shutdown::Read);
        }
        return true;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skip_cuts_across_parts() {
        let parts: [&[u8]; 3] = [b"ab", b"cde", b"f"];
        assert_eq!(skip(&parts, 0), parts.to_vec());
        assert_eq!(skip(&parts, 3), vec![&b"de"[..], b"f"]);
        assert_eq!(skip(&parts, 5), vec![&b"f"[..]]);
        assert!(skip(&parts, 6).is_empty());
    }
}
