//! Blocking client sockets and named threads, as scenarios E and G use them:
//! connect with timeouts, wait for a line the server owes a client, write
//! before a deadline. `stalled.rs` and `slow.rs` reach our server through these.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crate::load::connect_quickly;

/// Every socket's read and write timeout: how often a thread blocked on a
/// socket looks at the clock (the deadline). Not a delay: data is handled the
/// moment a read or write returns.
pub(crate) const POLL: Duration = Duration::from_millis(100);

/// Connects to `addr` (`who` names the client in an error) with [`POLL`] as
/// both timeouts.
///
/// # Errors
/// The connection could not be made or set up.
pub(crate) fn connect(addr: SocketAddr, who: &str) -> Result<TcpStream, String> {
    let stream = connect_quickly(addr).map_err(|e| format!("cannot connect {who}: {e}"))?;
    with_poll_timeouts(stream)
}

/// Sets [`POLL`] as both timeouts of `stream`.
///
/// # Errors
/// The system refused.
pub(crate) fn with_poll_timeouts(stream: TcpStream) -> Result<TcpStream, String> {
    stream
        .set_read_timeout(Some(POLL))
        .and_then(|()| stream.set_write_timeout(Some(POLL)))
        .map_err(|e| e.to_string())?;
    Ok(stream)
}

/// Reads `stream` until its welcome, its first line, so that the server has
/// made it a member before anyone else connects. Reader threads race to
/// register: without this, a client whose join the broadcaster handled before
/// this one's would be announced to everyone but this one. Returns whatever
/// came after the welcome.
///
/// # Errors
/// The first line was something else, or did not come by `limit`.
pub(crate) fn await_welcome(
    stream: &TcpStream,
    who: &str,
    limit: Instant,
) -> Result<Vec<u8>, String> {
    read_until(stream, who, limit, "a welcome", |line| {
        if line.starts_with(b"* welcome ") {
            Some(Ok(()))
        } else {
            Some(Err(format!(
                "{who}'s first line was not a welcome: {:?}",
                String::from_utf8_lossy(line)
            )))
        }
    })
}

/// Reads `stream` until the line `line` (without its newline), skipping any
/// other; returns whatever came after it.
///
/// # Errors
/// It did not come by `limit`.
pub(crate) fn await_line(
    stream: &TcpStream,
    who: &str,
    limit: Instant,
    line: &str,
) -> Result<Vec<u8>, String> {
    read_until(stream, who, limit, line, |got| {
        (got == line.as_bytes()).then_some(Ok(()))
    })
}

/// Reads whole lines until `check` says yes (`Some(Ok)`) or no (`Some(Err)`);
/// `None` reads on. Returns the bytes after the line it said yes to.
fn read_until(
    stream: &TcpStream,
    who: &str,
    limit: Instant,
    what: &str,
    mut check: impl FnMut(&[u8]) -> Option<Result<(), String>>,
) -> Result<Vec<u8>, String> {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        while let Some(end) = memchr::memchr(b'\n', &got) {
            let verdict = check(&got[..end]);
            let rest = got.split_off(end + 1);
            match verdict {
                Some(Ok(())) => return Ok(rest),
                Some(Err(e)) => return Err(e),
                None => got = rest,
            }
        }
        if Instant::now() >= limit {
            return Err(format!("{who} did not get {what:?} in time"));
        }
        match (&*stream).read(&mut buf) {
            Ok(0) => return Err(format!("the server closed {who}'s connection")),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if is_timeout(&e) => {}
            Err(e) => return Err(format!("{who}'s connection failed: {e}")),
        }
    }
}

/// A client's name in our room: its address, as the server sees it.
///
/// # Errors
/// The socket has no local address.
pub(crate) fn name_of(stream: &TcpStream) -> Result<String, String> {
    stream
        .local_addr()
        .map(|a| a.to_string())
        .map_err(|e| e.to_string())
}

/// Starts a thread named `name`.
///
/// # Errors
/// It could not be started.
pub(crate) fn spawn<T: Send + 'static>(
    name: &str,
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<JoinHandle<T>, String> {
    thread::Builder::new()
        .name(name.to_string())
        .spawn(f)
        .map_err(|e| format!("cannot start thread {name}: {e}"))
}

/// Waits for a thread and takes its result.
///
/// # Errors
/// It panicked (its name is in the message).
pub(crate) fn join<T>(handle: JoinHandle<T>) -> Result<T, String> {
    let name = handle.thread().name().unwrap_or("unnamed").to_string();
    handle
        .join()
        .map_err(|_| format!("the benchmark's thread {name} panicked"))
}

/// True for the errors a read or write with a timeout returns when the time
/// is up (or a signal came): try again.
pub(crate) fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut | io::ErrorKind::Interrupted
    )
}

/// Writes all of `bytes`, retrying while the server does not take them, until
/// `deadline`. False if it could not (deadline, or the socket was shut down).
pub(crate) fn write_before(stream: &TcpStream, mut bytes: &[u8], deadline: Instant) -> bool {
    while !bytes.is_empty() {
        if Instant::now() >= deadline {
            return false;
        }
        match (&*stream).write(bytes) {
            Ok(0) => return false,
            Ok(n) => bytes = &bytes[n..],
            Err(e) if is_timeout(&e) => {}
            Err(_) => return false,
        }
    }
    true
}
