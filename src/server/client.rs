//! One client's state, in one place: its id, its record in the registry, the
//! meters other threads read without a lock, its mute, and the view the
//! console and the dashboard show. Who may write each piece, and under which
//! lock, is written on the piece itself; `shared.rs` has the whole table.

use std::fmt;
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::rooms::RoomId;
use super::token::Token;

/// A client's identity for the life of the server. Ids grow with every
/// accepted connection, so sorting by id gives the order clients joined.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct ClientId(pub(crate) u64);

impl fmt::Display for ClientId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// A client's mute: until when its chat, actions, private messages, renames,
/// room notices and quit reason reach nobody. Written by the console (mute,
/// unmute) and by the client's reader (a mute that ran out, noticed at its
/// next line; a held session's mute, taken back with `/resume`); read by
/// anyone. Times are milliseconds since the server
/// started (`Shared::millis`), so one atomic holds the whole state; 0 means
/// "not muted".
#[derive(Debug, Default)]
pub(crate) struct Mute {
    until: AtomicU64,
}

impl Mute {
    /// Mutes until `until` (in `Shared::millis`), replacing any mute.
    pub(crate) fn set(&self, until: u64) {
        self.until.store(until, Ordering::Release);
    }

    /// When the mute ends (in `Shared::millis`), 0 for none: what a held
    /// session keeps, so a mute outlives a broken connection.
    pub(crate) fn until(&self) -> u64 {
        self.until.load(Ordering::Acquire)
    }

    /// How long the mute still runs at `now`, if it runs.
    pub(crate) fn left(&self, now: u64) -> Option<Duration> {
        let until = self.until.load(Ordering::Acquire);
        (until > now).then(|| Duration::from_millis(until - now))
    }

    /// Ends the mute: one still `running` (the console's `unmute`), or one
    /// that has run out (the reader, at the client's next line). True only
    /// for the caller that cleared it, so the client is told once.
    pub(crate) fn end(&self, now: u64, running: bool) -> bool {
        let until = self.until.load(Ordering::Acquire);
        until != 0
            && (until > now) == running
            && self
                .until
                .compare_exchange(until, 0, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
    }
}

/// What threads learn about a client without taking the registry lock: each
/// field has exactly one writer (named on the field), anyone may read it.
#[derive(Debug, Default)]
pub(crate) struct Meters {
    /// Lines this client sent that reached others: chat, `/me`, `/msg`.
    /// Written by its reader.
    pub(crate) lines_sent: AtomicU64,
    /// Bytes the server holds for it and has not written yet: how far it is
    /// behind its room's log, plus its own queue (replies, private
    /// messages). Written by the broadcaster.
    pub(crate) queued_bytes: AtomicU64,
    /// Room lines it skipped because it fell further behind than its room
    /// keeps. Written by the broadcaster.
    pub(crate) skipped_lines: AtomicU64,
    /// Its mute (see [`Mute`] for who writes it).
    pub(crate) mute: Mute,
    /// Set once the client has been removed from the registry (it left, or
    /// was evicted). Written by whoever removed it; its reader checks it so
    /// that nothing more of this client is relayed after its `left` notice.
    pub(crate) gone: AtomicBool,
    /// True while its reader holds a line back for the rate limit (the
    /// dashboard shows it). Written by its reader.
    pub(crate) throttled: AtomicBool,
}

/// Everything the server knows about one connected client, in one place.
/// The registry holds it, under its lock.
#[derive(Debug)]
pub(crate) struct ClientRecord {
    /// The remote address; fixed.
    pub(crate) addr: SocketAddr,
    /// When the connection was accepted; fixed.
    pub(crate) since: Instant,
    /// The current name: the address until `/nick`. Changed by its reader,
    /// under the registry lock, so the uniqueness check and the change are one step.
    pub(crate) name: Arc<str>,
    /// The socket, shared with the reader: `&TcpStream` can both read and
    /// write, so one descriptor serves both threads (no `try_clone`).
    pub(crate) stream: Arc<TcpStream>,
    /// Counters and flags updated without the registry lock.
    pub(crate) meters: Arc<Meters>,
    /// The room it is in: the lobby at first. Changed by its reader (`/join`)
    /// or the console (`move`), under the registry lock.
    pub(crate) room: RoomId,
    /// Its session's token, once it asked for one (`/session`) or took a
    /// session back (`/resume`). Set by its reader, under the registry lock.
    pub(crate) token: Option<Token>,
}

/// One client as a snapshot shows it: the record's fixed parts and name as
/// they were, and its meters (live counters) to read now.
#[derive(Debug, Clone)]
pub(crate) struct ClientView {
    /// Its id.
    pub(crate) id: ClientId,
    /// Its remote address.
    pub(crate) addr: SocketAddr,
    /// Its name when the snapshot was taken.
    pub(crate) name: Arc<str>,
    /// When it connected.
    pub(crate) since: Instant,
    /// Its counters.
    pub(crate) meters: Arc<Meters>,
    /// The name of its room.
    pub(crate) room: Arc<str>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mute_runs_out_and_is_ended_once() {
        let mute = Mute::default();
        assert_eq!(mute.left(5), None, "nobody starts muted");
        mute.set(1_000);
        assert_eq!(mute.left(400), Some(Duration::from_millis(600)));
        assert!(
            !mute.end(400, false),
            "still running: not the reader's to end"
        );
        assert!(mute.end(400, true), "the console ends a running mute");
        assert!(!mute.end(400, true), "only once");
        mute.set(1_000);
        assert_eq!(mute.left(1_000), None, "ran out");
        assert!(!mute.end(1_000, true), "not running any more");
        assert!(
            mute.end(1_000, false),
            "the reader clears a mute that ran out"
        );
    }
}
