//! The fourteen misbehaviours, and what they share: the observers ([`Cast`]),
//! the findings ([`Problems`]) and the [`Verdict`]. Each mode seats two
//! observers (alice and bob) and a bad client, misbehaves, waits for what a
//! sound server must deliver, and judges only by what the observers (and, for
//! the dashboard, a viewer) actually received.

mod abuse;
mod admission;
mod dashboard;
mod framing;
mod lifecycle;
mod pressure;
mod voice;

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use chatroom::ServerConfig;

use crate::memory::Probe;
use crate::peer::{timed_out, Peer, Received};
use crate::talker::{Heard, Spoken};

/// How long to wait for something a sound server delivers at once. Generous:
/// a verdict never depends on it arriving quickly, only on it arriving.
const SETTLE: Duration = Duration::from_secs(2);
/// How often a talker sends a line: 10 a second, under the default rate limit.
const TALK_EVERY: Duration = Duration::from_millis(100);
/// A pause longer than this in a talker's lines counts as a freeze. The default
/// write timeout is 1 s, so a sound server stays well under it.
const FREEZE: Duration = Duration::from_secs(3);
/// The longest gap allowed where nothing should slow the room down at all.
const SMOOTH: Duration = Duration::from_millis(1500);

/// One misbehaviour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    Split,
    Merge,
    Slow,
    Flood,
    Bomb,
    Reset,
    Churn,
    Escape,
    Crowd,
    Ghost,
    Spoof,
    Hidden,
    DashboardLurkers,
    HalfClose,
}

impl Mode {
    /// Every mode, in the order `all` runs them.
    pub(crate) const ALL: [Mode; 14] = [
        Mode::Split,
        Mode::Merge,
        Mode::Slow,
        Mode::Flood,
        Mode::Bomb,
        Mode::Reset,
        Mode::Churn,
        Mode::Escape,
        Mode::Crowd,
        Mode::Ghost,
        Mode::Spoof,
        Mode::Hidden,
        Mode::DashboardLurkers,
        Mode::HalfClose,
    ];

    /// The mode's name on the command line.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Mode::Split => "split",
            Mode::Merge => "merge",
            Mode::Slow => "slow",
            Mode::Flood => "flood",
            Mode::Bomb => "bomb",
            Mode::Reset => "reset",
            Mode::Churn => "churn",
            Mode::Escape => "escape",
            Mode::Crowd => "crowd",
            Mode::Ghost => "ghost",
            Mode::Spoof => "spoof",
            Mode::Hidden => "hidden",
            Mode::DashboardLurkers => "dashboard-lurkers",
            Mode::HalfClose => "half-close",
        }
    }

    /// The mode named `name`, if any.
    pub(crate) fn parse(name: &str) -> Option<Mode> {
        Mode::ALL.into_iter().find(|mode| mode.name() == name)
    }

    fn about(self) -> &'static str {
        match self {
            Mode::Split => "one line sent a byte at a time",
            Mode::Merge => "many lines in one write",
            Mode::Slow => "a client stops reading while messages pour in",
            Mode::Flood => "a client sends as fast as it can",
            Mode::Bomb => "an endless line with no newline",
            Mode::Reset => "an abrupt disconnect in the middle of a line",
            Mode::Churn => "many connects and disconnects",
            Mode::Escape => "terminal escape sequences and bidi overrides",
            Mode::Crowd => "one address takes as many places as it can",
            Mode::Ghost => "a throttled flooder resets its connection",
            Mode::Spoof => "a client tries to speak in the server's voice",
            Mode::Hidden => "invisible Unicode characters and telnet commands",
            Mode::DashboardLurkers => {
                "dashboard connections that never read and requests that never end"
            }
            Mode::HalfClose => "clients that say /quit and close their side at once",
        }
    }

    /// Adjusts the in-process server's settings for this mode. `crowd` and
    /// `ghost` each need a limit small enough to reach; `dashboard-lurkers`
    /// needs the dashboard, on a free loopback port.
    pub(crate) fn configure(self, config: &mut ServerConfig) {
        match self {
            Mode::Crowd => config.max_per_ip = Some(admission::CROWD_LIMIT),
            Mode::Ghost => config.max_clients = admission::GHOST_ROOM,
            Mode::DashboardLurkers => config.dashboard = Some("127.0.0.1:0".to_string()),
            _ => {}
        }
    }
}

/// A measured outcome.
#[derive(Debug)]
pub(crate) struct Verdict {
    pub(crate) mode: Mode,
    pub(crate) pass: bool,
    pub(crate) reason: String,
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let word = if self.pass { "PASS" } else { "FAIL" };
        write!(f, "{word} {}: {}", self.mode.name(), self.reason)
    }
}

