//! `--transcript FILE`: every room event as one JSON object per line, with a
//! sequence number and a UTC time, appended and flushed as it happens. Only the
//! broadcaster writes it, so the file's order is the order people saw.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::Path;

use crate::log::{utc_now, Log};

/// One event worth recording.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Entry {
    /// The server started listening.
    Start {
        /// The bound address.
        addr: String,
    },
    /// A client joined.
    Join {
        /// Its name (its address, at first).
        name: String,
    },
    /// A client renamed itself.
    Rename {
        /// The old name.
        from: String,
        /// The new name.
        to: String,
    },
    /// A chat line relayed to everyone else.
    Message {
        /// The sender.
        from: String,
        /// The text.
        text: String,
    },
    /// A `/me` action.
    Action {
        /// Who acted.
        from: String,
        /// The text.
        text: String,
    },
    /// A private message.
    Private {
        /// The sender.
        from: String,
        /// The recipient.
        to: String,
        /// The text.
        text: String,
    },
    /// A client left or was disconnected.
    Leave {
        /// Its name.
        name: String,
        /// Why, if there was a reason (`too slow`, `connection reset`, a `/quit` reason).
        reason: Option<String>,
    },
    /// A client moved to another room.
    Move {
        /// Its name.
        name: String,
        /// The room it entered.
        room: String,
    },
    /// A command typed on the server's console (`kick bob`, `say hi`).
    Console {
        /// The line as typed.
        command: String,
    },
    /// The server is shutting down.
    Shutdown,
}

impl Entry {
    /// The JSON object for this entry, without a trailing newline.
    pub(crate) fn to_json(&self, seq: u64, time: &str) -> String {
        let mut out = format!("{{\"seq\":{seq},\"time\":{}", json_string(time));
        let mut field = |key: &str, value: &str| {
            out.push_str(&format!(",\"{key}\":{}", json_string(value)));
        };
        match self {
            Entry::Start { addr } => {
                field("event", "start");
                field("addr", addr);
            }
            Entry::Join { name } => {
                field("event", "join");
                field("name", name);
            }
            Entry::Rename { from, to } => {
                field("event", "rename");
                field("from", from);
                field("to", to);
            }
            Entry::Message { from, text } => {
                field("event", "message");
                field("from", from);
                field("text", text);
            }
            Entry::Action { from, text } => {
                field("event", "action");
                field("from", from);
                field("text", text);
            }
            Entry::Private { from, to, text } => {
                field("event", "private");
                field("from", from);
                field("to", to);
                field("text", text);
            }
            Entry::Leave { name, reason } => {
                field("event", "leave");
                field("name", name);
                if let Some(reason) = reason {
                    field("reason", reason);
                }
            }
            Entry::Move { name, room } => {
                field("event", "move");
                field("name", name);
                field("room", room);
            }
            Entry::Console { command } => {
                field("event", "console");
                field("command", command);
            }
            Entry::Shutdown => field("event", "shutdown"),
        }
        out.push('}');
        out
    }
}

/// A JSON string literal: quotes, backslashes and every control character
/// escaped, everything else (UTF-8 included) passed through as JSON allows.
pub(crate) fn json_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if u32::from(c) < 0x20 => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The open transcript file.
#[derive(Debug)]
pub(crate) struct Transcript {
    file: File,
    seq: u64,
    failed: bool,
    log: Log,
}

impl Transcript {
    /// Opens `path` for appending, creating it if needed.
    ///
    /// # Errors
    /// The file cannot be opened or created.
    pub(crate) fn open(path: &Path, log: Log) -> io::Result<Transcript> {
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        Ok(Transcript {
            file,
            seq: 0,
            failed: false,
            log,
        })
    }

    /// Appends one entry. Each entry is a single `write` of a whole line to an
    /// unbuffered file, so it is on disk (in the OS's cache) as soon as this
    /// returns. A failure is logged once; the chat goes on without the record.
    pub(crate) fn record(&mut self, entry: &Entry) {
        self.seq += 1;
        let mut line = entry.to_json(self.seq, &utc_now());
        line.push('\n');
        match self.file.write_all(line.as_bytes()) {
            Ok(()) => self.failed = false,
            Err(e) if !self.failed => {
                self.failed = true;
                self.log
                    .always(&format!("transcript write failed: {e} (will keep trying)"));
            }
            Err(_) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_what_json_requires() {
        assert_eq!(json_string("a\"b\\c\nd\u{1}é"), r#""a\"b\\c\nd\u0001é""#);
    }

    #[test]
    fn entries_are_flat_objects() {
        let entry = Entry::Leave {
            name: "ann".into(),
            reason: Some("too slow".into()),
        };
        assert_eq!(
            entry.to_json(7, "T"),
            r#"{"seq":7,"time":"T","event":"leave","name":"ann","reason":"too slow"}"#
        );
    }
}
