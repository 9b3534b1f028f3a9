//! Scenario E, one run in this process: our server, one healthy observer, K
//! stalled clients that never read, and either a 20000-line flood (how long do
//! the stalled clients hold the room up?) or a flooder next to a normal talker
//! (how late is a normal line?). `stalled_report.rs` runs these in child
//! processes and tabulates them.
//!
//! A stalled client here is a socket that is never read. On loopback the kernel
//! absorbs far more for it than on a real network: the server's send buffer
//! autotunes from loopback's 64 KiB segments to nearly `tcp_wmem`'s 4 MiB
//! maximum, whatever the client's receive buffer (`SO_RCVBUF`, which std cannot
//! set anyway, changes it little). That is nearly the whole flood, so a stalled
//! client might stall at its very end, or not at all, and the figures would
//! vary from run to run. So before the timed flood a filler client sends
//! [`PREFILL_LINES`], about half of what the kernel takes, into everyone's
//! buffers: a stalled client then stalls halfway through the flood, as a
//! laptop asleep for a while would. The run measures what the kernel held
//! ([`procfs::loopback_tcp_queues`]) rather than assuming it.
//!
//! Threads, all named, all bounded by the run's deadline: the observer reads
//! and tallies; a sender thread per sending client writes; a drain thread per
//! sending client reads what the server sends it (it is a client too, and one
//! that stopped reading would be a stalled client itself). The main thread
//! connects, waits, measures, and ends the other threads by shutting their
//! sockets down.

use std::io::Read;
use std::net::{Shutdown, TcpStream};
use std::sync::mpsc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use chatroom::ServerConfig;

use crate::inprocess::{self, InProcess};
use crate::marker::Format;
use crate::observer::{Observer, Watch};
use crate::procfs::{self, LoadMark};
use crate::report::record;
use crate::sockets::{await_welcome, connect, is_timeout, join, name_of, spawn, write_before};

/// The flood: lines, and bytes per line with its newline (the figures).
pub(crate) const FLOOD_LINES: u32 = 20_000;
pub(crate) const FLOOD_SIZE: usize = 190;
/// Lines the filler sends before the flood: about 2 MiB as delivered. The kernel
/// takes some 3.9 MiB for a stalled client on loopback (measured, see the module
/// docs), so these always fit, nobody is evicted for them, and the remaining
/// room (about 2 MiB) is well short of the 4 MiB flood.
pub(crate) const PREFILL_LINES: u32 = 10_000;
/// The latency run: the talker's lines, pace and size.
pub(crate) const TALK_LINES: u32 = 30;
pub(crate) const TALK_EVERY: Duration = Duration::from_millis(100);
pub(crate) const TALK_SIZE: usize = 64;

/// Lines formatted per write when flooding: about 12 KiB, in the middle of the
/// generator's 4-16 KiB pieces; lines straddle writes, as from a real program.
const CHUNK_LINES: u32 = 64;
/// Bytes per read for the observer and the drains: a whole batch in one call.
const READ_BUF: usize = 256 * 1024;
/// The longest the room may take to connect and announce every client.
const JOIN_LIMIT: Duration = Duration::from_secs(30);

/// The most a client's own queue may hold (its replies and private lines,
/// `--sendq-bytes`): the report states it beside the room's log.
pub(crate) fn send_queue_limit(config: &ServerConfig) -> Option<u64> {
    Some(config.sendq_bytes as u64)
}

