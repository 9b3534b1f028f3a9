//! What the console prints about the room: the `who` table, pure, from a
//! registry snapshot and the time.

use std::time::Instant;

use crate::server::client::ClientView;

/// One client's line in `who`: name, address, how long connected, lines
/// sent, bytes waiting in its send queue, and its mute if it has one.
pub(crate) fn who_line(
    view: &ClientView,
    lines_sent: u64,
    queued: u64,
    muted_secs: Option<u64>,
    now: Instant,
) -> String {
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
    if let Some(left) = muted_secs {
        line.push_str(&format!(", muted ({left} s left)"));
    }
    line
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
        assert_eq!(
            who_line(&view, 12, 0, None, now),
            "ann (127.0.0.1:5000) in lobby, connected 1h02m03s, 12 lines sent, 0 bytes queued"
        );
        assert!(who_line(&view, 0, 5, Some(42), now).ends_with(", muted (42 s left)"));
        assert_eq!(who_heading(1), "1 client connected");
        assert_eq!(who_heading(3), "3 clients connected");
    }
}
