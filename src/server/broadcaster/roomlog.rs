//! A room's log: every line the room heard, in order, kept once however
//! many members the room has. Pure; the fan-out reads it and the unit tests
//! below check it.
//!
//! The log is one byte stream per room. A *position* is a byte offset in
//! that stream since the room was made; it only grows. Each member of the
//! room holds a *cursor*, the position up to which it has been written
//! (see `peer.rs`), so a member that reads slowly costs the room nothing:
//! its cursor simply lags. The bytes are kept in blocks of up to
//! [`BLOCK_BYTES`]; when the log holds more than its cap, whole blocks are
//! dropped from the front, and a cursor left behind the new *tail* has to
//! skip ahead.
//!
//! Each appended entry (one event: a run of chat lines from one sender, a
//! notice) gets a [`Mark`]: where it starts, how many lines it holds, the
//! room's count of lines before it (`room_line`, for "N lines skipped"),
//! the server-wide number of its first line (`seq`, for resuming after a
//! reconnect), and the one client it is not for (its sender), if any.

use std::collections::VecDeque;

use crate::server::client::ClientId;

/// The most bytes one block holds (an entry never spans two blocks, so a
/// block may end a little short). Trimming drops whole blocks: small enough
/// that the log stays close to its cap, big enough that a member catching up
/// gets its backlog in a few slices.
pub(super) const BLOCK_BYTES: usize = 64 * 1024;

/// What kind of line an entry is: history replays only the public ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    /// Chat, `/me` and the teacher's `say`: what a late joiner's history shows.
    Public,
    /// Joins, leaves, renames, crowd summaries and the goodbye.
    Notice,
}

/// One entry's place in the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Mark {
    /// Where its bytes start.
    pub(super) pos: u64,
    /// How many bytes it holds.
    pub(super) len: u32,
    /// How many lines it holds.
    pub(super) lines: u32,
    /// How many lines the room heard before it.
    pub(super) room_line: u64,
    /// The server-wide number of its first line; the next ones follow.
    pub(super) seq: u64,
    /// The member it is not for (a sender does not get its own lines back).
    pub(super) except: Option<ClientId>,
    /// Whether history shows it.
    pub(super) kind: Kind,
}

impl Mark {
    fn end(&self) -> u64 {
        self.pos + u64::from(self.len)
    }
}

/// A run of bytes one member gets in one piece: inside one block, with no
/// entry left out in the middle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Span {
    /// Where it starts (at the start of a line).
    pub(super) from: u64,
    /// Where it ends (at the end of an entry).
    pub(super) to: u64,
    /// The server-wide number of its first line.
    pub(super) seq: u64,
    /// How many lines it holds.
    pub(super) lines: u64,
}

#[derive(Debug)]
struct Block {
    start: u64,
    bytes: Vec<u8>,
}

impl Block {
    fn end(&self) -> u64 {
        self.start + self.bytes.len() as u64
    }
}

/// One room's log.
#[derive(Debug, Default)]
pub(super) struct RoomLog {
    blocks: VecDeque<Block>,
    marks: VecDeque<Mark>,
    /// The position after the last byte.
    head: u64,
    /// Lines appended since the room was made.
    lines: u64,
    /// Bytes held in all blocks.
    held: usize,
    /// For each block dropped (the newest [`DROPPED_KEPT`]): the number of
    /// its first line, server-wide and in the room. Enough to tell how many
    /// of the room's lines a client that resumes from long ago missed.
    dropped: VecDeque<(u64, u64)>,
}

/// How many dropped blocks [`RoomLog`] remembers the first line of: 256 MiB
/// of a room's talk, at 16 bytes each.
const DROPPED_KEPT: usize = 4096;

impl RoomLog {
    /// The position after the last byte: where a member that is caught up stands.
    pub(super) fn head(&self) -> u64 {
        self.head
    }

    /// The oldest position still held. A cursor before it has lost bytes.
    pub(super) fn tail(&self) -> u64 {
        self.blocks.front().map_or(self.head, |block| block.start)
    }

    /// Bytes held.
    pub(super) fn held(&self) -> usize {
        self.held
    }

    /// Lines the room has heard so far (the room line number of the next one).
    pub(super) fn lines(&self) -> u64 {
        self.lines
    }