/// Runs one mode against the server at `addr`, printing what the observers saw.
/// `config` is the server's configuration when the mode started it in this
/// process, and `None` for a server at `--addr`, whose settings are unknown.
/// `dashboard` is where that server's dashboard is, if it has one.
pub(crate) fn run(
    mode: Mode,
    addr: SocketAddr,
    probe: &Probe,
    config: Option<&ServerConfig>,
    dashboard: Option<SocketAddr>,
) -> Verdict {
    println!("== {}: {} ({addr}) ==", mode.name(), mode.about());
    let result = match mode {
        Mode::Split => framing::split(addr),
        Mode::Merge => framing::merge(addr),
        Mode::Slow => pressure::slow(addr),
        Mode::Flood => pressure::flood(addr),
        Mode::Bomb => pressure::bomb(addr, probe),
        Mode::Reset => abuse::reset(addr),
        Mode::Churn => abuse::churn(addr),
        Mode::Escape => abuse::escape(addr),
        Mode::Crowd => admission::crowd(addr, config.and_then(|c| c.max_per_ip)),
        Mode::Ghost => admission::ghost(addr, config.map(|c| c.max_clients)),
        Mode::Spoof => voice::spoof(addr),
        Mode::Hidden => voice::hidden(addr),
        Mode::HalfClose => lifecycle::half_close(addr),
        Mode::DashboardLurkers => match dashboard {
            Some(dashboard) => dashboard::lurkers(addr, dashboard),
            None => Err(io::Error::other(
                "no dashboard to try: give --dashboard HOST:PORT with --addr",
            )),
        },
    };
    let (pass, reason) = result.unwrap_or_else(|e| (false, format!("could not run: {e}")));
    Verdict { mode, pass, reason }
}

/// A mode's result: pass or fail, and why.
type Outcome = io::Result<(bool, String)>;

/// The two observers, and what the server said about itself when they joined.
#[derive(Debug)]
struct Cast {
    observers: [Peer; 2],
    /// The `(demo mode: ...)` part of the welcome line, if any.
    demo: Option<String>,
}

impl Cast {
    fn assemble(addr: SocketAddr) -> io::Result<Cast> {
        let alice = Peer::join(addr, "alice")?;
        let bob = Peer::join(addr, "bob")?;
        let demo = alice.welcome.split_once("(demo mode: ").map(|(_, rest)| {
            let end = rest.find(')').unwrap_or(rest.len());
            rest[..end].to_string()
        });
        if let Some(demo) = &demo {
            println!("  the server's welcome says: demo mode: {demo}");
        }
        let cast = Cast {
            observers: [alice, bob],
            demo,
        };
        cast.introduce(&cast.observers.iter().collect::<Vec<_>>());
        Ok(cast)
    }

    /// In chunk framing `/nick` is relayed as chat, so every client keeps the
    /// name the server gave it, its address. Says who is who.
    fn introduce(&self, peers: &[&Peer]) {
        for peer in peers.iter().filter(|p| p.name != p.role) {
            println!("  {} is called {} by the server", peer.role, peer.name);
        }
    }

    fn chunked(&self) -> bool {
        self.observers[0].welcome.contains("chunk framing")
    }

    /// Waits until both observers have seen each of `arrivals` arrive (joined,
    /// and renamed unless the server is in chunk framing), and returns where
    /// each observer's inbox stands: what comes next is the mode's business.
    fn admit(&self, arrivals: &[&Peer]) -> io::Result<[usize; 2]> {
        self.introduce(arrivals);
        for peer in arrivals {
            let joined = format!("* {} joined", peer.name);
            let renamed = format!(" is now known as {}", peer.name);
            let seen = self.each(|observer| {
                observer.inbox().wait_until(Instant::now() + SETTLE, |r| {
                    r.any_since(0, |l| {
                        l == joined || (l.starts_with("* ") && l.ends_with(&renamed))
                    })
                })
            });
            if !seen.iter().all(|&s| s) {
                return Err(timed_out(&format!(
                    "the observers never saw {} join",
                    peer.role
                )));
            }
        }
        Ok(self.marks())
    }

    fn roles(&self) -> [String; 2] {
        self.each(|observer| observer.role.clone())
    }

    fn marks(&self) -> [usize; 2] {
        self.each(|observer| observer.inbox().mark())
    }

    fn each<T>(&self, mut f: impl FnMut(&Peer) -> T) -> [T; 2] {
        let [alice, bob] = &self.observers;
        [f(alice), f(bob)]
    }

    /// Waits (up to `timeout` in all) until `done` holds for both observers.
    fn wait(&self, marks: [usize; 2], timeout: Duration, done: impl Fn(&Received, usize) -> bool) {
        let deadline = Instant::now() + timeout;
        for (observer, mark) in self.observers.iter().zip(marks) {
            observer.inbox().wait_until(deadline, |r| done(r, mark));
        }
    }

