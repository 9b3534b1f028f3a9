//! The class code (`--key`): before a connection joins the room, its first
//! line must be `/key CODE`. Until then the connection is its reader's
//! alone (nobody else knows it exists, as with a refused connection), so
//! the reader itself writes it the few lines this takes; from its welcome
//! on, only the broadcaster writes to it.

use std::io::{self, Read, Write};
use std::net::{IpAddr, TcpStream};
use std::sync::atomic::Ordering::Relaxed;
use std::thread;
use std::time::{Duration, Instant};

use crate::protocol::{clean_line, lines, Command, Frame, LineFramer, TelnetFilter};
use crate::server::admission::Strike;
use crate::server::shared::Shared;
use crate::server::socket::{is_timeout, linger};

/// How long a connection may take to give the code, all told: a class
/// types it at once (or the client does); a connection that never does is
/// closed, however it spends the time (blank lines do not buy more).
const WAIT_FOR_CODE: Duration = Duration::from_secs(60);

/// How often a wait for the code looks up to see whether the server is
/// stopping: the connection is nobody else's yet, so nobody else can cut
/// its read short.
const LOOK_UP_EVERY: Duration = Duration::from_millis(250);

/// Lines other than `/key` a connection may send before it is closed.
const MAX_OTHER_LINES: usize = 10;

/// How the gate ended.
#[derive(Debug)]
pub(super) enum Gate {
    /// In: the reading state, and the lines that came after the code in the
    /// same reads, to be handled before anything else.
    Open {
        telnet: TelnetFilter,
        framer: LineFramer,
        early: Vec<Vec<u8>>,
    },
    /// Out: a wrong code, no code in time, or the connection ended.
    Closed,
}

/// Lets the connection in, asking for the code first if the server has one.
pub(super) fn pass(shared: &Shared, stream: &TcpStream, ip: IpAddr) -> Gate {
    let config = &shared.config;
    let telnet = TelnetFilter::default();
    let framer = LineFramer::new(config.max_line_bytes);
    match &config.key {
        None => Gate::Open {
            telnet,
            framer,
            early: Vec::new(),
        },
        Some(code) => ask(shared, stream, ip, code, telnet, framer),
    }
}

/// What one line before the code means.
#[derive(Debug, Clone, Copy)]
enum Said {
    Right,
    Wrong,
    Other,
}

fn ask(
    shared: &Shared,
    stream: &TcpStream,
    ip: IpAddr,
    code: &str,
    mut telnet: TelnetFilter,
    mut framer: LineFramer,
) -> Gate {
    let asked = say(stream, &lines::needs_code());
    if asked.is_err() || stream.set_read_timeout(Some(LOOK_UP_EVERY)).is_err() {
        return Gate::Closed;
    }
    let deadline = Instant::now() + WAIT_FOR_CODE;
    let mut buf = [0u8; 1024];
    let mut others = 0;
    loop {
        let n = match (&*stream).read(&mut buf) {
            Ok(0) => return Gate::Closed,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) if is_timeout(&e) => {
                if shared.is_shutting_down() || Instant::now() >= deadline {
                    return Gate::Closed;
                }
                continue;
            }
            Err(_) => return Gate::Closed,
        };
        if shared.is_shutting_down() || Instant::now() >= deadline {
            return Gate::Closed;
        }
        let mut said: Option<Said> = None;
        let mut early: Vec<Vec<u8>> = Vec::new();
        framer.push(telnet.filter(&buf[..n]), |frame| match (said, frame) {
            (Some(Said::Right), Frame::Line(line)) => early.push(line.to_vec()),
            (Some(Said::Right), Frame::TooLong) => {}
            (Some(Said::Wrong), _) => {}
            (_, Frame::Line(line)) => {
                let text = clean_line(line);
                said = match Command::parse(&text) {
                    Ok(Command::Key(given)) if given == code => Some(Said::Right),
                    Ok(Command::Key(_)) => Some(Said::Wrong),
                    _ if text.is_empty() => None,
                    _ => Some(Said::Other),
                };
                if let Some(Said::Other) = said {
                    others += 1;
                    said = None;
                    let _ = say(stream, &lines::needs_code());
                }
            }
            (_, Frame::TooLong) => others += 1,
        });
        match said {
            Some(Said::Right) => {
                let _ = stream.set_read_timeout(None);
                return Gate::Open {
                    telnet,
                    framer,
                    early,
                };
            }
            Some(Said::Wrong) => return turn_away(shared, stream, ip),
            _ if others > MAX_OTHER_LINES => return Gate::Closed,
            _ => {}
        }
    }
}

/// A wrong code: counted for the address (slowed down, then refused for a
/// while), answered, and the connection closed.
fn turn_away(shared: &Shared, stream: &TcpStream, ip: IpAddr) -> Gate {
    shared.stats.turned_away.fetch_add(1, Relaxed);
    let line = match shared.admission.wrong_code(ip) {
        Strike::Slow(pause) => {
            // Someone guessing: each guess costs them time, and only them.
            thread::sleep(pause);
            lines::wrong_code()
        }
        Strike::Refused(left) => lines::too_many_wrong_codes(lines::minutes_left(left)),
    };
    shared.log.info(&format!("{ip}: wrong class code"));
    let _ = say(stream, &line);
    let _ = stream.shutdown(std::net::Shutdown::Write);
    linger(stream);
    Gate::Closed
}

/// One short line, written at once: nothing else is written to this
/// socket yet, so its buffer has room.
fn say(mut stream: &TcpStream, line: &[u8]) -> io::Result<()> {
    stream.write_all(line)
}
