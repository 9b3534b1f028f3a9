//! What a misbehaving client must not get away with, nor miss: a muted
//! client reaches nobody; a half-close (after `/quit` or not) is answered
//! and closed; a resumed session gets exactly what it missed.

use super::{count, Check, Evidence};
use crate::mix::Kind;

/// Nothing a muted client chose to say reached a healthy client.
pub(super) fn mute(e: &Evidence) -> Check {
    let mut failures: Vec<String> = e
        .healthy
        .iter()
        .flat_map(|h| {
            h.muted_heard
                .iter()
                .map(move |l| format!("{} got `{l}`", h.member.name))
        })
        .collect();
    let mutes = e.console.tally.counts.get("mute").copied().unwrap_or(0);
    let tries = count(e, Kind::Moderated, "tries while muted");
    if mutes == 0 || tries == 0 {
        failures.push(format!(
            "{mutes} mutes, {tries} tries while muted: nothing was tested"
        ));
    }
    Check::new(
        "a muted client reaches nobody",
        failures,
        format!(
            "{mutes} mutes; {tries} tries while muted (chat, //, /me, /msg, /nick, /join, /quit \
             reason); healthy clients saw none of them"
        ),
    )
}

/// A check made of the problems some kinds noted under `key`.
pub(super) fn problems(
    e: &Evidence,
    key: &'static str,
    name: &'static str,
    kinds: &[Kind],
) -> Check {
    let mut failures: Vec<String> = kinds
        .iter()
        .filter_map(|kind| e.tallies.get(kind))
        .flat_map(|t| t.problems.iter())
        .filter(|(k, _)| *k == key)
        .map(|(_, what)| what.clone())
        .collect();
    let measured = match key {
        "half-close" => {
            let quits = count(e, Kind::HalfCloser, "/quit then half-close");
            let alone = count(e, Kind::HalfCloser, "half-close alone");
            let knocks = count(e, Kind::Newcomer, "let in");
            if quits + alone == 0 {
                failures.push("no half-close happened: nothing was tested".to_string());
            }
            let longest = [Kind::HalfCloser, Kind::Newcomer]
                .iter()
                .filter_map(|k| {
                    e.tallies
                        .get(k)?
                        .maxima
                        .get("longest wait for the server to close (s)")
                })
                .fold(0.0f64, |a, b| a.max(*b));
            format!(
                "{quits} `/quit` then half-close and {alone} half-closes alone, plus {knocks} \
                 newcomers' `/quit`: each got `* bye` (after /quit) and the server's close; the \
                 longest wait {longest:.2} s (limit {} s)",
                crate::clients::leavers::CLOSE_LIMIT.as_secs()
            )
        }
        _ => {
            let resumed = count(e, Kind::Resumer, "resumed");
            let missed = count(e, Kind::Resumer, "missed lines delivered");
            let ran_out = count(e, Kind::Resumer, "sessions run out, as they should");
            if resumed == 0 {
                failures.push("no session was resumed: nothing was tested".to_string());
            }
            format!(
                "{resumed} sessions taken back with `/resume` after a reset, {missed} missed \
                 lines delivered, each count matching `* resumed: N`; {ran_out} came back after \
                 the {} s hold and were told the session had run out",
                e.settings.hold_secs
            )
        }
    };
    Check::new(name, failures, measured)
}