    /// Waits until both observers have every line of `spoken` (or `timeout`
    /// passes), prints how each heard it, and returns that.
    fn hear_out(&self, marks: [usize; 2], spoken: &Spoken, timeout: Duration) -> [Heard; 2] {
        self.wait(marks, timeout, |r, mark| spoken.all_arrived(r, mark));
        let mut marks = marks.into_iter();
        self.each(|observer| {
            let mark = marks.next().unwrap_or_default();
            let heard = observer.inbox().read(|r| spoken.heard_by(r, mark));
            println!(
                "  {} heard {}: {}",
                observer.role,
                spoken.role(),
                heard.summary()
            );
            heard
        })
    }

    /// When the server runs in the demo mode named `phrase`, the reason a
    /// failure is expected: `explanation`, and the server's own words.
    fn because(&self, phrase: &str, explanation: &str) -> String {
        match &self.demo {
            Some(demo) if demo.contains(phrase) => {
                format!(" ({explanation}; the server's welcome says: demo mode: {demo})")
            }
            _ => String::new(),
        }
    }

    /// Why a talker's lines may go missing in chunk framing: lines sent close
    /// together are read together, and all but the first lose their sender.
    fn merged_talk(&self, talkers: &str) -> String {
        self.because(
            "chunk framing",
            &format!(
                "lines {talkers} sent close together were read together and relayed as one \
                 message, so all but the first of them arrived without a sender"
            ),
        )
    }

    fn close(self) {
        let [alice, bob] = self.observers;
        alice.close();
        bob.close();
    }
}

/// What went wrong, by whom: "alice and bob got it in 29 pieces".
#[derive(Debug, Default)]
struct Problems(Vec<(String, String)>);

impl Problems {
    /// `who` (a role, or "" for the room as a whole) did or suffered `what`.
    fn add(&mut self, who: &str, what: impl Into<String>) {
        self.0.push((who.to_string(), what.into()));
    }

    /// Checks how `who` heard `talker`: every line, and no wait of `longest`.
    fn check_heard(&mut self, who: &str, talker: &str, heard: &Heard, longest: Duration) {
        if !heard.intact || heard.longest_gap >= longest {
            self.add(who, format!("heard {talker}: {}", heard.summary()));
        }
    }

    /// Pass with `passed`, or fail with the problems (the same problem of
    /// several clients said once) followed by `why`.
    fn verdict(self, why: &str, passed: impl FnOnce() -> String) -> (bool, String) {
        if self.0.is_empty() {
            return (true, passed());
        }
        let mut said: Vec<(Vec<&str>, &str)> = Vec::new();
        for (who, what) in &self.0 {
            match said.iter_mut().find(|(_, w)| w == what) {
                Some((whos, _)) => whos.push(who),
                None => said.push((vec![who], what)),
            }
        }
        let sentences: Vec<String> = said
            .into_iter()
            .map(|(whos, what)| match whos.join(" and ").as_str() {
                "" => what.to_string(),
                whos => format!("{whos} {what}"),
            })
            .collect();
        (false, format!("{}{why}", sentences.join("; ")))
    }
}

/// Everything one sender's messages said, as an observer saw them: each
/// `> NAME: ` starts a piece, which ends at a line end or at the next
/// `> NAME: ` (chunk framing can put several on one line).
fn pieces(text: &str, name: &str) -> Vec<String> {
    let prefix = format!("> {name}: ");
    let mut found = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find(&prefix) {
        let body = &rest[start + prefix.len()..];
        let end = [body.find('\n'), body.find(&prefix)]
            .into_iter()
            .flatten()
            .min()
            .unwrap_or(body.len());
        found.push(body[..end].to_string());
        rest = &body[end..];
    }
    found
}

/// Characters no client may put on another person's screen: controls (except
/// tab and the line end) and the bidirectional overrides and isolates.
fn is_forbidden(c: char) -> bool {
    (c.is_control() && c != '\t' && c != '\n') || is_bidi(c)
}

fn is_bidi(c: char) -> bool {
    matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// Characters a terminal shows as nothing (or as a box): format characters
/// such as zero-width spaces and direction marks, the line and paragraph
/// separators, and the replacement character. Escaped by [`show`] so a report
/// makes them visible.
fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{ad}'
            | '\u{61c}'
            | '\u{200b}'..='\u{200f}'
            | '\u{2028}'..='\u{2029}'
            | '\u{2060}'..='\u{2064}'
            | '\u{feff}'
            | '\u{fffd}'
    )
}

/// `text` quoted, with control, bidi and invisible characters written as
/// escapes (so a failing server cannot drive this terminal either, and hidden
/// characters show), cut after `max` characters.
fn show(text: &str, max: usize) -> String {
    let mut out = String::from("\"");
    for (shown, c) in text.chars().enumerate() {
        if shown == max {
            let more = text.chars().count() - max;
            out.push_str(&format!("\"... ({more} more characters)"));
            return out;
        }
        match c {
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() || is_bidi(c) || is_invisible(c) => {
                out.push_str(&format!("\\u{{{:x}}}", c as u32))
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

fn secs(duration: Duration) -> f64 {
    duration.as_secs_f64()
}
