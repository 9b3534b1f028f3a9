//! The reader thread of one client: registers it, reads its socket, cuts the
//! bytes into lines, runs commands, and hands everything for other people to
//! the broadcaster. It never writes to any socket itself.

use std::io::{self, Read};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::Sender;

use crate::broadcaster::Event;
use crate::command::{self, Command};
use crate::config::Framing;
use crate::protocol::{self, Frame, LineFramer};
use crate::ratelimit::TokenBucket;
use crate::registry::{ClientId, RenameError};
use crate::server::Shared;
use crate::transcript::Entry;

/// Bytes asked for per `read` from a busy client. Big enough that a fast
/// sender's lines arrive many at a time (and leave as one event).
const READ_CHUNK: usize = 8 * 1024;

/// Bytes asked for per `read` until a read fills them: most clients type a
/// line now and then, and a small buffer on the stack keeps what each idle
/// client costs down (the stack pages a reader touches are its memory). A
/// client whose read fills it gets a `READ_CHUNK` buffer on the heap.
const FIRST_READ: usize = 1024;

/// Chat bytes a reader gathers from one read before handing them on.
const MAX_PENDING: usize = 16 * 1024;

/// How long a closing connection may take to drain: the client's last line
/// (`* bye`) must reach it before the socket closes, and closing a socket with
/// unread input would send a reset that can destroy that line.
pub(crate) const LINGER: Duration = Duration::from_secs(1);

/// On Windows, `shutdown` does not wake a thread blocked in `recv`, so readers
/// there wake up this often to check whether the server is stopping. Unix
/// needs no polling: `shutdown(Both)` wakes the read at once.
#[cfg(windows)]
const READ_POLL: Option<Duration> = Some(Duration::from_millis(250));
#[cfg(not(windows))]
const READ_POLL: Option<Duration> = None;

/// How a connection ended, as far as its reader knows.
#[derive(Debug)]
enum End {
    /// The client closed its side (or was shut down by the server).
    Closed,
    /// The connection was reset or failed.
    Failed(String),
    /// The client typed `/quit`.
    Quit(Option<String>),
    /// The broadcaster is gone: the server is stopping.
    ServerStopping,
}

/// Runs one client's reader until its connection ends, then cleans up.
pub(crate) fn run(
    shared: Arc<Shared>,
    events_tx: Sender<Event>,
    id: ClientId,
    stream: Arc<TcpStream>,
    peer: SocketAddr,
) {
    // Nagle's algorithm would hold small lines back for up to one round trip.
    let _ = stream.set_nodelay(true);
    // The broadcaster writes with this deadline (see broadcaster::write_all_before).
    let _ = stream.set_write_timeout(shared.config.write_timeout);
    let _ = stream.set_read_timeout(READ_POLL);

    let name: Arc<str> = Arc::from(peer.to_string());
    shared.registry.insert(id, name.clone(), stream.clone());
    shared.log.info(&format!("{name} connected"));
    let mut session = Session {
        shared: shared.clone(),
        events_tx,
        id,
        name,
        pending: Vec::new(),
        bucket: (shared.config.rate_limit > 0)
            .then(|| TokenBucket::new(shared.config.rate_limit, Instant::now())),
        end: None,
    };
    let joined = Event::Joined {
        id,
        name: session.name.clone(),
    };
    let end = if session.send(joined) {
        session.read_loop(&stream)
    } else {
        End::ServerStopping
    };
    session.finish(&stream, end);
}

/// One client's state while its reader runs.
#[derive(Debug)]
struct Session {
    shared: Arc<Shared>,
    events_tx: Sender<Event>,
    id: ClientId,
    /// The current name: the reader formats this client's lines, and renames
    /// happen on this thread, so lines sent before `/nick` carry the old name.
    name: Arc<str>,
    /// Formatted chat lines not yet handed to the broadcaster.
    pending: Vec<u8>,
    bucket: Option<TokenBucket>,
    /// Set when a line ends the session (`/quit`) or the broadcaster is gone.
    end: Option<End>,
}

