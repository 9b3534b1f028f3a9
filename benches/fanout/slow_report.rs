//! All of scenario G, slow readers (issue 24): a run for each number of slow
//! readers, each in a fresh child process, a line per run as it ends, then
//! G's table, its rows of the targets table and its section of
//! `docs/BENCHMARKS.md`. `--slow-readers` and the suite both come here.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use crate::cells::{latency, mib, pct, verdict};
use crate::child;
use crate::report;
use crate::slow::{
    self, SlowRow, GRACE, LINE_SIZE, PAIR_SIZE, QUIET_ROOM, SEND_FOR, SLOW_BURST, SLOW_EVERY,
    SLOW_RCVBUF, SLOW_READ, TALKERS,
};

/// The numbers of slow readers (the issue's).
const COUNTS: [usize; 4] = [0, 1, 5, 20];

/// The targets for every K but 0, in milliseconds: a talker's line
/// to a healthy client, worst and p90; the pair's lines, p99 and worst.
const WORST_MS: f64 = 100.0;
const P90_MS: f64 = 30.0;
const PAIR_P99_MS: f64 = 10.0;
const PAIR_WORST_MS: f64 = 50.0;
/// A slow reader that read at least this share of its pace kept reading:
/// the target about evictions only speaks of readers that do.
const KEPT_READING: f64 = 0.9;

/// Everything scenario G measured.
#[derive(Debug, Clone)]
pub(crate) struct Results {
    /// One run per entry of [`COUNTS`], in order.
    pub(crate) rows: Vec<SlowRow>,
    /// Wall time of all of G, child processes included.
    pub(crate) took: Duration,
}

/// A slow reader's planned pace, KB (1000 bytes) a second.
fn planned_kbps() -> f64 {
    SLOW_READ as f64 / SLOW_EVERY.as_secs_f64() / 1e3
}

/// `--slow-readers`: runs all of G, then prints its table and targets.
///
/// # Errors
/// A run could not be made.
pub(crate) fn run() -> Result<(), String> {
    let results = measure()?;
    println!("\n{}", table(&results));
    println!("| target | measured | verdict |\n|---|---|---|");
    // The suite's targets table has a Node column; alone, G has none.
    for row in target_rows(&results).lines() {
        println!("{}", row.replace(" | - |", " |"));
    }
    println!("\nall of G took {:.0} s", results.took.as_secs_f64());
    Ok(())
}

/// Runs every row of G, each in a fresh child process (so each peak RSS is
/// its own), printing a line as each one ends.
///
/// # Errors
/// A run could not be made.
pub(crate) fn measure() -> Result<Results, String> {
    let begun = Instant::now();
    println!(
        "Scenario G, slow readers: {TALKERS} talkers x {} lines/s of {LINE_SIZE} bytes for {} s and a pair in `{QUIET_ROOM}`, next to K clients reading {SLOW_READ} bytes every {} ms; in-process, a fresh process per run:",
        slow::rate(),
        SEND_FOR.as_secs(),
        SLOW_EVERY.as_millis()
    );
    let mut rows = Vec::new();
    for k in COUNTS {
        let args = ["--slow-run", &k.to_string()].map(String::from);
        let row = SlowRow::from_map(&report::parse_json(&child::run_json(&args)?)?);
        println!("  {}", one_line(&row));
        rows.push(row);
    }
    Ok(Results {
        rows,
        took: begun.elapsed(),
    })
}

fn one_line(r: &SlowRow) -> String {
    format!(
        "K = {:<3} talkers p50 {}  p90 {}  p99 {}  worst {}  ({} of {} delivered, lost {} reordered {})  pair p99 {}  worst {}  evicted {}/{}  skip notices {}  peak RSS {}  other load {}",
        r.slow,
        latency(r.p50_ms, r.p50_at_least),
        latency(r.p90_ms, r.p90_at_least),
        latency(r.p99_ms, r.p99_at_least),
        latency(r.max_ms, r.max_at_least),
        r.delivered,
        r.expected,
        r.lost,
        r.reordered,
        latency(r.pair_p99_ms, r.pair_p99_at_least),
        latency(r.pair_max_ms, r.pair_max_at_least),
        r.evicted,
        r.slow,
        r.skip_notices,
        mib(r.rss_peak_mib),
        pct(r.other_load_pct)
    )
}

/// Every talker line reached every other talker, once, in order, intact,
/// and no healthy client was cut off or told it had skipped lines.
fn talkers_clean(r: &SlowRow) -> bool {
    r.undelivered + r.lost + r.duplicated + r.reordered + r.corrupted + r.stray == 0
        && r.healthy_dropped == 0
        && r.healthy_skip_notices == 0
}

