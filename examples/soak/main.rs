//! `soak`: a class of 200 simulated clients, most of them misbehaving, for
//! N minutes against the real `server` binary, then the checks that say
//! whether it leaked anything or failed anyone (`make soak`, `MINUTES=N`).
//!
//! ```text
//! cargo build --release --bin server
//! cargo run --release --example soak -- --minutes 10 --report docs/SOAK.md
//! ```
//!
//! One OS thread per simulated client, blocking sockets, as in the server:
//! each kind of client is one straight function a student can read, and
//! 200 threads that mostly wait in `read` cost this machine little (the
//! bursts, hundreds of connections at once, are one thread).
//!
//! Layout: `main.rs` (flags, the phases), `mix.rs` (who plays what),
//! `clients/` (one file per kind, the console driver, the bursts),
//! `conn.rs` (a line connection), `server.rs` (the server process),
//! `probes.rs` and `sampler.rs` (`/proc`), `transcript.rs` (what each room
//! heard), `checks/` (one file per concern), `report.rs` and `chart.rs`
//! (`docs/SOAK.md`).

mod chart;
mod checks;
mod clients;
mod conn;
mod mix;
mod probes;
mod report;
mod sampler;
mod server;
mod transcript;

use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;
use std::thread::{self, Scope, ScopedJoinHandle};
use std::time::{Duration, Instant};

use crossbeam_channel::{bounded, unbounded, Receiver, Sender};
use parking_lot::Mutex;

use checks::{Baseline, Evidence, Settings, Settled};
use clients::healthy::{Cues, HealthyReport, Reports};
use clients::{Ctx, Tally, Target};
use mix::{Kind, Member};
use probes::TcpState;
use sampler::Sampler;
use server::{Launch, Server};

const USAGE: &str = "\
Usage: soak [OPTIONS]

Runs a class of 200 simulated clients against the real server binary for
N minutes: healthy talkers that must get every line of their room, in
order, among sleepers, slow readers, flooders, resetters, half-closers,
room movers, renamers, resumers, console targets (muted, kicked, banned),
newcomers, dashboard viewers and lurkers, and bursts of connections past
the server's descriptor limit. Then checks that no thread, descriptor or
socket is left beyond the live clients, that memory stayed within its
bound, that no healthy client missed a line, that no newcomer was refused
while descriptors were free, that nothing panicked and that the server
stops cleanly; writes the figures and a chart. Exits 1 if a check fails.
Linux only (it reads /proc).

Options:
  --minutes N      how long the chaos lasts [default: 10]
  --server PATH    the server binary [default: target/release/server]
  --report PATH    where to write the report [default: target/soak/SOAK.md];
                   the chart goes next to it, as soak.svg
  --work DIR       the transcript and the server's log [default: target/soak]
  --fd-limit N     the server's `ulimit -n` [default: 384]
  --burst N        connections per burst [default: 300]
  --seed N         the random choices [default: 23]
  -h, --help       print this help
";

/// What the command line asks for.
#[derive(Debug)]
struct Options {
    minutes: f64,
    server: PathBuf,
    report: PathBuf,
    work: PathBuf,
    fd_limit: usize,
    burst: usize,
    seed: u64,
}

fn parse_args(args: impl IntoIterator<Item = String>) -> Result<Option<Options>, String> {
    let mut options = Options {
        minutes: 10.0,
        server: server::default_binary(),
        report: PathBuf::from("target/soak/SOAK.md"),
        work: PathBuf::from("target/soak"),
        fd_limit: 384,
        burst: 300,
        seed: 23,
    };
    let mut args = args.into_iter();
    while let Some(flag) = args.next() {
        if flag == "-h" || flag == "--help" {
            return Ok(None);
        }
        let value = args.next().ok_or(format!("{flag} needs a value"))?;
        let number = |value: &str| {
            value
                .parse::<f64>()
                .ok()
                .filter(|n| *n > 0.0)
                .ok_or(format!("{flag}: '{value}' is not a positive number"))
        };
        match flag.as_str() {
            "--minutes" => options.minutes = number(&value)?,
            "--server" => options.server = value.into(),
            "--report" => options.report = value.into(),
            "--work" => options.work = value.into(),
            "--fd-limit" => options.fd_limit = number(&value)? as usize,
            "--burst" => options.burst = number(&value)? as usize,
            "--seed" => options.seed = number(&value)? as u64,
            other => return Err(format!("unknown option '{other}'")),
        }
    }
    Ok(Some(options))
}

