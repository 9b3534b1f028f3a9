//! The broadcaster: the only thread that writes to client sockets. It drains
//! the events channel in batches, lays each batch out once as shared bytes
//! ([`outbox`]), and gives every peer its part in one short (vectored) write;
//! what a socket does not take waits in that client's send queue ([`sendq`]),
//! so a stalled client costs the others a few milliseconds, not a timeout.
//! [`peers`] holds what it keeps about each client.

mod history;
mod outbox;
mod peers;
mod sendq;

use std::collections::HashMap;
use std::io::{self, IoSlice};
use std::net::Shutdown;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crossbeam_channel::{bounded, Receiver, RecvTimeoutError, TryRecvError};

use crate::protocol::lines;

use super::event::Event;
use super::registry::ClientId;
use super::shared::Shared;
use super::socket::{write_all_blocking, write_once, Failure};
use super::transcript::{Entry, Transcript};
use history::History;
use outbox::{Audience, Outbox};
use peers::Peer;
use sendq::SendQueue;

/// Most events handled in one batch, and the size past which a batch is
/// written out: big batches mean few syscalls, bounded ones mean bounded memory.
const MAX_BATCH_EVENTS: usize = 4096;
const MAX_BATCH_BYTES: usize = 256 * 1024;

/// The running broadcaster thread.
#[derive(Debug)]
pub(crate) struct BroadcasterHandle {
    thread: JoinHandle<()>,
    /// Never sent on: the thread drops its end when it ends, so the server can
    /// wait for that with a deadline.
    finished_rx: Receiver<()>,
}

impl BroadcasterHandle {
    /// Waits until the thread has ended or `deadline` passes; true if it ended.
    pub(crate) fn finished_by(&self, deadline: Instant) -> bool {
        !matches!(
            self.finished_rx.recv_deadline(deadline),
            Err(RecvTimeoutError::Timeout)
        )
    }

    /// Waits for the thread to end.
    pub(crate) fn join(self) {
        let _ = self.thread.join();
    }
}

/// Starts the broadcaster. It runs until it handles [`Event::Shutdown`] or
/// every sender of `events_rx` is gone.
///
/// # Errors
/// The thread could not be started.
pub(crate) fn spawn(
    shared: Arc<Shared>,
    events_rx: Receiver<Event>,
    transcript: Option<Transcript>,
) -> io::Result<BroadcasterHandle> {
    let (finished_tx, finished_rx) = bounded::<()>(0);
    let broadcaster = Broadcaster {
        limits: Limits::new(shared.config.sendq_bytes, shared.config.write_timeout),
        history: History::new(shared.config.history),
        shared,
        events_rx,
        transcript,
        outbox: Outbox::default(),
        peers: HashMap::new(),
        turn: 0,
        stopping: false,
        quiet_until: Instant::now(),
    };
    let thread = thread::Builder::new()
        .name("broadcaster".to_string())
        .spawn(move || {
            let _finished = finished_tx;
            broadcaster.run();
        })?;
    Ok(BroadcasterHandle {
        thread,
        finished_rx,
    })
}

/// The broadcaster thread's state.
#[derive(Debug)]
struct Broadcaster {
    shared: Arc<Shared>,
    events_rx: Receiver<Event>,
    transcript: Option<Transcript>,
    outbox: Outbox,
    /// Everyone it writes to, from their welcome until they leave. Kept across
    /// batches, so a batch never has to ask the registry who is there.
    peers: HashMap<ClientId, Peer>,
    /// The per-client send queues' limits (see [`Limits`]).
    limits: Limits,
    /// The last public lines, for newcomers (`--history`).
    history: History,
    /// Counts turns, so fruitless retries start with a different client each time.
    turn: usize,
    /// Set once the goodbye is written: evictions are then silent.
    stopping: bool,
    /// While lines are waiting, no fruitless retry before this moment.
    quiet_until: Instant,
}

