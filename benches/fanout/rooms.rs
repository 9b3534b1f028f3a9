//! Scenario F, many rooms on one server (issue 17): rooms of one size, alone
//! on the server and among many, each run in a fresh child process with the
//! fan-out generator in rooms mode (`--rooms`); then F's table, its rows of
//! the targets table and its section of `docs/BENCHMARKS.md`. `--many-rooms`
//! and the suite both come here.
//!
//! The question is whether a line costs the server more when its room is one
//! of many: a fan-out that looked at every client on the server would make it
//! grow with the server, not with the room. So every run sends the same lines
//! per second in all, paced so that lines mostly reach the broadcaster one at
//! a time (as in C), and runs are compared in pairs that differ only in how
//! many other clients and rooms the server has.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use crate::cells::{ms, pct, verdict};
use crate::child;
use crate::report::{self, Report};

/// Bytes per line, as in A-D.
const SIZE: usize = 64;
/// Lines per second sent in all, in every run: the same load whatever the
/// layout, light enough that the generator (whose 5000 connections share two
/// threads with the server on two cores) never becomes what is measured.
const LINES_PER_S: f64 = 500.0;
/// How long the senders send.
const SEND_FOR: Duration = Duration::from_secs(6);
/// The most that "roughly flat" allows: server CPU per line of a room among
/// many, over the same room's alone on the server.
const FLAT_LIMIT: f64 = 1.5;

/// One run of F: `rooms` rooms of `members` each, and `senders` clients that
/// send, spread over the rooms the way the generator spreads them (client `c`
/// is in room `c mod rooms`, and the first `senders` clients send): one
/// sender means one room talking while the others listen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Layout {
    rooms: usize,
    members: usize,
    senders: usize,
}

impl Layout {
    fn clients(&self) -> usize {
        self.rooms * self.members
    }

    /// Each sender's pace, so that every layout sends [`LINES_PER_S`] in all.
    fn rate(&self) -> f64 {
        LINES_PER_S / self.senders as f64
    }

    fn messages(&self) -> usize {
        (self.rate() * SEND_FOR.as_secs_f64()).round().max(1.0) as usize
    }

    fn name(&self) -> String {
        let layout = if self.rooms == 1 {
            format!("1 room of {}", self.members)
        } else {
            format!("{} rooms of {}", self.rooms, self.members)
        };
        let talking = match (self.rooms, self.senders.min(self.rooms)) {
            (1, _) => "alone".to_string(),
            (_, 1) => "one talking".to_string(),
            (rooms, talking) if talking == rooms => "all talking".to_string(),
            (_, talking) => format!("{talking} talking"),
        };
        format!("{layout}, {talking}")
    }

    fn args(&self) -> Vec<String> {
        let label = format!("F {}", self.name());
        [
            "--label",
            &label,
            "--clients",
            &self.clients().to_string(),
            "--rooms",
            &self.rooms.to_string(),
            "--senders",
            &self.senders.to_string(),
            "--messages",
            &self.messages().to_string(),
            "--rate",
            &self.rate().to_string(),
            "--size",
            &SIZE.to_string(),
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    }
}

/// One room of 50, alone on the server.
const ALONE_50: Layout = Layout {
    rooms: 1,
    members: 50,
    senders: 1,
};
/// The issue's 100 rooms of 50, one of them talking as [`ALONE_50`] does.
const ONE_OF_100: Layout = Layout {
    rooms: 100,
    members: 50,
    senders: 1,
};
/// The issue's 100 rooms of 50, all talking: two senders in each.
const ALL_OF_100: Layout = Layout {
    rooms: 100,
    members: 50,
    senders: 200,
};
/// One room of 5 alone, and one among 1000: a line there costs only four
/// writes, so any work done per client on the server, rather than per
/// member of the room, stands out.
const ALONE_5: Layout = Layout {
    rooms: 1,
    members: 5,
    senders: 1,
};
const ONE_OF_1000: Layout = Layout {
    rooms: 1000,
    members: 5,
    senders: 1,
};

/// Every run of F, in order.
const LAYOUTS: [Layout; 5] = [ALONE_50, ONE_OF_100, ALL_OF_100, ALONE_5, ONE_OF_1000];

/// What each comparison is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Judged {
    /// The issue's question, in its own numbers: a verdict.
    Issue,
    /// The same question where it is hardest to hide: a verdict.
    Stricter,
    /// Measured and stated.
    Stated,
}

