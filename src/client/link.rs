//! Carries out what a [`Session`] decides, on sockets and threads: writes its
//! lines, starts a `socket` thread for each connection and a `connect`
//! thread for each attempt, and hands the rest (what to show, what to ask,
//! how it ended) back to the mode that drives it. Both modes use it.

use std::io::{self, Write};
use std::net::{Shutdown, TcpStream};
use std::ops::ControlFlow;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant, SystemTime};

use crossbeam_channel::Sender;

use super::connect::connect_within;
use super::error::ClientError;
use super::incoming::{read_lines, Ended, ServerLine};
use super::session::{Do, Session};
use crate::config::ClientConfig;

/// What the network threads tell the thread that drives the session. Each
/// mode wraps it in its own events (`From<NetEvent>`).
#[derive(Debug)]
pub(crate) enum NetEvent {
    /// A line from the server, cleaned.
    Line(ServerLine),
    /// The connection ended; no more lines from it.
    Closed(Ended),
    /// An attempt to connect again succeeded or failed.
    Connected(io::Result<TcpStream>),
}

/// The session and its connection.
///
/// One connection at a time: a new one is made only after the last one's
/// `socket` thread has sent [`NetEvent::Closed`], so no event of an old
/// connection can arrive while a new one is open.
#[derive(Debug)]
pub(crate) struct Link<E> {
    session: Session,
    stream: Option<Arc<TcpStream>>,
    host: String,
    port: u16,
    events_tx: Sender<E>,
    /// You half-closed this connection (plain mode's end of input): the
    /// server's close is then the end you asked for.
    half_closed: bool,
    /// The read error that ended the session, if one did: said even when
    /// the session ended as you wished (a reset after you quit).
    final_error: Option<String>,
    /// A write to this connection failed. A socket reports a reset once,
    /// to whichever call comes first: when it is a line being sent, the
    /// `socket` thread's read then finds only the end of the stream, and
    /// the reset would go untold.
    write_error: Option<io::Error>,
}

