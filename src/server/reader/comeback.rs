//! The commands that let a client come back after a lost connection:
//! `/session` asks for a token, `/resume` takes a held session back (only as
//! the client's first line), `/key` repeats a class code the gate has had
//! already. Carried out here against the registry, and returned as a
//! [`Comeback`] for the session to hand on. Apart from `session.rs`, which
//! handles the room's commands, because these follow rules of their own:
//! what counts as a first line, what the chunks demo mode cannot offer.

use std::sync::Arc;

use crate::config::Framing;
use crate::protocol::lines;
use crate::server::client::ClientId;
use crate::server::event::Event;
use crate::server::shared::Shared;
use crate::server::token::Token;

use super::plan::Step;

/// What a session command leaves the reader to do.
#[derive(Debug)]
pub(super) enum Comeback {
    /// Tell the client this, and nothing else.
    Reply(Vec<u8>),
    /// A session was started: hand on the chat read before the command, then
    /// this `Event::Session`, which gives the client its token.
    Started(Event),
    /// A held session was taken back: the client is called `name` from now
    /// on, and is not announced (the room knows it); hand on `event`, an
    /// `Event::Resume`.
    Resumed {
        /// The session's name.
        name: Arc<str>,
        /// What the broadcaster is told.
        event: Event,
    },
    /// Nothing: the client was gone already, or the step was not one of
    /// these commands.
    Nothing,
}

impl Comeback {
    /// Carries out `step`, if it is `/session`, `/resume` or `/key`, for
    /// client `id`, called `name`. `first` is true when no line but a `/key`
    /// came before it: only then is a `/resume` taken.
    pub(super) fn carry_out(
        shared: &Shared,
        id: ClientId,
        name: &Arc<str>,
        step: Step<'_>,
        first: bool,
    ) -> Comeback {
        match step {
            Step::Session if shared.config.framing == Framing::Chunks => {
                Comeback::Reply(lines::no_sessions_in_chunks())
            }
            Step::Session => match shared.registry.start_session(id) {
                Some(token) => Comeback::Started(Event::Session {
                    id,
                    token,
                    name: name.clone(),
                }),
                None => Comeback::Nothing,
            },
            Step::Resume { token, last } if first => resume(shared, id, name, token, last),
            Step::Resume { .. } => Comeback::Reply(lines::resume_first()),
            Step::Key => Comeback::Reply(lines::no_code_needed()),
            _ => Comeback::Nothing,
        }
    }
}

/// Takes back the session `token` (its name, its room, the room lines it
/// missed after line `last`), or, if there is none, says so: the client
/// goes on as a new one.
fn resume(shared: &Shared, id: ClientId, name: &Arc<str>, token: &str, last: u64) -> Comeback {
    let resumed = Token::parse(token).and_then(|token| {
        let resumed = shared.registry.resume(id, &token)?;
        Some((token, resumed))
    });
    let Some((token, resumed)) = resumed else {
        // Not announced yet: the client names itself next, as on a
        // first connection, and is announced under that name.
        return Comeback::Reply(lines::cannot_resume());
    };
    shared
        .log
        .info(&format!("{name} resumed as {} (line {last})", resumed.name));
    Comeback::Resumed {
        name: resumed.name.clone(),
        event: Event::Resume {
            id,
            token,
            last,
            resumed,
            was: name.clone(),
        },
    }
}
