//! `docs/SOAK.md` and its chart (`soak.svg`, beside it): the checks and
//! what each measured, the figures, the mix and what each kind did, the
//! server's settings and the memory bound, and how each check is made.

use std::fmt::Write as _;
use std::io;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::chart::{self, Marks};
use crate::checks::{self, mib, Check, Evidence};
use crate::mix::{self, Kind};

/// Writes the report to `path` and the chart beside it.
///
/// # Errors
/// A file could not be written.
pub(crate) fn write(path: &Path, e: &Evidence, checks: &[Check]) -> io::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let chart_path = path.with_file_name("soak.svg");
    let marks = Marks {
        title: format!(
            "A class of 200 for {} min: the server's threads, descriptors and memory",
            trim(e.minutes)
        ),
        chaos: e.chaos,
        bursts: e.bursts.iter().map(|b| (b.at, b.released_at)).collect(),
        fd_limit: e.settings.fd_limit,
    };
    std::fs::write(&chart_path, chart::svg(&e.samples.series, &marks))?;
    std::fs::write(path, markdown(e, checks))
}

fn markdown(e: &Evidence, checks: &[Check]) -> String {
    let mut md = String::new();
    let failed = checks.iter().filter(|c| !c.passed).count();
    let _ = writeln!(
        md,
        "# Soak: a class of 200 for {} minutes\n",
        trim(e.minutes)
    );
    let _ = writeln!(
        md,
        "Written by `make soak` (`examples/soak/`, `MINUTES={}`) on {}. It runs the release \
         `server` binary with a transcript, a dashboard, its console on a pipe and a lowered \
         `ulimit -n`, seats 72 healthy clients, lets the 128 others of the class loose on it for \
         the minutes above, then checks what the server left behind and what the healthy clients \
         got. Run it again with `make soak` (10 minutes) or `make soak MINUTES=1`.\n",
        trim(e.minutes),
        utc_now()
    );
    if failed == 0 {
        let _ = writeln!(md, "**Result: all {} checks passed.**\n", checks.len());
    } else {
        let _ = writeln!(
            md,
            "**Result: {failed} of {} checks FAILED.**\n",
            checks.len()
        );
    }
    let _ = writeln!(md, "{}\n", machine(e));
    let _ = writeln!(md, "## The checks\n");
    let _ = writeln!(md, "| check | result | measured |\n|---|---|---|");
    for c in checks {
        let verdict = if c.passed { "pass" } else { "**FAIL**" };
        let _ = writeln!(md, "| {} | {verdict} | {} |", c.name, cell(&c.measured));
    }
    for c in checks.iter().filter(|c| !c.passed) {
        let _ = writeln!(md, "\n**{}** failed:\n", c.name);
        for failure in &c.failures {
            let _ = writeln!(md, "- {}", cell(failure));
        }
    }
    figures(&mut md, e);
    mix_table(&mut md, e);
    server_section(&mut md, e);
    let _ = writeln!(md, "\n## How each check is measured\n\n{HOW}");
    md
}

/// The machine, and how busy it was.
fn machine(e: &Evidence) -> String {
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, m)| m.trim().to_string())
        })
        .unwrap_or_else(|| "an unknown CPU".to_string());
    let load = match e.load {
        Some(l) => format!(
            "During the chaos the server used {:.0} % of the machine's CPU time, the soak's own \
             clients {:.0} %, and everything else on the machine (other people's builds and \
             tests) {:.0} %.",
            l.server, l.soak, l.others
        ),
        None => "The machine's load could not be read.".to_string(),
    };
    format!("The machine: {cores} cores ({model}). {load}")
}

