//! What the broadcaster keeps about each client it writes to ([`Peer`]):
//! its socket, its *cursor* (where it stands in its room's log), the rest of
//! a line that the last write cut (its *carry*), and its *own queue*: the
//! lines for it alone (replies, private messages, its welcome), each due
//! before a given position of the room's log, so what one client sees keeps
//! the order things happened in. Pure bookkeeping and planning; the fan-out
//! (`fanout.rs`) does the writing and the unit tests below check the rest.
//!
//! A write to a client is *planned* first: its carry, then its own lines
//! and the room's bytes interleaved by position, as [`Piece`]s. After the
//! socket takes `n` bytes, [`Peer::advance`] moves the cursor past what was
//! written. A write never leaves the cursor inside a line: the rest of a cut
//! line is copied to the carry, so the log may drop any block behind a
//! cursor without ever splitting a line in two.

use std::collections::VecDeque;
use std::io::IoSlice;
use std::net::TcpStream;
use std::ops::Range;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::roomlog::{RoomLog, Span};
use crate::protocol::lines;
use crate::server::client::{ClientId, Meters};
use crate::server::rooms::RoomId;

/// After a write that the socket took part of, try again this soon: the
/// client is reading, and its socket will have room again shortly.
const RETRY_SOON: Duration = Duration::from_millis(1);

/// After a write the socket took nothing of, wait this long before the next
/// try, doubling up to [`MAX_BACKOFF`]. A try costs a non-blocking write
/// (a few microseconds), so a stalled client can be tried often without
/// the room noticing; 64 ms at most lets a laptop that wakes up within its
/// write timeout get its backlog almost at once.
const MIN_BACKOFF: Duration = Duration::from_millis(2);
const MAX_BACKOFF: Duration = Duration::from_millis(64);

/// After a client has been behind, its writes stay non-blocking this long
/// even once it has caught up. A blocking write to a socket with no room
/// costs the broadcaster a whole kernel timer tick (a few ms) before its
/// timeout fires; a client that is behind now and then should pay that
/// once, not every time it catches up.
const CAREFUL_FOR: Duration = Duration::from_secs(1);

/// Most pieces one write hands the socket (a vectored write takes a list).
const MAX_PIECES: usize = 64;

/// A client's own queue is over its limit: it is not reading its replies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Overflow;

/// Lines for one client alone, due before room position `at`.
#[derive(Debug)]
struct Own {
    at: u64,
    bytes: Box<[u8]>,
}

/// A client that has left: it gets the room's bytes up to `stop`, then its
/// own last lines (a farewell), then FIN.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Leaving {
    /// The room's head when it left.
    pub(super) stop: u64,
    /// The console kicked it: its reader must be woken when it is closed.
    pub(super) kicked: bool,
}

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
    fn len(&self) -> usize {
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
    fn clear(&mut self) {
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
        self.end = self.push_room(log, from, to, None, session, MAX_PIECES);
    }

    /// Adds the room's bytes from `from` to `to` that `viewer` gets (each
    /// run after its marker, for a client that resumes), stopping once the
    /// plan holds `max_pieces` pieces. Returns where it stopped: `to`, or
    /// the end of the last run it took.
    fn push_room(
        &mut self,
        log: &RoomLog,
        from: u64,
        to: u64,
        viewer: Option<ClientId>,
        session: bool,
        max_pieces: usize,
    ) -> u64 {
        self.spans.clear();
        log.spans(from, to, viewer, &mut self.spans);
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
    /// plan's markers and, for a tailored plan, the peer's carry and queue.
    pub(super) fn slices<'a>(
        &'a self,
        log: &'a RoomLog,
        peer: Option<&'a Peer>,
    ) -> Vec<IoSlice<'a>> {
        let mut own = peer.map(|p| p.own.iter());
        self.pieces
            .iter()
            .map(|piece| {
                IoSlice::new(match piece {
                    Piece::Carry(_) => peer.map_or(&[][..], |p| &p.carry[..]),
                    Piece::Own(_) => own
                        .as_mut()
                        .and_then(Iterator::next)
                        .map_or(&[][..], |item| &item.bytes[..]),
                    Piece::Marker(range) => &self.markers[range.clone()],
                    Piece::Room(from, to) => log.bytes(*from, *to),
                })
            })
            .collect()
    }
}

