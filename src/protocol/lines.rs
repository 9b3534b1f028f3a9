//! Every line the server can send, as functions: chat, notices (`* `), errors
//! (`! `). `docs/PROTOCOL.md` documents exactly these; nothing else in the
//! crate formats wire text. Pure.

use std::time::Duration;

use crate::protocol::command::{ParseError, HELP};
use crate::protocol::names::{NAME_RULE, ROOM_RULE};

/// Appends `> NAME: TEXT\n`, a chat line from another client. Appends rather
/// than returns, so a reader can gather many lines in one buffer.
pub fn push_chat(out: &mut Vec<u8>, name: &str, text: &str) {
    out.reserve(name.len() + text.len() + 5);
    out.extend_from_slice(b"> ");
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b": ");
    out.extend_from_slice(text.as_bytes());
    out.push(b'\n');
}

/// Appends `> NAME: CHUNK` with no newline added: the chunk-framing demo mode
/// relays whatever one read returned, newlines and all, as the Node tutorial does.
pub fn push_chunk(out: &mut Vec<u8>, name: &str, chunk: &str) {
    out.extend_from_slice(b"> ");
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b": ");
    out.extend_from_slice(chunk.as_bytes());
}

/// `> SENDER (private): TEXT\n`, a private message.
pub fn private(from: &str, text: &str) -> Vec<u8> {
    format!("> {from} (private): {text}\n").into_bytes()
}

/// `* TEXT\n`, a notice from the server.
pub fn notice(text: &str) -> Vec<u8> {
    format!("* {text}\n").into_bytes()
}

/// `! TEXT\n`, an error for the one client it concerns.
pub fn error(text: &str) -> Vec<u8> {
    format!("! {text}\n").into_bytes()
}

/// Whether the server keeps a transcript, as a newcomer is told.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recording {
    /// No transcript.
    Off,
    /// A transcript of the rooms, not of private messages.
    Rooms,
    /// A transcript of the rooms and of private messages.
    Everything,
}

/// The first line a client gets: its name, how many others are there, any
/// demo mode that is on (so nobody mistakes a broken server for a real one),
/// and whether what it says is recorded.
pub fn welcome(name: &str, others: usize, demo_modes: &[&str], recording: Recording) -> Vec<u8> {
    let others = match others {
        1 => "1 other".to_string(),
        n => format!("{n} others"),
    };
    let mut text = format!("welcome {name}, {others} online, /help lists the commands");
    if !demo_modes.is_empty() {
        text.push_str(&format!(" (demo mode: {})", demo_modes.join(", ")));
    }
    match recording {
        Recording::Off => {}
        Recording::Rooms => text.push_str(" (this room is recorded; private messages are not)"),
        Recording::Everything => text.push_str(" (this room is recorded, private messages too)"),
    }
    notice(&text)
}

/// `* NAME joined`, to everyone else.
pub fn joined(name: &str) -> Vec<u8> {
    notice(&format!("{name} joined"))
}

/// `* NAME left` or `* NAME left (REASON)`, to everyone else.
pub fn left(name: &str, reason: Option<&str>) -> Vec<u8> {
    match reason {
        Some(reason) => notice(&format!("{name} left ({reason})")),
        None => notice(&format!("{name} left")),
    }
}

/// `* OLD is now known as NEW`, to everyone else.
pub fn renamed(old: &str, new: &str) -> Vec<u8> {
    notice(&format!("{old} is now known as {new}"))
}

/// `* you are now NAME`, to the client that renamed itself.
pub fn you_are_now(name: &str) -> Vec<u8> {
    notice(&format!("you are now {name}"))
}

/// `* you are already NAME`: a `/nick` to the name the client already has.
pub fn you_are_already(name: &str) -> Vec<u8> {
    notice(&format!("you are already {name}"))
}

/// `! name NAME is taken`: someone else has it (ignoring case).
pub fn name_taken(name: &str) -> Vec<u8> {
    error(&format!("name {name} is taken"))
}

