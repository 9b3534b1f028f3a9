//! One run's results: the [`Report`], printed for a person or as one flat JSON
//! object (which the suite reads back from each child run it starts), and the
//! [`record!`] macro that declares such a flat record (scenario E uses it too).

use std::collections::BTreeMap;
use std::fmt::Write as _;

/// A JSON value of the kinds a report uses.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    /// A count.
    Int(u64),
    /// A measurement.
    Num(f64),
    /// Yes or no.
    Bool(bool),
    /// Text.
    Text(String),
    /// Not measured (not on Linux, or not applicable).
    Null,
}

/// Conversion of a report field to and from a [`Value`].
pub(crate) trait Field: Sized {
    fn to_value(&self) -> Value;
    fn from_value(value: Option<&Value>) -> Self;
}

impl Field for f64 {
    fn to_value(&self) -> Value {
        Value::Num(*self)
    }
    fn from_value(value: Option<&Value>) -> Self {
        match value {
            Some(Value::Num(n)) => *n,
            Some(Value::Int(n)) => *n as f64,
            _ => 0.0,
        }
    }
}

impl Field for u64 {
    fn to_value(&self) -> Value {
        Value::Int(*self)
    }
    fn from_value(value: Option<&Value>) -> Self {
        match value {
            Some(Value::Int(n)) => *n,
            other => f64::from_value(other) as u64,
        }
    }
}

impl Field for bool {
    fn to_value(&self) -> Value {
        Value::Bool(*self)
    }
    fn from_value(value: Option<&Value>) -> Self {
        matches!(value, Some(Value::Bool(true)))
    }
}

impl Field for String {
    fn to_value(&self) -> Value {
        Value::Text(self.clone())
    }
    fn from_value(value: Option<&Value>) -> Self {
        match value {
            Some(Value::Text(t)) => t.clone(),
            _ => String::new(),
        }
    }
}

impl Field for Option<f64> {
    fn to_value(&self) -> Value {
        self.map_or(Value::Null, Value::Num)
    }
    fn from_value(value: Option<&Value>) -> Self {
        match value {
            Some(Value::Num(n)) => Some(*n),
            Some(Value::Int(n)) => Some(*n as f64),
            _ => None,
        }
    }
}

