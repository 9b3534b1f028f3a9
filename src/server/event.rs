//! The messages server threads send the broadcaster. Readers, the console
//! and the main thread produce them (importing this file, not the
//! broadcaster); the broadcaster consumes them in order.

use std::sync::Arc;

use crossbeam_channel::Sender;

use super::client::ClientId;
use super::recorder::Entry;
use super::rooms::RoomId;
use super::session::Resumed;
use super::token::Token;

/// Events that may wait for the broadcaster. Bounded, so a busy room pushes
/// back on readers instead of growing a queue: at most this many events (each
/// at most one read's worth of lines) are ever held.
pub(crate) const EVENTS_CAPACITY: usize = 1024;

/// How many events wait for the broadcaster, read from the channel itself:
/// right even while the broadcaster is stuck in a write (the demo mode),
/// when the figure matters most. It holds a sender only to count with; it
/// has no way to send.
#[derive(Debug, Clone)]
pub(crate) struct QueueGauge(Sender<Event>);

impl QueueGauge {
    pub(crate) fn new(events_tx: &Sender<Event>) -> QueueGauge {
        QueueGauge(events_tx.clone())
    }

    /// Events waiting now.
    pub(crate) fn len(&self) -> usize {
        self.0.len()
    }
}

/// Who moved a client to another room.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MovedBy {
    /// The client itself (`/join`): both rooms are told.
    Itself,
    /// The client itself, while muted: nobody is told, it only moves.
    ItselfMuted,
    /// The teacher (the console's `move`): both rooms are told, and the
    /// client is told who moved it.
    Teacher,
}

/// What readers ask the broadcaster to do. The channel is bounded: a reader
/// whose event does not fit waits, and stops reading its socket meanwhile,
/// which slows its sender through TCP flow control.
#[derive(Debug)]
pub(crate) enum Event {
    /// A client registered: send it its welcome, and everything from now on.
    Welcome {
        /// The new client.
        id: ClientId,
        /// Its name (its address).
        name: Arc<str>,
        /// Tell the others `* NAME joined` at once, in the same step (with no
        /// join grace), so nothing can come between the welcome and the notice.
        announce: bool,
    },
    /// Tell everyone else `* NAME joined` (right after the welcome, or once
    /// the client has named itself or had its grace period).
    Joined {
        /// The client.
        id: ClientId,
        /// Its name when it was announced. Carried here rather than read from
        /// the registry, where a quick `/nick` may already have changed it:
        /// the others must see the join before the rename, as it happened.
        name: Arc<str>,
    },
    /// Chat from one client for everyone else, already formatted
    /// (`> NAME: TEXT\n`, possibly several lines, in the order they were sent).
    Chat {
        /// The sender, who does not get its own lines back.
        from: ClientId,
        /// The formatted lines.
        bytes: Vec<u8>,
        /// How many messages `bytes` holds, counted by the reader as it made
        /// them (so the broadcaster need not scan for them).
        lines: u64,
        /// What the transcript records: one entry per line, made by the reader
        /// when the transcript is on, and empty (no allocation) when it is off.
        entries: Vec<Entry>,
    },
    /// A `/me` action for everyone except its sender (kept in the history).
    Action {
        /// The sender.
        from: ClientId,
        /// `* NAME TEXT`.
        line: Vec<u8>,
        /// What the transcript records.
        entry: Entry,
    },
    /// A notice for everyone except one client (a rename).
    Notice {
        /// Who does not get it.
        except: ClientId,
        /// The formatted line.
        line: Vec<u8>,
        /// What the transcript records.
        entry: Entry,
    },
    /// Lines for one client only: replies, errors, private messages.
    Direct {
        /// Who it is from (the recipient itself, for a reply): nothing from a
        /// client that has left is delivered.
        from: ClientId,
        /// The recipient.
        to: ClientId,
        /// The formatted lines.
        line: Vec<u8>,
        /// What the transcript records, if anything.
        entry: Option<Entry>,
    },
    /// A client is going: send it what it is due and `farewell` if any, then
    /// FIN; tell the others, if they were told it joined.
    Leave {
        /// Who is leaving.
        id: ClientId,
        /// Shown in `* NAME left (REASON)`.
        reason: Option<String>,
        /// A last line for the client (`* bye`).
        farewell: Option<Vec<u8>>,
        /// Its connection broke: a client with a session is held for it to
        /// come back, and the others are not told (yet).
        may_come_back: bool,
    },
    /// A client asked for a session (`/session`): tell it the token, and
    /// number its room lines from now on.
    Session {
        /// Who.
        id: ClientId,
        /// Its token.
        token: Token,
        /// Its name (recorded with the token, for a restart).
        name: Arc<str>,
    },
    /// A new connection took a session back (`/resume`); the registry has
    /// already given it the session's name and room.
    Resume {
        /// The new connection.
        id: ClientId,
        /// The session's token.
        token: Token,
        /// The last room line the client received.
        last: u64,
        /// What it took over, and where it is now.
        resumed: Resumed,
        /// The name the new connection had until then (its address): the
        /// room may have been told it joined under it.
        was: Arc<str>,
    },
    /// A client moved to another room (`/join`, the console's `move`); the
    /// registry has already moved it.
    Moved {
        /// Who.
        id: ClientId,
        /// Who moved it, which decides what is said.
        by: MovedBy,
        /// Its name.
        name: Arc<str>,
        /// The room it entered.
        to: RoomId,
        /// That room's name.
        to_name: Arc<str>,
    },
    /// The console speaks: a notice for everyone.
    Say {
        /// `* [server] TEXT`.
        line: Vec<u8>,
        /// What the transcript records.
        text: String,
    },
    /// The console disconnects a client: it gets `! kicked by the server`
    /// (or `! banned ...`), the others `* NAME left (kicked)` (or `banned`).
    Kick {
        /// Who.
        id: ClientId,
        /// Why, if the teacher said.
        reason: Option<String>,
        /// For a ban: how many minutes its address is refused.
        banned_for: Option<u64>,
    },
    /// Only a transcript entry, in its place among the others (a console command).
    Record(Entry),
    /// Deliver everything before this, say goodbye to everyone, and stop.
    Shutdown,
}
