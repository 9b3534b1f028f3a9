//! One write to one client: the room's common view to a member that
//! shares it, or what this client alone is due (planned by `peer.rs`), made
//! without ever waiting for the client. The fan-out calls these and keeps
//! track of what they report.

use std::io::IoSlice;
use std::net::TcpStream;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Instant;

use super::limits::Limits;
use super::peer::Peer;
use super::plan::Plan;
use super::roomlog::RoomLog;
use crate::server::client::ClientId;
use crate::server::socket::{write_all_blocking, write_now, write_once, Failure};
use crate::server::stats::Stats;

/// When a write is made, and whether it may wait at all.
#[derive(Debug, Clone, Copy)]
pub(super) struct When {
    pub(super) now: Instant,
    /// Another client's socket was full lately: no write may wait (see
    /// `Writer`'s `HURRY_FOR`).
    pub(super) hurry: bool,
}

impl When {
    /// True when a write to `peer` may wait for its socket, briefly: it has
    /// kept up lately, and nobody's socket was full.
    pub(super) fn may_wait(self, peer: &Peer) -> bool {
        !self.hurry && !peer.pace.is_careful(self.now)
    }
}

/// Writes the room's common view to a member that shares it.
pub(super) fn write_common(
    peer: &mut Peer,
    log: &RoomLog,
    plan: &Plan,
    limits: &Limits,
    stats: &Stats,
    when: When,
) -> Result<(), Failure> {
    let now = when.now;
    let written = {
        let slices = plan.slices(log, &[], std::iter::empty());
        write(
            &peer.stream,
            &slices,
            plan.total,
            limits,
            when.may_wait(peer),
        )?
    };
    stats.bytes_out.fetch_add(written as u64, Relaxed);
    peer.advance(log, plan, written);
    let left = peer.pending(log);
    peer.pace.wrote(written, left, now);
    Ok(())
}

/// Writes to one peer what it alone is due: a few writes at most, while
/// the socket takes everything and more waits.
pub(super) fn write_tailored(
    id: ClientId,
    peer: &mut Peer,
    log: &RoomLog,
    plan: &mut Plan,
    limits: &Limits,
    stats: &Stats,
    when: When,
) -> Result<(), Failure> {
    let now = when.now;
    if let Some(skipped) = peer.skip_if_lost(log, limits.landing) {
        stats.lines_skipped.fetch_add(skipped, Relaxed);
    }
    let mut taken = 0;
    for _ in 0..4 {
        peer.plan(log, id, plan);
        if plan.total == 0 {
            // Nothing to send: only lines it never gets (its own) were ahead.
            peer.advance(log, plan, 0);
            break;
        }
        let written = {
            let may_wait = when.may_wait(peer);
            let slices = peer.slices(plan, log);
            write(&peer.stream, &slices, plan.total, limits, may_wait)?
        };
        stats.bytes_out.fetch_add(written as u64, Relaxed);
        taken += written;
        peer.advance(log, plan, written);
        if written < plan.total || peer.pending(log) == 0 {
            break;
        }
    }
    let left = peer.pending(log);
    peer.pace.wrote(taken, left, now);
    Ok(())
}

/// One write to one client: with the short socket timeout when it `may_wait`
/// (one system call instead of three, and a socket with room takes the
/// bytes at once), without waiting at all otherwise; blocking in the demo
/// mode.
fn write(
    stream: &TcpStream,
    slices: &[IoSlice<'_>],
    total: usize,
    limits: &Limits,
    may_wait: bool,
) -> Result<usize, Failure> {
    let result = match limits.write_timeout {
        None => {
            // DEMO MODE (--no-write-timeout): block until it is all written.
            let mut slices = slices.to_vec();
            write_all_blocking(stream, &mut slices).map(|()| total)
        }
        Some(_) if may_wait => write_once(stream, slices),
        Some(_) => write_now(stream, slices),
    };
    result.map_err(|e| Failure::of(&e))
}