fn pair_clean(r: &SlowRow) -> bool {
    r.pair_delivered == r.pair_expected && r.pair_errors == 0
}

fn talkers_met(r: &SlowRow) -> bool {
    let under =
        |v: Option<f64>, at_least: bool, limit: f64| !at_least && v.is_some_and(|v| v < limit);
    under(r.max_ms, r.max_at_least, WORST_MS)
        && under(r.p90_ms, r.p90_at_least, P90_MS)
        && talkers_clean(r)
}

fn pair_met(r: &SlowRow) -> bool {
    let under =
        |v: Option<f64>, at_least: bool, limit: f64| !at_least && v.is_some_and(|v| v < limit);
    under(r.pair_p99_ms, r.pair_p99_at_least, PAIR_P99_MS)
        && under(r.pair_max_ms, r.pair_max_at_least, PAIR_WORST_MS)
        && pair_clean(r)
}

fn kept_reading(r: &SlowRow) -> bool {
    r.slow_read_kbps
        .is_some_and(|kbps| kbps >= KEPT_READING * planned_kbps())
}

fn count(v: Option<f64>) -> String {
    v.map_or("-".to_string(), |v| format!("{v:.0}"))
}

/// G's table (Markdown, also printed).
pub(crate) fn table(results: &Results) -> String {
    let mut t = String::new();
    let _ = writeln!(
        t,
        "| slow readers K | talker lines delivered to talkers (not by the end) | lost / dup / reordered / corrupt | p50 | p90 | p99 | worst | lines held 1 s or more from | pair in `{QUIET_ROOM}`: p99 | pair: worst | slow readers evicted as too slow (first at; closed by the server) | after the run, skip notices to slow readers (lines skipped; lines missing) | a slow reader read (lines) | kernel held per slow reader | broadcaster blocked writing | peak RSS | other load |"
    );
    let _ = writeln!(
        t,
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
    );
    for r in &results.rows {
        let evicted = if r.slow == 0 {
            "-".to_string()
        } else {
            format!(
                "{} of {} ({}; {}){}",
                r.evicted,
                r.slow,
                r.first_evicted_s
                    .map_or("-".to_string(), |s| format!("{s:.1} s")),
                count(r.slow_closed),
                if r.evicted_others + r.healthy_dropped > 0 {
                    format!(
                        "; healthy clients evicted {}, cut off {}",
                        r.evicted_others, r.healthy_dropped
                    )
                } else {
                    String::new()
                }
            )
        };
        let pair = if pair_clean(r) {
            String::new()
        } else {
            format!(
                " ({} of {}, {} errors)",
                r.pair_delivered, r.pair_expected, r.pair_errors
            )
        };
        let _ = writeln!(
            t,
            "| {} | {} of {} ({}) | {} / {} / {} / {} | {} | {} | {} | {} | {} | {}{pair} | {} | {evicted} | {} | {} | {} | {} | {} | {} |",
            r.slow,
            r.delivered,
            r.expected,
            r.undelivered,
            r.lost,
            r.duplicated,
            r.reordered,
            r.corrupted,
            latency(r.p50_ms, r.p50_at_least),
            latency(r.p90_ms, r.p90_at_least),
            latency(r.p99_ms, r.p99_at_least),
            latency(r.max_ms, r.max_at_least),
            r.held_from_s
                .map_or("never".to_string(), |s| format!("{s:.1} s")),
            latency(r.pair_p99_ms, r.pair_p99_at_least),
            latency(r.pair_max_ms, r.pair_max_at_least),
            if r.slow == 0 {
                "-".to_string()
            } else {
                format!(
                    "{} ({}; {}){}",
                    r.skip_notices,
                    r.skipped_lines,
                    r.slow_missing,
                    if r.slow_errors > 0 {
                        format!(", {} out of order, twice or broken", r.slow_errors)
                    } else {
                        String::new()
                    }
                )
            },
            r.slow_read_kbps.map_or("-".to_string(), |kbps| format!(
                "{kbps:.0} KB/s ({})",
                count(r.slow_lines)
            )),
            r.kernel_held_kib
                .map_or("-".to_string(), |kib| format!("{kib:.0} KiB")),
            pct(r.broadcaster_writing_pct),
            mib(r.rss_peak_mib),
            pct(r.other_load_pct)
        );
    }
    t
}

