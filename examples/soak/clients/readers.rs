//! Clients that read too little: sleepers, which stop reading (some wake
//! up later and read again), and slow readers, which read a few KB/s. Both
//! use a small receive buffer, so the server's side fills within seconds
//! (Linux would otherwise grow the buffer to megabytes and hide them).

use std::time::{Duration, Instant};

use super::{after_ms, Ctx, Pumped, Tally};
use crate::conn::{is_skip_notice, is_timeout, skipped_count, Conn, Dial};
use crate::mix::{Kind, Member};

/// A sleeper's and a slow reader's `SO_RCVBUF` (Linux doubles it).
const SMALL_BUFFER: usize = 4096;
/// How much a slow reader takes at a time, and how often.
const SIP_BYTES: usize = 1024;
const SIP_EVERY: Duration = Duration::from_millis(250);

/// Runs one sleeper: joins, stops reading, and finds out by itself (the
/// socket's pending error) when the server evicted it; then comes back.
/// Half of them wake up after a while and read everything again; the
/// others end a long nap with a reset or, still not reading, a half-close
/// (a script whose output is blocked): the server cannot deliver what is
/// due then, and must still close within a second or so.
pub(crate) fn sleeper(ctx: &Ctx, me: &Member) -> Tally {
    let mut tally = Tally::default();
    let mut rng = ctx.rng(me);
    let wakes = me.index % 4 < 2;
    while ctx.chaos_on() {
        let Some(mut conn) = ctx.enter(me, Dial::small(SMALL_BUFFER), &mut tally) else {
            ctx.nap(Duration::from_secs(2));
            continue;
        };
        let fell_asleep = Instant::now();
        let nap_ms = if wakes {
            rng.between(1_000, 30_000)
        } else {
            rng.between(20_000, 120_000)
        };
        let nap_end = after_ms(nap_ms);
        let evicted = loop {
            if !ctx.nap(Duration::from_millis(500)) {
                break false;
            }
            if reset_by_server(&conn) {
                break true;
            }
            if Instant::now() >= nap_end {
                break false;
            }
        };
        if evicted {
            tally.add("evicted while asleep", 1);
            tally.max(
                "longest nap before eviction (s)",
                fell_asleep.elapsed().as_secs_f64(),
            );
        } else if wakes && ctx.chaos_on() {
            // Awake: read everything there is, then a while more.
            tally.add("woke up", 1);
            let until = Instant::now() + Duration::from_secs(rng.between(5, 15));
            let ended = ctx.pump(&mut conn, until, |line| {
                if is_skip_notice(line) {
                    tally.add("skip notices after waking", 1);
                }
            });
            if matches!(ended, Pumped::Closed | Pumped::Failed) {
                tally.add("found evicted on waking", 1);
            }
        } else if ctx.chaos_on() && rng.one_in(2) {
            // The end of its input, without a word read: the server sees
            // the half-close and closes its side (its CLOSE-WAIT is timed).
            conn.half_close();
            tally.add("half-closed without reading", 1);
            ctx.nap(Duration::from_secs(3));
        }
        conn.reset();
        ctx.nap(Duration::from_millis(rng.between(500, 3_000)));
    }
    tally
}

/// Runs one slow reader: 1 KiB every 250 ms, whatever the room says.
pub(crate) fn slow_reader(ctx: &Ctx, me: &Member) -> Tally {
    let mut tally = Tally::default();
    while ctx.chaos_on() {
        let Some(mut conn) = ctx.enter(me, Dial::small(SMALL_BUFFER), &mut tally) else {
            ctx.nap(Duration::from_secs(2));
            continue;
        };
        let started = Instant::now();
        let mut bytes = 0u64;
        let ended = loop {
            if !ctx.nap(SIP_EVERY) {
                break None;
            }
            match conn.trickle(SIP_BYTES, Duration::from_millis(1)) {
                Ok(0) => break Some("closed by the server"),
                Ok(n) => bytes += n as u64,
                Err(e) if is_timeout(&e) => {}
                Err(_) => break Some("reset by the server"),
            }
            while let Some(line) = conn.take_line() {
                if is_skip_notice(&line) {
                    tally.add("skip notices", 1);
                    tally.add("lines skipped", skipped_count(&line));
                }
            }
        };
        tally.add("bytes read", bytes);
        tally.max("seconds connected", started.elapsed().as_secs_f64());
        match ended {
            Some(how) => {
                // Issue 24: a slow reader is never evicted while it reads.
                tally.add("disconnected by the server", 1);
                let what = format!(
                    "{} in {}: {how} after {:.0} s, having read {bytes} bytes at 1 KiB \
                     every 250 ms without a pause (see tests/soak_findings.rs)",
                    me.name,
                    me.room,
                    started.elapsed().as_secs_f64()
                );
                tally.problem("slow readers", what);
            }
            None => {
                let _ = conn.send("/quit");
                conn.half_close();
                conn.read_to_end(after_ms(3_000));
            }
        }
    }
    tally
}

/// True once the server has reset the connection: the socket then holds a
/// pending error, which a client that never reads can still look at.
fn reset_by_server(conn: &Conn) -> bool {
    matches!(conn.stream().take_error(), Ok(Some(_)))
}

/// A sleeper or slow reader's kind, for `main.rs`.
pub(crate) fn run(ctx: &Ctx, me: &Member) -> Tally {
    match me.kind {
        Kind::Sleeper => sleeper(ctx, me),
        _ => slow_reader(ctx, me),
    }
}
