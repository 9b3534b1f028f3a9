//! The flooders: each writes tagged lines of 100 to 600 bytes as fast as
//! its socket takes them, and drains what the room sends it so that it is
//! never a slow reader itself. The server's rate limit (20 lines/s, bursts
//! of 50) holds it back by not reading, so its writes soon block: how many
//! lines got through is counted from the transcript, not here.

use std::io::{self, Write};
use std::time::{Duration, Instant};

use super::{Ctx, Tally};
use crate::conn::{is_timeout, Dial, Got};
use crate::mix::{line_text, Member, Tag};

/// How much the flooder keeps ready to write.
const READY_BYTES: usize = 16 * 1024;
/// A write that takes nothing in this time counts as held back.
const WRITE_WAIT: Duration = Duration::from_millis(100);

/// Runs one flooder until the chaos ends, then resets its connection (the
/// lines still waiting in the server's buffers are dropped with it).
pub(crate) fn run(ctx: &Ctx, me: &Member) -> Tally {
    let mut tally = Tally::default();
    let mut rng = ctx.rng(me);
    let mut n = 0u32;
    while ctx.chaos_on() {
        let Some(mut conn) = ctx.enter(me, Dial::HEALTHY, &mut tally) else {
            ctx.nap(Duration::from_secs(1));
            continue;
        };
        let _ = conn.stream().set_write_timeout(Some(WRITE_WAIT));
        let mut ready: Vec<u8> = Vec::new();
        let started = Instant::now();
        let written_before = n;
        let ended = loop {
            if !ctx.chaos_on() {
                break None;
            }
            while ready.len() < READY_BYTES {
                n += 1;
                let text = line_text(
                    Tag { who: me.who, n },
                    rng.between(15, 95) as usize,
                    &mut rng,
                );
                ready.extend_from_slice(text.as_bytes());
                ready.push(b'\n');
            }
            match conn.stream().write(&ready) {
                Ok(taken) => {
                    ready.drain(..taken);
                }
                Err(e) if is_timeout(&e) || e.kind() == io::ErrorKind::Interrupted => {
                    tally.add("writes held back", 1);
                }
                Err(e) => break Some(e.to_string()),
            }
            // Take whatever the room sent, without waiting for more.
            loop {
                match conn.next(Instant::now() + Duration::from_millis(1)) {
                    Got::Line(_) => tally.add("lines received", 1),
                    Got::Quiet => break,
                    Got::Closed | Got::Failed(_) => break,
                }
            }
        };
        // Lines made but never handed to the socket were never sent.
        let unsent = ready.iter().filter(|&&b| b == b'\n').count() as u32;
        tally.add("lines written", u64::from(n - written_before - unsent));
        tally.max("seconds flooding", started.elapsed().as_secs_f64());
        if let Some(why) = ended {
            tally.add("disconnected by the server", 1);
            tally.problem("flooders", format!("{}: {why}", me.name));
        }
        conn.reset();
    }
    tally
}
