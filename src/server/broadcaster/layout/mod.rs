//! What each event means for whom: the broadcaster's *layout*. For each
//! event it decides which room's log to append to, what to send to one
//! client alone, who the others are told joined or left, and what the
//! recorder gets; [`Tell`] carries that out (the rooms' logs in the
//! [`Fanout`], the presence rules, the recorder), and the fan-out then
//! writes. A client the fan-out had to evict comes back as an
//! [`Eviction`], announced here like any departure. Sessions (holds,
//! tokens, resumes, a restart taken back) are [`Sessions`]'.

mod sessions;
mod tell;

use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::fanout::{Eviction, Fanout};
use super::presence::Say;
use super::restart::Restart;
use super::roomlog::Kind;
use crate::protocol::lines;
use crate::server::client::ClientId;
use crate::server::event::{Event, MovedBy};
use crate::server::recorder::{Entry, Recorder};
use crate::server::rooms::RoomId;
use crate::server::shared::Shared;
use crate::server::socket::Failure;
use sessions::Sessions;
use tell::Tell;

/// The broadcaster's decisions and the state they need.
#[derive(Debug)]
pub(super) struct Layout {
    shared: Arc<Shared>,
    /// The rooms' logs, the peers, who was told about whom, the recorder:
    /// where each decision is carried out.
    tell: Tell,
    /// When held sessions run out.
    sessions: Sessions,
    /// Set once the goodbye is appended: evictions are then silent.
    stopping: bool,
}

impl Layout {
    /// The layout of a server with `shared`'s settings.
    pub(super) fn new(shared: Arc<Shared>, recorder: Recorder, fanout: Fanout) -> Layout {
        Layout {
            sessions: Sessions::new(shared.config.hold),
            tell: Tell::new(shared.clone(), recorder, fanout),
            shared,
            stopping: false,
        }
    }

    /// Takes back what a previous run left (see [`Restart`]).
    pub(super) fn restore(&mut self, restart: Restart) {
        self.sessions.restore(restart, &mut self.tell);
    }

    /// True while lines appended or queued this turn wait to be written.
    pub(super) fn has_unflushed(&self) -> bool {
        self.tell.fanout.has_unflushed()
    }

    /// Bytes appended and queued since the batch began: the loop ends a
    /// batch early once they pass `Limits::batch_bytes`.
    pub(super) fn batch_bytes(&self) -> usize {
        self.tell.batch_bytes
    }

    /// A new batch begins: its bytes are counted from zero.
    pub(super) fn new_batch(&mut self) {
        self.tell.batch_bytes = 0;
    }

