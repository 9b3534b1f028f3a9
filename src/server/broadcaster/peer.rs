//! What the broadcaster keeps about each client it writes to ([`Peer`]):
//! its socket, its *cursor* (where it stands in its room's log), the rest of
//! a line that the last write cut (its *carry*), and its *own queue*: the
//! lines for it alone (replies, private messages, its welcome), each due
//! before a given position of the room's log, so what one client sees keeps
//! the order things happened in. Pure bookkeeping and planning; the fan-out
//! (`fanout.rs`) does the writing and the unit tests below check the rest.
//!
//! A write to a client is *planned* first (`plan.rs`): its carry, then its
//! own lines and the room's bytes interleaved by position. After the
//! socket takes `n` bytes, [`Peer::advance`] moves the cursor past what was
//! written. A write never leaves the cursor inside a line: the rest of a cut
//! line is copied to the carry, so the log may drop any block behind a
//! cursor without ever splitting a line in two.

use std::collections::VecDeque;
use std::io::IoSlice;
use std::net::TcpStream;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Instant;

use super::pace::Pace;
use super::plan::{Piece, Plan, MAX_PIECES};
use super::roomlog::RoomLog;
use crate::protocol::lines;
use crate::server::client::{ClientId, Meters};
use crate::server::rooms::RoomId;

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
    /// It asked for a session: its room runs come with markers.
    pub(super) session: bool,
    /// The ids of the connections this one took the session over from:
    /// their lines are its own too, which it never gets back.
    former: Vec<ClientId>,
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
            former: Vec::new(),
            leaving: None,
            pace: Pace::new(now),
            published: 0,
            visited: 0,
        }
    }

    /// The ids its own lines carry: `id`, and those of the connections it
    /// took its session over from.
    pub(super) fn ids(&self, id: ClientId) -> Vec<ClientId> {
        let mut ids = Vec::with_capacity(1 + self.former.len());
        ids.push(id);
        ids.extend_from_slice(&self.former);
        ids
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
        let ids = self.ids(id);
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
            pos = plan.push_room(log, pos, stop, &ids, self.session, max_pieces);
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
                    rest = Some(plan.marker(range)[written..].to_vec());
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
        for (piece, slice) in plan.pieces.iter().zip(self.slices(&plan, old)) {
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

    /// Takes over a session: this new connection `id` joins `room` (whose
    /// log is `log`) where the client stopped reading, after room line
    /// `last` (or, if the log no longer holds that, where it lands, with a
    /// skip line); `former` was the session's connection. It gets `session`
    /// (its `#session` line) first, then the lines it missed, then how many
    /// those were. Returns that number.
    pub(super) fn resume(
        &mut self,
        id: ClientId,
        former: ClientId,
        (room, log): (RoomId, &RoomLog),
        session: &[u8],
        last: u64,
        keep: usize,
    ) -> u64 {
        self.room = room;
        self.session = true;
        self.former.retain(|&f| f != former);
        self.former.insert(0, former);
        // A session taken over many times remembers its last few connections.
        self.former.truncate(8);
        let (start, skipped) = match log.position_of(last + 1) {
            Some(pos) => (pos, None),
            None => {
                let landing = log.landing(keep);
                let missed = log
                    .line_at(landing)
                    .saturating_sub(log.line_of_seq(last + 1));
                (landing, Some(missed))
            }
        };
        // What it was sent before (its welcome) comes first.
        for item in &mut self.own {
            item.at = start;
        }
        self.push_own_unchecked(session.into(), start);
        if let Some(skipped) = skipped {
            self.meters.skipped_lines.fetch_add(skipped, Relaxed);
            self.push_own_unchecked(lines::skipped(skipped).into(), start);
        }
        self.cursor = start;
        self.line = log.line_at(start);
        let mut spans = Vec::new();
        log.spans((start, log.head()), &self.ids(id), true, &mut spans);
        let missed: u64 = spans.iter().map(|span| span.lines).sum();
        self.push_own_unchecked(lines::resumed(missed).into(), log.head());
        missed
    }

    /// `plan`, made for this client, as slices for one vectored write.
    pub(super) fn slices<'a>(&'a self, plan: &'a Plan, log: &'a RoomLog) -> Vec<IoSlice<'a>> {
        plan.slices(
            log,
            &self.carry,
            self.own.iter().map(|item| &item.bytes[..]),
        )
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
        peer.slices(plan, log)
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
}
