//! Interactive mode (Unix, a terminal on both sides): a `keys` thread and a
//! `socket` thread feed this one, which alone draws on the [`Screen`]. One
//! connection's loop returns how it ended; the screen outlives it.

use std::fs::File;
use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::ops::ControlFlow;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use crossbeam_channel::{select, Receiver, RecvTimeoutError, Sender};

use super::completion::ChatCompleter;
use super::ending::{Ending, LastWord};
use super::incoming::{read_lines, Ended};
use super::names::{refusal, NameEvent, NameTracker};
use super::people::People;
use super::render::Painter;
use super::screen::Screen;
use crate::term::{Action, RawMode};

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
    /// The connection's loop is over.
    End(Stop),
    /// Ctrl-Z.
    Suspend,
    /// Ctrl-L: draw the whole screen again.
    Redraw,
}

/// Why one connection's loop stopped.
#[derive(Debug)]
enum Stop {
    /// The server closed the connection, or it failed.
    Closed(Ended),
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
/// closes or the user quits, and returns how it ended. `raw` is the switched
/// terminal: it is restored before this returns, on every path (it is
/// dropped), and also on a panic. `stop` receives a message on SIGTERM,
/// SIGHUP or a SIGINT sent by `kill`.
///
/// A line typed and not sent stays on the screen at the end, with a note.
///
/// # Errors
/// Writing to the terminal failed.
pub(crate) fn session(
    stream: Arc<TcpStream>,
    raw: RawMode,
    stop: Receiver<()>,
    painter: Painter,
    tracker: NameTracker,
) -> io::Result<Ending> {
    let (events_tx, events_rx) = crossbeam_channel::bounded(EVENTS_CAPACITY);
    spawn_key_reader(events_tx.clone())?;
    let mut screen = Screen::new(raw, painter)?;
    // A client that reconnects would keep the screen (and the half-typed
    // line in it) and run a new conversation on the same channel.
    let mut talk = Conversation::start(stream, tracker, events_tx)?;
    let (you_quit, failure) = match talk.run(&mut screen, &events_rx, stop) {
        Ok(Stop::User) => (true, None),
        Ok(Stop::Closed(Ended::Failed(e))) => (false, Some(e)),
        Ok(Stop::Closed(Ended::Closed | Ended::Stopped)) => (false, None),
        // The terminal cannot be written: restore it (dropping the screen
        // does) and say so, without trying to draw anything more.
        Err(e) => return Err(e),
    };
    let Conversation {
        stream,
        tracker,
        last_word,
        ..
    } = talk;
    let ending = last_word.ending(you_quit, failure);
    let mut out = screen.close(unsent_note(&ending))?;
    if you_quit {
        // Like plain mode at the end of input: half-close, so the server
        // says goodbye to the others, and show what it still sends.
        let _ = stream.shutdown(Shutdown::Write);
        wait_for_close(&events_rx, painter, &tracker, &mut out)?;
    }
    if let Ending::Lost(Some(e)) = &ending {
        eprintln!("Connection error: {e}");
    }
    eprintln!("Disconnected from the server.");
    Ok(ending)
}

/// The note after a line that was typed and not sent, for each ending.
fn unsent_note(ending: &Ending) -> &'static str {
    match ending {
        Ending::Quit => "(not sent)",
        Ending::ServerShutdown => "(not sent: the server shut down)",
        Ending::SentAway(_) => "(not sent: disconnected by the server)",
        Ending::Lost(_) => "(not sent: connection lost)",
    }
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

/// One connection, as the drawing thread follows it: where to send, your
/// name on it, the people on it (for Tab), and the server's last word.
#[derive(Debug)]
struct Conversation {
    stream: Arc<TcpStream>,
    tracker: NameTracker,
    people: People,
    last_word: LastWord,
}

impl Conversation {
    /// Starts the socket thread for `stream`, sending on `events_tx`.
    fn start(
        stream: Arc<TcpStream>,
        tracker: NameTracker,
        events_tx: Sender<Event>,
    ) -> io::Result<Conversation> {
        spawn_socket_reader(stream.clone(), events_tx)?;
        Ok(Conversation {
            stream,
            tracker,
            people: People::default(),
            last_word: LastWord::default(),
        })
    }

