//! The client: connects, then runs one of two modes: interactive (a line
//! editor on a Unix terminal) or plain lines (pipes, files, Windows). Both
//! drive one session (`session/`, carried out by `link.rs`) that reconnects
//! and resumes by itself, and return how it ended. This file chooses.

#[cfg(unix)]
use std::io;
use std::io::{BufRead, Write};
use std::net::TcpStream;

use crate::config::ClientConfig;

// Parts of these serve only interactive mode, which exists only on Unix;
// elsewhere those parts are compiled for their tests alone. The line editor,
// the key decoder and the terminal itself are in `crate::term`.
#[cfg(unix)]
mod code_prompt;
#[cfg_attr(not(unix), allow(dead_code))]
mod completion;
mod connect;
mod ending;
mod error;
mod exit;
#[cfg_attr(not(unix), allow(dead_code))]
mod held_enter;
mod incoming;
#[cfg(unix)]
mod interactive;
mod link;
#[cfg_attr(not(unix), allow(dead_code))]
mod names;
#[cfg_attr(not(unix), allow(dead_code))]
mod people;
mod plain;
#[cfg_attr(not(unix), allow(dead_code))]
mod render;
mod session;

pub use connect::connect;
pub use ending::Ending;
pub use error::ClientError;
pub use exit::Exit;
use render::{colour_wanted, Painter};

/// Runs a chat session in plain line mode: connects, sends every line of
/// `input`, prints what arrives to `output` and status lines to `status`.
/// Returns how the session ended ([`Exit::of`] gives the exit code), even if
/// the input thread is still waiting for a line (the caller then exits,
/// which ends that thread).
///
/// When the connection is lost, or the server shuts down, the client
/// reconnects and resumes (unless `config.reconnect` is off, or the server
/// gave no session); input lines wait meanwhile, and are sent once, in
/// order, when the session is back. When `input` runs dry (Ctrl-D, or the
/// end of a pipe), the client half-closes its side and keeps printing until
/// the server closes. Lines are printed
/// whole; text the server leaves without a newline (the Node tutorial's server
/// does) is printed as a line once nothing more follows for a moment.
/// Colour only with `--color always`: `output` may be anything, and plain mode
/// is what scripts and files get.
///
/// # Errors
/// The connection cannot be made, or `output` fails.
pub fn run<R>(
    config: &ClientConfig,
    input: R,
    output: &mut dyn Write,
    status: &mut dyn Write,
) -> Result<Ending, ClientError>
where
    R: BufRead + Send + 'static,
{
    let stream = open(config, status)?;
    let painter = Painter {
        colour: colour_wanted(config.color, false, None, None),
    };
    plain::session(config, stream, input, output, status, painter).map_err(ClientError::Output)
}

/// Whether [`run_interactive`] would edit lines: stdin and stdout are both
/// terminals.
#[cfg(unix)]
pub fn interactive() -> bool {
    crate::term::is_interactive()
}

/// Runs a chat session on this process's terminal, with a line editor: what
/// arrives is printed above the line being typed, which is never disturbed.
/// Status lines go to stderr before and after the session. If the terminal
/// cannot be switched (no `stty`), it says so and runs in plain mode instead.
///
/// As in plain mode, the session reconnects and resumes by itself; the
/// screen, and the line being typed, stay through it, and the input line
/// shows the status meanwhile.
///
/// A message on `stop` ends the session as Ctrl-C does; the binary sends one
/// from its signal handler, so SIGTERM restores the terminal too. Returns
/// how the session ended.
///
/// # Errors
/// The connection cannot be made, or the terminal cannot be written.
#[cfg(unix)]
pub fn run_interactive(
    config: &ClientConfig,
    stop: crossbeam_channel::Receiver<()>,
) -> Result<Ending, ClientError> {
    let stream = open(config, &mut io::stderr())?;
    let painter = Painter {
        colour: colour_wanted(
            config.color,
            true,
            std::env::var_os("NO_COLOR").as_deref(),
            std::env::var_os("TERM").as_deref(),
        ),
    };
    let ended = match crate::term::RawMode::enable() {
        Ok(raw) => interactive::session(config, stream, raw, stop, painter),
        Err(e) => {
            eprintln!("No line editing ({e}); using plain line mode.");
            let input = io::BufReader::new(io::stdin());
            plain::session(
                config,
                stream,
                input,
                &mut io::stdout(),
                &mut io::stderr(),
                painter,
            )
        }
    };
    ended.map_err(ClientError::Output)
}

/// Connects for the first time, and says so on `status`.
fn open(config: &ClientConfig, status: &mut dyn Write) -> Result<TcpStream, ClientError> {
    let stream = connect(&config.host, config.port)?;
    let peer = stream
        .peer_addr()
        .map(|a| a.to_string())
        .unwrap_or_else(|_| config.host.clone());
    let _ = writeln!(status, "Connected to {peer}.");
    Ok(stream)
}
