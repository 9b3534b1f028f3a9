//! Socket helpers every server thread uses: a write with a deadline, the
//! drain-then-close (`linger`) that keeps a last line from being destroyed by
//! a reset, and how errors are classified and worded.

use std::io::{self, IoSlice, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::{Duration, Instant};

/// How long a closing connection may take to drain: the client's last line
/// (`* bye`) must reach it before the socket closes, and closing a socket with
/// unread input would send a reset that can destroy that line.
pub(crate) const LINGER: Duration = Duration::from_secs(1);

/// Why a write to a client failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Failure {
    /// It did not take the bytes in time.
    TooSlow,
    /// The connection is broken.
    Reset,
}

impl Failure {
    /// Shown in `* NAME left (REASON)`.
    pub(crate) fn reason(self) -> &'static str {
        match self {
            Failure::TooSlow => "too slow",
            Failure::Reset => "connection reset",
        }
    }

    /// What a failed write means.
    pub(crate) fn of(error: &io::Error) -> Failure {
        if is_timeout(error) {
            Failure::TooSlow
        } else {
            Failure::Reset
        }
    }
}

/// True for the errors a socket timeout produces (which one depends on the OS).
pub(crate) fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

/// A short reason for `* NAME left (REASON)` when a read fails.
pub(crate) fn describe(e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::ConnectionReset | io::ErrorKind::ConnectionAborted => {
            "connection reset".to_string()
        }
        _ => e.to_string(),
    }
}

/// Errors of one connection attempt, not of the listener: just accept the next.
pub(crate) fn is_transient_accept_error(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::Interrupted
            | io::ErrorKind::WouldBlock
    )
}

/// Writes all of `slices` to `stream`, giving up once `timeout` has passed since
/// the call began: a deadline for the whole write, not for each syscall, so a
/// client that reads a trickle cannot hold the writer longer than one
/// timeout. `None` blocks for as long as it takes (the demo mode).
///
/// The socket's own write timeout was set to `timeout` when it connected, so
/// the usual case (everything fits in the socket buffer) is one syscall; the
/// timeout is only shortened, and then restored, when a write was partial.
pub(crate) fn write_all_before(
    stream: &TcpStream,
    mut slices: &mut [IoSlice<'_>],
    timeout: Option<Duration>,
) -> io::Result<()> {
    let started = Instant::now();
    let mut shortened = false;
    let result = loop {
        let mut writer = stream;
        match writer.write_vectored(slices) {
            Ok(0) => break Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => {
                IoSlice::advance_slices(&mut slices, n);
                if slices.is_empty() {
                    break Ok(());
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => break Err(e),
        }
        if let Some(timeout) = timeout {
            let left = timeout.saturating_sub(started.elapsed());
            if left.is_zero() {
                break Err(io::ErrorKind::TimedOut.into());
            }
            // Zero would mean "no timeout" to set_write_timeout; `left` is not zero.
            stream.set_write_timeout(Some(left))?;
            shortened = true;
        }
    };
    if shortened {
        let _ = stream.set_write_timeout(timeout);
    }
    result
}

/// Reads and discards until the peer closes or [`LINGER`] passes, then shuts
/// the socket down, so the last lines written to it are not destroyed by a
/// reset when it closes.
pub(crate) fn linger(stream: &TcpStream) {
    let deadline = Instant::now() + LINGER;
    let mut sink = [0u8; 1024];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() || stream.set_read_timeout(Some(left)).is_err() {
            break;
        }
        match (&*stream).read(&mut sink) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => break,
        }
    }
    let _ = stream.shutdown(Shutdown::Both);
}
