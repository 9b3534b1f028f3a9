//! The live dashboard (`--dashboard`): a read-only web page of the room, its
//! send queues and its backpressure, over hand-written HTTP. Its threads read
//! what the chat's threads publish anyway and never write to a chat socket.
//!
//! - `dashboard`, the accept thread: takes connections, at most
//!   [`MAX_CONNECTIONS`] at once (over that, `503` from this thread, at once);
//! - `dashboard-sampler`: a [`Snapshot`](snapshot::Snapshot) every 500 ms
//!   ([`sampler`]), published to the [`Feed`](feed::Feed);
//! - `dashboard-N`, one per open connection ([`connection`]): one answer, or
//!   the event stream.
//!
//! Pure parts: [`http`] (requests and responses), [`snapshot`] (the JSON),
//! [`procnet`] (the kernel's queues). The ring of recent room events comes
//! from the recorder thread. The page is `page.html`.

mod connection;
mod feed;
mod http;
mod procnet;
mod sampler;
mod snapshot;

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::Duration;

use crossbeam_channel::{bounded, Sender};
use parking_lot::Mutex;

use crate::config::dashboard_addr;
use crate::log::Log;

use super::recorder::recent::Recent;
use super::shared::Shared;
use super::socket::is_transient_accept_error;
use feed::Feed;
use http::Status;
use sampler::Sampler;

/// Most dashboard connections open at once. A projector needs one or two
/// (the page and its event stream); past this, a connection is answered
/// `503` by the accept thread itself and closed, so a crowd of idle or
/// hostile connections costs at most this many threads.
pub(crate) const MAX_CONNECTIONS: usize = 32;

/// Pause after `accept` fails for lack of resources.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// Binds the dashboard's listener at `asked` (`PORT` or `HOST:PORT`; see
/// [`dashboard_addr`]), returning it with the address it got.
///
/// # Errors
/// The address is malformed or cannot be bound.
pub(crate) fn bind(asked: &str) -> io::Result<(TcpListener, SocketAddr)> {
    let addr =
        dashboard_addr(asked).map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e.0))?;
    let listener = TcpListener::bind(addr)?;
    let local = listener.local_addr()?;
    Ok((listener, local))
}

/// What the dashboard's threads share.
#[derive(Debug)]
struct Board {
    feed: Feed,
    /// The open connections, to count them and to close them at the end.
    /// Taken by the accept thread to add one, and by a connection's thread
    /// to remove itself; never held across I/O.
    open: Mutex<HashMap<u64, Arc<TcpStream>>>,
    stopping: AtomicBool,
    log: Log,
}

/// The running dashboard; [`DashboardHandle::stop`] ends it.
#[derive(Debug)]
pub(crate) struct DashboardHandle {
    board: Arc<Board>,
    accept: JoinHandle<()>,
    sampler: JoinHandle<()>,
    /// Never sent on: dropping it stops the sampler.
    stop_tx: Sender<()>,
    /// Where to connect to wake the accept thread.
    wake_addr: SocketAddr,
}

/// Starts the dashboard's threads on `listener`. `chat_addr` is the chat's
/// listening address (to find each client's socket in the kernel's tables);
/// `recent` is the ring of room events the recorder keeps.
///
/// # Errors
/// A thread could not be started.
pub(crate) fn spawn(
    shared: Arc<Shared>,
    listener: TcpListener,
    chat_addr: SocketAddr,
    recent: Arc<Recent>,
) -> io::Result<DashboardHandle> {
    let wake_addr = connectable(listener.local_addr()?);
    let log = shared.log;
    let mut sampler = Sampler::new(shared, recent, chat_addr);
    // The first snapshot now, so there is always one to serve.
    let board = Arc::new(Board {
        feed: Feed::new(sampler.sample().to_json()),
        open: Mutex::new(HashMap::new()),
        stopping: AtomicBool::new(false),
        log,
    });
    let (stop_tx, stop_rx) = bounded::<()>(0);
    let sampler = {
        let board = board.clone();
        thread::Builder::new()
            .name("dashboard-sampler".to_string())
            .spawn(move || sampler.run(&board.feed, &stop_rx))?
    };
    let accept = {
        let board = board.clone();
        thread::Builder::new()
            .name("dashboard".to_string())
            .spawn(move || accept_loop(&listener, &board))?
    };
    Ok(DashboardHandle {
        board,
        accept,
        sampler,
        stop_tx,
        wake_addr,
    })
}

