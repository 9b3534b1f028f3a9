//! The tool's connections: a [`Peer`] is one client whose incoming bytes a
//! recorder thread timestamps into an [`Inbox`]; a [`Crowd`] is many helper
//! connections that one thread keeps drained; bare connections ([`connect`],
//! [`first_line`]) knock once and read one answer. Only std sockets, so it runs on Windows.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// How long a connection attempt may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// Every read has this timeout, so a recorder notices it should stop even when
/// nothing arrives (on Windows, `shutdown` does not wake a blocked `recv`).
const READ_POLL: Duration = Duration::from_millis(50);
/// A write that takes longer means the server stopped reading us.
pub(crate) const WRITE_TIMEOUT: Duration = Duration::from_secs(2);
/// How long the server may take to welcome a new client or answer `/nick`.
const REPLY_TIMEOUT: Duration = Duration::from_secs(3);
/// How long a graceful close waits for the server's FIN.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(1);

/// One complete line a peer received, and when it arrived.
#[derive(Debug)]
pub(crate) struct Line {
    pub(crate) at: Instant,
    pub(crate) text: String,
}

/// Everything one peer has received so far.
#[derive(Debug, Default)]
pub(crate) struct Received {
    /// Complete lines, without their `\n`.
    pub(crate) lines: Vec<Line>,
    /// Bytes after the last `\n`: in chunk framing a message may never end.
    pub(crate) partial: Vec<u8>,
    /// The server closed the connection (or it failed).
    pub(crate) closed: bool,
}

impl Received {
    /// The lines received since `mark` (an index from [`Inbox::mark`]).
    pub(crate) fn since(&self, mark: usize) -> &[Line] {
        &self.lines[mark.min(self.lines.len())..]
    }

    /// Everything received since `mark` as one text, unfinished tail included.
    pub(crate) fn text_since(&self, mark: usize) -> String {
        let mut text = String::new();
        for line in self.since(mark) {
            text.push_str(&line.text);
            text.push('\n');
        }
        text.push_str(&String::from_utf8_lossy(&self.partial));
        text
    }

    /// True if a line since `mark` satisfies `wanted`.
    pub(crate) fn any_since(&self, mark: usize, wanted: impl Fn(&str) -> bool) -> bool {
        self.since(mark).iter().any(|line| wanted(&line.text))
    }
}

/// A peer's received bytes, shared between its recorder thread and the modes,
/// with a condition variable so a mode can wait for a line instead of sleeping.
#[derive(Debug, Default)]
pub(crate) struct Inbox {
    received: Mutex<Received>,
    changed: Condvar,
}

impl Inbox {
    fn lock(&self) -> MutexGuard<'_, Received> {
        // Poisoned only if a recorder panicked; what it stored is still valid.
        self.received.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn push(&self, mut data: &[u8]) {
        let now = Instant::now();
        let mut received = self.lock();
        while let Some(pos) = data.iter().position(|&b| b == b'\n') {
            let mut bytes = std::mem::take(&mut received.partial);
            bytes.extend_from_slice(&data[..pos]);
            received.lines.push(Line {
                at: now,
                text: String::from_utf8_lossy(&bytes).into_owned(),
            });
            data = &data[pos + 1..];
        }
        received.partial.extend_from_slice(data);
        drop(received);
        self.changed.notify_all();
    }

    fn close(&self) {
        self.lock().closed = true;
        self.changed.notify_all();
    }

    /// Index of the next line to arrive: "what arrives after now".
    pub(crate) fn mark(&self) -> usize {
        self.lock().lines.len()
    }

    /// Looks at what has arrived so far.
    pub(crate) fn read<T>(&self, look: impl FnOnce(&Received) -> T) -> T {
        look(&self.lock())
    }

