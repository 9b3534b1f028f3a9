//! The layout's part in sessions: a previous run's rooms and held sessions
//! taken back, a departed client's name held for its owner and let go
//! when the hold runs out, a token handed out, and a connection that takes
//! a held session back. The same [`Layout`] as `mod.rs`, in a file of its
//! own because these follow rules of their own (the room hears nothing of
//! a comeback within the hold) and a student reading how a line travels
//! can leave them aside.

use std::time::Instant;

use super::Layout;
use crate::server::broadcaster::restart::Restart;
use crate::server::client::ClientId;
use crate::server::recorder::Entry;
use crate::server::session::{Replaced, Resumed};
use crate::server::socket::Failure;
use crate::server::token::Token;

impl Layout {
    /// Takes back what a previous run left (see [`Restart`]): the rooms'
    /// lines, and the held sessions, which the rooms knew.
    pub(in crate::server::broadcaster) fn restore(&mut self, restart: Restart) {
        for (room, name, lines) in restart.rooms {
            self.fanout.restore(room, &name, &lines);
        }
        self.fanout.continue_numbering(restart.next_line);
        for (id, room, name) in &restart.held {
            self.presence.known(*id);
            self.fanout.keep_room(*room, name);
        }
        if !restart.held.is_empty() {
            self.next_expiry = Some(restart.until);
        }
    }

    /// When a session held from now on runs out.
    pub(super) fn hold_until(&self) -> Instant {
        Instant::now() + self.shared.config.hold
    }

    /// A session is held until `until`: the next expiry to look at may be sooner.
    pub(super) fn held_until(&mut self, name: &str, until: Instant) {
        self.next_expiry = Some(self.next_expiry.map_or(until, |at| at.min(until)));
        self.shared.log.info(&format!(
            "{name}'s session is held for {} s",
            self.shared.config.hold.as_secs()
        ));
    }

    /// When the next held session runs out, if one may.
    pub(in crate::server::broadcaster) fn next_expiry(&self) -> Option<Instant> {
        self.next_expiry
    }

    /// Tells the rooms of held sessions that ran out by `now` that their
    /// clients left, and lets those rooms go.
    pub(in crate::server::broadcaster) fn expire_holds(&mut self, now: Instant) {
        if !matches!(self.next_expiry, Some(at) if at <= now) {
            return;
        }
        for held in self.shared.registry.expire(now) {
            self.fanout.release_room(held.room);
            self.announce_leave(held.id, held.room, &held.name, held.reason);
        }
        self.next_expiry = self.shared.registry.next_expiry();
    }

    /// A client asked for a session: it gets its token, and numbered runs.
    pub(super) fn start_session(&mut self, id: ClientId, token: Token, name: &str) {
        if self.fanout.room_of(id).is_none() {
            return;
        }
        self.fanout.start_session(id, token.as_str());
        let entry = Entry::Session {
            token: token.to_string(),
            name: name.to_string(),
        };
        self.record(entry, None, None);
    }

    /// A new connection took a session back: it replaces the old one (a
    /// connection the server still thought alive is cut off), the room
    /// goes on knowing it under its new id without a word, and it gets the
    /// lines it missed.
    pub(super) fn resume(
        &mut self,
        id: ClientId,
        token: Token,
        last: u64,
        resumed: Resumed,
        was: &str,
    ) {
        let Resumed {
            name,
            room,
            room_name,
            replaced,
        } = resumed;
        let former = replaced.id();
        if let Some(room) = self.fanout.room_of(id) {
            // Told as a newcomer under its address already (no join grace,
            // or a resume that came after it): that newcomer leaves, so
            // every join the room heard has its leave.
            self.announce_leave(id, room, was, None);
        }
        if let Replaced::Live(old) = replaced {
            // Its room was kept for it: the resume below takes it over.
            self.fanout.evict(old, Failure::Reset);
        }
        self.presence.transfer(former, id);
        let missed = self
            .fanout
            .resume(id, former, (room, &room_name), token.as_str(), last);
        self.fanout.release_room(room);
        self.shared
            .log
            .info(&format!("{name} is back ({missed} lines missed)"));
        let entry = Entry::Session {
            token: token.to_string(),
            name: name.to_string(),
        };
        self.record(entry, None, None);
    }
}