/// G's rows of the targets table: target, measured, Node baseline (none
/// here), verdict.
pub(crate) fn target_rows(results: &Results) -> String {
    let mut t = String::new();
    let judged: Vec<&SlowRow> = results.rows.iter().filter(|r| r.slow > 0).collect();
    for r in &judged {
        let errors = if talkers_clean(r) {
            "every line to every talker, once, in order".to_string()
        } else {
            format!(
                "{} of {} lines delivered, {} not by the end; lost {}, dup {}, reordered {}, corrupt {}, stray {}; healthy clients cut off {}, told they skipped {}",
                r.delivered,
                r.expected,
                r.undelivered,
                r.lost,
                r.duplicated,
                r.reordered,
                r.corrupted,
                r.stray,
                r.healthy_dropped,
                r.healthy_skip_notices
            )
        };
        let _ = writeln!(
            t,
            "| G: {} slow reader{}: a healthy client's lines arrive with a worst latency under {WORST_MS:.0} ms and a p90 under {P90_MS:.0} ms, every one, once, in order (issue 24) | worst {}, p90 {}, p99 {}, p50 {}; {errors} | - | {} |",
            r.slow,
            if r.slow == 1 { "" } else { "s" },
            latency(r.max_ms, r.max_at_least),
            latency(r.p90_ms, r.p90_at_least),
            latency(r.p99_ms, r.p99_at_least),
            latency(r.p50_ms, r.p50_at_least),
            verdict(talkers_met(r))
        );
    }
    if !judged.is_empty() {
        let measured = judged
            .iter()
            .map(|r| {
                format!(
                    "K = {}: p99 {}, worst {}{}",
                    r.slow,
                    latency(r.pair_p99_ms, r.pair_p99_at_least),
                    latency(r.pair_max_ms, r.pair_max_at_least),
                    if pair_clean(r) {
                        String::new()
                    } else {
                        format!(
                            " ({} of {} lines, {} errors)",
                            r.pair_delivered, r.pair_expected, r.pair_errors
                        )
                    }
                )
            })
            .collect::<Vec<_>>()
            .join("; ");
        let _ = writeln!(
            t,
            "| G: a pair chatting in another room, next to {}: p99 under {PAIR_P99_MS:.0} ms, worst under {PAIR_WORST_MS:.0} ms (issue 24) | {measured} | - | {} |",
            ks(&judged),
            verdict(judged.iter().all(|r| pair_met(r)))
        );
        let slow: u64 = judged.iter().map(|r| r.slow).sum();
        let evicted: u64 = judged.iter().map(|r| r.evicted).sum();
        let closed: f64 = judged.iter().filter_map(|r| r.slow_closed).sum();
        let each = judged
            .iter()
            .map(|r| {
                format!(
                    "K = {}: {}{}",
                    r.slow,
                    r.evicted,
                    r.first_evicted_s
                        .map_or(String::new(), |s| format!(" (at {s:.1} s)"))
                )
            })
            .collect::<Vec<_>>()
            .join(", ");
        let rates = judged
            .iter()
            .filter_map(|r| r.slow_read_kbps)
            .map(|kbps| format!("{kbps:.0}"))
            .collect::<Vec<_>>()
            .join(", ");
        let _ = writeln!(
            t,
            "| G: a slow reader that keeps reading is never evicted for being slow (issue 24) | {evicted} of {slow} evicted as too slow ({each}); {closed:.0} closed by the server; each read {rates} KB/s (median per run; its pace is {:.0}) | - | {} |",
            planned_kbps(),
            verdict(
                evicted == 0
                    && judged.iter().all(|r| r.slow_closed == Some(0.0) && kept_reading(r))
            )
        );
    }
    t
}

/// KB a second the lobby sends a member that gets the lines of `talkers`.
fn lobby_kbps(talkers: usize) -> f64 {
    // As delivered, each line gains `> 127.0.0.1:PORT: ` (about 20 bytes).
    f64::from(slow::rate()) * talkers as f64 * (LINE_SIZE + 20) as f64 / 1e3
}

/// "1, 5 and 20 slow readers".
fn ks(rows: &[&SlowRow]) -> String {
    let ks: Vec<String> = rows.iter().map(|r| r.slow.to_string()).collect();
    match ks.split_last() {
        Some((last, rest)) if !rest.is_empty() => {
            format!("{} and {last} slow readers", rest.join(", "))
        }
        Some((last, _)) => format!("{last} slow readers"),
        None => "no slow readers".to_string(),
    }
}