    /// Appends one entry: `bytes` holding `lines` lines (each ending in a
    /// newline, except a chunk in the chunk-framing demo mode), the first
    /// of which gets the server-wide number `seq`.
    pub(super) fn append(
        &mut self,
        bytes: &[u8],
        lines: u32,
        seq: u64,
        except: Option<ClientId>,
        kind: Kind,
    ) {
        if bytes.is_empty() {
            return;
        }
        let fits = self
            .blocks
            .back()
            .is_some_and(|block| block.bytes.len() + bytes.len() <= BLOCK_BYTES);
        if !fits {
            self.blocks.push_back(Block {
                start: self.head,
                bytes: Vec::with_capacity(bytes.len().min(BLOCK_BYTES)),
            });
        }
        let block = self.blocks.back_mut().expect("a block was just made");
        block.bytes.extend_from_slice(bytes);
        self.marks.push_back(Mark {
            pos: self.head,
            len: bytes.len() as u32,
            lines,
            room_line: self.lines,
            seq,
            except,
            kind,
        });
        self.head += bytes.len() as u64;
        self.lines += u64::from(lines);
        self.held += bytes.len();
    }

    /// Drops the oldest block while the log holds more than `cap` bytes,
    /// keeping the newest block whatever its size. Returns the bytes freed.
    pub(super) fn trim_to(&mut self, cap: usize) -> usize {
        let mut freed = 0;
        while self.held > cap && self.blocks.len() > 1 {
            freed += self.drop_oldest_block();
        }
        freed
    }

    /// Drops the oldest block (not the only one). Returns the bytes freed.
    pub(super) fn drop_oldest_block(&mut self) -> usize {
        if self.blocks.len() < 2 {
            return 0;
        }
        let block = self.blocks.pop_front().expect("two blocks at least");
        let tail = block.end();
        if let Some(first) = self.marks.front() {
            if self.dropped.len() == DROPPED_KEPT {
                self.dropped.pop_front();
            }
            self.dropped.push_back((first.seq, first.room_line));
        }
        while self.marks.front().is_some_and(|mark| mark.pos < tail) {
            self.marks.pop_front();
        }
        // The vector's capacity, not only its length, goes back.
        self.held -= block.bytes.len();
        block.bytes.len()
    }

    /// The index of the mark holding `pos` (the first one ending after it).
    fn mark_index(&self, pos: u64) -> usize {
        self.marks.partition_point(|mark| mark.end() <= pos)
    }

    /// The block holding `pos`.
    fn block_of(&self, pos: u64) -> Option<&Block> {
        let index = self.blocks.partition_point(|block| block.end() <= pos);
        self.blocks.get(index).filter(|block| block.start <= pos)
    }

    /// The bytes from `from` to `to`, which must lie in one block (a span's).
    pub(super) fn bytes(&self, from: u64, to: u64) -> &[u8] {
        match self.block_of(from) {
            Some(block) if to <= block.end() => {
                &block.bytes[(from - block.start) as usize..(to - block.start) as usize]
            }
            _ => &[],
        }
    }

    /// Newlines in `from..to`, within one entry.
    fn newlines(&self, from: u64, to: u64) -> u64 {
        self.bytes(from, to).iter().filter(|&&b| b == b'\n').count() as u64
    }

    /// The room line number of the line starting at `pos` (at or after the
    /// tail): how many lines the room had heard before it.
    pub(super) fn line_at(&self, pos: u64) -> u64 {
        if pos >= self.head {
            return self.lines;
        }
        let Some(mark) = self.marks.get(self.mark_index(pos)) else {
            return self.lines;
        };
        if pos <= mark.pos {
            return mark.room_line;
        }
        mark.room_line + self.newlines(mark.pos, pos).min(u64::from(mark.lines))
    }

    /// Where the line holding `pos` ends: after its newline, or at the end
    /// of its entry (a chunk may have none).
    pub(super) fn line_end(&self, pos: u64) -> u64 {
        let Some(mark) = self.marks.get(self.mark_index(pos)) else {
            return pos;
        };
        if pos < mark.pos {
            return pos;
        }
        let rest = self.bytes(pos, mark.end());
        match rest.iter().position(|&b| b == b'\n') {
            Some(at) => pos + at as u64 + 1,
            None => mark.end(),
        }
    }

    /// True when `pos` starts a line (or is the head).
    pub(super) fn starts_line(&self, pos: u64) -> bool {
        if pos == 0 || pos >= self.head {
            return true;
        }
        let mark = self.marks.get(self.mark_index(pos));
        if mark.is_some_and(|mark| mark.pos == pos) {
            return true;
        }
        self.bytes(pos - 1, pos) == b"\n"
    }

    /// Where a cursor that fell behind the tail lands: at the first entry
    /// that starts at or after `keep` bytes before the head, so it resumes
    /// with a little of the newest talk rather than at the very edge of
    /// what is about to be dropped again.
    pub(super) fn landing(&self, keep: usize) -> u64 {
        let from = self.head.saturating_sub(keep as u64).max(self.tail());
        let index = self.marks.partition_point(|mark| mark.pos < from);
        self.marks.get(index).map_or(self.head, |mark| mark.pos)
    }