/// When to write to a client again, and since when it has made no progress.
#[derive(Debug)]
pub(super) struct Pace {
    /// When the socket last took bytes, or when bytes started waiting.
    last_progress: Instant,
    /// When to try again, while bytes wait.
    retry_at: Instant,
    /// The wait after the next fruitless try.
    backoff: Duration,
    /// Until when writes stay non-blocking (see [`CAREFUL_FOR`]).
    careful_until: Instant,
    /// Bytes were waiting after the last write.
    behind: bool,
}

impl Pace {
    fn new(now: Instant) -> Pace {
        Pace {
            last_progress: now,
            retry_at: now,
            backoff: MIN_BACKOFF,
            careful_until: now,
            behind: false,
        }
    }

    /// Records a write that the socket took `taken` bytes of, after which
    /// `left` bytes still wait.
    pub(super) fn wrote(&mut self, taken: usize, left: usize, now: Instant) {
        if taken > 0 || !self.behind {
            // Progress, or the first bytes that have to wait: the clock
            // for "no progress" starts again.
            self.last_progress = now;
        }
        if left == 0 {
            self.behind = false;
            self.backoff = MIN_BACKOFF;
            return;
        }
        if !self.behind {
            self.behind = true;
        }
        self.careful_until = now + CAREFUL_FOR;
        if taken > 0 {
            self.backoff = MIN_BACKOFF;
            self.retry_at = now + RETRY_SOON;
        } else {
            self.retry_at = now + self.backoff;
            self.backoff = (self.backoff * 2).min(MAX_BACKOFF);
        }
    }

    /// True while bytes wait for the client.
    pub(super) fn is_behind(&self) -> bool {
        self.behind
    }

    /// True when a client that is behind should be tried again.
    pub(super) fn is_due(&self, now: Instant) -> bool {
        self.behind && self.retry_at <= now
    }

    /// When to look at this client next: its retry, or the moment its
    /// write timeout runs out, whichever is first.
    pub(super) fn next_check(&self, write_timeout: Duration) -> Option<Instant> {
        self.behind
            .then(|| self.retry_at.min(self.last_progress + write_timeout))
    }

    /// True when bytes have waited `write_timeout` without the socket
    /// taking any: the client has stopped reading.
    pub(super) fn is_stalled(&self, now: Instant, write_timeout: Duration) -> bool {
        self.behind && now.saturating_duration_since(self.last_progress) >= write_timeout
    }

    /// True while writes should not block at all.
    pub(super) fn is_careful(&self, now: Instant) -> bool {
        self.behind || now < self.careful_until
    }
}

/// A client the broadcaster writes to.
#[derive(Debug)]
pub(super) struct Peer {
    /// The client's socket (the same descriptor its reader reads).
    pub(super) stream: Arc<TcpStream>,
    /// Its meters, shared with the registry record: the broadcaster
    /// publishes how far behind it is there.
    pub(super) meters: Arc<Meters>,
    /// The room it is in, as the broadcaster's events have it (changed by a
    /// move event, in the order of the lines around it).
    pub(super) room: RoomId,
    /// Where it stands in its room's log: the bytes before have been written.
    cursor: u64,
    /// The room's count of lines at the cursor.
    line: u64,
    /// The rest of a line a write cut: it goes first.
    carry: Vec<u8>,
    /// Lines for it alone, in order, each due before a room position.
    own: VecDeque<Own>,
    own_bytes: usize,
    /// Most bytes its own queue may hold (`--sendq-bytes`).
    own_limit: usize,
    /// It resumes after reconnecting: its room runs come with markers.
    pub(super) session: bool,
    /// It has left: what it still gets, and how to close it.
    pub(super) leaving: Option<Leaving>,
    /// When to write to it again.
    pub(super) pace: Pace,
    /// The last figure published in its meters.
    published: u64,
    /// The fan-out's turn in which it was last written to (once per turn).
    pub(super) visited: u64,
}

