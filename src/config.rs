//! Settings for both binaries: their defaults, the `--help` texts, and one small
//! hand-written flag parser (no dependency needed for a dozen flags).

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

/// The port both binaries use unless told otherwise (the Node tutorial's).
pub const DEFAULT_PORT: u16 = 9000;
/// The host both binaries use unless told otherwise: loopback, so a lab machine
/// is not exposed to the network by accident.
pub const DEFAULT_HOST: &str = "127.0.0.1";

/// How the server cuts the byte stream it reads into messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// The real protocol: a message is a whole line ending in `\n`.
    Lines,
    /// Demo mode: relay every read chunk as it arrives, as the Node tutorial does,
    /// so students can watch messages get split and merged.
    Chunks,
}

/// What the server's console does with its standard input (`--console`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConsoleMode {
    /// Read a pipe or file; read a terminal only while the server is the
    /// terminal's foreground job (where that can be told: Linux, Windows),
    /// so `server &` is never stopped by reading its terminal.
    Auto,
    /// Read standard input whatever it is.
    On,
    /// Never read it.
    Off,
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
    /// `None` is the default: 16 for other machines and no limit for loopback,
    /// so a lab running hundreds of clients on one machine keeps working;
    /// `Some(n)` applies to every address, loopback included.
    pub max_per_ip: Option<usize>,
    /// Longest accepted line in bytes, not counting `\r\n` (`--max-line-bytes`).
    pub max_line_bytes: usize,
    /// Keep only start, stop and error lines in the log (`--quiet`).
    pub quiet: bool,
    /// Deadline for one pending write to one client (`--write-timeout-ms`);
    /// `None` is the `--no-write-timeout` demo mode.
    pub write_timeout: Option<Duration>,
    /// Most bytes that may wait for one client (`--sendq-bytes`): its send
    /// queue. A client whose queue would overflow is disconnected.
    pub sendq_bytes: usize,
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
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            host: DEFAULT_HOST.to_string(),
            port: DEFAULT_PORT,
            max_clients: 1024,
            max_per_ip: None,
            max_line_bytes: 1024,
            quiet: false,
            write_timeout: Some(Duration::from_millis(1000)),
            sendq_bytes: DEFAULT_SENDQ_BYTES,
            rate_limit: 20,
            framing: Framing::Lines,
            stats_every: None,
            transcript: None,
            join_grace: Duration::from_millis(500),
            history: 0,
            crowd: DEFAULT_CROWD,
            console: ConsoleMode::Auto,
            dashboard: None,
        }
    }
}

/// The default send queue per client: 256 KiB, like an IRC server's SendQ for
/// users. It absorbs about 1300 lines of 200 bytes, several seconds of a busy
/// room, so a client that pauses briefly catches up; and with the default
/// 1024 clients the worst case (everyone stalled at once) stays at 256 MiB.
pub const DEFAULT_SENDQ_BYTES: usize = 256 * 1024;

/// The default `--crowd`: 100. A class of 30 sees every join and leave as it
/// happens; a lecture hall of 3000 would otherwise get 3000 join lines each,
/// nine million lines in all (joins cost the square of the room's size).
pub const DEFAULT_CROWD: usize = 100;

/// The most bytes one event to the broadcaster can carry besides one line:
/// a reader hands on its gathered chat lines once they reach this size.
pub const MAX_EVENT_BYTES: usize = 16 * 1024;

impl ServerConfig {
    /// The smallest `--sendq-bytes` that works with `--max-line-bytes`: room
    /// for four of the largest events, so a client that is reading is never
    /// disconnected for one big batch (the broadcaster writes a batch out at
    /// a quarter of the queue, and waits for a client over half of it).
    pub fn min_sendq_bytes(&self) -> usize {
        4 * (MAX_EVENT_BYTES + self.max_line_bytes + 64)
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
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            host: DEFAULT_HOST.to_string(),
            port: DEFAULT_PORT,
            name: None,
            color: ColorChoice::Auto,
        }
    }
}

