//! Socket helpers every server thread uses: writes that never block, short
//! ones and blocking ones, the drain (`linger`) that keeps a last line from
//! being destroyed by a reset, the reset that cuts an evicted client off,
//! and how errors are classified and worded.

use std::io::{self, IoSlice, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::{Duration, Instant};

/// How long a closing connection may take to drain: the client's last line
/// (`* bye`) must reach it before the socket closes, and closing a socket with
/// unread input would send a reset that can destroy that line.
pub(crate) const LINGER: Duration = Duration::from_secs(1);

/// The socket's write timeout, set by the reader (none in `--no-write-timeout`): the most one
/// blocking write to a client that keeps up may wait; what it does not take waits in the room's
/// log behind the client's cursor, or in its own queue. (Kernels round it up to a timer tick.)
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

/// One write of as much of `slices` as the socket takes *now*, without
/// waiting at all: `Ok(0)` when its buffer is full.
///
/// std has no per-call "don't wait" flag, so the socket is switched to
/// non-blocking for the one call and back. The switch is on the file
/// description the client's reader shares, but a reader already waiting in
/// `read` stays asleep (the kernel looked at the flag when it went in); a
/// reader that enters `read` during those microseconds gets `WouldBlock`,
/// which it treats like a timeout and simply reads again.
///
/// # Errors
/// The connection is broken.
pub(crate) fn write_now(stream: &TcpStream, slices: &[IoSlice<'_>]) -> io::Result<usize> {
    stream.set_nonblocking(true)?;
    let written = loop {
        let mut writer = stream;
        match writer.write_vectored(slices) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break Ok(0),
            other => break other,
        }
    };
    // If this fails the socket is broken, and the next write will say so.
    let _ = stream.set_nonblocking(false);
    written
}

/// Cuts a client off at once: the connection is reset rather than closed,
/// so the kernel drops what it still held for that client (a stalled
/// client's megabytes would otherwise be retried for minutes) and the
/// client learns at its next read. The client's reader is woken by the
/// read side being shut; the reset itself happens when the last holder of
/// the socket lets go of it.
pub(crate) fn reset(stream: &TcpStream) {
    if linger::set_zero(stream).is_err() {
        // No reset on this platform: a plain shutdown still ends it.
        let _ = stream.shutdown(Shutdown::Both);
        return;
    }
    let _ = stream.shutdown(Shutdown::Read);
}

/// `SO_LINGER` with a zero timeout, which makes closing a socket reset it.
/// std's `TcpStream::set_linger` is not stable yet (rust-lang/rust#88494),
/// so on Linux and macOS this is the one system call the server makes
/// through the C library directly (std links it anyway); elsewhere it is
/// not done, and `reset` falls back to a shutdown.
mod linger {
    use std::io;
    use std::net::TcpStream;

    #[cfg(any(target_os = "linux", target_os = "macos"))]
    pub(super) fn set_zero(stream: &TcpStream) -> io::Result<()> {
        use std::os::fd::AsRawFd;
        use std::os::raw::{c_int, c_void};

        #[repr(C)]
        struct Linger {
            on: c_int,
            seconds: c_int,
        }
        extern "C" {
            fn setsockopt(
                socket: c_int,
                level: c_int,
                name: c_int,
                value: *const c_void,
                length: u32,
            ) -> c_int;
        }
        #[cfg(target_os = "linux")]
        const SOL_SOCKET: c_int = 1;
        #[cfg(target_os = "linux")]
        const SO_LINGER: c_int = 13;
        #[cfg(target_os = "macos")]
        const SOL_SOCKET: c_int = 0xffff;
        #[cfg(target_os = "macos")]
        const SO_LINGER: c_int = 0x0080;

        let value = Linger { on: 1, seconds: 0 };
        // SAFETY: the descriptor is open for as long as `stream` is
        // borrowed, and `value` is a live `struct linger` of the size given.
        let result = unsafe {
            setsockopt(
                stream.as_raw_fd(),
                SOL_SOCKET,
                SO_LINGER,
                (&value as *const Linger).cast(),
                std::mem::size_of::<Linger>() as u32,
            )
        };
        if result == 0 {
            Ok(())
        } else {
            Err(io::Error::last_os_error())
        }
    }

    #[cfg(not(any(target_os = "linux", target_os = "macos")))]
    pub(super) fn set_zero(_stream: &TcpStream) -> io::Result<()> {
        Err(io::ErrorKind::Unsupported.into())
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

/// Reads and discards until the peer closes or [`LINGER`] passes. A
/// socket closed with unread input is reset, and a reset can destroy the
/// last lines still on their way to the client (its `* bye`); draining
/// first lets them arrive. It never shuts the socket: the broadcaster may
/// still be writing those lines, and it closes the socket when it is done.
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
            Err(e) if e.kind() == io::ErrorKind::Interrupted || is_timeout(&e) => {}
            Err(_) => break,
        }
    }
}
