//! Interactive mode (Unix, a terminal on both sides): a `keys` thread and the
//! network threads (a [`Link`]'s) feed this one, which alone draws on the
//! [`Screen`]. The screen, and the half-typed line in it, outlive every
//! connection: the session reconnects underneath while you go on typing.
//! Its parts: the `code>` prompt (`code_prompt.rs`), Enter held (`held_enter.rs`).

use std::fs::File;
use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::thread;
use std::time::{Duration, Instant, SystemTime};

use crossbeam_channel::{at, never, select, Receiver, RecvTimeoutError, Sender};

use super::code_prompt::CodePrompt;
use super::completion::ChatCompleter;
use super::ending::Ending;
use super::held_enter::HeldEnter;
use super::link::{Link, NetEvent};
use super::people::People;
use super::render::Painter;
use super::session::Do;
use crate::config::ClientConfig;
use crate::term::{Action, Editor, RawMode, Screen};

/// What the `keys` thread and the network threads tell the drawing thread.
#[derive(Debug)]
enum Event {
    /// Bytes typed (any piece of a key; the editor's decoder reassembles).
    Keys(Vec<u8>),
    /// The keyboard is gone (the terminal was closed).
    KeysEnded,
    /// From the connection, or an attempt to make one.
    Net(NetEvent),
}

impl From<NetEvent> for Event {
    fn from(event: NetEvent) -> Event {
        Event::Net(event)
    }
}

/// What a batch of events asks of the drawing loop, beyond drawing.
#[derive(Debug)]
enum Flow {
    /// The session is over.
    End(Stop),
    /// Ctrl-Z.
    Suspend,
    /// Ctrl-L: draw the whole screen again.
    Redraw,
}

