//! The client's exit codes, in one place: one per way a session can end, so
//! a script (or a lab) can tell "you quit" from "the connection was lost".
//! `--help` (`config::CLIENT_USAGE`) and the README list the same table.

use super::ending::Ending;
use super::error::ClientError;

/// The `client` binary's exit status.
///
/// | code | meaning |
/// |---|---|
/// | 0 | you quit: `/quit`, Ctrl-D, Ctrl-C, the end of the input (plain mode), SIGTERM |
/// | 1 | cannot connect, or cannot write to the terminal or the output |
/// | 2 | usage: a bad flag or value |
/// | 3 | the connection was lost (closed without a goodbye, or reset), and the client could not resume within 60 s (at once with `--no-reconnect`, or against a server without sessions) |
/// | 4 | the server shut down (`* server shutting down`) and did not come back within 30 s (at once, likewise) |
/// | 5 | the server sent you away: kicked, banned, a wrong class code, or refused (server full or busy, too many connections from your address) |
///
/// In plain mode, Ctrl-C is left to the terminal: it ends the program at
/// once, and the shell reports the signal (130), as for any program.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// 0: you quit.
    Quit = 0,
    /// 1: cannot connect, or an I/O error on this side.
    Error = 1,
    /// 2: bad flags.
    Usage = 2,
    /// 3: the connection was lost, and not resumed.
    Lost = 3,
    /// 4: the server shut down, and did not come back.
    ServerShutdown = 4,
    /// 5: kicked, banned, a wrong code, or refused by the server.
    SentAway = 5,
}

impl Exit {
    /// Every code, in order.
    pub const ALL: [Exit; 6] = [
        Exit::Quit,
        Exit::Error,
        Exit::Usage,
        Exit::Lost,
        Exit::ServerShutdown,
        Exit::SentAway,
    ];

    /// The number the process exits with.
    pub fn code(self) -> i32 {
        self as i32
    }

    /// The code for how a session ended.
    pub fn of(ending: &Ending) -> Exit {
        match ending {
            Ending::Quit => Exit::Quit,
            Ending::ServerShutdown => Exit::ServerShutdown,
            Ending::SentAway(_) | Ending::Refused(_) => Exit::SentAway,
            Ending::Lost(_) => Exit::Lost,
        }
    }

    /// The code for what [`super::run`] or [`super::run_interactive`] returned.
    pub fn of_result(result: &Result<Ending, ClientError>) -> Exit {
        match result {
            Ok(ending) => Exit::of(ending),
            Err(_) => Exit::Error,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::CLIENT_USAGE;

    #[test]
    fn codes_are_distinct_and_in_order() {
        for (i, exit) in Exit::ALL.iter().enumerate() {
            assert_eq!(exit.code(), i as i32);
        }
    }

    /// `--help` lists every code with its meaning.
    #[test]
    fn help_lists_every_code() {
        let usage = CLIENT_USAGE.to_string();
        let listed: Vec<i32> = usage
            .lines()
            .skip_while(|l| !l.starts_with("Exit codes:"))
            .skip(1)
            .map_while(|l| l.split_whitespace().next()?.parse().ok())
            .collect();
        let all: Vec<i32> = Exit::ALL.iter().map(|e| e.code()).collect();
        assert_eq!(listed, all, "{usage}");
    }
}
