//! Clients that leave, over and over, in the two ways that once left
//! connections open: resetters, which send more than the rate limit lets
//! through at once (sometimes half a line) and reset the connection;
//! half-closers, which half-close (after `/quit`, or not) and must then be
//! answered and closed by the server within a second or two.

use std::io::Write;
use std::time::{Duration, Instant};

use super::{Ctx, Tally};
use crate::conn::Dial;
use crate::mix::{line_text, Member, Tag};

/// How long a half-closer waits for the server to close after its FIN
/// before it calls that a failure: the server should close within a
/// second; the rest is slack for a busy machine.
pub(crate) const CLOSE_LIMIT: Duration = Duration::from_secs(2);

/// Runs one resetter until the chaos ends.
pub(crate) fn resetter(ctx: &Ctx, me: &Member) -> Tally {
    let mut tally = Tally::default();
    let mut rng = ctx.rng(me);
    let mut n = 0u32;
    while ctx.chaos_on() {
        let Some(mut conn) = ctx.enter(me, Dial::HEALTHY, &mut tally) else {
            ctx.nap(Duration::from_secs(1));
            continue;
        };
        // More than the rate limit's burst of 50, sometimes: the rest waits
        // in the server's reader when the reset comes.
        let mut burst = Vec::new();
        for _ in 0..rng.between(1, 80) {
            n += 1;
            let text = line_text(
                Tag { who: me.who, n },
                rng.between(2, 20) as usize,
                &mut rng,
            );
            burst.extend_from_slice(text.as_bytes());
            burst.push(b'\n');
        }
        if rng.one_in(3) {
            burst.extend_from_slice(b"half a line that never ");
            tally.add("half lines", 1);
        }
        let _ = conn.stream().write_all(&burst);
        let until = Instant::now() + Duration::from_millis(rng.between(0, 1500));
        ctx.pump(&mut conn, until, |_| {});
        conn.reset();
        tally.add("resets", 1);
        ctx.nap(Duration::from_millis(rng.between(300, 2000)));
    }
    tally
}

/// Runs one half-closer until the chaos ends.
pub(crate) fn half_closer(ctx: &Ctx, me: &Member) -> Tally {
    let mut tally = Tally::default();
    let mut rng = ctx.rng(me);
    let mut n = 0u32;
    while ctx.chaos_on() {
        let Some(mut conn) = ctx.enter(me, Dial::HEALTHY, &mut tally) else {
            ctx.nap(Duration::from_secs(1));
            continue;
        };
        for _ in 0..rng.between(0, 5) {
            n += 1;
            let _ = conn.send(&line_text(Tag { who: me.who, n }, 6, &mut rng));
        }
        let until = Instant::now() + Duration::from_millis(rng.between(200, 3000));
        ctx.pump(&mut conn, until, |_| {});
        let quits = rng.one_in(2);
        if quits {
            let _ = conn.send(&format!("/quit see you {n}"));
            tally.add("/quit then half-close", 1);
        } else {
            tally.add("half-close alone", 1);
        }
        conn.half_close();
        let closed_at = Instant::now();
        let (closed, lines) = conn.read_to_end(closed_at + Duration::from_secs(10));
        let took = closed_at.elapsed();
        tally.max(
            "longest wait for the server to close (s)",
            took.as_secs_f64(),
        );
        if !closed {
            tally.problem(
                "half-close",
                format!(
                    "{}: the server had not closed 10 s after its half-close",
                    me.name
                ),
            );
        } else if took > CLOSE_LIMIT {
            tally.problem(
                "half-close",
                format!(
                    "{}: the server took {:.2} s to close after its half-close",
                    me.name,
                    took.as_secs_f64()
                ),
            );
        }
        if quits && !lines.iter().any(|l| l == "* bye") {
            tally.problem(
                "half-close",
                format!(
                    "{}: no `* bye` after /quit (last lines {:?})",
                    me.name,
                    last(&lines)
                ),
            );
        }
        ctx.nap(Duration::from_millis(rng.between(500, 3000)));
    }
    tally
}

/// The last three of `lines`.
fn last(lines: &[String]) -> &[String] {
    &lines[lines.len().saturating_sub(3)..]
}
