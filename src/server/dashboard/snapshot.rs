//! What the dashboard shows at one moment ([`Snapshot`]), and its JSON,
//! written by hand (pure). `docs/ARCHITECTURE.md` and the page read these
//! field names; `tests/dashboard.rs` parses the text with `serde_json`.

use std::fmt::Write;
use std::sync::Arc;

use super::procnet::KernelQueues;
use crate::server::json::string as json_string;
use crate::server::recorder::recent::RecentEvent;

/// The room at one moment.
#[derive(Debug, Clone, Default)]
pub(crate) struct Snapshot {
    /// Seconds since the server started.
    pub(crate) uptime_secs: u64,
    /// `--sendq-bytes`: the most bytes of its own (replies, private
    /// messages, history) that may wait for one client.
    pub(crate) sendq_limit: u64,
    /// `--room-log-bytes`: how far behind its room a client may fall
    /// before it skips ahead.
    pub(crate) room_log_bytes: u64,
    /// `--rate-limit`, lines per second per client (0: off).
    pub(crate) rate_limit: u32,
    /// Whether the server asks for a class code (`--key`).
    pub(crate) class_code: bool,
    /// Events waiting in the broadcaster's channel.
    pub(crate) events_queued: usize,
    /// How many it can hold.
    pub(crate) events_capacity: usize,
    /// Whether the kernel's queues can be read here (Linux).
    pub(crate) kernel_queues: bool,
    /// Every connected client, in the order they joined.
    pub(crate) clients: Vec<ClientRow>,
    /// Every room with its members.
    pub(crate) rooms: Vec<RoomRow>,
    /// Counts and rates for the whole server.
    pub(crate) totals: Totals,
    /// The last joins, leaves, renames and kicks, oldest first.
    pub(crate) recent: Vec<RecentEvent>,
}

/// One client.
#[derive(Debug, Clone, Default)]
pub(crate) struct ClientRow {
    /// Its id (they count up as clients connect).
    pub(crate) id: u64,
    /// Its name.
    pub(crate) name: Arc<str>,
    /// The room it is in.
    pub(crate) room: String,
    /// Its address and port.
    pub(crate) addr: String,
    /// Seconds since it connected.
    pub(crate) connected_secs: u64,
    /// Chat lines it has sent.
    pub(crate) lines_sent: u64,
    /// How far behind it is in the server: the bytes of its room's log it
    /// has not had yet, plus its own queue.
    pub(crate) queued_bytes: u64,
    /// Room lines it skipped, having fallen too far behind.
    pub(crate) skipped_lines: u64,
    /// Its reader is holding a line back for the rate limit right now.
    pub(crate) rate_limited: bool,
    /// The console muted it.
    pub(crate) muted: bool,
    /// Its socket's kernel queues, where they can be read.
    pub(crate) kernel: Option<KernelQueues>,
}

/// One room.
#[derive(Debug, Clone, Default)]
pub(crate) struct RoomRow {
    /// Its name.
    pub(crate) name: String,
    /// Who is in it, in the order they joined.
    pub(crate) members: Vec<Arc<str>>,
}

/// Server-wide counts and rates. Rates are per second, from the change in
/// each counter since the sample before.
#[derive(Debug, Clone, Default)]
pub(crate) struct Totals {
    /// Clients connected.
    pub(crate) clients: usize,
    /// Chat lines accepted, per second.
    pub(crate) lines_per_sec: f64,
    /// Lines handed to recipients (a line to 30 people is 30), per second.
    pub(crate) deliveries_per_sec: f64,
    /// Bytes written to clients, per second.
    pub(crate) bytes_per_sec: f64,
    /// Chat lines accepted since the start.
    pub(crate) lines: u64,
    /// Deliveries since the start.
    pub(crate) deliveries: u64,
    /// Bytes written since the start.
    pub(crate) bytes_out: u64,
    /// Clients disconnected for not keeping up.
    pub(crate) evicted_too_slow: u64,
    /// Clients whose connection was reset.
    pub(crate) evicted_reset: u64,
    /// Clients the console kicked.
    pub(crate) kicked: u64,
    /// Room lines that readers who fell too far behind skipped.
    pub(crate) lines_skipped: u64,
    /// Connections turned away for a wrong class code.
    pub(crate) turned_away: u64,
    /// Transcript and recent-event records dropped rather than making the
    /// chat wait.
    pub(crate) records_dropped: u64,
}

/// A JSON object being written: keeps track of the commas.
#[derive(Debug)]
struct Object<'a> {
    out: &'a mut String,
    empty: bool,
}

