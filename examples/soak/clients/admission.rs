//! Who gets in: bursts of connections that take every descriptor the
//! server has (it then answers `! server busy, try again later` with the
//! one it keeps in reserve), and newcomers, healthy clients arriving all
//! through the soak, faster during a burst. A newcomer turned away is
//! recorded with the server's descriptor count at that moment, to check
//! that it was only turned away when there really were none free.

use std::io::Read;
use std::net::TcpStream;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use super::{after_ms, deadline, Ctx, Tally};
use crate::conn::{is_timeout, reset, Conn, Dial, Got};
use crate::mix::{Kind, Member};
use crate::probes;

/// The line a connection gets when the server is out of descriptors.
pub(crate) const BUSY: &str = "! server busy, try again later";
/// How long a burst holds the connections it got in.
const BURST_HOLD: Duration = Duration::from_secs(3);
/// How often a newcomer arrives during a burst, and otherwise.
const KNOCK_DURING_BURST_MS: u64 = 300;
const KNOCK_MS: (u64, u64) = (3000, 7000);

/// One newcomer's arrival.
#[derive(Debug, Clone)]
pub(crate) struct Knock {
    /// When it started connecting, and when its first line came (seconds
    /// since the server started).
    pub(crate) connected: f64,
    pub(crate) answered: f64,
    pub(crate) outcome: Outcome,
    /// The server's descriptors, counted as soon as a refusal came.
    pub(crate) fds_then: Option<usize>,
}

/// How a newcomer's arrival went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Outcome {
    Welcome,
    Busy,
    /// Another first line.
    Other(String),
    /// No connection, or no line in time.
    Nothing(String),
}

/// What one burst did.
#[derive(Debug, Clone, Default)]
pub(crate) struct Burst {
    /// When it began, in seconds since the server started.
    pub(crate) at: f64,
    pub(crate) tried: usize,
    pub(crate) connected: usize,
    pub(crate) welcomed: usize,
    pub(crate) busy: usize,
    /// No line, or another one.
    pub(crate) other: usize,
    /// Seconds to open them all.
    pub(crate) opening: f64,
    /// The server's descriptors just before they were let go.
    pub(crate) fds_held: usize,
    pub(crate) released_at: f64,
}

/// Runs the bursts: `size` connections each, at `times` (since the chaos
/// began), as long as the chaos lasts.
pub(crate) fn bursts(ctx: &Ctx, size: usize, times: &[Duration]) -> Vec<Burst> {
    let began = Instant::now();
    let mut done = Vec::new();
    for at in times {
        let wait = (began + *at).saturating_duration_since(Instant::now());
        if !ctx.nap(wait) {
            break;
        }
        ctx.bursting.store(true, Ordering::Relaxed);
        ctx.fast_sampling.store(true, Ordering::Relaxed);
        done.push(burst(ctx, size));
        // Let the newcomers find the way in again before slowing down.
        ctx.nap(Duration::from_secs(2));
        ctx.bursting.store(false, Ordering::Relaxed);
        ctx.fast_sampling.store(false, Ordering::Relaxed);
    }
    done
}

/// One burst: open, read each first line, hold, let go.
fn burst(ctx: &Ctx, size: usize) -> Burst {
    let mut report = Burst {
        at: ctx.t(),
        tried: size,
        ..Burst::default()
    };
    let opening = Instant::now();
    let mut streams: Vec<TcpStream> = Vec::with_capacity(size);
    for _ in 0..size {
        if let Ok(stream) = Dial::HEALTHY.stream(ctx.chat) {
            if let Ok(addr) = stream.local_addr() {
                ctx.ports.lock().insert(addr.port(), Kind::Burst);
            }
            streams.push(stream);
        }
    }
    report.opening = opening.elapsed().as_secs_f64();
    report.connected = streams.len();
    let until = deadline(15);
    let mut kept = Vec::new();
    for stream in streams {
        match first_line(&stream, until).as_deref() {
            Some(line) if line.starts_with("* welcome ") => {
                report.welcomed += 1;
                kept.push(stream);
            }
            Some(BUSY) => report.busy += 1,
            _ => report.other += 1,
        }
    }
    ctx.nap(BURST_HOLD);
    report.fds_held = probes::fds(ctx.server_pid).unwrap_or(0);
    report.released_at = ctx.t();
    for (i, stream) in kept.into_iter().enumerate() {
        if i % 2 == 0 {
            reset(stream);
        } else {
            let _ = stream.shutdown(std::net::Shutdown::Write);
            drain(&stream, Instant::now() + Duration::from_millis(200));
        }
    }
    report
}

