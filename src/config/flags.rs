//! The flag parser of both binaries: `--flag value` and `--flag=value`, each
//! value checked against its range in `settings.rs`. Hand-written, since a
//! dozen flags need no dependency; `bin/server.rs` and `bin/client.rs` call it.

use std::fmt;
use std::fmt::Display;
use std::ops::RangeInclusive;
use std::str::FromStr;
use std::time::Duration;

use super::settings::{
    ClientConfig, ColorChoice, ConsoleMode, Framing, ServerConfig, CLIENT_COUNT_RANGE,
    CLIENT_PORT_RANGE, DEFAULT_HOST, HISTORY_RANGE, HOLD_SECS_RANGE, JOIN_GRACE_MS_RANGE,
    MAX_LINE_BYTES_RANGE, MAX_LOGS_BYTES, MAX_SENDQ_BYTES, RATE_LIMIT_RANGE, ROOM_LOG_BYTES_RANGE,
    SERVER_PORT_RANGE, STATS_EVERY_SECS_RANGE, WRITE_TIMEOUT_MS_RANGE,
};

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

/// A command-line mistake, worded for the user in one line; the binaries
/// print it with a pointer to `--help` and exit 2.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError(pub String);

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConfigError {}

/// Parses the server's arguments (without the program name).
///
/// # Errors
/// An unknown flag, a missing value, or a value that is not one the flag
/// takes (a number out of its range, a name not in its list).
pub fn parse_server_args(
    args: impl IntoIterator<Item = String>,
) -> Result<Parsed<ServerConfig>, ConfigError> {
    let mut config = ServerConfig::default();
    let mut args = Args(args.into_iter());
    while let Some(flag) = args.next_flag() {
        match flag.name.as_str() {
            "-h" | "--help" => return Ok(Parsed::Help),
            "-V" | "--version" => return Ok(Parsed::Version),
            "--host" => config.host = args.value(&flag)?,
            "--port" => config.port = args.number(&flag, SERVER_PORT_RANGE)?,
            "--max-clients" => config.max_clients = args.number(&flag, CLIENT_COUNT_RANGE)?,
            "--max-per-ip" => config.max_per_ip = Some(args.number(&flag, CLIENT_COUNT_RANGE)?),
            "--max-line-bytes" => {
                config.max_line_bytes = args.number(&flag, MAX_LINE_BYTES_RANGE)?;
            }
            "--write-timeout-ms" => {
                let ms = args.number(&flag, WRITE_TIMEOUT_MS_RANGE)?;
                config.write_timeout = Some(Duration::from_millis(ms));
            }
            "--no-write-timeout" => {
                flag.no_value()?;
                config.write_timeout = None;
            }
            // Its smallest value depends on --max-line-bytes, which may come
            // later: checked once every flag is read.
            "--sendq-bytes" => config.sendq_bytes = args.number(&flag, 0..=MAX_SENDQ_BYTES)?,
            "--room-log-bytes" => {
                config.room_log_bytes = args.number(&flag, ROOM_LOG_BYTES_RANGE)?;
            }
            // Its smallest value is --room-log-bytes: checked at the end too.
            "--logs-bytes" => config.logs_bytes = args.number(&flag, 0..=MAX_LOGS_BYTES)?,
            "--rate-limit" => config.rate_limit = args.number(&flag, RATE_LIMIT_RANGE)?,
            "--stats-every" => {
                let secs = args.number(&flag, STATS_EVERY_SECS_RANGE)?;
                config.stats_every = Some(Duration::from_secs(secs));
            }
            "--transcript" => config.transcript = Some(args.value(&flag)?.into()),
            "--history" => config.history = args.number(&flag, HISTORY_RANGE)?,
            "--crowd" => config.crowd = args.number(&flag, CLIENT_COUNT_RANGE)?,
            "--dashboard" => config.dashboard = Some(dashboard_addr(&args.value(&flag)?)?),
            "--console" => config.console = args.choice(&flag, &ConsoleMode::NAMES)?,
            "--join-grace-ms" => {
                let ms = args.number(&flag, JOIN_GRACE_MS_RANGE)?;
                config.join_grace = Duration::from_millis(ms);
            }
            "--framing" => config.framing = args.choice(&flag, &Framing::NAMES)?,
            "--key" => config.key = Some(args.value(&flag)?),
            "--hold-secs" => {
                let secs = args.number(&flag, HOLD_SECS_RANGE)?;
                config.hold = Duration::from_secs(secs);
            }
            "--record-private" => {
                flag.no_value()?;
                config.record_private = true;
            }
            "--quiet" => {
                flag.no_value()?;
                config.quiet = true;
            }
            other => return Err(ConfigError(format!("unknown option '{other}'"))),
        }
    }
    let least = config.min_sendq_bytes();
    if config.sendq_bytes < least {
        return Err(ConfigError(format!(
            "--sendq-bytes: '{}' is not a number from {least} to {MAX_SENDQ_BYTES} \
             (with --max-line-bytes {})",
            config.sendq_bytes, config.max_line_bytes
        )));
    }
    if config.logs_bytes < config.room_log_bytes {
        return Err(ConfigError(format!(
            "--logs-bytes: '{}' is not a number from {} to {MAX_LOGS_BYTES} \
             (with --room-log-bytes {})",
            config.logs_bytes, config.room_log_bytes, config.room_log_bytes
        )));
    }
    Ok(Parsed::Run(config))
}

