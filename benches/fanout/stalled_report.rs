//! All of scenario E: each run in a fresh child process (a flood with K = 0, 1,
//! 5, 20 and 50 stalled clients, then the latency run), a line per run as it
//! ends, and E's table, its rows of the targets table and its section of
//! `docs/BENCHMARKS.md`. `--stalled` and the suite both come here.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use crate::cells::{mib, pct, verdict};
use crate::child;
use crate::report;
use crate::stalled::{
    FloodRow, LatencyRow, FLOOD_LINES, FLOOD_SIZE, PREFILL_LINES, TALK_EVERY, TALK_LINES, TALK_SIZE,
};

/// The numbers of stalled clients of the flood runs (the issue's), and of the
/// latency run.
const COUNTS: [usize; 5] = [0, 1, 5, 20, 50];
const LATENCY_STALLED: usize = 5;

/// The targets: extra flood time for (K, under this many seconds), from
/// issue 13; the worst latency of a normal line, milliseconds, and the
/// memory 50 stalled clients may add, MiB, from issue 24.
const EXTRA_TARGETS: [(u64, f64); 2] = [(20, 0.3), (50, 0.5)];
const LATENCY_TARGET_MS: f64 = 50.0;
/// The row whose memory is a target figure, and its target.
const MEMORY_K: u64 = 50;
const MEMORY_TARGET_MIB: f64 = 8.0;

/// Everything scenario E measured.
#[derive(Debug, Clone)]
pub(crate) struct Results {
    /// One flood run per entry of [`COUNTS`], in order.
    pub(crate) floods: Vec<FloodRow>,
    /// The latency run.
    pub(crate) latency: LatencyRow,
    /// Wall time of all of E, child processes included.
    pub(crate) took: Duration,
    /// The deadline each run had.
    pub(crate) deadline: Duration,
}

impl Results {
    fn flood(&self, k: u64) -> Option<&FloodRow> {
        self.floods.iter().find(|r| r.stalled == k)
    }

    /// Seconds that `k` stalled clients added to the flood, if both it and
    /// the run without any finished.
    fn extra_s(&self, k: u64) -> Option<f64> {
        let base = self.flood(0).filter(|r| r.complete)?;
        let row = self.flood(k).filter(|r| r.complete)?;
        Some(row.flood_s - base.flood_s)
    }
}

/// `--stalled`: runs all of E, then prints its table and targets.
///
/// # Errors
/// A run could not be made.
pub(crate) fn run(deadline: Duration) -> Result<(), String> {
    let results = measure(deadline)?;
    println!("\n{}", table(&results));
    println!("{}", latency_line(&results.latency));
    println!("\n| target | measured | verdict |\n|---|---|---|");
    // The suite's targets table has a Node column; alone, E has none.
    for row in target_rows(&results).lines() {
        println!("{}", row.replace(" | - |", " |"));
    }
    println!(
        "\nall of E took {:.0} s (each run had {} s)",
        results.took.as_secs_f64(),
        deadline.as_secs()
    );
    Ok(())
}