/// The comparisons: a room among many, against the same room alone.
const COMPARISONS: [(Layout, Layout, Judged); 3] = [
    (ONE_OF_100, ALONE_50, Judged::Issue),
    (ONE_OF_1000, ALONE_5, Judged::Stricter),
    (ALL_OF_100, ALONE_50, Judged::Stated),
];

/// Everything scenario F measured.
#[derive(Debug, Clone)]
pub(crate) struct Results {
    /// One run per entry of [`LAYOUTS`], in order.
    rows: Vec<(Layout, Report)>,
    /// Wall time of all of F, child processes included.
    pub(crate) took: Duration,
}

impl Results {
    fn row(&self, layout: Layout) -> Option<&Report> {
        self.rows.iter().find(|(l, _)| *l == layout).map(|(_, r)| r)
    }

    /// Server CPU per line of `many` over that of `alone`.
    fn ratio(&self, many: Layout, alone: Layout) -> Option<f64> {
        let lots = cpu_per_line_us(&many, self.row(many)?)?;
        let one = cpu_per_line_us(&alone, self.row(alone)?)?;
        (one > 0.0).then(|| lots / one)
    }
}

/// Server CPU per line while sending, in microseconds: per delivery, times
/// the deliveries each line makes (a room of N gives each line to N - 1).
fn cpu_per_line_us(layout: &Layout, r: &Report) -> Option<f64> {
    per_line(layout, r, r.server_cpu_send_s?)
}

/// The same for the broadcaster thread alone.
fn broadcaster_per_line_us(layout: &Layout, r: &Report) -> Option<f64> {
    per_line(layout, r, r.broadcaster_cpu_send_s?)
}

fn per_line(layout: &Layout, r: &Report, cpu_s: f64) -> Option<f64> {
    (r.received > 0)
        .then(|| cpu_s * 1e6 / r.received as f64 * layout.members.saturating_sub(1) as f64)
}

/// `--many-rooms`: runs all of F, then prints its table and targets.
///
/// # Errors
/// A run could not be made.
pub(crate) fn run() -> Result<(), String> {
    let results = measure()?;
    println!("\n{}", table(&results));
    println!("| target | measured | verdict |\n|---|---|---|");
    // The suite's targets table has a Node column; alone, F has none.
    for row in target_rows(&results).lines() {
        println!("{}", row.replace(" | - |", " |"));
    }
    println!("\nall of F took {:.0} s", results.took.as_secs_f64());
    Ok(())
}

/// Runs every layout of F, each in a fresh child process (this program, one
/// run, `--json`), printing a line as each one ends.
///
/// # Errors
/// A run could not be made.
pub(crate) fn measure() -> Result<Results, String> {
    let begun = Instant::now();
    println!(
        "Scenario F, many rooms: {LINES_PER_S} lines/s of {SIZE} bytes in all for {} s, in-process, a fresh process per run:",
        SEND_FOR.as_secs()
    );
    let mut rows = Vec::new();
    for layout in LAYOUTS {
        rows.push(run_layout(layout)?);
    }
    Ok(Results {
        rows,
        took: begun.elapsed(),
    })
}

