//! The layout of one batch, pure: every line of the batch in one buffer, cut
//! into segments by audience, and the byte ranges each recipient should get.
//! The broadcaster fills it and writes it out; the unit tests below check it.

use crate::server::registry::ClientId;
use crate::server::rooms::RoomId;

/// Who a run of bytes in a batch is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Audience {
    /// Everyone on the server (the goodbye, the console's `say`).
    All,
    /// Everyone on the server but one (a rename: names are server-wide).
    AllExcept(ClientId),
    /// The members of one room, but one if named (chat, `/me`, joins, leaves).
    Room(RoomId, Option<ClientId>),
    /// One client (replies, private messages, its welcome).
    Only(ClientId),
}

impl Audience {
    /// Whether a viewer in `room` gets it; `None` is any member of that room
    /// that no segment names (the room's common view).
    pub(super) fn includes(self, id: Option<ClientId>, room: RoomId) -> bool {
        match self {
            Audience::All => true,
            Audience::AllExcept(other) => id != Some(other),
            Audience::Room(r, except) => r == room && (except.is_none() || id != except),
            Audience::Only(other) => id == Some(other),
        }
    }

    /// The client this audience singles out, if any: that client cannot share
    /// the common view.
    pub(super) fn named(self) -> Option<ClientId> {
        match self {
            Audience::All | Audience::Room(_, None) => None,
            Audience::AllExcept(id) | Audience::Room(_, Some(id)) | Audience::Only(id) => Some(id),
        }
    }
}

/// A run of bytes in the batch buffer (it starts where the previous one ends).
#[derive(Debug)]
pub(super) struct Segment {
    pub(super) end: usize,
    pub(super) audience: Audience,
}

/// One batch laid out once: all its lines in one buffer, cut into segments by
/// audience, so most recipients get the very same bytes in a single write.
#[derive(Debug, Default)]
pub(super) struct Outbox {
    pub(super) bytes: Vec<u8>,
    pub(super) segments: Vec<Segment>,
    /// Segments before this index may not grow: a member's window starts or
    /// ends here.
    sealed: usize,
}

impl Outbox {
    pub(super) fn push(&mut self, audience: Audience, bytes: &[u8]) {
        self.bytes.extend_from_slice(bytes);
        let end = self.bytes.len();
        let growable = self.segments.len() > self.sealed;
        match self.segments.last_mut() {
            Some(last) if growable && last.audience == audience => {
                last.end = end;
            }
            _ => self.segments.push(Segment { end, audience }),
        }
    }

    /// Closes the current segment, returning the index the next one will have.
    pub(super) fn seal(&mut self) -> usize {
        self.sealed = self.segments.len();
        self.sealed
    }

    pub(super) fn is_empty(&self) -> bool {
        self.segments.is_empty()
    }

    pub(super) fn clear(&mut self) {
        self.bytes.clear();
        self.segments.clear();
        self.sealed = 0;
    }

    /// Byte ranges of the segments in `from..to` that `id`, a member of
    /// `room`, should see (`None`: any member no segment names), with
    /// neighbouring ranges merged.
    pub(super) fn ranges_for(
        &self,
        id: Option<ClientId>,
        room: RoomId,
        from: usize,
        to: usize,
    ) -> Vec<(usize, usize)> {
        let mut ranges: Vec<(usize, usize)> = Vec::new();
        let to = to.min(self.segments.len());
        for index in from..to {
            let start = if index == 0 {
                0
            } else {
                self.segments[index - 1].end
            };
            let segment = &self.segments[index];
            if !segment.audience.includes(id, room) {
                continue;
            }
            match ranges.last_mut() {
                Some(last) if last.1 == start => last.1 = segment.end,
                _ => ranges.push((start, segment.end)),
            }
        }
        ranges
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOBBY: RoomId = RoomId::LOBBY;

    fn text(outbox: &Outbox, ranges: &[(usize, usize)]) -> String {
        ranges
            .iter()
            .map(|&(s, e)| String::from_utf8_lossy(&outbox.bytes[s..e]).into_owned())
            .collect()
    }

    #[test]
    fn each_recipient_sees_its_own_view_of_one_buffer() {
        let (a, b, c) = (ClientId(1), ClientId(2), ClientId(3));
        let mut outbox = Outbox::default();
        outbox.push(Audience::AllExcept(a), b"a1 ");
        outbox.push(Audience::AllExcept(a), b"a2 ");
        outbox.push(Audience::AllExcept(b), b"b1 ");
        outbox.push(Audience::Only(c), b"c-only ");
        outbox.push(Audience::All, b"all ");
        // Consecutive lines from one sender share a segment.
        assert_eq!(outbox.segments.len(), 4);
        assert_eq!(
            text(&outbox, &outbox.ranges_for(Some(a), LOBBY, 0, usize::MAX)),
            "b1 all "
        );
        assert_eq!(
            text(&outbox, &outbox.ranges_for(Some(b), LOBBY, 0, usize::MAX)),
            "a1 a2 all "
        );
        assert_eq!(
            text(&outbox, &outbox.ranges_for(Some(c), LOBBY, 0, usize::MAX)),
            "a1 a2 b1 c-only all "
        );
        // Anyone else gets the common view: no Only segments.
        assert_eq!(
            text(&outbox, &outbox.ranges_for(None, LOBBY, 0, usize::MAX)),
            "a1 a2 b1 all "
        );
        // Neighbouring ranges are merged into one slice.
        assert_eq!(outbox.ranges_for(None, LOBBY, 0, usize::MAX).len(), 2);
    }

    #[test]
    fn a_window_starts_at_a_seal() {
        let (old, new) = (ClientId(1), ClientId(2));
        let mut outbox = Outbox::default();
        outbox.push(Audience::AllExcept(old), b"before ");
        let from = outbox.seal();
        // Same audience, but not merged into the sealed segment, so the
        // newcomer's window can start between the two.
        outbox.push(Audience::AllExcept(old), b"after ");
        assert_eq!(outbox.segments.len(), 2);
        assert_eq!(
            text(
                &outbox,
                &outbox.ranges_for(Some(new), LOBBY, from, usize::MAX)
            ),
            "after "
        );
        assert_eq!(
            text(&outbox, &outbox.ranges_for(Some(new), LOBBY, 0, from)),
            "before "
        );
    }

    #[test]
    fn room_lines_reach_only_that_rooms_members() {
        let (a, b) = (ClientId(1), ClientId(2));
        let lab = RoomId(7);
        let mut outbox = Outbox::default();
        outbox.push(Audience::Room(LOBBY, Some(a)), b"lobby-chat ");
        outbox.push(Audience::Room(lab, Some(b)), b"lab-chat ");
        outbox.push(Audience::Room(lab, None), b"lab-notice ");
        outbox.push(Audience::All, b"all ");
        assert_eq!(
            text(&outbox, &outbox.ranges_for(None, LOBBY, 0, usize::MAX)),
            "lobby-chat all "
        );
        assert_eq!(
            text(&outbox, &outbox.ranges_for(None, lab, 0, usize::MAX)),
            "lab-chat lab-notice all "
        );
        assert_eq!(
            text(&outbox, &outbox.ranges_for(Some(b), lab, 0, usize::MAX)),
            "lab-notice all "
        );
        assert_eq!(Audience::Room(lab, None).named(), None);
        assert_eq!(Audience::Room(lab, Some(b)).named(), Some(b));
    }
}