record! {
    /// One flood run: K stalled clients, 20000 lines from one sender.
    FloodRow {
        /// Stalled clients (K).
        stalled: u64,
        /// Lines sent, and bytes per line.
        lines: u64,
        /// See `lines`.
        size: u64,
        /// The server's write timeout (the time it may wait on one socket).
        write_timeout_ms: u64,
        /// The limit of each client's own queue (`--sendq-bytes`), bytes.
        sendq_limit_bytes: Option<f64>,
        /// Lines the filler sent into everyone's buffers before the flood.
        prefill_lines: u64,
        /// True if the observer had every line before the deadline.
        complete: bool,
        /// The deadline the run had, seconds.
        deadline_s: f64,
        /// From the first line sent to the last one received by the observer
        /// (to the deadline if some never arrived), seconds.
        flood_s: f64,
        /// Lines the observer received, once each.
        received: u64,
        /// Lines it never received.
        lost: u64,
        /// Lines received again.
        duplicated: u64,
        /// Lines received after a later one.
        reordered: u64,
        /// Lines received broken.
        corrupted: u64,
        /// Chat lines nobody sent (or with another sender's marker).
        stray: u64,
        /// Stalled clients announced as `left (too slow)` by the end of the
        /// run (the flood, then up to one write timeout and a second more).
        evicted: u64,
        /// Of those, the ones announced before the flood's last line arrived.
        evicted_during_flood: u64,
        /// Of those, the ones announced before the flood began (should be 0:
        /// the pre-fill is meant to fit in the kernel's buffers).
        evicted_before_flood: u64,
        /// Other clients announced as `too slow` (should be 0).
        evicted_others: u64,
        /// The longest time the observer received no line, from the first line
        /// sent to the last received (to the deadline if incomplete), seconds.
        longest_gap_s: f64,
        /// Silences of 100 ms or more.
        gaps_noted: u64,
        /// Bytes the kernel held per stalled client after the pre-fill (its
        /// receive queue plus the server's send queue to it), median, KiB.
        kernel_prefilled_kib: Option<f64>,
        /// The same at the end of the run.
        kernel_held_kib: Option<f64>,
        /// RSS of this process (server and clients) once everyone joined, MiB.
        rss_settled_mib: Option<f64>,
        /// Its peak from then to the end of the run, MiB.
        rss_peak_mib: Option<f64>,
        /// CPU other processes used meanwhile, percent of the machine.
        other_load_pct: Option<f64>,
    }
}

record! {
    /// One latency run: K stalled clients, a flooder, and a talker whose
    /// lines the observer times.
    LatencyRow {
        /// Stalled clients.
        stalled: u64,
        /// The talker's lines sent, their size, and the pace, milliseconds.
        talk_lines: u64,
        /// See `talk_lines`.
        talk_size: u64,
        /// See `talk_lines`.
        talk_every_ms: u64,
        /// The flooder's line size.
        flood_size: u64,
        /// True if every talker line arrived before the deadline.
        complete: bool,
        /// The deadline the run had, seconds.
        deadline_s: f64,
        /// Talker lines received, once each, and never received.
        received: u64,
        /// See `received`.
        lost: u64,
        /// Talker lines received again, out of order, or broken, and chat
        /// lines nobody sent.
        errors: u64,
        /// Median and worst send-to-receive latency of a talker line, ms.
        p50_ms: Option<f64>,
        /// See `p50_ms`.
        max_ms: Option<f64>,
        /// Flood lines the observer received meanwhile, and how many of them
        /// were lost, duplicated, reordered or broken.
        flood_received: u64,
        /// See `flood_received`.
        flood_errors: u64,
        /// The longest time no flood line arrived, seconds.
        flood_longest_gap_s: f64,
        /// Stalled clients announced as `left (too slow)`; others (should be 0).
        evicted: u64,
        /// See `evicted`.
        evicted_others: u64,
        /// From the talker's first line to the observer's last, seconds.
        took_s: f64,
        /// CPU other processes used meanwhile, percent of the machine.
        other_load_pct: Option<f64>,
    }
}

impl FloodRow {
    /// For a person: what one run found.
    pub(crate) fn to_text(&self) -> String {
        let finished = if self.complete {
            format!("{:.2} s", self.flood_s)
        } else {
            format!(
                "did not finish in {:.0} s ({} of {} lines)",
                self.deadline_s, self.received, self.lines
            )
        };
        format!(
            "[E] {} stalled clients, {} lines of {} bytes -> in-process\n  \
             flood       {finished}; longest gap {:.2} s, {} gaps of 100 ms or more\n  \
             lines       received {}  lost {}  duplicated {}  reordered {}  corrupted {}  stray {}\n  \
             evicted     {} of {} stalled ({} during the flood, {} before it), {} others\n  \
             memory      peak RSS {} (settled {}); the kernel held {} per stalled client after the pre-fill of {} lines, {} at the end\n  \
             machine     other processes used {} of the CPU meanwhile\n",
            self.stalled,
            self.lines,
            self.size,
            self.longest_gap_s,
            self.gaps_noted,
            self.received,
            self.lost,
            self.duplicated,
            self.reordered,
            self.corrupted,
            self.stray,
            self.evicted,
            self.stalled,
            self.evicted_during_flood,
            self.evicted_before_flood,
            self.evicted_others,
            unit(self.rss_peak_mib, "MiB"),
            unit(self.rss_settled_mib, "MiB"),
            unit(self.kernel_prefilled_kib, "KiB"),
            self.prefill_lines,
            unit(self.kernel_held_kib, "KiB"),
            unit(self.other_load_pct, "%"),
        )
    }
}