impl<'a> Object<'a> {
    fn start(out: &'a mut String) -> Object<'a> {
        out.push('{');
        Object { out, empty: true }
    }

    /// `"key":` and the comma before it; the value is written next.
    fn key(&mut self, key: &str) -> &mut String {
        if !self.empty {
            self.out.push(',');
        }
        self.empty = false;
        self.out.push_str(&json_string(key));
        self.out.push(':');
        self.out
    }

    fn text(&mut self, key: &str, value: &str) {
        let value = json_string(value);
        self.key(key).push_str(&value);
    }

    fn number(&mut self, key: &str, value: u64) {
        let _ = write!(self.key(key), "{value}");
    }

    /// A rate, with one decimal; anything not finite (never expected) as 0.
    fn rate(&mut self, key: &str, value: f64) {
        let value = if value.is_finite() { value } else { 0.0 };
        let _ = write!(self.key(key), "{value:.1}");
    }

    fn flag(&mut self, key: &str, value: bool) {
        self.key(key).push_str(if value { "true" } else { "false" });
    }

    fn end(self) {
        self.out.push('}');
    }
}

/// Writes `items` as a JSON array, each with `item`.
fn array<T>(out: &mut String, items: &[T], mut item: impl FnMut(&mut String, &T)) {
    out.push('[');
    for (i, value) in items.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        item(out, value);
    }
    out.push(']');
}

impl Snapshot {
    /// The snapshot as one line of JSON (no newline in it, so it fits one
    /// `data:` line of an event stream).
    pub(crate) fn to_json(&self) -> String {
        let mut out = String::with_capacity(512 + 256 * self.clients.len());
        let mut top = Object::start(&mut out);
        top.number("uptime_secs", self.uptime_secs);
        top.number("sendq_limit", self.sendq_limit);
        top.number("room_log_bytes", self.room_log_bytes);
        top.number("rate_limit", u64::from(self.rate_limit));
        top.flag("class_code", self.class_code);
        top.number("events_queued", self.events_queued as u64);
        top.number("events_capacity", self.events_capacity as u64);
        top.flag("kernel_queues", self.kernel_queues);
        let totals = top.key("totals");
        write_totals(totals, &self.totals);
        array(top.key("clients"), &self.clients, write_client);
        array(top.key("rooms"), &self.rooms, |out, room| {
            let mut o = Object::start(out);
            o.text("name", &room.name);
            array(o.key("members"), &room.members, |out, name| {
                out.push_str(&json_string(name));
            });
            o.end();
        });
        array(top.key("recent"), &self.recent, write_event);
        top.end();
        out
    }
}

fn write_totals(out: &mut String, totals: &Totals) {
    let mut o = Object::start(out);
    o.number("clients", totals.clients as u64);
    o.rate("lines_per_sec", totals.lines_per_sec);
    o.rate("deliveries_per_sec", totals.deliveries_per_sec);
    o.rate("bytes_per_sec", totals.bytes_per_sec);
    o.number("lines", totals.lines);
    o.number("deliveries", totals.deliveries);
    o.number("bytes_out", totals.bytes_out);
    let evicted = o.key("evicted");
    let mut e = Object::start(evicted);
    e.number("too_slow", totals.evicted_too_slow);
    e.number("reset", totals.evicted_reset);
    e.number("kicked", totals.kicked);
    e.end();
    o.number("lines_skipped", totals.lines_skipped);
    o.number("turned_away", totals.turned_away);
    o.number("records_dropped", totals.records_dropped);
    o.end();
}

/// One client. The kernel's queues are left out, not null, where they
/// cannot be read: the page tells "not measured" from "zero".
fn write_client(out: &mut String, client: &ClientRow) {
    let mut o = Object::start(out);
    o.number("id", client.id);
    o.text("name", &client.name);
    o.text("room", &client.room);
    o.text("addr", &client.addr);
    o.number("connected_secs", client.connected_secs);
    o.number("lines_sent", client.lines_sent);
    o.number("queued_bytes", client.queued_bytes);
    o.number("skipped_lines", client.skipped_lines);
    o.flag("rate_limited", client.rate_limited);
    o.flag("muted", client.muted);
    if let Some(kernel) = client.kernel {
        o.number("kernel_send", kernel.send);
        o.number("kernel_recv", kernel.recv);
    }
    o.end();
}

