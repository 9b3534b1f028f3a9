//! The chat lines a reader has accepted and not handed on yet: gathered
//! while one read's lines are handled, so a burst leaves as one event (and
//! the broadcaster pays once for it), never held past the end of that read.

use std::sync::Arc;

use crate::config::MAX_EVENT_BYTES;
use crate::protocol::lines;
use crate::server::client::ClientId;
use crate::server::event::Event;
use crate::server::recorder::Entry;

/// Formatted chat lines waiting to be handed on, with their records.
#[derive(Debug)]
pub(super) struct Pending {
    bytes: Vec<u8>,
    /// Their transcript entries, when `recording`.
    entries: Vec<Entry>,
    /// How many messages `bytes` holds (lines, or chunks in the demo mode).
    lines: u64,
    /// True when the server keeps a transcript.
    recording: bool,
}

impl Pending {
    /// Nothing waiting; entries are made only when `recording`.
    pub(super) fn new(recording: bool) -> Pending {
        Pending {
            bytes: Vec::new(),
            entries: Vec::new(),
            lines: 0,
            recording,
        }
    }

    /// Adds `> NAME: TEXT`. True once enough waits to hand it on now.
    pub(super) fn push_chat(&mut self, name: &Arc<str>, text: &str) -> bool {
        lines::push_chat(&mut self.bytes, name, text);
        self.note(name, text);
        self.bytes.len() >= MAX_EVENT_BYTES
    }

    /// Adds one raw chunk (the chunk-framing demo mode).
    pub(super) fn push_chunk(&mut self, name: &Arc<str>, chunk: &str) {
        lines::push_chunk(&mut self.bytes, name, chunk);
        self.note(name, chunk);
    }

    fn note(&mut self, name: &Arc<str>, text: &str) {
        self.lines += 1;
        if self.recording {
            self.entries.push(Entry::Message {
                from: name.to_string(),
                text: text.to_string(),
            });
        }
    }

    /// What waits, as one event from `from`, if anything does.
    pub(super) fn take(&mut self, from: ClientId) -> Option<Event> {
        if self.bytes.is_empty() {
            return None;
        }
        Some(Event::Chat {
            from,
            bytes: std::mem::replace(&mut self.bytes, Vec::with_capacity(256)),
            lines: std::mem::take(&mut self.lines),
            entries: std::mem::take(&mut self.entries),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_leave_together_with_their_count_and_records() {
        let mut pending = Pending::new(true);
        let ann: Arc<str> = Arc::from("ann");
        assert!(pending.take(ClientId(1)).is_none());
        assert!(!pending.push_chat(&ann, "one"));
        assert!(!pending.push_chat(&ann, "two"));
        let Some(Event::Chat {
            bytes,
            lines,
            entries,
            ..
        }) = pending.take(ClientId(1))
        else {
            panic!("an event")
        };
        assert_eq!(bytes, b"> ann: one\n> ann: two\n");
        assert_eq!((lines, entries.len()), (2, 2));
        assert!(pending.take(ClientId(1)).is_none(), "taken");
        let long = "x".repeat(MAX_EVENT_BYTES);
        assert!(pending.push_chat(&ann, &long), "full: hand it on");
    }
}
