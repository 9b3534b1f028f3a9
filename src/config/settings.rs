//! The settings of both binaries, with every default and every range a flag
//! accepts as a named constant, written once: the flag parser (`flags.rs`)
//! and the `--help` texts (`help.rs`) both read them from here.

use std::ops::RangeInclusive;
use std::path::PathBuf;
use std::time::Duration;

/// The port both binaries use unless told otherwise (the Node tutorial's).
pub const DEFAULT_PORT: u16 = 9000;
/// The host both binaries use unless told otherwise: loopback, so a lab machine
/// is not exposed to the network by accident.
pub const DEFAULT_HOST: &str = "127.0.0.1";
/// The default `--max-clients`: enough for any class, and at one thread
/// each, far below what a lab machine can run.
pub const DEFAULT_MAX_CLIENTS: usize = 1024;
/// The connections one address may hold when `--max-per-ip` is not given, for
/// every address but loopback (which has no limit then, so a lab running
/// hundreds of clients on one machine keeps working).
pub const DEFAULT_MAX_PER_IP: usize = 16;
/// The default `--max-line-bytes`: a long paragraph, far more than anyone types.
pub const DEFAULT_MAX_LINE_BYTES: usize = 1024;
/// The default `--write-timeout-ms`: a second, long enough for a busy
/// machine's healthy client, short enough that a stalled one is noticed.
pub const DEFAULT_WRITE_TIMEOUT_MS: u64 = 1000;
/// The default `--rate-limit`, in lines per second: faster than anyone types,
/// slower than a script that floods.
pub const DEFAULT_RATE_LIMIT: u32 = 20;
/// The default `--join-grace-ms`: half a second, time enough for a client
/// that names itself at once (`client --name`) to be announced by name.
pub const DEFAULT_JOIN_GRACE_MS: u64 = 500;
/// The default `--history`: none, so a room keeps no text unless asked to.
pub const DEFAULT_HISTORY: usize = 0;

/// The default `--sendq-bytes`, the most that may wait for one client
/// besides its room's log (its own queue: replies, private messages,
/// history): 256 KiB, like an IRC server's SendQ for users. About 1300
/// lines of 200 bytes, of which a newcomer's history takes at most half;
/// with the default 1024 clients the worst case (everyone's own queue full
/// at once) stays at 256 MiB.
pub const DEFAULT_SENDQ_BYTES: usize = 256 * 1024;

/// The default `--room-log-bytes`: 1 MiB, about 5000 lines of 200 bytes.
/// A class's whole afternoon of chat fits; a flood of 20 clients at full
/// speed fills it in a second or two, which is how far behind a client on a
/// slow link may fall before it skips ahead.
pub const DEFAULT_ROOM_LOG_BYTES: usize = 1024 * 1024;

/// The default `--logs-bytes`: 64 MiB for all rooms together, so a class
/// that opens a hundred rooms cannot make the server grow without bound.
pub const DEFAULT_LOGS_BYTES: usize = 64 * 1024 * 1024;

/// The default `--hold-secs`: a minute covers a laptop lid closed and
/// opened, a Wi-Fi that drops and comes back, a server restarted; a student
/// who is really gone is announced a minute late.
pub const DEFAULT_HOLD_SECS: u64 = 60;

/// `--hold-secs`: from a second to an hour.
pub const HOLD_SECS_RANGE: RangeInclusive<u64> = 1..=3600;

/// The default `--crowd`: 100. A class of 30 sees every join and leave as it
/// happens; a lecture hall of 3000 would otherwise get 3000 join lines each,
/// nine million lines in all (joins cost the square of the room's size).
pub const DEFAULT_CROWD: usize = 100;

/// How long the client keeps trying to reconnect after losing its
/// connection: 60 s, as long as the server holds a departed client's name
/// and session (issue 25's protocol). Past it, resuming could not work.
pub const CLIENT_LOST_WINDOW: Duration = Duration::from_secs(60);

/// How long the client keeps trying to reconnect after
/// `* server shutting down`: a restart window of 30 s, time for a teacher to
/// start the server again, short enough that a server stopped for good
/// does not keep a class's clients hanging for a minute.
pub const CLIENT_SHUTDOWN_WINDOW: Duration = Duration::from_secs(30);

