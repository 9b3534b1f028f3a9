//! The client: connects, asks for `--name`, then runs one of two modes:
//! interactive (a line editor on a Unix terminal) or plain lines (pipes,
//! files, Windows), which return how the connection ended. This file chooses.

use std::io::{self, BufRead, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;

use crate::config::ClientConfig;

// Parts of these serve only interactive mode, which exists only on Unix;
// elsewhere those parts are compiled for their tests alone. The line editor,
// the key decoder and the terminal itself are in `crate::term`.
#[cfg_attr(not(unix), allow(dead_code))]
mod completion;
mod ending;
mod error;
mod exit;
mod incoming;
#[cfg(unix)]
mod interactive;
#[cfg_attr(not(unix), allow(dead_code))]
mod names;
#[cfg_attr(not(unix), allow(dead_code))]
mod people;
mod plain;
#[cfg_attr(not(unix), allow(dead_code))]
mod render;
#[cfg(unix)]
mod screen;

pub use ending::Ending;
pub use error::ClientError;
pub use exit::Exit;
use names::NameTracker;
use render::{colour_wanted, Painter};

/// Connects to `HOST:PORT`, trying every address the name resolves to.
///
/// # Errors
/// The name does not resolve, or no address accepts the connection.
pub fn connect(host: &str, port: u16) -> Result<TcpStream, ClientError> {
    let addr = match host.parse::<std::net::Ipv6Addr>() {
        Ok(_) => format!("[{host}]:{port}"),
        Err(_) => format!("{host}:{port}"),
    };
    let fail = |source| ClientError::Connect {
        addr: addr.clone(),
        source,
    };
    let mut last = io::Error::new(io::ErrorKind::NotFound, "no address found");
    for candidate in addr.to_socket_addrs().map_err(fail)? {
        match TcpStream::connect_timeout(&candidate, Duration::from_secs(10)) {
            Ok(stream) => return Ok(stream),
            Err(e) => last = e,
        }
    }
    Err(fail(last))
}

/// Runs a chat session in plain line mode: connects, sends every line of
/// `input`, prints what arrives to `output` and status lines to `status`.
/// Returns how the connection ended ([`Exit::of`] gives the exit code) when
/// the server closes it, even if the input thread is still waiting for a
/// line (the caller then exits, which ends that thread).
///
/// When `input` runs dry (Ctrl-D, or the end of a pipe), the client half-closes
/// its side and keeps printing until the server closes. Lines are printed
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
    let (stream, tracker) = open(config, status)?;
    let painter = Painter {
        colour: colour_wanted(config.color, false, None, None),
    };
    plain::session(stream, input, output, status, painter, tracker).map_err(ClientError::Output)
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
/// A message on `stop` ends the session as Ctrl-C does; the binary sends one
/// from its signal handler, so SIGTERM restores the terminal too. Returns
/// how the connection ended.
///
/// # Errors
/// The connection cannot be made, or the terminal cannot be written.
#[cfg(unix)]
pub fn run_interactive(
    config: &ClientConfig,
    stop: crossbeam_channel::Receiver<()>,
) -> Result<Ending, ClientError> {
    let (stream, tracker) = open(config, &mut io::stderr())?;
    let painter = Painter {
        colour: colour_wanted(
            config.color,
            true,
            std::env::var_os("NO_COLOR").as_deref(),
            std::env::var_os("TERM").as_deref(),
        ),
    };
    let ended = match crate::term::RawMode::enable() {
        Ok(raw) => interactive::session(stream, raw, stop, painter, tracker),
        Err(e) => {
            eprintln!("No line editing ({e}); using plain line mode.");
            let input = io::BufReader::new(io::stdin());
            plain::session(
                stream,
                input,
                &mut io::stdout(),
                &mut io::stderr(),
                painter,
                tracker,
            )
        }
    };
    ended.map_err(ClientError::Output)
}

/// Connects, says so on `status`, and asks for `--name` if given. The
/// tracker knows about the request, to explain a refusal.
fn open(
    config: &ClientConfig,
    status: &mut dyn Write,
) -> Result<(Arc<TcpStream>, NameTracker), ClientError> {
    let stream = Arc::new(connect(&config.host, config.port)?);
    let _ = stream.set_nodelay(true);
    let peer = stream
        .peer_addr()
        .map(|a| a.to_string())
        .unwrap_or_else(|_| config.host.clone());
    let _ = writeln!(status, "Connected to {peer}.");
    let requested = config.name.as_ref().filter(|name| {
        (&*stream)
            .write_all(format!("/nick {name}\n").as_bytes())
            .is_ok()
    });
    Ok((stream, NameTracker::new(requested.cloned())))
}
