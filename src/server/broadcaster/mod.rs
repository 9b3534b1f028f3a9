//! The broadcaster: the only thread that writes chat to client sockets. It
//! drains the events channel in batches (this file: the loop), decides what
//! each event means for whom ([`layout`]); the [`fanout`] then writes it, each
//! line appended once to its room's log ([`roomlog`]) and given to every
//! member from where that member stands ([`peer`]). A client that reads
//! slowly lags behind in the log and costs the others nothing; one that
//! stops reading is evicted, and the fan-out hands that back as a value
//! the loop here announces. [`presence`] decides who the others are told
//! about, and how (the crowd rule); [`limits`] holds the sizes and timings.
//!
//! The words the loop uses:
//! - a *batch* is the events taken from the channel in one turn, before
//!   anything is written: the busier the room, the bigger the batch and the
//!   fewer the system calls per line;
//! - to *append* is to add lines to a room's log (everyone in the room but
//!   the sender gets them); to *send to* is to queue lines for one client;
//! - to *flush* is to write what the batch appended and queued;
//! - to *service* is to write again to the clients that are behind, when
//!   their retry is due, and to evict those that stopped reading.

mod fanout;
mod layout;
mod limits;
mod logs;
mod pace;
mod peer;
mod plan;
mod presence;
mod restart;
mod roomlog;
mod write;
mod writer;

use std::io;
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::Instant;

use crossbeam_channel::{bounded, Receiver, RecvTimeoutError, TryRecvError};

use super::event::Event;
use super::recorder::Recorder;
use super::shared::Shared;
use fanout::Fanout;
use layout::Layout;
use limits::{Limits, GOODBYE_GRACE, MAX_BATCH_EVENTS};
pub(crate) use restart::Restart;

/// The running broadcaster thread.
#[derive(Debug)]
pub(crate) struct BroadcasterHandle {
    thread: JoinHandle<()>,
    /// Never sent on: the thread drops its end when it ends, so the server can
    /// wait for that with a deadline.
    finished_rx: Receiver<()>,
}

impl BroadcasterHandle {
    /// Waits until the thread has ended or `deadline` passes; true if it ended.
    pub(crate) fn finished_by(&self, deadline: Instant) -> bool {
        !matches!(
            self.finished_rx.recv_deadline(deadline),
            Err(RecvTimeoutError::Timeout)
        )
    }

    /// Waits for the thread to end.
    pub(crate) fn join(self) {
        let _ = self.thread.join();
    }
}

/// Starts the broadcaster. It runs until it handles [`Event::Shutdown`] or
/// every sender of `events_rx` is gone, and hands what is worth recording
/// to `recorder`.
///
/// # Errors
/// The thread could not be started.
pub(crate) fn spawn(
    shared: Arc<Shared>,
    events_rx: Receiver<Event>,
    recorder: Recorder,
    restart: Restart,
) -> io::Result<BroadcasterHandle> {
    let (finished_tx, finished_rx) = bounded::<()>(0);
    let limits = Limits::new(&shared.config);
    let fanout = Fanout::new(limits, shared.stats.clone());
    let mut layout = Layout::new(shared, recorder, fanout);
    layout.restore(restart);
    let broadcaster = Broadcaster {
        layout,
        limits,
        events_rx,
    };
    let thread = thread::Builder::new()
        .name("broadcaster".to_string())
        .spawn(move || {
            let _finished = finished_tx;
            broadcaster.run();
        })?;
    Ok(BroadcasterHandle {
        thread,
        finished_rx,
    })
}

/// The broadcaster thread: its channel and its layout.
#[derive(Debug)]
struct Broadcaster {
    events_rx: Receiver<Event>,
    /// What each event means, and the fan-out that writes it.
    layout: Layout,
    limits: Limits,
}

impl Broadcaster {
    /// Each turn: write again to the clients that are behind and due, tell
    /// crowded rooms their summaries, take every event already waiting (up
    /// to a bound), then flush the batch. Nothing here waits for a client.
    fn run(mut self) {
        loop {
            self.layout.tick(Instant::now());
            let first = if self.layout.has_unflushed() {
                // Notices from this turn are waiting to be written: don't block.
                None
            } else {
                let event = match self.layout.next_look() {
                    Some(at) => self.events_rx.recv_deadline(at).map_err(|e| e.is_timeout()),
                    None => self.events_rx.recv().map_err(|_| false),
                };
                match event {
                    Ok(event) => Some(event),
                    Err(true) => continue, // a retry or a summary is due
                    Err(false) => return,  // every sender is gone
                }
            };
            let stop = self.take_batch(first);
            self.layout.flush(Instant::now());
            if stop {
                self.layout.goodbye(GOODBYE_GRACE);
                return;
            }
        }
    }

    /// Handles `first` and every event already waiting, up to the batch's
    /// bounds. Returns true for shutdown (or when every sender is gone).
    fn take_batch(&mut self, first: Option<Event>) -> bool {
        self.layout.new_batch();
        let mut next = first;
        for _ in 0..MAX_BATCH_EVENTS {
            if let Some(event) = next.take() {
                if self.layout.handle(event) {
                    return true;
                }
            }
            if self.layout.batch_bytes() >= self.limits.batch_bytes {
                return false;
            }
            match self.events_rx.try_recv() {
                Ok(event) => next = Some(event),
                Err(TryRecvError::Empty) => return false,
                Err(TryRecvError::Disconnected) => return true,
            }
        }
        false
    }
}
