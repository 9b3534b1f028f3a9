//! The live dashboard (`--dashboard`): a read-only web page of the room, how
//! far behind each client is and its backpressure, over hand-written HTTP. Its threads read
//! what the chat's threads publish anyway and never write to a chat socket.
//!
//! - `dashboard`, the accept thread: takes every connection, and when its
//!   address or the whole dashboard has no place left, first closes the one
//!   it displaces ([`places`]);
//! - `dashboard-sampler`: a [`Snapshot`](snapshot::Snapshot) every 500 ms
//!   ([`sampler`]), published to the [`Feed`](feed::Feed); from the same
//!   reading of the kernel's tables, it closes the streams whose browser has
//!   stopped reading;
//! - `dashboard-N`, one per open connection ([`connection`]): one answer, or
//!   the event stream.
//!
//! Pure parts: [`http`] (requests and responses), [`host`] (which `Host`
//! names this server), [`places`] (who holds a connection place, and who
//! gives one up), [`snapshot`] (the JSON), [`procnet`] (the kernel's
//! queues). The ring of recent room events comes from the recorder thread.
//! The page is `page.html`.

mod connection;
mod feed;
mod host;
mod http;
mod places;
mod procnet;
mod sampler;
mod snapshot;

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crossbeam_channel::{bounded, Receiver, RecvTimeoutError, Sender};
use parking_lot::Mutex;

use crate::config::dashboard_addr;
use crate::log::Log;

use super::event::QueueGauge;
use super::recorder::recent::Recent;
use super::shared::Shared;
use super::socket::is_transient_accept_error;
use feed::Feed;
use http::{Request, Route, Status};
use places::{ConnId, Origin, Phase, Places};
use procnet::KernelTable;
use sampler::{Sampler, SAMPLE_EVERY};

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
    /// The open connections. Taken by the accept thread to add one (and
    /// displace another), by a connection's thread to say what it is doing
    /// and to leave, and by the sampler to drop streams that fell behind.
    /// Never held across I/O: the sockets it gives up are shut down after
    /// it is released.
    open: Mutex<Open>,
    stopping: AtomicBool,
    log: Log,
}

/// The connections holding a place: who they are ([`Places`], pure) and
/// their sockets, to close the ones it gives up.
#[derive(Debug, Default)]
struct Open {
    places: Places,
    sockets: HashMap<ConnId, Conn>,
}

