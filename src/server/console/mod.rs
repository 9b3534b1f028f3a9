//! The teacher's console: commands read from the server's standard input
//! (`who`, `say`, `kick`, `mute`, …, see [`command`]), answers printed on its
//! standard output, while the log stays on stderr. It acts on the room the
//! way readers do: through the registry, and events for the broadcaster.

mod command;
mod foreground;
mod report;

use std::io::{self, BufRead, Write};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use crossbeam_channel::Sender;

use crate::config::ConsoleMode;
use crate::protocol::{lines, sanitize};

use super::client::ClientId;
use super::event::{Event, MovedBy};
use super::recorder::Entry;
use super::registry::JoinError;
use super::shared::Shared;
use super::shutdown::ShutdownHandle;
use command::{ConsoleCommand, CONSOLE_HELP};
use foreground::{readiness, Readiness};

/// The longest the console waits for the broadcaster to take an event.
const SEND_WAIT: Duration = Duration::from_secs(1);

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
    let console = Console {
        shared,
        events_tx,
        shutdown,
        output: io.output,
    };
    thread::Builder::new()
        .name("console".to_string())
        .spawn(move || console.run(io.input, io.stdin_mode))?;
    Ok(())
}

struct Console {
    shared: Arc<Shared>,
    events_tx: Sender<Event>,
    shutdown: ShutdownHandle,
    output: Box<dyn Write + Send>,
}

impl Console {
    fn run(mut self, mut input: Box<dyn BufRead + Send>, stdin_mode: Option<ConsoleMode>) {
        let mut line = String::new();
        loop {
            if let Some(mode) = stdin_mode {
                if !self.wait_until_readable(mode) {
                    return;
                }
            }
            line.clear();
            match input.read_line(&mut line) {
                Ok(0) | Err(_) => {
                    // A closed pipe or `< /dev/null`: the server goes on.
                    self.shared
                        .log
                        .always("console: end of input; the console stops");
                    return;
                }
                Ok(_) => {}
            }
            if self.shared.is_shutting_down() || !self.execute(line.trim()) {
                return;
            }
        }
    }

    /// Waits while the server is a background job; false if the console must
    /// not read at all (or the server is stopping).
    fn wait_until_readable(&self, mode: ConsoleMode) -> bool {
        loop {
            if self.shared.is_shutting_down() {
                return false;
            }
            match readiness(mode) {
                Readiness::Read => return true,
                Readiness::Never => return false,
                Readiness::Wait => thread::sleep(FOREGROUND_CHECK),
            }
        }
    }

    /// Hands an event to the broadcaster. A room frozen by the
    /// `--no-write-timeout` demo may not take it: then the console says so
    /// after a moment instead of hanging, and stays usable (`shutdown` works).
    fn send(&mut self, event: Event) -> bool {
        match self.events_tx.send_timeout(event, SEND_WAIT) {
            Ok(()) => true,
            Err(_) => {
                self.say("error: the room is not taking events (frozen?); not done");
                false
            }
        }
    }

    fn say(&mut self, text: &str) {
        let _ = writeln!(self.output, "{text}");
        let _ = self.output.flush();
    }

    /// Carries out one command line; false after `shutdown`.
    fn execute(&mut self, line: &str) -> bool {
        let command = match command::parse(line) {
            Ok(ConsoleCommand::Nothing) => return true,
            Ok(command) => command,
            Err(message) => {
                self.say(&format!("error: {message}"));
                return true;
            }
        };
        self.shared.log.always(&format!("console: {line}"));
        let acts = !matches!(
            command,
            ConsoleCommand::Who | ConsoleCommand::Stats | ConsoleCommand::Help
        );
        // Commands that change the room go in the transcript, in their place
        // among the room's events; if the room cannot take that, nothing is done.
        let record = Event::Record(Entry::Console {
            command: line.to_string(),
        });
        if acts && !matches!(command, ConsoleCommand::Shutdown) && !self.send(record) {
            return true;
        }
        match command {
            ConsoleCommand::Who => self.who(),
            ConsoleCommand::Say(text) => {
                let text = sanitize(text);
                let line = lines::server_says(&text);
                let say = Event::Say {
                    line,
                    text: text.into_owned(),
                };
                if self.send(say) {
                    self.say("ok: said to everyone");
                }
            }
            ConsoleCommand::Kick(name, reason) => {
                if let Some((id, name)) = self.find(name) {
                    let reason = reason.map(|r| sanitize(r).into_owned());
                    let kick = Event::Kick {
                        id,
                        reason,
                        banned_for: None,
                    };
                    if self.send(kick) {
                        self.say(&format!("ok: kicked {name}"));
                    }
                }
            }
            ConsoleCommand::Ban(name, minutes) => self.ban(name, minutes),
            ConsoleCommand::Unban(who) => match self.shared.admission.unban(who) {
                Some(ban) => self.say(&format!("ok: unbanned {} ({})", ban.name, ban.ip)),
                None => self.say(&format!("error: no ban for {who}")),
            },
            ConsoleCommand::Mute(name, length) => self.mute(name, length),
            ConsoleCommand::Unmute(name) => self.unmute(name),
            ConsoleCommand::Move(name, room) => self.move_to(name, room),
            ConsoleCommand::Stats => {
                let line = self.shared.stats_line();
                self.say(&line);
            }
            ConsoleCommand::Help => {
                for help in CONSOLE_HELP {
                    self.say(help);
                }
            }
            ConsoleCommand::Shutdown => {
                self.say("ok: shutting down");
                self.shutdown.shutdown();
                return false;
            }
            ConsoleCommand::Nothing => {}
        }
        true
    }