/// `! name NAME is reserved`: the server's own words (see
/// [`RESERVED_NAMES`](crate::protocol::RESERVED_NAMES)).
pub fn name_reserved(name: &str) -> Vec<u8> {
    error(&format!("name {name} is reserved"))
}

/// `! name NEW is too close to OLD`: it looks like a name already online.
pub fn name_too_close(new: &str, existing: &str) -> Vec<u8> {
    error(&format!("name {new} is too close to {existing}"))
}

/// `! invalid name: RULE`.
pub fn invalid_name() -> Vec<u8> {
    error(&format!("invalid name: {NAME_RULE}"))
}

/// `* NAME TEXT`, a `/me` action.
pub fn action(name: &str, text: &str) -> Vec<u8> {
    notice(&format!("{name} {text}"))
}

/// True when `* NAME TEXT` (a `/me`) would read exactly like a notice the
/// server sends about NAME: `joined`, `left`, `left (…)`, `is now known as …`.
/// Such an action is refused, so nobody can fake their own departure, rename
/// or eviction in the server's voice.
pub fn action_mimics_notice(text: &str) -> bool {
    text == "joined"
        || text == "left"
        || (text.starts_with("left (") && text.ends_with(')'))
        || text.starts_with("is now known as ")
}

/// The answer to a `/me` that [`action_mimics_notice`].
pub fn action_refused() -> Vec<u8> {
    error("that /me would read like a notice from the server; say it another way")
}

/// The reason shown for `/quit REASON`: `quit: REASON`, so that a reason can
/// never read like one the server gives (`too slow`, `kicked`, …).
pub fn quit_reason(reason: &str) -> String {
    format!("quit: {reason}")
}

/// `* you are now in ROOM`, to a client that joined a room.
pub fn you_are_in(room: &str) -> Vec<u8> {
    notice(&format!("you are now in {room}"))
}

/// `* the teacher moved you to ROOM`, to a client the console moved.
pub fn moved_by_teacher(room: &str) -> Vec<u8> {
    notice(&format!("the teacher moved you to {room}"))
}

/// `* you are already in ROOM`.
pub fn already_in(room: &str) -> Vec<u8> {
    notice(&format!("you are already in {room}"))
}

/// `! invalid room name: RULE`.
pub fn invalid_room() -> Vec<u8> {
    error(&format!("invalid room name: {ROOM_RULE}"))
}

/// The reason in `* NAME left (went to ROOM)`, to the room a client left.
pub fn went_to(room: &str) -> String {
    format!("went to {room}")
}

/// `* rooms (N): lobby (12), lab1 (3)`, the answer to `/rooms`.
pub fn rooms<S: AsRef<str>>(rooms: &[(S, usize)]) -> Vec<u8> {
    let list: Vec<String> = rooms
        .iter()
        .map(|(name, members)| format!("{} ({members})", name.as_ref()))
        .collect();
    notice(&format!("rooms ({}): {}", rooms.len(), list.join(", ")))
}

/// `* 37 joined, 5 left (1234 here)`: a crowded room's joins and leaves of
/// the last second, in one line (either part is left out when it is 0).
pub fn crowd(joined: usize, left: usize, here: usize) -> Vec<u8> {
    let text = match (joined, left) {
        (0, left) => format!("{left} left ({here} here)"),
        (joined, 0) => format!("{joined} joined ({here} here)"),
        (joined, left) => format!("{joined} joined, {left} left ({here} here)"),
    };
    notice(&text)
}

/// `* online (N): A, B, C`, the answer to `/who`.
pub fn online<S: AsRef<str>>(names: &[S]) -> Vec<u8> {
    let list: Vec<&str> = names.iter().map(AsRef::as_ref).collect();
    notice(&format!("online ({}): {}", names.len(), list.join(", ")))
}

/// `! no such user NAME`, for a `/msg` to nobody.
pub fn no_such_user(name: &str) -> Vec<u8> {
    error(&format!("no such user {name}"))
}

/// `! line too long (max N bytes)`.
pub fn line_too_long(max: usize) -> Vec<u8> {
    error(&format!("line too long (max {max} bytes)"))
}