    /// Waits until `done` is true of what has arrived, or `deadline` passes.
    /// Returns whether `done` became true.
    pub(crate) fn wait_until(
        &self,
        deadline: Instant,
        mut done: impl FnMut(&Received) -> bool,
    ) -> bool {
        let mut received = self.lock();
        loop {
            if done(&received) {
                return true;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            received = match self.changed.wait_timeout(received, left) {
                Ok((guard, _)) => guard,
                Err(e) => e.into_inner().0,
            };
        }
    }
}

/// The thread that reads a peer's socket into its inbox.
#[derive(Debug)]
struct Recorder {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<()>,
}

impl Recorder {
    fn start(name: &str, stream: Arc<TcpStream>, inbox: Arc<Inbox>) -> io::Result<Recorder> {
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = stop.clone();
        let thread = thread::Builder::new()
            .name(format!("recorder-{name}"))
            .spawn(move || {
                let mut buf = [0u8; 16 * 1024];
                while !stopped.load(Ordering::Acquire) {
                    match (&*stream).read(&mut buf) {
                        Ok(0) => break,
                        Ok(n) => inbox.push(&buf[..n]),
                        Err(e) if is_timeout(&e) || e.kind() == io::ErrorKind::Interrupted => {}
                        Err(_) => break,
                    }
                }
                inbox.close();
            })?;
        Ok(Recorder { stop, thread })
    }

    fn stop(self) {
        self.stop.store(true, Ordering::Release);
        let _ = self.thread.join();
    }
}

/// One connection to the server, with a recorder reading everything it gets.
#[derive(Debug)]
pub(crate) struct Peer {
    /// Who this client plays (`alice`, `sloth`): the name it asked for.
    pub(crate) role: String,
    /// The name the server knows this client by: `role`, unless the server
    /// is in chunk framing (then its address) or the name was taken.
    pub(crate) name: String,
    /// The first line the server sent (`* welcome ...`).
    pub(crate) welcome: String,
    stream: Arc<TcpStream>,
    inbox: Arc<Inbox>,
    recorder: Option<Recorder>,
}

impl Peer {
    /// Connects, waits for the welcome line, and asks for the name `wanted`
    /// (or `wanted2`, `wanted3`, ... if it is taken). Against a server in chunk
    /// framing, commands are relayed as chat, so the peer keeps the name the
    /// server gave it: its address.
    ///
    /// # Errors
    /// The server cannot be reached or does not answer in time.
    pub(crate) fn join(addr: SocketAddr, wanted: &str) -> io::Result<Peer> {
        let stream = connect(addr)?;
        let name = stream.local_addr()?.to_string();
        let stream = Arc::new(stream);
        let inbox = Arc::new(Inbox::default());
        let recorder = Recorder::start(wanted, stream.clone(), inbox.clone())?;
        let mut peer = Peer {
            role: wanted.to_string(),
            name,
            welcome: String::new(),
            stream,
            inbox,
            recorder: Some(recorder),
        };
        let deadline = Instant::now() + REPLY_TIMEOUT;
        if !peer
            .inbox
            .wait_until(deadline, |r| !r.lines.is_empty() || r.closed)
        {
            return Err(timed_out("no welcome line from the server"));
        }
        peer.welcome = peer.inbox.read(|r| {
            r.lines
                .first()
                .map(|line| line.text.clone())
                .unwrap_or_default()
        });
        if !peer.welcome.starts_with("* welcome ") {
            return Err(io::Error::other(format!(
                "expected a welcome line, got {:?}",
                peer.welcome
            )));
        }
        if !peer.welcome.contains("chunk framing") {
            peer.rename(wanted)?;
        }
        Ok(peer)
    }

    fn rename(&mut self, wanted: &str) -> io::Result<()> {
        for attempt in 1..=9 {
            let name = match attempt {
                1 => wanted.to_string(),
                n => format!("{wanted}{n}"),
            };
            let mark = self.inbox.mark();
            self.send(format!("/nick {name}\n").as_bytes())?;
            let (done, taken) = (
                format!("* you are now {name}"),
                format!("! name {name} is taken"),
            );
            let deadline = Instant::now() + REPLY_TIMEOUT;
            let mut outcome = None;
            self.inbox.wait_until(deadline, |r| {
                outcome = r
                    .since(mark)
                    .iter()
                    .find(|l| l.text == done || l.text == taken)
                    .map(|l| l.text == done);
                outcome.is_some() || r.closed
            });
            match outcome {
                Some(true) => {
                    self.name = name;
                    return Ok(());
                }
                Some(false) => continue,
                None => return Err(timed_out("no answer to /nick")),
            }
        }
        Err(io::Error::other(format!(
            "names {wanted}..{wanted}9 are taken"
        )))
    }