impl LatencyRow {
    /// For a person: what one run found.
    pub(crate) fn to_text(&self) -> String {
        format!(
            "[E] latency: {} stalled clients, a flooder, a talker sending {} lines of {} bytes every {} ms -> in-process\n  \
             talker      received {} lost {} errors {}{}; latency p50 {} max {}\n  \
             flood       {} lines reached the observer ({} errors); longest gap {:.2} s\n  \
             evicted     {} of {} stalled, {} others; took {:.2} s\n  \
             machine     other processes used {} of the CPU meanwhile\n",
            self.stalled,
            self.talk_lines,
            self.talk_size,
            self.talk_every_ms,
            self.received,
            self.lost,
            self.errors,
            if self.complete {
                String::new()
            } else {
                format!(" (did not finish in {:.0} s)", self.deadline_s)
            },
            unit(self.p50_ms, "ms"),
            unit(self.max_ms, "ms"),
            self.flood_received,
            self.flood_errors,
            self.flood_longest_gap_s,
            self.evicted,
            self.stalled,
            self.evicted_others,
            self.took_s,
            unit(self.other_load_pct, "%"),
        )
    }
}

fn unit(v: Option<f64>, unit: &str) -> String {
    match v {
        Some(v) if unit == "%" => format!("{v:.0}%"),
        Some(v) => format!("{v:.1} {unit}"),
        None => "n/a".to_string(),
    }
}

/// One flood run with `stalled` clients that never read, given `limit` to
/// finish (it then reports what it has: "did not finish").
///
/// # Errors
/// The server could not start, a client could not connect, the room did not
/// announce everyone within [`JOIN_LIMIT`], or a thread could not be started.
pub(crate) fn flood(stalled: usize, limit: Duration) -> Result<FloodRow, String> {
    let config = inprocess::config();
    let write_timeout = config.write_timeout.unwrap_or_default();
    let sendq_limit = send_queue_limit(&config);
    // Sender 0 floods; sender 1 is the filler.
    let room = Room::open(config, 2, stalled, limit)?;
    let watches = vec![
        Watch::new(&room.senders[0].name, FLOOD_SIZE, false),
        Watch::new(&room.senders[1].name, FLOOD_SIZE, false),
    ];
    // A stalled client is evicted once it has taken nothing for a write
    // timeout; give the last ones that long (and a second more) after the
    // flood to be announced, so a server that evicts in the background is
    // not counted as never evicting.
    let goal = Goal::Flood {
        lines: u64::from(FLOOD_LINES),
        grace: write_timeout + Duration::from_secs(1),
    };
    let (observer, milestones) = room.observe(watches, goal, Some(u64::from(PREFILL_LINES)))?;
    let filler = room.senders[1].send(1, FLOOD_SIZE, Pace::FlatOut(Some(PREFILL_LINES)), &room)?;
    room.wait_for(&milestones, Milestone::Prefilled)?;
    join(filler)?;
    let kernel_prefilled = room.kernel_held();

    let peak_reset = procfs::reset_peak(None);
    let rss_settled = procfs::status_kib(None, "VmRSS");
    let load_start = LoadMark::now();
    let sender = room.senders[0].send(0, FLOOD_SIZE, Pace::FlatOut(Some(FLOOD_LINES)), &room)?;

    let observer = join(observer)?;
    let load_end = LoadMark::now();
    let rss_peak = procfs::status_kib(None, if peak_reset { "VmHWM" } else { "VmRSS" });
    let kernel_held = room.kernel_held();
    let stopped_ns = room.now_ns();
    room.shut_clients();
    let sent = join(sender)?;
    drop(room);

    let lines = observer.lines(0);
    let complete = lines.distinct >= u64::from(FLOOD_LINES);
    let start_ns = sent.first_ns.unwrap_or(stopped_ns);
    let end_ns = if complete { lines.last_ns } else { stopped_ns };
    let mib = |kib: Option<u64>| kib.map(|k| k as f64 / 1024.0);
    Ok(FloodRow {
        stalled: stalled as u64,
        lines: u64::from(FLOOD_LINES),
        size: FLOOD_SIZE as u64,
        write_timeout_ms: write_timeout.as_millis() as u64,
        sendq_limit_bytes: sendq_limit.map(|b| b as f64),
        prefill_lines: u64::from(PREFILL_LINES),
        complete,
        deadline_s: limit.as_secs_f64(),
        flood_s: seconds(end_ns.saturating_sub(start_ns)),
        received: lines.distinct,
        lost: u64::from(FLOOD_LINES).saturating_sub(lines.distinct),
        duplicated: lines.duplicated,
        reordered: lines.reordered,
        corrupted: lines.corrupted,
        stray: observer.stray,
        evicted: observer.evicted.len() as u64,
        evicted_during_flood: observer
            .evicted
            .iter()
            .filter(|(_, at)| *at <= end_ns)
            .count() as u64,
        evicted_before_flood: observer
            .evicted
            .iter()
            .filter(|(_, at)| *at < start_ns)
            .count() as u64,
        evicted_others: observer.evicted_others,
        longest_gap_s: seconds(lines.longest_gap(start_ns, end_ns)),
        gaps_noted: lines.gaps_noted,
        kernel_prefilled_kib: kernel_prefilled.map(|bytes| bytes as f64 / 1024.0),
        kernel_held_kib: kernel_held.map(|bytes| bytes as f64 / 1024.0),
        rss_settled_mib: mib(rss_settled),
        rss_peak_mib: mib(rss_peak),
        other_load_pct: load_end.others_since(&load_start),
    })
}

