//! Socket helpers every server thread uses: short and blocking writes, the
//! drain-then-close (`linger`) that keeps a last line from being destroyed by
//! a reset, and how errors are classified and worded.

use std::io::{self, IoSlice, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::{Duration, Instant};

/// How long a closing connection may take to drain: the client's last line
/// (`* bye`) must reach it before the socket closes, and closing a socket with
/// unread input would send a reset that can destroy that line.
pub(crate) const LINGER: Duration = Duration::from_secs(1);

/// The longest the broadcaster waits on one client's socket in one write
/// when send queues are on: what the socket does not take by then waits in
/// the client's queue. (Kernels round it up to their timer tick, a few ms.)
pub(crate) const WRITE_SLICE: Duration = Duration::from_millis(1);

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

/// One write of as much of `slices` as the socket takes within its write
/// timeout ([`WRITE_SLICE`]). A timeout with nothing taken is `Ok(0)`: the
/// client is not reading right now, which is not an error.
///
/// # Errors
/// The connection is broken.
pub(crate) fn write_once(stream: &TcpStream, slices: &[IoSlice<'_>]) -> io::Result<usize> {
    loop {
        let mut writer = stream;
        match writer.write_vectored(slices) {
            Ok(n) => return Ok(n),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if is_timeout(&e) => return Ok(0),
            Err(e) => return Err(e),
        }
    }
}

/// Writes all of `slices`, blocking for as long as it takes: the
/// `--no-write-timeout` demo mode, where one stalled client freezes the room.
///
/// # Errors
/// The connection is broken.
pub(crate) fn write_all_blocking(
    stream: &TcpStream,
    mut slices: &mut [IoSlice<'_>],
) -> io::Result<()> {
    while !slices.is_empty() {
        let mut writer = stream;
        match writer.write_vectored(slices) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => IoSlice::advance_slices(&mut slices, n),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
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
