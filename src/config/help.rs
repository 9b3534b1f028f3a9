//! The `--help` texts of both binaries. Every default they show is written in
//! from `settings.rs`, the same constants the settings start from, so the
//! help cannot promise a default the program does not have.

use std::fmt;

use super::settings::{
    ColorChoice, ConsoleMode, Framing, CLIENT_LOST_WINDOW, CLIENT_SHUTDOWN_WINDOW, DEFAULT_CROWD,
    DEFAULT_HISTORY, DEFAULT_HOLD_SECS, DEFAULT_HOST, DEFAULT_JOIN_GRACE_MS, DEFAULT_LOGS_BYTES,
    DEFAULT_MAX_CLIENTS, DEFAULT_MAX_LINE_BYTES, DEFAULT_MAX_PER_IP, DEFAULT_PORT,
    DEFAULT_RATE_LIMIT, DEFAULT_ROOM_LOG_BYTES, DEFAULT_SENDQ_BYTES, DEFAULT_WRITE_TIMEOUT_MS,
};

/// The `--help` text of one binary. It is a value that prints the text
/// (`print!("{SERVER_USAGE}")`) rather than a string constant, because the
/// defaults in it come from constants, and a constant string cannot be
/// assembled from other constants in Rust without a macro.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Usage {
    /// `server --help`.
    Server,
    /// `client --help`.
    Client,
}

/// `--help` text of the server.
pub const SERVER_USAGE: Usage = Usage::Server;

/// `--help` text of the client.
pub const CLIENT_USAGE: Usage = Usage::Client;

impl fmt::Display for Usage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Usage::Server => server_usage(f),
            Usage::Client => client_usage(f),
        }
    }
}

fn server_usage(f: &mut fmt::Formatter<'_>) -> fmt::Result {
    let console = ConsoleMode::default().name();
    let framing = Framing::default().name();
    let history = match DEFAULT_HISTORY {
        0 => "0, none".to_string(),
        n => n.to_string(),
    };
    write!(
        f,
        "\
Usage: server [OPTIONS]

A multi-client TCP chat room: every line a client sends goes to all the others.

Options:
  --host HOST              address to listen on [default: {DEFAULT_HOST}]
                           (use 0.0.0.0 to let a whole classroom in)
  --port PORT              port to listen on, 0 picks a free one [default: {DEFAULT_PORT}]
  --max-clients N          most clients connected at once [default: {DEFAULT_MAX_CLIENTS}]
  --max-per-ip N           most connections from one address [default: {DEFAULT_MAX_PER_IP},
                           loopback unlimited]; given, it applies to loopback too
  --max-line-bytes N       longest line accepted, in bytes [default: {DEFAULT_MAX_LINE_BYTES}]
  --write-timeout-ms MS    a client whose socket takes nothing for 3 x MS
                           milliseconds (a reader that sips: four times its
                           longest pause, up to 8 x MS) is disconnected
                           [default: {DEFAULT_WRITE_TIMEOUT_MS}]
  --sendq-bytes N          most bytes waiting for one client besides its
                           room's log (replies, private messages, history);
                           a client that lets more pile up is disconnected
                           [default: {DEFAULT_SENDQ_BYTES}]
  --room-log-bytes N       most bytes of each room's recent lines kept: a
                           client that falls further behind skips ahead and
                           is told so [default: {DEFAULT_ROOM_LOG_BYTES}]
  --logs-bytes N           most bytes all room logs keep together; the
                           biggest forget their oldest lines first
                           [default: {DEFAULT_LOGS_BYTES}]
  --rate-limit N           lines per second per client, sustained; bursts of
                           50 lines (or 2 s worth) pass at once; 0 = off
                           [default: {DEFAULT_RATE_LIMIT}]
  --join-grace-ms MS       how long a new client may take to name itself
                           (/nick) before the others are told it joined under
                           its address; 0 = at once [default: {DEFAULT_JOIN_GRACE_MS}]
  --history N              show newcomers the last N chat lines, actions and
                           announcements of their room, as far as its log
                           reaches [default: {history}]
  --crowd N                in a room of more than N, joins and leaves are
                           summed up once a second [default: {DEFAULT_CROWD}]
  --console MODE           teacher's commands (who, say, kick, mute, ...) on
                           standard input: auto reads a pipe, or a terminal
                           while the server is in the foreground; on; off
                           [default: {console}]
  --stats-every SECONDS    log a statistics line every SECONDS
  --transcript FILE        append every event to FILE as JSON lines; a server
                           started again with the same FILE gives each room
                           its recent lines back and holds the sessions of
                           the clients that were connected (--hold-secs), so
                           they come back as themselves (without a
                           transcript, a restart forgets both)
  --dashboard [HOST:]PORT  serve a live dashboard of the room over HTTP at
                           http://HOST:PORT/ (read-only) [host: {DEFAULT_HOST}]
  --key CODE               a class code: a client must send /key CODE first;
                           wrong codes close the connection, and an address
                           that keeps guessing is refused for a while
  --record-private         keep the text of private messages in the
                           transcript (by default they are not recorded)
  --hold-secs SECONDS      how long a client whose connection broke may take
                           to come back as itself (its name stays taken; the
                           room is told it left only after) [default: {DEFAULT_HOLD_SECS}]
  --quiet                  log only start, stop and errors
  -h, --help               print this help
  -V, --version            print the version

Demo modes (off by default; they switch a defence off so a lab can watch it fail):
  --framing chunks         relay raw read chunks like the Node tutorial, instead
                           of whole lines [default: {framing}]
  --no-write-timeout       plain blocking writes: one stalled client freezes
                           the whole room
"
    )
}