fn main() -> ExitCode {
    let options = match parse_args(std::env::args().skip(1)) {
        Ok(Some(options)) => options,
        Ok(None) => {
            print!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("soak: {e}\ntry 'soak --help'");
            return ExitCode::from(2);
        }
    };
    match run(&options) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("soak: {e}");
            ExitCode::from(2)
        }
    }
}

/// The server's settings for the soak, each chosen so that its limit is
/// reached (room logs that fill, a hold that runs out, descriptors that
/// run out) while the memory bound stays small enough to mean something.
fn settings(fd_limit: usize) -> Settings {
    Settings {
        fd_limit,
        room_log_bytes: 256 * 1024,
        logs_bytes: 2 * 1024 * 1024,
        sendq_bytes: 128 * 1024,
        hold_secs: 8,
    }
}

/// The server's flags for `settings`.
fn flags(settings: &Settings, transcript: &std::path::Path) -> Vec<String> {
    [
        "--transcript",
        &transcript.display().to_string(),
        "--room-log-bytes",
        &settings.room_log_bytes.to_string(),
        "--logs-bytes",
        &settings.logs_bytes.to_string(),
        "--sendq-bytes",
        &settings.sendq_bytes.to_string(),
        "--hold-secs",
        &settings.hold_secs.to_string(),
        "--quiet",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

/// Runs the soak; true if every check passed.
fn run(options: &Options) -> io::Result<bool> {
    if !cfg!(target_os = "linux") {
        return Err(io::Error::other(
            "the soak reads /proc: it runs on Linux only",
        ));
    }
    std::fs::create_dir_all(&options.work)?;
    let transcript_path = options.work.join("transcript.jsonl");
    // A transcript from an earlier run would be taken back as a restart.
    let _ = std::fs::remove_file(&transcript_path);
    let mut settings = settings(options.fd_limit);
    let launch = Launch {
        binary: options.server.clone(),
        flags: flags(&settings, &transcript_path),
        fd_limit: options.fd_limit,
        log: options.work.join("server.log"),
    };
    let t0 = Instant::now();
    let (server, mut pipe) = Server::start(&launch)?;
    let pid = server.pid;
    settings.fd_limit = probes::fd_limit(pid).unwrap_or(options.fd_limit);
    let base = baseline(pid);
    say(&format!(
        "server {pid} on {} (dashboard {}), ulimit -n {}: {} threads, {} descriptors, {} at rest",
        server.chat,
        server.dashboard,
        settings.fd_limit,
        base.threads,
        base.fds,
        checks::mib(base.rss_kib)
    ));
    let sampler = Sampler::start(pid, t0)?;
    let (chaos_tx, chaos_rx) = bounded::<()>(0);
    let ctx = Ctx {
        chat: server.chat,
        dashboard: server.dashboard,
        server_pid: pid,
        t0,
        seed: options.seed,
        hold: Duration::from_secs(settings.hold_secs),
        chaos: chaos_rx,
        ports: Mutex::default(),
        targets: Mutex::new(vec![Target::default(); mix::count(Kind::Moderated)]),
        bursting: AtomicBool::new(false),
        fast_sampling: sampler.pace(),
    };
    let class = mix::class();
    let chaos_length = Duration::from_secs_f64(options.minutes * 60.0);
    let mut phases = Phases::default();
    let (healthy, tallies, console, bursts) = thread::scope(|scope| {
        let ctx = &ctx;
        // 1. The healthy clients take their seats; nothing else runs yet.
        let (healthy, cues, seated) = seat(scope, ctx, &class);
        // 2. The chaos.
        phases.chaos.0 = ctx.t();
        let load_before = probes::Load::now(pid);
        say(&format!("chaos for {:.1} min", options.minutes));
        let misbehaving = spawn_misbehaving(scope, ctx, &class);
        let pipe = &mut pipe;
        let console = spawn(scope, "console", move || clients::console::run(ctx, pipe));
        let (times, size) = (burst_times(chaos_length), options.burst);
        let bursts = spawn(scope, "bursts", move || {
            clients::admission::bursts(ctx, size, &times)
        });
        let _ = ctx.chaos.recv_timeout(chaos_length);
        drop(chaos_tx);
        let tallies = join_tallies(misbehaving);
        let console = console.join().unwrap_or_default();
        let bursts = bursts.join().unwrap_or_default();
        phases.chaos.1 = ctx.t();
        phases.load = probes::Load::now(pid).since(&load_before);
        // 3. The healthy clients say their last lines and read them all.
        // A reader throttled when its client reset notices within 0.1 s:
        // after a second, nothing of the chaos is still being relayed.
        thread::sleep(Duration::from_secs(1));
        say("chaos over: the healthy clients finish");
        drop(cues.talk_tx);
        let caught = wait_caught_up(&cues.caught_rx, seated, Duration::from_secs(60));
        if caught < seated {
            say(&format!(
                "only {caught} of {seated} healthy clients got every last line"
            ));
        }
        // 4. The server as the live clients leave it.
        phases.settled = settle(pid, &base, seated, Duration::from_secs(30));
        phases.peak_rss_kib = probes::status_kib(pid, "VmHWM").unwrap_or(0);
        say(&format!(
            "settled: {} threads, {} descriptors, sockets {:?}",
            phases.settled.threads, phases.settled.fds, phases.settled.sockets
        ));
        // 5. SIGTERM.
        phases.stopped = Some(server.stop());
        drop(cues.quit_tx);
        let healthy: Vec<HealthyReport> = healthy
            .into_iter()
            .filter_map(|handle| handle.join().ok())
            .collect();
        (healthy, tallies, console, bursts)
    });
    let samples = sampler.finish();
    let transcript = transcript::read(&transcript_path)?;
    let evidence = Evidence {
        minutes: options.minutes,
        flags: launch.flags.clone(),
        settings,
        base,
        settled: phases.settled,
        samples,
        peak_rss_kib: phases.peak_rss_kib,
        healthy,
        transcript,
        tallies,
        console,
        bursts,
        stopped: phases.stopped.expect("the server was stopped in the scope"),
        load: phases.load,
        rooms: mix::all_rooms().len() + 1,
        chaos: phases.chaos,
        ports: ctx.ports.into_inner(),
    };
    let checks = checks::all(&evidence);
    report::write(&options.report, &evidence, &checks)?;
    for check in &checks {
        let verdict = if check.passed { "pass" } else { "FAIL" };
        println!("{verdict}  {}: {}", check.name, check.measured);
        for failure in &check.failures {
            println!("        {failure}");
        }
    }
    println!("report: {}", options.report.display());
    Ok(checks.iter().all(|c| c.passed))
}

/// What the phases measured on the way.
#[derive(Debug, Default)]
struct Phases {
    chaos: (f64, f64),
    load: Option<probes::LoadShares>,
    settled: Settled,
    peak_rss_kib: u64,
    stopped: Option<server::Stopped>,
}

/// A progress line on standard error.
fn say(what: &str) {
    eprintln!("soak: {what}");
}

/// The server at rest: its threads once every one of them has started
/// (the count holds still), its fewest descriptors over a few looks (its
/// dashboard opens `/proc` files for a moment now and then), its memory.
fn baseline(pid: u32) -> Baseline {
    let mut threads = 0;
    let mut steady = 0;
    let until = Instant::now() + Duration::from_secs(5);
    while steady < 5 && Instant::now() < until {
        thread::sleep(Duration::from_millis(100));
        let now = probes::threads(pid).unwrap_or(0);
        steady = if now == threads { steady + 1 } else { 0 };
        threads = now;
    }
    let fds = (0..5)
        .filter_map(|_| {
            thread::sleep(Duration::from_millis(50));
            probes::fds(pid)
        })
        .min()
        .unwrap_or(0);
    let table = probes::tcp_table();
    let listening = probes::sockets(pid, &table)
        .iter()
        .filter(|(_, row)| row.state == TcpState::Listen)
        .count();
    Baseline {
        threads,
        fds,
        rss_kib: probes::status_kib(pid, "VmRSS").unwrap_or(0),
        listening,
    }
}

/// The healthy clients' cues, kept by `main` and dropped to give them.
#[derive(Debug)]
struct HealthyCues {
    talk_tx: Sender<()>,
    quit_tx: Sender<()>,
    caught_rx: Receiver<u32>,
}

/// Starts the healthy clients and waits until all are seated (or a
/// minute has passed), then gives them the cue to talk. Returns their
/// handles, the cues still to give, and how many were seated.
fn seat<'scope, 'env>(
    scope: &'scope Scope<'scope, 'env>,
    ctx: &'env Ctx,
    class: &'env [Member],
) -> (
    Vec<ScopedJoinHandle<'scope, HealthyReport>>,
    HealthyCues,
    usize,
) {
    let (go_tx, go) = bounded::<()>(0);
    let (talk_tx, talk) = bounded::<()>(0);
    let (quit_tx, quit) = bounded::<()>(0);
    let (seated_tx, seated_rx) = unbounded();
    let (caught_tx, caught_rx) = unbounded();
    let cues = Cues { go, talk, quit };
    let reports = Reports {
        seated: seated_tx,
        caught_up: caught_tx,
    };
    let healthy: Vec<&Member> = class.iter().filter(|m| m.kind == Kind::Healthy).collect();
    let mut handles = Vec::new();
    for member in &healthy {
        let mates: BTreeSet<u32> = healthy
            .iter()
            .filter(|m| m.room == member.room && m.who != member.who)
            .map(|m| m.who)
            .collect();
        let (cues, reports) = (cues.clone(), reports.clone());
        let member = (*member).clone();
        let name = format!("healthy-{}", member.index);
        handles.push(spawn(scope, &name, move || {
            clients::healthy::run(ctx, member, mates, &cues, &reports)
        }));
    }
    drop(reports);
    let until = Instant::now() + Duration::from_secs(60);
    let (mut seated, mut refused) = (0, Vec::new());
    while seated + refused.len() < handles.len() {
        match seated_rx.recv_deadline(until) {
            Ok(Ok(())) => seated += 1,
            Ok(Err(why)) => refused.push(why),
            Err(_) => break,
        }
    }
    say(&format!("{seated} healthy clients seated"));
    for why in &refused {
        say(&format!("not seated: {why}"));
    }
    drop(go_tx);
    let cues = HealthyCues {
        talk_tx,
        quit_tx,
        caught_rx,
    };
    (handles, cues, seated)
}

/// Starts every misbehaving client, newcomer and dashboard visitor.
fn spawn_misbehaving<'scope, 'env>(
    scope: &'scope Scope<'scope, 'env>,
    ctx: &'env Ctx,
    class: &'env [Member],
) -> Vec<(Kind, ScopedJoinHandle<'scope, Tally>)> {
    class
        .iter()
        .filter(|m| m.kind != Kind::Healthy)
        .map(|member| {
            let name = format!("{}-{}", member.kind.name().replace(' ', "-"), member.index);
            let handle = spawn(scope, &name, move || match member.kind {
                Kind::Sleeper | Kind::SlowReader => clients::readers::run(ctx, member),
                Kind::Flooder => clients::flooder::run(ctx, member),
                Kind::Resetter => clients::leavers::resetter(ctx, member),
                Kind::HalfCloser => clients::leavers::half_closer(ctx, member),
                Kind::Mover | Kind::Renamer => clients::wanderers::run(ctx, member),
                Kind::Resumer => clients::resumer::run(ctx, member),
                Kind::Moderated => clients::moderated::run(ctx, member),
                Kind::Newcomer => clients::admission::newcomer(ctx, member),
                Kind::Viewer => clients::dashboard::viewer(ctx, member),
                Kind::Lurker => clients::dashboard::lurker(ctx, member),
                Kind::Healthy | Kind::Burst => Tally::default(),
            });
            (member.kind, handle)
        })
        .collect()
}

/// Joins the misbehaving clients and adds up their tallies by kind.
fn join_tallies(handles: Vec<(Kind, ScopedJoinHandle<'_, Tally>)>) -> BTreeMap<Kind, Tally> {
    let mut tallies: BTreeMap<Kind, Tally> = BTreeMap::new();
    for (kind, handle) in handles {
        let tally = handle.join().unwrap_or_else(|_| {
            let mut tally = Tally::default();
            tally.problem("soak", format!("a {kind} thread panicked"));
            tally
        });
        tallies.entry(kind).or_default().merge(tally);
    }
    tallies
}

/// Starts a named thread in `scope`. A soak that cannot start its
/// threads cannot run: that one failure ends it.
fn spawn<'scope, 'env, T: Send + 'scope>(
    scope: &'scope Scope<'scope, 'env>,
    name: &str,
    work: impl FnOnce() -> T + Send + 'scope,
) -> ScopedJoinHandle<'scope, T> {
    thread::Builder::new()
        .name(name.to_string())
        .stack_size(256 * 1024)
        .spawn_scoped(scope, work)
        .expect("the soak must be able to start its threads")
}

/// When the bursts begin, from the start of the chaos: 15 s in, then every
/// 45 s, as long as 15 s of chaos remain after one.
fn burst_times(chaos: Duration) -> Vec<Duration> {
    let mut times = Vec::new();
    let mut at = Duration::from_secs(15);
    while at + Duration::from_secs(15) <= chaos {
        times.push(at);
        at += Duration::from_secs(45);
    }
    times
}

/// Waits until `seated` healthy clients said they have every room mate's
/// last line, or `limit` passes. Returns how many did.
fn wait_caught_up(caught_rx: &Receiver<u32>, seated: usize, limit: Duration) -> usize {
    let until = Instant::now() + limit;
    let mut caught = 0;
    while caught < seated && caught_rx.recv_deadline(until).is_ok() {
        caught += 1;
    }
    caught
}

/// Waits until the server holds no more than its live clients need: its
/// threads and descriptors at rest plus one of each per live client, and
/// as sockets its listeners and one established connection per client.
fn settle(pid: u32, base: &Baseline, live: usize, limit: Duration) -> Settled {
    let started = Instant::now();
    loop {
        let table = probes::tcp_table();
        let mut sockets: BTreeMap<TcpState, usize> = BTreeMap::new();
        let mut ports = BTreeSet::new();
        for (_, row) in probes::sockets(pid, &table) {
            *sockets.entry(row.state).or_default() += 1;
            if row.state == TcpState::Listen {
                ports.insert(row.local_port);
            }
        }
        let mut orphans: BTreeMap<TcpState, usize> = BTreeMap::new();
        for row in table
            .orphans
            .iter()
            .filter(|r| ports.contains(&r.local_port))
        {
            *orphans.entry(row.state).or_default() += 1;
        }
        let settled = Settled {
            live,
            threads: probes::threads(pid).unwrap_or(0),
            threads_by_name: probes::threads_by_name(pid),
            fds: probes::fds(pid).unwrap_or(0),
            reached: false,
            took: started.elapsed().as_secs_f64(),
            sockets,
            orphans,
        };
        let wanted: BTreeMap<TcpState, usize> = [
            (TcpState::Listen, base.listening),
            (TcpState::Established, live),
        ]
        .into_iter()
        .filter(|(_, n)| *n > 0)
        .collect();
        let reached = settled.threads == base.threads + live
            && settled.fds == base.fds + live
            && settled.sockets == wanted;
        if reached || started.elapsed() >= limit {
            return Settled { reached, ..settled };
        }
        thread::sleep(Duration::from_millis(250));
    }
}
