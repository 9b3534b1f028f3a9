//! Who holds the dashboard's connection places, and whom a newcomer
//! displaces when none is free. Pure: `mod.rs` keeps the sockets, asks
//! [`Places`] what to do, and shuts down the connections it names.
//!
//! The rule, in a sentence: a newcomer is never refused; to make room it
//! displaces a connection that already has its whole answer if there is
//! one, or else one of whichever address holds the most places (its own, if
//! it is at its limit), choosing the one least likely to be a browser that
//! is still reading.

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// Most dashboard connections open at once, one thread each. A projector
/// needs two (the page, then its event stream); a class that opens the page
/// on every laptop needs about one per student. 64 covers a class of 30
/// twice over and costs at most 64 small threads. Reaching it never turns
/// anyone away: it only decides who is displaced ([`Places::admit`]).
pub(crate) const MAX_CONNECTIONS: usize = 64;

/// Most places one address may hold. A browser opens at most six
/// connections to one server (Chromium's and Firefox's limit for HTTP/1.1),
/// and a teacher with the page in two tabs holds two streams; eight leaves
/// room for that and means an attacker needs eight addresses (see
/// [`Origin`]) to fill [`MAX_CONNECTIONS`], and even then a newcomer from a
/// ninth displaces one of theirs. Smaller would cut a teacher's extra tabs
/// off; larger lets one address crowd out more of the others.
pub(crate) const MAX_PER_ADDRESS: usize = 8;

/// A stream whose socket has held bytes its browser has not acknowledged at
/// every sample for this long has stopped reading, and is dropped. The
/// kernel's tables are read every 500 ms, just before the next snapshot
/// goes out, so a reading browser has had half a second to take the last
/// one; a browser on a slow link takes a few kilobytes in far less. Two
/// seconds is the same grace as the write timeout. It is a time, not a
/// count of samples, so a machine too busy to sample on time does not
/// stretch it.
pub(crate) const BEHIND_FOR: Duration = Duration::from_secs(2);

/// One dashboard connection, numbered in the order they were accepted (so
/// a smaller number is an older connection).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct ConnId(pub(crate) u64);

/// Where connections count as coming from one place: an IPv4 address, or
/// the /64 network of an IPv6 address, since a machine given a /64 may use
/// any address in it without asking anyone. An IPv4 client of a dual-stack
/// listener (`::ffff:a.b.c.d`) counts as its IPv4 address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct Origin(IpAddr);

impl Origin {
    /// The origin of a connection from `ip`.
    pub(crate) fn of(ip: IpAddr) -> Origin {
        match ip.to_canonical() {
            IpAddr::V6(v6) => {
                let bits = u128::from(v6) & !((1u128 << 64) - 1);
                Origin(IpAddr::V6(bits.into()))
            }
            v4 => Origin(v4),
        }
    }
}

/// What a connection is doing, which decides how readily it is displaced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    /// Reading the request head. A browser sends it at once, so one still
    /// unfinished is the likeliest to be hostile.
    Head,
    /// Writing one answer (the page, a snapshot, a refusal): over in
    /// moments, and displacing it would break a page load.
    Answer,
    /// The answer is written; waiting (a second at most) for the browser to
    /// close, so that closing first does not reset the connection. Nothing
    /// is lost by closing it now.
    Answered,
    /// Streaming `/events`, for as long as the browser stays.
    Stream,
}

#[derive(Debug)]
struct Place {
    origin: Origin,
    phase: Phase,
    /// The first of the samples in a row at which this stream had bytes
    /// unacknowledged (`None`: it had none at the last one).
    behind_since: Option<Instant>,
}

impl Place {
    /// The order in which places are given up: a connection already
    /// answered first, then an unfinished request, then a stream that has
    /// fallen behind, then one that keeps up, and an answer in progress last.
    fn rank(&self) -> u8 {
        match self.phase {
            Phase::Answered => 0,
            Phase::Head => 1,
            Phase::Stream if self.behind_since.is_some() => 2,
            Phase::Stream => 3,
            Phase::Answer => 4,
        }
    }
}

