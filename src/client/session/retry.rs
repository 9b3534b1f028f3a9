//! Whether to reconnect after a connection ends, how long to wait before
//! each attempt, and how long to go on trying. Pure: endings in, decisions
//! out; `outage.rs` follows one outage by them, for the session machine.

use std::time::Duration;

use crate::client::ending::Ending;
use crate::config::{CLIENT_LOST_WINDOW, CLIENT_SHUTDOWN_WINDOW};

/// The wait before the first attempt: short, since most drops are a blip,
/// yet not zero, so a server that closes every connection at once is not
/// hammered in a tight loop.
pub(crate) const FIRST_DELAY: Duration = Duration::from_millis(250);

/// The longest wait between attempts. Doubling from [`FIRST_DELAY`] reaches
/// it at the fifth attempt (0.25, 0.5, 1, 2, 4 s); a class of 30 clients
/// waiting for a restarted server then knocks about 8 times a second in all,
/// and each client is back within 4 s of the server.
pub(crate) const MAX_DELAY: Duration = Duration::from_secs(4);

/// Why the client is reconnecting: it decides how long it tries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cause {
    /// The connection ended without a goodbye (a reset, a silent close).
    Lost,
    /// The server said `* server shutting down`: it may be restarting.
    Shutdown,
}

impl Cause {
    /// Whether an established session's connection that ended this way is
    /// worth reconnecting: after a loss or a shutdown, never after you quit
    /// or the server sent you away. (A refusal ends a first connection for
    /// good too: the client was never in.)
    pub(crate) fn of(ending: &Ending) -> Option<Cause> {
        match ending {
            Ending::Lost(_) => Some(Cause::Lost),
            Ending::ServerShutdown => Some(Cause::Shutdown),
            Ending::Quit | Ending::SentAway(_) | Ending::Refused(_) => None,
        }
    }

    /// How long the client keeps trying: as long as the server holds the
    /// session after a loss, a restart window after a shutdown.
    pub(crate) fn window(self) -> Duration {
        match self {
            Cause::Lost => CLIENT_LOST_WINDOW,
            Cause::Shutdown => CLIENT_SHUTDOWN_WINDOW,
        }
    }

    /// How the session ends when the client gives up (its exit code is the
    /// cause's: 3 for a loss, 4 for a shutdown).
    pub(crate) fn ending(self) -> Ending {
        match self {
            Cause::Lost => Ending::Lost(None),
            Cause::Shutdown => Ending::ServerShutdown,
        }
    }
}

/// Whether an attempt made while reconnecting, that ended this way, is
/// worth another: yes unless you quit or the server sent you away for good.
/// A full or busy server, or one that closes at once, may be a restarting
/// one.
pub(crate) fn try_again_after(ending: &Ending) -> bool {
    !matches!(ending, Ending::Quit | Ending::SentAway(_))
}

/// The wait before the next attempt after `failures` failed ones (the loss
/// itself counts as the first): 0.25 s, doubling, at most [`MAX_DELAY`].
pub(crate) fn delay(failures: u32) -> Duration {
    let doubled = FIRST_DELAY.saturating_mul(1u32 << failures.min(16));
    doubled.min(MAX_DELAY)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io;

    #[test]
    fn the_backoff_doubles_from_a_quarter_second_to_four() {
        let waits: Vec<u128> = (0..8).map(|n| delay(n).as_millis()).collect();
        assert_eq!(waits, [250, 500, 1000, 2000, 4000, 4000, 4000, 4000]);
        assert_eq!(delay(u32::MAX), MAX_DELAY);
    }

    #[test]
    fn only_a_loss_or_a_shutdown_reconnects() {
        let lost = Ending::Lost(Some(io::Error::from(io::ErrorKind::ConnectionReset)));
        assert_eq!(Cause::of(&lost), Some(Cause::Lost));
        assert_eq!(Cause::of(&Ending::Lost(None)), Some(Cause::Lost));
        assert_eq!(Cause::of(&Ending::ServerShutdown), Some(Cause::Shutdown));
        for ending in [
            Ending::Quit,
            Ending::SentAway("kicked by the server".into()),
            Ending::SentAway("banned from this server for 10 min".into()),
            Ending::SentAway("wrong code".into()),
            Ending::Refused("server full (30 clients), try again later".into()),
        ] {
            assert_eq!(Cause::of(&ending), None, "{ending}");
        }
    }

    #[test]
    fn while_reconnecting_only_quitting_or_being_sent_away_stops() {
        assert!(try_again_after(&Ending::Lost(None)));
        assert!(try_again_after(&Ending::ServerShutdown));
        assert!(try_again_after(&Ending::Refused("server busy".into())));
        assert!(!try_again_after(&Ending::Quit));
        assert!(!try_again_after(&Ending::SentAway("wrong code".into())));
    }

    #[test]
    fn giving_up_keeps_the_causes_exit_code() {
        assert!(matches!(Cause::Lost.ending(), Ending::Lost(None)));
        assert!(matches!(Cause::Shutdown.ending(), Ending::ServerShutdown));
    }
}