fn figures(md: &mut String, e: &Evidence) {
    let (peak_threads, peak_fds) = (e.samples.peak_threads(), e.samples.peak_fds());
    let peak_sampled = e.samples.peak_rss_kib();
    let end_rss = e.samples.series.last().map_or(0, |s| s.rss_kib);
    let (bound, _) = checks::memory_bound(e);
    let _ = writeln!(md, "\n## The figures\n");
    let _ = writeln!(
        md,
        "| | at rest | peak | after the chaos |\n|---|---|---|---|"
    );
    let _ = writeln!(
        md,
        "| threads | {} | {peak_threads} | {} |",
        e.base.threads, e.settled.threads
    );
    let _ = writeln!(
        md,
        "| descriptors (limit {}) | {} | {peak_fds} | {} |",
        e.settings.fd_limit, e.base.fds, e.settled.fds
    );
    let _ = writeln!(
        md,
        "| resident memory (bound {}) | {} | {} (VmHWM; highest sample {}) | {} |",
        mib(bound),
        mib(e.base.rss_kib),
        mib(e.peak_rss_kib),
        mib(peak_sampled),
        mib(end_rss)
    );
    let live = e.settled.live;
    let _ =
        writeln!(
        md,
        "\nAfter the chaos, with its {live} healthy clients still connected, the server came to \
         rest {} {:.1} s of the healthy clients' last lines. {} server sockets went through \
         CLOSE-WAIT during the soak; the longest stay seen was {:.2} s.",
        if e.settled.reached { "within" } else { "NOT within" },
        e.settled.took,
        e.samples.close_waits,
        e.samples.longest_close_wait
    );
    let t = &e.transcript;
    let events: Vec<String> = t.events.iter().map(|(k, n)| format!("{n} {k}")).collect();
    let _ = writeln!(
        md,
        "\nThe transcript recorded {} (dropped: {}).",
        events.join(", "),
        t.dropped
    );
    let _ = writeln!(
        md,
        "\n![Threads, descriptors, established sockets and resident memory of the server \
         over the soak, bursts shaded](soak.svg)\n"
    );
    if !e.bursts.is_empty() {
        let _ = writeln!(
            md,
            "The bursts: each opened {} connections at once from 127.0.0.1, held those let in \
             for 3 s, then reset half of them and closed the others. A newcomer let in after \
             the release shows the server had its descriptors back.\n",
            e.bursts[0].tried
        );
        let _ = writeln!(
            md,
            "| at (s) | connected | welcomed | `server busy` | no or other line | opening (s) | descriptors held | first newcomer in after the release (s) |\n|---|---|---|---|---|---|---|---|"
        );
        let knocks = e
            .tallies
            .get(&Kind::Newcomer)
            .map(|t| t.knocks.as_slice())
            .unwrap_or(&[]);
        for b in &e.bursts {
            let back = knocks
                .iter()
                .filter(|k| {
                    k.connected >= b.released_at
                        && k.outcome == crate::clients::admission::Outcome::Welcome
                })
                .map(|k| k.answered - b.released_at)
                .fold(None, |best: Option<f64>, t| {
                    Some(best.map_or(t, |b| b.min(t)))
                });
            let _ = writeln!(
                md,
                "| {:.0} | {} | {} | {} | {} | {:.2} | {} | {} |",
                b.at,
                b.connected,
                b.welcomed,
                b.busy,
                b.other,
                b.opening,
                b.fds_held,
                back.map_or("none".to_string(), |t| format!("{t:.2}"))
            );
        }
    }
}

