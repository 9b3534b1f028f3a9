//! The layout of one batch, pure: every line of the batch in one buffer, cut
//! into segments by audience, and the byte ranges each recipient should get.
//! The broadcaster fills it and writes it out; the unit tests below check it.

use crate::server::registry::ClientId;

/// Who a run of bytes in a batch is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Audience {
    All,
    AllExcept(ClientId),
    Only(ClientId),
}

impl Audience {
    pub(super) fn includes(self, id: ClientId) -> bool {
        match self {
            Audience::All => true,
            Audience::AllExcept(other) => other != id,
            Audience::Only(other) => other == id,
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

    /// Byte ranges of the segments in `from..to` that `id` should see, with
    /// neighbouring ranges merged.
    pub(super) fn ranges_for(
        &self,
        id: Option<ClientId>,
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
            let wanted = match id {
                Some(id) => segment.audience.includes(id),
                // The common view: what a client not named by any segment gets.
                None => {
                    segment.audience == Audience::All
                        || matches!(segment.audience, Audience::AllExcept(_))
                }
            };
            if !wanted {
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
            text(&outbox, &outbox.ranges_for(Some(a), 0, usize::MAX)),
            "b1 all "
        );
        assert_eq!(
            text(&outbox, &outbox.ranges_for(Some(b), 0, usize::MAX)),
            "a1 a2 all "
        );
        assert_eq!(
            text(&outbox, &outbox.ranges_for(Some(c), 0, usize::MAX)),
            "a1 a2 b1 c-only all "
        );
        // Anyone else gets the common view: no Only segments.
        assert_eq!(
            text(&outbox, &outbox.ranges_for(None, 0, usize::MAX)),
            "a1 a2 b1 all "
        );
        // Neighbouring ranges are merged into one slice.
        assert_eq!(outbox.ranges_for(None, 0, usize::MAX).len(), 2);
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
            text(&outbox, &outbox.ranges_for(Some(new), from, usize::MAX)),
            "after "
        );
        assert_eq!(
            text(&outbox, &outbox.ranges_for(Some(new), 0, from)),
            "before "
        );
    }
}
