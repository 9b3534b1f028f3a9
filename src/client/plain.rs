//! Plain line mode, for pipes, files, Windows, and any terminal where
//! interactive mode is not possible: a `stdin` thread reads whole input
//! lines, and the calling thread sends them, prints the server's lines and
//! drives the session (reconnecting included) through a [`Link`].

use std::io::{self, BufRead, Write};
use std::net::TcpStream;
use std::thread;
use std::time::{Duration, Instant, SystemTime};

use crossbeam_channel::{at, never, select, tick, Receiver, Sender};

use super::ending::Ending;
use super::link::{Link, NetEvent};
use super::render::Painter;
use super::session::Do;
use crate::config::ClientConfig;
use crate::term::clean_typed_line;

/// Lines read ahead from the input at most. While the client cannot send
/// (reconnecting), the input waits in the pipe, not in this process.
const INPUT_AHEAD: usize = 64;
/// Events from the network threads waiting at most; a server faster than
/// the output waits in TCP.
const EVENTS_CAPACITY: usize = 1024;
/// How often the clocks are read, to notice that the computer slept.
const CLOCK_CHECK: Duration = Duration::from_secs(1);

/// Runs a plain session on a connected `stream`: every line of `input` goes
/// to the server, every line from the server to `output`, status lines to
/// `status`. Returns how the session ended: the end of `input` counts as
/// you quitting.
///
/// While the client reconnects, input lines are not read: they wait, and go
/// out in order once the session is resumed, each exactly once. A line
/// whose write failed (the connection had just broken) is sent again; one
/// written without error is not, even if the connection broke right after
/// (the server may have it: sending it again could say it twice).
///
/// # Errors
/// Writing to `output` failed, or a thread cannot be started.
pub(crate) fn session<R>(
    config: &ClientConfig,
    stream: TcpStream,
    input: R,
    output: &mut dyn Write,
    status: &mut dyn Write,
    painter: Painter,
) -> io::Result<Ending>
where
    R: BufRead + Send + 'static,
{
    let (input_tx, input_rx) = crossbeam_channel::bounded(INPUT_AHEAD);
    // Nobody joins this thread: it may sit in a blocking read of stdin
    // forever, and the process ends without it once the session is over.
    thread::Builder::new()
        .name("stdin".to_string())
        .spawn(move || read_input(input, &input_tx))?;
    let (events_tx, events_rx) = crossbeam_channel::bounded(EVENTS_CAPACITY);
    let (mut link, first) = Link::start(config, stream, events_tx)?;
    let mut printer = Printer {
        output,
        status,
        painter,
    };
    let ending = match printer.apply(first, &link)? {
        Some(ending) => ending,
        None => drive(&mut link, &events_rx, &input_rx, &mut printer)?,
    };
    if let Some(e) = link.final_error() {
        let _ = writeln!(printer.status, "Connection error: {e}");
    }
    let _ = writeln!(printer.status, "Disconnected from the server.");
    Ok(ending)
}

/// The loop: network events, input lines when they can be sent (or the
/// class code is asked for), and the session's timer, until it ends.
fn drive(
    link: &mut Link<NetEvent>,
    events: &Receiver<NetEvent>,
    input: &Receiver<Vec<u8>>,
    printer: &mut Printer<'_>,
) -> io::Result<Ending> {
    let mut input_open = true;
    // A line whose write failed: it goes first once lines can be sent.
    let mut held: Option<Vec<u8>> = None;
    let clock = tick(CLOCK_CHECK);
    loop {
        // Before any line goes out: after a sleep, the connection is checked.
        let dos = link.clock(SystemTime::now(), Instant::now())?;
        if let Some(ending) = printer.apply(dos, link)? {
            return Ok(ending);
        }
        if let Some(line) = held.take() {
            if link.send(&line).is_err() {
                held = Some(line);
            }
        }
        let session = link.session();
        let reading =
            input_open && (session.asking_code() || (session.can_send() && held.is_none()));
        let lines = if reading { input.clone() } else { never() };
        let wake = link.wake_at().map_or_else(never, at);
        let dos = select! {
            recv(events) -> event => match event {
                Ok(event) => link.net(event, Instant::now())?,
                // The link holds a sender: this cannot happen.
                Err(_) => return Ok(Ending::Lost(None)),
            },
            recv(lines) -> line => match line {
                Ok(line) if link.session().asking_code() => {
                    link.code(String::from_utf8_lossy(&line).into_owned())?
                }
                Ok(line) => {
                    // A line read just after a wake waits for the check.
                    let dos = link.clock(SystemTime::now(), Instant::now())?;
                    if link.send(&line).is_err() {
                        held = Some(line);
                    }
                    dos
                }
                // The input ended (Ctrl-D, the end of a pipe): half-close,
                // and print what the server still sends until it closes.
                Err(_) => {
                    input_open = false;
                    let _ = link.half_close();
                    Vec::new()
                }
            },
            recv(wake) -> _ => link.tick(Instant::now())?,
            recv(clock) -> _ => Vec::new(),
        };
        if let Some(ending) = printer.apply(dos, link)? {
            return Ok(ending);
        }
    }
}

/// Where plain mode writes: the chat, and the status lines.
struct Printer<'a> {
    output: &'a mut dyn Write,
    status: &'a mut dyn Write,
    painter: Painter,
}

impl std::fmt::Debug for Printer<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Printer")
            .field("painter", &self.painter)
            .finish_non_exhaustive()
    }
}

impl Printer<'_> {
    /// Does what the session asks of the mode; returns the ending if it ended.
    ///
    /// # Errors
    /// Writing to the output failed.
    fn apply(&mut self, dos: Vec<Do>, link: &Link<NetEvent>) -> io::Result<Option<Ending>> {
        for d in dos {
            match d {
                Do::Show(line) => {
                    let me = link.session().name();
                    writeln!(self.output, "{}", self.painter.incoming(&line, me))?;
                    self.output.flush()?;
                }
                Do::Tell(text) => {
                    let _ = writeln!(self.status, "{text}");
                }
                Do::AskCode => {
                    let _ = writeln!(
                        self.status,
                        "This class needs a code: type it on a line of its own."
                    );
                }
                Do::End(ending) => return Ok(Some(ending)),
                // The prompt is interactive mode's; the link sends and connects.
                Do::Ready | Do::Send(_) | Do::Connect(_) | Do::HangUp => {}
            }
        }
        Ok(None)
    }
}

/// Reads input lines and passes each on, then ends (closing `lines_tx`
/// tells the end of the input).
///
/// Each line is cleaned first ([`clean_typed_line`]): in a terminal's line
/// mode, an arrow key pressed while typing lands in the line as an escape
/// sequence. A line with nothing left to say is not sent.
fn read_input<R: BufRead>(mut input: R, lines_tx: &Sender<Vec<u8>>) {
    let mut line = Vec::new();
    loop {
        line.clear();
        match input.read_until(b'\n', &mut line) {
            Ok(0) | Err(_) => return,
            Ok(_) => {
                let clean = clean_typed_line(&line);
                if clean.iter().all(u8::is_ascii_whitespace) {
                    continue;
                }
                if lines_tx.send(clean).is_err() {
                    return;
                }
            }
        }
    }
}