fn run_layout(layout: Layout) -> Result<(Layout, Report), String> {
    let line = child::run_json(&layout.args())?;
    let r = Report::from_map(&report::parse_json(&line)?);
    println!(
        "  {:<30} {:>5} clients  {}  {}/s  p50 {}  p99 {}  settle {:.2} s  server CPU {} ({} per line)  other load {}",
        layout.name(),
        layout.clients(),
        errors(&r),
        rate(r.deliveries_per_s),
        ms(r.p50_ms),
        ms(r.p99_ms),
        r.settle_s,
        secs(r.server_cpu_send_s),
        us(cpu_per_line_us(&layout, &r)),
        pct(r.background_cpu_pct)
    );
    Ok((layout, r))
}

fn errors(r: &Report) -> String {
    if r.is_clean() && r.complete {
        "errors: none".to_string()
    } else {
        format!(
            "lost {} dup {} reordered {} corrupt {} stray {} crossed {}",
            r.lost, r.duplicated, r.reordered, r.corrupted, r.stray, r.crossed
        )
    }
}

fn rate(per_s: f64) -> String {
    if per_s >= 1e6 {
        format!("{:.2} M", per_s / 1e6)
    } else {
        format!("{:.1} k", per_s / 1e3)
    }
}

fn us(v: Option<f64>) -> String {
    v.map_or("-".to_string(), |v| format!("{v:.1} us"))
}

fn secs(v: Option<f64>) -> String {
    v.map_or("-".to_string(), |v| format!("{v:.3} s"))
}

fn times(v: Option<f64>) -> String {
    v.map_or("-".to_string(), |v| format!("{v:.2}x"))
}

/// F's table (Markdown, also printed).
pub(crate) fn table(results: &Results) -> String {
    let mut t = String::new();
    let _ = writeln!(
        t,
        "| layout | clients | senders x lines, pace | deliveries (received / expected) | lost / dup / reordered / corrupt / crossed rooms | deliveries/s | p50 | p99 | connect+settle | server CPU while sending | per line (broadcaster alone) | vs the room alone | peak RSS | other load |"
    );
    let _ = writeln!(
        t,
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
    );
    for (layout, r) in &results.rows {
        let versus = COMPARISONS
            .iter()
            .find(|(many, _, _)| many == layout)
            .and_then(|&(many, alone, _)| results.ratio(many, alone));
        let _ = writeln!(
            t,
            "| {} | {} | {} x {} at {}/s | {} / {}{} | {} / {} / {} / {} / {} | {}/s | {} | {} | {:.2} s{} | {} | {} ({}) | {} | {} | {} |",
            layout.name(),
            layout.clients(),
            layout.senders,
            layout.messages(),
            layout.rate(),
            r.received,
            r.expected,
            if r.complete { "" } else { " (stalled)" },
            r.lost,
            r.duplicated,
            r.reordered,
            r.corrupted,
            r.crossed,
            rate(r.deliveries_per_s),
            ms(r.p50_ms),
            ms(r.p99_ms),
            r.settle_s,
            if r.settle_timed_out {
                " (never settled)"
            } else {
                ""
            },
            secs(r.server_cpu_send_s),
            us(cpu_per_line_us(layout, r)),
            us(broadcaster_per_line_us(layout, r)),
            times(versus),
            r.rss_peak_mib
                .map_or("-".to_string(), |m| format!("{m:.1} MiB")),
            pct(r.background_cpu_pct)
        );
    }
    t
}

fn clean(r: &Report) -> bool {
    r.complete && r.is_clean() && r.disconnected == 0
}

