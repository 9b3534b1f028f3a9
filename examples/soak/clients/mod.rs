//! The simulated clients: one OS thread each, blocking sockets, a straight
//! function per kind, like the server's own readers. What every kind
//! shares is here: the [`Ctx`] (the server's addresses, the clock, the
//! end of the chaos) and the [`Tally`] each thread hands back.
//!
//! - [`healthy`]: the clients that must get every line of their room
//! - [`readers`]: sleepers and slow readers
//! - [`flooder`], [`leavers`] (resetters, half-closers), [`wanderers`]
//!   (movers, renamers), [`resumer`]
//! - [`moderated`]: the console's targets; [`console`] drives the console
//! - [`admission`]: bursts that exhaust descriptors, and newcomers
//! - [`dashboard`]: viewers and lurkers

pub(crate) mod admission;
pub(crate) mod console;
pub(crate) mod dashboard;
pub(crate) mod flooder;
pub(crate) mod healthy;
pub(crate) mod leavers;
pub(crate) mod moderated;
pub(crate) mod readers;
pub(crate) mod resumer;
pub(crate) mod wanderers;

use std::collections::{BTreeMap, HashMap};
use std::io;
use std::net::SocketAddrV4;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, TryRecvError};
use parking_lot::Mutex;

use crate::conn::{Conn, Dial, Got};
use crate::mix::{Kind, Member, Rng};

/// What every client thread can see.
#[derive(Debug)]
pub(crate) struct Ctx {
    pub(crate) chat: SocketAddrV4,
    pub(crate) dashboard: SocketAddrV4,
    pub(crate) server_pid: u32,
    /// When the server started: times in the report count from here.
    pub(crate) t0: Instant,
    pub(crate) seed: u64,
    /// The server's `--hold-secs`.
    pub(crate) hold: Duration,
    /// Never sent on: disconnected when the chaos ends, which ends every
    /// misbehaving client's loop (and any nap it is taking) at once.
    pub(crate) chaos: Receiver<()>,
    /// Which kind holds each local port, so a socket the kernel lists can
    /// be traced to the client that opened it.
    pub(crate) ports: Mutex<HashMap<u16, Kind>>,
    /// The console's targets as they are now, for the console driver.
    pub(crate) targets: Mutex<Vec<Target>>,
    /// Set while a burst runs: newcomers knock faster.
    pub(crate) bursting: AtomicBool,
    /// Set while a burst runs: the sampler looks faster.
    pub(crate) fast_sampling: Arc<AtomicBool>,
}

/// A console target as the console driver sees it.
#[derive(Debug, Clone, Default)]
pub(crate) struct Target {
    /// Its name while it is connected and named.
    pub(crate) name: Option<String>,
    /// Its address.
    pub(crate) ip: String,
    /// Until when it was told it is muted.
    pub(crate) muted_until: Option<Instant>,
}

impl Ctx {
    /// Seconds since the server started.
    pub(crate) fn t(&self) -> f64 {
        self.t0.elapsed().as_secs_f64()
    }

    /// True until the chaos ends.
    pub(crate) fn chaos_on(&self) -> bool {
        matches!(self.chaos.try_recv(), Err(TryRecvError::Empty))
    }

    /// Waits `d`, or less if the chaos ends. Returns whether it goes on.
    pub(crate) fn nap(&self, d: Duration) -> bool {
        matches!(self.chaos.recv_timeout(d), Err(RecvTimeoutError::Timeout))
    }

    /// Opens a chat connection for a client of `kind`.
    ///
    /// # Errors
    /// See [`Dial::stream`].
    pub(crate) fn open(&self, kind: Kind, dial: Dial) -> io::Result<Conn> {
        let conn = Conn::open(self.chat, dial)?;
        self.ports.lock().insert(conn.port, kind);
        Ok(conn)
    }

    /// Connects, takes the welcome, and asks for `name`.
    ///
    /// # Errors
    /// No connection, or nothing sensible from the server in time.
    pub(crate) fn join(&self, kind: Kind, dial: Dial, name: &str) -> Result<Joined, String> {
        let mut conn = self.open(kind, dial).map_err(|e| format!("connect: {e}"))?;
        let first = conn
            .expect(deadline(10), |_| true, |_| {})
            .map_err(|e| format!("first line: {e}"))?;
        if !first.starts_with("* welcome ") {
            return Ok(Joined::Refused);
        }
        conn.send(&format!("/nick {name}"))
            .map_err(|e| format!("/nick: {e}"))?;
        conn.expect(
            deadline(10),
            |l| l.starts_with("* you are now ") || l.starts_with("! name "),
            |_| {},
        )
        .map_err(|e| format!("/nick: {e}"))?;
        // A taken name is fine: the client goes on under its address.
        Ok(Joined::In(conn))
    }