/// Sizes derived from `--sendq-bytes`, and the write timeout.
#[derive(Debug, Clone, Copy)]
struct Limits {
    /// Most bytes waiting for one client.
    sendq: usize,
    /// Over this, a client that is still reading makes the room wait for it.
    high_water: usize,
    /// A batch is written out once it holds this many bytes. A quarter of the
    /// send queue, so a client under the high-water mark always has room for
    /// one more batch: a healthy client is never evicted for one big batch.
    batch_bytes: usize,
    /// `None`: the demo mode, blocking writes and no queues.
    write_timeout: Option<Duration>,
}

impl Limits {
    fn new(sendq: usize, write_timeout: Option<Duration>) -> Limits {
        Limits {
            sendq,
            high_water: sendq / 2,
            batch_bytes: (sendq / 4).clamp(1, MAX_BATCH_BYTES),
            write_timeout,
        }
    }
}

/// How many fruitless retries one servicing of the queues may make.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Budget {
    /// Stop after the first fruitless retry if events are waiting: each costs
    /// one short write timeout, and new lines must not wait behind many.
    OneWhileBusy,
    /// Try every queue that is due (shutting down, or the room is waiting anyway).
    All,
}

impl Broadcaster {
    /// Each turn: retry the send queues that are due; take every event already
    /// waiting (up to a bound) unless a reading client is far behind; then
    /// write the batch out. While the broadcaster is busy writing, events pile
    /// up, so the busier the room, the bigger the batches and the fewer the
    /// syscalls per line.
    fn run(mut self) {
        loop {
            self.service(Budget::OneWhileBusy);
            if self.room_waits() {
                // Like a blocking write, but only for a client that is reading:
                // take no new events until it catches up.
                self.service(Budget::All);
                self.sleep_until_due();
                continue;
            }
            let first = if self.outbox.is_empty() {
                let event = match self.next_check() {
                    Some(at) => self.events_rx.recv_deadline(at).map_err(|e| e.is_timeout()),
                    None => self.events_rx.recv().map_err(|_| false),
                };
                match event {
                    Ok(event) => Some(event),
                    Err(true) => continue, // a queue is due: service it
                    Err(false) => return,  // every sender is gone
                }
            } else {
                // Eviction notices from the last turn are waiting: don't block.
                None
            };
            let mut stop = false;
            let mut next = first;
            loop {
                if let Some(event) = next.take() {
                    stop = self.handle(event);
                }
                if stop
                    || self.outbox.bytes.len() >= self.limits.batch_bytes
                    || self.outbox.segments.len() >= MAX_BATCH_EVENTS
                {
                    break;
                }
                match self.events_rx.try_recv() {
                    Ok(event) => next = Some(event),
                    Err(TryRecvError::Empty) => break,
                    Err(TryRecvError::Disconnected) => {
                        stop = true;
                        break;
                    }
                }
            }
            self.flush();
            if stop {
                self.say_goodbye();
                return;
            }
        }
    }

    fn record(&mut self, entry: Entry) {
        self.shared.recent.push(&entry);
        if let Some(transcript) = &mut self.transcript {
            transcript.record(&entry);
        }
    }