/// The most bytes one event to the broadcaster can carry besides one line:
/// a reader hands on its gathered chat lines once they reach this size.
pub const MAX_EVENT_BYTES: usize = 16 * 1024;

// What each numeric flag accepts. Where the type's own limit would do, the
// range says so; elsewhere the top is set far above any real use, so that a
// number past it is a typo worth a message (and no sum overflows).

/// `--port` of the server: 0 asks the OS for a free port.
pub const SERVER_PORT_RANGE: RangeInclusive<u16> = 0..=u16::MAX;
/// `--port` of the client: port 0 cannot be connected to.
pub const CLIENT_PORT_RANGE: RangeInclusive<u16> = 1..=u16::MAX;
/// `--max-clients`, `--max-per-ip` and `--crowd`: a client is a thread, and a
/// million threads is past what one machine runs.
pub const CLIENT_COUNT_RANGE: RangeInclusive<usize> = 1..=1_000_000;
/// `--max-line-bytes`: a line is held whole while it is read; a MiB is a
/// thousand times the default.
pub const MAX_LINE_BYTES_RANGE: RangeInclusive<usize> = 1..=1024 * 1024;
/// The largest `--sendq-bytes` (the smallest depends on `--max-line-bytes`:
/// see [`ServerConfig::min_sendq_bytes`]): a GiB per client.
pub const MAX_SENDQ_BYTES: usize = 1024 * 1024 * 1024;
/// `--room-log-bytes`: at least two of the log's 64 KiB blocks (it drops
/// whole blocks), at most a GiB per room.
pub const ROOM_LOG_BYTES_RANGE: RangeInclusive<usize> = 128 * 1024..=1024 * 1024 * 1024;
/// The smallest `--room-log-bytes`.
pub const MIN_ROOM_LOG_BYTES: usize = *ROOM_LOG_BYTES_RANGE.start();
/// The largest `--logs-bytes` (the smallest is `--room-log-bytes`): 16 GiB.
pub const MAX_LOGS_BYTES: usize = 16 * 1024 * 1024 * 1024;
/// `--write-timeout-ms`: up to an hour; 0 would disconnect everyone at once
/// (`--no-write-timeout` is the way to turn it off).
pub const WRITE_TIMEOUT_MS_RANGE: RangeInclusive<u64> = 1..=3_600_000;
/// `--rate-limit`: 0 turns it off; a million lines a second is no limit at all.
pub const RATE_LIMIT_RANGE: RangeInclusive<u32> = 0..=1_000_000;
/// `--join-grace-ms`: up to a minute; a newcomer nobody is told about for
/// longer would be a ghost in the room.
pub const JOIN_GRACE_MS_RANGE: RangeInclusive<u64> = 0..=60_000;
/// `--history`: up to ten thousand lines per room.
pub const HISTORY_RANGE: RangeInclusive<usize> = 0..=10_000;
/// `--stats-every`: from every second to once a day.
pub const STATS_EVERY_SECS_RANGE: RangeInclusive<u64> = 1..=86_400;

/// How the server cuts the byte stream it reads into messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Framing {
    /// The real protocol: a message is a whole line ending in `\n`.
    #[default]
    Lines,
    /// Demo mode: relay every read chunk as it arrives, as the Node tutorial does,
    /// so students can watch messages get split and merged.
    Chunks,
}

impl Framing {
    /// Each framing by the name `--framing` takes, in the order `--help` gives them.
    pub const NAMES: [(&'static str, Framing); 2] =
        [("lines", Framing::Lines), ("chunks", Framing::Chunks)];

    /// The name `--framing` takes for this framing.
    pub fn name(self) -> &'static str {
        name_in(&Self::NAMES, self)
    }
}

/// What the server's console does with its standard input (`--console`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ConsoleMode {
    /// Read a pipe or file; read a terminal only while the server is the
    /// terminal's foreground job (where that can be told: Linux, Windows),
    /// so `server &` is never stopped by reading its terminal.
    #[default]
    Auto,
    /// Read standard input whatever it is.
    On,
    /// Never read it.
    Off,
}