    /// The runs of bytes from `from` (a line start at or after the tail) to
    /// `to` (an entry boundary) that a viewer gets: every entry but those
    /// not meant for it (sent by one of its `ids`), cut where an entry is
    /// left out, at block ends, and, for a `numbered` viewer (one whose runs
    /// come with markers), where the line numbers jump (another room's lines
    /// took the numbers between). No ids: a viewer no entry leaves out.
    /// Appends to `out`.
    pub(super) fn spans(
        &self,
        (from, to): (u64, u64),
        ids: &[ClientId],
        numbered: bool,
        out: &mut Vec<Span>,
    ) {
        let first_new = out.len();
        let mut block_end = self.block_of(from).map_or(0, Block::end);
        for mark in self.marks.range(self.mark_index(from)..) {
            if mark.pos >= to {
                break;
            }
            if mark.except.is_some_and(|except| ids.contains(&except)) {
                block_end = 0; // whatever follows starts a new span
                continue;
            }
            let start = mark.pos.max(from);
            let end = mark.end().min(to);
            let whole = start == mark.pos && end == mark.end();
            let lines = if whole {
                u64::from(mark.lines)
            } else {
                self.newlines(start, end)
            };
            let continues = out.len() > first_new
                && out.last().is_some_and(|span| {
                    span.to == start && (!numbered || span.seq + span.lines == mark.seq)
                })
                && end <= block_end;
            if continues {
                let span = out.last_mut().expect("checked above");
                span.to = end;
                span.lines += lines;
            } else {
                block_end = self.block_of(start).map_or(0, Block::end);
                let before = if start == mark.pos {
                    0
                } else {
                    self.newlines(mark.pos, start)
                };
                out.push(Span {
                    from: start,
                    to: end,
                    seq: mark.seq + before,
                    lines,
                });
            }
        }
    }

    /// The room's count of lines before the line numbered `seq` server-wide,
    /// for a line the log may have dropped: exact for a line it holds,
    /// reckoned from the dropped blocks' first lines otherwise (lines of
    /// other rooms may have taken some of the numbers between).
    pub(super) fn line_of_seq(&self, seq: u64) -> u64 {
        if let Some(pos) = self.position_of(seq) {
            return self.line_at(pos);
        }
        let next = self.marks.front().map_or(self.lines, |mark| mark.room_line);
        let index = self.dropped.partition_point(|&(first, _)| first <= seq);
        match index.checked_sub(1).and_then(|i| self.dropped.get(i)) {
            Some(&(first, line)) => {
                let limit = self.dropped.get(index).map_or(next, |&(_, line)| line);
                (line + (seq - first)).min(limit)
            }
            None => self.dropped.front().map_or(0, |&(_, line)| line),
        }
    }

    /// The clients that entries in `from..to` are not for (their senders),
    /// sorted, each once: they cannot share a room's common view of it.
    pub(super) fn excepted(&self, from: u64, to: u64, out: &mut Vec<ClientId>) {
        for mark in self.marks.range(self.mark_index(from)..) {
            if mark.pos >= to {
                break;
            }
            if let Some(id) = mark.except {
                out.push(id);
            }
        }
        out.sort_unstable();
        out.dedup();
    }

    /// The last `count` public lines (chat, `/me`, `say`), oldest first: a
    /// late joiner's history.
    pub(super) fn public_tail(&self, count: usize) -> Vec<&[u8]> {
        let mut lines: Vec<&[u8]> = Vec::new();
        for mark in self.marks.iter().rev() {
            if lines.len() >= count {
                break;
            }
            if mark.kind != Kind::Public {
                continue;
            }
            let bytes = self.bytes(mark.pos, mark.end());
            let in_mark: Vec<&[u8]> = bytes.split_inclusive(|&b| b == b'\n').collect();
            let take = (count - lines.len()).min(in_mark.len());
            lines.extend(in_mark[in_mark.len() - take..].iter().rev());
        }
        lines.reverse();
        lines
    }

