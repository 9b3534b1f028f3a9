//! The fan-out benchmark (`cargo bench --bench fanout -- [FLAGS]`, `make bench`):
//! a load generator that connects N clients to a chat server, has S of them send,
//! and checks every delivery by a marker inside each line, timing it on one clock.
//!
//! By default it starts our server in this process on port 0; `--addr` drives any
//! running chat server instead. `--stalled` runs scenario E (clients that never
//! read, issue 13), `--many-rooms` scenario F (many rooms on one server, issue
//! 17), `--slow-readers` scenario G (clients on slow but steady links, issue
//! 24). `--suite` runs the scenarios of `docs/BENCHMARKS.md` and writes that
//! file. A bench with `harness = false`: a plain `main`.
//!
//! # Layout
//! - `fanout/options.rs`: the flags
//! - `fanout/inprocess.rs`: our server in this process, and its settings
//! - `fanout/marker.rs`: the line format and the scanner that counts it (pure)
//! - `fanout/load.rs`: the generator: connections, poll-loop threads, phases
//! - `fanout/histogram.rs`: latency percentiles in fixed memory
//! - `fanout/procfs.rs`: peak RSS and CPU time from Linux's `/proc`
//! - `fanout/report.rs`: one run's results, as text or JSON
//! - `fanout/sockets.rs`: blocking client sockets and named threads (E and G)
//! - `fanout/stalled.rs`: scenario E, stalled clients: one run
//! - `fanout/observer.rs`: what a client of E or G makes of its bytes (pure)
//! - `fanout/stalled_report.rs`: all of E, its table and its targets
//! - `fanout/rooms.rs`: scenario F, many rooms: its runs, table and targets
//! - `fanout/slow.rs`: scenario G, slow readers: one run
//! - `fanout/slow_report.rs`: all of G, its table and its targets
//! - `fanout/child.rs`: one run in a child process, read back as JSON
//! - `fanout/suite.rs`: the scenarios, the tables and `docs/BENCHMARKS.md`
//! - `fanout/cells.rs`: how the tables write a figure, and a verdict
//! - `fanout/chart.rs`: the SVG chart, drawn by hand

#[path = "fanout/cells.rs"]
mod cells;
#[path = "fanout/chart.rs"]
mod chart;
#[path = "fanout/child.rs"]
mod child;
#[path = "fanout/histogram.rs"]
mod histogram;
#[path = "fanout/inprocess.rs"]
mod inprocess;
#[path = "fanout/load.rs"]
mod load;
#[path = "fanout/marker.rs"]
mod marker;
#[path = "fanout/observer.rs"]
mod observer;
#[path = "fanout/options.rs"]
mod options;
#[path = "fanout/procfs.rs"]
mod procfs;
// Before the modules that use its `record!` macro.
#[path = "fanout/report.rs"]
mod report;
#[path = "fanout/rooms.rs"]
mod rooms;
#[path = "fanout/slow.rs"]
mod slow;
#[path = "fanout/slow_report.rs"]
mod slow_report;
#[path = "fanout/sockets.rs"]
mod sockets;
#[path = "fanout/stalled.rs"]
mod stalled;
#[path = "fanout/stalled_report.rs"]
mod stalled_report;
#[path = "fanout/suite.rs"]
mod suite;

use std::process::ExitCode;
use std::time::{Duration, Instant};

use crate::inprocess::InProcess;
use crate::load::{Generator, Plan};
use crate::options::{Options, Parsed, USAGE};
use crate::procfs::{ThreadCpu, ThreadState};
use crate::report::Report;