impl<E: From<NetEvent> + Send + 'static> Link<E> {
    /// Starts the session on its first connection, `stream`; the threads
    /// send their events on `events_tx`. Returns what the mode must do first.
    ///
    /// # Errors
    /// The `socket` thread cannot be started.
    pub(crate) fn start(
        config: &ClientConfig,
        stream: TcpStream,
        events_tx: Sender<E>,
    ) -> io::Result<(Link<E>, Vec<Do>)> {
        let mut link = Link {
            session: Session::new(config.name.clone(), config.key.clone(), config.reconnect),
            stream: None,
            host: config.host.clone(),
            port: config.port,
            events_tx,
            half_closed: false,
            final_error: None,
            write_error: None,
        };
        let first = link.open(stream)?;
        Ok((link, first))
    }

    /// The session, for what it knows (your name, whether lines can be sent).
    pub(crate) fn session(&self) -> &Session {
        &self.session
    }

    /// Handles an event of the network threads; returns what the mode must do.
    ///
    /// # Errors
    /// A thread cannot be started.
    pub(crate) fn net(&mut self, event: NetEvent, now: Instant) -> io::Result<Vec<Do>> {
        let dos = match event {
            NetEvent::Line(line) => self.session.line(&line),
            NetEvent::Closed(ended) => {
                self.stream = None;
                let write_error = self.write_error.take();
                let failure = match ended {
                    Ended::Failed(e) => Some(e),
                    Ended::Closed | Ended::Stopped => write_error,
                };
                let error = failure.as_ref().map(ToString::to_string);
                let you_quit = std::mem::take(&mut self.half_closed);
                let dos = self.session.closed(failure, you_quit, now);
                if dos.iter().any(|d| matches!(d, Do::End(_))) {
                    self.final_error = error;
                }
                dos
            }
            NetEvent::Connected(Ok(stream)) => return self.open(stream),
            NetEvent::Connected(Err(e)) => self.session.connect_failed(&e, now),
        };
        self.carry_out(dos)
    }

    /// Time passed: see [`Session::tick`].
    ///
    /// # Errors
    /// A thread cannot be started.
    pub(crate) fn tick(&mut self, now: Instant) -> io::Result<Vec<Do>> {
        let dos = self.session.tick(now);
        self.carry_out(dos)
    }

    /// The clocks as read now: see [`Session::clock`].
    ///
    /// # Errors
    /// A thread cannot be started.
    pub(crate) fn clock(&mut self, wall: SystemTime, now: Instant) -> io::Result<Vec<Do>> {
        let dos = self.session.clock(wall, now);
        self.carry_out(dos)
    }

    /// The user typed the class code the session asked for.
    ///
    /// # Errors
    /// A thread cannot be started.
    pub(crate) fn code(&mut self, code: String) -> io::Result<Vec<Do>> {
        let dos = self.session.code(code);
        self.carry_out(dos)
    }

    /// Sends a line the user typed (without its newline), if the session
    /// can take it now. Bytes, not text: a line that is not UTF-8 goes out
    /// as it is, for the server to judge.
    ///
    /// # Errors
    /// Not connected (or a resume or the code is awaited), or the write
    /// failed: either way, the line did not leave and may be sent later.
    pub(crate) fn send(&mut self, line: &[u8]) -> io::Result<()> {
        let stream = self
            .stream
            .as_ref()
            .filter(|_| self.session.can_send())
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotConnected, "not connected"))?;
        let mut bytes = Vec::with_capacity(line.len() + 1);
        bytes.extend_from_slice(line);
        bytes.push(b'\n');
        if let Err(e) = (&**stream).write_all(&bytes) {
            // Kept for the session's end, and a copy returned.
            let told = io::Error::new(e.kind(), e.to_string());
            self.write_error.get_or_insert(e);
            return Err(told);
        }
        self.session.typed(&String::from_utf8_lossy(line));
        Ok(())
    }

    /// You are done (the input ended, or you quit): half-closes the
    /// connection, so the server says goodbye to the others and closes.
    /// False if there was no connection to close (you quit while the client
    /// was reconnecting).
    pub(crate) fn half_close(&mut self) -> bool {
        let Some(stream) = &self.stream else {
            return false;
        };
        let _ = stream.shutdown(Shutdown::Write);
        self.half_closed = true;
        true
    }

    /// The read error that ended the session, if one did (a reset): plain
    /// mode says it even when the session ended as you wished, since a
    /// lab shows what a reset looks like.
    pub(crate) fn final_error(&self) -> Option<&str> {
        self.final_error.as_deref()
    }

    /// When [`Link::tick`] must be called next, if ever.
    pub(crate) fn wake_at(&self) -> Option<Instant> {
        self.session.wake_at()
    }

    /// Starts a `socket` thread on a new connection and tells the session.
    fn open(&mut self, stream: TcpStream) -> io::Result<Vec<Do>> {
        let stream = Arc::new(stream);
        spawn_socket_reader(stream.clone(), self.events_tx.clone())?;
        self.stream = Some(stream);
        self.half_closed = false;
        self.write_error = None;
        let dos = self.session.opened();
        self.carry_out(dos)
    }

    /// Does what is for the network; returns the rest for the mode.
    fn carry_out(&mut self, dos: Vec<Do>) -> io::Result<Vec<Do>> {
        let mut rest = Vec::with_capacity(dos.len());
        for d in dos {
            match d {
                // A failed write is not reported here: the `socket` thread
                // sees the connection end, and the session hears of it
                // (with this error, if the read finds only the end).
                Do::Send(line) => {
                    if let Some(stream) = &self.stream {
                        if let Err(e) = (&**stream).write_all(format!("{line}\n").as_bytes()) {
                            self.write_error.get_or_insert(e);
                        }
                    }
                }
                Do::Connect(timeout) => self.spawn_connector(timeout)?,
                // The `socket` thread sees the end, and the session hears
                // of it as of any close.
                Do::HangUp => {
                    if let Some(stream) = &self.stream {
                        let _ = stream.shutdown(Shutdown::Both);
                    }
                }
                Do::End(ending) => {
                    // A connection still open (a resume that never came) is
                    // of no use any more; its thread ends with it.
                    if let Some(stream) = self.stream.take() {
                        let _ = stream.shutdown(Shutdown::Both);
                    }
                    rest.push(Do::End(ending));
                }
                other => rest.push(other),
            }
        }
        Ok(rest)
    }

    /// Starts a `connect` thread: a connection may take seconds to fail,
    /// and the user goes on typing meanwhile.
    fn spawn_connector(&self, timeout: Duration) -> io::Result<()> {
        let (host, port) = (self.host.clone(), self.port);
        let events_tx = self.events_tx.clone();
        thread::Builder::new()
            .name("connect".to_string())
            .spawn(move || {
                let result = connect_within(&host, port, timeout).map_err(|e| match e {
                    ClientError::Connect { source, .. } => source,
                    ClientError::Output(source) => source,
                });
                let _ = events_tx.send(NetEvent::Connected(result).into());
            })?;
        Ok(())
    }
}

/// The `socket` thread of one connection: the server's lines, then `Closed`.
fn spawn_socket_reader<E: From<NetEvent> + Send + 'static>(
    stream: Arc<TcpStream>,
    events_tx: Sender<E>,
) -> io::Result<()> {
    thread::Builder::new()
        .name("socket".to_string())
        .spawn(move || {
            let ended = read_lines(&stream, |line| {
                if events_tx.send(NetEvent::Line(line).into()).is_ok() {
                    ControlFlow::Continue(())
                } else {
                    ControlFlow::Break(())
                }
            });
            let _ = events_tx.send(NetEvent::Closed(ended).into());
        })?;
    Ok(())
}