    /// Lays one event out in the batch. Returns true for shutdown.
    ///
    /// Anything from a client that is no longer a peer (it left, or was
    /// evicted) is dropped: once the others have read `* NAME left`, nothing
    /// more of NAME may reach them.
    fn handle(&mut self, event: Event) -> bool {
        match event {
            Event::Welcome { id, name, announce } => {
                self.welcome(id, &name);
                if announce {
                    self.announce_join(id, &name);
                }
            }
            Event::Joined { id, name } => self.announce_join(id, &name),
            Event::Chat {
                from,
                bytes,
                entries,
            } => {
                if self.is_present(from) {
                    self.count_deliveries(&bytes);
                    self.outbox.push(Audience::AllExcept(from), &bytes);
                    self.history.keep(&bytes);
                    for entry in entries {
                        self.record(entry);
                    }
                }
            }
            Event::Action { from, line, entry } => {
                if self.is_present(from) {
                    self.count_deliveries(&line);
                    self.outbox.push(Audience::AllExcept(from), &line);
                    self.history.keep(&line);
                    self.record(entry);
                }
            }
            Event::Say { line } => self.outbox.push(Audience::All, &line),
            Event::Kick { id, reason } => self.kick(id, reason),
            Event::Record(entry) => self.record(entry),
            Event::Notice {
                except,
                line,
                entry,
            } => {
                if self.is_present(except) {
                    self.outbox.push(Audience::AllExcept(except), &line);
                    self.record(entry);
                }
            }
            Event::Direct {
                from,
                to,
                line,
                entry,
            } => {
                if self.is_present(from) {
                    self.outbox.push(Audience::Only(to), &line);
                    if let Some(entry) = entry {
                        self.record(entry);
                    }
                }
            }
            Event::Leave {
                id,
                reason,
                farewell,
                announced,
            } => self.leave(id, reason, farewell, announced),
            Event::Shutdown => {
                self.outbox.push(Audience::All, &lines::shutting_down());
                self.record(Entry::Shutdown);
                return true;
            }
        }
        false
    }

    /// `* NAME joined`, to everyone else.
    fn announce_join(&mut self, id: ClientId, name: &str) {
        if self.is_present(id) {
            self.outbox
                .push(Audience::AllExcept(id), &lines::joined(name));
            self.record(Entry::Join {
                name: name.to_string(),
            });
        }
    }

    /// Counts what one chat or action event delivers: its lines times the
    /// peers it goes to, everyone but the sender. Once per event, not per
    /// recipient; peers still draining after they left count too, so this is
    /// a rate to watch (the dashboard's deliveries/s), not an audit.
    fn count_deliveries(&self, bytes: &[u8]) {
        let lines = bytes.iter().filter(|&&b| b == b'\n').count() as u64;
        let recipients = self.peers.len().saturating_sub(1) as u64;
        self.shared
            .stats
            .deliveries
            .fetch_add(lines * recipients, Relaxed);
    }

    /// True while `id` is a peer that has not left.
    fn is_present(&self, id: ClientId) -> bool {
        self.peers.get(&id).is_some_and(|peer| !peer.leaving)
    }

    /// Starts writing to a client that has registered: its welcome first, so
    /// that is always its first line.
    fn welcome(&mut self, id: ClientId, name: &str) {
        let Some((stream, meters)) = self.shared.registry.attach(id) else {
            return;
        };
        self.shared.stats.note_clients(self.shared.registry.len());
        let others = self.peers.values().filter(|p| !p.leaving).count();
        let from = self.outbox.seal();
        let welcome = lines::welcome(name, others, &self.shared.config.demo_modes());
        self.outbox.push(Audience::Only(id), &welcome);
        if self.history.len() > 0 {
            self.outbox.push(
                Audience::Only(id),
                &lines::history_start(self.history.len()),
            );
            for line in self.history.lines() {
                self.outbox.push(Audience::Only(id), line);
            }
            self.outbox.push(Audience::Only(id), &lines::history_end());
        }
        let queue = SendQueue::new(self.limits.sendq, Instant::now());
        self.peers
            .insert(id, Peer::new(stream, meters, queue, from));
    }

    /// Removes a client that is leaving of its own accord (or whose reader saw
    /// the connection end). If it was already evicted, there is nothing to do;
    /// if it was never announced, nobody is told it left.
    fn leave(
        &mut self,
        id: ClientId,
        reason: Option<String>,
        farewell: Option<Vec<u8>>,
        announced: bool,
    ) {
        let Some(record) = self.shared.registry.remove(id) else {
            return;
        };
        if let Some(farewell) = farewell {
            self.outbox.push(Audience::Only(id), &farewell);
        }
        let end = self.outbox.seal();
        if let Some(peer) = self.peers.get_mut(&id) {
            peer.to = end;
            peer.leaving = true;
        }
        if announced {
            self.announce_leave(&record.name, reason);
        }
    }

