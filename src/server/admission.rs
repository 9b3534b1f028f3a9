//! Who may come in: `--max-clients` for the whole room and `--max-per-ip` for
//! each remote address. The accept loop asks [`Admission::admit`] for a
//! [`Slot`]; the reader thread holds it, and gives it back by dropping it.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

use parking_lot::Mutex;

use crate::protocol::lines;

/// The per-address limit for other machines when `--max-per-ip` is not given:
/// enough for a student with a few terminals and a script, far too few to
/// fill a room. Loopback has no limit then, so a lab that runs hundreds of
/// clients on one machine keeps working.
pub(crate) const DEFAULT_MAX_PER_IP: usize = 16;

/// Why a connection was turned away.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// The room holds `--max-clients` already.
    Full(usize),
    /// This address holds its limit already.
    TooMany(IpAddr, usize),
}

impl Refusal {
    /// The one line the refused connection gets.
    pub(crate) fn line(&self) -> Vec<u8> {
        match self {
            Refusal::Full(max) => lines::server_full(*max),
            Refusal::TooMany(ip, max) => lines::too_many_from(&ip.to_string(), *max),
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

/// The places taken, in the room and per address, under one lock.
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
        let from_ip = taken.per_ip.get(&ip).copied().unwrap_or(0);
        decide(ip, taken.total, from_ip, self.max_clients, self.max_per_ip)?;
        taken.total += 1;
        *taken.per_ip.entry(ip).or_insert(0) += 1;
        Ok(Slot {
            admission: self.clone(),
            ip,
        })
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
}
