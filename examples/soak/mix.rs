//! The class: which kinds of client the soak plays, how many of each, in
//! which rooms and under which names, and the tag every chat line carries
//! (`WHO.N`), so any line can be traced to the client and the moment that
//! sent it. Pure: `main.rs` seats this class, `report.rs` describes it.

use std::fmt;

/// The rooms the healthy clients sit in, 24 each.
pub(crate) const HEALTHY_ROOMS: [&str; 3] = ["lobby", "lab1", "lab2"];
/// Rooms only misbehaving clients use: most flooders, half the sleepers
/// and slow readers.
pub(crate) const FLOOD_ROOMS: [&str; 2] = ["flood1", "flood2"];
/// Rooms the movers wander through besides the ones above.
pub(crate) const GROUP_ROOMS: [&str; 3] = ["group1", "group2", "group3"];
/// The word every line a muted client sends carries, and the room it moves
/// to while muted: nothing with this word may ever reach a healthy client.
pub(crate) const MUTED_MARK: &str = "muted-line";

/// One kind of simulated client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Kind {
    Healthy,
    Sleeper,
    SlowReader,
    Flooder,
    Resetter,
    HalfCloser,
    Mover,
    Renamer,
    Resumer,
    Moderated,
    Newcomer,
    Viewer,
    Lurker,
    /// Not one of the class: the short-lived connections of a burst.
    Burst,
}

impl Kind {
    /// Every kind, with how many of the 200 play it, in the report's order.
    pub(crate) const CLASS: [(Kind, usize); 13] = [
        (Kind::Healthy, 72),
        (Kind::Sleeper, 16),
        (Kind::SlowReader, 10),
        (Kind::Flooder, 10),
        (Kind::Resetter, 12),
        (Kind::HalfCloser, 12),
        (Kind::Mover, 12),
        (Kind::Renamer, 10),
        (Kind::Resumer, 12),
        (Kind::Moderated, 16),
        (Kind::Newcomer, 10),
        (Kind::Viewer, 4),
        (Kind::Lurker, 4),
    ];

