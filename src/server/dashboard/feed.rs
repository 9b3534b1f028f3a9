//! The latest snapshot, as JSON text, handed from the sampler to every open
//! page: the sampler publishes one every half second, `/state.json` takes the
//! newest, and each `/events` stream waits for the next.

use std::sync::Arc;
use std::time::Instant;

use parking_lot::{Condvar, Mutex};

/// What a wait for the next snapshot ended with.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Next {
    /// A snapshot newer than the one the caller had: its number and text.
    Fresh(u64, Arc<str>),
    /// Nothing new before the deadline.
    TimedOut,
    /// The dashboard is stopping: no more snapshots will come.
    Closed,
}

/// One slot holding the newest snapshot, and a condition variable to wake the
/// streams waiting for a newer one. The text is shared (`Arc<str>`), so the
/// lock is held only to swap or clone a pointer, never while writing a socket.
#[derive(Debug)]
pub(crate) struct Feed {
    slot: Mutex<Slot>,
    changed: Condvar,
}

#[derive(Debug)]
struct Slot {
    seq: u64,
    json: Arc<str>,
    closed: bool,
}

impl Feed {
    /// A feed whose first snapshot is `json`, so there is always one to serve.
    pub(crate) fn new(json: String) -> Feed {
        Feed {
            slot: Mutex::new(Slot {
                seq: 1,
                json: Arc::from(json),
                closed: false,
            }),
            changed: Condvar::new(),
        }
    }

    /// Replaces the snapshot and wakes every waiting stream.
    pub(crate) fn publish(&self, json: String) {
        let json = Arc::from(json);
        let mut slot = self.slot.lock();
        slot.seq += 1;
        slot.json = json;
        drop(slot);
        self.changed.notify_all();
    }

    /// The newest snapshot and its number.
    pub(crate) fn latest(&self) -> (u64, Arc<str>) {
        let slot = self.slot.lock();
        (slot.seq, slot.json.clone())
    }

    /// Waits until there is a snapshot newer than number `seen`, the feed
    /// closes, or `deadline` passes.
    pub(crate) fn next_after(&self, seen: u64, deadline: Instant) -> Next {
        let mut slot = self.slot.lock();
        loop {
            if slot.closed {
                return Next::Closed;
            }
            if slot.seq > seen {
                return Next::Fresh(slot.seq, slot.json.clone());
            }
            if self.changed.wait_until(&mut slot, deadline).timed_out() {
                return Next::TimedOut;
            }
        }
    }

    /// Ends every stream: waiting ones wake with [`Next::Closed`].
    pub(crate) fn close(&self) {
        self.slot.lock().closed = true;
        self.changed.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::thread;
    use std::time::Duration;

    #[test]
    fn a_waiting_stream_wakes_for_a_new_snapshot_and_for_closing() {
        let feed = Arc::new(Feed::new("{\"n\":1}".into()));
        let (seen, first) = feed.latest();
        assert_eq!(&*first, "{\"n\":1}");
        let soon = || Instant::now() + Duration::from_millis(20);
        assert_eq!(feed.next_after(seen, soon()), Next::TimedOut);
        assert!(matches!(feed.next_after(seen - 1, soon()), Next::Fresh(s, _) if s == seen));

        let publisher = {
            let feed = feed.clone();
            thread::spawn(move || {
                thread::sleep(Duration::from_millis(50));
                feed.publish("{\"n\":2}".into());
            })
        };
        let later = Instant::now() + Duration::from_secs(10);
        match feed.next_after(seen, later) {
            Next::Fresh(seq, json) => {
                assert_eq!((seq, &*json), (seen + 1, "{\"n\":2}"));
            }
            other => panic!("expected the new snapshot, got {other:?}"),
        }
        publisher.join().expect("the publisher ran");

        let closer = {
            let feed = feed.clone();
            thread::spawn(move || {
                thread::sleep(Duration::from_millis(50));
                feed.close();
            })
        };
        assert_eq!(feed.next_after(seen + 1, later), Next::Closed);
        closer.join().expect("the closer ran");
    }
}
