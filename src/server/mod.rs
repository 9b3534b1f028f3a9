//! The server: binds the listener, runs the accept loop (one reader thread per
//! client, within `--max-clients`), and starts and stops the other threads in
//! order. What each thread does lives in the files below.
//!
//! - [`shared`]: what every thread can see, and who owns each piece of a client
//! - [`client`]: one client's state: its record, meters and mute
//! - [`registry`]: the client records behind one lock; [`rooms`] the room
//!   list; [`session`] what lets a client come back after a lost connection,
//!   with its [`token`]
//! - [`event`]: the messages readers send the broadcaster
//! - [`reader`]: one client's reader thread; [`reader::plan`] its pure decisions
//! - [`broadcaster`]: the only writer; its batch layout and per-client state
//! - [`socket`]: timed writes, linger, error wording
//! - [`admission`]: `--max-clients` and `--max-per-ip`; [`reserve`]: the
//!   descriptor kept for saying `server busy`
//! - [`console`]: the teacher's commands on standard input
//! - [`dashboard`]: the live web page of the room (`--dashboard`), read-only
//! - [`recorder`]: the thread that writes the transcript and keeps the
//!   dashboard's recent events, off the message path; [`handover`]: what a
//!   restart takes back from it, before the accept loop starts
//! - [`refuser`], [`stats_logger`]: small helper threads
//! - [`ratelimit`], [`stats`]: what the threads use

mod admission;
mod broadcaster;
mod client;
mod console;
mod dashboard;
mod error;
mod event;
mod handover;
mod json;
mod ratelimit;
mod reader;
mod recorder;
mod refuser;
mod registry;
mod reserve;
mod rooms;
mod session;
mod shared;
mod shutdown;
mod socket;
mod stats;
mod stats_logger;
mod token;

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, Shutdown, SocketAddr, TcpListener};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crossbeam_channel::{bounded, RecvTimeoutError, SendTimeoutError, Sender};

use crate::config::{ConsoleMode, ServerConfig};
use crate::protocol::lines;

use admission::Slot;
use client::ClientId;
use console::ConsoleIo;
pub use error::ServerError;
use event::{Event, QueueGauge, EVENTS_CAPACITY};
use recorder::recent::Recent;
use recorder::reload::Restored;
use recorder::{Entry, Record, TranscriptTarget};
use refuser::Refuser;
use reserve::Reserve;
use shared::Shared;
pub use shutdown::ShutdownHandle;
use socket::{is_transient_accept_error, LINGER};
use stats_logger::StatsLogger;