fn main() -> ExitCode {
    let options = match options::parse(std::env::args().skip(1)) {
        Ok(Parsed::Run(options)) => options,
        Ok(Parsed::Help) => {
            print!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprint!("fanout: {e}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let print = |text: String, json: String| {
        if options.json {
            println!("{json}");
        } else {
            print!("{text}");
        }
    };
    let result = if options.self_test {
        marker::self_test()
            .and_then(|()| observer::self_test())
            .and_then(|()| slow::self_test())
            .map(|()| println!("marker, observer and scenario G self-tests passed"))
    } else if options.suite {
        suite::run(&options)
    } else if options.many_rooms {
        rooms::run()
    } else if options.stalled {
        stalled_report::run(options.deadline)
    } else if let Some(k) = options.stalled_run {
        stalled::flood(k, options.deadline).map(|row| print(row.to_text(), row.to_json()))
    } else if options.slow_readers {
        slow_report::run()
    } else if let Some(k) = options.slow_run {
        slow::run(k).map(|row| print(row.to_text(), row.to_json()))
    } else if let Some(k) = options.stalled_latency {
        stalled::latency(k, options.deadline).map(|row| print(row.to_text(), row.to_json()))
    } else {
        run_once(&options).map(|report| {
            if options.json {
                println!("{}", report.to_json());
            } else {
                print!("{}", report.to_text());
            }
        })
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("fanout: {e}");
            ExitCode::FAILURE
        }
    }
}

/// CPU figures at one moment: per thread in-process, per process with `--pid`.
#[derive(Debug, Clone, Copy)]
struct CpuSample {
    threads: Option<ThreadCpu>,
    process: Option<Duration>,
}

fn sample_cpu(pid: Option<u32>) -> CpuSample {
    CpuSample {
        threads: procfs::thread_cpu(),
        process: pid.and_then(procfs::process_cpu),
    }
}

fn seconds(d: Duration) -> f64 {
    d.as_secs_f64()
}

/// One run: connect, settle, send, count; see [`Report`].
///
/// # Errors
/// The server could not be started or reached, or a generator thread failed.
fn run_once(options: &Options) -> Result<Report, String> {
    let (server, addr, crowd) = match options.addr {
        Some(addr) => (None, addr, options.crowd),
        None => {
            let config = inprocess::config();
            let crowd = config.crowd;
            let (server, addr) = InProcess::start(config)?;
            (Some(server), addr, Some(crowd))
        }
    };
    let in_process = server.is_some();
    let plan = Plan {
        clients: options.clients,
        senders: options.senders,
        messages: options.messages,
        size: options.size,
        rate: options.rate,
        threads: options.threads,
        quiet: options.quiet,
        stall: options.stall,
        // Ours welcomes every client; a foreign server may say nothing at all.
        expect_greeting: in_process,
        rooms: options.rooms,
        crowd,
    };
    // Memory: the whole process in-process (server and generator share it),
    // else the server's process if we know it.
    let mem_pid = if in_process { None } else { options.pid };
    let measured_memory = in_process || options.pid.is_some();
    let peak_reset = measured_memory && procfs::reset_peak(mem_pid);
    let generator = Generator::start(plan.clone()).map_err(|e| e.to_string())?;
    let cpu_start = sample_cpu(options.pid);
    let machine_start = procfs::machine_cpu();
    let own_start = procfs::process_cpu(std::process::id());
    let connected = generator.connect(addr);
    let connected = match connected {
        Ok(connected) => connected,
        Err(e) => {
            let _ = generator.finish(false);
            if let Some(server) = server {
                server.stop();
            }
            return Err(format!("cannot connect to {addr}: {e}"));
        }
    };
    let rss_settled = measured_memory
        .then(|| procfs::status_kib(mem_pid, "VmRSS"))
        .flatten();
    let cpu_settled = sample_cpu(options.pid);
    let busy_settled = generator.busy();
    let send_started = Instant::now();
    // Where the broadcaster spends the send window, sampled every tick: on a
    // CPU, blocked writing (receivers not draining: the generator would be the
    // bottleneck), or waiting for events (the senders and readers are).
    let broadcaster = in_process
        .then(|| procfs::find_thread("broadcaster"))
        .flatten();
    let mut states = [0u64; 4];
    let sent = generator.send(|| {
        if let Some(state) = broadcaster.and_then(procfs::thread_state) {
            states[state as usize] += 1;
        }
    });
    let send_elapsed = seconds(send_started.elapsed());
    let cpu_sent = sample_cpu(options.pid);
    let machine_sent = procfs::machine_cpu();
    let own_sent = procfs::process_cpu(std::process::id());
    let busy_sent = generator.busy();
    let rss_peak = measured_memory
        .then(|| procfs::status_kib(mem_pid, if peak_reset { "VmHWM" } else { "VmRSS" }))
        .flatten();
    let threads = generator.threads();
    // Ours is told to stop while the generator still reads, so it can close
    // every connection itself (see Generator::finish).
    if let Some(server) = &server {
        server.begin_stop();
    }
    let tally = generator.finish(in_process)?;
    if let Some(server) = server {
        server.stop();
    }

    let expected = plan.expected();
    let window = seconds(sent.window);
    let ms = |ns: Option<u64>| ns.map(|ns| ns as f64 / 1e6);
    let server_cpu = |from: &CpuSample, to: &CpuSample| -> Option<f64> {
        if in_process {
            Some(seconds(to.threads?.since(&from.threads?).server()))
        } else {
            Some(seconds(to.process?.saturating_sub(from.process?)))
        }
    };
    let send_threads = cpu_sent
        .threads
        .zip(cpu_settled.threads)
        .map(|(to, from)| to.since(&from));
    let busy = seconds(busy_sent.saturating_sub(busy_settled));
    let scope = match (in_process, options.pid) {
        (true, _) => "in-process: RSS of server + generator; CPU of server threads".to_string(),
        (false, Some(pid)) => format!("server process {pid}"),
        (false, None) => "server not measured (no --pid)".to_string(),
    };
    // Everything else the machine did meanwhile (other people's builds and
    // tests share it), as a share of its capacity: figures taken while this is
    // high are pessimistic.
    let (background, steal) = match (machine_start, machine_sent, own_start, own_sent) {
        (Some(m0), Some(m1), Some(o0), Some(o1)) if m1.total > m0.total => {
            let total = procfs::ticks_to_seconds(m1.total - m0.total);
            let busy = procfs::ticks_to_seconds(m1.busy.saturating_sub(m0.busy));
            let ours = seconds(o1.saturating_sub(o0))
                + match (cpu_start.process, cpu_sent.process) {
                    (Some(p0), Some(p1)) => seconds(p1.saturating_sub(p0)),
                    _ => 0.0,
                };
            let steal = procfs::ticks_to_seconds(m1.steal.saturating_sub(m0.steal));
            (
                Some((100.0 * (busy - ours) / total).max(0.0)),
                Some(100.0 * steal / total),
            )
        }
        _ => (None, None),
    };
    Ok(Report {
        label: options.label.clone(),
        target: if in_process {
            "in-process".to_string()
        } else {
            format!("--addr {addr}")
        },
        clients: options.clients as u64,
        senders: options.senders as u64,
        messages: options.messages as u64,
        rooms: options.rooms as u64,
        size: options.size as u64,
        rate: options.rate,
        threads: threads as u64,
        expected,
        received: tally.delivered,
        lost: expected.saturating_sub(tally.delivered),
        duplicated: tally.duplicated,
        reordered: tally.reordered,
        corrupted: tally.corrupted,
        stray: tally.stray,
        crossed: tally.crossed,
        disconnected: tally.closed_by_server,
        deliveries_per_s: if window > 0.0 {
            tally.delivered as f64 / window
        } else {
            0.0
        },
        send_window_s: window,
        complete: sent.complete,
        p50_ms: ms(tally.latency.quantile(0.50)),
        p99_ms: ms(tally.latency.quantile(0.99)),
        max_ms: ms((tally.latency.count() > 0).then(|| tally.latency.max())),
        connect_s: seconds(connected.connect),
        settle_s: seconds(connected.settle),
        settle_timed_out: connected.settle_timed_out,
        scope,
        rss_peak_mib: rss_peak.map(|kib| kib as f64 / 1024.0),
        rss_settled_mib: rss_settled.map(|kib| kib as f64 / 1024.0),
        server_cpu_s: server_cpu(&cpu_start, &cpu_sent),
        server_cpu_send_s: server_cpu(&cpu_settled, &cpu_sent),
        broadcaster_cpu_send_s: if in_process {
            send_threads.map(|t| seconds(t.broadcaster))
        } else {
            None
        },
        generator_cpu_send_s: send_threads.map(|t| seconds(t.generator)),
        background_cpu_pct: background,
        steal_pct: steal,
        broadcaster_running_pct: share(&states, ThreadState::Running),
        broadcaster_writing_pct: share(&states, ThreadState::Writing),
        broadcaster_waiting_pct: share(&states, ThreadState::Waiting),
        generator_idle_pct: (send_elapsed > 0.0)
            .then(|| 100.0 * (1.0 - busy / (send_elapsed * threads as f64)).max(0.0)),
    })
}

/// The percentage of samples in `state`, if there were any samples.
fn share(states: &[u64; 4], state: ThreadState) -> Option<f64> {
    let total: u64 = states.iter().sum();
    (total > 0).then(|| 100.0 * states[state as usize] as f64 / total as f64)
}