/// Parses the client's arguments (without the program name).
///
/// # Errors
/// An unknown flag, a missing value, or a value the flag does not take.
pub fn parse_client_args(
    args: impl IntoIterator<Item = String>,
) -> Result<Parsed<ClientConfig>, ConfigError> {
    let mut config = ClientConfig::default();
    let mut args = Args(args.into_iter());
    while let Some(flag) = args.next_flag() {
        match flag.name.as_str() {
            "-h" | "--help" => return Ok(Parsed::Help),
            "-V" | "--version" => return Ok(Parsed::Version),
            "--host" => config.host = args.value(&flag)?,
            "--port" => config.port = args.number(&flag, CLIENT_PORT_RANGE)?,
            "--name" => config.name = Some(args.value(&flag)?),
            "--color" => config.color = args.choice(&flag, &ColorChoice::NAMES)?,
            "--key" => config.key = Some(key(&flag, args.value(&flag)?)?),
            "--no-reconnect" => {
                flag.no_value()?;
                config.reconnect = false;
            }
            other => return Err(ConfigError(format!("unknown option '{other}'"))),
        }
    }
    Ok(Parsed::Run(config))
}

/// `--key`'s value, checked: it goes on the wire as `/key CODE`, one line,
/// so it cannot be empty or hold a space or a control character (the server
/// would read a different code, or none).
fn key(flag: &Flag, value: String) -> Result<String, ConfigError> {
    if value.is_empty() || value.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(ConfigError(format!(
            "{}: '{value}' is not a class code (one word, no spaces)",
            flag.name
        )));
    }
    Ok(value)
}

/// `--dashboard`'s value as an address to bind: a bare port is on loopback,
/// `HOST:PORT` (`[::1]:PORT` for IPv6) is taken as given.
///
/// # Errors
/// The port is missing or not a number from 0 to 65535.
pub fn dashboard_addr(value: &str) -> Result<String, ConfigError> {
    if value.parse::<u16>().is_ok() {
        return Ok(format!("{DEFAULT_HOST}:{value}"));
    }
    match value.rsplit_once(':') {
        Some((host, port)) if !host.is_empty() && port.parse::<u16>().is_ok() => {
            Ok(value.to_string())
        }
        _ => Err(ConfigError(format!(
            "--dashboard: '{value}' is not a PORT or HOST:PORT (a port is a number from 0 to {})",
            u16::MAX
        ))),
    }
}

/// One flag as written: its name, and its value when it came as `--flag=value`.
#[derive(Debug)]
struct Flag {
    name: String,
    inline: Option<String>,
}

impl Flag {
    /// Refuses `--quiet=yes`: a switch takes no value.
    fn no_value(&self) -> Result<(), ConfigError> {
        match self.inline {
            Some(_) => Err(ConfigError(format!("{} takes no value", self.name))),
            None => Ok(()),
        }
    }
}

/// The arguments still to be read.
#[derive(Debug)]
struct Args<I: Iterator<Item = String>>(I);

impl<I: Iterator<Item = String>> Args<I> {
    /// The next flag, split at its first `=` if it is written `--flag=value`.
    fn next_flag(&mut self) -> Option<Flag> {
        let arg = self.0.next()?;
        Some(match arg.split_once('=') {
            Some((name, value)) if name.starts_with("--") => Flag {
                name: name.to_string(),
                inline: Some(value.to_string()),
            },
            _ => Flag {
                name: arg,
                inline: None,
            },
        })
    }

