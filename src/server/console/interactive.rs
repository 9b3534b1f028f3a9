//! The console on a terminal (Unix): the client's line editor on the bottom
//! line (`console> `), the log and the console's answers scrolling above it.
//! A `console-keys` thread reads the keyboard, the log hands its lines over
//! a channel ([`ScreenLog`], the log's sink), and the console thread alone
//! draws, as the client's interactive mode does.

use std::io::{self, IsTerminal, Read};
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use crossbeam_channel::{bounded, select, tick, Receiver, Sender, TrySendError};
use parking_lot::Mutex;

use crate::log::{self, Diversion, Level, Sink};
use crate::server::shared::Shared;
use crate::term::{self, Action, Completer, Editor, RawMode, Screen};

use super::actions::Console;
use super::completion;
use super::summary::{chat_sender, Tally, SUMMARY_EVERY};

/// The prompt on the input line.
const PROMPT: &str = "console> ";
/// Log lines waiting to be drawn at most. A terminal that stops taking
/// output (Ctrl-S, a stalled `ssh`) must not stop the threads that log (the
/// broadcaster among them): past this, lines are dropped and counted.
const LOG_CAPACITY: usize = 1024;
/// Lines printed above the input line before it is drawn again, at most.
const BATCH: usize = 256;
/// How often the console wakes without input: to notice the server
/// stopping, and to print the chat's summary when it is due.
const TICK: Duration = Duration::from_millis(250);
/// How often the terminal's size is read again (it runs `stty`).
const RESIZE_CHECK: Duration = Duration::from_secs(1);
/// How long [`restore_stderr`](crate::log::restore_stderr) waits for the
/// console to hand the terminal back before restoring it itself.
const CLOSE_WAIT: Duration = Duration::from_secs(1);

/// Whether the console can be interactive: the keyboard and the screen are
/// both a terminal. (The log may go elsewhere, `2>server.log`: then the
/// console draws only its own lines, and the log file keeps every line.)
pub(super) fn possible() -> bool {
    term::is_interactive()
}

/// Runs the console on the terminal until the end of input, `shutdown`,
/// Ctrl-C or the server stopping. The terminal is switched for the while,
/// and restored on every way out (a panic included: see [`RawMode`]).
///
/// # Errors
/// The terminal could not be switched, or the keyboard's thread started:
/// nothing was drawn, and the console can read plain lines instead.
pub(super) fn run(console: &mut Console) -> io::Result<()> {
    let raw = RawMode::enable()?;
    let mut editor = Editor::new();
    editor.set_prompt(PROMPT, PROMPT);
    let mut screen = Screen::new(raw, editor)?;
    let (keys_tx, keys_rx) = bounded(64);
    spawn_key_reader(keys_tx)?;
    let (lines_tx, lines_rx) = bounded(LOG_CAPACITY);
    let (close_tx, close_rx) = bounded(1);
    let sink = Arc::new(ScreenLog {
        draws_log: io::stderr().is_terminal(),
        lines_tx,
        close_tx,
        tally: Mutex::new(Tally::default()),
        dropped: AtomicU64::new(0),
    });
    // Installed even when the log goes to a file: the `server` binary ends
    // the process through `restore_stderr`, which is how it asks the
    // console for the terminal back.
    let diversion = log::divert(sink.clone());
    console.keep_answers();
    let channels = Channels {
        keys: keys_rx,
        lines: lines_rx,
        close: close_rx,
    };
    let end = serve(console, &mut screen, &channels, &sink);
    let log = console.shared.log;
    match end {
        Ok(End::Closed(done)) => {
            finish(screen, diversion, "");
            let _ = done.send(());
        }
        Ok(End::Interrupted) => {
            // What the terminal echoes for Ctrl-C in its normal mode, so the
            // handler's `stopping` line reads as it always has.
            finish(screen, diversion, "^C");
            interrupt(console);
        }
        Ok(End::Input) => {
            finish(screen, diversion, "");
            log.always("console: end of input; the console stops");
        }
        Ok(End::Stopping) => finish(screen, diversion, ""),
        Err(e) => {
            finish(screen, diversion, "");
            log.always(&format!(
                "console: cannot draw on the terminal ({e}); the console stops"
            ));
        }
    }
    Ok(())
}