impl ConsoleMode {
    /// Each mode by the name `--console` takes, in the order `--help` gives them.
    pub const NAMES: [(&'static str, ConsoleMode); 3] = [
        ("auto", ConsoleMode::Auto),
        ("on", ConsoleMode::On),
        ("off", ConsoleMode::Off),
    ];

    /// The name `--console` takes for this mode.
    pub fn name(self) -> &'static str {
        name_in(&Self::NAMES, self)
    }
}

/// The client's `--color` setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ColorChoice {
    /// Colour only on a terminal, with `NO_COLOR` unset and `TERM` not `dumb`.
    #[default]
    Auto,
    /// Colour even into a pipe or a file (for `less -R`).
    Always,
    /// Never colour.
    Never,
}

impl ColorChoice {
    /// Each choice by the name `--color` takes, in the order `--help` gives them.
    pub const NAMES: [(&'static str, ColorChoice); 3] = [
        ("auto", ColorChoice::Auto),
        ("always", ColorChoice::Always),
        ("never", ColorChoice::Never),
    ];

    /// The name `--color` takes for this choice.
    pub fn name(self) -> &'static str {
        name_in(&Self::NAMES, self)
    }
}

/// The name of `value` in a `NAMES` table.
fn name_in<T: Copy + PartialEq>(names: &[(&'static str, T)], value: T) -> &'static str {
    names
        .iter()
        .find(|(_, named)| *named == value)
        .map(|(name, _)| *name)
        .expect("every variant has a name in its NAMES table")
}

/// Everything the server can be told on its command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerConfig {
    /// Address to bind (`--host`).
    pub host: String,
    /// Port to bind (`--port`); 0 asks the OS for a free one.
    pub port: u16,
    /// Most clients connected at once (`--max-clients`).
    pub max_clients: usize,
    /// Most connections one remote address may hold at once (`--max-per-ip`).
    /// `None` is the default: [`DEFAULT_MAX_PER_IP`] for other machines and
    /// no limit for loopback, so a lab running hundreds of clients on one
    /// machine keeps working; `Some(n)` applies to every address, loopback
    /// included.
    pub max_per_ip: Option<usize>,
    /// Longest accepted line in bytes, not counting `\r\n` (`--max-line-bytes`).
    pub max_line_bytes: usize,
    /// Keep only start, stop and error lines in the log (`--quiet`).
    pub quiet: bool,
    /// How long a client's socket may take nothing while bytes wait for it
    /// before the client is evicted as too slow (`--write-timeout-ms`); a
    /// reader that sips is given four of its usual pauses instead, up to
    /// eight of these. `None` is the `--no-write-timeout` demo mode.
    pub write_timeout: Option<Duration>,
    /// Most bytes that may wait for one client besides its room's log
    /// (`--sendq-bytes`): its replies, private messages and history. A
    /// client whose queue would overflow is not reading: it is disconnected.
    pub sendq_bytes: usize,
    /// Most bytes one room's log keeps (`--room-log-bytes`): how far a
    /// client may fall behind its room before it skips ahead, and the most
    /// history a room can show.
    pub room_log_bytes: usize,
    /// Most bytes all the rooms' logs keep together (`--logs-bytes`): past
    /// it, the biggest logs forget their oldest lines first.
    pub logs_bytes: usize,
    /// Sustained lines per second per client (`--rate-limit`); 0 turns it off.
    pub rate_limit: u32,
    /// Line framing, or the chunk-relaying demo mode (`--framing`).
    pub framing: Framing,
    /// Print a statistics line on stderr this often (`--stats-every`).
    pub stats_every: Option<Duration>,
    /// Append every event as JSON lines to this file (`--transcript`).
    pub transcript: Option<PathBuf>,
    /// How long a new client may take to name itself before the others are
    /// told it joined under its address (`--join-grace-ms`): a client whose
    /// first line is `/nick NAME` is announced once, as `* NAME joined`.
    /// Zero announces every client at once, by address.
    pub join_grace: Duration,
    /// Public lines kept for newcomers, per room (`--history`); 0 keeps none.
    pub history: usize,
    /// A room of more members than this is crowded (`--crowd`): its joins
    /// and leaves are told at most once a second, in one summary line.
    pub crowd: usize,
    /// Whether the `server` binary reads console commands from its standard
    /// input (`--console`). The library reads none unless asked (see
    /// [`Server::with_stdin_console`](crate::Server::with_stdin_console)).
    pub console: ConsoleMode,
    /// Serve the live dashboard over HTTP at this `HOST:PORT` (`--dashboard`);
    /// `None` serves none. A bare port means loopback: the page shows client
    /// addresses, so it is not offered to the network unless asked.
    pub dashboard: Option<String>,
    /// The class code (`--key`): a client's first line must be `/key CODE`.
    /// `None`: anyone who reaches the port may join.
    pub key: Option<String>,
    /// Record the text of private messages in the transcript
    /// (`--record-private`); by default they are not recorded at all.
    pub record_private: bool,
    /// How long the session of a client whose connection broke is held for
    /// it to come back (`--hold-secs`): its name stays taken, the room is
    /// not told it left.
    pub hold: Duration,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            host: DEFAULT_HOST.to_string(),
            port: DEFAULT_PORT,
            max_clients: DEFAULT_MAX_CLIENTS,
            max_per_ip: None,
            max_line_bytes: DEFAULT_MAX_LINE_BYTES,
            quiet: false,
            write_timeout: Some(Duration::from_millis(DEFAULT_WRITE_TIMEOUT_MS)),
            sendq_bytes: DEFAULT_SENDQ_BYTES,
            room_log_bytes: DEFAULT_ROOM_LOG_BYTES,
            logs_bytes: DEFAULT_LOGS_BYTES,
            rate_limit: DEFAULT_RATE_LIMIT,
            framing: Framing::default(),
            stats_every: None,
            transcript: None,
            join_grace: Duration::from_millis(DEFAULT_JOIN_GRACE_MS),
            history: DEFAULT_HISTORY,
            crowd: DEFAULT_CROWD,
            console: ConsoleMode::default(),
            dashboard: None,
            key: None,
            record_private: false,
            hold: Duration::from_secs(DEFAULT_HOLD_SECS),
        }
    }
}