/// Why the session's loop stopped.
#[derive(Debug)]
enum Stop {
    /// The session ended by itself (the server closed, or the client gave
    /// up reconnecting).
    Ended(Ending),
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
/// How often the input line's status is drawn again while it counts down.
const STATUS_CHECK: Duration = Duration::from_millis(250);
/// After you quit, how long the server gets to close its side.
const CLOSE_WAIT: Duration = Duration::from_secs(1);

/// Runs an interactive session on a connected `stream` until it ends or the
/// user quits, and returns how it ended. `raw` is the switched terminal: it
/// is restored before this returns, on every path (it is dropped), and also
/// on a panic. `stop` receives a message on SIGTERM, SIGHUP or a SIGINT
/// sent by `kill`.
///
/// A line typed and not sent stays on the screen at the end, with a note.
///
/// # Errors
/// Writing to the terminal failed, or a thread cannot be started.
pub(crate) fn session(
    config: &ClientConfig,
    stream: TcpStream,
    raw: RawMode,
    stop: Receiver<()>,
    painter: Painter,
) -> io::Result<Ending> {
    let (events_tx, events_rx) = crossbeam_channel::bounded(EVENTS_CAPACITY);
    spawn_key_reader(events_tx.clone())?;
    let mut screen = Screen::new(raw, Editor::new())?;
    let (link, first) = Link::start(config, stream, events_tx)?;
    let mut chat = Chat {
        link,
        people: People::default(),
        code: CodePrompt::default(),
        held_enter: HeldEnter::default(),
        prompt: String::new(),
        painter,
    };
    let stopped = chat.run(&mut screen, &events_rx, stop, first);
    let (ending, you_quit) = match stopped {
        Ok(Stop::User) => (Ending::Quit, true),
        Ok(Stop::Ended(ending)) => (ending, false),
        // The terminal cannot be written: restore it (dropping the screen
        // does) and say so, without trying to draw anything more.
        Err(e) => return Err(e),
    };
    // The half-typed chat line is what stays on the screen, never a code.
    chat.code.done(&mut screen.editor);
    let mut out = screen.close(&painter.status(unsent_note(&ending)), "")?;
    // Like plain mode at the end of input: half-close, so the server says
    // goodbye to the others, and show what it still sends.
    if you_quit && chat.link.half_close() {
        wait_for_close(&events_rx, painter, &mut chat.link, &mut out)?;
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
        Ending::SentAway(_) | Ending::Refused(_) => "(not sent: disconnected by the server)",
        Ending::Lost(_) => "(not sent: connection lost)",
    }
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

/// The chat as the drawing thread follows it: the session and its
/// connection, the people seen (for Tab), and while the class code is asked
/// for, the chat's own editor, put aside with its half-typed line.
#[derive(Debug)]
struct Chat {
    link: Link<Event>,
    people: People,
    code: CodePrompt,
    held_enter: HeldEnter,
    /// The prompt as last set, styled.
    prompt: String,
    /// How lines are styled for the screen.
    painter: Painter,
}

impl Chat {
    /// Draws and handles events until the session ends or the user quits;
    /// says which. `first` is what the session asked for on its first
    /// connection.
    fn run(
        &mut self,
        screen: &mut Screen,
        events: &Receiver<Event>,
        stop: Receiver<()>,
        first: Vec<Do>,
    ) -> io::Result<Stop> {
        let mut stop = stop;
        let mut resized_at = Instant::now();
        let mut above = Vec::new();
        if let Some(flow) = self.apply(screen, first, &mut above) {
            return Ok(match flow {
                Flow::End(stop) => stop,
                Flow::Suspend | Flow::Redraw => Stop::User,
            });
        }
        self.set_prompt(screen);
        screen.draw(&above)?;
        loop {
            // Before any line goes out: after a sleep, the connection is
            // checked (the loop comes here at least once a second).
            let mut above = Vec::new();
            let dos = self.link.clock(SystemTime::now(), Instant::now())?;
            if let Some(Flow::End(stop)) = self.apply(screen, dos, &mut above) {
                return Ok(stop);
            }
            if !above.is_empty() {
                screen.draw(&above)?;
            }
            let mut stop_gone = false;
            let wake = self.link.wake_at().map_or_else(never, at);
            let idle = if self.link.session().status(Instant::now()).is_some() {
                STATUS_CHECK
            } else {
                RESIZE_CHECK
            };
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
                recv(wake) -> _ => {
                    let mut above = Vec::new();
                    let dos = self.link.tick(Instant::now())?;
                    if let Some(Flow::End(stop)) = self.apply(screen, dos, &mut above) {
                        return Ok(stop);
                    }
                    self.set_prompt(screen);
                    screen.draw(&above)?;
                    continue;
                }
                default(idle) => {
                    // Reading the size runs `stty`: once a second is enough,
                    // even while the status counts down faster.
                    if resized_at.elapsed() >= RESIZE_CHECK {
                        resized_at = Instant::now();
                        screen.check_resize()?;
                    }
                    // Drawn again only if the status changed: a redraw every
                    // second would, on some terminals, undo a mouse selection.
                    if self.set_prompt(screen) {
                        screen.draw(&[])?;
                    }
                    continue;
                }
            };
            if stop_gone {
                stop = crossbeam_channel::never();
                continue;
            }
            // The keys thread and the link each hold a sender for good: if
            // the channel closed all the same, the session is gone.
            let Some(first) = first else {
                return Ok(Stop::Ended(Ending::Lost(None)));
            };
            // The first keys after a wake may hold an Enter: the clocks are
            // read before they are, not only at the top of the loop.
            let mut above = Vec::new();
            let dos = self.link.clock(SystemTime::now(), Instant::now())?;
            if let Some(Flow::End(stop)) = self.apply(screen, dos, &mut above) {
                return Ok(stop);
            }
            let mut flow = self.handle(screen, first, &mut above)?;
            while flow.is_none() && above.len() < BATCH {
                match events.try_recv() {
                    Ok(event) => flow = self.handle(screen, event, &mut above)?,
                    Err(_) => break,
                }
            }
            self.set_prompt(screen);
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
    ) -> io::Result<Option<Flow>> {
        match event {
            Event::Keys(bytes) => Ok(self.keys(screen, &bytes, above)),
            Event::KeysEnded => Ok(Some(Flow::End(Stop::User))),
            Event::Net(event) => {
                let dos = self.link.net(event, Instant::now())?;
                Ok(self.apply(screen, dos, above))
            }
        }
    }

    /// Feeds typed keys to the editor and does what they ask.
    fn keys(&mut self, screen: &mut Screen, bytes: &[u8], above: &mut Vec<String>) -> Option<Flow> {
        let session = self.link.session();
        let bytes = if session.can_send() || session.asking_code() {
            bytes.to_vec()
        } else {
            // Not connected: Enter would have nowhere to send the line, so
            // it stays on the input line, and the status in the prompt says why.
            let (held, note) = self.held_enter.hold(bytes);
            if let Some(note) = note {
                above.push(self.painter.status(note));
            }
            held
        };
        let completer = ChatCompleter {
            people: &self.people,
            me: self.link.session().name(),
        };
        let actions = screen.editor.feed(&bytes, &completer);
        for action in actions {
            match action {
                Action::Send(line) => {
                    if self.code.asking() {
                        self.give_code(screen, line, above);
                    } else {
                        self.send(screen, line, above);
                    }
                }
                Action::Quit | Action::Interrupt => return Some(Flow::End(Stop::User)),
                Action::Suspend => return Some(Flow::Suspend),
                Action::Redraw => return Some(Flow::Redraw),
            }
        }
        None
    }

    /// Sends a line and echoes it. If it cannot leave (the connection broke
    /// at this very moment), it goes back on the input line, in front of
    /// whatever was typed after it.
    fn send(&mut self, screen: &mut Screen, line: String, above: &mut Vec<String>) {
        if self.link.send(line.as_bytes()).is_err() {
            let mut back = vec![0x01]; // Ctrl-A: to the start of the line.
            back.extend_from_slice(line.as_bytes());
            let completer = ChatCompleter {
                people: &self.people,
                me: None,
            };
            screen.editor.feed(&back, &completer);
            return;
        }
        let me = self.link.session().name().unwrap_or("you");
        above.push(self.painter.echo(&line, me));
    }

    /// The code typed at the `code>` prompt: the chat's editor comes back,
    /// with its half-typed line, and the code goes to the server.
    fn give_code(&mut self, screen: &mut Screen, code: String, above: &mut Vec<String>) {
        self.code.done(&mut screen.editor);
        match self.link.code(code) {
            Ok(dos) => {
                self.apply(screen, dos, above);
            }
            Err(e) => above.push(self.painter.status(&format!("Cannot send the code: {e}"))),
        }
    }

    /// Does what the session asks of the mode.
    fn apply(
        &mut self,
        screen: &mut Screen,
        dos: Vec<Do>,
        above: &mut Vec<String>,
    ) -> Option<Flow> {
        for d in dos {
            match d {
                Do::Show(line) => {
                    self.people.line(&line);
                    let me = self.link.session().name();
                    above.push(self.painter.incoming(&line, me));
                }
                Do::Tell(text) => above.push(self.painter.status(&text)),
                Do::AskCode => {
                    let told = self.code.ask(&mut screen.editor);
                    above.push(self.painter.status(told));
                }
                Do::Ready => self.held_enter.ready(),
                Do::End(ending) => return Some(Flow::End(Stop::Ended(ending))),
                // The prompt is drawn from the session's name before each
                // draw; the link sends and connects.
                Do::Send(_) | Do::Connect(_) | Do::HangUp => {}
            }
        }
        None
    }

    /// Sets the prompt for what the input line is now: the code, or your
    /// name with the session's status before it while it is not connected.
    /// True if it changed.
    fn set_prompt(&mut self, screen: &mut Screen) -> bool {
        let (plain, styled) = self.code.prompt(self.painter).unwrap_or_else(|| {
            let session = self.link.session();
            let status = session.status(Instant::now());
            self.painter
                .prompt_with_status(session.name(), status.as_deref())
        });
        if styled == self.prompt {
            return false;
        }
        screen.editor.set_prompt(&plain, &styled);
        self.prompt = styled;
        true
    }
}

/// After the user quit: prints what the server still sends, plainly (the
/// terminal is restored), until it closes or [`CLOSE_WAIT`] passes.
fn wait_for_close(
    events: &Receiver<Event>,
    painter: Painter,
    link: &mut Link<Event>,
    out: &mut File,
) -> io::Result<()> {
    let deadline = Instant::now() + CLOSE_WAIT;
    loop {
        match events.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok(Event::Net(NetEvent::Line(line))) => {
                let dos = link.net(NetEvent::Line(line), Instant::now())?;
                for d in dos {
                    if let Do::Show(line) = d {
                        let me = link.session().name();
                        writeln!(out, "{}", painter.incoming(&line, me))?;
                    }
                }
            }
            Ok(Event::Net(NetEvent::Closed(_))) => return Ok(()),
            Ok(Event::Net(NetEvent::Connected(_)) | Event::Keys(_) | Event::KeysEnded) => {}
            Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => return Ok(()),
        }
    }
}
