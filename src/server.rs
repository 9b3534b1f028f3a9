//! The server: binds the listener, runs the accept loop (one reader thread per
//! client, within `--max-clients`), starts the broadcaster, and shuts all of it
//! down in order when its [`ShutdownHandle`] is used.

use std::fmt;
use std::io::{self, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crossbeam_channel::{bounded, Receiver, RecvTimeoutError, SendTimeoutError, Sender};

use crate::broadcaster::{Broadcaster, Event};
use crate::config::ServerConfig;
use crate::connection;
use crate::log::Log;
use crate::protocol;
use crate::registry::{ClientId, Registry};
use crate::stats::Stats;
use crate::transcript::{Entry, Transcript};

/// Events that may wait for the broadcaster. Bounded, so a busy room pushes
/// back on readers instead of growing a queue: at most this many events (each
/// at most one read's worth of lines) are ever held.
const EVENTS_CAPACITY: usize = 1024;

/// Stack for each reader thread. The default 2 MiB is address space, not
/// memory, but small stacks make the cost per client plain: the reader's
/// deepest frame is its 8 KiB read buffer plus formatting.
const READER_STACK: usize = 128 * 1024;

/// Connections refused at once (server full or busy) still get their line and
/// a moment to read it, on one helper thread; this many may wait for it, and
/// past that a refused connection is simply closed.
const REFUSALS_CAPACITY: usize = 64;

/// Pause after `accept` fails for lack of resources (out of descriptors), so
/// the loop retries a few times a second instead of spinning.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// State every server thread shares.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) config: ServerConfig,
    pub(crate) registry: Registry,
    pub(crate) stats: Stats,
    pub(crate) log: Log,
    shutting_down: AtomicBool,
    /// Reader threads alive, for `--max-clients`.
    live: AtomicUsize,
}

impl Shared {
    pub(crate) fn is_shutting_down(&self) -> bool {
        self.shutting_down.load(Ordering::Acquire)
    }

    /// The `/stats` line, with the client count taken now.
    pub(crate) fn stats_line(&self) -> String {
        self.stats.note_clients(self.registry.len());
        self.stats.summary()
    }

    /// The first line a new client gets.
    pub(crate) fn welcome(&self, name: &str, others: usize) -> Vec<u8> {
        let others = match others {
            1 => "1 other".to_string(),
            n => format!("{n} others"),
        };
        let mut text = format!("welcome {name}, {others} online, /help lists the commands");
        let modes = self.config.demo_modes();
        if !modes.is_empty() {
            text.push_str(&format!(" (demo mode: {})", modes.join(", ")));
        }
        protocol::notice(&text)
    }
}

/// Why the server could not start.
#[derive(Debug)]
pub enum ServerError {
    /// The listening socket could not be bound.
    Bind {
        /// The address as the user gave it.
        addr: String,
        /// What the OS said.
        source: io::Error,
    },
    /// The transcript file could not be opened.
    Transcript {
        /// The path given with `--transcript`.
        path: PathBuf,
        /// What the OS said.
        source: io::Error,
    },
}

impl fmt::Display for ServerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ServerError::Bind { addr, source } => write!(f, "cannot listen on {addr}: {source}"),
            ServerError::Transcript { path, source } => {
                write!(f, "cannot open transcript {}: {source}", path.display())
            }
        }
    }
}

impl std::error::Error for ServerError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ServerError::Bind { source, .. } | ServerError::Transcript { source, .. } => {
                Some(source)
            }
        }
    }
}

/// A bound chat server, ready to [`run`](Server::run).
#[derive(Debug)]
pub struct Server {
    listener: TcpListener,
    local_addr: SocketAddr,
    shared: Arc<Shared>,
    transcript: Option<Transcript>,
}

/// Stops a running server from another thread (a Ctrl-C handler, a test).
#[derive(Debug, Clone)]
pub struct ShutdownHandle {
    shared: Arc<Shared>,
    wake_addr: SocketAddr,
}

impl ShutdownHandle {
    /// Asks the server to stop; [`Server::run`] then returns once every client
    /// has been told and every thread has ended. Safe to call more than once.
    pub fn shutdown(&self) {
        if self.shared.shutting_down.swap(true, Ordering::AcqRel) {
            return;
        }
        // `accept` cannot be interrupted portably, so connect to ourselves: the
        // accept loop wakes, sees the flag and stops. If the connection fails,
        // the loop still sees the flag the next time anything connects.
        let _ = TcpStream::connect_timeout(&self.wake_addr, Duration::from_secs(1));
    }
}

