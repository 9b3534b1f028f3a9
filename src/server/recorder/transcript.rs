//! `--transcript FILE`: every room event as one JSON object per line, with a
//! sequence number, the UTC time it happened and, for a room's lines, the
//! room and the line's number (one count for the whole server). Written by
//! the recorder thread only, through a buffer, in the order the broadcaster
//! handled the events, so the file's order is the order people saw.

use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::Path;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::log::{format_utc, Log};
use crate::server::json::string as json_string;

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
    /// The teacher's `say`, as one room heard it.
    Say {
        /// The text.
        text: String,
    },
    /// A client got a session token (or took its session back): what a
    /// restarted server needs to let it come back as itself.
    Session {
        /// The token.
        token: String,
        /// The client's name.
        name: String,
    },
    /// A command typed on the server's console (`kick bob`, `say hi`).
    Console {
        /// The line as typed.
        command: String,
    },
    /// The server is shutting down.
    Shutdown,
    /// Records that never reached the file: the recorder fell behind (a slow
    /// disk, a pipe nobody reads) and the chat did not wait for it.
    Gap {
        /// How many records were dropped here.
        dropped: u64,
    },
}

/// One entry as the broadcaster hands it to the recorder: when it happened
/// and, for a line a room heard, which room and which line number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Record {
    /// When the broadcaster handled it (not when the recorder got to it).
    pub(crate) at: SystemTime,
    /// The room that heard it, if a room did.
    pub(crate) room: Option<Arc<str>>,
    /// The number of its line, if any: one count for all rooms, as `#SEQ` markers number them.
    pub(crate) line: Option<u64>,
    /// What happened.
    pub(crate) entry: Entry,
}

impl Record {
    /// A record of `entry`, happening now, with no room.
    pub(crate) fn now(entry: Entry) -> Record {
        Record {
            at: SystemTime::now(),
            room: None,
            line: None,
            entry,
        }
    }
}

impl Record {
    /// The JSON object for this record, without a trailing newline.
    pub(crate) fn to_json(&self, seq: u64) -> String {
        let since_epoch = self.at.duration_since(UNIX_EPOCH).unwrap_or_default();
        let time = format_utc(since_epoch.as_secs(), since_epoch.subsec_millis());
        let mut out = format!("{{\"seq\":{seq},\"time\":{}", json_string(&time));
        if let Some(room) = &self.room {
            out.push_str(&format!(",\"room\":{}", json_string(room)));
        }
        if let Some(line) = self.line {
            out.push_str(&format!(",\"line\":{line}"));
        }
        let mut field = |key: &str, value: &str| {
            out.push_str(&format!(",\"{key}\":{}", json_string(value)));
        };
        match &self.entry {
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
            Entry::Say { text } => {
                field("event", "say");
                field("text", text);
            }
            Entry::Session { token, name } => {
                field("event", "session");
                field("token", token);
                field("name", name);
            }
            Entry::Shutdown => field("event", "shutdown"),
            Entry::Gap { dropped } => {
                field("event", "gap");
                out.push_str(&format!(",\"dropped\":{dropped}"));
            }
        }
        out.push('}');
        out
    }
}

/// Opens `path` for appending, creating it if needed.
///
/// # Errors
/// The file cannot be opened or created.
pub(crate) fn open_append(path: &Path) -> io::Result<File> {
    OpenOptions::new().create(true).append(true).open(path)
}

/// The open transcript file, written through a buffer that the recorder
/// flushes whenever it has nothing more to write.
#[derive(Debug)]
pub(crate) struct Transcript {
    file: BufWriter<File>,
    seq: u64,
    failed: bool,
    log: Log,
}

impl Transcript {
    /// Opens `path` for appending, creating it if needed. (A named pipe
    /// blocks here until something reads it: the recorder thread opens
    /// those, never the thread that binds the server.)
    ///
    /// # Errors
    /// The file cannot be opened or created.
    pub(crate) fn open(path: &Path, log: Log) -> io::Result<Transcript> {
        Ok(Transcript::new(open_append(path)?, 0, log))
    }

    /// Writes to `file`, already open for appending and holding `records`
    /// records, whose numbering it goes on with.
    pub(crate) fn new(file: File, records: u64, log: Log) -> Transcript {
        Transcript {
            file: BufWriter::with_capacity(64 * 1024, file),
            seq: records,
            failed: false,
            log,
        }
    }

    /// Appends one record to the buffer (which writes to the file when it
    /// fills). A failure is logged once; the chat goes on without the record.
    pub(crate) fn write(&mut self, record: &Record) {
        self.seq += 1;
        let mut line = record.to_json(self.seq);
        line.push('\n');
        let written = self.file.write_all(line.as_bytes());
        self.note(written);
    }

    /// Hands what the buffer holds to the operating system.
    pub(crate) fn flush(&mut self) {
        let flushed = self.file.flush();
        self.note(flushed);
    }

    fn note(&mut self, result: io::Result<()>) {
        match result {
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
    fn records_are_flat_objects() {
        let record = Record {
            at: UNIX_EPOCH + std::time::Duration::from_millis(1_500),
            room: Some(Arc::from("lab")),
            line: Some(42),
            entry: Entry::Leave {
                name: "ann".into(),
                reason: Some("too slow".into()),
            },
        };
        assert_eq!(
            record.to_json(7),
            r#"{"seq":7,"time":"1970-01-01T00:00:01.500Z","room":"lab","line":42,"event":"leave","name":"ann","reason":"too slow"}"#
        );
        let gap = Record {
            entry: Entry::Gap { dropped: 3 },
            ..Record::now(Entry::Shutdown)
        };
        assert!(gap.to_json(8).ends_with(r#""event":"gap","dropped":3}"#));
    }
}
