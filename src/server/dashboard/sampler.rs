//! The sampler: one [`Snapshot`] of the room, made from the registry's copy,
//! the counters, the broadcaster's queue and the kernel's tables. The
//! `dashboard-sampler` thread (`mod.rs`) takes one every half second and
//! publishes it as JSON. Rates are the change in a counter between two
//! samples, so one sampler serves every open page.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::procnet::KernelTable;
use super::snapshot::{ClientRow, RoomRow, Snapshot, Totals};
use crate::server::client::ClientView;
use crate::server::event::{QueueGauge, EVENTS_CAPACITY};
use crate::server::recorder::recent::Recent;
use crate::server::shared::Shared;

/// How often a snapshot is taken (and sent to every `/events` stream).
pub(crate) const SAMPLE_EVERY: Duration = Duration::from_millis(500);

/// The counters a rate is made from.
#[derive(Debug, Clone, Copy, Default)]
struct Counters {
    lines: u64,
    deliveries: u64,
    bytes: u64,
}

/// Takes snapshots; keeps the counters of the last one for the rates.
#[derive(Debug)]
pub(crate) struct Sampler {
    shared: Arc<Shared>,
    /// The recent room events, as the recorder keeps them.
    recent: Arc<Recent>,
    /// The chat's listening address: each client's socket has it at its end.
    chat_addr: SocketAddr,
    /// The events waiting for the broadcaster.
    queue: QueueGauge,
    last: Option<(Instant, Counters)>,
}

impl Sampler {
    /// A sampler for the server whose chat listens on `chat_addr`.
    pub(crate) fn new(
        shared: Arc<Shared>,
        recent: Arc<Recent>,
        chat_addr: SocketAddr,
        queue: QueueGauge,
    ) -> Self {
        Sampler {
            shared,
            recent,
            chat_addr,
            queue,
            last: None,
        }
    }

    /// The room now, with each client's kernel queues from `kernel` (the
    /// caller reads the tables, which it also uses for the dashboard's own
    /// streams). The registry lock is held only inside
    /// [`Registry::snapshot`](crate::server::registry::Registry::snapshot),
    /// for the copy; everything else here reads atomics.
    pub(crate) fn sample(&mut self, kernel: Option<&KernelTable>) -> Snapshot {
        let shared = &self.shared;
        let views = shared.registry.snapshot();
        let now = Instant::now();
        let now_ms = shared.millis(now);
        let clients: Vec<ClientRow> = views
            .iter()
            .map(|view| {
                let meters = &view.meters;
                ClientRow {
                    id: view.id.0,
                    name: view.name.clone(),
                    room: room_of(view).to_string(),
                    addr: view.addr.to_string(),
                    connected_secs: now.saturating_duration_since(view.since).as_secs(),
                    lines_sent: meters.lines_sent.load(Relaxed),
                    queued_bytes: meters.queued_bytes.load(Relaxed),
                    skipped_lines: meters.skipped_lines.load(Relaxed),
                    rate_limited: meters.throttled.load(Relaxed),
                    muted: meters.mute.left(now_ms).is_some(),
                    kernel: kernel.and_then(|table| table.lookup(self.chat_addr, view.addr)),
                }
            })
            .collect();

        let stats = &shared.stats;
        let counters = Counters {
            lines: stats.lines_relayed.load(Relaxed),
            deliveries: stats.deliveries.load(Relaxed),
            bytes: stats.bytes_out.load(Relaxed),
        };
        let (lines_per_sec, deliveries_per_sec, bytes_per_sec) = match self.last {
            Some((then, before)) => {
                let secs = now.saturating_duration_since(then).as_secs_f64();
                (
                    per_sec(before.lines, counters.lines, secs),
                    per_sec(before.deliveries, counters.deliveries, secs),
                    per_sec(before.bytes, counters.bytes, secs),
                )
            }
            None => (0.0, 0.0, 0.0),
        };
        self.last = Some((now, counters));

        Snapshot {
            uptime_secs: now_ms / 1000,
            sendq_limit: shared.config.sendq_bytes as u64,
            room_log_bytes: shared.config.room_log_bytes as u64,
            rate_limit: shared.config.rate_limit,
            class_code: shared.config.key.is_some(),
            events_queued: self.queue.len(),
            events_capacity: EVENTS_CAPACITY,
            kernel_queues: kernel.is_some(),
            rooms: rooms(&clients),
            totals: Totals {
                clients: clients.len(),
                lines_per_sec,
                deliveries_per_sec,
                bytes_per_sec,
                lines: counters.lines,
                deliveries: counters.deliveries,
                bytes_out: counters.bytes,
                evicted_too_slow: stats.evicted_slow.load(Relaxed),
                evicted_reset: stats.evicted_reset.load(Relaxed),
                kicked: stats.kicked.load(Relaxed),
                lines_skipped: stats.lines_skipped.load(Relaxed),
                turned_away: stats.turned_away.load(Relaxed),
                records_dropped: stats.records_dropped.load(Relaxed),
            },
            clients,
            recent: self.recent.copy(),
        }
    }
}

/// The room a client is in, as the registry's snapshot has it.
fn room_of(view: &ClientView) -> &str {
    &view.room
}

/// The rooms, by name, each with its members in the order they joined.
fn rooms(clients: &[ClientRow]) -> Vec<RoomRow> {
    let mut rooms: BTreeMap<&str, Vec<Arc<str>>> = BTreeMap::new();
    for client in clients {
        rooms
            .entry(&client.room)
            .or_default()
            .push(client.name.clone());
    }
    // The lobby first, as `/rooms` lists it; then the others by name.
    let mut rooms: Vec<(&str, Vec<Arc<str>>)> = rooms.into_iter().collect();
    rooms.sort_by_key(|(name, _)| *name != "lobby");
    rooms
        .into_iter()
        .map(|(name, members)| RoomRow {
            name: name.to_string(),
            members,
        })
        .collect()
}

/// How fast a counter went from `before` to `after` in `secs` seconds. A
/// counter never goes down; if the interval is too short to tell, 0.
fn per_sec(before: u64, after: u64, secs: f64) -> f64 {
    if secs < 0.001 {
        return 0.0;
    }
    after.saturating_sub(before) as f64 / secs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_from_counter_deltas() {
        assert_eq!(per_sec(100, 150, 0.5), 100.0);
        assert_eq!(per_sec(100, 100, 0.5), 0.0);
        assert_eq!(per_sec(100, 90, 0.5), 0.0, "never negative");
        assert_eq!(per_sec(0, 10, 0.0), 0.0, "no time, no rate");
    }

    #[test]
    fn rooms_group_clients_in_join_order() {
        let client = |name: &str, room: &str| ClientRow {
            name: Arc::from(name),
            room: room.to_string(),
            ..ClientRow::default()
        };
        let rooms = rooms(&[
            client("cy", "lobby"),
            client("ann", "rust"),
            client("bob", "lobby"),
        ]);
        let got: Vec<(&str, Vec<&str>)> = rooms
            .iter()
            .map(|r| (r.name.as_str(), r.members.iter().map(|m| &**m).collect()))
            .collect();
        assert_eq!(got, [("lobby", vec!["cy", "bob"]), ("rust", vec!["ann"])]);
    }
}
