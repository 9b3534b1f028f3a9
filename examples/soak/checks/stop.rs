//! The end: no panic in the server's log (nor in the soak's own threads),
//! and SIGTERM stops the server with exit code 0 after every healthy
//! client's goodbye.

use super::{Check, Evidence};

/// The server's log holds no panic (and the soak's own threads did not
/// panic either, or its figures would be short).
pub(super) fn no_panic(e: &Evidence) -> Check {
    let log = &e.stopped.log;
    let mut failures = log.panics.clone();
    failures.extend(
        e.tallies
            .values()
            .flat_map(|t| t.problems.iter())
            .filter(|(k, _)| *k == "soak")
            .map(|(_, what)| format!("in the soak itself: {what}")),
    );
    Check::new(
        "no panic",
        failures,
        format!(
            "the server's log: {} lines, none with `panicked`",
            log.lines
        ),
    )
}

/// SIGTERM stops the server with exit code 0, and every healthy client
/// gets the goodbye as its last line, then the close.
pub(super) fn clean_stop(e: &Evidence) -> Check {
    let s = &e.stopped;
    let mut failures = Vec::new();
    match s.status {
        Some(status) if status.success() => {}
        Some(status) => failures.push(format!("the server exited with {status}")),
        None => failures.push(format!(
            "the server had not exited {:.0} s after SIGTERM",
            s.took.as_secs_f64()
        )),
    }
    let without: Vec<&str> = e
        .healthy
        .iter()
        .filter(|h| !h.goodbye)
        .map(|h| h.member.name.as_str())
        .collect();
    if !without.is_empty() {
        failures.push(format!(
            "{} healthy clients without `* server shutting down` then the close: {:?}",
            without.len(),
            &without[..without.len().min(8)]
        ));
    }
    Check::new(
        "the server stops cleanly",
        failures,
        format!(
            "SIGTERM: exit code {}, after {:.2} s; every healthy client's last line was \
             `* server shutting down`, then the server closed",
            s.status
                .and_then(|st| st.code())
                .map_or("none".to_string(), |code| code.to_string()),
            s.took.as_secs_f64()
        ),
    )
}
