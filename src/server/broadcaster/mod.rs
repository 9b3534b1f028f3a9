//! The broadcaster: the only thread that writes to client sockets. It drains
//! the events channel in batches, lays each batch out once as shared bytes
//! ([`outbox`]), and writes every peer its part in one (vectored) write with
//! a deadline ([`peers`] holds what it keeps about each client).

mod outbox;
mod peers;

use std::collections::HashMap;
use std::io::{self, IoSlice};
use std::net::Shutdown;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::Instant;

use crossbeam_channel::{bounded, Receiver, RecvTimeoutError, TryRecvError};

use crate::protocol::lines;

use super::event::Event;
use super::registry::ClientId;
use super::shared::Shared;
use super::socket::{write_all_before, Failure};
use super::transcript::{Entry, Transcript};
use outbox::{Audience, Outbox};
use peers::Peer;

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
        shared,
        events_rx,
        transcript,
        outbox: Outbox::default(),
        peers: HashMap::new(),
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
}

impl Broadcaster {
    /// Each turn: handle every event already waiting (up to a bound), then
    /// write the batch out. While the broadcaster is busy writing, events pile
    /// up, so the busier the room, the bigger the batches and the fewer the
    /// syscalls per line.
    fn run(mut self) {
        loop {
            let first = if self.outbox.is_empty() {
                match self.events_rx.recv() {
                    Ok(event) => Some(event),
                    Err(_) => return,
                }
            } else {
                // Eviction notices from the last batch are waiting: don't block.
                None
            };
            let mut stop = false;
            let mut next = first;
            loop {
                if let Some(event) = next.take() {
                    stop = self.handle(event);
                }
                if stop
                    || self.outbox.bytes.len() >= MAX_BATCH_BYTES
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
        if let Some(transcript) = &mut self.transcript {
            transcript.record(&entry);
        }
    }

    /// Lays one event out in the batch. Returns true for shutdown.
    fn handle(&mut self, event: Event) -> bool {
        match event {
            Event::Joined { id, name } => self.join(id, &name),
            Event::Chat {
                from,
                bytes,
                entries,
            } => {
                self.outbox.push(Audience::AllExcept(from), &bytes);
                for entry in entries {
                    self.record(entry);
                }
            }
            Event::Notice {
                except,
                line,
                entry,
            } => {
                self.outbox.push(Audience::AllExcept(except), &line);
                self.record(entry);
            }
            Event::Direct { to, line, entry } => {
                self.outbox.push(Audience::Only(to), &line);
                if let Some(entry) = entry {
                    self.record(entry);
                }
            }
            Event::Leave {
                id,
                reason,
                farewell,
            } => self.leave(id, reason, farewell),
            Event::Shutdown => {
                self.outbox.push(Audience::All, &lines::shutting_down());
                self.record(Entry::Shutdown);
                return true;
            }
        }
        false
    }

    /// Starts writing to a client that has registered: its welcome first, so
    /// that is always its first line, then `joined` to the others.
    fn join(&mut self, id: ClientId, name: &str) {
        let Some((stream, _)) = self.shared.registry.attach(id) else {
            return;
        };
        self.shared.stats.note_clients(self.shared.registry.len());
        let others = self.peers.values().filter(|p| !p.leaving).count();
        let from = self.outbox.seal();
        let welcome = lines::welcome(name, others, &self.shared.config.demo_modes());
        self.outbox.push(Audience::Only(id), &welcome);
        self.outbox
            .push(Audience::AllExcept(id), &lines::joined(name));
        self.peers.insert(id, Peer::new(stream, from));
        self.record(Entry::Join {
            name: name.to_string(),
        });
    }

    /// Removes a client that is leaving of its own accord (or whose reader saw
    /// the connection end). If it was already evicted, there is nothing to do.
    fn leave(&mut self, id: ClientId, reason: Option<String>, farewell: Option<Vec<u8>>) {
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
        self.announce_leave(&record.name, reason);
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
    /// tailored vectored write to the few others. Clients that fail are evicted,
    /// and the notices about them start the next batch.
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
        let timeout = self.shared.config.write_timeout;
        let mut failures = Vec::new();
        let mut written = 0u64;
        for (&id, peer) in &self.peers {
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
            let mut slices: Vec<IoSlice<'_>> = ranges
                .iter()
                .map(|&(start, end)| IoSlice::new(&outbox.bytes[start..end]))
                .collect();
            match write_all_before(&peer.stream, &mut slices, timeout) {
                Ok(()) => written += ranges.iter().map(|(s, e)| (e - s) as u64).sum::<u64>(),
                Err(e) => failures.push((id, Failure::of(&e))),
            }
        }
        self.shared.stats.bytes_out.fetch_add(written, Relaxed);
        self.outbox.clear();
        self.peers.retain(|_, peer| {
            if peer.leaving {
                // The farewell (if any) is out: FIN follows it. Ignore errors,
                // the peer may be gone already.
                let _ = peer.stream.shutdown(Shutdown::Write);
                return false;
            }
            peer.next_batch();
            true
        });
        for (id, failure) in failures {
            self.evict(id, failure);
        }
    }

    /// Disconnects a client whose write failed. `shutdown(Both)` also wakes its
    /// reader, which then finds it already removed and just ends.
    fn evict(&mut self, id: ClientId, failure: Failure) {
        self.peers.remove(&id);
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
        self.announce_leave(&record.name, Some(failure.reason().to_string()));
    }

    /// After the last batch: half-close every socket so the goodbye is followed
    /// by FIN. Readers end when their clients close; the server makes sure of
    /// the rest.
    fn say_goodbye(&mut self) {
        for peer in self.peers.values() {
            let _ = peer.stream.shutdown(Shutdown::Write);
        }
    }
}
