//! The healthy clients: seated before anything else happens, they talk at
//! a chatty pace in their room and read everything, all through the chaos
//! and up to the server's goodbye. Each keeps the tag of every chat line
//! and action it got, in order, and (with a session) the number of every
//! room line: `checks/lines.rs` compares those with the transcript.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, TryRecvError};

use super::{deadline, Ctx};
use crate::conn::{is_skip_notice, parse_session, Conn, Dial, Got, Numbered, Numbering};
use crate::mix::{line_text, Kind, Member, Tag, MUTED_MARK};

/// The pace of a healthy client's talk: a line every 1.5 to 4.5 s.
const TALK_MS: (u64, u64) = (1500, 4500);

/// What one healthy client got.
#[derive(Debug)]
pub(crate) struct HealthyReport {
    pub(crate) member: Member,
    /// It got through seating (welcome, name, room, session).
    pub(crate) seated: bool,
    /// The number of the last room line before its session began.
    pub(crate) session_start: Option<u64>,
    /// Lines it sent: tags 1 to `sent` (the last one ends in `done`).
    pub(crate) sent: u32,
    /// Each numbered room line: its number, and its tag if it is a chat
    /// line or an action (session only).
    pub(crate) numbered: Vec<(u64, Option<Tag>)>,
    /// The tag of every chat line and action it got, in order.
    pub(crate) tags: Vec<Tag>,
    /// `* N lines skipped` notices.
    pub(crate) skips: Vec<String>,
    /// `!` lines, and anything else that should not happen to it.
    pub(crate) errors: Vec<String>,
    /// Lines carrying the muted clients' mark.
    pub(crate) muted_heard: Vec<String>,
    /// Lines received in all.
    pub(crate) lines: u64,
    /// Its last line was `* server shutting down`, then the server closed.
    pub(crate) goodbye: bool,
    pub(crate) closed: bool,
}

/// The signals a healthy client takes from `main.rs`, each a channel that
/// is never sent on and whose disconnection is the signal.
#[derive(Debug, Clone)]
pub(crate) struct Cues {
    /// Every healthy client is seated: start talking.
    pub(crate) go: Receiver<()>,
    /// The chaos is over: send the last line and stop talking.
    pub(crate) talk: Receiver<()>,
    /// The server has stopped: stop reading.
    pub(crate) quit: Receiver<()>,
}

/// Where a healthy client reports.
#[derive(Debug, Clone)]
pub(crate) struct Reports {
    /// Seated (or why not).
    pub(crate) seated: Sender<Result<(), String>>,
    /// It has every room mate's last line.
    pub(crate) caught_up: Sender<u32>,
}

/// Runs one healthy client. `mates` are the other healthy clients of its room.
pub(crate) fn run(
    ctx: &Ctx,
    member: Member,
    mates: BTreeSet<u32>,
    cues: &Cues,
    reports: &Reports,
) -> HealthyReport {
    let mut me = Healthy {
        numbering: member.has_session().then(Numbering::default),
        report: HealthyReport {
            member,
            seated: false,
            session_start: None,
            sent: 0,
            numbered: Vec::new(),
            tags: Vec::new(),
            skips: Vec::new(),
            errors: Vec::new(),
            muted_heard: Vec::new(),
            lines: 0,
            goodbye: false,
            closed: false,
        },
        last_line: String::new(),
        mates,
        done: BTreeSet::new(),
    };
    let mut conn = match me.seat(ctx) {
        Ok(conn) => {
            me.report.seated = true;
            let _ = reports.seated.send(Ok(()));
            conn
        }
        Err(e) => {
            let _ = reports
                .seated
                .send(Err(format!("{}: {e}", me.report.member.name)));
            me.report.errors.push(format!("seating: {e}"));
            return me.report;
        }
    };
    me.wait_for(&mut conn, &cues.go);
    me.talk(ctx, &mut conn, &cues.talk);
    me.finish(&mut conn, cues, reports);
    me.report
}

#[derive(Debug)]
struct Healthy {
    report: HealthyReport,
    numbering: Option<Numbering>,
    last_line: String,
    mates: BTreeSet<u32>,
    /// Room mates whose last line it got.
    done: BTreeSet<u32>,
}

impl Healthy {
    /// Connects, names itself, goes to its room, asks for a session.
    fn seat(&mut self, ctx: &Ctx) -> Result<Conn, String> {
        let member = self.report.member.clone();
        let mut conn = ctx
            .open(Kind::Healthy, Dial::HEALTHY)
            .map_err(|e| format!("connect: {e}"))?;
        let until = deadline(30);
        conn.expect(until, |l| l.starts_with("* welcome "), |_| {})?;
        conn.send(&format!("/nick {}", member.name))
            .map_err(|e| e.to_string())?;
        let you = format!("* you are now {}", member.name);
        conn.expect(until, |l| l == you || l.starts_with("! "), |_| {})
            .and_then(|l| if l == you { Ok(l) } else { Err(l) })?;
        if member.room != "lobby" {
            conn.send(&format!("/join {}", member.room))
                .map_err(|e| e.to_string())?;
            let there = format!("* you are now in {}", member.room);
            conn.expect(until, |l| l == there, |_| {})?;
        }
        if self.numbering.is_some() {
            conn.send("/session").map_err(|e| e.to_string())?;
            let line = conn.expect(until, |l| l.starts_with("#session "), |_| {})?;
            let (_, last) = parse_session(&line).ok_or(format!("bad session line {line:?}"))?;
            self.report.session_start = Some(last);
        }
        Ok(conn)
    }