fn mix_table(md: &mut String, e: &Evidence) {
    let _ = writeln!(md, "\n## The mix\n");
    let _ = writeln!(
        md,
        "| kind | clients | what it does | what it did |\n|---|---|---|---|"
    );
    for (kind, n) in Kind::CLASS {
        let did = match kind {
            Kind::Healthy => healthy_did(e),
            _ => e.tallies.get(&kind).map(did).unwrap_or_default(),
        };
        let tagged = tagged_lines(e, kind);
        let did = match (kind, tagged) {
            (Kind::Healthy, _) | (_, 0) => did,
            _ => format!("{did}; {tagged} tagged lines reached a room (transcript)"),
        };
        let _ = writeln!(md, "| {kind} | {n} | {} | {} |", kind.about(), cell(&did));
    }
    let bursts = &e.bursts;
    let _ = writeln!(
        md,
        "| {} | {} bursts | {} | {} connections, {} welcomed, {} told `server busy` |",
        Kind::Burst,
        bursts.len(),
        Kind::Burst.about(),
        bursts.iter().map(|b| b.connected).sum::<usize>(),
        bursts.iter().map(|b| b.welcomed).sum::<usize>(),
        bursts.iter().map(|b| b.busy).sum::<usize>()
    );
    let console = did(&e.console.tally);
    let _ = writeln!(
        md,
        "| the console | | every 3 s: say, mute (15 s), move, kick, ban (1 min, lifted 10 to 20 s later) | {} |",
        cell(&console)
    );
    // What a kind ran into that no check judges (a slow reader the server
    // cut off, say): worth a look, not a failure.
    let noted: Vec<(Kind, &String)> = e
        .tallies
        .iter()
        .flat_map(|(kind, t)| {
            t.problems
                .iter()
                .map(move |(check, what)| (*kind, check, what))
        })
        .filter(|(_, check, _)| !CHECKED.contains(*check))
        .map(|(kind, _, what)| (kind, what))
        .collect();
    if !noted.is_empty() {
        let _ = writeln!(
            md,
            "\nWhat the misbehaving clients ran into that no check judges:\n"
        );
        for (kind, what) in noted.iter().take(30) {
            let _ = writeln!(md, "- {kind}: {}", cell(what));
        }
    }
}

/// The problems the checks judge; any other a kind notes is listed apart.
const CHECKED: [&str; 5] = ["half-close", "resume", "bans", "console", "soak"];

/// How many tagged lines of a kind reached a room, from the transcript.
fn tagged_lines(e: &Evidence, kind: Kind) -> u64 {
    mix::class()
        .iter()
        .filter(|m| m.kind == kind)
        .filter_map(|m| e.transcript.tagged_by_who.get(&m.who))
        .sum()
}

fn healthy_did(e: &Evidence) -> String {
    let sent: u64 = e.healthy.iter().map(|h| u64::from(h.sent)).sum();
    let lines: u64 = e.healthy.iter().map(|h| h.lines).sum();
    let tags: usize = e.healthy.iter().map(|h| h.tags.len()).sum();
    format!(
        "sent {sent} lines; received {lines} lines, {tags} of them tagged chat lines and actions"
    )
}

/// A tally in words: its counters, then its maxima.
fn did(tally: &crate::clients::Tally) -> String {
    let mut parts: Vec<String> = tally
        .counts
        .iter()
        .map(|(what, n)| format!("{what} {n}"))
        .collect();
    parts.extend(
        tally
            .maxima
            .iter()
            .map(|(what, value)| format!("{what} {value:.2}")),
    );
    parts.join(", ")
}

fn server_section(md: &mut String, e: &Evidence) {
    let _ = writeln!(md, "\n## The server\n");
    let _ = writeln!(
        md,
        "`ulimit -n {}; server --host 127.0.0.1 --port 0 --dashboard 0 {}`, its console on a \
         pipe. Every other setting is the default (rate limit 20 lines/s, write timeout 1 s, \
         join grace 0.5 s, crowd 100). The room logs and the hold are small so that they fill \
         and run out within the soak; the descriptor limit is low so that the bursts exhaust it.",
        e.settings.fd_limit,
        e.flags
            .join(" ")
            .replace(&format!("{}/", dir_of(&e.flags)), "")
    );
    let (bound, parts) = checks::memory_bound(e);
    let _ = writeln!(
        md,
        "\nThe memory bound, {}, adds up what the server may hold at most, each part bounded \
         by a setting:\n",
        mib(bound)
    );
    let _ = writeln!(md, "| part | at most |\n|---|---|");
    for (what, kib) in parts {
        let _ = writeln!(md, "| {} | {} |", cell(&what), mib(kib));
    }
    let _ = writeln!(
        md,
        "\nIt is a ceiling, not a forecast: it counts every possible connection with a full own \
         queue and a full events channel at once. What it catches is memory with no bound at \
         all, such as a history or a queue that grows for as long as the class runs (issue 23 \
         measured 236 MB for one such); the chart shows whether the resident memory levels off."
    );
}