/// G's section of `docs/BENCHMARKS.md`.
pub(crate) fn section(results: &Results) -> String {
    let mut t = String::new();
    let lines = slow::lines_each();
    let rate = slow::rate();
    let rcvbuf = results
        .rows
        .iter()
        .map(|r| r.slow_rcvbuf_bytes)
        .find(|&b| b > 0)
        .map_or(String::new(), |b| {
            format!(" (Linux doubles what is asked, for its bookkeeping: the socket had {b} bytes)")
        });
    let baseline = results.rows.iter().find(|r| r.slow == 0).map_or(
        "no run without slow readers here".to_string(),
        |r| {
            format!(
                "without slow readers, this run's worst line took {}",
                latency(r.max_ms, r.max_at_least)
            )
        },
    );
    let _ = writeln!(t, "## Scenario G: slow readers (issue 24)\n");
    let _ = writeln!(
        t,
        "In-process, with the settings above except the rate limit, which stays at its default ({rate} lines/s per client). Three kinds of client, each connected and welcomed before the next connects. **Talkers**: {TALKERS} healthy clients in the lobby; each sends {lines} lines of {LINE_SIZE} bytes, one every {} ms (the rate limit), for {} s, and reads everything the server sends it as soon as it arrives. They take turns: talker i sends at i/{TALKERS} of each interval, so the lobby gets a line every {:.2} ms, about {:.0} KB a second to each of its members. **The pair**: two clients that move to `{QUIET_ROOM}` (`/join {QUIET_ROOM}`) and chat there, each sending a {PAIR_SIZE}-byte line every {} ms, half an interval apart. **Slow readers**: K clients in the lobby on a slow but steady link; each asks for a receive buffer of {} KiB before connecting{rcvbuf}, and reads {SLOW_READ} bytes every {} ms, {:.0} KB a second (after a late tick it catches up, at most {} KiB at once). The lobby sends each of them about {:.0} times that, so they fall further behind every second; they never stop reading.\n",
        1000 / rate,
        SEND_FOR.as_secs(),
        1000.0 / f64::from(rate) / TALKERS as f64,
        lobby_kbps(TALKERS - 1),
        1000 / rate,
        SLOW_RCVBUF / 1024,
        SLOW_EVERY.as_millis(),
        planned_kbps(),
        SLOW_BURST / 1024,
        lobby_kbps(TALKERS) / planned_kbps(),
    );
    let _ = writeln!(
        t,
        "Every talker checks every other talker's lines (once, in order, intact), the pair each other's, and each line's **latency** runs from the moment its sender formatted it to the moment a read returned it, on one clock. The latencies are those of every talker line at every other talker ({} per run when all arrive), and of every pair line at the other one. After the last line is sent the run waits up to {} s more for the lines still on their way, and ends as soon as all have arrived. A line that had not arrived by then counts as late as the end of the run: a figure that rests on such lines is only a lower bound, marked ≥ (so a server that holds lines back cannot look faster for it). **Lines held 1 s or more from** is the send time, from the start of sending, of the first line that took a second or more (or never arrived): when the server began to hold the room up. A second, because a busy moment of this shared machine can delay a line by a few tenths on its own ({baseline}). **Evicted** counts the slow readers announced as `* NAME left (too slow)` to the talkers, with the first one's time; in parentheses, how many slow readers' connections the server had closed by the end, from the kernel's table of connections (an evicted reader still has megabytes to read before it sees the close). **Skip notices**: a server may let a reader that falls too far behind skip ahead and tell it so with a `* N lines skipped` line, at the point of the gap. Such a line waits behind everything the kernel already holds for that reader, megabytes that a slow reader takes longer than the run to read; so once the talkers are measured and gone, each slow reader reads the rest at full speed (until nothing comes for 0.1 s, at most {} s), and the notices are counted then, with the lines they add up to and the talker lines the slow readers found missing below a later one (skipped, announced or not). **A slow reader read** is its pace and its lines before that. **Kernel held** is what the kernel held per slow reader at the end (its receive queue and the server's send queue to it, median), from `/proc/net/tcp`. **Broadcaster blocked writing** is the share of samples, every 2 ms while the lines went out, that found the server's broadcaster thread in a socket write. Each run is a fresh process; all of G took {:.0} s.\n",
        u64::from(lines) * TALKERS as u64 * (TALKERS as u64 - 1),
        GRACE.as_secs(),
        slow::DRAIN_LIMIT.as_secs(),
        results.took.as_secs_f64()
    );
    t.push_str(&table(results));
    let _ = writeln!(
        t,
        "\n**Reading the figures.** One run per K, on a machine of two cores shared with other work (the \"other load\" column): the percentiles move from run to run, most of all the p99 and the worst, so compare several runs (`--slow-readers`) before drawing a line between two figures. Issue 24 asks for these figures before and after its change; this report has those of the code it was written on. Peak RSS is this whole process, server and clients, from just before sending; the kernel's socket buffers are not in it. The talkers and the pair cost the same in every run; each slow reader adds a thread and an {} KiB buffer on the client side, and a reader thread and a cursor into the room's log in the server.\n",
        SLOW_BURST / 1024
    );
    let _ = writeln!(
        t,
        "Reproduce with `cargo bench --bench fanout -- --slow-readers` (all of G, about a minute), or one run in this process: `-- --slow-run 5`.\n"
    );
    t
}
