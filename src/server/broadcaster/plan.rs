//! One write to one client, planned before it is made: its [`Piece`]s in
//! order (the carry, its own lines, the room's runs, each after its marker
//! for a client that resumes) and the slices a vectored write takes. Pure:
//! `peer.rs` plans a client's write and `fanout.rs` makes it.

use std::io::IoSlice;
use std::ops::Range;

use super::roomlog::{RoomLog, Span};
use crate::protocol::lines;
use crate::server::client::ClientId;

/// Most pieces one write hands the socket (a vectored write takes a list).
pub(super) const MAX_PIECES: usize = 64;

/// One part of a planned write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Piece {
    /// The rest of a line the last write cut (its length).
    Carry(usize),
    /// The next item of the client's own queue (its length).
    Own(usize),
    /// A `#SEQ LINES` marker, for a client that resumes (a range of the
    /// plan's marker text).
    Marker(Range<usize>),
    /// Room bytes, from one position to another, inside one block.
    Room(u64, u64),
}

impl Piece {
    pub(super) fn len(&self) -> usize {
        match self {
            Piece::Carry(len) | Piece::Own(len) => *len,
            Piece::Marker(range) => range.len(),
            Piece::Room(from, to) => (to - from) as usize,
        }
    }
}

/// A planned write: its pieces, the marker text they refer to, and where
/// the cursor stands once all of it is written.
#[derive(Debug, Default)]
pub(super) struct Plan {
    pub(super) pieces: Vec<Piece>,
    markers: Vec<u8>,
    spans: Vec<Span>,
    /// Bytes in all pieces.
    pub(super) total: usize,
    /// The cursor once everything is written: the end it was planned to.
    pub(super) end: u64,
}

impl Plan {
    pub(super) fn clear(&mut self) {
        self.pieces.clear();
        self.markers.clear();
        self.spans.clear();
        self.total = 0;
    }

    /// Plans the room's bytes from `from` to `to` for a viewer no entry
    /// leaves out and that has nothing of its own waiting: the view most
    /// members of a room share after a batch, planned once for all of them.
    pub(super) fn common(&mut self, log: &RoomLog, from: u64, to: u64, session: bool) {
        self.clear();
        self.end = self.push_room(log, from, to, &[], session, MAX_PIECES);
    }

    /// Adds the room's bytes from `from` to `to` that `viewer` gets (each
    /// run after its marker, for a client that resumes), stopping once the
    /// plan holds `max_pieces` pieces. Returns where it stopped: `to`, or
    /// the end of the last run it took.
    pub(super) fn push_room(
        &mut self,
        log: &RoomLog,
        from: u64,
        to: u64,
        viewer: &[ClientId],
        session: bool,
        max_pieces: usize,
    ) -> u64 {
        self.spans.clear();
        log.spans((from, to), viewer, session, &mut self.spans);
        for index in 0..self.spans.len() {
            if self.pieces.len() + 2 > max_pieces {
                return self.spans[index].from;
            }
            let span = self.spans[index];
            if session {
                let start = self.markers.len();
                lines::push_marker(&mut self.markers, span.seq, span.lines);
                self.total += self.markers.len() - start;
                self.pieces.push(Piece::Marker(start..self.markers.len()));
            }
            self.pieces.push(Piece::Room(span.from, span.to));
            self.total += (span.to - span.from) as usize;
        }
        to
    }

    /// The plan as slices for one vectored write, borrowing the log, the
    /// plan's markers and, for a tailored plan, the client's carry and its
    /// own lines (in order, from the first).
    pub(super) fn slices<'a>(
        &'a self,
        log: &'a RoomLog,
        carry: &'a [u8],
        mut own: impl Iterator<Item = &'a [u8]>,
    ) -> Vec<IoSlice<'a>> {
        self.pieces
            .iter()
            .map(|piece| {
                IoSlice::new(match piece {
                    Piece::Carry(_) => carry,
                    Piece::Own(_) => own.next().unwrap_or_default(),
                    Piece::Marker(range) => &self.markers[range.clone()],
                    Piece::Room(from, to) => log.bytes(*from, *to),
                })
            })
            .collect()
    }

    /// The text of a marker piece.
    pub(super) fn marker(&self, range: &Range<usize>) -> &[u8] {
        &self.markers[range.clone()]
    }
}
