//! The teacher at the console: every 3 s one command on the server's
//! standard input, in turn `say`, `mute`, `move`, `kick`, `ban` (lifted by
//! `unban` 10 to 20 s later), each answered `ok: …` or `error: …` on its
//! standard output. The bans' times are kept, to check that a banned
//! address was refused while its ban ran, and let in after.

use std::io::Write;
use std::time::{Duration, Instant};

use super::{Ctx, Tally};
use crate::mix::{all_rooms, count, Kind, Rng};
use crate::server::ConsolePipe;

/// Time between two commands.
const EVERY: Duration = Duration::from_secs(3);
/// How long the server may take to answer a command.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a mute lasts, in seconds.
pub(crate) const MUTE_SECS: u64 = 15;

/// A ban, from the console's answer to its `unban`.
#[derive(Debug, Clone)]
pub(crate) struct BanWindow {
    pub(crate) ip: String,
    pub(crate) name: String,
    /// When the server answered `ok: banned` (seconds since it started).
    pub(crate) from: f64,
    /// When the `unban` was written.
    pub(crate) until: f64,
    /// When the server answered it.
    pub(crate) lifted: f64,
}

/// What the console did.
#[derive(Debug, Default)]
pub(crate) struct ConsoleReport {
    pub(crate) tally: Tally,
    pub(crate) bans: Vec<BanWindow>,
}

/// A ban not yet lifted.
#[derive(Debug)]
struct Pending {
    due: Instant,
    name: String,
    ip: String,
    from: f64,
}

/// Runs the console until the chaos ends; lifts every ban before it returns.
pub(crate) fn run(ctx: &Ctx, pipe: &mut ConsolePipe) -> ConsoleReport {
    let mut report = ConsoleReport::default();
    let mut rng = Rng::new(ctx.seed, u32::MAX);
    let mut pending: Vec<Pending> = Vec::new();
    let mut turn = 0u64;
    while ctx.nap(EVERY) {
        turn += 1;
        let due: Vec<Pending> = {
            let now = Instant::now();
            let (due, later) = pending.into_iter().partition(|p| p.due <= now);
            pending = later;
            due
        };
        for ban in due {
            unban(ctx, pipe, ban, &mut report);
        }
        let command = match turn % 5 {
            0 => Some(format!("say soak bulletin {turn}")),
            1 => pick(ctx, &mut rng, |t| t.muted_until.is_none())
                .map(|name| format!("mute {name} {MUTE_SECS}")),
            2 => {
                let rooms = all_rooms();
                let mover = rng.below(count(Kind::Mover));
                Some(format!("move mov{mover} {}", rooms[rng.below(rooms.len())]))
            }
            3 => pick(ctx, &mut rng, |_| true).map(|name| format!("kick {name} soak kick")),
            _ => {
                let banned: Vec<String> = pending.iter().map(|p| p.ip.clone()).collect();
                pick(ctx, &mut rng, |t| !banned.contains(&t.ip)).map(|name| format!("ban {name} 1"))
            }
        };
        let Some(command) = command else {
            report.tally.add("nobody to aim at", 1);
            continue;
        };
        let word = command.split(' ').next().unwrap_or_default().to_string();
        match ask(pipe, &command) {
            Some(answer) if answer.starts_with("ok:") => {
                report.tally.add(counter(&word), 1);
                if word == "ban" {
                    // `ok: banned NAME (IP) for N min`
                    let ip = answer
                        .split_once('(')
                        .and_then(|(_, rest)| rest.split_once(')'))
                        .map(|(ip, _)| ip.to_string())
                        .unwrap_or_default();
                    pending.push(Pending {
                        due: Instant::now() + Duration::from_secs(rng.between(10, 20)),
                        name: command.split(' ').nth(1).unwrap_or_default().to_string(),
                        ip,
                        from: ctx.t(),
                    });
                }
            }
            Some(_) => report.tally.add("answered with an error", 1),
            None => report.tally.problem(
                "console",
                format!(
                    "no answer to `{command}` within {} s",
                    ANSWER_TIMEOUT.as_secs()
                ),
            ),
        }
    }
    for ban in pending {
        unban(ctx, pipe, ban, &mut report);
    }
    report
}

/// The counter a command that took effect adds to.
fn counter(word: &str) -> &'static str {
    match word {
        "say" => "say",
        "mute" => "mute",
        "move" => "move",
        "kick" => "kick",
        _ => "ban",
    }
}

/// Lifts a ban and keeps its window.
fn unban(ctx: &Ctx, pipe: &mut ConsolePipe, ban: Pending, report: &mut ConsoleReport) {
    let until = ctx.t();
    let answer = ask(pipe, &format!("unban {}", ban.name));
    let lifted = ctx.t();
    match answer {
        Some(answer) if answer.starts_with("ok:") => {
            report.tally.add("unban", 1);
            report.bans.push(BanWindow {
                ip: ban.ip,
                name: ban.name,
                from: ban.from,
                until,
                lifted,
            });
        }
        other => report
            .tally
            .problem("bans", format!("`unban {}` answered {other:?}", ban.name)),
    }
}

/// A connected target (its name) that `fits`, at random.
fn pick(ctx: &Ctx, rng: &mut Rng, fits: impl Fn(&super::Target) -> bool) -> Option<String> {
    let targets = ctx.targets.lock();
    let names: Vec<&String> = targets
        .iter()
        .filter(|t| fits(t))
        .filter_map(|t| t.name.as_ref())
        .collect();
    (!names.is_empty()).then(|| names[rng.below(names.len())].clone())
}

/// Writes a command and waits for its `ok:` or `error:` line.
fn ask(pipe: &mut ConsolePipe, command: &str) -> Option<String> {
    writeln!(pipe.input, "{command}").ok()?;
    pipe.input.flush().ok()?;
    let deadline = Instant::now() + ANSWER_TIMEOUT;
    loop {
        let line = pipe.answers.recv_deadline(deadline).ok()?;
        if line.starts_with("ok:") || line.starts_with("error:") {
            return Some(line);
        }
    }
}
