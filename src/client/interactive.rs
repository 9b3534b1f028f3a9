//! Interactive mode (Unix, a terminal on both sides): a `keys` thread and a
//! `socket` thread feed this one, which alone draws: the editor's input line,
//! incoming lines above it, and your own lines echoed.

use std::fs::File;
use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::ops::ControlFlow;
use std::os::fd::AsFd;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use crossbeam_channel::{select, Receiver, RecvTimeoutError, Sender};

use super::incoming::{read_lines, Ended};
use super::names::{refusal, NameEvent, NameTracker};
use super::render::Painter;
use crate::term::{Action, Editor, RawMode, Width};

/// What the `keys` and `socket` threads tell the drawing thread.
#[derive(Debug)]
enum Event {
    /// Bytes typed (any piece of a key; the editor's decoder reassembles).
    Keys(Vec<u8>),
    /// The keyboard is gone (the terminal was closed).
    KeysEnded,
    /// A line from the server, cleaned.
    Line(String),
    /// The connection ended; no more events from the socket.
    Closed(Ended),
}

/// What a batch of events asks of the drawing loop, beyond drawing.
#[derive(Debug)]
enum Flow {
    /// The session is over.
    End(Ending),
    /// Ctrl-Z.
    Suspend,
}

/// Why the drawing loop stopped.
#[derive(Debug)]
enum Ending {
    /// The server closed the connection, or it failed.
    Server(Ended),
    /// Ctrl-D, Ctrl-C, a closed terminal, or SIGTERM.
    User,
}

/// Events waiting for the drawing thread at most. A server faster than the
/// terminal then waits in TCP, not in this process's memory.
const EVENTS_CAPACITY: usize = 1024;
/// Lines printed before the input line is drawn again, at most: a burst is
/// drawn in batches rather than redrawing the input line after every line.
const BATCH: usize = 256;
/// How often an idle client checks whether the terminal was resized.
const RESIZE_CHECK: Duration = Duration::from_secs(1);
/// After you quit, how long the server gets to close its side.
const CLOSE_WAIT: Duration = Duration::from_secs(1);

/// Runs an interactive session on a connected `stream` until the server
/// closes or the user quits. `raw` is the switched terminal: it is restored
/// before this returns, on every path (it is dropped), and also on a panic.
/// `stop` receives a message on SIGTERM, SIGHUP or a SIGINT sent by `kill`.
///
/// # Errors
/// Writing to the terminal failed.
pub(crate) fn session(
    stream: Arc<TcpStream>,
    raw: RawMode,
    stop: Receiver<()>,
    painter: Painter,
    tracker: NameTracker,
) -> io::Result<()> {
    let (events_tx, events_rx) = crossbeam_channel::bounded(EVENTS_CAPACITY);
    spawn_socket_reader(stream.clone(), events_tx.clone())?;
    spawn_key_reader(events_tx)?;
    let mut screen = Screen {
        raw,
        editor: Editor::new(),
        tracker,
        painter,
        width: Width::new(),
        out: terminal_output()?,
        stream: stream.clone(),
    };
    let ending = screen.run(&events_rx, stop);
    // Leave the row the input line was on empty, for the shell's prompt.
    let width = screen.width.get();
    let erase = screen.editor.erase(width);
    let Screen {
        raw,
        tracker,
        mut out,
        ..
    } = screen;
    let cleared = out.write_all(erase.as_bytes()).and_then(|()| out.flush());
    drop(raw);
    let ended = match ending? {
        Ending::Server(ended) => Some(ended),
        Ending::User => {
            // Like plain mode at the end of input: half-close, so the server
            // says goodbye to the others, and show what it still sends.
            let _ = stream.shutdown(Shutdown::Write);
            wait_for_close(&events_rx, painter, &tracker, &mut out)?
        }
    };
    cleared?;
    if let Some(Ended::Failed(e)) = ended {
        eprintln!("Connection error: {e}");
    }
    eprintln!("Disconnected from the server.");
    Ok(())
}

/// The terminal, written directly. `io::stdout()` is line-buffered: it
/// would write a message and the redraw after it in two pieces, and the
/// terminal could show the moment in between. A `File` on the same descriptor
/// writes each frame whole, in one system call.
fn terminal_output() -> io::Result<File> {
    Ok(File::from(io::stdout().as_fd().try_clone_to_owned()?))
}

/// The socket thread: the server's lines, then `Closed`.
fn spawn_socket_reader(stream: Arc<TcpStream>, events_tx: Sender<Event>) -> io::Result<()> {
    thread::Builder::new()
        .name("socket".to_string())
        .spawn(move || {
            let ended = read_lines(&stream, |line| {
                if events_tx.send(Event::Line(line)).is_ok() {
                    ControlFlow::Continue(())
                } else {
                    ControlFlow::Break(())
                }
            });
            let _ = events_tx.send(Event::Closed(ended));
        })?;
    Ok(())
}

/// The keys thread: raw bytes from the terminal as they are typed. Nobody
/// joins it: it may sit in a blocking read of stdin when the session ends,
/// and the process ends without it.
fn spawn_key_reader(events_tx: Sender<Event>) -> io::Result<()> {
    thread::Builder::new()
        .name("keys".to_string())
        .spawn(move || {
            let mut buf = [0u8; 1024];
            loop {
                match io::stdin().read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => {
                        if events_tx.send(Event::Keys(buf[..n].to_vec())).is_err() {
                            return;
                        }
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(_) => break,
                }
            }
            let _ = events_tx.send(Event::KeysEnded);
        })?;
    Ok(())
}