    /// The flag's value: the text after its `=`, or else the next argument,
    /// unless that looks like a flag itself. `--host --port 9` is then a
    /// mistake named at once, rather than a host called `--port` that fails
    /// later in a way nobody can follow. A value that really starts with `-`
    /// can still be given as `--flag=-value`.
    fn value(&mut self, flag: &Flag) -> Result<String, ConfigError> {
        if let Some(value) = &flag.inline {
            return Ok(value.clone());
        }
        match self.0.next() {
            None => Err(ConfigError(format!("{} needs a value", flag.name))),
            Some(next) if next.starts_with('-') && next.len() > 1 => Err(ConfigError(format!(
                "{} needs a value, not '{next}' (a value that starts with '-' \
                 is written {}=VALUE)",
                flag.name, flag.name
            ))),
            Some(value) => Ok(value),
        }
    }

    /// The flag's value as a number within `range`; a mistake names the range.
    fn number<T>(&mut self, flag: &Flag, range: RangeInclusive<T>) -> Result<T, ConfigError>
    where
        T: FromStr + PartialOrd + Display,
    {
        let text = self.value(flag)?;
        match text.parse::<T>() {
            Ok(number) if range.contains(&number) => Ok(number),
            _ => Err(ConfigError(format!(
                "{}: '{text}' is not a number from {} to {}",
                flag.name,
                range.start(),
                range.end()
            ))),
        }
    }

