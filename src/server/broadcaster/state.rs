//! The broadcaster thread's state, in one struct: its channel, the batch
//! being laid out, and everything it keeps about clients and rooms. The
//! layout half (`mod.rs`) and the writing half (`writer.rs`) both work on it.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Instant;

use crossbeam_channel::Receiver;

use super::history::History;
use super::limits::Limits;
use super::members::Members;
use super::outbox::Outbox;
use super::peers::Peer;
use crate::server::event::Event;
use crate::server::registry::ClientId;
use crate::server::rooms::RoomId;
use crate::server::shared::Shared;
use crate::server::transcript::Transcript;

/// The broadcaster thread's state.
#[derive(Debug)]
pub(super) struct Broadcaster {
    pub(super) shared: Arc<Shared>,
    pub(super) events_rx: Receiver<Event>,
    pub(super) transcript: Option<Transcript>,
    pub(super) outbox: Outbox,
    /// Everyone it writes to, from their welcome until they have left and
    /// their last bytes are written. Kept across batches, so a batch never has
    /// to ask the registry who is there.
    pub(super) peers: HashMap<ClientId, Peer>,
    /// The peers whose send queues hold bytes: the only ones the writer has
    /// to look at between batches.
    pub(super) queued: HashSet<ClientId>,
    /// The peers whose window in the current batch is not the whole batch
    /// (they joined or left during it): after the batch, only they and its
    /// recipients need a look, not every peer on the server.
    pub(super) touched: Vec<ClientId>,
    /// Who is in which room (peers that have not left), and crowd summaries.
    pub(super) members: Members,
    /// The last public lines of each room, for newcomers (`--history`).
    pub(super) histories: HashMap<RoomId, History>,
    /// The per-client send queues' limits (see [`Limits`]).
    pub(super) limits: Limits,
    /// Counts turns, so fruitless retries start with a different client each time.
    pub(super) turn: usize,
    /// Set once the goodbye is written: evictions are then silent.
    pub(super) stopping: bool,
    /// While lines are waiting, no fruitless retry before this moment.
    pub(super) quiet_until: Instant,
}