    /// Reads until `cue` is given (its channel disconnects).
    fn wait_for(&mut self, conn: &mut Conn, cue: &Receiver<()>) {
        while matches!(cue.try_recv(), Err(TryRecvError::Empty)) {
            if !self.read(conn, Instant::now() + Duration::from_millis(100)) {
                return;
            }
        }
    }

    /// Talks and reads until the `talk` cue, then sends its last line.
    fn talk(&mut self, ctx: &Ctx, conn: &mut Conn, talk: &Receiver<()>) {
        let mut rng = ctx.rng(&self.report.member);
        let mut next = Instant::now() + Duration::from_millis(rng.between(0, TALK_MS.1));
        loop {
            if !matches!(talk.try_recv(), Err(TryRecvError::Empty)) {
                break;
            }
            let step = next.min(Instant::now() + Duration::from_millis(250));
            if !self.read(conn, step) {
                return;
            }
            if Instant::now() >= next {
                self.report.sent += 1;
                let tag = self.tag();
                if let Err(e) = conn.send(&line_text(tag, rng.below(12) + 1, &mut rng)) {
                    self.report.errors.push(format!("send {tag}: {e}"));
                    return;
                }
                next = Instant::now() + Duration::from_millis(rng.between(TALK_MS.0, TALK_MS.1));
            }
        }
        self.report.sent += 1;
        let tag = self.tag();
        if let Err(e) = conn.send(&format!("{tag} done")) {
            self.report.errors.push(format!("send {tag}: {e}"));
        }
    }

    fn tag(&self) -> Tag {
        Tag {
            who: self.report.member.who,
            n: self.report.sent,
        }
    }

    /// Reads to the end: reports once it has every room mate's last line,
    /// and stops when the server closes or `quit` is given.
    fn finish(&mut self, conn: &mut Conn, cues: &Cues, reports: &Reports) {
        let mut told = false;
        while matches!(cues.quit.try_recv(), Err(TryRecvError::Empty)) {
            if !told && self.done.is_superset(&self.mates) {
                let _ = reports.caught_up.send(self.report.member.who);
                told = true;
            }
            if !self.read(conn, Instant::now() + Duration::from_millis(100)) {
                break;
            }
        }
        self.report.goodbye = self.report.closed && self.last_line == "* server shutting down";
    }

    /// Reads what comes by `until`. Returns false once the connection ended.
    fn read(&mut self, conn: &mut Conn, until: Instant) -> bool {
        loop {
            match conn.next(until) {
                Got::Line(line) => self.on_line(line),
                Got::Quiet => return true,
                Got::Closed => {
                    self.report.closed = true;
                    return false;
                }
                Got::Failed(e) => {
                    self.report.errors.push(format!("connection failed: {e}"));
                    return false;
                }
            }
        }
    }

    fn on_line(&mut self, line: String) {
        self.report.lines += 1;
        let numbered = match &mut self.numbering {
            Some(numbering) => numbering.classify(&line),
            None => Numbered::Own,
        };
        if is_skip_notice(&line) {
            self.report.skips.push(line.clone());
        } else if line.starts_with("! ") && self.report.errors.len() < 20 {
            self.report.errors.push(line.clone());
        }
        if line.contains(MUTED_MARK) {
            self.report.muted_heard.push(line.clone());
        }
        let tag = room_line_tag(&line);
        if let Numbered::Room(seq) = numbered {
            self.report.numbered.push((seq, tag));
        }
        if let Some(tag) = tag {
            self.report.tags.push(tag);
            if line.ends_with(" done") && self.mates.contains(&tag.who) {
                self.done.insert(tag.who);
            }
        }
        self.last_line = line;
    }
}

/// The tag of a chat line (`> NAME: TAG …`) or an action (`* NAME TAG …`);
/// not of a private message.
pub(crate) fn room_line_tag(line: &str) -> Option<Tag> {
    if let Some(rest) = line.strip_prefix("> ") {
        let (name, text) = rest.split_once(": ")?;
        if name.ends_with(" (private)") {
            return None;
        }
        return Tag::parse(text);
    }
    let rest = line.strip_prefix("* ")?;
    let (_, text) = rest.split_once(' ')?;
    Tag::parse(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Chat lines and actions carry tags; private messages and notices do not.
    #[test]
    fn only_room_lines_carry_tags() {
        let tag = Some(Tag { who: 4, n: 9 });
        assert_eq!(room_line_tag("> ann: 4.9 socket"), tag);
        assert_eq!(room_line_tag("* ren3v2 4.9 waves"), tag);
        for not in [
            "> ann (private): 4.9 psst",
            "* ann joined",
            "* [server] soak bulletin 5",
            "* 12 lines skipped: you fell behind",
            "#4 9",
        ] {
            assert_eq!(room_line_tag(not), None, "{not}");
        }
    }
}