    /// The flag's value as one of `names`; a mistake lists them.
    fn choice<T: Copy>(&mut self, flag: &Flag, names: &[(&str, T)]) -> Result<T, ConfigError> {
        let text = self.value(flag)?;
        match names.iter().find(|(name, _)| *name == text) {
            Some((_, value)) => Ok(*value),
            None => {
                let quoted: Vec<String> =
                    names.iter().map(|(name, _)| format!("'{name}'")).collect();
                let (last, rest) = quoted.split_last().expect("a choice has names");
                Err(ConfigError(format!(
                    "{}: '{text}' is not {} or {last}",
                    flag.name,
                    rest.join(", ")
                )))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::settings::DEFAULT_PORT;

    fn server(args: &[&str]) -> Result<Parsed<ServerConfig>, ConfigError> {
        parse_server_args(args.iter().map(|s| s.to_string()))
    }

    fn client(args: &[&str]) -> Result<Parsed<ClientConfig>, ConfigError> {
        parse_client_args(args.iter().map(|s| s.to_string()))
    }

    fn server_error(args: &[&str]) -> String {
        server(args).expect_err("a mistake").0
    }

    #[test]
    fn no_flags_give_the_defaults() {
        assert_eq!(server(&[]), Ok(Parsed::Run(ServerConfig::default())));
        assert_eq!(client(&[]), Ok(Parsed::Run(ClientConfig::default())));
        let Ok(Parsed::Run(c)) = server(&[]) else {
            panic!("no flags must parse")
        };
        assert_eq!((c.host.as_str(), c.port), ("127.0.0.1", DEFAULT_PORT));
        assert!(c.demo_modes().is_empty());
        assert_eq!(c.max_per_ip, None);
    }

    #[test]
    fn both_flag_spellings_work() {
        let Ok(Parsed::Run(c)) = server(&["--port", "0", "--max-clients=3", "--framing=chunks"])
        else {
            panic!("valid flags must parse")
        };
        assert_eq!((c.port, c.max_clients), (0, 3));
        assert_eq!(c.demo_modes(), ["chunk framing"]);
        let Ok(Parsed::Run(c)) = server(&["--max-per-ip", "4", "--console=off"]) else {
            panic!("valid flags must parse")
        };
        assert_eq!((c.max_per_ip, c.console), (Some(4), ConsoleMode::Off));
    }

    #[test]
    fn mistakes_are_named_in_one_line() {
        assert_eq!(server_error(&["--bogus"]), "unknown option '--bogus'");
        assert_eq!(server_error(&["--port"]), "--port needs a value");
        assert_eq!(server_error(&["--quiet=yes"]), "--quiet takes no value");
        assert_eq!(
            server_error(&["--framing", "words"]),
            "--framing: 'words' is not 'lines' or 'chunks'"
        );
        assert_eq!(
            server_error(&["--console", "maybe"]),
            "--console: 'maybe' is not 'auto', 'on' or 'off'"
        );
    }

    #[test]
    fn a_flag_is_not_a_value() {
        assert_eq!(
            server_error(&["--host", "--port", "9"]),
            "--host needs a value, not '--port' \
             (a value that starts with '-' is written --host=VALUE)"
        );
        assert!(server_error(&["--port", "-1"]).contains("not '-1'"));
        assert!(client(&["--name", "-h"]).is_err());
        // Written with `=`, the value is taken as given.
        let Ok(Parsed::Run(c)) = server(&["--host=-odd", "--transcript", "-"]) else {
            panic!("an explicit value and a lone '-' are values")
        };
        assert_eq!(c.host, "-odd");
        assert!(server_error(&["--port=-1"]).contains("is not a number from 0 to 65535"));
    }

    #[test]
    fn out_of_range_numbers_name_their_range() {
        for (args, message) in [
            (
                &["--port", "99999"][..],
                "--port: '99999' is not a number from 0 to 65535",
            ),
            (
                &["--max-clients", "0"],
                "--max-clients: '0' is not a number from 1 to 1000000",
            ),
            (
                &["--max-per-ip=0"],
                "--max-per-ip: '0' is not a number from 1 to 1000000",
            ),
            (
                &["--max-line-bytes", "ten"],
                "--max-line-bytes: 'ten' is not a number from 1 to 1048576",
            ),
            (
                &["--write-timeout-ms", "0"],
                "--write-timeout-ms: '0' is not a number from 1 to 3600000",
            ),
            (
                &["--rate-limit", "-5"],
                "--rate-limit needs a value, not '-5' \
                 (a value that starts with '-' is written --rate-limit=VALUE)",
            ),
            (
                &["--rate-limit=2000000"],
                "--rate-limit: '2000000' is not a number from 0 to 1000000",
            ),
            (
                &["--join-grace-ms", "1e3"],
                "--join-grace-ms: '1e3' is not a number from 0 to 60000",
            ),
            (
                &["--history", "10001"],
                "--history: '10001' is not a number from 0 to 10000",
            ),
            (
                &["--crowd", "0"],
                "--crowd: '0' is not a number from 1 to 1000000",
            ),
            (
                &["--stats-every", "0"],
                "--stats-every: '0' is not a number from 1 to 86400",
            ),
            (
                &["--sendq-bytes", "1000"],
                "--sendq-bytes: '1000' is not a number from 34944 to 1073741824 \
                 (with --max-line-bytes 1024)",
            ),
            (
                &["--sendq-bytes", "2000000000"],
                "--sendq-bytes: '2000000000' is not a number from 0 to 1073741824",
            ),
        ] {
            assert_eq!(server_error(args), message, "{args:?}");
        }
        assert_eq!(
            client(&["--port", "99999"]).unwrap_err().0,
            "--port: '99999' is not a number from 1 to 65535"
        );
        assert_eq!(
            client(&["--port", "0"]).unwrap_err().0,
            "--port: '0' is not a number from 1 to 65535"
        );
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
            assert_eq!(
                dashboard(&["--dashboard", bad]),
                Err(format!(
                    "--dashboard: '{bad}' is not a PORT or HOST:PORT \
                     (a port is a number from 0 to 65535)"
                ))
            );
        }
    }

    #[test]
    fn client_flags() {
        let Ok(Parsed::Run(c)) = client(&["--color=never", "--name", "ann", "--port", "1"]) else {
            panic!("valid flags must parse")
        };
        assert_eq!(
            (c.color, c.name.as_deref(), c.port),
            (ColorChoice::Never, Some("ann"), 1)
        );
        assert_eq!(
            client(&["--color", "red"]).unwrap_err().0,
            "--color: 'red' is not 'auto', 'always' or 'never'"
        );
        assert_eq!((c.key, c.reconnect), (None, true));
        let Ok(Parsed::Run(c)) = client(&["--key", "Blue-42", "--no-reconnect"]) else {
            panic!("valid flags must parse")
        };
        assert_eq!((c.key.as_deref(), c.reconnect), (Some("Blue-42"), false));
        assert_eq!(
            client(&["--key=two words"]).unwrap_err().0,
            "--key: 'two words' is not a class code (one word, no spaces)"
        );
        assert!(client(&["--key="]).is_err());
        assert!(client(&["--no-reconnect=yes"]).is_err());
    }

    #[test]
    fn help_and_version_win() {
        assert_eq!(server(&["--help"]), Ok(Parsed::Help));
        assert_eq!(client(&["-V"]), Ok(Parsed::Version));
    }
}