/// The folder the transcript is in, to leave it out of the flags shown.
fn dir_of(flags: &[String]) -> String {
    flags
        .iter()
        .skip_while(|f| *f != "--transcript")
        .nth(1)
        .and_then(|p| Path::new(p).parent())
        .map(|p| p.display().to_string())
        .unwrap_or_default()
}

const HOW: &str = "\
- **Threads, descriptors, sockets.** Before any client: the server's threads \
  (`/proc/PID/task`, once their count holds still), descriptors (`/proc/PID/fd`, the fewest \
  of five looks) and listening sockets. After the chaos, with only the healthy clients \
  connected, the soak waits up to 30 s for the server to hold exactly those plus one reader \
  thread, one descriptor and one established socket per healthy client. A socket's state \
  comes from the kernel's table (`/proc/net/tcp` and `tcp6`), found by the inode its \
  descriptor points to, so only the server's own sockets count.
- **CLOSE-WAIT.** Four times a second, all through the soak, the server's sockets are looked \
  up in the kernel's table; a socket seen in CLOSE-WAIT at two looks more than a second apart \
  fails the check, with the client port that says which kind of client it was.
- **Memory.** The peak resident memory is `VmHWM` in `/proc/PID/status`; the bound is in the \
  table above.
- **Every line, in order.** Every chat line and action carries a tag, `WHO.N`: the sender's \
  number in the class and its line number. The transcript (read with `serde_json`) says which \
  room heard which tagged line, in which order. Each healthy client must have received \
  exactly its room's tagged lines (its own left out), in the same order, up to the last \
  healthy client's final line, with no `* N lines skipped` and no `!` line; and from each \
  healthy room mate, every line it says it sent, 1 to its last, whatever the transcript says. \
  The 36 with a session (`/session`) also get each room line's number from the server's `#SEQ COUNT` \
  markers: every line the transcript numbers in their room after their session began (chat, \
  actions, `say`, joins and leaves) must be among them, in order, with the right tag.
- **Newcomers.** A newcomer told `! server busy, try again later` counts the server's \
  descriptors at once; the sampler also counts them 40 times a second while a burst runs, and \
  a burst counts them just before it lets its connections go. The refusal is fair only if one \
  of those counts, from 0.1 s before its connect to 0.1 s after its answer, is at least the \
  limit less 8. A newcomer that gets no answer, or another one, fails the check too.
- **No panic.** The server's standard error, copied to `target/soak/server.log`, has no line \
  with `panicked`.
- **Clean stop.** SIGTERM, then the exit status must be 0 within 15 s, and every healthy \
  client's last line must be `* server shutting down`, followed by the server's close.
- **Mute, half-close, resume, bans.** The muted clients' every line carries `muted-line`; no \
  healthy client may ever see it. Half-closers and newcomers time the server's close after \
  their half-close (2 s at most) and look for `* bye` after `/quit`. Resumers count the \
  numbered lines before `* resumed: N lines you missed`, which must be N, and must be told \
  the session ran out only after the hold. A console target arriving from a banned address \
  between the ban's `ok` and its `unban` (less a second) must be refused with `! banned`, \
  and never at other times.
";

/// A table cell: no line breaks, no bare `|`.
fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

fn trim(value: f64) -> String {
    let text = format!("{value:.2}");
    text.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// Now, as `YYYY-MM-DD HH:MM UTC`.
fn utc_now() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let (days, rest) = (secs / 86_400, secs % 86_400);
    // Howard Hinnant's civil-from-days.
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year}-{month:02}-{day:02} {:02}:{:02} UTC",
        rest / 3600,
        rest % 3600 / 60
    )
}
