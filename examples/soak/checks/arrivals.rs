//! Who was let in: a newcomer is told `server busy` only while the
//! server's descriptors are all taken, and a banned address stays out
//! until it is unbanned, and only then.

use super::{Check, Evidence};
use crate::clients::admission::{Knock, Outcome};
use crate::clients::moderated::Arrival;
use crate::mix::Kind;

/// A refusal is fair when the server's descriptors were within this many
/// of its limit: between the refusal and the count, a few connections of
/// the chaos may have closed.
pub(crate) const BUSY_SLACK: usize = 8;
/// A newcomer is told `server busy` only while the server's descriptors
/// are all taken, and every newcomer gets an answer.
pub(super) fn newcomers(e: &Evidence) -> Check {
    let knocks: Vec<&Knock> = e
        .tallies
        .get(&Kind::Newcomer)
        .map(|t| t.knocks.iter().collect())
        .unwrap_or_default();
    let limit = e.settings.fd_limit;
    let mut failures = Vec::new();
    let mut busy = 0;
    for k in &knocks {
        match &k.outcome {
            Outcome::Welcome => {}
            Outcome::Busy => {
                busy += 1;
                let (from, to) = (k.connected - 0.1, k.answered + 0.1);
                // The sampler's counts, the newcomer's own, and the count a
                // burst took just before letting its connections go (the
                // count then falls fast, faster than a newcomer can look).
                let seen: Vec<usize> = e
                    .samples
                    .fd_trace
                    .iter()
                    .filter(|(t, _)| *t >= from && *t <= to)
                    .map(|(_, n)| *n)
                    .chain(k.fds_then)
                    .chain(
                        e.bursts
                            .iter()
                            .filter(|b| b.released_at >= from && b.released_at <= to)
                            .map(|b| b.fds_held),
                    )
                    .collect();
                let near = seen.iter().copied().max().unwrap_or(0);
                if near + BUSY_SLACK < limit {
                    failures.push(format!(
                        "told `server busy` at t = {:.2} s (connected at {:.2} s) with at most \
                         {near} of {limit} descriptors in use (counts seen: {seen:?})",
                        k.answered, k.connected
                    ));
                }
            }
            Outcome::Other(line) => failures.push(format!("at t = {:.1} s: `{line}`", k.answered)),
            Outcome::Nothing(why) => failures.push(format!("at t = {:.1} s: {why}", k.connected)),
        }
    }
    let burst_busy: usize = e.bursts.iter().map(|b| b.busy).sum();
    if busy + burst_busy == 0 {
        failures.push(
            "no burst ever ran the server out of descriptors: nothing was tested".to_string(),
        );
    }
    Check::new(
        "no newcomer refused while descriptors were free",
        failures,
        format!(
            "{} newcomers: {} let in, {busy} told `server busy`, each while the server held at \
             least {} of its {limit} descriptors; the bursts were told `server busy` {burst_busy} times",
            knocks.len(),
            knocks.iter().filter(|k| k.outcome == Outcome::Welcome).count(),
            limit - BUSY_SLACK
        ),
    )
}

/// A banned address is refused while its ban runs, and let in after.
pub(super) fn bans(e: &Evidence) -> Check {
    let arrivals: Vec<&Arrival> = e
        .tallies
        .get(&Kind::Moderated)
        .map(|t| t.arrivals.iter().collect())
        .unwrap_or_default();
    let mut failures: Vec<String> = e
        .tallies
        .get(&Kind::Moderated)
        .into_iter()
        .chain(std::iter::once(&e.console.tally))
        .flat_map(|t| t.problems.iter())
        .filter(|(k, _)| *k == "bans" || *k == "console")
        .map(|(_, what)| what.clone())
        .collect();
    let banned_at = |ip: &str, t: f64, margin: f64| {
        e.console
            .bans
            .iter()
            .any(|b| b.ip == ip && t >= b.from - margin && t <= b.lifted + margin)
    };
    let (mut held, mut refused, mut let_in) = (0, 0, 0);
    for a in &arrivals {
        let ip = a.ip.to_string();
        let refused_as_banned = a
            .refused
            .as_deref()
            .is_some_and(|l| l.starts_with("! banned"));
        // Clearly inside a ban (between its answer and the unban, with a
        // second's margin for a slow accept), it must not be let in. It is
        // refused with `! banned`, or, while a burst has taken every
        // descriptor, with `server busy` before the ban is even looked at.
        let inside = e
            .console
            .bans
            .iter()
            .any(|b| b.ip == ip && a.at >= b.from + 0.1 && a.at <= b.until - 1.0);
        if inside {
            held += 1;
            refused += usize::from(refused_as_banned);
            if a.refused.is_none() {
                let name = e
                    .console
                    .bans
                    .iter()
                    .find(|b| b.ip == ip)
                    .map_or("?", |b| b.name.as_str());
                failures.push(format!(
                    "{ip} (banned as {name}) let in at t = {:.1} s ({:?})",
                    a.at, a.refused
                ));
            }
        } else if refused_as_banned && !banned_at(&ip, a.at, 1.0) {
            failures.push(format!(
                "{ip} refused as banned at t = {:.1} s, with no ban on",
                a.at
            ));
        } else if a.refused.is_none() {
            let_in += 1;
        }
    }
    let bans = e.console.bans.len();
    if bans == 0 || refused == 0 {
        failures.push(format!(
            "{bans} bans, {refused} refused as banned: nothing was tested"
        ));
    }
    Check::new(
        "a banned address stays out until unbanned",
        failures,
        format!(
            "{bans} bans of 127.0.0.2 to 127.0.0.7 (lifted 10 to 20 s later); {held} arrivals \
             while a ban ran, none let in ({refused} with `! banned`, the rest `server busy` \
             during a burst); {let_in} let in at other times, none refused as banned; {} kicks",
            e.console.tally.counts.get("kick").copied().unwrap_or(0)
        ),
    )
}