/// Runs every row of E, each in a fresh child process (so each peak RSS is its
/// own), printing a line as each one ends.
///
/// # Errors
/// A run could not be made.
pub(crate) fn measure(deadline: Duration) -> Result<Results, String> {
    let begun = Instant::now();
    println!(
        "Scenario E, stalled clients: {FLOOD_LINES} lines of {FLOOD_SIZE} bytes, in-process, a fresh process per run, {} s deadline each:",
        deadline.as_secs()
    );
    let deadline_arg = deadline.as_secs().to_string();
    let mut floods = Vec::new();
    for k in COUNTS {
        let args = [
            "--stalled-run",
            &k.to_string(),
            "--deadline-s",
            &deadline_arg,
        ]
        .map(String::from);
        let row = FloodRow::from_map(&report::parse_json(&child::run_json(&args)?)?);
        let extra = floods
            .first()
            .filter(|base: &&FloodRow| base.complete && row.complete)
            .map_or("-".to_string(), |base| {
                format!("{:+.2} s", row.flood_s - base.flood_s)
            });
        println!(
            "  K = {k:<3} flood {:<24} extra {extra:<9} evicted {}/{k}  longest gap {:.2} s  lost {}  reordered {}  peak RSS {}  other load {}",
            flood_time(&row),
            row.evicted,
            row.longest_gap_s,
            row.lost,
            row.reordered,
            mib(row.rss_peak_mib),
            pct(row.other_load_pct)
        );
        floods.push(row);
    }
    let args = [
        "--stalled-latency",
        &LATENCY_STALLED.to_string(),
        "--deadline-s",
        &deadline_arg,
    ]
    .map(String::from);
    let latency = LatencyRow::from_map(&report::parse_json(&child::run_json(&args)?)?);
    println!("  {}", latency_line(&latency));
    Ok(Results {
        floods,
        latency,
        took: begun.elapsed(),
        deadline,
    })
}

fn flood_time(row: &FloodRow) -> String {
    if row.complete {
        format!("{:.2} s", row.flood_s)
    } else {
        format!(
            "did not finish in {:.0} s ({} of {} lines)",
            row.deadline_s, row.received, row.lines
        )
    }
}

fn latency_line(r: &LatencyRow) -> String {
    format!(
        "latency with {} stalled clients and a flooder: {} of {} talker lines, p50 {}, max {}{}; {} flood lines reached the observer, longest gap {:.2} s; evicted {}/{}; other load {}",
        r.stalled,
        r.received,
        r.talk_lines,
        ms(r.p50_ms),
        ms(r.max_ms),
        if r.complete {
            String::new()
        } else {
            format!(" (did not finish in {:.0} s)", r.deadline_s)
        },
        r.flood_received,
        r.flood_longest_gap_s,
        r.evicted,
        r.stalled,
        pct(r.other_load_pct)
    )
}

fn ms(v: Option<f64>) -> String {
    match v {
        Some(v) if v >= 1000.0 => format!("{:.2} s", v / 1000.0),
        Some(v) => format!("{v:.1} ms"),
        None => "-".to_string(),
    }
}

fn kib(v: Option<f64>) -> String {
    v.map_or("-".to_string(), |v| format!("{v:.0} KiB"))
}

/// E's table of flood runs (Markdown, also printed).
pub(crate) fn table(results: &Results) -> String {
    let mut t = String::new();
    let _ = writeln!(
        t,
        "| stalled clients K | flood time | extra vs K = 0 | lost / dup / reordered / corrupt | evicted as too slow (during the flood) | longest gap | gaps of 100 ms or more | kernel held per stalled client | peak RSS | other load |"
    );
    let _ = writeln!(t, "|---|---|---|---|---|---|---|---|---|---|");
    for r in &results.floods {
        let extra = if r.stalled == 0 {
            "-".to_string()
        } else {
            results
                .extra_s(r.stalled)
                .map_or("-".to_string(), |s| format!("{s:+.2} s"))
        };
        let others = if r.evicted_others > 0 {
            format!(", and {} healthy clients", r.evicted_others)
        } else {
            String::new()
        };
        let _ = writeln!(
            t,
            "| {} | {} | {extra} | {} / {} / {} / {} | {} of {} ({}){others} | {:.2} s | {} | {} | {} | {} |",
            r.stalled,
            flood_time(r),
            r.lost,
            r.duplicated,
            r.reordered,
            r.corrupted,
            r.evicted,
            r.stalled,
            r.evicted_during_flood,
            r.longest_gap_s,
            r.gaps_noted,
            kib(r.kernel_held_kib),
            mib(r.rss_peak_mib),
            pct(r.other_load_pct)
        );
    }
    t
}