impl DashboardHandle {
    /// Ends every stream, closes every connection, and waits for the threads.
    pub(crate) fn stop(self) {
        self.board.stopping.store(true, Ordering::Release);
        self.board.feed.close();
        // Wake the accept thread as `ShutdownHandle` wakes the chat's: it
        // sees the flag, closes what is open, and joins its threads.
        let _ = TcpStream::connect_timeout(&self.wake_addr, Duration::from_secs(1));
        let _ = self.accept.join();
        drop(self.stop_tx);
        let _ = self.sampler.join();
    }
}

/// An unspecified listening address made connectable: loopback instead.
fn connectable(addr: SocketAddr) -> SocketAddr {
    let ip = match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    SocketAddr::new(ip, addr.port())
}

/// Accepts connections until the dashboard stops, one thread each, within
/// [`MAX_CONNECTIONS`]; then shuts what is still open and joins the threads.
fn accept_loop(listener: &TcpListener, board: &Arc<Board>) {
    let mut threads: Vec<JoinHandle<()>> = Vec::new();
    let mut next_id = 0u64;
    loop {
        let accepted = listener.accept();
        if board.stopping.load(Ordering::Acquire) {
            break;
        }
        let stream = match accepted {
            Ok((stream, _)) => Arc::new(stream),
            Err(e) if is_transient_accept_error(&e) => continue,
            Err(_) => {
                thread::sleep(ACCEPT_BACKOFF);
                continue;
            }
        };
        next_id += 1;
        let id = next_id;
        if !board.admit(id, &stream) {
            turn_away(&stream);
            continue;
        }
        let spawned = {
            let board = board.clone();
            let stream = stream.clone();
            thread::Builder::new()
                .name(format!("dashboard-{id}"))
                .spawn(move || {
                    connection::serve(&stream, &board.feed);
                    board.open.lock().remove(&id);
                })
        };
        match spawned {
            Ok(thread) => threads.push(thread),
            Err(e) => {
                board
                    .log
                    .always(&format!("dashboard: cannot start a thread: {e}"));
                board.open.lock().remove(&id);
                turn_away(&stream);
            }
        }
        threads.retain(|thread| !thread.is_finished());
    }
    // Shutting a socket down wakes its thread from a read or a write at once.
    let open: Vec<Arc<TcpStream>> = board.open.lock().values().cloned().collect();
    for stream in open {
        let _ = stream.shutdown(Shutdown::Both);
    }
    for thread in threads {
        let _ = thread.join();
    }
}

impl Board {
    /// Takes a place for connection `id`; false if all are taken.
    fn admit(&self, id: u64, stream: &Arc<TcpStream>) -> bool {
        let mut open = self.open.lock();
        if open.len() >= MAX_CONNECTIONS {
            return false;
        }
        open.insert(id, stream.clone());
        true
    }
}

/// Answers `503` and closes, on the accept thread, without ever waiting: the
/// socket is made non-blocking, what the request has sent so far is read and
/// dropped (closing with it unread would reset the connection and lose the
/// answer), and the short answer fits an empty send buffer.
fn turn_away(stream: &TcpStream) {
    if stream.set_nonblocking(true).is_err() {
        return;
    }
    let mut sink = [0u8; 4096];
    for _ in 0..4 {
        match (&*stream).read(&mut sink) {
            Ok(n) if n > 0 => {}
            _ => break,
        }
    }
    let _ = (&*stream).write_all(&http::refusal(Status::Unavailable));
    let _ = stream.shutdown(Shutdown::Write);
}
