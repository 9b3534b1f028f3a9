//! Lab instruments on the server side: `/stats` counts, `--stats-every`, and
//! the `--transcript` JSON lines of a scripted session.

mod common;

use std::time::Duration;

use common::{server_binary, TestServer};
use serde_json::Value;

/// After a scripted session, `/stats` reports exactly what happened.
#[test]
fn stats_count_a_scripted_session() {
    let server = TestServer::with(|c| {
        c.max_line_bytes = 32;
        c.rate_limit = 7;
        c.write_timeout = Some(Duration::from_millis(300));
    });
    let mut room = server.room(3);
    let name = room[0].name.clone();
    for text in ["one", "two", "three"] {
        room[0].send(text);
        room[1].expect(&format!("> {name}: {text}"));
        room[2].expect(&format!("> {name}: {text}"));
    }
    room[0].send(&"x".repeat(40));
    room[0].expect("! line too long (max 32 bytes)");
    room[0].send("/me is not a chat line");
    room[1].line();
    room[2].line();
    let leaver = room.pop().unwrap();
    let leaver_name = leaver.name.clone();
    drop(leaver);
    room[0].expect(&format!("* {leaver_name} left"));
    room[1].expect(&format!("* {leaver_name} left"));
    room[1].send("/stats");
    let stats = room[1].line();
    // Three chat lines and an action reached the others: four lines relayed
    // (every line that reaches someone counts). Bytes out is whatever the
    // server wrote, which is at least those lines.
    for part in [
        "* stats: uptime 0h00m",
        "clients 2 (peak 3)",
        "lines relayed 4,",
        "evicted 0 too slow + 0 reset",
        "lines too long 1",
        "rate limit 7 lines/s",
    ] {
        assert!(stats.contains(part), "{part:?} missing from {stats:?}");
    }
    let bytes_out: u64 = stats
        .split("bytes out ")
        .nth(1)
        .and_then(|rest| rest.split(',').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no bytes out in {stats:?}"));
    let relayed = 2 * ["one", "two", "three"]
        .iter()
        .map(|t| format!("> {name}: {t}\n").len() as u64)
        .sum::<u64>();
    assert!(bytes_out > relayed, "{bytes_out} <= {relayed}");
}

/// A client that stops reading is counted as evicted (too slow).
#[test]
fn stats_count_evictions() {
    let server = TestServer::with(|c| {
        c.rate_limit = 0;
        c.write_timeout = Some(Duration::from_millis(1000));
    });
    let mut room = server.room(3);
    let stalled = room.pop().unwrap();
    let stalled_name = stalled.name.clone();
    let mut observer = room.pop().unwrap();
    let mut flooder = room.pop().unwrap();
    // Far more than loopback socket buffers hold, sent from another thread so
    // the observer keeps reading meanwhile.
    let sender = std::thread::spawn(move || {
        let chunk: String = (0..1000)
            .map(|i| format!("{i} {}\n", "y".repeat(900)))
            .collect();
        for _ in 0..20 {
            flooder.send_raw(chunk.as_bytes());
        }
        flooder
    });
    observer.wait_for("the eviction", |l| {
        l == format!("* {stalled_name} left (too slow)")
    });
    observer.send("/stats");
    let stats = observer.wait_for("the stats", |l| l.starts_with("* stats:"));
    let _flooder = sender.join().unwrap();
    assert!(stats.contains("evicted 1 too slow + 0 reset"), "{stats}");
    drop(stalled);
}

/// `--stats-every` logs the same summary on stderr.
#[test]
fn stats_every_logs_a_line() {
    let (mut server, addr) = server_binary(&["--quiet", "--stats-every", "1"]);
    let _client = common::Client::connect(addr);
    let line = server.wait_for("stderr", "stats: uptime");
    assert!(line.contains("clients 1 (peak 1)"), "{line}");
}

/// The transcript of a scripted session parses line by line, in order, with
/// every kind of event and awkward text escaped correctly.
#[test]
fn transcript_records_a_scripted_session() {
    let dir = std::env::temp_dir().join(format!("chatroom-transcript-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("session.jsonl");
    let _ = std::fs::remove_file(&path);
    let server = TestServer::with(|c| c.transcript = Some(path.clone()));
    let mut room = server.room(2);
    room[0].send("/nick ann");
    room[0].expect("* you are now ann");
    room[1].line();
    room[1].send("/nick bob");
    room[1].expect("* you are now bob");
    room[0].line();
    room[0].send(r#"quote " backslash \ tab	é"#);
    room[1].line();
    room[0].send("/me waves");
    room[1].line();
    room[0].send("/msg bob psst");
    room[1].line();
    room[1].send("/quit off to lunch");
    room[1].expect("* bye");
    room[0].expect("* bob left (quit: off to lunch)");
    server.stop();

    let text = std::fs::read_to_string(&path).unwrap();
    let events: Vec<Value> = text
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
        .collect();
    let kinds: Vec<&str> = events
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    // The private message is not recorded (not without --record-private).
    assert_eq!(
        kinds,
        ["start", "join", "join", "rename", "rename", "message", "action", "leave", "shutdown"],
        "{text}"
    );
    assert!(!text.contains("psst"), "private text recorded: {text}");
    for (i, event) in events.iter().enumerate() {
        assert_eq!(event["seq"].as_u64(), Some(i as u64 + 1));
        let time = event["time"].as_str().unwrap();
        assert!(time.len() == 24 && time.ends_with('Z'), "{time}");
    }
    assert_eq!(events[5]["from"], "ann");
    assert_eq!(events[5]["text"], "quote \" backslash \\ tab\té");
    assert_eq!(events[6]["text"], "waves");
    assert_eq!(
        (&events[7]["name"], &events[7]["reason"]),
        (&"bob".into(), &"quit: off to lunch".into())
    );
    // ann was still online at shutdown: the shutdown event stands for her leaving.
    let _ = std::fs::remove_dir_all(&dir);
}

/// With `--record-private`, private messages are recorded, text and all;
/// and with a transcript on, the welcome says the room is recorded, and
/// whether private messages are.
#[test]
fn private_messages_are_recorded_only_when_asked() {
    let dir = std::env::temp_dir().join(format!("chatroom-private-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for record_private in [false, true] {
        let path = dir.join(format!("session-{record_private}.jsonl"));
        let _ = std::fs::remove_file(&path);
        let server = TestServer::with(|c| {
            c.transcript = Some(path.clone());
            c.record_private = record_private;
        });
        let mut ann = server.connect();
        let mut bob = server.connect();
        ann.expect(&format!("* {} joined", bob.name));
        let welcome = bob.history[0].clone();
        let notice = if record_private {
            "(this room is recorded, private messages too)"
        } else {
            "(this room is recorded; private messages are not)"
        };
        assert!(welcome.ends_with(notice), "{welcome}");
        ann.send(&format!("/msg {} a secret", bob.name));
        bob.expect(&format!("> {} (private): a secret", ann.name));
        server.stop();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.contains("a secret"), record_private, "{text}");
        assert_eq!(text.contains(r#""event":"private""#), record_private);
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// A transcript on a named pipe that nobody reads never holds the chat up:
/// two clients exchange thousands of long lines while the recorder is stuck
/// (the pipe has no reader, so it cannot even be opened), the next line
/// arrives at once, and when a reader finally comes the transcript says how
/// many records it lost and where: every record is either in the file or
/// counted in a gap.
#[cfg(unix)]
#[test]
fn a_transcript_nobody_reads_never_holds_the_chat_up() {
    use std::io::Read;
    use std::time::{Duration, Instant};

    let dir = std::env::temp_dir().join(format!("chatroom-fifo-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("transcript.fifo");
    let _ = std::fs::remove_file(&path);
    let made = std::process::Command::new("mkfifo")
        .arg(&path)
        .status()
        .expect("mkfifo runs (coreutils)");
    assert!(made.success(), "mkfifo failed");
    let server = TestServer::with(|c| {
        c.transcript = Some(path.clone());
        c.rate_limit = 0;
        common::keep_every_line(c);
    });
    let mut room = server.room(2);
    let sent = 5_000;
    let started = Instant::now();
    let text = "x".repeat(490);
    let mut batch = String::new();
    for i in 0..sent {
        batch.push_str(&format!("{i:05} {text}\n"));
    }
    room[0].send_raw(batch.as_bytes());
    for i in 0..sent {
        let line = room[1].line();
        assert!(line.contains(&format!(": {i:05} ")), "line {i}: {line}");
    }
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{sent} lines took {:?}",
        started.elapsed()
    );
    let asked = Instant::now();
    room[0].send("and one more");
    let expected = format!("> {}: and one more", room[0].name);
    room[1].expect(&expected);
    assert!(
        asked.elapsed() < Duration::from_millis(200),
        "the next line took {:?}",
        asked.elapsed()
    );

    // Now read the pipe, and stop the server so the recorder ends.
    let reader = {
        let path = path.clone();
        std::thread::spawn(move || {
            let mut text = String::new();
            std::fs::File::open(&path)
                .expect("open the pipe")
                .read_to_string(&mut text)
                .expect("read the pipe");
            text
        })
    };
    server.stop();
    let text = reader.join().expect("the pipe's reader");
    let events: Vec<Value> = text
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
        .collect();
    let messages = events.iter().filter(|e| e["event"] == "message").count() as u64;
    let gaps: Vec<u64> = events
        .iter()
        .filter(|e| e["event"] == "gap")
        .map(|e| e["dropped"].as_u64().expect("a count"))
        .collect();
    assert!(
        !gaps.is_empty(),
        "the recorder fell behind, so a gap is recorded"
    );
    let dropped: u64 = gaps.iter().sum();
    let written = (events.len() - gaps.len()) as u64;
    // The start, two joins, the messages and the goodbye were recorded:
    // each is either in the file or counted in a gap, none silently lost.
    assert_eq!(
        written + dropped,
        1 + 2 + (sent + 1) + 1,
        "{messages} messages written, {dropped} records dropped"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