impl Peer {
    /// A client that starts at the head of its room's `log`.
    pub(super) fn new(
        stream: Arc<TcpStream>,
        meters: Arc<Meters>,
        room: RoomId,
        log: &RoomLog,
        own_limit: usize,
        now: Instant,
    ) -> Peer {
        Peer {
            stream,
            meters,
            room,
            cursor: log.head(),
            line: log.lines(),
            carry: Vec::new(),
            own: VecDeque::new(),
            own_bytes: 0,
            own_limit,
            session: false,
            leaving: None,
            pace: Pace::new(now),
            published: 0,
            visited: 0,
        }
    }

    /// Where its writing ends: the room's head, or where it left.
    pub(super) fn end(&self, log: &RoomLog) -> u64 {
        self.leaving.map_or(log.head(), |leaving| leaving.stop)
    }

    /// Where it stands in its room's log.
    #[cfg(test)]
    pub(super) fn cursor(&self) -> u64 {
        self.cursor
    }

    /// Bytes that wait for it: its carry, its own queue, and the room's
    /// bytes it has not had that the log still holds (its own lines among
    /// them, which it never gets).
    pub(super) fn pending(&self, log: &RoomLog) -> usize {
        let from = self.cursor.max(log.tail());
        self.carry.len() + self.own_bytes + self.end(log).saturating_sub(from) as usize
    }

    /// True when nothing of its own waits and it stands at `at`: it can
    /// share the room's common view of what follows.
    pub(super) fn shares_view_from(&self, at: u64) -> bool {
        self.cursor == at && self.carry.is_empty() && self.own.is_empty() && self.leaving.is_none()
    }

    /// Queues `bytes` for it alone, after the room's lines so far.
    ///
    /// # Errors
    /// [`Overflow`] if its own queue would pass its limit (nothing is queued).
    pub(super) fn push_own(&mut self, bytes: &[u8], log: &RoomLog) -> Result<(), Overflow> {
        if self.own_bytes + bytes.len() > self.own_limit {
            return Err(Overflow);
        }
        self.push_own_unchecked(bytes.into(), self.end(log));
        Ok(())
    }

    fn push_own_unchecked(&mut self, bytes: Box<[u8]>, at: u64) {
        if bytes.is_empty() {
            return;
        }
        self.own_bytes += bytes.len();
        self.own.push_back(Own { at, bytes });
    }

    /// If the log has dropped bytes this client had not had, it skips to
    /// where the log lands it (`keep` bytes before the head), and is told
    /// how many lines it missed at the point of the gap. Returns that count.
    pub(super) fn skip_if_lost(&mut self, log: &RoomLog, keep: usize) -> Option<u64> {
        if self.cursor >= log.tail() {
            return None;
        }
        let end = self.end(log);
        let landing = log.landing(keep).min(end);
        let skipped = log.line_at(landing).saturating_sub(self.line);
        // The notice goes after its own lines that were due by the old
        // cursor and before those due later; everything due before the
        // landing is now due at it, in the same order.
        let index = self.own.partition_point(|item| item.at <= self.cursor);
        let notice = lines::skipped(skipped);
        self.own_bytes += notice.len();
        self.own.insert(
            index,
            Own {
                at: landing,
                bytes: notice.into(),
            },
        );
        for item in &mut self.own {
            item.at = item.at.max(landing);
        }
        self.cursor = landing;
        self.line = log.line_at(landing);
        self.meters.skipped_lines.fetch_add(skipped, Relaxed);
        Some(skipped)
    }