impl ServerConfig {
    /// The smallest `--sendq-bytes` that works with `--max-line-bytes`: room
    /// for two of the largest replies a client can be sent at once, so a
    /// client that reads is never disconnected for one long answer.
    pub fn min_sendq_bytes(&self) -> usize {
        2 * (MAX_EVENT_BYTES + self.max_line_bytes + 64)
    }

    /// The demo modes that are switched on, as short phrases for the welcome line
    /// and the start-up warning. Empty for a normal server.
    pub fn demo_modes(&self) -> Vec<&'static str> {
        let mut modes = Vec::new();
        if self.framing == Framing::Chunks {
            modes.push("chunk framing");
        }
        if self.write_timeout.is_none() {
            modes.push("no write timeout");
        }
        modes
    }
}

/// Everything the client can be told on its command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientConfig {
    /// Server host (`--host`).
    pub host: String,
    /// Server port (`--port`).
    pub port: u16,
    /// Name to ask for with `/nick` right after connecting (`--name`).
    pub name: Option<String>,
    /// When to colour what the client prints (`--color`).
    pub color: ColorChoice,
    /// The class code, sent with `/key` first thing on every connection
    /// (`--key`). Without it, the client asks for one if the server wants it.
    pub key: Option<String>,
    /// Whether to reconnect and resume by itself when the connection is lost
    /// or the server restarts; `--no-reconnect` turns it off, for a script
    /// (or a lab) that wants the exit code at once.
    pub reconnect: bool,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            host: DEFAULT_HOST.to_string(),
            port: DEFAULT_PORT,
            name: None,
            color: ColorChoice::default(),
            key: None,
            reconnect: true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_choice_has_one_name() {
        assert_eq!(Framing::default().name(), "lines");
        assert_eq!(ConsoleMode::Off.name(), "off");
        assert_eq!(ColorChoice::Always.name(), "always");
    }

    #[test]
    fn the_largest_line_still_fits_the_largest_queue() {
        let config = ServerConfig {
            max_line_bytes: *MAX_LINE_BYTES_RANGE.end(),
            ..ServerConfig::default()
        };
        assert!(config.min_sendq_bytes() <= MAX_SENDQ_BYTES);
    }
}
