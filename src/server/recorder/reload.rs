//! What a restarted server takes back from its transcript: each room's
//! recent public lines (chat, `/me`, the teacher's `say`) with their line
//! numbers, the sessions that were still open when it stopped (their
//! tokens, names and rooms), and where its numbering stood. The transcript
//! is the server's write-ahead log: everything it would have to remember
//! was written there as it happened, so reading it from the start rebuilds
//! it. Pure once the file is read.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufRead, BufReader};
use std::path::Path;

use crate::protocol::lines;
use crate::server::json::{fields, Value};

/// One room's lines as a restarted server gets them back.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct RestoredRoom {
    /// Its name.
    pub(crate) name: String,
    /// Its newest public lines, oldest first, within the room log's cap.
    pub(crate) lines: Vec<RestoredLine>,
    bytes: usize,
}

/// One public line of a room, as a restarted server gets it back.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct RestoredLine {
    /// Its number (the transcript's `line`).
    pub(crate) seq: u64,
    /// Its text as delivered (`> NAME: TEXT\n`).
    pub(crate) bytes: Vec<u8>,
    /// Who said it, for chat and actions: a session of theirs that resumes
    /// is not sent its own lines back, as it would not have been live.
    pub(crate) from: Option<String>,
}

/// A session that was open when the server stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RestoredSession {
    /// Its token.
    pub(crate) token: String,
    /// Its client's name.
    pub(crate) name: String,
    /// The room it was in.
    pub(crate) room: String,
}

/// Everything taken back from a transcript.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Restored {
    /// The rooms that had public lines.
    pub(crate) rooms: Vec<RestoredRoom>,
    /// The sessions still open at the end.
    pub(crate) sessions: Vec<RestoredSession>,
    /// The number the next room line gets.
    pub(crate) next_line: u64,
    /// The transcript's own count of records, to go on from.
    pub(crate) records: u64,
}

/// Reads the transcript at `path`, keeping at most `room_bytes` of each
/// room's lines. A file that does not exist yet gives nothing back; lines
/// that are not JSON (a torn last write) are passed over.
///
/// # Errors
/// The file exists but cannot be read.
pub(crate) fn read(path: &Path, room_bytes: usize) -> io::Result<Restored> {
    let file = match File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Restored::default()),
        Err(e) => return Err(e),
    };
    let mut replay = Replay::new(room_bytes);
    for line in BufReader::new(file).lines() {
        replay.line(&line?);
    }
    Ok(replay.finish())
}

/// The state rebuilt so far, one record at a time.
#[derive(Debug)]
pub(crate) struct Replay {
    room_bytes: usize,
    rooms: HashMap<String, RestoredRoom>,
    /// Open sessions by their client's name (lower case): token and name.
    sessions: HashMap<String, (String, String)>,
    /// Where each named client was, by its name (lower case).
    rooms_of: HashMap<String, String>,
    last_line: u64,
    records: u64,
}

impl Replay {
    /// Nothing replayed yet.
    pub(crate) fn new(room_bytes: usize) -> Replay {
        Replay {
            room_bytes,
            rooms: HashMap::new(),
            sessions: HashMap::new(),
            rooms_of: HashMap::new(),
            last_line: 0,
            records: 0,
        }
    }

    /// Replays one line of the transcript.
    pub(crate) fn line(&mut self, text: &str) {
        let Some(fields) = fields(text) else {
            return;
        };
        let text_of = |key: &str| {
            fields.iter().find_map(|(k, v)| match v {
                Value::Text(text) if k == key => Some(text.as_str()),
                _ => None,
            })
        };
        let number_of = |key: &str| {
            fields.iter().find_map(|(k, v)| match v {
                Value::Number(n) if k == key => Some(*n),
                _ => None,
            })
        };
        self.records = self.records.max(number_of("seq").unwrap_or(0));
        let line = number_of("line");
        self.last_line = self.last_line.max(line.unwrap_or(0));
        let room = text_of("room");
        let from = text_of("from").map(str::to_string);
        let said = match text_of("event").unwrap_or("") {
            "message" => text_of("from").zip(text_of("text")).map(|(from, text)| {
                let mut out = Vec::new();
                lines::push_chat(&mut out, from, text);
                out
            }),
            "action" => text_of("from")
                .zip(text_of("text"))
                .map(|(from, text)| lines::action(from, text)),
            "say" => text_of("text").map(lines::server_says),
            "join" | "move" => {
                if let (Some(name), Some(room)) = (text_of("name"), room) {
                    self.rooms_of
                        .insert(name.to_ascii_lowercase(), room.to_string());
                }
                None
            }
            "session" => {
                if let (Some(token), Some(name)) = (text_of("token"), text_of("name")) {
                    let entry = (token.to_string(), name.to_string());
                    self.sessions.insert(name.to_ascii_lowercase(), entry);
                }
                None
            }
            "rename" => {
                if let (Some(from), Some(to)) = (text_of("from"), text_of("to")) {
                    let (from, to) = (from.to_ascii_lowercase(), to.to_string());
                    if let Some((token, _)) = self.sessions.remove(&from) {
                        self.sessions
                            .insert(to.to_ascii_lowercase(), (token, to.clone()));
                    }
                    if let Some(room) = self.rooms_of.remove(&from) {
                        self.rooms_of.insert(to.to_ascii_lowercase(), room);
                    }
                }
                None
            }
            "leave" => {
                if let Some(name) = text_of("name") {
                    self.sessions.remove(&name.to_ascii_lowercase());
                    self.rooms_of.remove(&name.to_ascii_lowercase());
                }
                None
            }
            _ => None,
        };
        if let (Some(bytes), Some(room), Some(seq)) = (said, room, line) {
            self.keep(room, RestoredLine { seq, bytes, from });
        }
    }