    /// Plans its next write: the carry, then its own lines and the room's
    /// bytes in order, up to its end, in at most [`MAX_PIECES`] pieces.
    pub(super) fn plan(&self, log: &RoomLog, id: ClientId, plan: &mut Plan) {
        self.plan_within(log, id, plan, MAX_PIECES);
    }

    fn plan_within(&self, log: &RoomLog, id: ClientId, plan: &mut Plan, max_pieces: usize) {
        plan.clear();
        let end = self.end(log);
        if !self.carry.is_empty() {
            plan.pieces.push(Piece::Carry(self.carry.len()));
            plan.total += self.carry.len();
        }
        let mut pos = self.cursor;
        let mut own = self.own.iter().peekable();
        loop {
            // Own lines due by now (and, for a client that has left, all
            // that remain: they follow the last room bytes it gets).
            while let Some(item) = own.next_if(|item| item.at <= pos || pos >= end) {
                plan.pieces.push(Piece::Own(item.bytes.len()));
                plan.total += item.bytes.len();
            }
            if plan.pieces.len() >= max_pieces {
                break;
            }
            let stop = own.peek().map_or(end, |item| item.at.min(end));
            if pos >= stop {
                break;
            }
            pos = plan.push_room(log, pos, stop, Some(id), self.session, max_pieces);
            if pos < stop {
                break; // out of pieces: the rest next time
            }
        }
        plan.end = pos;
    }

    /// Records that the socket took `written` bytes of `plan`: the cursor
    /// moves past them, and the rest of a piece cut in the middle of a line
    /// goes to the carry. Publishes how far behind the client now is.
    pub(super) fn advance(&mut self, log: &RoomLog, plan: &Plan, mut written: usize) {
        let mut own_done = 0;
        let mut cursor = self.cursor;
        let mut rest: Option<Vec<u8>> = None;
        let mut complete = true;
        for piece in &plan.pieces {
            let len = piece.len();
            if written >= len {
                written -= len;
                match piece {
                    Piece::Carry(_) => self.carry.clear(),
                    Piece::Own(_) => own_done += 1,
                    Piece::Marker(_) => {}
                    Piece::Room(_, to) => cursor = *to,
                }
                continue;
            }
            complete = false;
            if written == 0 {
                break; // the write ended exactly before this piece
            }
            match piece {
                Piece::Carry(_) => {
                    self.carry.drain(..written);
                }
                Piece::Own(_) => {
                    rest = Some(self.own[own_done].bytes[written..].to_vec());
                    own_done += 1;
                }
                Piece::Marker(range) => {
                    rest = Some(plan.markers[range.start + written..range.end].to_vec());
                }
                Piece::Room(from, _) => {
                    let at = from + written as u64;
                    if log.starts_line(at) {
                        cursor = at;
                    } else {
                        let end = log.line_end(at);
                        rest = Some(log.bytes(at, end).to_vec());
                        cursor = end;
                    }
                }
            }
            break;
        }
        for _ in 0..own_done {
            if let Some(item) = self.own.pop_front() {
                self.own_bytes -= item.bytes.len();
            }
        }
        if let Some(rest) = rest {
            // Only one piece is ever cut, and the carry went out before it.
            self.carry.extend_from_slice(&rest);
        }
        self.cursor = if complete { plan.end } else { cursor };
        self.line = log.line_at(self.cursor);
        self.publish(log);
    }