    /// Disconnects a client the console kicked: its last line, then FIN; the
    /// others are told why. Its reader, which may be waiting in a read, is
    /// woken once the line is written (see [`close_if_done`]).
    fn kick(&mut self, id: ClientId, reason: Option<String>) {
        if !self.is_present(id) {
            return;
        }
        let Some(record) = self.shared.registry.remove(id) else {
            return;
        };
        self.outbox
            .push(Audience::Only(id), &lines::kicked(reason.as_deref()));
        let end = self.outbox.seal();
        if let Some(peer) = self.peers.get_mut(&id) {
            peer.to = end;
            peer.leaving = true;
            peer.kicked = true;
        }
        self.shared.stats.kicked.fetch_add(1, Relaxed);
        self.shared.log.info(&format!("{} kicked", record.name));
        self.announce_leave(&record.name, Some(lines::kick_reason(reason.as_deref())));
    }

    fn announce_leave(&mut self, name: &str, reason: Option<String>) {
        self.outbox
            .push(Audience::All, &lines::left(name, reason.as_deref()));
        self.record(Entry::Leave {
            name: name.to_string(),
            reason,
        });
    }

    /// Writes the batch: the common bytes to every peer no segment names, a
    /// tailored view to the few others. A peer whose queue is empty gets one
    /// direct write, and what its socket does not take joins its queue; a peer
    /// with bytes already waiting gets the batch queued behind them, without a
    /// write. Clients that fail are evicted, and the notices about them start
    /// the next batch.
    fn flush(&mut self) {
        let outbox = &self.outbox;
        if outbox.is_empty() {
            return;
        }
        let mut named: Vec<ClientId> = outbox
            .segments
            .iter()
            .filter_map(|s| match s.audience {
                Audience::All => None,
                Audience::AllExcept(id) | Audience::Only(id) => Some(id),
            })
            .collect();
        named.sort_unstable();
        named.dedup();
        let common = outbox.ranges_for(None, 0, usize::MAX);
        let now = Instant::now();
        let mut failures = Vec::new();
        let mut written = 0u64;
        for (&id, peer) in &mut self.peers {
            let tailored;
            let ranges = if peer.sees_whole_batch() && named.binary_search(&id).is_err() {
                &common
            } else {
                tailored = outbox.ranges_for(Some(id), peer.from, peer.to);
                &tailored
            };
            if ranges.is_empty() {
                continue;
            }
            let parts: Vec<&[u8]> = ranges
                .iter()
                .map(|&(start, end)| &outbox.bytes[start..end])
                .collect();
            match deliver(peer, &parts, self.limits.write_timeout, now) {
                Ok(n) => written += n as u64,
                Err(failure) => failures.push((id, failure)),
            }
        }
        self.shared.stats.bytes_out.fetch_add(written, Relaxed);
        self.outbox.clear();
        self.peers.retain(|_, peer| {
            peer.next_batch();
            !close_if_done(peer)
        });
        for (id, failure) in failures {
            self.evict(id, failure);
        }
    }