/// One latency run: `stalled` clients that never read, a flooder sending as
/// fast as the server takes it, and a talker sending [`TALK_LINES`] short
/// lines [`TALK_EVERY`]; the observer times the talker's lines.
///
/// # Errors
/// As for [`flood`].
pub(crate) fn latency(stalled: usize, limit: Duration) -> Result<LatencyRow, String> {
    let room = Room::open(inprocess::config(), 2, stalled, limit)?;
    let watches = vec![
        Watch::new(&room.senders[0].name, FLOOD_SIZE, false),
        Watch::new(&room.senders[1].name, TALK_SIZE, true),
    ];
    let goal = Goal::Talk {
        lines: u64::from(TALK_LINES),
    };
    let (observer, _milestones) = room.observe(watches, goal, None)?;

    let load_start = LoadMark::now();
    let flooder = room.senders[0].send(0, FLOOD_SIZE, Pace::FlatOut(None), &room)?;
    let talker = room.senders[1].send(1, TALK_SIZE, Pace::Every(TALK_EVERY, TALK_LINES), &room)?;

    let observer = join(observer)?;
    let load_end = LoadMark::now();
    let stopped_ns = room.now_ns();
    room.shut_clients();
    let talked = join(talker)?;
    let flooded = join(flooder)?;
    drop(room);

    let talk = observer.lines(1);
    let flood = observer.lines(0);
    let mut latencies = talk.latencies_ns.clone();
    latencies.sort_unstable();
    let ms = |ns: u64| ns as f64 / 1e6;
    let start_ns = talked.first_ns.unwrap_or(stopped_ns);
    Ok(LatencyRow {
        stalled: stalled as u64,
        talk_lines: u64::from(TALK_LINES),
        talk_size: TALK_SIZE as u64,
        talk_every_ms: TALK_EVERY.as_millis() as u64,
        flood_size: FLOOD_SIZE as u64,
        complete: talk.distinct >= u64::from(TALK_LINES),
        deadline_s: limit.as_secs_f64(),
        received: talk.distinct,
        lost: u64::from(TALK_LINES).saturating_sub(talk.distinct),
        errors: talk.duplicated + talk.reordered + talk.corrupted + observer.stray,
        p50_ms: (!latencies.is_empty()).then(|| ms(latencies[(latencies.len() - 1) / 2])),
        max_ms: latencies.last().map(|&ns| ms(ns)),
        flood_received: flood.distinct,
        // Lines the flooder wrote but the observer lacks at the end are not
        // lost: the run stopped while they were on their way. Gaps in the
        // sequence are: every line below the highest one received should be there.
        flood_errors: flood.duplicated
            + flood.reordered
            + flood.corrupted
            + flood.missing_below_highest(),
        flood_longest_gap_s: seconds(
            flood.longest_gap(flooded.first_ns.unwrap_or(stopped_ns), flood.last_ns),
        ),
        evicted: observer.evicted.len() as u64,
        evicted_others: observer.evicted_others,
        took_s: seconds(talk.last_ns.max(start_ns) - start_ns),
        other_load_pct: load_end.others_since(&load_start),
    })
}

