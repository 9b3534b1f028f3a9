//! The broadcaster's own record of each client it writes to ([`Peer`]): the
//! socket, and where the current batch starts and ends for it. Kept from one
//! batch to the next; only the broadcaster thread touches it.

use std::net::TcpStream;
use std::sync::Arc;

/// A client the broadcaster writes to.
#[derive(Debug)]
pub(super) struct Peer {
    /// The client's socket (the same descriptor its reader reads).
    pub(super) stream: Arc<TcpStream>,
    /// The segments of the current batch it may see: `from..to`. A client
    /// that joins mid-batch starts at its welcome; one that leaves mid-batch
    /// stops after its farewell. Reset after every batch.
    pub(super) from: usize,
    /// See `from`.
    pub(super) to: usize,
    /// It left during this batch: after the batch is written, its socket is
    /// half-closed and the peer dropped.
    pub(super) leaving: bool,
}

impl Peer {
    /// A peer that starts receiving at segment `from` of the current batch.
    pub(super) fn new(stream: Arc<TcpStream>, from: usize) -> Peer {
        Peer {
            stream,
            from,
            to: usize::MAX,
            leaving: false,
        }
    }

    /// True when it sees the whole current batch.
    pub(super) fn sees_whole_batch(&self) -> bool {
        self.from == 0 && self.to == usize::MAX
    }

    /// Forgets the current batch's window.
    pub(super) fn next_batch(&mut self) {
        self.from = 0;
        self.to = usize::MAX;
    }
}