/// Pause after `accept` fails for lack of resources (out of descriptors), so
/// the loop retries a few times a second instead of spinning.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// A bound chat server, ready to [`run`](Server::run).
#[derive(Debug)]
pub struct Server {
    listener: TcpListener,
    local_addr: SocketAddr,
    shared: Arc<Shared>,
    transcript: Option<TranscriptTarget>,
    /// What the transcript gave back (a restart), until `run` hands it on.
    restored: Option<Restored>,
    console: Option<ConsoleIo>,
    /// The dashboard's listener (`--dashboard`), until `run` hands it over.
    dashboard: Option<TcpListener>,
    dashboard_addr: Option<SocketAddr>,
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
        let (dashboard, dashboard_addr) = match &config.dashboard {
            Some(asked) => {
                let (listener, addr) =
                    dashboard::bind(asked).map_err(|source| ServerError::Dashboard {
                        addr: asked.clone(),
                        source,
                    })?;
                (Some(listener), Some(addr))
            }
            None => (None, None),
        };
        let shared = Arc::new(Shared::new(config));
        let (transcript, restored) = match &shared.config.transcript {
            Some(path) => {
                let opened = TranscriptTarget::open(path, shared.config.room_log_bytes);
                let (target, restored) = opened.map_err(|source| ServerError::Transcript {
                    path: path.clone(),
                    source,
                })?;
                (Some(target), restored)
            }
            None => (None, Restored::default()),
        };
        Ok(Server {
            restored: Some(restored),
            listener,
            local_addr,
            shared,
            transcript,
            console: None,
            dashboard,
            dashboard_addr,
        })
    }

    /// The address actually bound (with the real port when `--port 0`).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The address the dashboard is served on, if `--dashboard` asked for it
    /// (with the real port when it asked for port 0).
    pub fn local_dashboard_addr(&self) -> Option<SocketAddr> {
        self.dashboard_addr
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

    /// Reads the teacher's console commands from this process's standard
    /// input, and answers on its standard output, as `mode` allows (see
    /// [`ConsoleMode`]: a background job never reads its terminal).
    pub fn with_stdin_console(mut self, mode: ConsoleMode) -> Server {
        if mode != ConsoleMode::Off {
            self.console = Some(ConsoleIo {
                input: Box::new(io::BufReader::new(io::stdin())),
                output: Box::new(io::stdout()),
                stdin_mode: Some(mode),
            });
        }
        self
    }

    /// Reads console commands from `input` and answers on `output` (for
    /// tests and embedding; the binary uses [`Server::with_stdin_console`]).
    pub fn with_console(
        mut self,
        input: impl io::BufRead + Send + 'static,
        output: impl io::Write + Send + 'static,
    ) -> Server {
        self.console = Some(ConsoleIo {
            input: Box::new(input),
            output: Box::new(output),
            stdin_mode: None,
        });
        self
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
        self.announce_start();
        let recent = self
            .dashboard
            .is_some()
            .then(|| Arc::new(Recent::default()));
        let (mut recorder, recorder_handle) = recorder::spawn(
            self.transcript.take(),
            recent.clone(),
            shared.stats.clone(),
            shared.log,
        )?;
        recorder.record(Record::now(Entry::Start {
            addr: self.local_addr.to_string(),
        }));
        let restart = handover::hand_over(&shared, self.restored.take().unwrap_or_default());
        let (events_tx, events_rx) = bounded(EVENTS_CAPACITY);
        let broadcaster = broadcaster::spawn(shared.clone(), events_rx, recorder, restart)?;
        let refuser = Refuser::spawn()?;
        let stats_logger = StatsLogger::spawn(&shared)?;
        let dashboard = match (self.dashboard.take(), recent) {
            (Some(listener), Some(recent)) => Some(dashboard::spawn(
                shared.clone(),
                listener,
                self.local_addr,
                recent,
                QueueGauge::new(&events_tx),
            )?),
            _ => None,
        };
        if let Some(io) = self.console.take() {
            console::spawn(
                shared.clone(),
                events_tx.clone(),
                self.shutdown_handle(),
                io,
            )?;
        }
        // Each reader holds a clone of `done_tx`; when the last one ends, the
        // channel disconnects. That is how shutdown waits for readers with a deadline.
        let (done_tx, done_rx) = bounded::<()>(0);

        let readers = self.accept_loop(&events_tx, &refuser, &done_tx);

        shared.log.always("shutting down");
        if let Some(dashboard) = dashboard {
            dashboard.stop();
        }
        stop_broadcaster(&shared, events_tx, broadcaster);
        drop(done_tx);
        // Clients normally close as soon as they read the goodbye and FIN; give
        // them the linger time, then cut off the rest (this also wakes readers).
        if let Err(RecvTimeoutError::Timeout) = done_rx.recv_timeout(LINGER) {
            close_every_connection(&shared);
        }
        for reader in readers {
            let _ = reader.join();
        }
        refuser.stop();
        if let Some(stats_logger) = stats_logger {
            stats_logger.stop();
        }
        if let Some(recorder) = recorder_handle {
            // The broadcaster is gone, and with it the recorder's input: it
            // writes out what it holds and ends, unless a pipe holds it up.
            recorder.finish_by(Instant::now() + LINGER);
        }
        shared.log.always("server stopped");
        Ok(())
    }

    /// Logs the address and any demo mode.
    fn announce_start(&mut self) {
        let log = self.shared.log;
        log.always(&format!("listening on {}", self.local_addr));
        if let Some(addr) = self.dashboard_addr {
            log.always(&format!("dashboard on http://{addr}/"));
        }
        for mode in self.shared.config.demo_modes() {
            log.always(&format!(
                "WARNING: demo mode '{mode}' is on; this server is deliberately broken"
            ));
        }
    }

    /// Accepts connections until shutdown, returning the reader threads to join.
    fn accept_loop(
        &self,
        events_tx: &Sender<Event>,
        refuser: &Refuser,
        done_tx: &Sender<()>,
    ) -> Vec<JoinHandle<()>> {
        let shared = &self.shared;
        let mut readers: Vec<JoinHandle<()>> = Vec::new();
        let mut next_id = 0u64;
        let mut reserve = Reserve::open();
        let mut failing = false;
        loop {
            let accepted = self.listener.accept();
            if shared.is_shutting_down() {
                break;
            }
            let (stream, peer) = match accepted {
                Ok(pair) => pair,
                Err(e) if is_transient_accept_error(&e) => continue,
                Err(e) => {
                    // Out of descriptors, most likely. Say so once per episode;
                    // meanwhile, turn waiting connections away with a line
                    // rather than leave them hanging, then retry.
                    if !failing {
                        shared.log.always(&format!(
                            "accept failed: {e}; turning new connections away \
                             ('server busy') until descriptors are free"
                        ));
                        failing = true;
                    }
                    if !reserve.refuse_one(&self.listener) {
                        thread::sleep(ACCEPT_BACKOFF);
                    }
                    continue;
                }
            };
            if failing {
                shared.log.always("accept is working again");
                failing = false;
            }
            let slot = match shared.admission.admit(peer.ip()) {
                Ok(slot) => slot,
                Err(refusal) => {
                    refuser.refuse(stream, refusal.line());
                    continue;
                }
            };
            next_id += 1;
            let stream = Arc::new(stream);
            let guard = ReaderGuard {
                _slot: slot,
                _done: done_tx.clone(),
            };
            let spawned = reader::spawn(
                shared.clone(),
                events_tx.clone(),
                ClientId(next_id),
                stream.clone(),
                peer,
                guard,
            );
            match spawned {
                Ok(handle) => readers.push(handle),
                Err(e) => {
                    shared
                        .log
                        .always(&format!("cannot start a reader thread: {e}"));
                    // The guard was dropped with the closure: the place is free.
                    if let Ok(stream) = Arc::try_unwrap(stream) {
                        refuser.refuse(stream, lines::server_busy());
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

/// Queues the shutdown event behind every accepted message and waits for the
/// broadcaster to deliver it all. A healthy broadcaster finishes within one
/// write timeout per stalled client. One stuck in a write with no deadline
/// (the `--no-write-timeout` demo) would never finish: past the deadline,
/// every socket is shut down, which makes its write fail so it can finish.
fn stop_broadcaster(
    shared: &Shared,
    events_tx: Sender<Event>,
    broadcaster: broadcaster::BroadcasterHandle,
) {
    let deadline =
        Instant::now() + shared.config.write_timeout.unwrap_or_default() + Duration::from_secs(2);
    let queued = !matches!(
        events_tx.send_deadline(Event::Shutdown, deadline),
        Err(SendTimeoutError::Timeout(_))
    );
    if !queued || !broadcaster.finished_by(deadline) {
        shared
            .log
            .always("the broadcaster is stuck writing; closing every connection");
        close_every_connection(shared);
        if !queued {
            let _ = events_tx.send(Event::Shutdown);
        }
    }
    drop(events_tx);
    broadcaster.join();
}

/// Shuts every registered socket down, which wakes any thread blocked on one.
fn close_every_connection(shared: &Shared) {
    for stream in shared.registry.all_streams() {
        let _ = stream.shutdown(Shutdown::Both);
    }
}

/// Held by each reader thread; dropping it (when the thread ends, or when it
/// could not start) frees the client's place and signals `done`.
#[derive(Debug)]
struct ReaderGuard {
    _slot: Slot,
    _done: Sender<()>,
}