/// The error line for a `/` line that is not a valid command.
pub fn bad_command(error_: &ParseError) -> Vec<u8> {
    error(&error_.to_string())
}

/// The `/help` answer: one notice per command.
pub fn help() -> Vec<u8> {
    HELP.iter().flat_map(|line| notice(line)).collect()
}

/// `* STATS`, the `/stats` answer (the summary comes from the server's counters).
pub fn stats(summary: &str) -> Vec<u8> {
    notice(summary)
}

/// `* [server] TEXT`, the teacher speaking from the server's console. Names
/// cannot contain `[`, so no client's `/me` can look like it.
pub fn server_says(text: &str) -> Vec<u8> {
    notice(&format!("[server] {text}"))
}

/// `! kicked by the server` or `! kicked by the server: REASON`, the last
/// line a kicked client gets.
pub fn kicked(reason: Option<&str>) -> Vec<u8> {
    match reason {
        Some(reason) => error(&format!("kicked by the server: {reason}")),
        None => error("kicked by the server"),
    }
}

/// The reason in `* NAME left (REASON)` for a kick: `kicked` or `kicked: REASON`.
pub fn kick_reason(reason: Option<&str>) -> String {
    match reason {
        Some(reason) => format!("kicked: {reason}"),
        None => "kicked".to_string(),
    }
}

/// `! banned from this server for N min`: the last line a banned client
/// gets, and the one line a banned address gets when it comes back.
pub fn banned(minutes: u64) -> Vec<u8> {
    error(&format!("banned from this server for {minutes} min"))
}

/// The reason in `* NAME left (REASON)` for a ban.
pub fn ban_reason() -> String {
    "banned".to_string()
}

/// Whole minutes of what is `left`, rounded up: a ban with 10 s left
/// still says 1 min.
pub fn minutes_left(left: Duration) -> u64 {
    left.as_secs().div_ceil(60).max(1)
}

/// `! this class needs a code: /key CODE`, the first line a server with
/// `--key` sends, and its answer to any line before the code.
pub fn needs_code() -> Vec<u8> {
    error("this class needs a code: /key CODE")
}

/// `! wrong code`, before the server closes the connection.
pub fn wrong_code() -> Vec<u8> {
    error("wrong code")
}

/// `! too many wrong codes, try again in N min`: an address that guessed
/// too often is refused for a while.
pub fn too_many_wrong_codes(minutes: u64) -> Vec<u8> {
    error(&format!("too many wrong codes, try again in {minutes} min"))
}

/// `#session TOKEN LAST`: the answer to `/session` (and the first line of a
/// resumed session): the token to resume with, and the number of the last
/// room line before it, where the client starts counting.
pub fn session(token: &str, last: u64) -> Vec<u8> {
    format!("#session {token} {last}\n").into_bytes()
}

/// `* resumed: N lines you missed`, after the lines a resumed client missed.
pub fn resumed(missed: u64) -> Vec<u8> {
    match missed {
        1 => notice("resumed: 1 line you missed"),
        n => notice(&format!("resumed: {n} lines you missed")),
    }
}

/// `! cannot resume: no such session (it ran out, or the server forgot it)`:
/// the connection goes on as a new client.
pub fn cannot_resume() -> Vec<u8> {
    error("cannot resume: no such session (it ran out, or the server forgot it)")
}

/// `! /resume must be the first line`: a session is taken back before the
/// connection does anything else.
pub fn resume_first() -> Vec<u8> {
    error("/resume must be the first line")
}

/// `! no sessions in the chunks demo mode`: `/session` on a server that
/// relays raw chunks, where a numbered line could not be told from the end
/// of someone's unfinished chunk.
pub fn no_sessions_in_chunks() -> Vec<u8> {
    error("no sessions in the chunks demo mode")
}

/// `* no code needed here`: `/key` on a server without one.
pub fn no_code_needed() -> Vec<u8> {
    notice("no code needed here")
}

/// `! you are muted for SECONDS s`, when the console mutes a client.
pub fn muted_for(secs: u64) -> Vec<u8> {
    error(&format!("you are muted for {secs} s"))
}

