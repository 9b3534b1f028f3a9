//! The resumers: each asks for a session (`/session`, answered
//! `#session TOKEN LAST`), talks and reads for a while, keeping the number
//! of the last room line it got whole, resets its connection, and comes
//! back on a new one with `/resume TOKEN LAST` as its first line. It must
//! get its session back with exactly the lines it missed, counted in
//! `* resumed: N lines you missed`; one time in four it stays away past
//! the server's hold, and must then be told the session is gone.

use std::time::{Duration, Instant};

use super::{deadline, Ctx, Pumped, Tally};
use crate::conn::{parse_session, Conn, Dial, Numbered, Numbering};
use crate::mix::{line_text, Kind, Member, Rng, Tag};

/// A session the resumer holds: its token, and the last room line it got.
#[derive(Debug, Clone)]
struct Held {
    token: String,
    last: u64,
    /// When the connection was reset: the hold runs from about then.
    left_at: Instant,
}

/// Runs one resumer until the chaos ends.
pub(crate) fn run(ctx: &Ctx, me: &Member) -> Tally {
    let mut resumer = Resumer {
        rng: ctx.rng(me),
        me,
        ctx,
        n: 0,
        tally: Tally::default(),
    };
    let mut held: Option<Held> = None;
    while ctx.chaos_on() {
        let Ok(mut conn) = ctx.open(Kind::Resumer, Dial::HEALTHY) else {
            resumer.tally.add("failed to connect", 1);
            ctx.nap(Duration::from_millis(500));
            continue;
        };
        let mut numbering = Numbering::default();
        let session = match held.take() {
            Some(old) => match resumer.resume(&mut conn, &mut numbering, old) {
                // Resumed nothing (it ran out): this connection goes on as
                // a new client, which starts a new session.
                Ok(None) => resumer.start_session(&mut conn),
                other => other,
            },
            None => resumer.fresh(&mut conn),
        };
        let mut session = match session {
            Ok(Some(session)) => session,
            // Turned away (a burst): the session is still held; try again.
            Err(Some(kept)) => {
                held = Some(kept);
                ctx.nap(Duration::from_millis(500));
                continue;
            }
            Ok(None) | Err(None) => continue,
        };
        let until = Instant::now() + Duration::from_millis(resumer.rng.between(4_000, 15_000));
        match resumer.live(&mut conn, &mut numbering, &mut session, until) {
            Pumped::Done => {
                conn.reset();
                resumer.tally.add("resets", 1);
                session.left_at = Instant::now();
                held = Some(session);
                let away = if resumer.rng.one_in(4) {
                    ctx.hold + Duration::from_secs(2)
                } else {
                    Duration::from_millis(resumer.rng.between(200, 3_000))
                };
                ctx.nap(away);
            }
            Pumped::ChaosOver => super::wanderers::leave(&mut conn),
            ended @ (Pumped::Closed | Pumped::Failed) => {
                resumer.tally.add("disconnected by the server", 1);
                let what = format!("{}: lost its connection: {ended:?}", me.name);
                resumer.tally.problem("resume", what);
            }
        }
    }
    resumer.tally
}

/// One resumer's state across its connections.
#[derive(Debug)]
struct Resumer<'a> {
    ctx: &'a Ctx,
    me: &'a Member,
    rng: Rng,
    /// Its last line's tag number.
    n: u32,
    tally: Tally,
}

/// What a step of the resumer came to: `Ok(Some)` a session;
/// `Ok(None)` none (nothing to resume); `Err(Some)` turned away, the
/// session still held; `Err(None)` turned away.
type Step = Result<Option<Held>, Option<Held>>;