/// Leaves the terminal as it was: a command typed and not run stays on
/// screen, marked `(not run)`, `then` is written at the start of the next
/// row, the terminal is restored, and the log goes to stderr again (as
/// `diversion` is dropped). Writing may fail (the terminal is gone): the
/// rest is done all the same.
fn finish(screen: Screen, diversion: Diversion, then: &str) {
    let _ = screen.close("(not run)", then);
    drop(diversion);
}

/// Why the console stopped.
#[derive(Debug)]
enum End {
    /// [`restore_stderr`](crate::log::restore_stderr) asked for the
    /// terminal; it waits to be told on this channel.
    Closed(Sender<()>),
    /// Ctrl-C.
    Interrupted,
    /// Ctrl-D on an empty line, or the keyboard is gone.
    Input,
    /// `shutdown`, or the server stopped for another reason.
    Stopping,
}

/// What wakes the console.
#[derive(Debug)]
struct Channels {
    /// Bytes typed; disconnected when the keyboard is gone.
    keys: Receiver<Vec<u8>>,
    /// Log lines to draw, with their time.
    lines: Receiver<String>,
    /// A request for the terminal back.
    close: Receiver<Sender<()>>,
}

/// Handles keys, log lines and the clock until the console stops.
fn serve(
    console: &mut Console,
    screen: &mut Screen,
    channels: &Channels,
    sink: &ScreenLog,
) -> io::Result<End> {
    let ticks = tick(TICK);
    let mut summary_due = Instant::now() + SUMMARY_EVERY;
    let mut summary_from = Instant::now();
    let mut resize_due = Instant::now() + RESIZE_CHECK;
    screen.draw(&[])?;
    loop {
        let mut above = Vec::new();
        // Whether the input line changed: a key, not a tick.
        let mut typed = false;
        select! {
            recv(channels.keys) -> keys => {
                let Ok(keys) = keys else { return Ok(End::Input) };
                typed = true;
                let completer = RoomCompleter { shared: &console.shared };
                for action in screen.editor.feed(&keys, &completer) {
                    match action {
                        Action::Send(line) => {
                            above.push(format!("{PROMPT}{line}"));
                            let goes_on = console.execute(&line);
                            // What the command logged (`console: …`)
                            // before what it answered.
                            above.extend(channels.lines.try_iter());
                            above.extend(console.take_answers());
                            if !goes_on {
                                screen.draw(&above)?;
                                return Ok(End::Stopping);
                            }
                        }
                        Action::Quit => {
                            screen.draw(&above)?;
                            return Ok(End::Input);
                        }
                        Action::Interrupt => {
                            screen.draw(&above)?;
                            return Ok(End::Interrupted);
                        }
                        // Stopping the process stops the whole room, and a
                        // server put in the background with `bg` would stop
                        // again at its first redraw (SIGTTOU): not here.
                        Action::Suspend => above.push(
                            "note: Ctrl-Z would freeze the room; to stop the server, \
                             use shutdown or Ctrl-C"
                                .to_string(),
                        ),
                        Action::Redraw => screen.redraw_all()?,
                    }
                }
            }
            recv(channels.lines) -> line => {
                // The sink holds a sender for as long as the console runs.
                above.extend(line.ok());
                above.extend(channels.lines.try_iter().take(BATCH));
            }
            recv(channels.close) -> done => {
                if let Ok(done) = done {
                    return Ok(End::Closed(done));
                }
            }
            recv(ticks) -> _ => {
                if console.shared.is_shutting_down() {
                    return Ok(End::Stopping);
                }
                let now = Instant::now();
                if now >= summary_due {
                    let secs = now.duration_since(summary_from).as_secs_f64().round() as u64;
                    above.extend(sink.summary(secs));
                    summary_due = now + SUMMARY_EVERY;
                    summary_from = now;
                }
                if now >= resize_due {
                    screen.check_resize()?;
                    resize_due = now + RESIZE_CHECK;
                }
            }
        }
        if typed || !above.is_empty() {
            screen.draw(&above)?;
        }
    }
}

