//! The broadcaster: the only thread that writes to client sockets. It drains
//! the events channel in batches and lays each batch out once as shared bytes
//! ([`outbox`]), each line for its audience: a room, a client, everyone. Then
//! [`writer`] gives every recipient its part in one short (vectored) write;
//! what a socket does not take waits in that client's send queue ([`sendq`]),
//! so a stalled client costs the others a few milliseconds, not a timeout.
//! [`state`] holds the thread's state, [`limits`] its sizes and timings,
//! [`peers`] what it keeps about each client, [`members`] who is in which
//! room, [`history`] the last lines of each room.

mod history;
mod limits;
mod members;
mod outbox;
mod peers;
mod sendq;
mod state;
mod writer;

use std::collections::{HashMap, HashSet};
use std::io;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::Instant;

use crossbeam_channel::{bounded, Receiver, RecvTimeoutError, TryRecvError};

use crate::protocol::lines;

use super::event::Event;
use super::registry::ClientId;
use super::rooms::RoomId;
use super::shared::Shared;
use super::transcript::{Entry, Transcript};
use history::History;
use limits::{Budget, Limits, MAX_BATCH_EVENTS};
use members::{Members, Say};
use outbox::{Audience, Outbox};
use peers::Peer;
use sendq::SendQueue;
use state::Broadcaster;

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
        members: Members::new(shared.config.crowd),
        shared,
        events_rx,
        transcript,
        outbox: Outbox::default(),
        peers: HashMap::new(),
        queued: HashSet::new(),
        touched: Vec::new(),
        histories: HashMap::new(),
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