fn seconds(ns: u64) -> f64 {
    ns as f64 / 1e9
}

/// When the observer may stop (besides the deadline and its socket closing).
#[derive(Debug, Clone, Copy)]
enum Goal {
    /// Every line of sender 0, then every stalled client's eviction or
    /// `grace`, whichever comes first.
    Flood { lines: u64, grace: Duration },
    /// Every line of sender 1 (the talker).
    Talk { lines: u64 },
}

/// What the observer tells the main thread as it happens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Milestone {
    /// It has seen every other client join: they are all in the room.
    Joined,
    /// It has every pre-fill line: they are in every healthy client, and in
    /// the stalled clients' kernel buffers.
    Prefilled,
}

/// How a sender sends.
#[derive(Debug, Clone, Copy)]
enum Pace {
    /// As fast as the server takes them: this many lines, or until stopped.
    FlatOut(Option<u32>),
    /// One line every interval, this many.
    Every(Duration, u32),
}

/// What a sender thread did.
#[derive(Debug)]
struct Sent {
    /// When its first line was formatted and written (run clock, ns).
    first_ns: Option<u64>,
}

/// A client that sends, and the thread that reads what the server sends it.
#[derive(Debug)]
struct Client {
    stream: TcpStream,
    /// Its name in the room: its address, as the server sees it.
    name: String,
    drain: Option<JoinHandle<()>>,
}

/// The server and every client of one run. Dropping it ends the run in an
/// order that cannot hang: the stalled sockets close first (unread data makes
/// that a reset, so a write the server is blocked in fails at once), then
/// every other socket is shut down (ending the threads that use it), then the
/// server stops.
#[derive(Debug)]
struct Room {
    server: Option<InProcess>,
    epoch: Instant,
    deadline: Instant,
    observer: TcpStream,
    senders: Vec<Client>,
    stalled: Vec<TcpStream>,
    /// The server's port, to find the stalled connections in `/proc/net/tcp`.
    server_port: u16,
    /// What the observer received after its welcome, before its thread started.
    backlog: Vec<u8>,
}

impl Room {
    /// Starts the server and connects the observer, `senders` sending
    /// clients (each with a drain thread) and `stalled` clients, in that order,
    /// so the observer sees everyone else join.
    fn open(
        config: ServerConfig,
        senders: usize,
        stalled: usize,
        limit: Duration,
    ) -> Result<Room, String> {
        let (server, addr) = InProcess::start(config)?;
        let observer = match connect(addr, "the observer") {
            Ok(observer) => observer,
            Err(e) => {
                server.stop();
                return Err(e);
            }
        };
        let epoch = Instant::now();
        // From here on, dropping `room` on an error tears everything down.
        let mut room = Room {
            server: Some(server),
            epoch,
            deadline: epoch + limit,
            observer,
            senders: Vec::new(),
            stalled: Vec::new(),
            server_port: addr.port(),
            backlog: Vec::new(),
        };
        room.backlog = await_welcome(
            &room.observer,
            "the observer",
            epoch + JOIN_LIMIT.min(limit),
        )?;
        for i in 0..senders {
            let stream = connect(addr, "a sender")?;
            // Small lines must leave at once, not wait for an ACK (Nagle).
            stream.set_nodelay(true).map_err(|e| e.to_string())?;
            let name = name_of(&stream)?;
            let reader = stream.try_clone().map_err(|e| e.to_string())?;
            let deadline = room.deadline;
            let drain = spawn(&format!("drain-{i}"), move || drain(reader, deadline))?;
            room.senders.push(Client {
                stream,
                name,
                drain: Some(drain),
            });
        }
        for _ in 0..stalled {
            room.stalled.push(connect(addr, "a stalled client")?);
        }
        Ok(room)
    }