    /// The position of the line numbered `seq` server-wide, if the log still
    /// holds it; the head if every line it holds is older.
    pub(super) fn position_of(&self, seq: u64) -> Option<u64> {
        let index = self
            .marks
            .partition_point(|mark| mark.seq + u64::from(mark.lines) <= seq);
        let Some(mark) = self.marks.get(index) else {
            return Some(self.head);
        };
        if seq < mark.seq {
            // In a gap between this room's entries (the number went to
            // another room), or older than anything held: lost, unless the
            // log never dropped a byte.
            return (index > 0 || self.tail() == 0).then_some(mark.pos);
        }
        let skip = (seq - mark.seq) as usize;
        let bytes = self.bytes(mark.pos, mark.end());
        let offset: usize = bytes
            .split_inclusive(|&b| b == b'\n')
            .take(skip)
            .map(<[u8]>::len)
            .sum();
        Some(mark.pos + offset as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(log: &RoomLog, spans: &[Span]) -> String {
        spans
            .iter()
            .map(|s| String::from_utf8_lossy(log.bytes(s.from, s.to)).into_owned())
            .collect()
    }

    /// A log of three entries: ann's two lines, a notice, bob's line.
    fn sample() -> (RoomLog, ClientId, ClientId) {
        let (ann, bob) = (ClientId(1), ClientId(2));
        let mut log = RoomLog::default();
        log.append(b"> ann: a\n> ann: b\n", 2, 10, Some(ann), Kind::Public);
        log.append(b"* cy joined\n", 1, 12, None, Kind::Notice);
        log.append(b"> bob: c\n", 1, 13, Some(bob), Kind::Public);
        (log, ann, bob)
    }

    #[test]
    fn each_viewer_sees_all_but_its_own_lines_in_order() {
        let (log, ann, bob) = sample();
        let mut spans = Vec::new();
        log.spans((0, log.head()), &[], false, &mut spans);
        assert_eq!(spans.len(), 1, "one run for a viewer nothing leaves out");
        assert_eq!(spans[0].lines, 4);
        assert_eq!(spans[0].seq, 10);
        assert_eq!(
            text(&log, &spans),
            "> ann: a\n> ann: b\n* cy joined\n> bob: c\n"
        );
        spans.clear();
        log.spans((0, log.head()), &[ann], false, &mut spans);
        assert_eq!(text(&log, &spans), "* cy joined\n> bob: c\n");
        assert_eq!((spans[0].seq, spans[0].lines), (12, 2));
        spans.clear();
        log.spans((0, log.head()), &[bob], false, &mut spans);
        assert_eq!(spans.len(), 1);
        assert_eq!(text(&log, &spans), "> ann: a\n> ann: b\n* cy joined\n");
    }

    #[test]
    fn a_cursor_inside_an_entry_counts_its_lines() {
        let (log, _, _) = sample();
        let second = 9; // "> ann: b\n" starts after the first line
        assert!(log.starts_line(second));
        assert!(!log.starts_line(second + 1));
        assert_eq!(log.line_at(second), 1);
        assert_eq!(log.line_end(second + 3), 18);
        let mut spans = Vec::new();
        log.spans((second, log.head()), &[], false, &mut spans);
        assert_eq!((spans[0].seq, spans[0].lines), (11, 3));
        assert_eq!(log.line_at(log.head()), 4);
        assert_eq!(log.position_of(11), Some(second));
        assert_eq!(log.position_of(13), Some(30));
        assert_eq!(log.position_of(14), Some(log.head()));
    }

    #[test]
    fn trimming_drops_whole_blocks_and_moves_the_tail() {
        let mut log = RoomLog::default();
        let line = vec![b'x'; 999];
        let mut entry = line.clone();
        entry.push(b'\n');
        for seq in 0..200 {
            log.append(&entry, 1, seq, None, Kind::Public);
        }
        assert_eq!(log.held(), 200_000);
        let freed = log.trim_to(100_000);
        assert!(freed > 0 && log.held() <= 100_000, "held {}", log.held());
        assert!(log.tail() > 0);
        assert_eq!(log.tail() % 1000, 0, "blocks hold whole entries");
        assert_eq!(log.line_at(log.tail()), log.tail() / 1000);
        assert_eq!(log.position_of(0), None, "dropped");
        let landing = log.landing(10_000);
        assert_eq!(landing, log.head() - 10_000);
        assert_eq!(log.line_at(landing), 190);
        // A span never crosses a block.
        let mut spans = Vec::new();
        log.spans((log.tail(), log.head()), &[], false, &mut spans);
        assert!(spans.len() >= 2);
        assert_eq!(
            spans.iter().map(|s| s.lines).sum::<u64>(),
            200 - log.line_at(log.tail())
        );
        for span in &spans {
            assert_eq!(
                log.bytes(span.from, span.to).len() as u64,
                span.to - span.from
            );
        }
    }

    #[test]
    fn history_is_the_last_public_lines() {
        let (log, _, _) = sample();
        let tail: Vec<&[u8]> = log.public_tail(2);
        assert_eq!(tail, [&b"> ann: b\n"[..], b"> bob: c\n"]);
        assert_eq!(log.public_tail(9).len(), 3, "notices are left out");
        assert!(RoomLog::default().public_tail(5).is_empty());
    }
}
