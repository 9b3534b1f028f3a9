//! Who may come in: `--max-clients` for the whole room, `--max-per-ip` for
//! each remote address, and the addresses the teacher banned (the console's
//! `ban`). The accept loop asks [`Admission::admit`] for a [`Slot`]; the
//! reader thread holds it, and gives it back by dropping it.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use crate::config::DEFAULT_MAX_PER_IP;
use crate::protocol::lines;

/// Why a connection was turned away.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// The room holds `--max-clients` already.
    Full(usize),
    /// This address holds its limit already.
    TooMany(IpAddr, usize),
    /// The teacher banned this address; the ban runs this much longer.
    Banned(Duration),
    /// This address gave too many wrong class codes; refused this much longer.
    WrongCodes(Duration),
}

impl Refusal {
    /// The one line the refused connection gets.
    pub(crate) fn line(&self) -> Vec<u8> {
        match self {
            Refusal::Full(max) => lines::server_full(*max),
            Refusal::TooMany(ip, max) => lines::too_many_from(&ip.to_string(), *max),
            Refusal::Banned(left) => lines::banned(lines::minutes_left(*left)),
            Refusal::WrongCodes(left) => lines::too_many_wrong_codes(lines::minutes_left(*left)),
        }
    }
}

/// The limit for one address: `--max-per-ip` if given (for every address),
/// else [`DEFAULT_MAX_PER_IP`] for other machines and none for loopback.
pub(crate) fn limit_for(ip: IpAddr, max_per_ip: Option<usize>) -> Option<usize> {
    match max_per_ip {
        Some(max) => Some(max),
        None if ip.is_loopback() => None,
        None => Some(DEFAULT_MAX_PER_IP),
    }
}

/// The decision, pure: may one more connection come in, given how many the
/// room and this address hold?
pub(crate) fn decide(
    ip: IpAddr,
    in_room: usize,
    from_ip: usize,
    max_clients: usize,
    max_per_ip: Option<usize>,
) -> Result<(), Refusal> {
    if in_room >= max_clients {
        return Err(Refusal::Full(max_clients));
    }
    match limit_for(ip, max_per_ip) {
        Some(max) if from_ip >= max => Err(Refusal::TooMany(ip, max)),
        _ => Ok(()),
    }
}

/// Wrong class codes one address may give in [`STRIKE_WINDOW`] before each
/// costs it a pause; the pause grows a second each time, up to five.
const FREE_STRIKES: u32 = 3;
/// Wrong codes in [`STRIKE_WINDOW`] after which the address is refused for
/// [`STRIKE_REFUSAL`]: at a five-second pause each, guessing is hopeless
/// long before, and a student who mistyped has had plenty of tries.
const MAX_STRIKES: u32 = 10;
const STRIKE_WINDOW: Duration = Duration::from_secs(10 * 60);
const STRIKE_REFUSAL: Duration = Duration::from_secs(10 * 60);
/// The name a refusal for wrong codes is listed under.
const WRONG_CODES: &str = "(wrong codes)";

/// What one more wrong code costs an address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Strike {
    /// Wait this long before the answer (zero for the first few).
    Slow(Duration),
    /// Refused from now on, for this long.
    Refused(Duration),
}

/// Wrong codes an address gave since `first`.
#[derive(Debug, Clone, Copy)]
struct Strikes {
    count: u32,
    first: Instant,
}

/// An address the teacher banned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Ban {
    /// The address.
    pub(crate) ip: IpAddr,
    /// The name the client had when it was banned (for `unban NAME`).
    pub(crate) name: String,
    /// When the ban ends.
    pub(crate) until: Instant,
}

/// The places taken, in the room and per address, and the bans, under one
/// lock (the accept loop takes it once per connection; the console to ban).
#[derive(Debug)]
pub(crate) struct Admission {
    max_clients: usize,
    max_per_ip: Option<usize>,
    taken: Mutex<Taken>,
}

#[derive(Debug, Default)]
struct Taken {
    total: usize,
    per_ip: HashMap<IpAddr, usize>,
    /// Bans that may still run; one that has run out is dropped when seen.
    bans: Vec<Ban>,
    /// Wrong class codes per address, in the current window.
    strikes: HashMap<IpAddr, Strikes>,
}