/// The client's `--color` setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColorChoice {
    /// Colour only on a terminal, with `NO_COLOR` unset and `TERM` not `dumb`.
    Auto,
    /// Colour even into a pipe or a file (for `less -R`).
    Always,
    /// Never colour.
    Never,
}

/// What a command line asks for.
#[derive(Debug, PartialEq, Eq)]
pub enum Parsed<T> {
    /// Run with these settings.
    Run(T),
    /// Print the usage text and exit 0.
    Help,
    /// Print the version and exit 0.
    Version,
}

/// A command-line mistake, worded for the user; the binaries print it with the
/// usage and exit 2.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError(pub String);

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConfigError {}

/// `--help` text of the server.
pub const SERVER_USAGE: &str = "\
Usage: server [OPTIONS]

A multi-client TCP chat room: every line a client sends goes to all the others.

Options:
  --host HOST              address to listen on [default: 127.0.0.1]
                           (use 0.0.0.0 to let a whole classroom in)
  --port PORT              port to listen on, 0 picks a free one [default: 9000]
  --max-clients N          most clients connected at once [default: 1024]
  --max-per-ip N           most connections from one address [default: 16,
                           loopback unlimited]; given, it applies to loopback too
  --max-line-bytes N       longest line accepted, in bytes [default: 1024]
  --write-timeout-ms MS    a client that cannot take a write within MS
                           milliseconds is disconnected [default: 1000]
  --sendq-bytes N          most bytes waiting to be written to one client;
                           a client that falls further behind is
                           disconnected [default: 262144]
  --rate-limit N           lines per second per client, sustained; bursts of
                           50 lines (or 2 s worth) pass at once; 0 = off
                           [default: 20]
  --join-grace-ms MS       how long a new client may take to name itself
                           (/nick) before the others are told it joined under
                           its address; 0 = at once [default: 500]
  --history N              show newcomers the last N chat lines and actions
                           of their room [default: 0, none]
  --crowd N                in a room of more than N, joins and leaves are
                           summed up once a second [default: 100]
  --console MODE           teacher's commands (who, say, kick, mute, ...) on
                           standard input: auto reads a pipe, or a terminal
                           while the server is in the foreground; on; off
                           [default: auto]
  --stats-every SECONDS    log a statistics line every SECONDS
  --transcript FILE        append every event to FILE as JSON lines
  --dashboard [HOST:]PORT  serve a live dashboard of the room over HTTP at
                           http://HOST:PORT/ (read-only) [host: 127.0.0.1]
  --quiet                  log only start, stop and errors
  -h, --help               print this help
  -V, --version            print the version

Demo modes (off by default; they switch a defence off so a lab can watch it fail):
  --framing chunks         relay raw read chunks like the Node tutorial, instead
                           of whole lines [default: lines]
  --no-write-timeout       plain blocking writes: one stalled client freezes
                           the whole room
";

/// `--help` text of the client.
pub const CLIENT_USAGE: &str = "\
Usage: client [OPTIONS]

Connects to a chat server: sends what you type, prints what others say.
On a terminal (Unix), you type on an input line that incoming messages never
disturb: arrows, Home/End, Backspace/Delete, Alt-b/Alt-f or Ctrl-Left/Right
(a word), Alt-d and Alt-Backspace (delete a word), Ctrl-W, Ctrl-U, Up/Down for
the lines you sent; Tab completes /commands and names (Tab again: the next);
Ctrl-L redraws; Enter sends; Ctrl-D on an empty line or Ctrl-C quits (a line
not sent stays on the screen). Ctrl-Z suspends as usual.
Otherwise (pipes, files, Windows) it reads and prints plain lines; status
lines go to stderr, so `client < in.txt > out.txt` keeps only the chat.

Options:
  --host HOST      server address [default: 127.0.0.1]
  --port PORT      server port [default: 9000]
  --name NAME      ask for this name with /nick right after connecting
  --color WHEN     colour names, notices and errors: auto, always or never;
                   auto colours the terminal mode, unless NO_COLOR is set
                   or TERM is dumb [default: auto]
  -h, --help       print this help
  -V, --version    print the version