/// One open connection's socket and its two ends (to find it in the
/// kernel's tables).
#[derive(Debug)]
struct Conn {
    stream: Arc<TcpStream>,
    local: SocketAddr,
    peer: SocketAddr,
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
    queue: QueueGauge,
) -> io::Result<DashboardHandle> {
    let wake_addr = connectable(listener.local_addr()?);
    let log = shared.log;
    let mut sampler = Sampler::new(shared, recent, chat_addr, queue);
    // The first snapshot now, so there is always one to serve.
    let first = sampler.sample(KernelTable::read().as_ref());
    let board = Arc::new(Board {
        feed: Feed::new(first.to_json()),
        open: Mutex::new(Open::default()),
        stopping: AtomicBool::new(false),
        log,
    });
    let (stop_tx, stop_rx) = bounded::<()>(0);
    let sampler = {
        let board = board.clone();
        thread::Builder::new()
            .name("dashboard-sampler".to_string())
            .spawn(move || sample_loop(sampler, &board, &stop_rx))?
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

/// The sampler's thread: a snapshot every [`SAMPLE_EVERY`] until `stop_rx`
/// is disconnected. The kernel's tables are read once per sample, just
/// before the new snapshot goes out, and serve twice: the clients' queues in
/// the snapshot, and the dashboard's own streams, to drop the ones whose
/// browser left the last snapshot unacknowledged for too long.
fn sample_loop(mut sampler: Sampler, board: &Board, stop_rx: &Receiver<()>) {
    let mut next = Instant::now() + SAMPLE_EVERY;
    while let Err(RecvTimeoutError::Timeout) = stop_rx.recv_deadline(next) {
        let read_at = Instant::now();
        let kernel = KernelTable::read();
        board
            .feed
            .publish(sampler.sample(kernel.as_ref()).to_json());
        if let Some(kernel) = &kernel {
            board.drop_lagging(kernel, read_at);
        }
        // Keep the beat even if a sample was slow, but never sample twice
        // in a row to catch up.
        next = (next + SAMPLE_EVERY).max(Instant::now() + SAMPLE_EVERY / 2);
    }
}

/// Accepts connections until the dashboard stops, one thread each; when
/// there is no free place, the one [`Places`] names is closed to make room.
/// Then shuts what is still open and joins the threads.
fn accept_loop(listener: &TcpListener, board: &Arc<Board>) {
    let mut threads: Vec<JoinHandle<()>> = Vec::new();
    let mut next_id = 0u64;
    loop {
        let accepted = listener.accept();
        if board.stopping.load(Ordering::Acquire) {
            break;
        }
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(e) if is_transient_accept_error(&e) => continue,
            Err(_) => {
                thread::sleep(ACCEPT_BACKOFF);
                continue;
            }
        };
        let Ok(local) = stream.local_addr() else {
            // Already gone: nothing to serve.
            continue;
        };
        next_id += 1;
        let id = ConnId(next_id);
        let stream = Arc::new(stream);
        if let Some(displaced) = board.admit(id, &stream, local, peer) {
            // Its thread wakes from its read or write and ends; an
            // unfinished request gets no answer.
            let _ = displaced.shutdown(Shutdown::Both);
        }
        let spawned = {
            let board = board.clone();
            let stream = stream.clone();
            thread::Builder::new()
                .name(format!("dashboard-{}", id.0))
                .spawn(move || {
                    serve(&board, id, &stream, local.ip());
                    board.leave(id);
                })
        };
        match spawned {
            Ok(thread) => threads.push(thread),
            Err(e) => {
                board
                    .log
                    .always(&format!("dashboard: cannot start a thread: {e}"));
                board.leave(id);
                turn_away(&stream);
            }
        }
        threads.retain(|thread| !thread.is_finished());
    }
    // Shutting a socket down wakes its thread from a read or a write at once.
    let open: Vec<Arc<TcpStream>> = board
        .open
        .lock()
        .sockets
        .values()
        .map(|conn| conn.stream.clone())
        .collect();
    for stream in open {
        let _ = stream.shutdown(Shutdown::Both);
    }
    for thread in threads {
        let _ = thread.join();
    }
}

/// One connection's thread: read the request, answer, close; at each step
/// say what this connection now is, so the accept thread knows which to
/// displace first.
fn serve(board: &Board, id: ConnId, stream: &TcpStream, arrived_at: IpAddr) {
    let Some(request) = connection::read_request(stream, arrived_at) else {
        return;
    };
    let phase = match request {
        Request::Route(Route::Events) => Phase::Stream,
        _ => Phase::Answer,
    };
    board.set_phase(id, phase);
    if connection::answer(stream, request, &board.feed) {
        board.set_phase(id, Phase::Answered);
        connection::finish(stream);
    }
}

impl Board {
    /// Gives connection `id` a place; returns the socket of the connection it
    /// displaced, for the caller to shut down outside the lock.
    fn admit(
        &self,
        id: ConnId,
        stream: &Arc<TcpStream>,
        local: SocketAddr,
        peer: SocketAddr,
    ) -> Option<Arc<TcpStream>> {
        let mut open = self.open.lock();
        let displaced = open.places.admit(id, Origin::of(peer.ip()));
        open.sockets.insert(
            id,
            Conn {
                stream: stream.clone(),
                local,
                peer,
            },
        );
        displaced.and_then(|victim| open.sockets.remove(&victim).map(|conn| conn.stream))
    }

    /// Connection `id` moved on to `phase`.
    fn set_phase(&self, id: ConnId, phase: Phase) {
        self.open.lock().places.set_phase(id, phase);
    }

    /// Connection `id` ended: its place is free (if it still had one).
    fn leave(&self, id: ConnId) {
        let mut open = self.open.lock();
        open.places.leave(id);
        open.sockets.remove(&id);
    }

    /// Closes the streams whose browser has left bytes unacknowledged for
    /// too long (see [`places::BEHIND_FOR`]), by the kernel's `tables` as
    /// read at `read_at`.
    fn drop_lagging(&self, tables: &KernelTable, read_at: Instant) {
        let behind: Vec<Arc<TcpStream>> = {
            let mut open = self.open.lock();
            let Open { places, sockets } = &mut *open;
            let dropped = places.note_lag(read_at, |id| {
                let conn = sockets.get(&id)?;
                tables.lookup(conn.local, conn.peer).map(|q| q.send)
            });
            dropped
                .iter()
                .filter_map(|id| sockets.remove(id).map(|conn| conn.stream))
                .collect()
        };
        for stream in behind {
            let _ = stream.shutdown(Shutdown::Both);
        }
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