/// E's rows of the targets table: target, measured, Node baseline (none
/// here), verdict.
pub(crate) fn target_rows(results: &Results) -> String {
    let mut t = String::new();
    let base = results.flood(0);
    for (k, limit) in EXTRA_TARGETS {
        let measured = match (results.flood(k), results.extra_s(k)) {
            (Some(row), Some(extra)) => format!(
                "{extra:.2} s ({:.2} s against {:.2} s with none; {} of {k} evicted)",
                row.flood_s,
                base.map_or(0.0, |b| b.flood_s),
                row.evicted
            ),
            (Some(row), None) => flood_time(row),
            (None, _) => "not measured".to_string(),
        };
        let clean = results
            .flood(k)
            .is_some_and(|r| r.lost + r.duplicated + r.reordered + r.corrupted + r.stray == 0);
        let _ = writeln!(
            t,
            "| E: {k} stalled clients add under {limit} s to a {FLOOD_LINES}-line flood, which arrives whole and in order (issue 13) | {measured} | - | {} |",
            verdict(results.extra_s(k).is_some_and(|s| s < limit) && clean)
        );
    }
    let l = &results.latency;
    let _ = writeln!(
        t,
        "| E: worst latency of a normal line, {} stalled clients and a flooder, under {LATENCY_TARGET_MS:.0} ms (issues 13, 24) | max {}, p50 {} ({} of {} lines) | - | {} |",
        l.stalled,
        ms(l.max_ms),
        ms(l.p50_ms),
        l.received,
        l.talk_lines,
        verdict(l.complete && l.errors == 0 && l.max_ms.is_some_and(|m| m < LATENCY_TARGET_MS))
    );
    if let Some(row) = results.flood(MEMORY_K) {
        let growth = row
            .rss_peak_mib
            .zip(base.and_then(|b| b.rss_peak_mib))
            .map(|(with, without)| with - without);
        // The room's log is shared by every member however far behind it
        // is; a stalled client adds its cursor and its own queue (replies,
        // private lines), not a copy of the flood.
        let _ = writeln!(
            t,
            "| E: server memory with {MEMORY_K} stalled clients under a flood under {MEMORY_TARGET_MIB:.0} MiB: bounded by the room, not by its clients (issue 24) | peak RSS {} in-process (server + clients), {} more than with none | - | {} |",
            mib(row.rss_peak_mib),
            growth.map_or("-".to_string(), |g| format!("{g:.1} MiB")),
            verdict(growth.is_some_and(|g| g < MEMORY_TARGET_MIB))
        );
    }
    t
}

