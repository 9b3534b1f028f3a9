//! The broadcaster's own record of each client it writes to ([`Peer`]): the
//! socket, its send queue, and where the current batch starts and ends for
//! it. Kept from one batch to the next; only the broadcaster thread touches it.

use std::net::TcpStream;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

use super::sendq::SendQueue;
use crate::server::registry::Meters;
use crate::server::rooms::RoomId;

/// A client the broadcaster writes to.
#[derive(Debug)]
pub(super) struct Peer {
    /// The client's socket (the same descriptor its reader reads).
    pub(super) stream: Arc<TcpStream>,
    /// Its meters, shared with the registry record: the broadcaster publishes
    /// the queue's length there for `/who`-style views.
    pub(super) meters: Arc<Meters>,
    /// What its socket has not taken yet.
    pub(super) queue: SendQueue,
    /// The room it is in, as the broadcaster's events have it (changed by a
    /// move event, in the order of the lines around it).
    pub(super) room: RoomId,
    /// The segments of the current batch it may see: `from..to`. A client
    /// that joins mid-batch starts at its welcome; one that leaves mid-batch
    /// stops after its farewell. Reset after every batch.
    pub(super) from: usize,
    /// See `from`.
    pub(super) to: usize,
    /// It has left: it gets nothing new, and once its queue is written (its
    /// farewell may be in it) its socket is half-closed and the peer dropped.
    pub(super) leaving: bool,
    /// It left because the console kicked it.
    pub(super) kicked: bool,
    /// The others have been told it joined (`* NAME joined`, now or in a
    /// crowd's summary); if not, they are not told it left either.
    pub(super) announced: bool,
}

impl Peer {
    /// A peer that starts receiving at segment `from` of the current batch.
    pub(super) fn new(
        stream: Arc<TcpStream>,
        meters: Arc<Meters>,
        queue: SendQueue,
        room: RoomId,
        from: usize,
    ) -> Peer {
        Peer {
            stream,
            meters,
            queue,
            room,
            from,
            to: usize::MAX,
            leaving: false,
            kicked: false,
            announced: false,
        }
    }

    /// True when it sees the whole current batch.
    pub(super) fn sees_whole_batch(&self) -> bool {
        self.from == 0 && self.to == usize::MAX
    }

    /// Forgets the current batch's window. A peer that has left sees
    /// nothing of later batches (it stays only to finish its queue).
    pub(super) fn next_batch(&mut self) {
        self.from = 0;
        self.to = if self.leaving { 0 } else { usize::MAX };
    }

    /// Publishes the queue's length in the shared meters.
    pub(super) fn publish(&self) {
        self.meters
            .queued_bytes
            .store(self.queue.len() as u64, Relaxed);
    }
}