    /// Keeps a public line of `room`, dropping the oldest past the cap.
    fn keep(&mut self, room: &str, line: RestoredLine) {
        let kept = self.rooms.entry(room.to_string()).or_default();
        kept.name = room.to_string();
        kept.bytes += line.bytes.len();
        kept.lines.push(line);
        let mut drop = 0;
        while kept.bytes > self.room_bytes && drop < kept.lines.len() {
            kept.bytes -= kept.lines[drop].bytes.len();
            drop += 1;
        }
        kept.lines.drain(..drop);
    }

    /// What was rebuilt.
    pub(crate) fn finish(self) -> Restored {
        let rooms_of = self.rooms_of;
        let mut sessions: Vec<RestoredSession> = self
            .sessions
            .into_iter()
            .map(|(key, (token, name))| RestoredSession {
                room: rooms_of
                    .get(&key)
                    .cloned()
                    .unwrap_or_else(|| "lobby".into()),
                token,
                name,
            })
            .collect();
        sessions.sort_by(|a, b| a.name.cmp(&b.name));
        let mut rooms: Vec<RestoredRoom> = self.rooms.into_values().collect();
        rooms.sort_by(|a, b| a.name.cmp(&b.name));
        Restored {
            rooms,
            sessions,
            next_line: self.last_line + 1,
            records: self.records,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn replay(lines: &[&str], room_bytes: usize) -> Restored {
        let mut replay = Replay::new(room_bytes);
        for line in lines {
            replay.line(line);
        }
        replay.finish()
    }

    #[test]
    fn the_rooms_lines_and_the_open_sessions_come_back() {
        let restored = replay(
            &[
                r#"{"seq":1,"time":"T","event":"start","addr":"127.0.0.1:9000"}"#,
                r#"{"seq":2,"time":"T","room":"lobby","line":1,"event":"join","name":"ann"}"#,
                r#"{"seq":3,"time":"T","event":"session","token":"aa","name":"ann"}"#,
                r#"{"seq":4,"time":"T","room":"lobby","line":2,"event":"join","name":"bob"}"#,
                r#"{"seq":5,"time":"T","event":"session","token":"bb","name":"bob"}"#,
                r#"{"seq":6,"time":"T","room":"lobby","line":3,"event":"message","from":"ann","text":"hi"}"#,
                r#"{"seq":7,"time":"T","event":"rename","from":"bob","to":"rob"}"#,
                r#"{"seq":8,"time":"T","room":"lab","event":"move","name":"rob","room2":"x"}"#,
                r#"{"seq":9,"time":"T","room":"lab","line":4,"event":"action","from":"rob","text":"waves"}"#,
                r#"{"seq":10,"time":"T","room":"lobby","line":5,"event":"say","text":"break"}"#,
                r#"{"seq":11,"time":"T","room":"lobby","line":6,"event":"leave","name":"ann"}"#,
                r#"{"seq":12,"time":"T","event":"shutdown"}"#,
                r#"{"seq":13,"time":"T","event":"mess"#,
            ],
            1 << 20,
        );
        assert_eq!(restored.next_line, 7);
        assert_eq!(restored.records, 12);
        assert_eq!(
            restored.sessions,
            [RestoredSession {
                token: "bb".into(),
                name: "rob".into(),
                room: "lab".into()
            }]
        );
        let rooms: Vec<(&str, Vec<(u64, String)>)> = restored
            .rooms
            .iter()
            .map(|r| {
                let lines = r
                    .lines
                    .iter()
                    .map(|l| (l.seq, String::from_utf8_lossy(&l.bytes).into_owned()))
                    .collect();
                (r.name.as_str(), lines)
            })
            .collect();
        assert_eq!(
            rooms,
            [
                ("lab", vec![(4, "* rob waves\n".to_string())]),
                (
                    "lobby",
                    vec![
                        (3, "> ann: hi\n".to_string()),
                        (5, "* [server] break\n".to_string())
                    ]
                ),
            ]
        );
    }

    #[test]
    fn a_room_keeps_only_its_newest_lines_within_the_cap() {
        let lines: Vec<String> = (1..=100)
            .map(|n| {
                format!(
                    r#"{{"seq":{n},"room":"lobby","line":{n},"event":"message","from":"a","text":"{:08}"}}"#,
                    n
                )
            })
            .collect();
        let borrowed: Vec<&str> = lines.iter().map(String::as_str).collect();
        let restored = replay(&borrowed, 10 * 14);
        let kept: Vec<u64> = restored.rooms[0].lines.iter().map(|l| l.seq).collect();
        assert_eq!(kept, (91..=100).collect::<Vec<u64>>());
    }
}