    /// Moves it to another room. What it had not had of the old room (its
    /// own lines among it) is copied into its own queue, so it still gets
    /// every line up to the move and then the new room's; if that is more
    /// than its queue may hold, it skips it and is told so.
    pub(super) fn move_to(&mut self, id: ClientId, old: &RoomLog, new: &RoomLog, room: RoomId) {
        let mut plan = Plan::default();
        self.plan_within(old, id, &mut plan, usize::MAX);
        let mut rest: Vec<u8> = Vec::new();
        for (piece, slice) in plan.pieces.iter().zip(plan.slices(old, Some(self))) {
            if !matches!(piece, Piece::Carry(_)) {
                rest.extend_from_slice(&slice);
            }
        }
        let skipped = old.lines().saturating_sub(self.line);
        self.own.clear();
        self.own_bytes = 0;
        self.room = room;
        self.cursor = new.head();
        self.line = new.lines();
        if rest.len() > self.own_limit {
            self.meters.skipped_lines.fetch_add(skipped, Relaxed);
            rest = lines::skipped(skipped);
        }
        self.push_own_unchecked(rest.into(), self.cursor);
    }

    /// Publishes how far behind it is, when that changed.
    pub(super) fn publish(&mut self, log: &RoomLog) {
        let pending = self.pending(log) as u64;
        if pending != self.published {
            self.published = pending;
            self.meters.queued_bytes.store(pending, Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::roomlog::Kind;
    use super::*;
    use std::net::TcpListener;

    const ME: ClientId = ClientId(1);
    const OTHER: ClientId = ClientId(2);

    fn socket() -> Arc<TcpStream> {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        let addr = listener.local_addr().expect("local addr");
        Arc::new(TcpStream::connect(addr).expect("connect loopback"))
    }

    fn peer(log: &RoomLog, limit: usize) -> Peer {
        let now = Instant::now();
        Peer::new(socket(), Arc::default(), RoomId::LOBBY, log, limit, now)
    }

    /// Everything `plan` would write, as text.
    fn text(plan: &Plan, log: &RoomLog, peer: &Peer) -> String {
        plan.slices(log, Some(peer))
            .iter()
            .map(|s| String::from_utf8_lossy(s).into_owned())
            .collect()
    }

    fn chat(log: &mut RoomLog, from: ClientId, text: &str, seq: u64) {
        let line = format!("> {}: {text}\n", from.0);
        log.append(line.as_bytes(), 1, seq, Some(from), Kind::Public);
    }

    #[test]
    fn own_lines_come_in_their_place_among_the_rooms() {
        let mut log = RoomLog::default();
        let mut me = peer(&log, 1000);
        chat(&mut log, OTHER, "one", 1);
        me.push_own(b"* reply\n", &log).expect("fits");
        chat(&mut log, OTHER, "two", 2);
        chat(&mut log, ME, "mine", 3);
        let mut plan = Plan::default();
        me.plan(&log, ME, &mut plan);
        assert_eq!(text(&plan, &log, &me), "> 2: one\n* reply\n> 2: two\n");
        me.advance(&log, &plan, plan.total);
        assert_eq!(me.cursor(), log.head(), "past its own line too");
        assert_eq!(me.pending(&log), 0);
    }

    #[test]
    fn a_cut_line_is_finished_first_and_the_cursor_never_splits_one() {
        let mut log = RoomLog::default();
        let mut me = peer(&log, 1000);
        chat(&mut log, OTHER, "hello", 1);
        chat(&mut log, OTHER, "world", 2);
        let mut plan = Plan::default();
        me.plan(&log, ME, &mut plan);
        me.advance(&log, &plan, 4); // "> 2:" of the first line
        assert_eq!(me.cursor(), 11, "past the whole first line");
        me.plan(&log, ME, &mut plan);
        assert_eq!(text(&plan, &log, &me), " hello\n> 2: world\n");
        me.advance(&log, &plan, 2);
        me.plan(&log, ME, &mut plan);
        assert_eq!(text(&plan, &log, &me), "ello\n> 2: world\n");
        me.advance(&log, &plan, plan.total);
        assert_eq!(me.pending(&log), 0);
    }

    #[test]
    fn a_reader_the_log_left_behind_skips_and_is_told_where() {
        let mut log = RoomLog::default();
        let mut me = peer(&log, 1000);
        me.push_own(b"* before\n", &log).expect("fits");
        let line = "x".repeat(994);
        for seq in 0..300 {
            chat(&mut log, OTHER, &line, seq);
        }
        me.push_own(b"* after\n", &log).expect("fits");
        log.trim_to(200_000);
        let skipped = me.skip_if_lost(&log, 5_000).expect("it fell off");
        assert_eq!(skipped, 295);
        assert_eq!(me.meters.skipped_lines.load(Relaxed), 295);
        let mut plan = Plan::default();
        me.plan(&log, ME, &mut plan);
        let got = text(&plan, &log, &me);
        assert!(
            got.starts_with("* before\n* 295 lines skipped: you fell behind\n> 2: xxx"),
            "{}",
            &got[..80]
        );
        assert_eq!(got.matches("> 2: ").count(), 5);
        assert!(got.ends_with("* after\n"));
        assert!(me.skip_if_lost(&log, 5_000).is_none(), "once");
    }

    #[test]
    fn a_resuming_client_gets_markers_with_line_numbers() {
        let mut log = RoomLog::default();
        let mut me = peer(&log, 1000);
        me.session = true;
        chat(&mut log, OTHER, "a", 7);
        chat(&mut log, ME, "b", 8);
        chat(&mut log, OTHER, "c", 9);
        let mut plan = Plan::default();
        me.plan(&log, ME, &mut plan);
        assert_eq!(text(&plan, &log, &me), "#7 1\n> 2: a\n#9 1\n> 2: c\n");
    }

    #[test]
    fn a_move_keeps_the_old_rooms_lines_then_the_new_ones() {
        let mut lobby = RoomLog::default();
        let mut lab = RoomLog::default();
        chat(&mut lab, OTHER, "said before", 1);
        let mut me = peer(&lobby, 1000);
        chat(&mut lobby, OTHER, "old room", 2);
        me.push_own(b"* you are now in lab\n", &lobby)
            .expect("fits");
        me.move_to(ME, &lobby, &lab, RoomId(5));
        chat(&mut lab, OTHER, "new room", 3);
        let mut plan = Plan::default();
        me.plan(&lab, ME, &mut plan);
        assert_eq!(
            text(&plan, &lab, &me),
            "> 2: old room\n* you are now in lab\n> 2: new room\n"
        );
        assert_eq!(me.room, RoomId(5));
    }

    #[test]
    fn the_own_queue_is_bounded() {
        let log = RoomLog::default();
        let mut me = peer(&log, 10);
        assert_eq!(me.push_own(b"123456", &log), Ok(()));
        assert_eq!(me.push_own(b"123456", &log), Err(Overflow));
        assert_eq!(me.pending(&log), 6);
    }

    #[test]
    fn a_stalled_client_backs_off_and_is_found_stalled() {
        let start = Instant::now();
        let second = Duration::from_secs(1);
        let mut pace = Pace::new(start);
        assert!(!pace.is_behind() && !pace.is_careful(start));
        pace.wrote(0, 100, start);
        assert!(pace.is_behind() && !pace.is_due(start));
        assert!(pace.is_due(start + MIN_BACKOFF));
        pace.wrote(0, 100, start + MIN_BACKOFF);
        assert!(!pace.is_due(start + MIN_BACKOFF * 2), "the wait doubled");
        assert!(!pace.is_stalled(start + second / 2, second));
        assert!(
            pace.is_stalled(start + second, second),
            "no progress for a second"
        );
        pace.wrote(10, 90, start + second / 2);
        assert!(
            !pace.is_stalled(start + second, second),
            "progress resets it"
        );
        pace.wrote(90, 0, start + second);
        assert!(!pace.is_behind());
        assert!(pace.is_careful(start + second), "stays careful a while");
        assert!(!pace.is_careful(start + second + CAREFUL_FOR));
    }
}