Exit codes:
  0  you quit: /quit, Ctrl-D, Ctrl-C, or the end of the input
  1  cannot connect, or cannot write to the terminal or the output
  2  bad flags
  3  the connection was lost (closed without a goodbye, or reset)
  4  the server shut down
  5  the server sent you away (kicked, full, busy, too many connections)
";

/// Walks `--flag value` and `--flag=value` arguments.
struct Flags<I: Iterator<Item = String>> {
    args: I,
}

impl<I: Iterator<Item = String>> Flags<I> {
    /// The next flag and, if it was written `--flag=value`, its inline value.
    fn next_flag(&mut self) -> Option<(String, Option<String>)> {
        let arg = self.args.next()?;
        match arg.split_once('=') {
            Some((flag, value)) if flag.starts_with("--") => {
                Some((flag.to_string(), Some(value.to_string())))
            }
            _ => Some((arg, None)),
        }
    }

    fn value(&mut self, flag: &str, inline: Option<String>) -> Result<String, ConfigError> {
        inline
            .or_else(|| self.args.next())
            .ok_or_else(|| ConfigError(format!("{flag} needs a value")))
    }

    fn number<T: std::str::FromStr>(
        &mut self,
        flag: &str,
        inline: Option<String>,
    ) -> Result<T, ConfigError> {
        let text = self.value(flag, inline)?;
        text.parse()
            .map_err(|_| ConfigError(format!("{flag}: '{text}' is not a valid number")))
    }
}

fn no_value(flag: &str, inline: &Option<String>) -> Result<(), ConfigError> {
    match inline {
        Some(_) => Err(ConfigError(format!("{flag} takes no value"))),
        None => Ok(()),
    }
}

/// Parses the server's arguments (without the program name).
///
/// # Errors
/// An unknown flag, a missing value or a value out of range.
pub fn parse_server_args(
    args: impl IntoIterator<Item = String>,
) -> Result<Parsed<ServerConfig>, ConfigError> {
    let mut config = ServerConfig::default();
    let mut flags = Flags {
        args: args.into_iter(),
    };
    while let Some((flag, inline)) = flags.next_flag() {
        match flag.as_str() {
            "-h" | "--help" => return Ok(Parsed::Help),
            "-V" | "--version" => return Ok(Parsed::Version),
            "--host" => config.host = flags.value(&flag, inline)?,
            "--port" => config.port = flags.number(&flag, inline)?,
            "--max-clients" => config.max_clients = positive(&flag, flags.number(&flag, inline)?)?,
            "--max-per-ip" => {
                config.max_per_ip = Some(positive(&flag, flags.number(&flag, inline)?)?)
            }
            "--max-line-bytes" => {
                config.max_line_bytes = positive(&flag, flags.number(&flag, inline)?)?
            }
            "--write-timeout-ms" => {
                let ms: u64 = positive(&flag, flags.number(&flag, inline)?)?;
                config.write_timeout = Some(Duration::from_millis(ms));
            }
            "--no-write-timeout" => {
                no_value(&flag, &inline)?;
                config.write_timeout = None;
            }
            "--sendq-bytes" => config.sendq_bytes = flags.number(&flag, inline)?,
            "--rate-limit" => config.rate_limit = flags.number(&flag, inline)?,
            "--stats-every" => {
                let secs: u64 = positive(&flag, flags.number(&flag, inline)?)?;
                config.stats_every = Some(Duration::from_secs(secs));
            }
            "--transcript" => config.transcript = Some(flags.value(&flag, inline)?.into()),
            "--history" => config.history = flags.number(&flag, inline)?,
            "--crowd" => config.crowd = positive(&flag, flags.number(&flag, inline)?)?,
            "--dashboard" => config.dashboard = Some(dashboard_addr(&flags.value(&flag, inline)?)?),
            "--console" => {
                config.console = match flags.value(&flag, inline)?.as_str() {
                    "auto" => ConsoleMode::Auto,
                    "on" => ConsoleMode::On,
                    "off" => ConsoleMode::Off,
                    other => {
                        return Err(ConfigError(format!(
                            "--console: '{other}' is not 'auto', 'on' or 'off'"
                        )))
                    }
                }
            }
            "--join-grace-ms" => {
                let ms: u64 = flags.number(&flag, inline)?;
                config.join_grace = Duration::from_millis(ms);
            }
            "--framing" => {
                config.framing = match flags.value(&flag, inline)?.as_str() {
                    "lines" => Framing::Lines,
                    "chunks" => Framing::Chunks,
                    other => {
                        return Err(ConfigError(format!(
                            "--framing: '{other}' is not 'lines' or 'chunks'"
                        )))
                    }
                }
            }
            "--quiet" => {
                no_value(&flag, &inline)?;
                config.quiet = true;
            }
            other => return Err(ConfigError(format!("unknown option '{other}'"))),
        }
    }
    if config.sendq_bytes < config.min_sendq_bytes() {
        return Err(ConfigError(format!(
            "--sendq-bytes must be at least {} with --max-line-bytes {}",
            config.min_sendq_bytes(),
            config.max_line_bytes
        )));
    }
    Ok(Parsed::Run(config))
}