    /// Writes bytes as they are: no line end is added.
    ///
    /// # Errors
    /// The write failed or took longer than [`WRITE_TIMEOUT`].
    pub(crate) fn send(&self, bytes: &[u8]) -> io::Result<()> {
        (&*self.stream).write_all(bytes)
    }

    /// A second handle on the socket, for a thread that writes (a talker).
    pub(crate) fn stream(&self) -> Arc<TcpStream> {
        self.stream.clone()
    }

    /// What this peer has received.
    pub(crate) fn inbox(&self) -> &Inbox {
        &self.inbox
    }

    /// Stops reading the socket for good: from now on the server's writes pile
    /// up in the kernel's buffers, as with a client suspended by Ctrl-Z.
    pub(crate) fn stop_reading(&mut self) {
        if let Some(recorder) = self.recorder.take() {
            recorder.stop();
        }
    }

    /// True once at least one byte is waiting unread in this peer's socket
    /// (it only looks: the byte stays). Waits up to `timeout`.
    pub(crate) fn has_unread(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut byte = [0u8; 1];
        while Instant::now() < deadline {
            match self.stream.peek(&mut byte) {
                Ok(n) => return n > 0,
                Err(e) if is_timeout(&e) || e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return false,
            }
        }
        false
    }

    /// Leaves politely: half-closes, lets the server answer with its FIN, then
    /// closes. Nothing is left unread, so the close is not a reset.
    pub(crate) fn close(mut self) {
        if self.recorder.is_some() {
            let _ = self.stream.shutdown(Shutdown::Write);
            let deadline = Instant::now() + CLOSE_TIMEOUT;
            self.inbox.wait_until(deadline, |r| r.closed);
        }
        self.stop_reading();
    }

    /// Drops the connection on the spot. If data sits unread in the socket,
    /// the operating system sends a reset (RST) instead of a polite FIN.
    pub(crate) fn abort(mut self) {
        self.stop_reading();
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        self.stop_reading();
    }
}

/// Many helper connections that send one payload each, with one thread that
/// reads (and throws away) whatever the server sends them, so none of them
/// becomes a slow client itself.
#[derive(Debug)]
pub(crate) struct Crowd {
    members: Arc<Mutex<Vec<TcpStream>>>,
    stop: Arc<AtomicBool>,
    drainer: Option<JoinHandle<()>>,
}

impl Crowd {
    /// An empty crowd with its drain thread running.
    ///
    /// # Errors
    /// The thread cannot be started.
    pub(crate) fn new() -> io::Result<Crowd> {
        let members: Arc<Mutex<Vec<TcpStream>>> = Arc::default();
        let stop = Arc::new(AtomicBool::new(false));
        let (drained, stopped) = (members.clone(), stop.clone());
        let drainer = thread::Builder::new()
            .name("crowd-drainer".to_string())
            .spawn(move || {
                let mut buf = vec![0u8; 64 * 1024];
                while !stopped.load(Ordering::Acquire) {
                    let mut got = 0;
                    for stream in lock(&drained).iter() {
                        // Non-blocking: take what is there, never wait.
                        while let Ok(n @ 1..) = (&*stream).read(&mut buf) {
                            got += n;
                        }
                    }
                    if got == 0 {
                        thread::sleep(Duration::from_millis(2));
                    }
                }
            })?;
        Ok(Crowd {
            members,
            stop,
            drainer: Some(drainer),
        })
    }

    /// Connects one more helper and sends it `payload`.
    ///
    /// # Errors
    /// The connection or the write failed.
    pub(crate) fn add(&self, addr: SocketAddr, payload: &[u8]) -> io::Result<()> {
        let stream = TcpStream::connect_timeout(&addr, CONNECT_TIMEOUT)?;
        stream.set_write_timeout(Some(WRITE_TIMEOUT))?;
        (&stream).write_all(payload)?;
        stream.set_nonblocking(true)?;
        lock(&self.members).push(stream);
        Ok(())
    }

