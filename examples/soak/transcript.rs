//! The server's transcript read back: for each room, every line it
//! numbered and recorded (chat, actions, `say`, joins, leaves), in order,
//! with the tag of each chat line and action. What a room heard is what
//! its healthy members must have got. Parsed with `serde_json`, an
//! independent reader of the server's hand-written JSON.

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::{self, BufRead, BufReader};
use std::path::Path;

use serde_json::Value;

use crate::mix::Tag;

/// One numbered line of a room.
#[derive(Debug, Clone)]
pub(crate) struct RoomLine {
    /// Its number (server-wide, growing).
    pub(crate) line: u64,
    /// `message`, `action`, `say`, `join` or `leave`.
    pub(crate) event: &'static str,
    /// The tag of a chat line or action.
    pub(crate) tag: Option<Tag>,
    /// Who joined, for a `join`.
    pub(crate) name: Option<String>,
}

/// What the transcript says.
#[derive(Debug, Default)]
pub(crate) struct Transcript {
    /// Each room's numbered lines, in order.
    pub(crate) rooms: HashMap<String, Vec<RoomLine>>,
    /// Records in all, by event.
    pub(crate) events: BTreeMap<String, u64>,
    /// Records the server had to drop (its `gap` records).
    pub(crate) dropped: u64,
    /// Tagged lines each client got into a room.
    pub(crate) tagged_by_who: HashMap<u32, u64>,
    /// Lines that did not parse.
    pub(crate) unreadable: u64,
}

/// The name of a numbered record's event, kept once rather than once a line.
fn numbered_event(event: &str) -> &'static str {
    match event {
        "message" => "message",
        "action" => "action",
        "say" => "say",
        "join" => "join",
        "leave" => "leave",
        _ => "other",
    }
}

/// Reads the transcript at `path`.
///
/// # Errors
/// The file cannot be read.
pub(crate) fn read(path: &Path) -> io::Result<Transcript> {
    let mut transcript = Transcript::default();
    for line in BufReader::new(File::open(path)?).lines() {
        let line = line?;
        let Ok(record) = serde_json::from_str::<Value>(&line) else {
            transcript.unreadable += 1;
            continue;
        };
        let event = record["event"].as_str().unwrap_or("?").to_string();
        *transcript.events.entry(event.clone()).or_default() += 1;
        if event == "gap" {
            transcript.dropped += record["dropped"].as_u64().unwrap_or(0);
            continue;
        }
        let (Some(room), Some(number)) = (record["room"].as_str(), record["line"].as_u64()) else {
            continue;
        };
        let tag = match event.as_str() {
            "message" | "action" => record["text"].as_str().and_then(Tag::parse),
            _ => None,
        };
        if let Some(tag) = tag {
            *transcript.tagged_by_who.entry(tag.who).or_default() += 1;
        }
        transcript
            .rooms
            .entry(room.to_string())
            .or_default()
            .push(RoomLine {
                line: number,
                event: numbered_event(&event),
                tag,
                name: record["name"].as_str().map(str::to_string),
            });
    }
    Ok(transcript)
}