    /// Draws and handles events until the connection closes or the user
    /// quits; says which.
    fn run(
        &mut self,
        screen: &mut Screen,
        events: &Receiver<Event>,
        stop: Receiver<()>,
    ) -> io::Result<Stop> {
        let mut stop = stop;
        screen.draw(&[])?;
        loop {
            let mut stop_gone = false;
            let first = select! {
                recv(events) -> event => event.ok(),
                recv(stop) -> signal => match signal {
                    Ok(()) => return Ok(Stop::User),
                    Err(_) => {
                        // No signal handler (installing it failed): stop
                        // listening rather than reading a closed channel forever.
                        stop_gone = true;
                        None
                    }
                },
                default(RESIZE_CHECK) => {
                    screen.check_resize()?;
                    continue;
                }
            };
            if stop_gone {
                stop = crossbeam_channel::never();
                continue;
            }
            // The keys thread holds a sender for good, and the socket thread
            // until it sends `Closed`; if the channel closed all the same,
            // the connection is gone.
            let Some(first) = first else {
                return Ok(Stop::Closed(Ended::Closed));
            };
            let mut above = Vec::new();
            let mut flow = self.handle(screen, first, &mut above);
            while flow.is_none() && above.len() < BATCH {
                match events.try_recv() {
                    Ok(event) => flow = self.handle(screen, event, &mut above),
                    Err(_) => break,
                }
            }
            screen.draw(&above)?;
            match flow {
                Some(Flow::End(stop)) => return Ok(stop),
                Some(Flow::Suspend) => screen.suspend()?,
                Some(Flow::Redraw) => screen.redraw_all()?,
                None => {}
            }
        }
    }

    /// Applies one event; lines to print above the input line go to `above`.
    /// Keys typed after Ctrl-Z or Ctrl-L in the same read are dropped.
    fn handle(
        &mut self,
        screen: &mut Screen,
        event: Event,
        above: &mut Vec<String>,
    ) -> Option<Flow> {
        match event {
            Event::Keys(bytes) => {
                let completer = ChatCompleter {
                    people: &self.people,
                    me: self.tracker.name(),
                };
                for action in screen.editor.feed(&bytes, &completer) {
                    match action {
                        Action::Send(line) => self.send(screen.painter, line, above),
                        Action::Quit | Action::Interrupt => return Some(Flow::End(Stop::User)),
                        Action::Suspend => return Some(Flow::Suspend),
                        Action::Redraw => return Some(Flow::Redraw),
                    }
                }
            }
            Event::KeysEnded => return Some(Flow::End(Stop::User)),
            Event::Line(line) => {
                self.last_word.line(&line);
                self.people.line(&line);
                let event = self.tracker.line(&line);
                above.push(screen.painter.incoming(&line, self.tracker.name()));
                match event {
                    Some(NameEvent::Changed(name)) => screen.set_name(&name),
                    Some(NameEvent::Refused { name, reason }) => {
                        above.push(screen.painter.status(&refusal(&name, &reason)))
                    }
                    None => {}
                }
            }
            Event::Closed(ended) => return Some(Flow::End(Stop::Closed(ended))),
        }
        None
    }

    /// Sends a line and echoes it. A failed write is not reported here: the
    /// socket thread sees the connection end and the loop ends with it.
    fn send(&mut self, painter: Painter, line: String, above: &mut Vec<String>) {
        let _ = (&*self.stream).write_all(format!("{line}\n").as_bytes());
        self.tracker.sent(&line);
        let me = self.tracker.name().unwrap_or("you");
        above.push(painter.echo(&line, me));
    }
}

/// After the user quit: prints what the server still sends, plainly (the
/// terminal is restored), until it closes or [`CLOSE_WAIT`] passes.
fn wait_for_close(
    events: &Receiver<Event>,
    painter: Painter,
    tracker: &NameTracker,
    out: &mut File,
) -> io::Result<()> {
    let deadline = Instant::now() + CLOSE_WAIT;
    loop {
        match events.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok(Event::Line(line)) => {
                writeln!(out, "{}", painter.incoming(&line, tracker.name()))?;
            }
            Ok(Event::Closed(_)) => return Ok(()),
            Ok(Event::Keys(_) | Event::KeysEnded) => {}
            Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => return Ok(()),
        }
    }
}