impl Server {
    /// Binds the listening socket (and opens the transcript, if asked).
    ///
    /// # Errors
    /// The address cannot be bound, or the transcript cannot be opened.
    pub fn bind(config: ServerConfig) -> Result<Server, ServerError> {
        let addr = format!("{}:{}", config.host, config.port);
        // A bare IPv6 address needs brackets to be parsed with its port.
        let bind_to = match config.host.parse::<Ipv6Addr>() {
            Ok(ip) => SocketAddr::from((ip, config.port)).to_string(),
            Err(_) => addr.clone(),
        };
        let bind_error = |source| ServerError::Bind {
            addr: addr.clone(),
            source,
        };
        let listener = TcpListener::bind(&bind_to).map_err(bind_error)?;
        let local_addr = listener.local_addr().map_err(bind_error)?;
        let log = Log::new(config.quiet);
        let transcript = match &config.transcript {
            Some(path) => {
                Some(
                    Transcript::open(path, log).map_err(|source| ServerError::Transcript {
                        path: path.clone(),
                        source,
                    })?,
                )
            }
            None => None,
        };
        let shared = Arc::new(Shared {
            stats: Stats::new(config.rate_limit),
            config,
            registry: Registry::new(),
            log,
            shutting_down: AtomicBool::new(false),
            live: AtomicUsize::new(0),
        });
        Ok(Server {
            listener,
            local_addr,
            shared,
            transcript,
        })
    }

    /// The address actually bound (with the real port when `--port 0`).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// A handle that stops this server.
    pub fn shutdown_handle(&self) -> ShutdownHandle {
        let ip = match self.local_addr.ip() {
            IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
            ip => ip,
        };
        ShutdownHandle {
            shared: self.shared.clone(),
            wake_addr: SocketAddr::new(ip, self.local_addr.port()),
        }
    }

    /// A one-line summary of the server's counters, as `/stats` shows it.
    pub fn stats_summary(&self) -> String {
        self.shared.stats_line()
    }

    /// Serves until [`ShutdownHandle::shutdown`] is called, then stops in order:
    /// no new connections; every message already accepted is delivered, then
    /// `* server shutting down`; every connection closes; every thread is joined.
    ///
    /// # Errors
    /// A server thread could not be started.
    pub fn run(mut self) -> io::Result<()> {
        let shared = self.shared.clone();
        let log = shared.log;
        log.always(&format!("listening on {}", self.local_addr));
        for mode in shared.config.demo_modes() {
            log.always(&format!(
                "WARNING: demo mode '{mode}' is on; this server is deliberately broken"
            ));
        }
        let mut transcript = self.transcript.take();
        if let Some(transcript) = &mut transcript {
            transcript.record(&Entry::Start {
                addr: self.local_addr.to_string(),
            });
        }

        let (events_tx, events_rx) = bounded(EVENTS_CAPACITY);
        let broadcaster = Broadcaster::new(shared.clone(), events_rx, transcript);
        // The broadcaster holds `finished_tx` and drops it when it ends, so the
        // shutdown below can wait for it with a deadline.
        let (finished_tx, finished_rx) = bounded::<()>(0);
        let broadcaster = spawn("broadcaster", move || {
            let _finished = finished_tx;
            broadcaster.run();
        })?;
        let (refusals_tx, refusals_rx) = bounded(REFUSALS_CAPACITY);
        let refuser = spawn("refuser", move || refuse_all(refusals_rx))?;
        let (stats_stop_tx, stats_stop_rx) = bounded::<()>(0);
        let stats_logger = match shared.config.stats_every {
            Some(every) => {
                let shared = shared.clone();
                Some(spawn("stats", move || {
                    log_stats(&shared, every, stats_stop_rx)
                })?)
            }
            None => None,
        };

        // Each reader holds a clone of `done_tx`; when the last one ends, the
        // channel disconnects. That is how shutdown waits for readers with a deadline.
        let (done_tx, done_rx) = bounded::<()>(0);
        let readers = self.accept_loop(&events_tx, &refusals_tx, &done_tx);

        // Stop: the shutdown event queues behind every accepted message.
        log.always("shutting down");
        // A healthy broadcaster finishes within one write timeout per stalled
        // client. One stuck in a write with no deadline (the --no-write-timeout
        // demo) would never finish: past the deadline, every socket is shut
        // down, which makes its write fail so it can finish.
        let deadline = Instant::now()
            + shared.config.write_timeout.unwrap_or_default()
            + Duration::from_secs(2);
        let queued = !matches!(
            events_tx.send_deadline(Event::Shutdown, deadline),
            Err(SendTimeoutError::Timeout(_))
        );
        // Nobody sends on `finished`: it only ever disconnects (done) or times out.
        let stuck = !queued
            || matches!(
                finished_rx.recv_deadline(deadline),
                Err(RecvTimeoutError::Timeout)
            );
        if stuck {
            log.always("the broadcaster is stuck writing; closing every connection");
            for stream in shared.registry.all_streams() {
                let _ = stream.shutdown(Shutdown::Both);
            }
            if !queued {
                let _ = events_tx.send(Event::Shutdown);
            }
        }
        drop(events_tx);
        drop(refusals_tx);
        drop(stats_stop_tx);
        drop(done_tx);
        let _ = broadcaster.join();
        // Clients normally close as soon as they read the goodbye and FIN; give
        // them the linger time, then cut off the rest (this also wakes readers).
        if let Err(RecvTimeoutError::Timeout) = done_rx.recv_timeout(connection::LINGER) {
            for stream in shared.registry.all_streams() {
                let _ = stream.shutdown(Shutdown::Both);
            }
        }
        for reader in readers {
            let _ = reader.join();
        }
        let _ = refuser.join();
        if let Some(stats_logger) = stats_logger {
            let _ = stats_logger.join();
        }
        log.always("server stopped");
        Ok(())
    }