    fn now_ns(&self) -> u64 {
        self.epoch.elapsed().as_nanos() as u64
    }

    /// Starts the observer thread and waits until it has seen everyone join;
    /// with `prefill`, it also says when it has that many lines of sender 1.
    fn observe(
        &self,
        watches: Vec<Watch>,
        goal: Goal,
        prefill: Option<u64>,
    ) -> Result<(JoinHandle<Observer>, mpsc::Receiver<Milestone>), String> {
        let stalled_names = self
            .stalled
            .iter()
            .map(name_of)
            .collect::<Result<Vec<_>, _>>()?;
        let mut everyone: Vec<String> = self.senders.iter().map(|c| c.name.clone()).collect();
        everyone.extend(stalled_names.iter().cloned());
        let (milestones_tx, milestones_rx) = mpsc::channel();
        let mut observer = Observer::new(watches, stalled_names);
        observer.feed(&self.backlog, self.now_ns());
        let task = Observe {
            stream: self.observer.try_clone().map_err(|e| e.to_string())?,
            observer,
            everyone,
            goal,
            prefill,
            stalled: self.stalled.len(),
            epoch: self.epoch,
            deadline: self.deadline,
            milestones_tx,
        };
        let handle = spawn("observer", move || task.run())?;
        self.wait_for(&milestones_rx, Milestone::Joined)?;
        Ok((handle, milestones_rx))
    }

    /// Waits for the observer to report `milestone`, within [`JOIN_LIMIT`] and
    /// the deadline.
    fn wait_for(
        &self,
        milestones: &mpsc::Receiver<Milestone>,
        milestone: Milestone,
    ) -> Result<(), String> {
        let wait = JOIN_LIMIT.min(self.deadline.saturating_duration_since(Instant::now()));
        match milestones.recv_timeout(wait) {
            Ok(got) if got == milestone => Ok(()),
            _ => Err(match milestone {
                Milestone::Joined => format!(
                    "the observer did not see all {} other clients join within {:.0} s",
                    self.senders.len() + self.stalled.len(),
                    wait.as_secs_f64()
                ),
                Milestone::Prefilled => format!(
                    "the observer did not get every pre-fill line within {:.0} s",
                    wait.as_secs_f64()
                ),
            }),
        }
    }

    /// Bytes the kernel holds per stalled client, median over them: what its
    /// receive queue holds plus what the server's send queue to it holds.
    fn kernel_held(&self) -> Option<u64> {
        if self.stalled.is_empty() {
            return None;
        }
        let queues = procfs::loopback_tcp_queues()?;
        let mut held: Vec<u64> = self
            .stalled
            .iter()
            .filter_map(|s| s.local_addr().ok())
            .map(|local| {
                let port = local.port();
                let client_rx = queues
                    .get(&(port, self.server_port))
                    .map_or(0, |q| q.receive);
                let server_tx = queues.get(&(self.server_port, port)).map_or(0, |q| q.send);
                client_rx + server_tx
            })
            .collect();
        held.sort_unstable();
        held.get(held.len() / 2).copied()
    }

    /// Closes the stalled clients and shuts every other socket down, which
    /// ends the threads reading and writing them.
    fn shut_clients(&self) {
        for client in &self.senders {
            let _ = client.stream.shutdown(Shutdown::Both);
        }
        let _ = self.observer.shutdown(Shutdown::Both);
    }
}

impl Drop for Room {
    fn drop(&mut self) {
        self.stalled.clear();
        self.shut_clients();
        for client in &mut self.senders {
            if let Some(drain) = client.drain.take() {
                let _ = drain.join();
            }
        }
        if let Some(server) = self.server.take() {
            server.stop();
        }
    }
}

