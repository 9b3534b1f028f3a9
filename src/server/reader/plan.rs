//! The reader's decisions, pure: a cleaned line becomes the [`Step`] to take,
//! and a rename's result becomes the lines to send. The reader thread carries
//! them out; the unit tests below check every decision without a socket.

use std::sync::Arc;
use std::time::Duration;

use crate::protocol::{is_reserved, is_valid_name, is_valid_room, lines, Command};
use crate::server::recorder::Entry;
use crate::server::registry::RenameError;

/// What to do about one line.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Step<'a> {
    /// Relay this text to everyone else as chat.
    Chat(&'a str),
    /// Take this (well-formed) name, if nobody else has it.
    Rename(&'a str),
    /// Send `text` privately to the client called `to`.
    Whisper {
        /// The recipient's name as typed.
        to: &'a str,
        /// The message.
        text: &'a str,
    },
    /// Show `* NAME TEXT` to everyone else.
    Act(&'a str),
    /// Answer with the names of everyone in the client's room.
    Who,
    /// Move to this (well-formed) room; `quietly` when muted (nobody is told).
    Join {
        /// The room.
        room: &'a str,
        /// The client is muted: the rooms are not told.
        quietly: bool,
    },
    /// Answer with the list of rooms.
    Rooms,
    /// Answer with the server's counters.
    Stats,
    /// Answer with these lines, and nothing else.
    Reply(Vec<u8>),
    /// Leave, with an optional reason.
    Quit(Option<&'a str>),
    /// Give the client a resume token.
    Session,
    /// Take back the session `token`; the client last received room line `last`.
    Resume {
        /// The token as sent.
        token: &'a str,
        /// The last room line it received.
        last: u64,
    },
    /// A class code after the gate: nothing to do but say so.
    Key,
}

/// Decides what a cleaned, non-empty line asks for. `muted` is how long the
/// client's mute still runs, if it is muted: then nothing it chooses reaches
/// the others. Its chat, `/me`, `/msg` and `/nick` are refused (a name is
/// something everyone reads), it is told so; a `/join` moves it without a
/// word to either room; a `/quit` reason is dropped. Other commands work.
pub(super) fn step(line: &str, muted: Option<Duration>) -> Step<'_> {
    let command = Command::parse(line);
    if let Some(left) = muted {
        match command {
            Ok(Command::Chat(_) | Command::Me(_) | Command::Msg { .. } | Command::Nick(_)) => {
                return Step::Reply(lines::still_muted(left));
            }
            Ok(Command::Quit(_)) => return Step::Quit(None),
            Ok(Command::Join(room)) if is_valid_room(room) => {
                return Step::Join {
                    room,
                    quietly: true,
                }
            }
            _ => {}
        }
    }
    match command {
        Err(e) => Step::Reply(lines::bad_command(&e)),
        Ok(Command::Chat(text)) => Step::Chat(text),
        Ok(Command::Nick(name)) if !is_valid_name(name) => Step::Reply(lines::invalid_name()),
        Ok(Command::Nick(name)) if is_reserved(name) => Step::Reply(lines::name_reserved(name)),
        Ok(Command::Nick(name)) => Step::Rename(name),
        Ok(Command::Who) => Step::Who,
        Ok(Command::Join(room)) if !is_valid_room(room) => Step::Reply(lines::invalid_room()),
        Ok(Command::Join(room)) => Step::Join {
            room,
            quietly: false,
        },
        Ok(Command::Rooms) => Step::Rooms,
        Ok(Command::Msg { to, text }) => Step::Whisper { to, text },
        Ok(Command::Me(text)) if lines::action_mimics_notice(text) => {
            Step::Reply(lines::action_refused())
        }
        Ok(Command::Me(text)) => Step::Act(text),
        Ok(Command::Help) => Step::Reply(lines::help()),
        Ok(Command::Stats) => Step::Stats,
        Ok(Command::Quit(reason)) => Step::Quit(reason),
        Ok(Command::Session) => Step::Session,
        Ok(Command::Resume { token, last }) => Step::Resume { token, last },
        Ok(Command::Key(_)) => Step::Key,
    }
}

/// What a rename attempt leads to.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Renamed {
    /// The name changed: tell the others `notice`, tell the client `reply`.
    Done {
        /// The name it had.
        old: Arc<str>,
        /// `* OLD is now known as NEW`, for everyone else.
        notice: Vec<u8>,
        /// `* you are now NEW`, for the client.
        reply: Vec<u8>,
        /// What the transcript records.
        entry: Entry,
    },
    /// Nothing changed; this line tells the client why.
    Refused(Vec<u8>),
    /// The client is no longer registered: say nothing.
    Gone,
}

/// Turns the registry's answer to a rename into the lines to send.
pub(super) fn renamed(new: &str, result: Result<Arc<str>, RenameError>) -> Renamed {
    match result {
        Ok(old) => Renamed::Done {
            notice: lines::renamed(&old, new),
            reply: lines::you_are_now(new),
            entry: Entry::Rename {
                from: old.to_string(),
                to: new.to_string(),
            },
            old,
        },
        Err(RenameError::Taken) => Renamed::Refused(lines::name_taken(new)),
        Err(RenameError::TooClose(existing)) => {
            Renamed::Refused(lines::name_too_close(new, &existing))
        }
        Err(RenameError::Unchanged) => Renamed::Refused(lines::you_are_already(new)),
        Err(RenameError::Gone) => Renamed::Gone,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(step: Step<'_>) -> String {
        match step {
            Step::Reply(bytes) => String::from_utf8(bytes).expect("UTF-8"),
            other => panic!("expected a reply, got {other:?}"),
        }
    }

    #[test]
    fn lines_become_steps() {
        let step = |line| super::step(line, None);
        assert_eq!(step("hello"), Step::Chat("hello"));
        assert_eq!(step("//x"), Step::Chat("/x"));
        assert_eq!(step("/nick ann"), Step::Rename("ann"));
        assert_eq!(step("/who"), Step::Who);
        assert_eq!(
            step("/msg bob hi there"),
            Step::Whisper {
                to: "bob",
                text: "hi there"
            }
        );
        assert_eq!(step("/me waves"), Step::Act("waves"));
        assert_eq!(step("/stats"), Step::Stats);
        assert_eq!(
            step("/join lab1"),
            Step::Join {
                room: "lab1",
                quietly: false
            }
        );
        assert_eq!(step("/rooms"), Step::Rooms);
        assert_eq!(step("/quit"), Step::Quit(None));
        assert_eq!(step("/quit tired"), Step::Quit(Some("tired")));
    }

    #[test]
    fn refusals_and_help_are_answered_at_once() {
        let step = |line| super::step(line, None);
        assert_eq!(
            reply(step("/nick 9lives")),
            "! invalid name: use 1 to 20 ASCII letters, digits, _ or -, starting with a letter\n"
        );
        assert_eq!(reply(step("/nick")), "! usage: /nick NAME\n");
        assert_eq!(
            reply(step("/nick no spaces")),
            "! invalid name: use 1 to 20 ASCII letters, digits, _ or -, starting with a letter\n"
        );
        assert_eq!(reply(step("/nick SERVER")), "! name SERVER is reserved\n");
        assert_eq!(
            reply(step("/join 1lab")),
            "! invalid room name: use 1 to 20 ASCII letters, digits, _ or -, starting with a letter\n"
        );
        assert_eq!(
            reply(step("/me left (too slow)")),
            "! that /me would read like a notice from the server; say it another way\n"
        );
        assert_eq!(
            reply(step("/dance")),
            "! unknown command /dance (try /help)\n"
        );
        assert!(reply(step("/help")).starts_with("* /nick NAME - "));
    }

    #[test]
    fn a_muted_client_may_use_commands_but_reach_nobody() {
        let muted = Some(Duration::from_millis(59_400));
        for line in ["hello", "/me waves", "/msg bob hi", "/nick insult_one"] {
            assert_eq!(
                reply(step(line, muted)),
                "! you are muted (60 s left)\n",
                "{line}"
            );
        }
        assert_eq!(step("/who", muted), Step::Who);
        assert_eq!(step("/quit", muted), Step::Quit(None));
        assert_eq!(
            step("/quit buy_my_stuff", muted),
            Step::Quit(None),
            "no reason"
        );
        assert_eq!(
            step("/join go_away_idiot", muted),
            Step::Join {
                room: "go_away_idiot",
                quietly: true
            }
        );
        assert_eq!(step("hello", None), Step::Chat("hello"));
        assert_eq!(step("/nick ann", None), Step::Rename("ann"));
    }

    #[test]
    fn rename_results_become_lines() {
        let Renamed::Done {
            old,
            notice,
            reply,
            entry,
        } = renamed("bob", Ok(Arc::from("1.2.3.4:5")))
        else {
            panic!("a successful rename")
        };
        assert_eq!(&*old, "1.2.3.4:5");
        assert_eq!(notice, b"* 1.2.3.4:5 is now known as bob\n");
        assert_eq!(reply, b"* you are now bob\n");
        assert_eq!(
            entry,
            Entry::Rename {
                from: "1.2.3.4:5".into(),
                to: "bob".into()
            }
        );
        assert_eq!(
            renamed("bob", Err(RenameError::Taken)),
            Renamed::Refused(b"! name bob is taken\n".to_vec())
        );
        assert_eq!(
            renamed("bob", Err(RenameError::Unchanged)),
            Renamed::Refused(b"* you are already bob\n".to_vec())
        );
        assert_eq!(
            renamed("B0B", Err(RenameError::TooClose(Arc::from("BOB")))),
            Renamed::Refused(b"! name B0B is too close to BOB\n".to_vec())
        );
        assert_eq!(renamed("bob", Err(RenameError::Gone)), Renamed::Gone);
    }
}