impl Resumer<'_> {
    /// A new client: the welcome, then a new session.
    fn fresh(&mut self, conn: &mut Conn) -> Step {
        let first = conn
            .expect(deadline(10), |_| true, |_| {})
            .map_err(|_| None)?;
        if !first.starts_with("* welcome ") {
            self.tally.add("refused", 1);
            return Err(None);
        }
        self.start_session(conn)
    }

    /// After the welcome: name, room, `/session`.
    fn start_session(&mut self, conn: &mut Conn) -> Step {
        let setup = format!("/nick {}\n/join {}\n/session", self.me.name, self.me.room);
        conn.send(&setup).map_err(|_| None)?;
        let line = conn
            .expect(deadline(10), |l| l.starts_with("#session "), |_| {})
            .map_err(|_| None)?;
        let (token, last) = parse_session(&line).ok_or(None)?;
        self.tally.add("sessions", 1);
        Ok(Some(Held {
            token,
            last,
            left_at: Instant::now(),
        }))
    }

    /// `/resume TOKEN LAST` as the first line of a new connection.
    fn resume(&mut self, conn: &mut Conn, numbering: &mut Numbering, old: Held) -> Step {
        let (name, hold) = (&self.me.name, self.ctx.hold);
        let away = old.left_at.elapsed();
        let may_be_gone = away + Duration::from_millis(500) >= hold;
        if conn
            .send(&format!("/resume {} {}", old.token, old.last))
            .is_err()
        {
            return Err(Some(old));
        }
        let until = deadline(10);
        let Ok(first) = conn.expect(until, |_| true, |_| {}) else {
            return Err(Some(old));
        };
        if !first.starts_with("* welcome ") {
            self.tally.add("refused", 1);
            return Err(Some(old));
        }
        let wanted = |l: &str| l.starts_with("#session ") || l.starts_with("! cannot resume");
        let answer = match conn.expect(until, wanted, |_| {}) {
            Ok(answer) => answer,
            Err(e) => {
                let what = format!("{name}: no answer to /resume: {e}");
                self.tally.problem("resume", what);
                return Err(None);
            }
        };
        if answer.starts_with("! cannot resume") {
            if may_be_gone {
                self.tally.add("sessions run out, as they should", 1);
            } else {
                let what = format!(
                    "{name}: `{answer}` after {:.1} s away (hold {} s)",
                    away.as_secs_f64(),
                    hold.as_secs()
                );
                self.tally.problem("resume", what);
            }
            return Ok(None);
        }
        numbering.classify(&answer);
        // The lines it missed, numbered, then how many they were.
        let mut got = 0u64;
        let mut first_number = None;
        let mut last = old.last;
        let counted = |l: &str| {
            if let Numbered::Room(seq) = numbering.classify(l) {
                got += 1;
                first_number.get_or_insert(seq);
                last = seq;
            }
        };
        let resumed = match conn.expect(until, |l| l.starts_with("* resumed: "), counted) {
            Ok(line) => line,
            Err(e) => {
                self.tally
                    .problem("resume", format!("{name}: no `* resumed` line: {e}"));
                return Err(None);
            }
        };
        let told: u64 = resumed
            .trim_start_matches("* resumed: ")
            .split(' ')
            .next()
            .and_then(|n| n.parse().ok())
            .unwrap_or(u64::MAX);
        self.tally.add("resumed", 1);
        self.tally.add("missed lines delivered", got);
        if may_be_gone {
            self.tally.add("resumed at the edge of the hold", 1);
        }
        if told != got {
            let what = format!("{name}: `{resumed}` but {got} numbered lines came before it");
            self.tally.problem("resume", what);
        }
        if let Some(seq) = first_number.filter(|seq| *seq <= old.last) {
            let what = format!("{name}: got line {seq} again, after LAST {}", old.last);
            self.tally.problem("resume", what);
        }
        Ok(Some(Held {
            token: old.token,
            last,
            left_at: Instant::now(),
        }))
    }

    /// Reads and talks until `until`, keeping the last room line's number.
    fn live(
        &mut self,
        conn: &mut Conn,
        numbering: &mut Numbering,
        session: &mut Held,
        until: Instant,
    ) -> Pumped {
        let mut next_talk = Instant::now() + Duration::from_millis(self.rng.between(500, 3000));
        loop {
            let ended = self.ctx.pump(conn, until.min(next_talk), |line| {
                if let Numbered::Room(seq) = numbering.classify(line) {
                    session.last = seq;
                }
            });
            if !matches!(ended, Pumped::Done) || Instant::now() >= until {
                return ended;
            }
            self.n += 1;
            let tag = Tag {
                who: self.me.who,
                n: self.n,
            };
            let words = self.rng.between(3, 12) as usize;
            if conn.send(&line_text(tag, words, &mut self.rng)).is_err() {
                return Pumped::Failed;
            }
            next_talk = Instant::now() + Duration::from_millis(self.rng.between(1000, 4000));
        }
    }
}