fn client_usage(f: &mut fmt::Formatter<'_>) -> fmt::Result {
    let color = ColorChoice::default().name();
    let lost = CLIENT_LOST_WINDOW.as_secs();
    let restart = CLIENT_SHUTDOWN_WINDOW.as_secs();
    write!(
        f,
        "\
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

If the connection is lost (a sleeping laptop, a dropped Wi-Fi) the client
reconnects by itself and resumes: same name, and the lines you missed. It
tries for {lost} s, or for {restart} s after `* server shutting down` in case
the server restarts; never after /quit, a kick, a ban or a wrong code. Lines
typed meanwhile wait: on a terminal they stay on the input line, in plain
mode they are sent once the session is resumed.

Options:
  --host HOST      server address [default: {DEFAULT_HOST}]
  --port PORT      server port [default: {DEFAULT_PORT}]
  --name NAME      ask for this name with /nick right after connecting
  --key CODE       the class code, sent with /key on every connection;
                   without it the client asks, if the server wants one
  --no-reconnect   exit when the connection ends instead of reconnecting
  --color WHEN     colour names, notices and errors: auto, always or never;
                   auto colours the terminal mode, unless NO_COLOR is set
                   or TERM is dumb [default: {color}]
  -h, --help       print this help
  -V, --version    print the version

Exit codes:
  0  you quit: /quit, Ctrl-D, Ctrl-C, or the end of the input
  1  cannot connect, or cannot write to the terminal or the output
  2  bad flags
  3  the connection was lost, and could not be resumed within {lost} s
  4  the server shut down, and did not come back within {restart} s
  5  the server sent you away: kicked, banned, wrong code, full or busy
"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::flags::{parse_client_args, parse_server_args, ConfigError, Parsed};
    use crate::config::settings::{ClientConfig, ServerConfig};

    /// Each option the help lists, with the text of its `[default: …]` if it
    /// shows one (up to a comma: `[default: 0, none]` shows 0).
    fn options(usage: Usage) -> Vec<(String, Option<String>)> {
        let text = usage.to_string();
        let mut options: Vec<(String, String)> = Vec::new();
        for line in text.lines() {
            let trimmed = line.trim_start();
            let indent = line.len() - trimmed.len();
            if indent == 2 && trimmed.starts_with('-') {
                let flag = trimmed.split([' ', ',']).next().expect("a flag");
                options.push((flag.to_string(), line.to_string()));
            } else if indent > 2 {
                if let Some((_, about)) = options.last_mut() {
                    about.push_str(line);
                }
            }
        }
        options
            .into_iter()
            .map(|(flag, about)| {
                let default = about.split_once("[default: ").map(|(_, rest)| {
                    let end = rest.find([',', ']']).expect("a closed [default: …]");
                    rest[..end].to_string()
                });
                (flag, default)
            })
            .collect()
    }

    /// Parses `args` to settings, or says why not.
    fn run<T>(parsed: Result<Parsed<T>, ConfigError>) -> Result<T, String> {
        match parsed {
            Ok(Parsed::Run(config)) => Ok(config),
            Ok(_) => Err("help or version".to_string()),
            Err(e) => Err(e.0),
        }
    }

    #[test]
    fn each_default_the_server_help_shows_is_the_servers_default() {
        let options = options(SERVER_USAGE);
        assert!(options.len() > 15, "{options:?}");
        for (flag, default) in options {
            // Its default ("16, loopback unlimited") is no single value.
            if flag == "--max-per-ip" {
                continue;
            }
            if let Some(value) = default {
                let args = [flag.clone(), value.clone()];
                assert_eq!(
                    run(parse_server_args(args)),
                    Ok(ServerConfig::default()),
                    "{flag} {value}"
                );
            }
        }
    }

    #[test]
    fn each_default_the_client_help_shows_is_the_clients_default() {
        let options = options(CLIENT_USAGE);
        assert!(options.len() > 5, "{options:?}");
        for (flag, default) in options {
            if let Some(value) = default {
                let args = [flag.clone(), value.clone()];
                assert_eq!(
                    run(parse_client_args(args)),
                    Ok(ClientConfig::default()),
                    "{flag} {value}"
                );
            }
        }
    }

    #[test]
    fn every_flag_the_help_lists_is_known_to_the_parser() {
        for (usage, parse) in [
            (SERVER_USAGE, run_server as fn(&str) -> Result<(), String>),
            (CLIENT_USAGE, run_client),
        ] {
            for (flag, _) in options(usage) {
                if let Err(e) = parse(&flag) {
                    assert!(!e.starts_with("unknown option"), "{usage:?}: {e}");
                }
            }
        }
    }

    fn run_server(flag: &str) -> Result<(), String> {
        run(parse_server_args([flag.to_string()])).map(|_| ())
    }

    fn run_client(flag: &str) -> Result<(), String> {
        run(parse_client_args([flag.to_string()])).map(|_| ())
    }
}