impl Broadcaster {
    /// Each turn: retry the send queues that are due and tell crowded rooms
    /// their summaries; take every event already waiting (up to a bound)
    /// unless a reading client is far behind; then write the batch out.
    /// While the broadcaster is busy writing, events pile up, so the busier
    /// the room, the bigger the batches and the fewer the syscalls per line.
    fn run(mut self) {
        loop {
            self.service(Budget::OneWhileBusy);
            self.tell_crowds(Instant::now());
            if self.outbox.is_empty() && self.room_waits() {
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
                    Err(true) => continue, // a queue or a summary is due
                    Err(false) => return,  // every sender is gone
                }
            } else {
                // Notices from the last turn are waiting: don't block.
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
    /// Anything from a client that is no longer present (it left, or was
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
                lines,
                entries,
            } => {
                if let Some(room) = self.room_of(from) {
                    self.count_deliveries(room, lines);
                    self.outbox.push(Audience::Room(room, Some(from)), &bytes);
                    self.keep_in_history(room, &bytes);
                    for entry in entries {
                        self.record(entry);
                    }
                }
            }
            Event::Action { from, line, entry } => {
                if let Some(room) = self.room_of(from) {
                    self.count_deliveries(room, 1);
                    self.outbox.push(Audience::Room(room, Some(from)), &line);
                    self.keep_in_history(room, &line);
                    self.record(entry);
                }
            }
            Event::Notice {
                except,
                line,
                entry,
            } => {
                // Renames: names are unique on the whole server, so everyone hears.
                if self.room_of(except).is_some() {
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
                if self.room_of(from).is_some() {
                    self.outbox.push(Audience::Only(to), &line);
                    if let Some(entry) = entry {
                        self.record(entry);
                    }
                }
            }
            Event::Moved {
                id,
                name,
                to,
                to_name,
            } => {
                // A batch gives each recipient one room's view; a client that
                // moves must get the old room's lines laid out so far and
                // the new room's from now on, so the batch so far goes out
                // first. Moves are rare; batches stay simple.
                self.flush();
                self.moved(id, &name, to, &to_name);
            }
            Event::Say { line } => self.outbox.push(Audience::All, &line),
            Event::Kick { id, reason } => self.kick(id, reason),
            Event::Record(entry) => self.record(entry),
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

    /// The room of a peer that has not left, or `None`.
    fn room_of(&self, id: ClientId) -> Option<RoomId> {
        self.peers
            .get(&id)
            .filter(|peer| !peer.leaving)
            .map(|peer| peer.room)
    }

    /// Counts what one chat or action event delivers: its `lines` times the
    /// others in the sender's room. Once per event, not per recipient: a rate
    /// to watch (the dashboard's deliveries/s), not an audit.
    fn count_deliveries(&self, room: RoomId, lines: u64) {
        let recipients = self.members.count(room).saturating_sub(1) as u64;
        self.shared
            .stats
            .deliveries
            .fetch_add(lines * recipients, Relaxed);
    }

    /// Starts writing to a client that has registered, in the lobby: its
    /// welcome first, so that is always its first line, then the lobby's
    /// history, if any.
    fn welcome(&mut self, id: ClientId, name: &str) {
        let Some((stream, meters)) = self.shared.registry.attach(id) else {
            return;
        };
        self.shared.stats.note_clients(self.shared.registry.len());
        let others = self.members.total();
        let from = self.outbox.seal();
        let welcome = lines::welcome(name, others, &self.shared.config.demo_modes());
        self.outbox.push(Audience::Only(id), &welcome);
        self.send_history(id, RoomId::LOBBY);
        let queue = SendQueue::new(self.limits.sendq, Instant::now());
        self.peers
            .insert(id, Peer::new(stream, meters, queue, RoomId::LOBBY, from));
        self.touched.push(id);
        self.members.enter(id, RoomId::LOBBY);
    }

    /// `* NAME joined`, to the others in the client's room (counted instead,
    /// in a crowded room).
    fn announce_join(&mut self, id: ClientId, name: &str) {
        let Some(room) = self.room_of(id) else {
            return;
        };
        if let Some(peer) = self.peers.get_mut(&id) {
            peer.announced = true;
        }
        if self.members.joined(room, Instant::now()) == Say::Now {
            self.outbox
                .push(Audience::Room(room, Some(id)), &lines::joined(name));
        }
        self.record(Entry::Join {
            name: name.to_string(),
        });
    }

    /// `* NAME left (REASON)`, to the room the client was in (counted
    /// instead, in a crowded room).
    fn announce_leave(&mut self, room: RoomId, name: &str, reason: Option<String>) {
        if self.members.left(room, Instant::now()) == Say::Now {
            self.outbox.push(
                Audience::Room(room, None),
                &lines::left(name, reason.as_deref()),
            );
        }
        self.record(Entry::Leave {
            name: name.to_string(),
            reason,
        });
    }

    /// A peer stops being a member of its room (it left, was kicked or
    /// evicted); a room left empty loses its history.
    fn forget_member(&mut self, id: ClientId, room: RoomId) {
        if self.members.leave(id, room) && room != RoomId::LOBBY {
            self.histories.remove(&room);
        }
    }

    /// Ends a peer's part in the batch after what was laid out so far (its
    /// farewell, if any): it gets nothing more, and it is no room's member.
    fn close_window(&mut self, id: ClientId) -> Option<RoomId> {
        let end = self.outbox.seal();
        let peer = self.peers.get_mut(&id)?;
        peer.to = end;
        peer.leaving = true;
        self.touched.push(id);
        let room = peer.room;
        self.forget_member(id, room);
        Some(room)
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
        if let Some(room) = self.close_window(id) {
            if announced {
                self.announce_leave(room, &record.name, reason);
            }
        }
    }

    /// Disconnects a client the console kicked: its last line, then FIN; its
    /// room is told why. Its reader, which may be waiting in a read, is woken
    /// once the line is written (see `writer::close_if_done`).
    fn kick(&mut self, id: ClientId, reason: Option<String>) {
        if self.room_of(id).is_none() {
            return;
        }
        let Some(record) = self.shared.registry.remove(id) else {
            return;
        };
        self.outbox
            .push(Audience::Only(id), &lines::kicked(reason.as_deref()));
        let announced = self.peers.get_mut(&id).is_some_and(|peer| {
            peer.kicked = true;
            peer.announced
        });
        if let Some(room) = self.close_window(id) {
            self.shared.stats.kicked.fetch_add(1, Relaxed);
            self.shared.log.info(&format!("{} kicked", record.name));
            if announced {
                let reason = lines::kick_reason(reason.as_deref());
                self.announce_leave(room, &record.name, Some(reason));
            }
        }
    }

    /// A client moved rooms (`/join`, the console's `move`): the room it left
    /// hears `* NAME left (went to ROOM)`, the room it entered `* NAME
    /// joined`, and it hears `* you are now in ROOM`, then that room's history.
    fn moved(&mut self, id: ClientId, name: &str, to: RoomId, to_name: &str) {
        let Some(from) = self.room_of(id) else {
            return;
        };
        let now = Instant::now();
        self.forget_member(id, from);
        if self.members.left(from, now) == Say::Now {
            let went = lines::went_to(to_name);
            self.outbox
                .push(Audience::Room(from, None), &lines::left(name, Some(&went)));
        }
        if let Some(peer) = self.peers.get_mut(&id) {
            peer.room = to;
        }
        self.members.enter(id, to);
        if self.members.joined(to, now) == Say::Now {
            self.outbox
                .push(Audience::Room(to, Some(id)), &lines::joined(name));
        }
        self.outbox
            .push(Audience::Only(id), &lines::you_are_in(to_name));
        self.send_history(id, to);
        self.record(Entry::Move {
            name: name.to_string(),
            room: to_name.to_string(),
        });
    }

    /// A room's history, to one client, between its two notices.
    fn send_history(&mut self, id: ClientId, room: RoomId) {
        let Some(history) = self.histories.get(&room).filter(|h| h.len() > 0) else {
            return;
        };
        self.outbox
            .push(Audience::Only(id), &lines::history_start(history.len()));
        for line in history.lines() {
            self.outbox.push(Audience::Only(id), line);
        }
        self.outbox.push(Audience::Only(id), &lines::history_end());
    }

    fn keep_in_history(&mut self, room: RoomId, bytes: &[u8]) {
        let capacity = self.shared.config.history;
        if capacity > 0 {
            self.histories
                .entry(room)
                .or_insert_with(|| History::new(capacity))
                .keep(bytes);
        }
    }

    /// Tells each crowded room whose second is up who came and went.
    fn tell_crowds(&mut self, now: Instant) {
        for (room, joined, left, here) in self.members.due(now) {
            self.outbox.push(
                Audience::Room(room, None),
                &lines::crowd(joined, left, here),
            );
        }
    }
}