fn write_event(out: &mut String, event: &RecentEvent) {
    let mut o = Object::start(out);
    o.number("seq", event.seq);
    o.number("at_ms", event.at_ms);
    o.text("kind", event.kind.name());
    o.text("name", &event.name);
    match &event.detail {
        Some(detail) => o.text("detail", detail),
        None => o.key("detail").push_str("null"),
    }
    o.end();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::recorder::recent::RecentKind;
    use proptest::prelude::*;

    proptest! {
        /// Whatever a name or a reason holds, the text is JSON that a real
        /// parser reads back to the same strings.
        #[test]
        fn any_text_survives_a_real_parser(name in any::<String>(), detail in any::<String>()) {
            let snapshot = Snapshot {
                clients: vec![ClientRow {
                    name: Arc::from(name.as_str()),
                    room: detail.clone(),
                    ..ClientRow::default()
                }],
                recent: vec![RecentEvent {
                    seq: 1,
                    at_ms: 2,
                    kind: RecentKind::Kick,
                    name: name.clone(),
                    detail: Some(detail.clone()),
                }],
                ..Snapshot::default()
            };
            let json = snapshot.to_json();
            prop_assert!(!json.contains('\n'));
            let value: serde_json::Value = serde_json::from_str(&json).expect("valid JSON");
            prop_assert_eq!(value["clients"][0]["name"].as_str(), Some(name.as_str()));
            prop_assert_eq!(value["clients"][0]["room"].as_str(), Some(detail.as_str()));
            prop_assert_eq!(value["recent"][0]["detail"].as_str(), Some(detail.as_str()));
        }
    }

    #[test]
    fn an_empty_room() {
        let snapshot = Snapshot {
            uptime_secs: 3,
            sendq_limit: 262_144,
            room_log_bytes: 1_048_576,
            rate_limit: 20,
            events_capacity: 1024,
            ..Snapshot::default()
        };
        assert_eq!(
            snapshot.to_json(),
            concat!(
                r#"{"uptime_secs":3,"sendq_limit":262144,"room_log_bytes":1048576,"rate_limit":20,"class_code":false,"#,
                r#""events_queued":0,"events_capacity":1024,"kernel_queues":false,"#,
                r#""totals":{"clients":0,"lines_per_sec":0.0,"deliveries_per_sec":0.0,"#,
                r#""bytes_per_sec":0.0,"lines":0,"deliveries":0,"bytes_out":0,"#,
                r#""evicted":{"too_slow":0,"reset":0,"kicked":0},"#,
                r#""lines_skipped":0,"turned_away":0,"records_dropped":0},"#,
                r#""clients":[],"rooms":[],"recent":[]}"#
            )
        );
    }

    #[test]
    fn clients_rooms_and_events() {
        let snapshot = Snapshot {
            kernel_queues: true,
            clients: vec![
                ClientRow {
                    id: 1,
                    name: Arc::from("ann \"the\" \\ one"),
                    room: "lobby".into(),
                    addr: "127.0.0.1:5000".into(),
                    connected_secs: 61,
                    lines_sent: 4,
                    queued_bytes: 1200,
                    skipped_lines: 312,
                    rate_limited: true,
                    muted: false,
                    kernel: Some(KernelQueues { send: 300, recv: 7 }),
                },
                ClientRow {
                    id: 2,
                    name: Arc::from("bob"),
                    room: "lobby".into(),
                    addr: "[::1]:5001".into(),
                    muted: true,
                    ..ClientRow::default()
                },
            ],
            rooms: vec![RoomRow {
                name: "lobby".into(),
                members: vec![Arc::from("ann \"the\" \\ one"), Arc::from("bob")],
            }],
            totals: Totals {
                clients: 2,
                lines_per_sec: 12.34,
                deliveries_per_sec: f64::NAN,
                ..Totals::default()
            },
            recent: vec![
                RecentEvent {
                    seq: 9,
                    at_ms: 1_700_000_000_000,
                    kind: RecentKind::Leave,
                    name: "sloth".into(),
                    detail: Some("too slow".into()),
                },
                RecentEvent {
                    seq: 10,
                    at_ms: 1_700_000_000_001,
                    kind: RecentKind::Join,
                    name: "carol".into(),
                    detail: None,
                },
            ],
            ..Snapshot::default()
        };
        let json = snapshot.to_json();
        assert!(!json.contains('\n'));
        assert!(json.contains(
            r#""clients":[{"id":1,"name":"ann \"the\" \\ one","room":"lobby","addr":"127.0.0.1:5000","connected_secs":61,"lines_sent":4,"queued_bytes":1200,"skipped_lines":312,"rate_limited":true,"muted":false,"kernel_send":300,"kernel_recv":7},"#
        ), "{json}");
        assert!(json.contains(
            r#"{"id":2,"name":"bob","room":"lobby","addr":"[::1]:5001","connected_secs":0,"lines_sent":0,"queued_bytes":0,"skipped_lines":0,"rate_limited":false,"muted":true}]"#
        ), "without kernel figures, none are written: {json}");
        assert!(
            json.contains(r#""rooms":[{"name":"lobby","members":["ann \"the\" \\ one","bob"]}]"#)
        );
        assert!(
            json.contains(r#""lines_per_sec":12.3,"deliveries_per_sec":0.0,"#),
            "{json}"
        );
        assert!(json.ends_with(
            r#""recent":[{"seq":9,"at_ms":1700000000000,"kind":"leave","name":"sloth","detail":"too slow"},{"seq":10,"at_ms":1700000000001,"kind":"join","name":"carol","detail":null}]}"#
        ));
    }
}