/// F's rows of the targets table: target, measured, Node baseline (none
/// here), verdict.
pub(crate) fn target_rows(results: &Results) -> String {
    let mut t = String::new();
    if let Some(r) = results.row(ALL_OF_100) {
        let everyone = results.rows.iter().all(|(_, r)| clean(r));
        let _ = writeln!(
            t,
            "| F: {} clients in {} rooms of {}, all talking: every line reaches the rest of its own room, once, in order, and no other room (issue 17) | {} of {} deliveries, {}; {}/s, p50 {}, p99 {}; connect+settle {:.2} s; the other runs of F: {} | - | {} |",
            ALL_OF_100.clients(),
            ALL_OF_100.rooms,
            ALL_OF_100.members,
            r.received,
            r.expected,
            errors(r),
            rate(r.deliveries_per_s),
            ms(r.p50_ms),
            ms(r.p99_ms),
            r.settle_s,
            if everyone { "clean too" } else { "**not clean**" },
            verdict(everyone && !r.settle_timed_out)
        );
    }
    for (many, alone, judged) in COMPARISONS {
        let (Some(m), Some(a)) = (results.row(many), results.row(alone)) else {
            continue;
        };
        let v = results.ratio(many, alone);
        let measured = format!(
            "{} against {} per line: {}",
            us(cpu_per_line_us(&many, m)),
            us(cpu_per_line_us(&alone, a)),
            times(v)
        );
        let (target, judgement) = match judged {
            Judged::Issue | Judged::Stricter => (
                format!(
                    "F: the fan-out for a small room does not scan every client{}: server CPU per line of {} at most {FLAT_LIMIT}x that of {}, at the same lines/s (issue 17)",
                    if judged == Judged::Stricter {
                        " (the bench's stricter check)"
                    } else {
                        ""
                    },
                    many.name(),
                    alone.name()
                ),
                verdict(v.is_some_and(|v| v <= FLAT_LIMIT) && clean(m) && clean(a)),
            ),
            Judged::Stated => (
                format!(
                    "F: server CPU per line of {} against {}, at the same lines/s: measured and stated",
                    many.name(),
                    alone.name()
                ),
                "stated",
            ),
        };
        let _ = writeln!(t, "| {target} | {measured} | - | {judgement} |");
    }
    t
}

/// F's section of `docs/BENCHMARKS.md`.
pub(crate) fn section(results: &Results) -> String {
    let mut t = String::new();
    let _ = writeln!(t, "## Scenario F: many rooms (issue 17)\n");
    let _ = writeln!(
        t,
        "In-process, with the settings above. Every client sends `/join roomK` as it connects (client `c` to room `c mod R`) and counts as settled once it has read `* you are now in roomK`; **connect+settle** runs from the first connect to the last byte of the joins. Then the senders send {SIZE}-byte lines at a steady pace, {LINES_PER_S} lines per second in all in every run, for {} s; with one sender, one room talks and the others only listen. Each receiver checks every line of its own room's senders (once, in order, intact); a line from another room counts as **crossed rooms**. Each run is a fresh process; all of F took {:.0} s.\n",
        SEND_FOR.as_secs(),
        results.took.as_secs_f64()
    );
    t.push_str(&table(results));
    let _ = writeln!(
        t,
        "\n**Does a line cost more when its room is one of many?** At this pace lines mostly reach the broadcaster one at a time, so each line is one fan-out, to the same number of members in every run of a size. **Per line** is the server's CPU while sending (every server thread: the sender's reader and the broadcaster; in parentheses the broadcaster alone) over the lines delivered, and **vs the room alone** divides it by the figure of the same room alone on the server. One room talking among 100 (or 1000) quiet ones is the test of the issue's sentence: the talking room, its sender and its pace are those of the lone room, and only the 4950 (or 4995) other clients differ, so a fan-out that looked at every client on the server would show here and nothing else would. Rooms of 5 are the stricter check: a line costs only four writes there, so work done per client on the server, rather than per member of the room, is not hidden behind 49 writes. With all 100 rooms talking, each line goes to 49 other sockets than the line before; our reading (not measured here) is that their kernel state is then less often in the CPU's caches than that of the same 49 sockets over and over, so that run is stated, not judged. CPU is read from each thread's `schedstat` (nanoseconds), not the 10 ms ticks of `stat`, because a lone room of 5 uses well under a second.\n"
    );
    let _ = writeln!(
        t,
        "Reproduce with `cargo bench --bench fanout -- --many-rooms` (all of F), or one run, e.g. `-- --clients 5000 --rooms 100 --senders 200 --messages 15 --rate 2.5`.\n"
    );
    t
}
