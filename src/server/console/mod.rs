//! The teacher's console: commands read from the server's standard input
//! (`who`, `say`, `kick`, `mute`, …, see [`command`]; what each does is in
//! [`actions`]), answers printed on its standard output, the log on stderr.
//! On a terminal (Unix) it is interactive (`interactive.rs`): a line editor
//! on the bottom line, the log and the answers scrolling above it; on a pipe
//! or a file it reads plain lines, as it always has.

mod actions;
mod command;
#[cfg_attr(not(unix), allow(dead_code))]
mod completion;
mod foreground;
#[cfg(unix)]
mod interactive;
mod report;
#[cfg_attr(not(unix), allow(dead_code))]
mod summary;

use std::io::{self, BufRead, Write};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use crossbeam_channel::Sender;

use crate::config::ConsoleMode;

use super::event::Event;
use super::shared::Shared;
use super::shutdown::ShutdownHandle;
use actions::Console;
use foreground::{readiness, Readiness};

/// While the server is in the background, how often the console checks
/// whether it has been brought to the foreground (`fg`).
const FOREGROUND_CHECK: Duration = Duration::from_millis(500);

/// Where the console reads and writes.
pub(crate) struct ConsoleIo {
    /// The commands, one per line.
    pub(crate) input: Box<dyn BufRead + Send>,
    /// The answers.
    pub(crate) output: Box<dyn Write + Send>,
    /// `Some` when `input` is the process's standard input, which may be a
    /// terminal the server must not read from the background.
    pub(crate) stdin_mode: Option<ConsoleMode>,
}

impl std::fmt::Debug for ConsoleIo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConsoleIo")
            .field("stdin_mode", &self.stdin_mode)
            .finish_non_exhaustive()
    }
}

/// Starts the console thread. Nobody joins it: it may sit in a read of
/// standard input for ever, and the process ends without it. It stops by
/// itself at the end of its input, at `shutdown`, or once the server stops.
///
/// # Errors
/// The thread could not be started.
pub(crate) fn spawn(
    shared: Arc<Shared>,
    events_tx: Sender<Event>,
    shutdown: ShutdownHandle,
    io: ConsoleIo,
) -> io::Result<()> {
    let console = Console::new(shared, events_tx, shutdown, io.output);
    thread::Builder::new()
        .name("console".to_string())
        .spawn(move || run(console, io.input, io.stdin_mode))?;
    Ok(())
}

/// The console's thread: interactive on a terminal in the foreground (Unix),
/// plain lines otherwise.
#[cfg_attr(not(unix), allow(unused_mut))]
fn run(mut console: Console, input: Box<dyn BufRead + Send>, stdin_mode: Option<ConsoleMode>) {
    #[cfg(unix)]
    if let Some(mode) = stdin_mode {
        if interactive::possible() {
            // Switching the terminal from the background would stop the
            // process (SIGTTOU), as reading it would: wait for `fg` first.
            if !wait_until_readable(&console.shared, mode) {
                return;
            }
            match interactive::run(&mut console) {
                Ok(()) => return,
                Err(e) => console.shared.log.always(&format!(
                    "console: cannot switch the terminal ({e}); reading plain lines"
                )),
            }
        }
    }
    plain(console, input, stdin_mode);
}

/// Reads one command per line until the end of input or `shutdown`.
fn plain(
    mut console: Console,
    mut input: Box<dyn BufRead + Send>,
    stdin_mode: Option<ConsoleMode>,
) {
    let mut line = String::new();
    loop {
        if let Some(mode) = stdin_mode {
            if !wait_until_readable(&console.shared, mode) {
                return;
            }
        }
        line.clear();
        match input.read_line(&mut line) {
            Ok(0) | Err(_) => {
                // A closed pipe or `< /dev/null`: the server goes on.
                console
                    .shared
                    .log
                    .always("console: end of input; the console stops");
                return;
            }
            Ok(_) => {}
        }
        if console.shared.is_shutting_down() || !console.execute(line.trim()) {
            return;
        }
    }
}

/// Waits while the server is a background job; false if the console must
/// not read at all (or the server is stopping).
fn wait_until_readable(shared: &Shared, mode: ConsoleMode) -> bool {
    loop {
        if shared.is_shutting_down() {
            return false;
        }
        match readiness(mode) {
            Readiness::Read => return true,
            Readiness::Never => return false,
            Readiness::Wait => thread::sleep(FOREGROUND_CHECK),
        }
    }
}
