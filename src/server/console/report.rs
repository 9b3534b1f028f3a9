//! What the console prints about the room: the `who` table, pure, from a
//! registry snapshot, the bans and the time.

use std::sync::atomic::Ordering::Relaxed;
use std::time::Instant;

use crate::protocol::lines;
use crate::server::admission::Ban;
use crate::server::client::ClientView;

/// One client's line in `who`: name, address, how long connected, lines
/// sent, bytes the server holds for it (how far behind it is), lines it
/// skipped, if any, and its mute if it has one.
pub(crate) fn who_line(view: &ClientView, muted_secs: Option<u64>, now: Instant) -> String {
    let lines_sent = view.meters.lines_sent.load(Relaxed);
    let queued = view.meters.queued_bytes.load(Relaxed);
    let secs = now.saturating_duration_since(view.since).as_secs();
    let mut line = format!(
        "{} ({}) in {}, connected {}h{:02}m{:02}s, {} sent, {} bytes queued",
        view.name,
        view.addr,
        view.room,
        secs / 3600,
        secs / 60 % 60,
        secs % 60,
        match lines_sent {
            1 => "1 line".to_string(),
            n => format!("{n} lines"),
        },
        queued
    );
    match view.meters.skipped_lines.load(Relaxed) {
        0 => {}
        1 => line.push_str(", 1 line skipped"),
        n => line.push_str(&format!(", {n} lines skipped")),
    }
    if let Some(left) = muted_secs {
        line.push_str(&format!(", muted ({left} s left)"));
    }
    line
}

/// A ban's line in `who`: the address, the name it had, the time left.
pub(crate) fn ban_line(ban: &Ban, now: Instant) -> String {
    let left = lines::minutes_left(ban.until.saturating_duration_since(now));
    format!("banned: {} ({}), {left} min left", ban.ip, ban.name)
}

/// The heading of `who`.
pub(crate) fn who_heading(count: usize) -> String {
    match count {
        1 => "1 client connected".to_string(),
        n => format!("{n} clients connected"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::client::{ClientId, Meters};
    use std::sync::Arc;
    use std::time::Duration;

    #[test]
    fn who_says_everything_about_a_client() {
        let since = Instant::now();
        let view = ClientView {
            id: ClientId(1),
            addr: "127.0.0.1:5000".parse().expect("an address"),
            name: Arc::from("ann"),
            since,
            meters: Arc::new(Meters::default()),
            room: Arc::from("lobby"),
        };
        let now = since + Duration::from_secs(3723);
        view.meters.lines_sent.store(12, Relaxed);
        assert_eq!(
            who_line(&view, None, now),
            "ann (127.0.0.1:5000) in lobby, connected 1h02m03s, 12 lines sent, 0 bytes queued"
        );
        view.meters.skipped_lines.store(312, Relaxed);
        assert!(who_line(&view, Some(42), now).ends_with(", 312 lines skipped, muted (42 s left)"));
        assert_eq!(who_heading(1), "1 client connected");
        assert_eq!(who_heading(3), "3 clients connected");
        let ban = Ban {
            ip: "192.0.2.7".parse().expect("an address"),
            name: "bob".into(),
            until: now + Duration::from_secs(590),
        };
        assert_eq!(ban_line(&ban, now), "banned: 192.0.2.7 (bob), 10 min left");
    }
}