    /// Retries the send queues that are due, and evicts the clients that are
    /// too slow. See [`Budget`] for how many fruitless retries it makes.
    fn service(&mut self, budget: Budget) {
        let now = Instant::now();
        let timeout = self.limits.write_timeout.unwrap_or(Duration::MAX);
        let mut due: Vec<ClientId> = self
            .peers
            .iter()
            .filter(|(_, p)| p.queue.next_check(timeout).is_some_and(|at| at <= now))
            .map(|(&id, _)| id)
            .collect();
        if due.is_empty() {
            return;
        }
        due.sort_unstable();
        self.turn = self.turn.wrapping_add(1);
        let start = self.turn % due.len();
        due.rotate_left(start);
        let mut failures = Vec::new();
        let mut written = 0u64;
        let busy = budget == Budget::OneWhileBusy && !self.events_rx.is_empty();
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
            }
            if taken == 0 && budget == Budget::OneWhileBusy && !self.events_rx.is_empty() {
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
    /// room should wait for it (see [`SendQueue::holds_room`]).
    fn room_waits(&mut self) -> bool {
        let now = Instant::now();
        let high_water = self.limits.high_water;
        let mut waits = false;
        for peer in self.peers.values_mut() {
            if !peer.queue.is_empty() && !peer.leaving {
                waits |= peer.queue.holds_room(high_water, now);
            }
        }
        waits
    }

    /// The earliest moment a send queue needs attention.
    fn next_check(&self) -> Option<Instant> {
        let timeout = self.limits.write_timeout?;
        self.peers
            .values()
            .filter_map(|p| p.queue.next_check(timeout))
            .min()
    }

    /// Sleeps until a send queue is due (briefly, if one already is).
    fn sleep_until_due(&self) {
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
    fn evict(&mut self, id: ClientId, failure: Failure) {
        let peer = self.peers.remove(&id);
        if let Some(peer) = &peer {
            let _ = peer.stream.shutdown(Shutdown::Both);
        }
        let Some(record) = self.shared.registry.remove(id) else {
            return;
        };
        let _ = record.stream.shutdown(Shutdown::Both);
        let counter = match failure {
            Failure::TooSlow => &self.shared.stats.evicted_slow,
            Failure::Reset => &self.shared.stats.evicted_reset,
        };
        counter.fetch_add(1, Relaxed);
        self.shared
            .log
            .info(&format!("{} evicted ({})", record.name, failure.reason()));
        if !self.stopping {
            self.announce_leave(&record.name, Some(failure.reason().to_string()));
        }
    }

    /// After the last batch: write out what waits in the send queues (every
    /// healthy client gets every line, then the goodbye), within a bound, then
    /// half-close every socket so the goodbye is followed by FIN. Readers end
    /// when their clients close; the server makes sure of the rest.
    fn say_goodbye(&mut self) {
        self.stopping = true;
        // Everyone is leaving now: each socket is half-closed as soon as its
        // own queue is written, not when the slowest client's is.
        for peer in self.peers.values_mut() {
            peer.leaving = true;
        }
        self.peers.retain(|_, peer| !close_if_done(peer));
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

/// While lines are waiting to be relayed, at most one fruitless retry (one
/// that costs a whole short write timeout, a few ms) per this interval: the
/// room's lines come first, and a stalled client's queue can wait.
const PROBE_SPACING: Duration = Duration::from_millis(100);

/// After the write timeout, how much longer the goodbye may take: a client
/// still reading a trickle then loses the rest.
const GOODBYE_GRACE: Duration = Duration::from_millis(500);

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
    if !peer.queue.is_empty() {
        peer.queue.push(parts, now).map_err(|_| Failure::TooSlow)?;
        peer.publish();
        return Ok(0);
    }
    let taken = write_once(&peer.stream, &slices).map_err(|e| Failure::of(&e))?;
    if taken < total {
        peer.queue.wrote_direct(taken, Instant::now());
        peer.queue
            .push(&skip(parts, taken), now)
            .map_err(|_| Failure::TooSlow)?;
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
fn close_if_done(peer: &Peer) -> bool {
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

    /// A client just under the high-water mark has room for one more batch,
    /// even one that overshoots by a whole event, at the smallest send queue
    /// the flags allow (see `ServerConfig::min_sendq_bytes`).
    #[test]
    fn a_batch_always_fits_above_the_high_water_mark() {
        for max_line in [64, 1024, 64 * 1024] {
            let config = crate::config::ServerConfig {
                max_line_bytes: max_line,
                ..Default::default()
            };
            let sendq = config.min_sendq_bytes();
            let limits = Limits::new(sendq, Some(Duration::from_secs(1)));
            let biggest_event = crate::config::MAX_EVENT_BYTES + max_line;
            assert!(limits.high_water + limits.batch_bytes + biggest_event <= limits.sendq);
            assert!(limits.batch_bytes <= MAX_BATCH_BYTES);
        }
    }
}