/// The places held, by connection.
#[derive(Debug, Default)]
pub(crate) struct Places {
    /// Ordered by id, so by age.
    held: BTreeMap<ConnId, Place>,
}

impl Places {
    /// Gives connection `id` from `origin` a place, in [`Phase::Head`],
    /// and returns the connection it displaced, if one had to go: the
    /// caller closes that one. Nobody is displaced while `origin` is under
    /// [`MAX_PER_ADDRESS`] and the total under [`MAX_CONNECTIONS`].
    pub(crate) fn admit(&mut self, id: ConnId, origin: Origin) -> Option<ConnId> {
        let displaced = self.victim_for(origin);
        if let Some(victim) = displaced {
            self.held.remove(&victim);
        }
        self.held.insert(
            id,
            Place {
                origin,
                phase: Phase::Head,
                behind_since: None,
            },
        );
        displaced
    }

    /// Who makes room for a newcomer from `origin`, if anyone must.
    ///
    /// At its own limit, the newcomer's address gives up one of its own.
    /// When the whole table is full, a connection that already has its
    /// answer goes first, whoever holds it: it costs nobody anything. Else
    /// the address holding the most places gives one up, counting the
    /// newcomer's as if it were already in, and the newcomer's own on a
    /// tie: so an address with fewer places than another can always get in,
    /// and nobody can take a place back from an address that holds fewer
    /// than it does. Refusing the newcomer instead (the 503 this replaced)
    /// let whoever came first hold the dashboard.
    fn victim_for(&self, origin: Origin) -> Option<ConnId> {
        let mut counts: HashMap<Origin, usize> = HashMap::new();
        for place in self.held.values() {
            *counts.entry(place.origin).or_default() += 1;
        }
        let own = counts.get(&origin).copied().unwrap_or(0);
        let from: Vec<Origin> = if own >= MAX_PER_ADDRESS {
            vec![origin]
        } else if self.held.len() < MAX_CONNECTIONS {
            return None;
        } else if let Some((&done, _)) = self
            .held
            .iter()
            .find(|(_, place)| place.phase == Phase::Answered)
        {
            return Some(done);
        } else {
            let most = counts
                .iter()
                .filter(|&(&o, _)| o != origin)
                .map(|(_, &n)| n)
                .max()
                .unwrap_or(0);
            if own > 0 && own + 1 >= most {
                vec![origin]
            } else {
                counts
                    .iter()
                    .filter(|&(&o, &n)| o != origin && n == most)
                    .map(|(&o, _)| o)
                    .collect()
            }
        };
        self.held
            .iter()
            .filter(|(_, place)| from.contains(&place.origin))
            .min_by_key(|&(&id, place)| (place.rank(), id))
            .map(|(&id, _)| id)
    }

    /// Connection `id` moved on to `phase` (nothing if it was displaced).
    pub(crate) fn set_phase(&mut self, id: ConnId, phase: Phase) {
        if let Some(place) = self.held.get_mut(&id) {
            place.phase = phase;
        }
    }

    /// Connection `id` ended and gives its place back (if it still had one).
    pub(crate) fn leave(&mut self, id: ConnId) {
        self.held.remove(&id);
    }