/// Everything the drawing thread owns.
#[derive(Debug)]
struct Screen {
    /// The switched terminal; restored when this is dropped.
    raw: RawMode,
    editor: Editor,
    tracker: NameTracker,
    painter: Painter,
    width: Width,
    out: File,
    stream: Arc<TcpStream>,
}

impl Screen {
    fn run(&mut self, events: &Receiver<Event>, stop: Receiver<()>) -> io::Result<Ending> {
        let mut stop = stop;
        self.redraw(&[])?;
        loop {
            let mut stop_gone = false;
            let first = select! {
                recv(events) -> event => event.ok(),
                recv(stop) -> signal => match signal {
                    Ok(()) => return Ok(Ending::User),
                    Err(_) => {
                        // No signal handler (installing it failed): stop
                        // listening rather than reading a closed channel forever.
                        stop_gone = true;
                        None
                    }
                },
                default(RESIZE_CHECK) => {
                    if self.width.read_now() {
                        self.redraw(&[])?;
                    }
                    continue;
                }
            };
            if stop_gone {
                stop = crossbeam_channel::never();
                continue;
            }
            // Both threads hold a sender until they send their last event,
            // so a closed channel cannot happen before `Closed`; if it did,
            // the connection is gone all the same.
            let Some(first) = first else {
                return Ok(Ending::Server(Ended::Closed));
            };
            let mut above = Vec::new();
            let mut flow = self.handle(first, &mut above);
            while flow.is_none() && above.len() < BATCH {
                match events.try_recv() {
                    Ok(event) => flow = self.handle(event, &mut above),
                    Err(_) => break,
                }
            }
            self.redraw(&above)?;
            match flow {
                Some(Flow::End(ending)) => return Ok(ending),
                Some(Flow::Suspend) => self.suspend()?,
                None => {}
            }
        }
    }

    /// Applies one event; lines to print above the input line go to `above`.
    /// Keys typed after Ctrl-Z in the same read are dropped.
    fn handle(&mut self, event: Event, above: &mut Vec<String>) -> Option<Flow> {
        match event {
            Event::Keys(bytes) => {
                for action in self.editor.feed(&bytes) {
                    match action {
                        Action::Send(line) => self.send(line, above),
                        Action::Quit => return Some(Flow::End(Ending::User)),
                        Action::Suspend => return Some(Flow::Suspend),
                    }
                }
            }
            Event::KeysEnded => return Some(Flow::End(Ending::User)),
            Event::Line(line) => {
                let event = self.tracker.line(&line);
                above.push(self.painter.incoming(&line, self.tracker.name()));
                match event {
                    Some(NameEvent::Changed(name)) => {
                        let (plain, styled) = self.painter.prompt(&name);
                        self.editor.set_prompt(&plain, &styled);
                    }
                    Some(NameEvent::Refused { name, reason }) => {
                        above.push(self.painter.status(&refusal(&name, &reason)))
                    }
                    None => {}
                }
            }
            Event::Closed(ended) => return Some(Flow::End(Ending::Server(ended))),
        }
        None
    }

    /// Sends a line and echoes it. A failed write is not reported here: the
    /// socket thread sees the connection end and the session ends with it.
    fn send(&mut self, line: String, above: &mut Vec<String>) {
        let _ = (&*self.stream).write_all(format!("{line}\n").as_bytes());
        self.tracker.sent(&line);
        let me = self.tracker.name().unwrap_or("you");
        above.push(self.painter.echo(&line, me));
    }

    /// Ctrl-Z: erase the input line, stop until `fg`, then draw it again.
    /// Lines that arrive meanwhile wait in the channel (and then in TCP).
    fn suspend(&mut self) -> io::Result<()> {
        let erase = self.editor.erase(self.width.get());
        self.out.write_all(erase.as_bytes())?;
        self.raw.suspend()?;
        self.width.read_now();
        self.redraw(&[])
    }

    fn redraw(&mut self, above: &[String]) -> io::Result<()> {
        let width = self.width.get();
        let bytes = if above.is_empty() {
            self.editor.draw(width)
        } else {
            self.editor.print_above(above, width)
        };
        self.out.write_all(bytes.as_bytes())?;
        self.out.flush()
    }
}

/// After the user quit: prints what the server still sends, plainly (the
/// terminal is restored), until it closes or [`CLOSE_WAIT`] passes.
fn wait_for_close(
    events: &Receiver<Event>,
    painter: Painter,
    tracker: &NameTracker,
    out: &mut File,
) -> io::Result<Option<Ended>> {
    let deadline = Instant::now() + CLOSE_WAIT;
    loop {
        match events.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok(Event::Line(line)) => {
                writeln!(out, "{}", painter.incoming(&line, tracker.name()))?;
            }
            Ok(Event::Closed(ended)) => return Ok(Some(ended)),
            Ok(Event::Keys(_) | Event::KeysEnded) => {}
            Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => return Ok(None),
        }
    }
}