/// Ctrl-C at the console does what Ctrl-C does to the server elsewhere: the
/// terminal being switched, the key arrived as a byte and not as the signal,
/// so the console raises the signal itself. The `server` binary's handler
/// then stops the server, and a second Ctrl-C (the terminal is restored by
/// now, so it is a signal again) quits at once, exactly as before. (std
/// cannot raise a signal without `libc`; the `kill` program can, as for
/// Ctrl-Z in the client.) If it cannot be run, the server is stopped directly.
fn interrupt(console: &mut Console) {
    let raised = Command::new("kill")
        .args(["-INT", &std::process::id().to_string()])
        .status()
        .is_ok_and(|status| status.success());
    if !raised {
        console.execute("shutdown");
    }
}

/// The keyboard's thread: the bytes typed, as they come. Nobody joins it: it
/// may sit in a read of the terminal when the console stops, and the process
/// ends without it. Its sender dropped tells the console the keyboard is gone.
fn spawn_key_reader(keys_tx: Sender<Vec<u8>>) -> io::Result<()> {
    thread::Builder::new()
        .name("console-keys".to_string())
        .spawn(move || {
            let mut buf = [0u8; 1024];
            loop {
                match io::stdin().read(&mut buf) {
                    Ok(0) => return,
                    Ok(n) => {
                        if keys_tx.send(buf[..n].to_vec()).is_err() {
                            return;
                        }
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(_) => return,
                }
            }
        })?;
    Ok(())
}

/// The log's sink while the console is interactive (see [`Sink`]): chat is counted for the summary, every
/// other line goes to the console thread to be drawn. Called on whichever
/// thread logs, so it never waits: a full channel drops the line and counts it.
#[derive(Debug)]
struct ScreenLog {
    /// False when stderr is not the console's terminal (`2>server.log`):
    /// then the log goes there whole, as without a console.
    draws_log: bool,
    lines_tx: Sender<String>,
    close_tx: Sender<Sender<()>>,
    tally: Mutex<Tally>,
    /// Lines dropped because the console fell behind, since last told.
    dropped: AtomicU64,
}

impl ScreenLog {
    /// The lines to print now: the chat's summary over the last `secs`
    /// seconds, and how many lines were dropped, if any.
    fn summary(&self, secs: u64) -> Vec<String> {
        let stamp = log::utc_now();
        let mut lines = Vec::new();
        if let Some(summary) = self.tally.lock().take_summary(secs) {
            lines.push(format!("{stamp} {summary}"));
        }
        match self.dropped.swap(0, Relaxed) {
            0 => {}
            n => lines.push(format!(
                "{stamp} console: {n} log lines dropped (the terminal fell behind)"
            )),
        }
        lines
    }
}

impl Sink for ScreenLog {
    fn line(&self, stamp: &str, line: &str, level: Level) -> bool {
        if !self.draws_log {
            return false;
        }
        if level == Level::Info {
            if let Some(sender) = chat_sender(line) {
                if !self.tally.lock().count(sender) {
                    return true;
                }
            }
        }
        match self.lines_tx.try_send(format!("{stamp} {line}")) {
            Ok(()) => true,
            Err(TrySendError::Full(_)) => {
                self.dropped.fetch_add(1, Relaxed);
                true
            }
            Err(TrySendError::Disconnected(_)) => false,
        }
    }

    fn close(&self) {
        let (done_tx, done_rx) = bounded(1);
        if self.close_tx.try_send(done_tx).is_ok() {
            let _ = done_rx.recv_timeout(CLOSE_WAIT);
        }
        // Whatever became of the console's thread, the terminal is restored.
        term::restore();
    }
}

/// Tab's choices from the registry as it is when Tab is pressed.
#[derive(Debug)]
struct RoomCompleter<'a> {
    shared: &'a Shared,
}

impl Completer for RoomCompleter<'_> {
    fn choices(&self, before: &str, word: &str) -> Vec<String> {
        let views = self.shared.registry.snapshot();
        let names: Vec<&str> = views.iter().map(|view| &*view.name).collect();
        let rooms = self.shared.registry.rooms();
        let rooms: Vec<&str> = rooms.iter().map(|(name, _)| &**name).collect();
        completion::choices(before, word, &names, &rooms)
    }
}