/// Whole seconds of what is `left`, rounded up: a mute with 0.4 s left
/// still says 1 s.
pub fn seconds_left(left: Duration) -> u64 {
    left.as_millis().div_ceil(1000).max(1) as u64
}

/// `! you are muted (N s left)`, the answer to a muted client's chat.
pub fn still_muted(left: Duration) -> Vec<u8> {
    error(&format!("you are muted ({} s left)", seconds_left(left)))
}

/// `* you can talk again`, when a mute ends.
pub fn can_talk_again() -> Vec<u8> {
    notice("you can talk again")
}

/// `* history: the last K lines`, before the history a newcomer gets.
pub fn history_start(lines: usize) -> Vec<u8> {
    match lines {
        1 => notice("history: the last 1 line"),
        n => notice(&format!("history: the last {n} lines")),
    }
}

/// `* end of history`, after it.
pub fn history_end() -> Vec<u8> {
    notice("end of history")
}

/// A history as a newcomer gets it: `lines` (each with its newline)
/// between [`history_start`] and [`history_end`]; nothing if there are none.
pub fn history(lines: &[Vec<u8>]) -> Vec<u8> {
    if lines.is_empty() {
        return Vec::new();
    }
    let mut out = history_start(lines.len());
    for line in lines {
        out.extend_from_slice(line);
    }
    out.extend_from_slice(&history_end());
    out
}

/// `* N lines skipped: you fell behind`: a client that fell further behind
/// its room than the room keeps skips ahead, and this line stands where
/// the lines it missed would have been.
pub fn skipped(lines: u64) -> Vec<u8> {
    match lines {
        1 => notice("1 line skipped: you fell behind"),
        n => notice(&format!("{n} lines skipped: you fell behind")),
    }
}

/// Appends `#SEQ LINES`: for a client that asked to resume after a lost
/// connection (`/session`), it says that the next LINES lines are the
/// room's lines numbered SEQ onward, so the client can say where it
/// stopped. No other line starts with `#`.
pub fn push_marker(out: &mut Vec<u8>, seq: u64, lines: u64) {
    use std::io::Write;
    let _ = writeln!(out, "#{seq} {lines}");
}

/// `* bye`, the last line a client that typed `/quit` gets.
pub fn bye() -> Vec<u8> {
    notice("bye")
}

/// `* server shutting down`, the last line everyone gets.
pub fn shutting_down() -> Vec<u8> {
    notice("server shutting down")
}

/// `! server full (N clients), try again later`, to a connection refused at once.
pub fn server_full(max: usize) -> Vec<u8> {
    error(&format!("server full ({max} clients), try again later"))
}

/// `! server busy, try again later`, to a connection the server has no
/// resources for (no thread, no file descriptor).
pub fn server_busy() -> Vec<u8> {
    error("server busy, try again later")
}