impl Client {
    /// Starts a thread that sends this client's lines as marker `sender`,
    /// `size` bytes each, at `pace`.
    fn send(
        &self,
        sender: u32,
        size: usize,
        pace: Pace,
        room: &Room,
    ) -> Result<JoinHandle<Sent>, String> {
        let stream = self.stream.try_clone().map_err(|e| e.to_string())?;
        let (epoch, deadline) = (room.epoch, room.deadline);
        spawn(&format!("send-{sender}"), move || {
            send(stream, Format::new(size), sender, pace, epoch, deadline)
        })
    }
}

/// The observer thread's work: read and tally until `goal` is reached, the
/// deadline passes, or the socket is shut down; report each [`Milestone`] once.
#[derive(Debug)]
struct Observe {
    stream: TcpStream,
    observer: Observer,
    /// Every client but the observer, by name.
    everyone: Vec<String>,
    goal: Goal,
    /// Pre-fill lines of sender 1 to report as [`Milestone::Prefilled`].
    prefill: Option<u64>,
    /// How many stalled clients there are to be evicted.
    stalled: usize,
    epoch: Instant,
    deadline: Instant,
    milestones_tx: mpsc::Sender<Milestone>,
}

impl Observe {
    fn run(mut self) -> Observer {
        let mut buf = vec![0u8; READ_BUF];
        let mut joined = false;
        let mut prefilled = self.prefill.is_none();
        let mut flood_done: Option<Instant> = None;
        loop {
            if !joined && self.observer.has_joined(self.everyone.iter()) {
                joined = true;
                let _ = self.milestones_tx.send(Milestone::Joined);
            }
            if !prefilled && Some(self.observer.lines(1).distinct) >= self.prefill {
                prefilled = true;
                let _ = self.milestones_tx.send(Milestone::Prefilled);
            }
            let now = Instant::now();
            if now >= self.deadline {
                break;
            }
            let reached = match self.goal {
                Goal::Flood { lines, grace } => {
                    self.observer.lines(0).distinct >= lines && {
                        let done = *flood_done.get_or_insert(now);
                        self.observer.evicted.len() >= self.stalled || now >= done + grace
                    }
                }
                Goal::Talk { lines } => self.observer.lines(1).distinct >= lines,
            };
            if reached {
                break;
            }
            match (&self.stream).read(&mut buf) {
                Ok(0) => break,
                Ok(n) => self
                    .observer
                    .feed(&buf[..n], self.epoch.elapsed().as_nanos() as u64),
                Err(e) if is_timeout(&e) => {}
                Err(_) => break,
            }
        }
        self.observer
    }
}

/// A sender thread: writes lines as marker `sender` at `pace` until done, the
/// deadline passes, or its socket is shut down. Each line carries the time it
/// was formatted, just before its write.
fn send(
    stream: TcpStream,
    format: Format,
    sender: u32,
    pace: Pace,
    epoch: Instant,
    deadline: Instant,
) -> Sent {
    let now_ns = || epoch.elapsed().as_nanos() as u64;
    let mut sent = Sent { first_ns: None };
    let mut buf = Vec::new();
    let mut seq = 0u32;
    let (limit, interval) = match pace {
        Pace::FlatOut(limit) => (limit.unwrap_or(u32::MAX), None),
        Pace::Every(interval, lines) => (lines, Some(interval)),
    };
    let start = Instant::now();
    while seq < limit {
        buf.clear();
        let count = match interval {
            None => CHUNK_LINES.min(limit - seq),
            Some(interval) => {
                // Pacing, not synchronisation: the talker is a person typing.
                let due = start + interval * (seq + 1);
                if due >= deadline {
                    break;
                }
                thread::sleep(due.saturating_duration_since(Instant::now()));
                1
            }
        };
        let now = now_ns();
        sent.first_ns.get_or_insert(now);
        for _ in 0..count {
            format.write_line(&mut buf, sender, seq, now);
            seq += 1;
        }
        if !write_before(&stream, &buf, deadline) {
            break;
        }
    }
    sent
}

/// A drain thread: reads and discards what the server sends a sending client,
/// until the socket is shut down or the deadline passes.
fn drain(stream: TcpStream, deadline: Instant) {
    let mut buf = vec![0u8; READ_BUF];
    while Instant::now() < deadline {
        match (&stream).read(&mut buf) {
            Ok(0) => return,
            Ok(_) => {}
            Err(e) if is_timeout(&e) => {}
            Err(_) => return,
        }
    }
}