    /// How many helpers have connected.
    pub(crate) fn len(&self) -> usize {
        lock(&self.members).len()
    }

    /// Closes every helper politely (half-close, read to the server's FIN),
    /// within about a second in all.
    pub(crate) fn close(mut self) {
        self.stop_drainer();
        let members = std::mem::take(&mut *lock(&self.members));
        for stream in &members {
            let _ = stream.set_nonblocking(false);
        }
        hang_up(&members);
    }

    fn stop_drainer(&mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(drainer) = self.drainer.take() {
            let _ = drainer.join();
        }
    }
}

impl Drop for Crowd {
    fn drop(&mut self) {
        self.stop_drainer();
    }
}

/// Opens a bare connection (no recorder, no name), with the tool's timeouts.
///
/// # Errors
/// The server cannot be reached in time.
pub(crate) fn connect(addr: SocketAddr) -> io::Result<TcpStream> {
    let stream = TcpStream::connect_timeout(&addr, CONNECT_TIMEOUT)?;
    prepare(&stream)?;
    Ok(stream)
}

/// Sets the timeouts every bare connection reads and writes with.
///
/// # Errors
/// The socket refused the setting.
pub(crate) fn prepare(stream: &TcpStream) -> io::Result<()> {
    stream.set_nodelay(true)?;
    stream.set_read_timeout(Some(READ_POLL))?;
    stream.set_write_timeout(Some(WRITE_TIMEOUT))
}

/// The first line the server sends on a bare connection: its welcome, or why
/// it was refused. `None` if the server closed without a line. Reads a byte at
/// a time, so nothing after that line is taken from the socket.
///
/// # Errors
/// No complete line within the reply timeout, or the connection failed.
pub(crate) fn first_line(stream: &TcpStream) -> io::Result<Option<String>> {
    let deadline = Instant::now() + REPLY_TIMEOUT;
    let mut line = Vec::new();
    let mut byte = [0u8; 1];
    while Instant::now() < deadline {
        match (&*stream).read(&mut byte) {
            Ok(0) if line.is_empty() => return Ok(None),
            Ok(0) => break,
            Ok(_) if byte[0] == b'\n' => {
                return Ok(Some(String::from_utf8_lossy(&line).into_owned()))
            }
            Ok(_) => line.push(byte[0]),
            Err(e) if is_timeout(&e) || e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Err(timed_out(&format!(
        "no complete first line from the server (got {} bytes)",
        line.len()
    )))
}

/// Everything the server sends until it closes the connection, for a
/// connection it is expected to close. `None` if it did not close in time.
pub(crate) fn rest_until_close(stream: &TcpStream) -> Option<Vec<u8>> {
    let deadline = Instant::now() + REPLY_TIMEOUT;
    let mut rest = Vec::new();
    let mut buf = [0u8; 4096];
    while Instant::now() < deadline {
        match (&*stream).read(&mut buf) {
            Ok(0) => return Some(rest),
            Ok(n) => rest.extend_from_slice(&buf[..n]),
            Err(e) if is_timeout(&e) || e.kind() == io::ErrorKind::Interrupted => {}
            // A reset after the last line is still a close.
            Err(_) => return Some(rest),
        }
    }
    None
}

/// Closes bare connections politely: half-closes all of them, then reads
/// each to the server's FIN (throwing the data away), within about a second
/// in all. Reading to the end leaves nothing unread, so no close is a reset.
pub(crate) fn hang_up(streams: &[TcpStream]) {
    for stream in streams {
        let _ = stream.set_read_timeout(Some(READ_POLL));
        let _ = stream.shutdown(Shutdown::Write);
    }
    let deadline = Instant::now() + CLOSE_TIMEOUT;
    let mut buf = [0u8; 8 * 1024];
    for stream in streams {
        while Instant::now() < deadline {
            match (&*stream).read(&mut buf) {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) if is_timeout(&e) || e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => break,
            }
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

/// A read or write that gave up waiting (the error kind differs by platform).
pub(crate) fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

pub(crate) fn timed_out(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::TimedOut, what.to_string())
}
