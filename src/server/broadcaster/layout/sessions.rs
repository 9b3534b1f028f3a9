//! [`Sessions`]: the layout's part in sessions. A previous run's rooms and
//! held sessions taken back, a departed client's name held for its owner
//! and let go when the hold runs out, a token handed out, and a connection
//! that takes a held session back. Apart from `mod.rs` because these follow
//! rules of their own (the room hears nothing of a comeback within the
//! hold), and a student reading how a line travels can leave them aside.
//! What it tells the rooms and the recorder goes through [`Tell`].

use std::time::{Duration, Instant};

use super::tell::Tell;
use crate::server::broadcaster::restart::Restart;
use crate::server::client::ClientId;
use crate::server::recorder::Entry;
use crate::server::session::{Replaced, Resumed};
use crate::server::shared::Shared;
use crate::server::socket::Failure;
use crate::server::token::Token;

/// When held sessions run out; the registry holds the sessions themselves.
#[derive(Debug)]
pub(super) struct Sessions {
    /// How long a departed client's session is held (`--hold-secs`).
    hold: Duration,
    /// When a held session may next run out (checked then, not every turn).
    next_expiry: Option<Instant>,
}

impl Sessions {
    /// Nothing held yet.
    pub(super) fn new(hold: Duration) -> Sessions {
        Sessions {
            hold,
            next_expiry: None,
        }
    }

    /// Takes back what a previous run left (see [`Restart`]): the rooms'
    /// lines, and the held sessions, which the rooms knew.
    pub(super) fn restore(&mut self, restart: Restart, tell: &mut Tell) {
        for (room, name, lines) in restart.rooms {
            tell.fanout.restore(room, &name, &lines);
        }
        tell.fanout.continue_numbering(restart.next_line);
        for (id, room, name) in &restart.held {
            tell.presence.known(*id);
            tell.fanout.keep_room(*room, name);
        }
        if !restart.held.is_empty() {
            self.next_expiry = Some(restart.until);
        }
    }

    /// When a session held from now on runs out.
    pub(super) fn hold_until(&self) -> Instant {
        Instant::now() + self.hold
    }

    /// `name`'s session is held until `until`: the next expiry to look at
    /// may be sooner.
    pub(super) fn held_until(&mut self, name: &str, until: Instant, shared: &Shared) {
        self.next_expiry = Some(self.next_expiry.map_or(until, |at| at.min(until)));
        shared.log.info(&format!(
            "{name}'s session is held for {} s",
            self.hold.as_secs()
        ));
    }

    /// When the next held session runs out, if one may.
    pub(super) fn next_expiry(&self) -> Option<Instant> {
        self.next_expiry
    }

    /// Tells the rooms of held sessions that ran out by `now` that their
    /// clients left, and lets those rooms go.
    pub(super) fn expire(&mut self, now: Instant, shared: &Shared, tell: &mut Tell) {
        if !matches!(self.next_expiry, Some(at) if at <= now) {
            return;
        }
        for held in shared.registry.expire(now) {
            tell.fanout.release_room(held.room);
            tell.announce_leave(held.id, held.room, &held.name, held.reason);
        }
        self.next_expiry = shared.registry.next_expiry();
    }

    /// A client asked for a session: it gets its token, and numbered runs.
    pub(super) fn start(&self, id: ClientId, token: Token, name: &str, tell: &mut Tell) {
        if tell.fanout.room_of(id).is_none() {
            return;
        }
        tell.fanout.start_session(id, token.as_str());
        let entry = Entry::Session {
            token: token.to_string(),
            name: name.to_string(),
        };
        tell.record(entry, None, None);
    }

    /// A new connection (`id`, known until now by the address `was`) took a
    /// session back: it replaces the old one (a connection the server still
    /// thought alive is cut off), the room goes on knowing it under its new
    /// id without a word, and it gets the lines it missed after `last`.
    pub(super) fn resume(
        &self,
        (id, was): (ClientId, &str),
        (token, last): (Token, u64),
        resumed: Resumed,
        shared: &Shared,
        tell: &mut Tell,
    ) {
        let Resumed {
            name,
            room,
            room_name,
            replaced,
        } = resumed;
        let former = replaced.id();
        if let Some(room) = tell.fanout.room_of(id) {
            // Told as a newcomer under its address already (no join grace,
            // or a resume that came after it): that newcomer leaves, so
            // every join the room heard has its leave.
            tell.announce_leave(id, room, was, None);
        }
        if let Replaced::Live(old) = replaced {
            // Its room was kept for it: the resume below takes it over.
            tell.fanout.evict(old, Failure::Reset);
        }
        tell.presence.transfer(former, id);
        let missed = tell
            .fanout
            .resume(id, former, (room, &room_name), token.as_str(), last);
        tell.fanout.release_room(room);
        shared
            .log
            .info(&format!("{name} is back ({missed} lines missed)"));
        let entry = Entry::Session {
            token: token.to_string(),
            name: name.to_string(),
        };
        tell.record(entry, None, None);
    }
}
