//! One client's session while its reader runs: what each line the read loop
//! hands it does (carrying out what the plan decides; `/session`, `/resume`
//! and `/key` are `comeback.rs`), the announcement of its join, the chat
//! gathered to hand on, and the goodbye. Everything here runs on the
//! client's own reader thread.

use std::net::TcpStream;
use std::sync::atomic::Ordering::{Acquire, Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::Sender;

use crate::protocol::{clean_line, lines, strip_for_terminal, Frame};
use crate::server::client::{ClientId, Meters};
use crate::server::event::{Event, MovedBy};
use crate::server::recorder::Entry;
use crate::server::registry::JoinError;
use crate::server::shared::Shared;
use crate::server::socket::linger;

use super::comeback::Comeback;
use super::end::End;
use super::pending::Pending;
use super::plan::{self, Renamed, Step};
use super::throttle::Throttle;

/// One client's state while its reader runs: what only this thread uses.
#[derive(Debug)]
pub(super) struct Session {
    shared: Arc<Shared>,
    events_tx: Sender<Event>,
    id: ClientId,
    /// The current name: the reader formats this client's lines, and renames
    /// happen on this thread, so lines sent before `/nick` carry the old name.
    name: Arc<str>,
    meters: Arc<Meters>,
    stream: Arc<TcpStream>,
    /// Chat lines not yet handed to the broadcaster.
    pending: Pending,
    /// Until the others have been told `* NAME joined`: when to tell them
    /// anyway, if the client has not named itself by then (`--join-grace-ms`).
    announce_by: Option<Instant>,
    throttle: Throttle,
    /// No line has been handled yet: `/resume` is only taken as the first.
    first_line: bool,
    /// Set when a line ends the session (`/quit`), the client is found reset
    /// or removed while waiting, or the broadcaster is gone.
    end: Option<End>,
}

impl Session {
    /// The session of a client just registered as `id`, called `name`.
    pub(super) fn new(
        shared: Arc<Shared>,
        events_tx: Sender<Event>,
        id: ClientId,
        name: Arc<str>,
        meters: Arc<Meters>,
        stream: Arc<TcpStream>,
    ) -> Session {
        // Announce at once, or give the client a moment to name itself first.
        let grace = shared.config.join_grace;
        Session {
            throttle: Throttle::new(shared.config.rate_limit),
            pending: Pending::new(shared.config.transcript.is_some()),
            announce_by: (!grace.is_zero()).then(|| Instant::now() + grace),
            shared,
            events_tx,
            id,
            name,
            meters,
            stream,
            first_line: true,
            end: None,
        }
    }

    /// True while the others have not been told the client joined.
    pub(super) fn waits_to_announce(&self) -> bool {
        self.announce_by.is_some()
    }

    /// When the others must be told the client joined, if they have not
    /// been yet: the read loop wakes then, whatever the client sends.
    pub(super) fn announce_by(&self) -> Option<Instant> {
        self.announce_by
    }

    /// How the session ended, if a line (or a wait, or a send) ended it;
    /// the read loop asks after handing on each read's lines.
    pub(super) fn take_end(&mut self) -> Option<End> {
        self.end.take()
    }

    /// Tells the others `* NAME joined`, once.
    fn announce(&mut self) {
        if self.announce_by.take().is_some() {
            self.send(Event::Joined {
                id: self.id,
                name: self.name.clone(),
            });
        }
    }

    /// Announces the client by its address if it has had its grace period.
    // `#[inline]` here and on `flush_pending`: the read loop, in another
    // file, calls both after every read, and they stay inlined there as
    // they were when the loop lived in this one.
    #[inline]
    pub(super) fn announce_if_due(&mut self) {
        if self.announce_by.is_some_and(|at| Instant::now() >= at) {
            self.announce();
        }
    }

    /// Handles one line the read loop cut (or one too long to keep).
    pub(super) fn on_frame(&mut self, frame: Frame<'_>) {
        if self.end.is_some() {
            return; // After /quit (or a reset), the rest of the read is ignored.
        }
        match frame {
            Frame::Line(bytes) => {
                let text = clean_line(bytes);
                if !text.is_empty() {
                    self.throttle();
                    if self.end.is_none() {
                        self.on_line(&text);
                    }
                }
            }
            Frame::TooLong => {
                self.shared.stats.lines_too_long.fetch_add(1, Relaxed);
                self.reply(lines::line_too_long(self.shared.config.max_line_bytes));
            }
        }
    }

    /// Waits, if the client is over its rate limit (see [`Throttle`]). Lines
    /// already accepted are handed on first, so they do not wait with this
    /// one; a client that leaves meanwhile ends the session.
    fn throttle(&mut self) {
        let wait = self.throttle.take();
        if wait.is_zero() {
            return;
        }
        self.flush_pending();
        if let Some(end) = Throttle::hold(wait, &self.meters, &self.stream) {
            self.end = Some(end);
        }
    }

    /// How long this client's mute still runs, if it is muted. A mute that
    /// has run out is cleared here, and the client told it can talk again.
    fn muted(&mut self) -> Option<Duration> {
        let now = self.shared.millis(Instant::now());
        if let Some(left) = self.meters.mute.left(now) {
            return Some(left);
        }
        if self.meters.mute.end(now, false) {
            self.reply(lines::can_talk_again());
        }
        None
    }

    /// Carries out what [`plan::step`] decides for one line.
    fn on_line(&mut self, text: &str) {
        let muted = self.muted();
        let step = plan::step(text, muted);
        // `/key` does not count: a client that sends its code to a server
        // without one (after a restart without `--key`, say) may still
        // resume with the line after it.
        let first = self.first_line;
        self.first_line = first && matches!(step, Step::Key);
        if self.announce_by.is_some() {
            // The first lines: a client that names itself is announced under
            // that name, one that takes its session back not at all (the
            // room knows it); one that asks for a session is not announced
            // yet; anything else is announced by address first.
            match step {
                Step::Rename(new) => return self.rename(new),
                Step::Resume { .. } | Step::Session | Step::Key => {}
                _ => self.announce(),
            }
        }
        match step {
            Step::Chat(text) => self.chat(text),
            Step::Rename(new) => self.rename(new),
            Step::Who => {
                let names = self.shared.registry.names_in_room_of(self.id);
                self.reply(lines::online(&names));
            }
            Step::Join { room, quietly } => self.join(room, quietly),
            Step::Rooms => self.reply(lines::rooms(&self.shared.registry.rooms())),
            Step::Whisper { to, text } => match self.shared.registry.find(to) {
                Some((to_id, to_name)) => {
                    self.flush_pending();
                    self.count_line();
                    // Private text is recorded only if the teacher asked.
                    let entry = self.shared.config.record_private.then(|| Entry::Private {
                        from: self.name.to_string(),
                        to: to_name.to_string(),
                        text: text.to_string(),
                    });
                    self.send(Event::Direct {
                        from: self.id,
                        to: to_id,
                        line: lines::private(&self.name, text),
                        entry,
                    });
                }
                None => self.reply(lines::no_such_user(to)),
            },
            Step::Act(text) => {
                self.flush_pending();
                self.count_line();
                let log = self.shared.log;
                if log.verbose() {
                    log.info(&format!("* {} {text}", self.name));
                }
                self.send(Event::Action {
                    from: self.id,
                    line: lines::action(&self.name, text),
                    entry: Entry::Action {
                        from: self.name.to_string(),
                        text: text.to_string(),
                    },
                });
            }
            Step::Stats => self.reply(lines::stats(&self.shared.stats_line())),
            Step::Reply(line) => self.reply(line),
            Step::Quit(reason) => {
                self.end = Some(End::Quit(reason.map(lines::quit_reason)));
            }
            Step::Session | Step::Resume { .. } | Step::Key => {
                let comeback = Comeback::carry_out(&self.shared, self.id, &self.name, step, first);
                self.come_back(comeback);
            }
        }
    }

    /// Carries out what a session command left to do (see [`Comeback`]).
    fn come_back(&mut self, comeback: Comeback) {
        match comeback {
            Comeback::Reply(line) => self.reply(line),
            Comeback::Started(event) => {
                self.flush_pending();
                self.send(event);
            }
            Comeback::Resumed { name, event } => {
                self.name = name;
                // The room knows this client already: it is not announced again.
                self.announce_by = None;
                self.send(event);
            }
            Comeback::Nothing => {}
        }
    }

    /// Moves to another room. The registry moves the client at once; the
    /// broadcaster hears of it after every line this client sent before, so
    /// those went to the old room and the next ones go to the new one.
    fn join(&mut self, room: &str, quietly: bool) {
        match self.shared.registry.join(self.id, room) {
            Ok(moved) => {
                self.flush_pending();
                self.shared
                    .log
                    .info(&format!("{} went to {}", moved.name, moved.to_name));
                let by = if quietly {
                    MovedBy::ItselfMuted
                } else {
                    MovedBy::Itself
                };
                self.send(Event::Moved {
                    id: self.id,
                    by,
                    name: moved.name,
                    to: moved.to,
                    to_name: moved.to_name,
                });
            }
            Err(JoinError::Already(name)) => self.reply(lines::already_in(&name)),
            Err(JoinError::Gone) => {}
        }
    }

    /// Adds one chat line to what this read will hand on.
    fn chat(&mut self, text: &str) {
        let log = self.shared.log;
        if log.verbose() {
            log.info(&format!("{}: {text}", self.name));
        }
        self.count_line();
        if self.pending.push_chat(&self.name, text) {
            self.flush_pending();
        }
    }

    /// Counts one line that reaches others: chat, an action, a private message.
    fn count_line(&self) {
        self.shared.stats.lines_relayed.fetch_add(1, Relaxed);
        self.meters.lines_sent.fetch_add(1, Relaxed);
    }

    fn rename(&mut self, new: &str) {
        let result = self.shared.registry.rename(self.id, new);
        match plan::renamed(new, result) {
            Renamed::Done {
                old,
                notice,
                reply,
                entry,
            } => {
                self.name = Arc::from(new);
                self.shared
                    .log
                    .info(&format!("{old} is now known as {new}"));
                self.flush_pending();
                if self.announce_by.is_some() {
                    // Named before anyone was told: one `* NEW joined`, no rename.
                    self.announce();
                } else {
                    self.send(Event::Notice {
                        except: self.id,
                        line: notice,
                        entry,
                    });
                }
                self.reply(reply);
            }
            Renamed::Refused(line) => {
                self.announce();
                self.reply(line);
            }
            Renamed::Gone => {}
        }
    }

    /// DEMO MODE (--framing chunks): one read chunk becomes one message, split
    /// or merged however TCP happened to deliver it. Control characters are
    /// still removed, but nothing is reassembled and no newline is added.
    pub(super) fn on_chunk(&mut self, chunk: &[u8]) {
        // Commands keep working in this mode: a chunk that starts with `/` is
        // read as lines, so `/nick`, `/who` and `/quit` behave as usual.
        if chunk.starts_with(b"/") {
            for line in chunk.split(|&b| b == b'\n') {
                self.on_frame(Frame::Line(line));
            }
            return;
        }
        let text = String::from_utf8_lossy(chunk);
        let text = strip_for_terminal(&text);
        if text.trim().is_empty() {
            return;
        }
        self.throttle();
        if self.end.is_some() {
            return;
        }
        // As with a first line of chat: announced before its chunk is relayed.
        self.announce();
        if let Some(left) = self.muted() {
            return self.reply(lines::still_muted(left));
        }
        let log = self.shared.log;
        if log.verbose() {
            log.info(&format!("{}: {}", self.name, text.trim_end()));
        }
        self.count_line();
        self.pending.push_chunk(&self.name, &text);
    }

    /// Hands the gathered chat lines to the broadcaster as one event.
    #[inline]
    pub(super) fn flush_pending(&mut self) {
        if let Some(event) = self.pending.take(self.id) {
            self.send(event);
        }
    }

    /// Sends a reply to this client alone, through the broadcaster like all writes.
    fn reply(&mut self, line: Vec<u8>) {
        self.flush_pending();
        self.send(Event::Direct {
            from: self.id,
            to: self.id,
            line,
            entry: None,
        });
    }

    /// Hands an event to the broadcaster, waiting if the channel is full.
    /// Returns false, and ends the session, if the broadcaster has stopped.
    pub(super) fn send(&mut self, event: Event) -> bool {
        if self.meters.gone.load(Acquire) {
            // Evicted: it has been announced as gone, so it says nothing more.
            self.end.get_or_insert(End::Removed);
            return false;
        }
        if self.events_tx.send(event).is_ok() {
            return true;
        }
        self.end.get_or_insert(End::ServerStopping);
        false
    }

    /// Says goodbye through the broadcaster, then lets the connection drain and close.
    pub(super) fn finish(mut self, end: End) {
        if end.keeps_pending() && !self.meters.gone.load(Acquire) {
            self.flush_pending();
        }
        let (reason, farewell, drain) = match &end {
            End::Closed | End::Removed => (None, None, false),
            End::Failed(why) => (Some(why.clone()), None, false),
            End::Quit(reason) => (reason.clone(), Some(lines::bye()), true),
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
            may_come_back: end.may_come_back(),
        };
        if self.events_tx.send(leave).is_err() {
            // No broadcaster: the server is stopping, so leave without a notice.
            self.shared.registry.remove(self.id);
        }
        self.shared
            .log
            .info(&format!("{} disconnected{log_reason}", self.name));
        if drain {
            linger(&self.stream);
        }
    }
}