/// Declares a flat record once, with its JSON names, so the writer and the
/// reader cannot drift apart: the struct, `pairs()` (names and values in
/// order), `from_map()` (missing fields are zero) and `to_json()`.
macro_rules! record {
    ($(#[doc = $what:literal])* $record:ident { $($(#[doc = $doc:literal])* $name:ident: $ty:ty,)* }) => {
        $(#[doc = $what])*
        #[derive(Debug, Clone, Default)]
        pub(crate) struct $record {
            $($(#[doc = $doc])* pub(crate) $name: $ty,)*
        }

        impl $record {
            /// The fields in order, as JSON names and values.
            pub(crate) fn pairs(&self) -> Vec<(&'static str, $crate::report::Value)> {
                vec![$((stringify!($name), $crate::report::Field::to_value(&self.$name)),)*]
            }

            /// A record from JSON names and values; missing fields are zero.
            pub(crate) fn from_map(
                map: &std::collections::BTreeMap<String, $crate::report::Value>,
            ) -> $record {
                $record {
                    $($name: $crate::report::Field::from_value(map.get(stringify!($name))),)*
                }
            }

            /// As one line of JSON.
            pub(crate) fn to_json(&self) -> String {
                $crate::report::json_line(self.pairs())
            }
        }
    };
}
pub(crate) use record;

/// Names and values as one line of JSON (`serde_json` writes it, so text is
/// escaped properly).
pub(crate) fn json_line(pairs: Vec<(&'static str, Value)>) -> String {
    let mut object = serde_json::Map::new();
    for (name, value) in pairs {
        let value = match value {
            Value::Num(n) => serde_json::Number::from_f64(n)
                .map_or(serde_json::Value::Null, serde_json::Value::Number),
            Value::Int(n) => serde_json::Value::from(n),
            Value::Bool(b) => serde_json::Value::Bool(b),
            Value::Text(t) => serde_json::Value::String(t),
            Value::Null => serde_json::Value::Null,
        };
        object.insert(name.to_string(), value);
    }
    serde_json::Value::Object(object).to_string()
}

record! {
    /// Everything one fan-out run measured.
    Report {
        /// The scenario's name, if the suite gave one.
        label: String,
        /// `in-process`, or the address of the server driven.
        target: String,
        /// Connections.
        clients: u64,
        /// Sending clients.
        senders: u64,
        /// Lines per sender.
        messages: u64,
        /// Rooms the clients were spread over (0: all in the lobby).
        rooms: u64,
        /// Bytes per line.
        size: u64,
        /// Lines per second per sender (0: flat out).
        rate: f64,
        /// Generator threads.
        threads: u64,
        /// Deliveries a correct server makes.
        expected: u64,
        /// Distinct deliveries that arrived.
        received: u64,
        /// Expected deliveries that never arrived.
        lost: u64,
        /// Deliveries that arrived more than once.
        duplicated: u64,
        /// Deliveries that arrived after a later line from the same sender.
        reordered: u64,
        /// Lines that arrived broken (cut, spliced, mangled).
        corrupted: u64,
        /// Intact lines that should not have arrived at all (echoes to the sender).
        stray: u64,
        /// Intact lines that reached a client in another room than their sender's.
        crossed: u64,
        /// Connections the server closed during the run.
        disconnected: u64,
        /// Deliveries per second, from the first send to the last delivery.
        deliveries_per_s: f64,
        /// That window, in seconds.
        send_window_s: f64,
        /// True if every expected delivery arrived before the stall timeout.
        complete: bool,
        /// Latency percentiles and maximum, milliseconds (send to receive).
        p50_ms: Option<f64>,
        /// 99th percentile latency, milliseconds.
        p99_ms: Option<f64>,
        /// Largest latency, milliseconds.
        max_ms: Option<f64>,
        /// Seconds to open every connection.
        connect_s: f64,
        /// Seconds from the first connection to the last join notice received.
        settle_s: f64,
        /// True if the room never went quiet within the limit.
        settle_timed_out: bool,
        /// What the memory and CPU figures cover.
        scope: String,
        /// Peak RSS during the run, MiB.
        rss_peak_mib: Option<f64>,
        /// RSS once every client was connected and the room quiet, MiB.
        rss_settled_mib: Option<f64>,
        /// Server CPU seconds from the first connect to the last delivery.
        server_cpu_s: Option<f64>,
        /// Server CPU seconds in the send window.
        server_cpu_send_s: Option<f64>,
        /// The broadcaster thread's CPU seconds in the send window (in-process).
        broadcaster_cpu_send_s: Option<f64>,
        /// The generator's CPU seconds in the send window.
        generator_cpu_send_s: Option<f64>,
        /// CPU used by everything else on the machine from the first connect to
        /// the last delivery, percent of the machine's capacity.
        background_cpu_pct: Option<f64>,
        /// CPU taken by the hypervisor meanwhile, percent of capacity.
        steal_pct: Option<f64>,
        /// Share of the send window the broadcaster was on a CPU, percent (sampled).
        broadcaster_running_pct: Option<f64>,
        /// ... blocked writing to a socket whose receiver had not drained it.
        broadcaster_writing_pct: Option<f64>,
        /// ... waiting for the next event (nothing to send).
        broadcaster_waiting_pct: Option<f64>,
        /// Share of the generator threads' time spent waiting in `poll` during the
        /// send window, percent.
        generator_idle_pct: Option<f64>,
    }
}

impl Report {
    /// True when nothing was lost, duplicated, reordered, corrupted or stray.
    pub(crate) fn is_clean(&self) -> bool {
        self.lost == 0
            && self.duplicated == 0
            && self.reordered == 0
            && self.corrupted == 0
            && self.stray == 0
            && self.crossed == 0
    }

    /// For a person: a short block of labelled lines.
    pub(crate) fn to_text(&self) -> String {
        let mut t = String::new();
        let ms = |v: Option<f64>| v.map_or("n/a".to_string(), |v| format!("{v:.3} ms"));
        let s = |v: Option<f64>| v.map_or("n/a".to_string(), |v| format!("{v:.2} s"));
        let mib = |v: Option<f64>| v.map_or("n/a".to_string(), |v| format!("{v:.1} MiB"));
        let _ = writeln!(
            t,
            "{}{} clients{}, {} senders x {} lines of {} bytes{} -> {}",
            if self.label.is_empty() {
                String::new()
            } else {
                format!("[{}] ", self.label)
            },
            self.clients,
            if self.rooms > 0 {
                format!(" in {} rooms", self.rooms)
            } else {
                String::new()
            },
            self.senders,
            self.messages,
            self.size,
            if self.rate > 0.0 {
                format!(" at {} lines/s each", self.rate)
            } else {
                String::new()
            },
            self.target
        );
        let _ = writeln!(
            t,
            "  deliveries  expected {}  received {}  lost {}  duplicated {}  reordered {}  corrupted {}  stray {}  crossed rooms {}{}",
            self.expected,
            self.received,
            self.lost,
            self.duplicated,
            self.reordered,
            self.corrupted,
            self.stray,
            self.crossed,
            if self.complete { "" } else { "  (stalled)" }
        );
        let _ = writeln!(
            t,
            "  throughput  {:.0} deliveries/s over {:.3} s;  disconnected by server: {}",
            self.deliveries_per_s, self.send_window_s, self.disconnected
        );
        let _ = writeln!(
            t,
            "  latency     p50 {}  p99 {}  max {}",
            ms(self.p50_ms),
            ms(self.p99_ms),
            ms(self.max_ms)
        );
        let _ = writeln!(
            t,
            "  connect     {:.2} s;  connect+settle {:.2} s{}",
            self.connect_s,
            self.settle_s,
            if self.settle_timed_out {
                " (never settled)"
            } else {
                ""
            }
        );
        let _ = writeln!(
            t,
            "  memory      peak RSS {}, settled RSS {}  ({})",
            mib(self.rss_peak_mib),
            mib(self.rss_settled_mib),
            self.scope
        );
        let _ = writeln!(
            t,
            "  cpu         server {} in all, {} while sending (broadcaster {});  generator {} while sending, idle {} of the time",
            s(self.server_cpu_s),
            s(self.server_cpu_send_s),
            s(self.broadcaster_cpu_send_s),
            s(self.generator_cpu_send_s),
            self.generator_idle_pct
                .map_or("n/a".to_string(), |p| format!("{p:.0}%"))
        );
        if let (Some(background), Some(steal)) = (self.background_cpu_pct, self.steal_pct) {
            let _ = writeln!(
                t,
                "  machine     other processes used {background:.0}% of the CPU meanwhile, hypervisor steal {steal:.0}%"
            );
        }
        if let (Some(run), Some(write), Some(wait)) = (
            self.broadcaster_running_pct,
            self.broadcaster_writing_pct,
            self.broadcaster_waiting_pct,
        ) {
            let _ = writeln!(
                t,
                "  broadcaster {run:.0}% running, {write:.0}% blocked writing, {wait:.0}% waiting for events (sampled while sending)"
            );
        }
        t
    }
}

/// Reads back what [`Report::to_json`] wrote: one flat JSON object.
///
/// # Errors
/// The text is not a JSON object.
pub(crate) fn parse_json(text: &str) -> Result<BTreeMap<String, Value>, String> {
    let object: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(text).map_err(|e| format!("bad JSON from a run: {e}"))?;
    Ok(object
        .into_iter()
        .map(|(name, value)| {
            let value = match value {
                serde_json::Value::Number(n) => match n.as_u64() {
                    Some(n) => Value::Int(n),
                    None => n.as_f64().map_or(Value::Null, Value::Num),
                },
                serde_json::Value::Bool(b) => Value::Bool(b),
                serde_json::Value::String(t) => Value::Text(t),
                _ => Value::Null,
            };
            (name, value)
        })
        .collect())
}