impl Session {
    /// Reads until the connection ends. The loop a student reads first:
    /// read, frame, handle each line, hand the chat on.
    fn read_loop(&mut self, stream: &TcpStream) -> End {
        let mut framer = LineFramer::new(self.shared.config.max_line_bytes);
        let mut small = [0u8; FIRST_READ];
        let mut big: Vec<u8> = Vec::new();
        loop {
            let buf: &mut [u8] = if big.is_empty() { &mut small } else { &mut big };
            let n = match (&*stream).read(buf) {
                Ok(0) => return End::Closed,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if is_timeout(&e) => {
                    if self.shared.is_shutting_down() {
                        return End::ServerStopping;
                    }
                    continue;
                }
                Err(e) => return End::Failed(describe(&e)),
            };
            match self.shared.config.framing {
                Framing::Lines => framer.push(&buf[..n], |frame| self.on_frame(frame)),
                // DEMO MODE (--framing chunks): relay the raw chunk, as the Node
                // tutorial does. Whatever `read` returned, half a line or ten
                // lines, goes out as one "message". Compare with the line above.
                Framing::Chunks => self.on_chunk(&buf[..n]),
            }
            if n == buf.len() && big.is_empty() {
                big = vec![0; READ_CHUNK];
            }
            self.flush_pending();
            if let Some(end) = self.end.take() {
                return end;
            }
        }
    }

    fn on_frame(&mut self, frame: Frame<'_>) {
        if self.end.is_some() {
            return; // After /quit, the rest of the read is ignored.
        }
        match frame {
            Frame::Line(bytes) => {
                let text = protocol::clean_line(bytes);
                if !text.is_empty() {
                    self.throttle();
                    self.on_line(&text);
                }
            }
            Frame::TooLong => {
                self.shared.stats.lines_too_long.fetch_add(1, Relaxed);
                let max = self.shared.config.max_line_bytes;
                self.reply(protocol::error(&format!("line too long (max {max} bytes)")));
            }
        }
    }

    /// Waits, if the client is over its rate limit. The line is delayed, never
    /// dropped; while this thread sleeps it does not read, so the kernel's
    /// buffers fill and TCP slows the sender down.
    fn throttle(&mut self) {
        let Some(bucket) = &mut self.bucket else {
            return;
        };
        let wait = bucket.take(Instant::now());
        if !wait.is_zero() {
            // Lines already accepted should not wait with this one.
            self.flush_pending();
            std::thread::sleep(wait);
        }
    }

    fn on_line(&mut self, text: &str) {
        let command = match Command::parse(text) {
            Ok(command) => command,
            Err(e) => return self.reply(protocol::error(&e.to_string())),
        };
        let log = self.shared.log;
        match command {
            Command::Chat(text) => {
                if log.verbose() {
                    log.info(&format!("{}: {text}", self.name));
                }
                protocol::push_chat(&mut self.pending, &self.name, text);
                self.shared.stats.lines_relayed.fetch_add(1, Relaxed);
                if self.pending.len() >= MAX_PENDING {
                    self.flush_pending();
                }
            }
            Command::Nick(new) => self.rename(new),
            Command::Who => {
                let names = self.shared.registry.names();
                let list = names.iter().map(|n| &**n).collect::<Vec<_>>().join(", ");
                self.reply(protocol::notice(&format!(
                    "online ({}): {list}",
                    names.len()
                )));
            }
            Command::Msg { to, text } => match self.shared.registry.find(to) {
                Some((to_id, to_name)) => {
                    self.flush_pending();
                    self.send(Event::Direct {
                        to: to_id,
                        line: protocol::private(&self.name, text),
                        entry: Some(Entry::Private {
                            from: self.name.to_string(),
                            to: to_name.to_string(),
                            text: text.to_string(),
                        }),
                    });
                }
                None => self.reply(protocol::error(&format!("no such user {to}"))),
            },
            Command::Me(text) => {
                self.flush_pending();
                self.send(Event::Notice {
                    except: self.id,
                    line: protocol::notice(&format!("{} {text}", self.name)),
                    entry: Entry::Action {
                        from: self.name.to_string(),
                        text: text.to_string(),
                    },
                });
            }
            Command::Help => {
                let lines: Vec<u8> = command::HELP
                    .iter()
                    .flat_map(|line| protocol::notice(line))
                    .collect();
                self.reply(lines);
            }
            Command::Stats => self.reply(protocol::notice(&self.shared.stats_line())),
            Command::Quit(reason) => self.end = Some(End::Quit(reason.map(str::to_string))),
        }
    }

