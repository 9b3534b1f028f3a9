//! [`ReadLoop`]: the bytes side of one client's reader. It reads the socket
//! (a small buffer first, a bigger one once a read fills it), takes telnet's
//! commands out, cuts the bytes into lines, and hands each line to the
//! client's [`Session`], which carries it out. Apart from `session.rs` so the
//! loop a student reads first fits on one screen, and a session only ever
//! sees whole lines.

use std::io::{self, Read};
use std::net::TcpStream;
use std::sync::atomic::Ordering::Acquire;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::config::Framing;
use crate::protocol::{Frame, LineFramer, TelnetFilter};
use crate::server::client::Meters;
use crate::server::shared::Shared;
use crate::server::socket::{describe, is_timeout};

use super::end::End;
use super::session::Session;

/// Bytes asked for per `read` from a busy client. Big enough that a fast
/// sender's lines arrive many at a time (and leave as one event).
const READ_CHUNK: usize = 8 * 1024;

/// Bytes asked for per `read` until a read fills them: most clients type a
/// line now and then, and a small buffer on the stack keeps what each idle
/// client costs down (the stack pages a reader touches are its memory). A
/// client whose read fills it gets a `READ_CHUNK` buffer on the heap.
const FIRST_READ: usize = 1024;

/// On Windows, `shutdown` does not wake a thread blocked in `recv`, so readers
/// there wake up this often to check whether the server is stopping. Unix
/// needs no polling: `shutdown(Both)` wakes the read at once.
#[cfg(windows)]
const READ_POLL: Option<Duration> = Some(Duration::from_millis(250));
#[cfg(not(windows))]
const READ_POLL: Option<Duration> = None;

/// One client's socket, and what turns the bytes read from it into lines.
#[derive(Debug)]
pub(super) struct ReadLoop {
    shared: Arc<Shared>,
    /// The client's meters: `gone` tells an eviction from a plain close.
    meters: Arc<Meters>,
    stream: Arc<TcpStream>,
    telnet: TelnetFilter,
    /// At most one unfinished line.
    framer: LineFramer,
}

impl ReadLoop {
    /// The read loop of a client that has passed the gate, which hands over
    /// its telnet filter and framer (with whatever they hold already).
    pub(super) fn new(
        shared: Arc<Shared>,
        meters: Arc<Meters>,
        stream: Arc<TcpStream>,
        telnet: TelnetFilter,
        framer: LineFramer,
    ) -> ReadLoop {
        ReadLoop {
            shared,
            meters,
            stream,
            telnet,
            framer,
        }
    }

    /// Reads until the connection ends. The loop a student reads first:
    /// read, frame, hand each line to the session, hand the chat on. `early`
    /// holds the lines the gate read after the class code, handled first.
    pub(super) fn run(mut self, session: &mut Session, early: Vec<Vec<u8>>) -> End {
        for line in &early {
            session.on_frame(Frame::Line(line));
        }
        if let Some(end) = session.take_end() {
            return end;
        }
        session.flush_pending();
        let mut small = [0u8; FIRST_READ];
        let mut big: Vec<u8> = Vec::new();
        // Set only when it changes: one system call fewer on every read. An
        // accepted socket starts with none.
        let mut timeout = None;
        loop {
            let wanted = read_timeout(session.announce_by());
            if wanted != timeout {
                let _ = self.stream.set_read_timeout(wanted);
                timeout = wanted;
            }
            let buf: &mut [u8] = if big.is_empty() { &mut small } else { &mut big };
            let n = match (&*self.stream).read(buf) {
                // A kicked client's reader is woken by the server shutting its
                // read side: that client is gone, not merely closed.
                Ok(0) if self.meters.gone.load(Acquire) => return End::Removed,
                Ok(0) => return End::Closed,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if is_timeout(&e) => {
                    if self.shared.is_shutting_down() {
                        return End::ServerStopping;
                    }
                    if self.meters.gone.load(Acquire) {
                        return End::Removed;
                    }
                    session.announce_if_due();
                    continue;
                }
                Err(e) => return End::Failed(describe(&e)),
            };
            // Telnet's commands go before anything else sees the bytes.
            let data = self.telnet.filter(&buf[..n]);
            match self.shared.config.framing {
                Framing::Lines => self.framer.push(data, |frame| session.on_frame(frame)),
                // DEMO MODE (--framing chunks): relay the raw chunk, as the Node
                // tutorial does. Whatever `read` returned, half a line or ten
                // lines, goes out as one "message". Compare with the line above.
                Framing::Chunks => session.on_chunk(data),
            }
            if n == buf.len() && big.is_empty() {
                big = vec![0; READ_CHUNK];
            }
            if let Some(end) = session.take_end() {
                return end;
            }
            session.flush_pending();
            session.announce_if_due();
        }
    }
}

/// How long the next read may wait: until the join must be announced
/// (`announce_by`), if it has not been yet; otherwise as long as it takes
/// (or, on Windows, [`READ_POLL`]).
fn read_timeout(announce_by: Option<Instant>) -> Option<Duration> {
    match announce_by {
        Some(at) => Some(
            at.saturating_duration_since(Instant::now())
                .max(Duration::from_millis(1)),
        ),
        None => READ_POLL,
    }
}