    /// Accepts connections until shutdown, returning the reader threads to join.
    fn accept_loop(
        &self,
        events_tx: &Sender<Event>,
        refusals_tx: &Sender<(TcpStream, Vec<u8>)>,
        done_tx: &Sender<()>,
    ) -> Vec<JoinHandle<()>> {
        let shared = &self.shared;
        let mut readers: Vec<JoinHandle<()>> = Vec::new();
        let mut next_id = 0u64;
        let mut failing = false;
        loop {
            let accepted = self.listener.accept();
            if shared.is_shutting_down() {
                break;
            }
            let (stream, peer) = match accepted {
                Ok(pair) => pair,
                Err(e) if is_transient(&e) => continue,
                Err(e) => {
                    // Out of descriptors, most likely. Say so once, wait, retry.
                    if !failing {
                        shared
                            .log
                            .always(&format!("accept failed: {e}; retrying every 100 ms"));
                        failing = true;
                    }
                    thread::sleep(ACCEPT_BACKOFF);
                    continue;
                }
            };
            if failing {
                shared.log.always("accept is working again");
                failing = false;
            }
            let max = shared.config.max_clients;
            if shared.live.load(Ordering::Acquire) >= max {
                let line =
                    protocol::error(&format!("server full ({max} clients), try again later"));
                refuse(refusals_tx, stream, line);
                continue;
            }
            next_id += 1;
            let id = ClientId(next_id);
            let stream = Arc::new(stream);
            shared.live.fetch_add(1, Ordering::AcqRel);
            let guard = ReaderGuard {
                shared: shared.clone(),
                _done: done_tx.clone(),
            };
            let (reader_shared, events_tx, reader_stream) =
                (shared.clone(), events_tx.clone(), stream.clone());
            let spawned = thread::Builder::new()
                .name(format!("reader-{next_id}"))
                .stack_size(READER_STACK)
                .spawn(move || {
                    let _guard = guard;
                    connection::run(reader_shared, events_tx, id, reader_stream, peer);
                });
            match spawned {
                Ok(handle) => readers.push(handle),
                Err(e) => {
                    shared
                        .log
                        .always(&format!("cannot start a reader thread: {e}"));
                    // The closure (and its guard) is dropped: `live` is restored.
                    if let Ok(stream) = Arc::try_unwrap(stream) {
                        refuse(refusals_tx, stream, protocol::error("server busy"));
                    }
                }
            }
            // Forget finished readers now and then, so the list tracks live ones.
            if next_id % 256 == 0 {
                readers.retain(|handle| !handle.is_finished());
            }
        }
        readers
    }
}

/// Held by each reader thread; dropping it (when the thread ends, or when it
/// could not start) frees the client's place and signals `done`.
#[derive(Debug)]
struct ReaderGuard {
    shared: Arc<Shared>,
    _done: Sender<()>,
}

impl Drop for ReaderGuard {
    fn drop(&mut self) {
        self.shared.live.fetch_sub(1, Ordering::AcqRel);
    }
}

fn spawn(name: &str, body: impl FnOnce() + Send + 'static) -> io::Result<JoinHandle<()>> {
    thread::Builder::new().name(name.to_string()).spawn(body)
}

/// Errors of one connection attempt, not of the listener: just accept the next.
fn is_transient(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::Interrupted
            | io::ErrorKind::WouldBlock
    )
}

/// Queues a refused connection for the refuser thread, or closes it at once if
/// too many are already waiting (a connection flood must not grow a queue).
fn refuse(refusals_tx: &Sender<(TcpStream, Vec<u8>)>, stream: TcpStream, line: Vec<u8>) {
    let _ = refusals_tx.try_send((stream, line));
}

/// The refuser thread: writes each refused connection its one line, then lets
/// it drain and close (see [`connection::linger`]).
fn refuse_all(refusals_rx: Receiver<(TcpStream, Vec<u8>)>) {
    for (stream, line) in refusals_rx {
        let _ = stream.set_write_timeout(Some(Duration::from_secs(1)));
        if (&stream).write_all(&line).is_ok() {
            let _ = stream.shutdown(Shutdown::Write);
            connection::linger(&stream);
        }
    }
}

/// The `--stats-every` thread: a summary line every period until told to stop.
fn log_stats(shared: &Shared, every: Duration, stop_rx: Receiver<()>) {
    let mut next = Instant::now() + every;
    loop {
        match stop_rx.recv_deadline(next) {
            Err(RecvTimeoutError::Timeout) => {
                shared.log.always(&shared.stats_line());
                next += every;
            }
            _ => return,
        }
    }
}
