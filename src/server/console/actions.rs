//! What each console command does to the room: [`Console::execute`] acts
//! through the registry and events for the broadcaster, as readers do, and
//! answers the teacher in a line or a few.

use std::io::Write;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::Sender;

use crate::protocol::{lines, sanitize};

use super::command::{self, ConsoleCommand, CONSOLE_HELP, TERMINAL_HELP};
use super::report;
use crate::server::client::ClientId;
use crate::server::event::{Event, MovedBy};
use crate::server::recorder::Entry;
use crate::server::registry::JoinError;
use crate::server::shared::Shared;
use crate::server::shutdown::ShutdownHandle;

/// The longest the console waits for the broadcaster to take an event.
const SEND_WAIT: Duration = Duration::from_secs(1);

/// The console's state: what it acts on, and where its answers go.
pub(super) struct Console {
    pub(super) shared: Arc<Shared>,
    events_tx: Sender<Event>,
    shutdown: ShutdownHandle,
    answers: Answers,
}

/// Where the console's answers go.
enum Answers {
    /// Written at once, a line at a time (a pipe, a file, a terminal in line
    /// mode).
    Written(Box<dyn Write + Send>),
    /// Kept until the interactive console prints them above its input line.
    #[cfg_attr(not(unix), allow(dead_code))]
    Kept(Vec<String>),
}

impl std::fmt::Debug for Console {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Console").finish_non_exhaustive()
    }
}

impl Console {
    /// A console acting on the room through `shared` and `events_tx`, that
    /// writes its answers to `output`.
    pub(super) fn new(
        shared: Arc<Shared>,
        events_tx: Sender<Event>,
        shutdown: ShutdownHandle,
        output: Box<dyn Write + Send>,
    ) -> Console {
        Console {
            shared,
            events_tx,
            shutdown,
            answers: Answers::Written(output),
        }
    }

    /// From now on, answers are kept for [`Console::take_answers`] instead
    /// of written: the interactive console draws them itself.
    #[cfg(unix)]
    pub(super) fn keep_answers(&mut self) {
        self.answers = Answers::Kept(Vec::new());
    }

    /// The answers kept since the last call, oldest first.
    #[cfg(unix)]
    pub(super) fn take_answers(&mut self) -> Vec<String> {
        match &mut self.answers {
            Answers::Kept(kept) => std::mem::take(kept),
            Answers::Written(_) => Vec::new(),
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
        match &mut self.answers {
            Answers::Written(output) => {
                let _ = writeln!(output, "{text}");
                let _ = output.flush();
            }
            Answers::Kept(kept) => kept.push(text.to_string()),
        }
    }

    /// Carries out one command line; false after `shutdown`.
    pub(super) fn execute(&mut self, line: &str) -> bool {
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
                // Kept answers: the console is on a terminal, with its keys.
                if matches!(self.answers, Answers::Kept(_)) {
                    for help in TERMINAL_HELP {
                        self.say(help);
                    }
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
