//! The console's targets: ordinary talkers from 127.0.0.2 to 127.0.0.7
//! (never 127.0.0.1, the healthy clients' address, so a ban never touches
//! them), which the console mutes, kicks and bans (`console.rs`). Muted,
//! a target tries every way to be heard, each carrying [`MUTED_MARK`]:
//! chat, `//`, `/me`, `/msg` to a healthy client, `/nick`, a silent
//! `/join`, a `/quit` reason. Every arrival is recorded, to check the bans.

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use super::{after_ms, deadline, Ctx, Pumped, Tally, Target};
use crate::conn::{Conn, Dial};
use crate::mix::{line_text, Kind, Member, Rng, Tag, MUTED_MARK};

/// How many addresses the targets share (127.0.0.2 and up).
pub(crate) const ADDRESSES: u8 = 6;

/// One arrival of a target.
#[derive(Debug, Clone)]
pub(crate) struct Arrival {
    pub(crate) ip: Ipv4Addr,
    /// When it connected, in seconds since the server started.
    pub(crate) at: f64,
    /// Its first line, when that was not a welcome.
    pub(crate) refused: Option<String>,
}

/// The address of target number `index`.
pub(crate) fn address(index: usize) -> Ipv4Addr {
    Ipv4Addr::new(127, 0, 0, 2 + (index % usize::from(ADDRESSES)) as u8)
}

/// Runs one target until the chaos ends.
pub(crate) fn run(ctx: &Ctx, me: &Member) -> Tally {
    let mut target = Talker {
        ctx,
        me,
        ip: address(me.index),
        rng: ctx.rng(me),
        n: 0,
        tally: Tally::default(),
        muted_until: None,
        attempts: 0,
    };
    while ctx.chaos_on() {
        let Some(mut conn) = target.arrive() else {
            ctx.nap(Duration::from_secs(2));
            continue;
        };
        target.publish(Some(me.name.clone()), None);
        let ended = target.stay(&mut conn);
        target.publish(None, None);
        if matches!(ended, Pumped::ChaosOver) {
            super::wanderers::leave(&mut conn);
        }
        ctx.nap(Duration::from_millis(target.rng.between(500, 2000)));
    }
    target.tally
}

#[derive(Debug)]
struct Talker<'a> {
    ctx: &'a Ctx,
    me: &'a Member,
    ip: Ipv4Addr,
    rng: Rng,
    n: u32,
    tally: Tally,
    /// Until when it takes itself to be muted (two seconds short of what
    /// it was told, so the server's mute, begun a little earlier, is
    /// surely still on when it sends a marked line).
    muted_until: Option<Instant>,
    /// Which way to be heard it tries next while muted.
    attempts: usize,
}

impl Talker<'_> {
    /// Connects, recording the arrival; in, it names itself and goes to
    /// its room.
    fn arrive(&mut self) -> Option<Conn> {
        let at = self.ctx.t();
        let mut conn = match self.ctx.open(Kind::Moderated, Dial::from(self.ip)) {
            Ok(conn) => conn,
            Err(_) => {
                self.tally.add("failed to connect", 1);
                return None;
            }
        };
        let first = conn.expect(deadline(10), |_| true, |_| {});
        let refused = match &first {
            Ok(line) if line.starts_with("* welcome ") => None,
            Ok(line) => Some(line.clone()),
            Err(e) => Some(e.clone()),
        };
        self.tally.arrivals.push(Arrival {
            ip: self.ip,
            at,
            refused: refused.clone(),
        });
        match refused {
            None => {
                // A mute belongs to a connection: a new one starts unmuted.
                self.muted_until = None;
                self.tally.add("arrivals let in", 1);
                let setup = format!("/nick {}\n/join {}", self.me.name, self.me.room);
                conn.send(&setup).ok()?;
                Some(conn)
            }
            Some(line) if line.starts_with("! banned") => {
                self.tally.add("arrivals refused as banned", 1);
                None
            }
            Some(_) => {
                self.tally.add("arrivals refused otherwise", 1);
                None
            }
        }
    }

    /// Says what the console driver may do with it.
    fn publish(&self, name: Option<String>, muted_until: Option<Instant>) {
        let mut targets = self.ctx.targets.lock();
        if let Some(target) = targets.get_mut(self.me.index) {
            *target = Target {
                name,
                ip: self.ip.to_string(),
                muted_until,
            };
        }
    }

    /// Talks and reads until it is sent away or the chaos ends.
    fn stay(&mut self, conn: &mut Conn) -> Pumped {
        loop {
            let mut sent_away = None;
            let mut muted_for = None;
            let until = after_ms(self.rng.between(700, 2500));
            let ended = self.ctx.pump(conn, until, |line| {
                if let Some(rest) = line.strip_prefix("! you are muted for ") {
                    muted_for = rest.trim_end_matches(" s").parse::<u64>().ok();
                } else if line.starts_with("! kicked by the server") {
                    sent_away = Some("kicked");
                } else if line.starts_with("! banned from this server") {
                    sent_away = Some("banned");
                }
            });
            if let Some(secs) = muted_for {
                self.tally.add("muted", 1);
                let until = Instant::now() + Duration::from_secs(secs.saturating_sub(2));
                self.muted_until = Some(until);
                self.publish(Some(self.me.name.clone()), Some(until));
            }
            if let Some(how) = sent_away {
                self.tally
                    .add(if how == "kicked" { "kicked" } else { "banned" }, 1);
                let (closed, _) = conn.read_to_end(deadline(5));
                if !closed {
                    self.tally.problem(
                        "bans",
                        format!("{}: still open 5 s after being {how}", self.me.name),
                    );
                }
                return Pumped::Closed;
            }
            if !matches!(ended, Pumped::Done) {
                return ended;
            }
            if self.speak(conn).is_err() {
                return Pumped::Failed;
            }
        }
    }

    /// One line: an ordinary one, or while muted the next way to be heard.
    fn speak(&mut self, conn: &mut Conn) -> std::io::Result<()> {
        self.n += 1;
        let tag = Tag {
            who: self.me.who,
            n: self.n,
        };
        let muted = self.muted_until.is_some_and(|until| Instant::now() < until);
        if !muted {
            if self.muted_until.take().is_some() {
                // The mute ran out: back to its own room, if it left.
                self.publish(Some(self.me.name.clone()), None);
                conn.send(&format!("/join {}", self.me.room))?;
            }
            return conn.send(&line_text(
                tag,
                self.rng.between(3, 12) as usize,
                &mut self.rng,
            ));
        }
        self.tally.add("tries while muted", 1);
        self.attempts += 1;
        let line = match self.attempts % 7 {
            0 => format!("{tag} {MUTED_MARK} said while muted"),
            1 => format!("/me {tag} {MUTED_MARK} acts while muted"),
            2 => format!("/msg hea0 {tag} {MUTED_MARK} whispered while muted"),
            3 => format!("/nick {MUTED_MARK}"),
            4 => format!("/join {MUTED_MARK}"),
            5 => format!("//{tag} {MUTED_MARK} slashed while muted"),
            // The server then says goodbye and closes: it comes back later.
            _ => format!("/quit {MUTED_MARK} as a reason"),
        };
        conn.send(&line)
    }
}