    /// Its name in the report.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Kind::Healthy => "healthy",
            Kind::Sleeper => "sleeper",
            Kind::SlowReader => "slow reader",
            Kind::Flooder => "flooder",
            Kind::Resetter => "resetter",
            Kind::HalfCloser => "half-closer",
            Kind::Mover => "room mover",
            Kind::Renamer => "renamer",
            Kind::Resumer => "resumer",
            Kind::Moderated => "console target",
            Kind::Newcomer => "newcomer",
            Kind::Viewer => "dashboard viewer",
            Kind::Lurker => "dashboard lurker",
            Kind::Burst => "burst",
        }
    }

    /// The start of its nicknames. No two prefixes look alike to the
    /// server's look-alike rule (no `0`/`o`, `1`/`l`/`i`, `rn`, `vv`
    /// between them), and none is a reserved word.
    fn prefix(self) -> &'static str {
        match self {
            Kind::Healthy => "hea",
            Kind::Sleeper => "zzz",
            Kind::SlowReader => "slw",
            Kind::Flooder => "fld",
            Kind::Resetter => "rst",
            Kind::HalfCloser => "hcl",
            Kind::Mover => "mov",
            Kind::Renamer => "ren",
            Kind::Resumer => "rsm",
            Kind::Moderated => "mod",
            Kind::Newcomer => "new",
            Kind::Viewer => "web",
            Kind::Lurker => "lrk",
            Kind::Burst => "bst",
        }
    }

    /// What it does, for the report.
    pub(crate) fn about(self) -> &'static str {
        match self {
            Kind::Healthy => {
                "talks every 1.5 to 4.5 s in lobby, lab1 or lab2 and reads everything; \
                 every other one asks for /session, so its room lines come numbered"
            }
            Kind::Sleeper => {
                "joins (8 KiB receive buffer) and stops reading; half wake up after \
                 1 to 30 s and read for 5 to 15 s, the others end their nap after 20 to \
                 120 s with a reset or, still not reading, a half-close; evicted or not, \
                 comes back and sleeps again"
            }
            Kind::SlowReader => "reads 1 KiB every 250 ms (about 4 KB/s) through an 8 KiB buffer",
            Kind::Flooder => {
                "writes lines of 100 to 600 bytes as fast as the socket takes them \
                 (the server's rate limit holds it back); 3 of them in the healthy rooms"
            }
            Kind::Resetter => {
                "sends 1 to 80 lines at once (past the rate limit's burst), sometimes \
                 half a line, then resets the connection (RST); again and again"
            }
            Kind::HalfCloser => {
                "sends a few lines, then /quit and half-closes, or just half-closes; \
                 reads until the server closes; again and again"
            }
            Kind::Mover => "/join to another room every 1 to 4 s, talks a little",
            Kind::Renamer => "/nick to a new name every 1 to 5 s, talks and /me's a little",
            Kind::Resumer => {
                "/session, talks, resets, and within 3 s sends /resume TOKEN LAST on a \
                 new connection; one time in four it stays away past the hold"
            }
            Kind::Moderated => {
                "talks from 127.0.0.2 to 127.0.0.7; the console mutes, kicks, bans and \
                 unbans them; muted, they try every way to be heard"
            }
            Kind::Newcomer => {
                "arrives every 3 to 7 s (during bursts every 0.3 s), takes its welcome \
                 and /quit; a `server busy` must only come when descriptors ran out"
            }
            Kind::Viewer => "GET /state.json every 2 s; one of them reads /events",
            Kind::Lurker => {
                "from 127.0.0.10 to 127.0.0.13: /events streams never read and \
                 requests never finished, dropped and opened again every 20 s"
            }
            Kind::Burst => {
                "hundreds of connections at once, more than the server has \
                 descriptors for, held 3 s, then half reset, half closed"
            }
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One member of the class.
#[derive(Debug, Clone)]
pub(crate) struct Member {
    /// Its number in the whole class (0 to 199): the `WHO` of its tags.
    pub(crate) who: u32,
    pub(crate) kind: Kind,
    /// Its number among its kind.
    pub(crate) index: usize,
    /// The room it starts in (and, for most kinds, stays in).
    pub(crate) room: &'static str,
    /// The name it asks for (a renamer and a resumer vary it).
    pub(crate) name: String,
}

impl Member {
    /// A healthy client with a session gets its room lines numbered.
    pub(crate) fn has_session(&self) -> bool {
        self.kind == Kind::Healthy && self.index % 2 == 0
    }
}

/// The whole class, in `Kind::CLASS` order.
pub(crate) fn class() -> Vec<Member> {
    let mut members = Vec::new();
    for (kind, count) in Kind::CLASS {
        for index in 0..count {
            let who = members.len() as u32;
            members.push(Member {
                who,
                kind,
                index,
                room: room_of(kind, index),
                name: format!("{}{index}", kind.prefix()),
            });
        }
    }
    members
}

/// The room a member starts in.
fn room_of(kind: Kind, index: usize) -> &'static str {
    let healthy = HEALTHY_ROOMS[index % HEALTHY_ROOMS.len()];
    match kind {
        // One flooder per healthy room, the rest among themselves.
        Kind::Flooder if index < HEALTHY_ROOMS.len() => healthy,
        Kind::Flooder => FLOOD_ROOMS[index % FLOOD_ROOMS.len()],
        // Half of them where the flood is, half with the healthy.
        Kind::Sleeper | Kind::SlowReader if index % 2 == 0 => FLOOD_ROOMS[index / 2 % 2],
        Kind::Mover => all_rooms()[index % all_rooms().len()],
        Kind::Newcomer | Kind::Viewer | Kind::Lurker | Kind::Burst => "lobby",
        _ => healthy,
    }
}