    /// How many places are held.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.held.len()
    }

    /// After a reading of the kernel's tables taken at `now`: `unacked` says
    /// how many bytes each stream's socket holds that its browser has not
    /// acknowledged (`None` if the socket is not in the table). Returns the
    /// streams that have been behind at every sample for [`BEHIND_FOR`], and
    /// forgets them: the caller closes them.
    pub(crate) fn note_lag(
        &mut self,
        now: Instant,
        unacked: impl Fn(ConnId) -> Option<u64>,
    ) -> Vec<ConnId> {
        let mut dropped = Vec::new();
        for (&id, place) in self.held.iter_mut() {
            if place.phase != Phase::Stream {
                continue;
            }
            if unacked(id).is_some_and(|bytes| bytes > 0) {
                let since = *place.behind_since.get_or_insert(now);
                if now.saturating_duration_since(since) >= BEHIND_FOR {
                    dropped.push(id);
                }
            } else {
                place.behind_since = None;
            }
        }
        for id in &dropped {
            self.held.remove(id);
        }
        dropped
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    fn v4(last: u8) -> Origin {
        Origin::of(IpAddr::V4(Ipv4Addr::new(10, 0, 0, last)))
    }

    /// Fills places from `origin` with ids `first..first + n`, checking
    /// nobody was displaced.
    fn fill(places: &mut Places, origin: Origin, first: u64, n: u64) {
        for id in first..first + n {
            assert_eq!(places.admit(ConnId(id), origin), None, "id {id}");
        }
    }

    #[test]
    fn ipv6_counts_by_its_64_and_mapped_ipv4_as_ipv4() {
        let a: Ipv6Addr = "2001:db8:1:2::10".parse().unwrap();
        let b: Ipv6Addr = "2001:db8:1:2:ffff::99".parse().unwrap();
        let c: Ipv6Addr = "2001:db8:1:3::10".parse().unwrap();
        assert_eq!(Origin::of(a.into()), Origin::of(b.into()));
        assert_ne!(Origin::of(a.into()), Origin::of(c.into()));
        let mapped: Ipv6Addr = "::ffff:10.0.0.7".parse().unwrap();
        assert_eq!(Origin::of(mapped.into()), v4(7));
        assert_ne!(v4(7), v4(8));
    }

    #[test]
    fn an_address_at_its_limit_gives_up_its_own_oldest_unfinished_request() {
        let mut places = Places::default();
        fill(&mut places, v4(1), 1, MAX_PER_ADDRESS as u64);
        places.set_phase(ConnId(1), Phase::Stream);
        places.set_phase(ConnId(2), Phase::Answer);
        // 3 is the oldest still reading its head.
        assert_eq!(places.admit(ConnId(100), v4(1)), Some(ConnId(3)));
        assert_eq!(places.len(), MAX_PER_ADDRESS);
        // Another address is not touched, and displaces nobody.
        assert_eq!(places.admit(ConnId(101), v4(2)), None);
    }

    #[test]
    fn streams_go_behind_ones_first_then_the_oldest_and_answers_last() {
        let mut places = Places::default();
        fill(&mut places, v4(1), 1, MAX_PER_ADDRESS as u64);
        for id in 1..=MAX_PER_ADDRESS as u64 {
            places.set_phase(ConnId(id), Phase::Stream);
        }
        places.set_phase(ConnId(1), Phase::Answer);
        // 5 has bytes unacknowledged: it goes before older streams.
        let dropped = places.note_lag(Instant::now(), |id| {
            Some(if id == ConnId(5) { 300 } else { 0 })
        });
        assert!(dropped.is_empty());
        assert_eq!(places.admit(ConnId(100), v4(1)), Some(ConnId(5)));
        places.set_phase(ConnId(100), Phase::Stream);
        // Then the oldest stream; the answer (1) stays.
        assert_eq!(places.admit(ConnId(101), v4(1)), Some(ConnId(2)));
    }

    #[test]
    fn an_answered_connection_goes_first_whoever_holds_it() {
        let mut places = Places::default();
        fill(&mut places, v4(1), 1, 1);
        places.set_phase(ConnId(1), Phase::Answered);
        // Addresses 2 to 8 hold eight places each, address 9 seven.
        for a in 0..7u8 {
            fill(&mut places, v4(a + 2), 2 + u64::from(a) * 8, 8);
        }
        fill(&mut places, v4(9), 58, 7);
        assert_eq!(places.len(), MAX_CONNECTIONS);
        // Address 1 holds the fewest places, yet its answered connection
        // goes, not an unfinished request of one of the biggest holders.
        assert_eq!(places.admit(ConnId(100), v4(10)), Some(ConnId(1)));
        // At its own limit, an address gives up its own, answered first.
        places.set_phase(ConnId(2), Phase::Stream);
        places.set_phase(ConnId(3), Phase::Answered);
        assert_eq!(places.admit(ConnId(101), v4(2)), Some(ConnId(3)));
    }

    #[test]
    fn a_full_table_makes_the_biggest_holder_give_way() {
        let mut places = Places::default();
        // Eight addresses at their limit fill the table.
        for a in 0..8u8 {
            let first = 1 + u64::from(a) * 8;
            fill(&mut places, v4(a + 1), first, 8);
            for id in first..first + 8 {
                places.set_phase(ConnId(id), Phase::Stream);
            }
        }
        assert_eq!(places.len(), MAX_CONNECTIONS);
        // A browser from a ninth address gets in: the oldest stream of the
        // biggest holders goes.
        assert_eq!(places.admit(ConnId(200), v4(9)), Some(ConnId(1)));
        // Its second connection gets in too (1 + 1 is still fewer than 8).
        assert_eq!(places.admit(ConnId(201), v4(9)), Some(ConnId(9)));
        // Address 1, now at 7, cannot take its place back from the others:
        // with its newcomer it would hold 8, as many as the biggest.
        assert_eq!(places.admit(ConnId(202), v4(1)), Some(ConnId(2)));
        assert_eq!(places.len(), MAX_CONNECTIONS);
    }

    #[test]
    fn among_equal_holders_an_unfinished_request_goes_first() {
        let mut places = Places::default();
        for id in 1..=MAX_CONNECTIONS as u64 {
            fill(&mut places, v4(id as u8), id, 1);
            places.set_phase(ConnId(id), Phase::Stream);
        }
        // Sixty-four addresses with one place each; 40 is still unfinished.
        places.set_phase(ConnId(40), Phase::Head);
        let newcomer = Origin::of(IpAddr::V4(Ipv4Addr::new(10, 0, 1, 1)));
        assert_eq!(places.admit(ConnId(100), newcomer), Some(ConnId(40)));
        places.set_phase(ConnId(100), Phase::Stream);
        // With no unfinished request left, the oldest stream goes.
        let another = Origin::of(IpAddr::V4(Ipv4Addr::new(10, 0, 1, 2)));
        assert_eq!(places.admit(ConnId(101), another), Some(ConnId(1)));
    }

    #[test]
    fn a_stream_behind_at_every_sample_for_two_seconds_is_dropped() {
        let mut places = Places::default();
        fill(&mut places, v4(1), 1, 3);
        places.set_phase(ConnId(1), Phase::Stream);
        places.set_phase(ConnId(2), Phase::Stream);
        // 3 is still reading its head: a kernel queue says nothing about it.
        let lagging = |id: ConnId| Some(if id == ConnId(2) { 0 } else { 4096 });
        let start = Instant::now();
        let at = |ms: u64| start + Duration::from_millis(ms);
        for ms in [0, 500, 1000, 1500] {
            assert!(places.note_lag(at(ms), lagging).is_empty(), "{ms} ms");
        }
        // One sample that caught up starts the time again.
        assert!(places.note_lag(at(2000), |_| Some(0)).is_empty());
        for ms in [2500, 3000, 3500, 4000] {
            assert!(places.note_lag(at(ms), lagging).is_empty(), "{ms} ms");
        }
        assert_eq!(places.note_lag(at(4500), lagging), vec![ConnId(1)]);
        assert_eq!(places.len(), 2);
        // Slow samples do not stretch the grace: the first one 2 s on drops.
        places.set_phase(ConnId(2), Phase::Stream);
        let behind = |_| Some(100);
        assert!(places.note_lag(at(10_000), behind).is_empty());
        assert_eq!(places.note_lag(at(12_100), behind), vec![ConnId(2)]);
        // A socket missing from the table is not counted as behind.
        fill(&mut places, v4(1), 4, 1);
        places.set_phase(ConnId(4), Phase::Stream);
        for s in 20..30 {
            assert!(places.note_lag(at(s * 1000), |_| None).is_empty());
        }
    }

    #[test]
    fn leaving_and_late_phase_changes() {
        let mut places = Places::default();
        fill(&mut places, v4(1), 1, 2);
        places.leave(ConnId(1));
        places.leave(ConnId(1));
        places.set_phase(ConnId(1), Phase::Stream);
        assert_eq!(places.len(), 1);
    }
}
