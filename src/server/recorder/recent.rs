//! The dashboard's memory of the room: the last joins, leaves (with their
//! reason), renames, moves, kicks and the teacher's actions at the console
//! (`say`, `mute`, `ban`, ...), in a small ring. The recorder thread pushes
//! every entry it is handed; the dashboard's sampler copies it.

use std::collections::VecDeque;
use std::time::{SystemTime, UNIX_EPOCH};

use parking_lot::Mutex;

use super::transcript::Entry;
use crate::protocol::lines;

/// Events kept: enough to fill the page's list, few enough to copy every
/// half second without thinking about it.
pub(crate) const RECENT_CAPACITY: usize = 30;

/// What kind of room event it was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RecentKind {
    /// `* NAME joined`.
    Join,
    /// `* NAME left`, on its own or evicted (the reason says which).
    Leave,
    /// `* OLD is now known as NEW`.
    Rename,
    /// The console kicked someone.
    Kick,
    /// A client moved to another room.
    Move,
    /// The teacher did something at the console (`say`, `mute`, `ban`, ...).
    Teacher,
}

impl RecentKind {
    /// Its name in the dashboard's JSON.
    pub(crate) fn name(self) -> &'static str {
        match self {
            RecentKind::Join => "join",
            RecentKind::Leave => "leave",
            RecentKind::Rename => "rename",
            RecentKind::Kick => "kick",
            RecentKind::Move => "move",
            RecentKind::Teacher => "teacher",
        }
    }
}

/// One event as the dashboard shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RecentEvent {
    /// Counts up from 1, so a page can tell which events it has already seen.
    pub(crate) seq: u64,
    /// Wall-clock time, in milliseconds since the Unix epoch: the browser
    /// shows it in the classroom's own time zone.
    pub(crate) at_ms: u64,
    /// What happened.
    pub(crate) kind: RecentKind,
    /// Who (the old name, for a rename; `teacher` for the console).
    pub(crate) name: String,
    /// The leave or kick reason, the new name of a rename, the room of a
    /// move, the teacher's command.
    pub(crate) detail: Option<String>,
}

/// The ring of recent events, behind its own small lock: the recorder holds
/// it for one push, the sampler for one copy of thirty entries.
#[derive(Debug, Default)]
pub(crate) struct Recent {
    ring: Mutex<Ring>,
}

#[derive(Debug, Default)]
struct Ring {
    last_seq: u64,
    events: VecDeque<RecentEvent>,
}

impl Recent {
    /// Keeps `entry` if it is a join, leave, rename, move, kick or console
    /// command; chat and every other entry are ignored before any lock is
    /// taken.
    pub(crate) fn push(&self, entry: &Entry) {
        let Some((kind, name, detail)) = classify(entry) else {
            return;
        };
        let at_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        let mut ring = self.ring.lock();
        ring.last_seq += 1;
        let seq = ring.last_seq;
        if ring.events.len() == RECENT_CAPACITY {
            ring.events.pop_front();
        }
        ring.events.push_back(RecentEvent {
            seq,
            at_ms,
            kind,
            name,
            detail,
        });
    }

    /// A copy of the events kept, oldest first.
    pub(crate) fn copy(&self) -> Vec<RecentEvent> {
        self.ring.lock().events.iter().cloned().collect()
    }
}

/// What the dashboard keeps of an entry: its kind, the name, the detail.
///
/// A kick reaches the transcript as a leave whose reason is the one
/// [`lines::kick_reason`] makes (`kicked`, `kicked: REASON`). A client cannot
/// fake it: a `/quit` reason always starts with `quit: `.
fn classify(entry: &Entry) -> Option<(RecentKind, String, Option<String>)> {
    match entry {
        Entry::Join { name } => Some((RecentKind::Join, name.clone(), None)),
        Entry::Rename { from, to } => Some((RecentKind::Rename, from.clone(), Some(to.clone()))),
        Entry::Move { name, room } => Some((RecentKind::Move, name.clone(), Some(room.clone()))),
        Entry::Console { command } => {
            Some((RecentKind::Teacher, "teacher".into(), Some(command.clone())))
        }
        Entry::Leave { name, reason } => {
            let kicked = lines::kick_reason(None);
            let kicked_because = lines::kick_reason(Some(""));
            match reason.as_deref() {
                Some(r) if r == kicked => Some((RecentKind::Kick, name.clone(), None)),
                Some(r) if r.starts_with(&kicked_because) => Some((
                    RecentKind::Kick,
                    name.clone(),
                    Some(r[kicked_because.len()..].to_string()),
                )),
                _ => Some((RecentKind::Leave, name.clone(), reason.clone())),
            }
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leave(name: &str, reason: Option<&str>) -> Entry {
        Entry::Leave {
            name: name.into(),
            reason: reason.map(Into::into),
        }
    }

    #[test]
    fn keeps_room_events_and_tells_kicks_from_leaves() {
        let recent = Recent::default();
        recent.push(&Entry::Join { name: "ann".into() });
        recent.push(&Entry::Message {
            from: "ann".into(),
            text: "hi".into(),
        });
        recent.push(&Entry::Rename {
            from: "ann".into(),
            to: "anna".into(),
        });
        recent.push(&leave("sloth", Some("too slow")));
        recent.push(&leave("bob", Some(&lines::kick_reason(None))));
        recent.push(&leave("eve", Some(&lines::kick_reason(Some("spam")))));
        recent.push(&leave("zed", Some(&lines::quit_reason("kicked"))));
        recent.push(&Entry::Console {
            command: "kick bob".into(),
        });
        recent.push(&Entry::Move {
            name: "ann".into(),
            room: "lab1".into(),
        });
        let got: Vec<(u64, &str, String, Option<String>)> = recent
            .copy()
            .into_iter()
            .map(|e| (e.seq, e.kind.name(), e.name, e.detail))
            .collect();
        let want = [
            (1, "join", "ann", None),
            (2, "rename", "ann", Some("anna")),
            (3, "leave", "sloth", Some("too slow")),
            (4, "kick", "bob", None),
            (5, "kick", "eve", Some("spam")),
            (6, "leave", "zed", Some("quit: kicked")),
            (7, "teacher", "teacher", Some("kick bob")),
            (8, "move", "ann", Some("lab1")),
        ];
        let want: Vec<(u64, &str, String, Option<String>)> = want
            .into_iter()
            .map(|(seq, kind, name, detail)| (seq, kind, name.to_string(), detail.map(Into::into)))
            .collect();
        assert_eq!(got, want);
    }

    #[test]
    fn the_ring_forgets_the_oldest() {
        let recent = Recent::default();
        for i in 0..RECENT_CAPACITY + 5 {
            recent.push(&Entry::Join {
                name: format!("c{i}"),
            });
        }
        let events = recent.copy();
        assert_eq!(events.len(), RECENT_CAPACITY);
        assert_eq!(events[0].seq, 6, "the first five were dropped");
        assert_eq!(
            events[RECENT_CAPACITY - 1].name,
            format!("c{}", RECENT_CAPACITY + 4)
        );
    }
}