/// One place in the room, held for as long as the connection's reader runs;
/// dropping it gives the place back.
#[derive(Debug)]
pub(crate) struct Slot {
    admission: Arc<Admission>,
    ip: IpAddr,
}

impl Admission {
    /// Places for `max_clients`, at most `max_per_ip` per address (see [`limit_for`]).
    pub(crate) fn new(max_clients: usize, max_per_ip: Option<usize>) -> Admission {
        Admission {
            max_clients,
            max_per_ip,
            taken: Mutex::default(),
        }
    }

    /// Takes a place for a connection from `ip`.
    ///
    /// # Errors
    /// The room or this address is full.
    pub(crate) fn admit(self: &Arc<Self>, ip: IpAddr) -> Result<Slot, Refusal> {
        let mut taken = self.taken.lock();
        let now = Instant::now();
        taken.bans.retain(|ban| ban.until > now);
        if let Some(ban) = taken.bans.iter().find(|ban| ban.ip == ip) {
            let left = ban.until - now;
            if ban.name == WRONG_CODES {
                return Err(Refusal::WrongCodes(left));
            }
            return Err(Refusal::Banned(left));
        }
        let from_ip = taken.per_ip.get(&ip).copied().unwrap_or(0);
        decide(ip, taken.total, from_ip, self.max_clients, self.max_per_ip)?;
        taken.total += 1;
        *taken.per_ip.entry(ip).or_insert(0) += 1;
        Ok(Slot {
            admission: self.clone(),
            ip,
        })
    }

    /// Bans `ip` (the client called `name`) until `until`, replacing any
    /// ban of that address.
    pub(crate) fn ban(&self, ip: IpAddr, name: &str, until: Instant) {
        let mut taken = self.taken.lock();
        taken.bans.retain(|ban| ban.ip != ip);
        taken.bans.push(Ban {
            ip,
            name: name.to_string(),
            until,
        });
    }

    /// Lifts the ban of the address written `who`, or of the client that
    /// was called `who` (ignoring case). Returns the ban lifted.
    pub(crate) fn unban(&self, who: &str) -> Option<Ban> {
        let mut taken = self.taken.lock();
        let now = Instant::now();
        taken.bans.retain(|ban| ban.until > now);
        let index = taken
            .bans
            .iter()
            .position(|ban| ban.ip.to_string() == who || ban.name.eq_ignore_ascii_case(who))?;
        Some(taken.bans.remove(index))
    }

    /// Counts a wrong class code from `ip`: the first few cost nothing, the
    /// next a growing pause, and too many get the address refused.
    pub(crate) fn wrong_code(&self, ip: IpAddr) -> Strike {
        let mut taken = self.taken.lock();
        let now = Instant::now();
        let strikes = taken.strikes.entry(ip).or_insert(Strikes {
            count: 0,
            first: now,
        });
        if now.duration_since(strikes.first) > STRIKE_WINDOW {
            *strikes = Strikes {
                count: 0,
                first: now,
            };
        }
        strikes.count += 1;
        let count = strikes.count;
        if count < MAX_STRIKES {
            let pause = count.saturating_sub(FREE_STRIKES).min(5);
            return Strike::Slow(Duration::from_secs(u64::from(pause)));
        }
        taken.strikes.remove(&ip);
        taken.bans.retain(|ban| ban.ip != ip);
        taken.bans.push(Ban {
            ip,
            name: WRONG_CODES.to_string(),
            until: now + STRIKE_REFUSAL,
        });
        Strike::Refused(STRIKE_REFUSAL)
    }

    /// The bans that still run, oldest first.
    pub(crate) fn bans(&self) -> Vec<Ban> {
        let mut taken = self.taken.lock();
        let now = Instant::now();
        taken.bans.retain(|ban| ban.until > now);
        taken.bans.clone()
    }