    /// The client called `name` (ignoring case), or an error on the console.
    fn find(&mut self, name: &str) -> Option<(ClientId, Arc<str>)> {
        let found = self.shared.registry.find(name);
        if found.is_none() {
            self.say(&format!("error: no such client {name}"));
        }
        found
    }

    fn who(&mut self) {
        let views = self.shared.registry.snapshot();
        let now = Instant::now();
        let now_ms = self.shared.millis(now);
        self.say(&report::who_heading(views.len()));
        for view in &views {
            let muted = view.meters.mute.left(now_ms).map(lines::seconds_left);
            let line = report::who_line(view, muted, now);
            self.say(&format!("  {line}"));
        }
        for ban in self.shared.admission.bans() {
            self.say(&format!("  {}", report::ban_line(&ban, now)));
        }
    }

    /// Bans the address of the client called `name` for `minutes`, and kicks
    /// it: its last line says so, and its address is refused meanwhile. On
    /// loopback that address is every client on the server's own machine.
    fn ban(&mut self, name: &str, minutes: u64) {
        let Some((id, name)) = self.find(name) else {
            return;
        };
        let Some(addr) = self.shared.registry.address(id) else {
            return;
        };
        let until = Instant::now() + Duration::from_secs(minutes * 60);
        self.shared.admission.ban(addr.ip(), &name, until);
        let kick = Event::Kick {
            id,
            reason: None,
            banned_for: Some(minutes),
        };
        if self.send(kick) {
            self.say(&format!(
                "ok: banned {name} ({}) for {minutes} min",
                addr.ip()
            ));
            if addr.ip().is_loopback() {
                self.say("note: that address is this machine: every client on it is refused");
            }
        }
    }

    /// Moves a client to a room, as if it had typed `/join ROOM`.
    fn move_to(&mut self, name: &str, room: &str) {
        let Some((id, name)) = self.find(name) else {
            return;
        };
        match self.shared.registry.join(id, room) {
            Ok(moved) => {
                let to_name = moved.to_name.clone();
                self.send(Event::Moved {
                    id,
                    by: MovedBy::Teacher,
                    name: moved.name,
                    to: moved.to,
                    to_name: moved.to_name,
                });
                self.say(&format!("ok: moved {name} to {to_name}"));
            }
            Err(JoinError::Already(room)) => {
                self.say(&format!("error: {name} is already in {room}"));
            }
            Err(JoinError::Gone) => self.say(&format!("error: no such client {name}")),
        }
    }

    fn mute(&mut self, name: &str, length: Duration) {
        let Some((id, name)) = self.find(name) else {
            return;
        };
        let Some(meters) = self.shared.registry.meters(id) else {
            return;
        };
        meters.mute.set(self.shared.millis(Instant::now() + length));
        self.send(Event::Direct {
            from: id,
            to: id,
            line: lines::muted_for(length.as_secs()),
            entry: None,
        });
        self.say(&format!("ok: muted {name} for {} s", length.as_secs()));
    }

    fn unmute(&mut self, name: &str) {
        let Some((id, name)) = self.find(name) else {
            return;
        };
        let Some(meters) = self.shared.registry.meters(id) else {
            return;
        };
        // A mute that ran out is the client's reader's to clear and tell.
        if !meters.mute.end(self.shared.millis(Instant::now()), true) {
            self.say(&format!("error: {name} is not muted"));
            return;
        }
        self.send(Event::Direct {
            from: id,
            to: id,
            line: lines::can_talk_again(),
            entry: None,
        });
        self.say(&format!("ok: unmuted {name}"));
    }
}