    /// Joins as `me` and goes to its room; a refusal (a burst may have
    /// taken every descriptor: `server busy`) or a failure is counted, and
    /// gives `None`.
    pub(crate) fn enter(&self, me: &Member, dial: Dial, tally: &mut Tally) -> Option<Conn> {
        match self.join(me.kind, dial, &me.name) {
            Ok(Joined::In(mut conn)) => {
                tally.add("connections", 1);
                if me.room != "lobby" && conn.send(&format!("/join {}", me.room)).is_err() {
                    return None;
                }
                Some(conn)
            }
            Ok(Joined::Refused) => {
                tally.add("refused", 1);
                None
            }
            Err(_) => {
                tally.add("failed to connect", 1);
                None
            }
        }
    }

    /// Reads and hands each line to `on_line` until `until`, the end of
    /// the chaos, or the end of the connection.
    pub(crate) fn pump(
        &self,
        conn: &mut Conn,
        until: Instant,
        mut on_line: impl FnMut(&str),
    ) -> Pumped {
        loop {
            if !self.chaos_on() {
                return Pumped::ChaosOver;
            }
            let step = until.min(Instant::now() + Duration::from_millis(250));
            match conn.next(step) {
                Got::Line(line) => on_line(&line),
                Got::Quiet if Instant::now() >= until => return Pumped::Done,
                Got::Quiet => {}
                Got::Closed => return Pumped::Closed,
                Got::Failed(_) => return Pumped::Failed,
            }
        }
    }

    /// This client's random source.
    pub(crate) fn rng(&self, member: &Member) -> Rng {
        Rng::new(self.seed, member.who)
    }
}

/// How [`Ctx::join`] went.
#[derive(Debug)]
pub(crate) enum Joined {
    /// In (under its name, or its address if the name was taken).
    In(Conn),
    /// Turned away: its first line was not a welcome.
    Refused,
}

/// How [`Ctx::pump`] ended.
#[derive(Debug)]
pub(crate) enum Pumped {
    Done,
    ChaosOver,
    Closed,
    Failed,
}

/// `secs` seconds from now.
pub(crate) fn deadline(secs: u64) -> Instant {
    Instant::now() + Duration::from_secs(secs)
}

/// `ms` milliseconds from now.
pub(crate) fn after_ms(ms: u64) -> Instant {
    Instant::now() + Duration::from_millis(ms)
}

/// What one client thread did: counters by name (`resets`, `lines sent`),
/// the largest of some figures, what went wrong that a check looks at,
/// and, for some kinds, records the checks read.
#[derive(Debug, Default)]
pub(crate) struct Tally {
    pub(crate) counts: BTreeMap<&'static str, u64>,
    pub(crate) maxima: BTreeMap<&'static str, f64>,
    /// Findings for a check: (which check, what happened).
    pub(crate) problems: Vec<(&'static str, String)>,
    /// Newcomers' arrivals.
    pub(crate) knocks: Vec<admission::Knock>,
    /// Console targets' arrivals, for the bans.
    pub(crate) arrivals: Vec<moderated::Arrival>,
}

impl Tally {
    /// Adds `n` to counter `what`.
    pub(crate) fn add(&mut self, what: &'static str, n: u64) {
        *self.counts.entry(what).or_default() += n;
    }

    /// Keeps the largest `value` seen for `what`.
    pub(crate) fn max(&mut self, what: &'static str, value: f64) {
        let slot = self.maxima.entry(what).or_insert(value);
        *slot = slot.max(value);
    }

    /// Notes a finding for check `check` (the first 20 of each thread).
    pub(crate) fn problem(&mut self, check: &'static str, what: String) {
        if self.problems.len() < 20 {
            self.problems.push((check, what));
        }
    }

    /// Adds another thread's tally to this one.
    pub(crate) fn merge(&mut self, other: Tally) {
        for (what, n) in other.counts {
            self.add(what, n);
        }
        for (what, value) in other.maxima {
            self.max(what, value);
        }
        self.problems.extend(other.problems);
        self.knocks.extend(other.knocks);
        self.arrivals.extend(other.arrivals);
    }
}