    fn rename(&mut self, new: &str) {
        if !command::is_valid_name(new) {
            let rule = command::NAME_RULE;
            return self.reply(protocol::error(&format!("invalid name: {rule}")));
        }
        match self.shared.registry.rename(self.id, new) {
            Ok(old) => {
                self.name = Arc::from(new);
                self.shared
                    .log
                    .info(&format!("{old} is now known as {new}"));
                self.flush_pending();
                self.send(Event::Notice {
                    except: self.id,
                    line: protocol::notice(&format!("{old} is now known as {new}")),
                    entry: Entry::Rename {
                        from: old.to_string(),
                        to: new.to_string(),
                    },
                });
                self.reply(protocol::notice(&format!("you are now {new}")));
            }
            Err(RenameError::Taken) => self.reply(protocol::error(&format!("name {new} is taken"))),
            Err(RenameError::Unchanged) => {
                self.reply(protocol::notice(&format!("you are already {new}")))
            }
            Err(RenameError::Gone) => {}
        }
    }

    /// DEMO MODE (--framing chunks): one read chunk becomes one message, split
    /// or merged however TCP happened to deliver it. Control characters are
    /// still removed, but nothing is reassembled and no newline is added.
    fn on_chunk(&mut self, chunk: &[u8]) {
        // Commands keep working in this mode: a chunk that starts with `/` is
        // read as lines, so `/nick`, `/who` and `/quit` behave as usual.
        if chunk.starts_with(b"/") {
            for line in chunk.split(|&b| b == b'\n') {
                self.on_frame(Frame::Line(line));
            }
            return;
        }
        let text = String::from_utf8_lossy(chunk);
        let text = protocol::strip_for_terminal(&text);
        if text.trim().is_empty() {
            return;
        }
        self.throttle();
        let log = self.shared.log;
        if log.verbose() {
            log.info(&format!("{}: {}", self.name, text.trim_end()));
        }
        self.pending
            .extend_from_slice(format!("> {}: {text}", self.name).as_bytes());
        self.shared.stats.lines_relayed.fetch_add(1, Relaxed);
    }

    /// Hands the gathered chat lines to the broadcaster as one event.
    fn flush_pending(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        let bytes = std::mem::replace(&mut self.pending, Vec::with_capacity(256));
        let event = Event::Chat {
            from: self.id,
            name: self.name.clone(),
            bytes,
        };
        self.send(event);
    }

    /// Sends a reply to this client alone, through the broadcaster like all writes.
    fn reply(&mut self, line: Vec<u8>) {
        self.flush_pending();
        self.send(Event::Direct {
            to: self.id,
            line,
            entry: None,
        });
    }

    /// Hands an event to the broadcaster, waiting if the channel is full.
    /// Returns false, and ends the session, if the broadcaster has stopped.
    fn send(&mut self, event: Event) -> bool {
        if self.events_tx.send(event).is_ok() {
            return true;
        }
        self.end.get_or_insert(End::ServerStopping);
        false
    }

    /// Says goodbye through the broadcaster, then lets the connection drain and close.
    fn finish(mut self, stream: &TcpStream, end: End) {
        self.flush_pending();
        let (reason, farewell, drain) = match &end {
            End::Closed => (None, None, false),
            End::Failed(why) => (Some(why.clone()), None, false),
            End::Quit(reason) => (reason.clone(), Some(protocol::notice("bye")), true),
            End::ServerStopping => (None, None, true),
        };
        let log_reason = reason
            .as_deref()
            .map(|r| format!(" ({r})"))
            .unwrap_or_default();
        let leave = Event::Leave {
            id: self.id,
            reason,
            farewell,
        };
        if self.events_tx.send(leave).is_err() {
            // No broadcaster: the server is stopping, so leave without a notice.
            self.shared.registry.remove(self.id);
        }
        self.shared
            .log
            .info(&format!("{} disconnected{log_reason}", self.name));
        if drain {
            linger(stream);
        }
    }
}

/// Reads and discards until the peer closes or [`LINGER`] passes, so the last
/// lines written to it are not destroyed by a reset when the socket closes.
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

fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

/// A short reason for `* NAME left (REASON)`.
fn describe(e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::ConnectionReset | io::ErrorKind::ConnectionAborted => {
            "connection reset".to_string()
        }
        _ => e.to_string(),
    }
}