/// Parses the client's arguments (without the program name).
///
/// # Errors
/// An unknown flag or a missing or malformed value.
pub fn parse_client_args(
    args: impl IntoIterator<Item = String>,
) -> Result<Parsed<ClientConfig>, ConfigError> {
    let mut config = ClientConfig::default();
    let mut flags = Flags {
        args: args.into_iter(),
    };
    while let Some((flag, inline)) = flags.next_flag() {
        match flag.as_str() {
            "-h" | "--help" => return Ok(Parsed::Help),
            "-V" | "--version" => return Ok(Parsed::Version),
            "--host" => config.host = flags.value(&flag, inline)?,
            "--port" => config.port = flags.number(&flag, inline)?,
            "--name" => config.name = Some(flags.value(&flag, inline)?),
            "--color" => {
                config.color = match flags.value(&flag, inline)?.as_str() {
                    "auto" => ColorChoice::Auto,
                    "always" => ColorChoice::Always,
                    "never" => ColorChoice::Never,
                    other => {
                        return Err(ConfigError(format!(
                            "--color: '{other}' is not 'auto', 'always' or 'never'"
                        )))
                    }
                }
            }
            other => return Err(ConfigError(format!("unknown option '{other}'"))),
        }
    }
    Ok(Parsed::Run(config))
}

/// `--dashboard`'s value as an address to bind: a bare port is on loopback,
/// `HOST:PORT` (`[::1]:PORT` for IPv6) is taken as given.
///
/// # Errors
/// The port is missing or not a number.
pub fn dashboard_addr(value: &str) -> Result<String, ConfigError> {
    let bad = || ConfigError(format!("--dashboard: '{value}' is not a PORT or HOST:PORT"));
    if value.parse::<u16>().is_ok() {
        return Ok(format!("{DEFAULT_HOST}:{value}"));
    }
    match value.rsplit_once(':') {
        Some((host, port)) if !host.is_empty() && port.parse::<u16>().is_ok() => {
            Ok(value.to_string())
        }
        _ => Err(bad()),
    }
}

