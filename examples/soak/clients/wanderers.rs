//! Clients that keep changing: room movers (`/join` every few seconds, and
//! the console moves them too) and renamers (`/nick` every few seconds).
//! Both talk a little, tagged, and read everything; they leave with
//! `/quit` when the chaos ends.

use std::time::{Duration, Instant};

use super::{after_ms, Ctx, Pumped, Tally};
use crate::conn::{Conn, Dial};
use crate::mix::{all_rooms, line_text, Kind, Member, Rng, Tag};

/// Runs one room mover or renamer until the chaos ends.
pub(crate) fn run(ctx: &Ctx, me: &Member) -> Tally {
    let mut tally = Tally::default();
    let mut rng = ctx.rng(me);
    let mut n = 0u32;
    let mut renames = 0u32;
    let rooms = all_rooms();
    let mut at = rooms.iter().position(|r| *r == me.room).unwrap_or(0);
    while ctx.chaos_on() {
        let Some(mut conn) = ctx.enter(me, Dial::HEALTHY, &mut tally) else {
            ctx.nap(Duration::from_secs(1));
            continue;
        };
        let ended = loop {
            let pause = match me.kind {
                Kind::Mover => rng.between(1000, 4000),
                _ => rng.between(1000, 5000),
            };
            let ended = ctx.pump(&mut conn, after_ms(pause), |line| {
                if line.starts_with("* the teacher moved you to ") {
                    tally.add("moved by the console", 1);
                }
            });
            if !matches!(ended, Pumped::Done) {
                break ended;
            }
            let sent = match me.kind {
                Kind::Mover => {
                    at = (at + 1 + rng.below(rooms.len() - 1)) % rooms.len();
                    tally.add("moves", 1);
                    conn.send(&format!("/join {}", rooms[at]))
                }
                _ => {
                    renames += 1;
                    tally.add("renames", 1);
                    conn.send(&format!("/nick {}v{renames}", me.name))
                }
            };
            if sent.is_err() || talk(&mut conn, me, &mut n, &mut rng, &mut tally).is_err() {
                break Pumped::Failed;
            }
        };
        match ended {
            Pumped::ChaosOver => leave(&mut conn),
            _ => {
                tally.add("disconnected by the server", 1);
                tally.problem("wanderers", format!("{}: {ended:?}", me.name));
            }
        }
    }
    tally
}

/// Now and then a tagged line or (for a renamer) an action.
fn talk(
    conn: &mut Conn,
    me: &Member,
    n: &mut u32,
    rng: &mut Rng,
    tally: &mut Tally,
) -> std::io::Result<()> {
    if !rng.one_in(2) {
        return Ok(());
    }
    *n += 1;
    let tag = Tag { who: me.who, n: *n };
    tally.add("lines sent", 1);
    if me.kind == Kind::Renamer && rng.one_in(3) {
        conn.send(&format!("/me {tag} waves"))
    } else {
        conn.send(&line_text(tag, rng.between(3, 15) as usize, rng))
    }
}

/// `/quit`, then reads until the server closes.
pub(crate) fn leave(conn: &mut Conn) {
    if conn.send("/quit").is_ok() {
        conn.half_close();
        conn.read_to_end(Instant::now() + Duration::from_secs(3));
    }
}
