//! The dashboard's visitors: viewers, who ask for `/state.json` every two
//! seconds (one of them reads the `/events` stream instead), and lurkers,
//! who from their own addresses hold `/events` streams they never read
//! and requests they never finish, opening new ones every 20 s. Their
//! connections count in the server's descriptors like any other.

use std::io::{ErrorKind, Read, Write};
use std::net::{Ipv4Addr, TcpStream};
use std::time::{Duration, Instant};

use super::{Ctx, Tally};
use crate::conn::{is_timeout, reset, Dial};
use crate::mix::Member;

/// A viewer's pause between two looks.
const LOOK_EVERY: Duration = Duration::from_secs(2);
/// How long a look may take before it counts as unanswered.
const LOOK_TIMEOUT: Duration = Duration::from_secs(5);
/// How many streams and unfinished requests one lurker holds.
const STREAMS: usize = 6;
const HALVES: usize = 4;
/// How often a lurker drops what it holds and starts again.
const LURK_ROUND: Duration = Duration::from_secs(20);

/// Runs one viewer until the chaos ends.
pub(crate) fn viewer(ctx: &Ctx, me: &Member) -> Tally {
    if me.index == 0 {
        return stream_reader(ctx);
    }
    let mut tally = Tally::default();
    while ctx.nap(LOOK_EVERY) {
        let asked = Instant::now();
        match look(ctx) {
            Ok(status) if status.starts_with("HTTP/1.1 200") => {
                tally.add("looks answered 200", 1);
                tally.max("slowest look (s)", asked.elapsed().as_secs_f64());
            }
            Ok(status) => {
                tally.add("looks answered otherwise", 1);
                tally.problem("dashboard", format!("`{status}`"));
            }
            Err(e) => {
                tally.add("looks unanswered", 1);
                tally.problem("dashboard", e);
            }
        }
    }
    tally
}

/// One `GET /state.json`, read to its end. Returns the status line.
fn look(ctx: &Ctx) -> Result<String, String> {
    let stream = Dial::HEALTHY
        .stream(ctx.dashboard)
        .map_err(|e| format!("connect: {e}"))?;
    ctx.ports
        .lock()
        .insert(local_port(&stream), crate::mix::Kind::Viewer);
    let request = format!(
        "GET /state.json HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
        ctx.dashboard
    );
    (&stream)
        .write_all(request.as_bytes())
        .map_err(|e| format!("write: {e}"))?;
    let answer = read_to_end(&stream, Instant::now() + LOOK_TIMEOUT)
        .ok_or_else(|| format!("no whole answer within {} s", LOOK_TIMEOUT.as_secs()))?;
    let text = String::from_utf8_lossy(&answer);
    Ok(text.lines().next().unwrap_or("an empty answer").to_string())
}

/// Reads `/events` for the whole chaos, reconnecting when dropped.
fn stream_reader(ctx: &Ctx) -> Tally {
    let mut tally = Tally::default();
    while ctx.chaos_on() {
        let Ok(stream) = Dial::HEALTHY.stream(ctx.dashboard) else {
            ctx.nap(Duration::from_secs(1));
            continue;
        };
        let request = format!("GET /events HTTP/1.1\r\nHost: {}\r\n\r\n", ctx.dashboard);
        if (&stream).write_all(request.as_bytes()).is_err() {
            continue;
        }
        tally.add("streams opened", 1);
        let _ = stream.set_read_timeout(Some(Duration::from_millis(250)));
        let mut buf = [0u8; 16 * 1024];
        while ctx.chaos_on() {
            match (&stream).read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    let events = buf[..n].windows(6).filter(|w| w == b"data: ").count();
                    tally.add("events read", events as u64);
                }
                Err(e) if is_timeout(&e) || e.kind() == ErrorKind::Interrupted => {}
                Err(_) => break,
            }
        }
    }
    tally
}

/// Runs one lurker until the chaos ends.
pub(crate) fn lurker(ctx: &Ctx, me: &Member) -> Tally {
    let mut tally = Tally::default();
    let dial = Dial::from(Ipv4Addr::new(127, 0, 0, 10 + me.index as u8));
    while ctx.chaos_on() {
        let mut held: Vec<TcpStream> = Vec::new();
        let mut halves: Vec<(TcpStream, Instant)> = Vec::new();
        for i in 0..STREAMS + HALVES {
            let Ok(stream) = dial.stream(ctx.dashboard) else {
                tally.add("could not connect", 1);
                continue;
            };
            ctx.ports
                .lock()
                .insert(local_port(&stream), crate::mix::Kind::Lurker);
            let head = if i < STREAMS {
                format!("GET /events HTTP/1.1\r\nHost: {}\r\n\r\n", ctx.dashboard)
            } else {
                "GET /state.json HTTP/1.1\r\nHo".to_string()
            };
            if (&stream).write_all(head.as_bytes()).is_err() {
                continue;
            }
            if i < STREAMS {
                tally.add("streams never read", 1);
                held.push(stream);
            } else {
                tally.add("requests never finished", 1);
                halves.push((stream, Instant::now()));
            }
        }
        let round_end = Instant::now() + LURK_ROUND;
        while Instant::now() < round_end && ctx.nap(Duration::from_millis(250)) {
            halves.retain(|(stream, sent)| {
                if answered(stream) {
                    tally.add("unfinished requests closed by the server", 1);
                    tally.max(
                        "longest unfinished request held (s)",
                        sent.elapsed().as_secs_f64(),
                    );
                    false
                } else {
                    true
                }
            });
        }
        for stream in held.into_iter().chain(halves.into_iter().map(|(s, _)| s)) {
            reset(stream);
        }
    }
    tally
}

/// True once the server has answered or closed a connection (a peek
/// finds bytes, the end, or an error), without reading anything.
fn answered(stream: &TcpStream) -> bool {
    let _ = stream.set_nonblocking(true);
    let mut byte = [0u8; 1];
    let answered = match stream.peek(&mut byte) {
        Ok(_) => true,
        Err(e) => !is_timeout(&e),
    };
    let _ = stream.set_nonblocking(false);
    answered
}

/// Everything until the server closes, or `None` past `until`.
fn read_to_end(stream: &TcpStream, until: Instant) -> Option<Vec<u8>> {
    let mut answer = Vec::new();
    let mut buf = [0u8; 8 * 1024];
    loop {
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return None;
        }
        let _ = stream.set_read_timeout(Some(left));
        match (&*stream).read(&mut buf) {
            Ok(0) => return Some(answer),
            Ok(n) => answer.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) if is_timeout(&e) => return None,
            Err(_) => return Some(answer),
        }
    }
}

fn local_port(stream: &TcpStream) -> u16 {
    stream.local_addr().map(|a| a.port()).unwrap_or(0)
}