fn positive<T: PartialOrd + Default>(flag: &str, value: T) -> Result<T, ConfigError> {
    if value > T::default() {
        Ok(value)
    } else {
        Err(ConfigError(format!("{flag} must be at least 1")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server(args: &[&str]) -> Result<Parsed<ServerConfig>, ConfigError> {
        parse_server_args(args.iter().map(|s| s.to_string()))
    }

    #[test]
    fn defaults_match_the_documentation() {
        let Ok(Parsed::Run(c)) = server(&[]) else {
            panic!("no flags must parse")
        };
        assert_eq!((c.host.as_str(), c.port), ("127.0.0.1", 9000));
        assert_eq!(
            (c.max_clients, c.max_line_bytes, c.rate_limit),
            (1024, 1024, 20)
        );
        assert_eq!(c.write_timeout, Some(Duration::from_millis(1000)));
        assert!(c.demo_modes().is_empty());
    }

    #[test]
    fn both_flag_spellings_work() {
        let Ok(Parsed::Run(c)) = server(&["--port", "0", "--max-clients=3", "--framing=chunks"])
        else {
            panic!("valid flags must parse")
        };
        assert_eq!((c.port, c.max_clients), (0, 3));
        assert_eq!(c.demo_modes(), ["chunk framing"]);
    }

    #[test]
    fn mistakes_are_named() {
        assert_eq!(
            server(&["--bogus"]).unwrap_err().0,
            "unknown option '--bogus'"
        );
        assert_eq!(server(&["--port"]).unwrap_err().0, "--port needs a value");
        assert!(server(&["--port", "99999"])
            .unwrap_err()
            .0
            .contains("not a valid number"));
        assert!(server(&["--max-clients", "0"])
            .unwrap_err()
            .0
            .contains("at least 1"));
        assert!(server(&["--sendq-bytes", "1000"])
            .unwrap_err()
            .0
            .contains("--sendq-bytes must be at least 69888"));
        assert!(server(&["--quiet=yes"])
            .unwrap_err()
            .0
            .contains("takes no value"));
    }

    #[test]
    fn max_per_ip_is_unset_unless_given() {
        let Ok(Parsed::Run(c)) = server(&[]) else {
            panic!("no flags must parse")
        };
        assert_eq!(c.max_per_ip, None);
        let Ok(Parsed::Run(c)) = server(&["--max-per-ip", "4"]) else {
            panic!("a valid --max-per-ip must parse")
        };
        assert_eq!(c.max_per_ip, Some(4));
        assert!(server(&["--max-per-ip=0"])
            .unwrap_err()
            .0
            .contains("at least 1"));
    }

    #[test]
    fn dashboard_defaults_to_loopback() {
        let dashboard = |args: &[&str]| match server(args) {
            Ok(Parsed::Run(c)) => Ok(c.dashboard),
            Ok(other) => panic!("{other:?}"),
            Err(e) => Err(e.0),
        };
        assert_eq!(dashboard(&[]), Ok(None));
        assert_eq!(
            dashboard(&["--dashboard", "8080"]),
            Ok(Some("127.0.0.1:8080".to_string()))
        );
        assert_eq!(
            dashboard(&["--dashboard=0.0.0.0:8080"]),
            Ok(Some("0.0.0.0:8080".to_string()))
        );
        assert_eq!(
            dashboard(&["--dashboard", "[::1]:0"]),
            Ok(Some("[::1]:0".to_string()))
        );
        for bad in ["", "web", "host:", ":80", "80000", "host:port"] {
            assert!(
                dashboard(&["--dashboard", bad])
                    .unwrap_err()
                    .contains("is not a PORT or HOST:PORT"),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn client_color_flag() {
        let client = |args: &[&str]| parse_client_args(args.iter().map(|s| s.to_string()));
        let Ok(Parsed::Run(c)) = client(&[]) else {
            panic!("no flags must parse")
        };
        assert_eq!(c.color, ColorChoice::Auto);
        let Ok(Parsed::Run(c)) = client(&["--color=never", "--name", "ann"]) else {
            panic!("valid flags must parse")
        };
        assert_eq!(
            (c.color, c.name.as_deref()),
            (ColorChoice::Never, Some("ann"))
        );
        assert!(client(&["--color", "red"]).unwrap_err().0.contains("'red'"));
    }

    #[test]
    fn help_and_version_win() {
        assert_eq!(server(&["--help"]).unwrap(), Parsed::Help);
        assert_eq!(
            parse_client_args(["-V".to_string()]).unwrap(),
            Parsed::Version
        );
    }
}