    /// When the loop must look again at the latest: a client behind is due,
    /// a crowded room's second is up, or a held session may run out.
    pub(super) fn next_look(&self) -> Option<Instant> {
        [
            self.tell.fanout.next_check(),
            self.tell.presence.next_due(),
            self.sessions.next_expiry(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// What time alone brings: retries due, crowded rooms told, held
    /// sessions run out.
    pub(super) fn tick(&mut self, now: Instant) {
        self.service(now);
        self.tell.tell_crowds(now);
        self.sessions.expire(now, &self.shared, &mut self.tell);
    }

    /// Writes again to the clients that are behind and due, and announces
    /// those it had to evict.
    pub(super) fn service(&mut self, now: Instant) {
        let evicted = self.tell.fanout.service(now);
        self.announce_evictions(evicted);
    }

    /// Writes what the batch appended and queued, and announces evictions.
    pub(super) fn flush(&mut self, now: Instant) {
        let evicted = self.tell.fanout.flush(now);
        self.announce_evictions(evicted);
    }

    /// After the goodbye: everyone gets what they are due, then FIN.
    pub(super) fn goodbye(&mut self, grace: Duration) {
        self.stopping = true;
        self.tell.fanout.goodbye(grace);
    }

    /// Lays one event out. Returns true for shutdown.
    ///
    /// Anything from a client that is no longer present (it left, or was
    /// evicted) is dropped: once the others have read `* NAME left`, nothing
    /// more of NAME may reach them.
    pub(super) fn handle(&mut self, event: Event) -> bool {
        match event {
            Event::Welcome { id, name, announce } => {
                self.welcome(id, &name);
                if announce {
                    self.tell.announce_join(id, &name);
                }
            }
            Event::Joined { id, name } => self.tell.announce_join(id, &name),
            Event::Chat {
                from,
                bytes,
                lines,
                entries,
            } => {
                if let Some(room) = self.tell.fanout.room_of(from) {
                    self.tell.count_deliveries(room, lines);
                    let first =
                        self.tell
                            .append(room, &bytes, lines as u32, Some(from), Kind::Public);
                    for (i, entry) in entries.into_iter().enumerate() {
                        self.tell
                            .record(entry, Some(room), first.map(|seq| seq + i as u64));
                    }
                }
            }
            Event::Action { from, line, entry } => {
                if let Some(room) = self.tell.fanout.room_of(from) {
                    self.tell.count_deliveries(room, 1);
                    let seq = self.tell.append(room, &line, 1, Some(from), Kind::Public);
                    self.tell.record(entry, Some(room), seq);
                }
            }
            Event::Notice {
                except,
                line,
                entry,
            } => {
                // Renames: names are unique on the whole server, so everyone hears.
                if self.tell.fanout.room_of(except).is_some() {
                    let rooms = self
                        .tell
                        .append_everywhere(&line, Some(except), Kind::Notice);
                    // The largest number it took: a restarted server goes
                    // on counting past it (see `recorder/reload.rs`).
                    let last = rooms.iter().map(|&(_, seq)| seq).max();
                    self.tell.record(entry, None, last);
                }
            }
            Event::Direct {
                from,
                to,
                line,
                entry,
            } => {
                if self.tell.fanout.room_of(from).is_some() {
                    self.send_to(to, &line);
                    if let Some(entry) = entry {
                        self.tell.record(entry, None, None);
                    }
                }
            }
            Event::Moved {
                id,
                by,
                name,
                to,
                to_name,
            } => self.moved(id, &name, (to, to_name), by),
            Event::Say { line, text } => {
                let rooms = self.tell.append_everywhere(&line, None, Kind::Public);
                // Recorded for each room, in its place: a restarted server
                // gives it back to the room's history.
                for (room, seq) in rooms {
                    let entry = Entry::Say { text: text.clone() };
                    self.tell.record(entry, Some(room), Some(seq));
                }
            }
            Event::Kick {
                id,
                reason,
                banned_for,
            } => self.kick(id, reason, banned_for),
            Event::Record(entry) => self.tell.record(entry, None, None),
            Event::Leave {
                id,
                reason,
                farewell,
                may_come_back,
            } => self.leave(id, reason, farewell, may_come_back),
            Event::Session { id, token, name } => {
                self.sessions.start(id, token, &name, &mut self.tell);
            }
            Event::Resume {
                id,
                token,
                last,
                resumed,
                was,
            } => {
                let (shared, tell) = (&self.shared, &mut self.tell);
                self.sessions
                    .resume((id, &was), (token, last), resumed, shared, tell);
            }
            Event::Shutdown => {
                let goodbye = lines::shutting_down();
                let rooms = self.tell.append_everywhere(&goodbye, None, Kind::Notice);
                // The goodbye is numbered too: a restarted server counts on
                // from past it, or a client that read it would miss the
                // first line after the restart.
                let last = rooms.iter().map(|&(_, seq)| seq).max();
                self.tell.record(Entry::Shutdown, None, last);
                return true;
            }
        }
        false
    }

    /// Queues lines for one client; one whose own queue overflows is evicted.
    fn send_to(&mut self, id: ClientId, bytes: &[u8]) {
        if let Some(eviction) = self.tell.send_to(id, bytes) {
            self.announce_evictions(vec![eviction]);
        }
    }

    /// Starts writing to a client that has registered, in the lobby: its
    /// welcome first, so that is always its first line, then the lobby's
    /// history, if any. The welcome counts the others who were announced,
    /// so the count and the join notices that follow agree.
    fn welcome(&mut self, id: ClientId, name: &str) {
        let Some((stream, meters)) = self.shared.registry.attach(id) else {
            return;
        };
        self.shared.stats.note_clients(self.shared.registry.len());
        self.tell.fanout.join(id, stream, meters);
        let others = self.tell.presence.others();
        let config = &self.shared.config;
        let recording = match (&config.transcript, config.record_private) {
            (None, _) => lines::Recording::Off,
            (Some(_), false) => lines::Recording::Rooms,
            (Some(_), true) => lines::Recording::Everything,
        };
        let welcome = lines::welcome(name, others, &config.demo_modes(), recording);
        self.send_to(id, &welcome);
        let history = lines::history(&self.tell.fanout.history(RoomId::LOBBY));
        self.send_to(id, &history);
    }

    /// Removes a client that is leaving of its own accord (or whose reader saw
    /// the connection end): what it is due, its farewell if any, then FIN.
    /// If it was already evicted, there is nothing to do.
    fn leave(
        &mut self,
        id: ClientId,
        reason: Option<String>,
        farewell: Option<Vec<u8>>,
        may_come_back: bool,
    ) {
        let until = self.sessions.hold_until();
        let departed = if may_come_back {
            self.shared.registry.hold(id, reason.clone(), until)
        } else {
            self.shared
                .registry
                .remove(id)
                .map(|record| (record, false))
        };
        let Some((record, held)) = departed else {
            return; // Evicted already, and counted then.
        };
        if may_come_back {
            // Its reader found the connection reset or failed: counted with
            // the resets the writes find, whichever saw it first.
            self.shared.stats.evicted_reset.fetch_add(1, Relaxed);
        }
        if held {
            // Its connection broke: nothing more reaches it; its room stays
            // open for it, and nobody is told it left unless it stays away.
            self.tell.fanout.hold(id);
            self.sessions.held_until(&record.name, until, &self.shared);
            return;
        }
        if let Some(farewell) = farewell {
            self.send_to(id, &farewell);
        }
        if let Some(room) = self.tell.fanout.leave(id, false) {
            self.tell.announce_leave(id, room, &record.name, reason);
        }
    }

    /// Disconnects a client the console kicked: its last line, then FIN; its
    /// room is told why. Its reader, which may be waiting in a read, is woken
    /// once the line is written.
    fn kick(&mut self, id: ClientId, reason: Option<String>, banned_for: Option<u64>) {
        if self.tell.fanout.room_of(id).is_none() {
            return;
        }
        let Some(record) = self.shared.registry.remove(id) else {
            return;
        };
        let (last, told) = match banned_for {
            Some(minutes) => (lines::banned(minutes), lines::ban_reason()),
            None => (
                lines::kicked(reason.as_deref()),
                lines::kick_reason(reason.as_deref()),
            ),
        };
        self.send_to(id, &last);
        if let Some(room) = self.tell.fanout.leave(id, true) {
            self.shared.stats.kicked.fetch_add(1, Relaxed);
            self.shared.log.info(&format!("{} {told}", record.name));
            self.tell.announce_leave(id, room, &record.name, Some(told));
        }
    }

    /// Announces the clients the fan-out had to drop, and takes them out of
    /// the registry (which wakes nothing: their sockets were reset). One
    /// with a session is held instead: the room is not told, yet.
    fn announce_evictions(&mut self, evicted: Vec<Eviction>) {
        for eviction in evicted {
            let Eviction {
                id,
                room,
                failure,
                kept,
            } = eviction;
            let reason = failure.reason().to_string();
            let until = self.sessions.hold_until();
            let departed = if kept && !self.stopping {
                self.shared.registry.hold(id, Some(reason.clone()), until)
            } else {
                self.shared
                    .registry
                    .remove(id)
                    .map(|record| (record, false))
            };
            let held = departed.as_ref().is_some_and(|(_, held)| *held);
            if kept && !held {
                self.tell.fanout.release_room(room);
            }
            let Some((record, _)) = departed else {
                continue;
            };
            let stats = &self.shared.stats;
            let counter = match failure {
                Failure::TooSlow => &stats.evicted_slow,
                Failure::Reset => &stats.evicted_reset,
            };
            counter.fetch_add(1, Relaxed);
            self.shared
                .log
                .info(&format!("{} evicted ({reason})", record.name));
            if held {
                self.sessions.held_until(&record.name, until, &self.shared);
            } else if self.stopping {
                self.tell.presence.forget(id);
            } else {
                self.tell
                    .announce_leave(id, room, &record.name, Some(reason));
            }
        }
    }

    /// A client moved rooms (`/join`, the console's `move`): the room it left
    /// hears `* NAME left (went to ROOM)`, the room it entered `* NAME
    /// joined` (neither, for a muted client), and it hears `* you are now in
    /// ROOM` (or who moved it there), then that room's history.
    fn moved(&mut self, id: ClientId, name: &str, (to, to_name): (RoomId, Arc<str>), by: MovedBy) {
        let Some(from) = self.tell.fanout.room_of(id) else {
            return;
        };
        self.tell.fanout.move_to(id, to, &to_name);
        let counts = (
            (from, self.tell.fanout.count(from)),
            (to, self.tell.fanout.count(to)),
        );
        let told = self
            .tell
            .presence
            .moved(id, counts.0, counts.1, Instant::now());
        if let (Some((left, joined)), false) = (told, by == MovedBy::ItselfMuted) {
            if left == Say::Now {
                let went = lines::went_to(&to_name);
                self.tell
                    .append(from, &lines::left(name, Some(&went)), 1, None, Kind::Notice);
            }
            if joined == Say::Now {
                self.tell
                    .append(to, &lines::joined(name), 1, Some(id), Kind::Notice);
            }
        }
        let line = match by {
            MovedBy::Teacher => lines::moved_by_teacher(&to_name),
            MovedBy::Itself | MovedBy::ItselfMuted => lines::you_are_in(&to_name),
        };
        self.send_to(id, &line);
        let history = lines::history(&self.tell.fanout.history(to));
        self.send_to(id, &history);
        let entry = Entry::Move {
            name: name.to_string(),
            room: to_name.to_string(),
        };
        // The entry names the room itself.
        self.tell.record(entry, None, None);
    }
}