    /// Places taken now.
    #[cfg(test)]
    fn taken(&self) -> usize {
        self.taken.lock().total
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut taken = self.admission.taken.lock();
        taken.total -= 1;
        if let Some(count) = taken.per_ip.get_mut(&self.ip) {
            *count -= 1;
            if *count == 0 {
                // Forget the address, so the map holds only those connected.
                taken.per_ip.remove(&self.ip);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    const LOOPBACK: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
    const REMOTE: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 7));

    #[test]
    fn loopback_is_unlimited_unless_a_limit_is_given() {
        assert_eq!(limit_for(LOOPBACK, None), None);
        assert_eq!(limit_for(REMOTE, None), Some(DEFAULT_MAX_PER_IP));
        assert_eq!(limit_for(LOOPBACK, Some(3)), Some(3));
        assert_eq!(decide(LOOPBACK, 0, 5000, 10_000, None), Ok(()));
        assert_eq!(
            decide(REMOTE, 0, 16, 10_000, None),
            Err(Refusal::TooMany(REMOTE, 16))
        );
        assert_eq!(decide(REMOTE, 10, 0, 10, None), Err(Refusal::Full(10)));
    }

    #[test]
    fn places_are_given_back_when_dropped() {
        let admission = Arc::new(Admission::new(3, Some(2)));
        let a = admission.admit(LOOPBACK).expect("first");
        let _b = admission.admit(LOOPBACK).expect("second");
        assert_eq!(
            admission.admit(LOOPBACK).map(|_| ()),
            Err(Refusal::TooMany(LOOPBACK, 2))
        );
        let _c = admission.admit(REMOTE).expect("another address");
        assert_eq!(admission.admit(REMOTE).map(|_| ()), Err(Refusal::Full(3)));
        drop(a);
        assert_eq!(admission.taken(), 2);
        let _d = admission.admit(LOOPBACK).expect("a place given back");
        assert_eq!(
            String::from_utf8(Refusal::TooMany(REMOTE, 16).line()).unwrap(),
            "! too many connections from 192.0.2.7 (max 16)\n"
        );
    }

    #[test]
    fn wrong_codes_cost_more_and_more_then_refuse_the_address() {
        let admission = Arc::new(Admission::new(10, None));
        let pauses: Vec<Strike> = (0..MAX_STRIKES)
            .map(|_| admission.wrong_code(REMOTE))
            .collect();
        assert_eq!(pauses[0], Strike::Slow(Duration::ZERO));
        assert_eq!(pauses[2], Strike::Slow(Duration::ZERO));
        assert_eq!(pauses[3], Strike::Slow(Duration::from_secs(1)));
        assert_eq!(pauses[8], Strike::Slow(Duration::from_secs(5)));
        assert_eq!(pauses[9], Strike::Refused(STRIKE_REFUSAL));
        assert!(matches!(
            admission.admit(REMOTE),
            Err(Refusal::WrongCodes(_))
        ));
        assert!(admission.admit(LOOPBACK).is_ok(), "only that address");
        assert_eq!(
            String::from_utf8(Refusal::WrongCodes(STRIKE_REFUSAL).line()).unwrap(),
            "! too many wrong codes, try again in 10 min\n"
        );
    }

    #[test]
    fn a_banned_address_is_refused_until_the_ban_ends_or_is_lifted() {
        let admission = Arc::new(Admission::new(10, None));
        let later = Instant::now() + Duration::from_secs(600);
        admission.ban(REMOTE, "bob", later);
        match admission.admit(REMOTE) {
            Err(Refusal::Banned(left)) => assert!(left > Duration::from_secs(590)),
            other => panic!("{other:?}"),
        }
        assert!(admission.admit(LOOPBACK).is_ok(), "other addresses come in");
        assert_eq!(admission.bans().len(), 1);
        assert!(admission.unban("nobody").is_none());
        assert_eq!(admission.unban("BOB").map(|b| b.ip), Some(REMOTE));
        assert!(admission.admit(REMOTE).is_ok(), "lifted");
        admission.ban(REMOTE, "bob", Instant::now());
        assert!(admission.admit(REMOTE).is_ok(), "a ban that ran out");
        assert!(admission.bans().is_empty());
    }
}