/// `! too many connections from IP (max N)`, to a connection over `--max-per-ip`.
pub fn too_many_from(ip: &str, max: usize) -> Vec<u8> {
    error(&format!("too many connections from {ip} (max {max})"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        let mut out = Vec::new();
        push_chat(&mut out, "ann", "hi");
        assert_eq!(out, b"> ann: hi\n");
        push_chunk(&mut out, "ann", "a\nb");
        assert_eq!(out, b"> ann: hi\n> ann: a\nb");
        assert_eq!(private("ann", "psst"), b"> ann (private): psst\n");
        assert_eq!(notice("bob joined"), b"* bob joined\n");
        assert_eq!(error("nope"), b"! nope\n");
    }

    #[test]
    fn notices_about_people() {
        assert_eq!(joined("bob"), b"* bob joined\n");
        assert_eq!(left("bob", None), b"* bob left\n");
        assert_eq!(left("bob", Some("too slow")), b"* bob left (too slow)\n");
        assert_eq!(renamed("a", "b"), b"* a is now known as b\n");
        assert_eq!(online(&["x", "y"]), b"* online (2): x, y\n");
        assert_eq!(action("ann", "waves"), b"* ann waves\n");
        assert_eq!(
            left("bob", Some(&quit_reason("kicked"))),
            b"* bob left (quit: kicked)\n"
        );
    }

    #[test]
    fn room_lines() {
        assert_eq!(you_are_in("lab1"), b"* you are now in lab1\n");
        assert_eq!(already_in("lab1"), b"* you are already in lab1\n");
        assert_eq!(
            left("ann", Some(&went_to("lab1"))),
            b"* ann left (went to lab1)\n"
        );
        assert_eq!(
            rooms(&[("lobby", 12), ("lab1", 3)]),
            b"* rooms (2): lobby (12), lab1 (3)\n"
        );
        assert_eq!(crowd(37, 5, 1234), b"* 37 joined, 5 left (1234 here)\n");
        assert_eq!(crowd(3, 0, 150), b"* 3 joined (150 here)\n");
        assert_eq!(crowd(0, 1, 149), b"* 1 left (149 here)\n");
    }

    #[test]
    fn bans() {
        assert_eq!(banned(10), b"! banned from this server for 10 min\n");
        assert_eq!(minutes_left(Duration::from_secs(10)), 1);
        assert_eq!(minutes_left(Duration::from_secs(600)), 10);
        assert_eq!(minutes_left(Duration::from_secs(601)), 11);
    }

    #[test]
    fn skips_and_markers() {
        assert_eq!(skipped(1), b"* 1 line skipped: you fell behind\n");
        assert_eq!(skipped(312), b"* 312 lines skipped: you fell behind\n");
        let mut out = Vec::new();
        push_marker(&mut out, 41, 3);
        assert_eq!(out, b"#41 3\n");
    }

    #[test]
    fn console_lines() {
        assert_eq!(server_says("hi all"), b"* [server] hi all\n");
        assert_eq!(kicked(None), b"! kicked by the server\n");
        assert_eq!(kicked(Some("spam")), b"! kicked by the server: spam\n");
        assert_eq!(
            left("bob", Some(&kick_reason(Some("spam")))),
            b"* bob left (kicked: spam)\n"
        );
        assert_eq!(muted_for(60), b"! you are muted for 60 s\n");
        assert_eq!(
            still_muted(Duration::from_millis(58_400)),
            b"! you are muted (59 s left)\n"
        );
        assert_eq!(history_start(1), b"* history: the last 1 line\n");
        assert_eq!(history_start(3), b"* history: the last 3 lines\n");
    }

    #[test]
    fn mistakes_come_in_two_forms() {
        // Words that do not fit a command: its usage line.
        assert_eq!(
            bad_command(&ParseError::Usage("/join ROOM")),
            b"! usage: /join ROOM\n"
        );
        // A word that breaks its rule: the rule, worded alike for both.
        let rule = "use 1 to 20 ASCII letters, digits, _ or -, starting with a letter";
        assert_eq!(
            invalid_name(),
            format!("! invalid name: {rule}\n").into_bytes()
        );
        assert_eq!(
            invalid_room(),
            format!("! invalid room name: {rule}\n").into_bytes()
        );
    }

    #[test]
    fn actions_that_read_like_notices_are_caught() {
        for text in ["joined", "left", "left (too slow)", "is now known as bob"] {
            assert!(action_mimics_notice(text), "{text}");
        }
        for text in ["waves", "joined the club", "left the room", "is now here"] {
            assert!(!action_mimics_notice(text), "{text}");
        }
    }

    #[test]
    fn welcome_counts_and_names_demo_modes() {
        assert_eq!(
            welcome("ann", 1, &[], Recording::Off),
            b"* welcome ann, 1 other online, /help lists the commands\n"
        );
        assert!(welcome("ann", 1, &[], Recording::Rooms)
            .ends_with(b"(this room is recorded; private messages are not)\n"));
        assert_eq!(
            welcome("ann", 0, &["chunk framing"], Recording::Off),
            b"* welcome ann, 0 others online, /help lists the commands (demo mode: chunk framing)\n"
                .to_vec()
        );
    }
}