/// The first line on a bare connection, read a byte at a time.
fn first_line(stream: &TcpStream, until: Instant) -> Option<String> {
    let mut line = Vec::new();
    let mut byte = [0u8; 1];
    loop {
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return None;
        }
        let _ = stream.set_read_timeout(Some(left));
        match (&*stream).read(&mut byte) {
            Ok(0) => return None,
            Ok(_) if byte[0] == b'\n' => return Some(String::from_utf8_lossy(&line).into_owned()),
            Ok(_) => line.push(byte[0]),
            Err(e) if is_timeout(&e) => return None,
            Err(_) => return None,
        }
    }
}

/// Reads and throws away what comes until `until` or the end.
fn drain(stream: &TcpStream, until: Instant) {
    let mut buf = [0u8; 8 * 1024];
    loop {
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return;
        }
        let _ = stream.set_read_timeout(Some(left));
        if !matches!((&*stream).read(&mut buf), Ok(1..)) {
            return;
        }
    }
}

/// Runs one newcomer: arrives, takes its welcome, says `/quit`, and comes
/// back a few seconds later (0.3 s later during a burst).
pub(crate) fn newcomer(ctx: &Ctx, me: &Member) -> Tally {
    let mut tally = Tally::default();
    let mut rng = ctx.rng(me);
    loop {
        let pause = if ctx.bursting.load(Ordering::Relaxed) {
            KNOCK_DURING_BURST_MS
        } else {
            rng.between(KNOCK_MS.0, KNOCK_MS.1)
        };
        if !ctx.nap(Duration::from_millis(pause)) {
            break;
        }
        let knock = knock(ctx, me, &mut tally);
        tally.add(
            match knock.outcome {
                Outcome::Welcome => "let in",
                Outcome::Busy => "told server busy",
                Outcome::Other(_) => "refused otherwise",
                Outcome::Nothing(_) => "no answer",
            },
            1,
        );
        tally.knocks.push(knock);
    }
    tally
}

/// One arrival.
fn knock(ctx: &Ctx, me: &Member, tally: &mut Tally) -> Knock {
    let connected = ctx.t();
    let mut knock = Knock {
        connected,
        answered: connected,
        outcome: Outcome::Nothing(String::new()),
        fds_then: None,
    };
    let mut conn = match ctx.open(Kind::Newcomer, Dial::HEALTHY) {
        Ok(conn) => conn,
        Err(e) => {
            knock.outcome = Outcome::Nothing(format!("connect: {e}"));
            return knock;
        }
    };
    let first = conn.next(deadline(10));
    knock.answered = ctx.t();
    knock.outcome = match first {
        Got::Line(line) if line.starts_with("* welcome ") => Outcome::Welcome,
        Got::Line(line) if line == BUSY => {
            knock.fds_then = probes::fds(ctx.server_pid);
            Outcome::Busy
        }
        Got::Line(line) => Outcome::Other(line),
        Got::Quiet => Outcome::Nothing("no first line within 10 s".to_string()),
        Got::Closed => Outcome::Nothing("closed without a line".to_string()),
        Got::Failed(e) => Outcome::Nothing(e.to_string()),
    };
    if knock.outcome == Outcome::Welcome {
        quit(&mut conn, me, tally);
    }
    knock
}

/// `/quit` and a half-close: `* bye` must come, then the server's close.
fn quit(conn: &mut Conn, me: &Member, tally: &mut Tally) {
    if conn.send("/quit").is_err() {
        return;
    }
    conn.half_close();
    let asked = Instant::now();
    let (closed, lines) = conn.read_to_end(after_ms(10_000));
    let took = asked.elapsed();
    tally.max(
        "longest wait for the server to close (s)",
        took.as_secs_f64(),
    );
    if !closed || took > super::leavers::CLOSE_LIMIT {
        let what = format!(
            "{}: closed {closed} after {:.2} s",
            me.name,
            took.as_secs_f64()
        );
        tally.problem("half-close", what);
    }
    if !lines.iter().any(|l| l == "* bye") {
        let last = &lines[lines.len().saturating_sub(3)..];
        tally.problem(
            "half-close",
            format!("{}: no `* bye` after /quit (last lines {last:?})", me.name),
        );
    }
}