/// E's section of `docs/BENCHMARKS.md`.
pub(crate) fn section(results: &Results) -> String {
    let mut t = String::new();
    let _ = writeln!(t, "## Scenario E: stalled clients (issue 13)\n");
    let _ = writeln!(
        t,
        "In-process, with the settings above (write timeout {} ms; {}). Four kinds of client: one sender; one observer that reads everything as soon as it arrives; a filler (see the pre-fill below); and K stalled clients that connect, join and never read again. When the observer has seen every other client's `joined` notice and the pre-fill, the sender sends {FLOOD_LINES} lines of {FLOOD_SIZE} bytes as fast as the server takes them. **Flood time** runs from the first line written to the observer's receiving the last, and the observer checks every line (once, in order, intact). **Evicted** counts the `* NAME left (too slow)` notices about stalled clients the observer saw by the end of the run (the flood, then up to a write timeout and a second more); in parentheses, those before the flood's last line. **Longest gap** is the longest time within the flood that no line reached the observer. Each run is a fresh process with a {} s deadline; a run that misses it says so. All of E took {:.0} s.\n",
        results.floods.first().map_or(0, |r| r.write_timeout_ms),
        match results.floods.first().and_then(|r| r.sendq_limit_bytes) {
            Some(limit) => format!(
                "a room log of 1 MiB, shared by the room; an own queue of at most {:.0} KiB per client, for its replies and private lines",
                limit / 1024.0
            ),
            None => "the server's defaults".to_string(),
        },
        results.deadline.as_secs(),
        results.took.as_secs_f64()
    );
    t.push_str(&table(results));
    let l = &results.latency;
    let _ = writeln!(
        t,
        "\n**Latency.** {} stalled clients, one client flooding {FLOOD_SIZE}-byte lines as fast as the server takes them, and a normal talker sending a {TALK_SIZE}-byte line every {} ms, {TALK_LINES} in all; the observer times each of the talker's lines from the moment it was written to the moment a read returned it (one clock). {} of {} arrived: median {}, worst {}; {} of {} stalled clients were evicted; {} flood lines reached the observer, with at most {:.2} s between two of them.\n",
        l.stalled,
        TALK_EVERY.as_millis(),
        l.received,
        l.talk_lines,
        ms(l.p50_ms),
        ms(l.max_ms),
        l.evicted,
        l.stalled,
        l.flood_received,
        l.flood_longest_gap_s
    );
    let range = |values: Vec<f64>| -> String {
        let (low, high) = values
            .iter()
            .fold((f64::MAX, 0.0f64), |(lo, hi), &v| (lo.min(v), hi.max(v)));
        match values.len() {
            0 => "an amount we could not read".to_string(),
            _ if high - low < 10.0 => kib(Some(low)),
            _ => format!("{} to {}", kib(Some(low)), kib(Some(high))),
        }
    };
    let prefilled = range(
        results
            .floods
            .iter()
            .filter_map(|r| r.kernel_prefilled_kib)
            .collect(),
    );
    let at_end = range(
        results
            .floods
            .iter()
            .filter_map(|r| r.kernel_held_kib)
            .collect(),
    );
    let before: u64 = results.floods.iter().map(|r| r.evicted_before_flood).sum();
    let _ = writeln!(
        t,
        "**What a stalled client is here, and the pre-fill.** A socket that is never read. On loopback the kernel absorbs far more for it than on a real network: the server's send buffer autotunes from loopback's 64 KiB segments to nearly the 4 MiB maximum of `tcp_wmem`, whatever the client's receive buffer (std cannot set `SO_RCVBUF`, and in a one-off test outside this benchmark, a 4 KiB `SO_RCVBUF` set before connecting still left 2.7 MiB in the server's send buffer). At the end of each run the kernel held {at_end} per stalled client (its receive queue plus the server's send queue to it, median over them, from `/proc/net/tcp`), nearly the whole flood (about {:.1} MiB per client as delivered): without more, a stalled client would stall at the flood's very end or not at all, and the figures would change from run to run. So every run first has a filler client send {PREFILL_LINES} lines of {FLOOD_SIZE} bytes, untimed, and waits until the observer has them all: they fit in the kernel's buffers ({prefilled} per stalled client afterwards; stalled clients evicted before the flood: {before}), and the stalled clients then stall about halfway through the timed flood, as laptops asleep for a while would.\n",
        // As delivered, each line gains `> 127.0.0.1:PORT: ` (about 20 bytes).
        f64::from(FLOOD_LINES) * (FLOOD_SIZE + 20) as f64 / (1024.0 * 1024.0)
    );
    let _ = writeln!(
        t,
        "**Memory.** Peak RSS is this whole process (the server, the observer, the sender and the filler) from the end of the pre-fill; the kernel's socket buffers are not in it. The server keeps one log per room, shared by every member however far behind it is: a stalled client costs a cursor into it and its own queue (its replies and private lines, none here), not a copy of the flood. The K = {MEMORY_K} row shows what {MEMORY_K} of them cost.\n"
    );
    let _ = writeln!(
        t,
        "Reproduce with `cargo bench --bench fanout -- --stalled` (all of E), or one run: `-- --stalled-run 20`, `-- --stalled-latency 5`, with `--deadline-s SECS` to change the deadline.\n"
    );
    t
}