/// Every room the movers go through.
pub(crate) fn all_rooms() -> Vec<&'static str> {
    HEALTHY_ROOMS
        .iter()
        .chain(FLOOD_ROOMS.iter())
        .chain(GROUP_ROOMS.iter())
        .copied()
        .collect()
}

/// How many members are of `kind`.
pub(crate) fn count(kind: Kind) -> usize {
    Kind::CLASS
        .iter()
        .find(|(k, _)| *k == kind)
        .map_or(0, |(_, n)| *n)
}

/// A chat line's tag: the sender's number in the class and the line's
/// number among the sender's lines (from 1, never reused, across all of
/// its connections).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct Tag {
    pub(crate) who: u32,
    pub(crate) n: u32,
}

impl Tag {
    /// The tag a text starts with (`17.345 words…`), if it has one.
    pub(crate) fn parse(text: &str) -> Option<Tag> {
        let word = text.split(' ').next()?;
        let (who, n) = word.split_once('.')?;
        Some(Tag {
            who: who.parse().ok()?,
            n: n.parse().ok()?,
        })
    }
}

impl fmt::Display for Tag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.who, self.n)
    }
}

/// The text of a chat line: its tag, then `words` words of filler.
pub(crate) fn line_text(tag: Tag, words: usize, rng: &mut Rng) -> String {
    const WORDS: [&str; 16] = [
        "socket", "thread", "buffer", "kernel", "packet", "window", "stream", "queue", "reader",
        "writer", "accept", "listen", "flush", "frame", "byte", "line",
    ];
    let mut text = tag.to_string();
    for _ in 0..words {
        text.push(' ');
        text.push_str(WORDS[rng.below(WORDS.len())]);
    }
    text
}

/// A small deterministic random source (SplitMix64), one per client, so a
/// run can be repeated with the same `--seed`. No crate needed for this.
#[derive(Debug, Clone)]
pub(crate) struct Rng(u64);

impl Rng {
    /// The source for client `who` in a run seeded with `seed`.
    pub(crate) fn new(seed: u64, who: u32) -> Rng {
        Rng(seed ^ (u64::from(who) + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15))
    }

    pub(crate) fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n`.
    pub(crate) fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    /// A number in `low..=high`.
    pub(crate) fn between(&mut self, low: u64, high: u64) -> u64 {
        low + self.next() % (high - low + 1)
    }

    /// True once in `n` times.
    pub(crate) fn one_in(&mut self, n: usize) -> bool {
        self.below(n) == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chatroom::protocol::{is_reserved, is_valid_name, skeleton};
    use std::collections::HashSet;

    /// The class is 200, and every name it asks for (a renamer's too) is
    /// valid, not reserved, and unlike every other to the look-alike rule.
    #[test]
    fn the_class_is_two_hundred_distinct_names() {
        let class = class();
        assert_eq!(class.len(), 200);
        let mut names: Vec<String> = class.iter().map(|m| m.name.clone()).collect();
        for m in class.iter().filter(|m| m.kind == Kind::Renamer) {
            names.extend((1..200).map(|j| format!("{}v{j}", m.name)));
        }
        let mut skeletons = HashSet::new();
        for name in &names {
            assert!(is_valid_name(name) && !is_reserved(name), "{name}");
            assert!(
                skeletons.insert(skeleton(name)),
                "{name} looks like another"
            );
        }
    }

    /// A tag is the first word of a text, and `line_text` puts it there.
    #[test]
    fn a_tag_is_the_first_word() {
        assert_eq!(
            Tag::parse("17.345 socket thread"),
            Some(Tag { who: 17, n: 345 })
        );
        assert_eq!(Tag::parse("17.345"), Some(Tag { who: 17, n: 345 }));
        for not in ["soak bulletin 3", "/17.3 x", "17 3", "joined", ""] {
            assert_eq!(Tag::parse(not), None, "{not}");
        }
        let mut rng = Rng::new(1, 2);
        let tag = Tag { who: 3, n: 4 };
        assert_eq!(Tag::parse(&line_text(tag, 5, &mut rng)), Some(tag));
    }
}
