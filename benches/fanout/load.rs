//! The load generator: N client connections shared out among a few poll-loop
//! threads (`gen-N`), each owning a slice of the sockets. Every thread reads
//! all of its sockets as soon as they are readable (the server disconnects a
//! client that stops reading for a second) and writes for the senders among them.
//!
//! Not a thread per connection: 9000 of those, next to the server's own 9000
//! reader threads, would crowd a 2-core machine and its pid limit, and would
//! make the generator, not the server, what gets measured.
//!
//! With rooms (scenario F), client `c` joins room `c % R` as it connects, and
//! a line may only reach the members of its sender's room: one that reaches
//! anyone else is counted as `crossed`.

use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};
use std::sync::{mpsc, Arc};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token, Waker};

use crate::histogram::Histogram;
use crate::marker::{Format, Found};
use crate::procfs::GENERATOR_THREAD;

/// Bytes asked for per `read`. Big, so a socket holding a whole batch of
/// fan-out is drained in one call.
const READ_BUF: usize = 256 * 1024;

/// Bytes a sender hands to one `write` when sending flat out: between these.
const MIN_PIECE: usize = 4 * 1024;
const MAX_PIECE: usize = 16 * 1024;

/// The poll token of each thread's waker (sockets use their slot index).
const WAKER: Token = Token(usize::MAX);

/// How long a thread sleeps in `poll` when nothing is due; flags are also
/// announced through the waker, so this only bounds staleness.
const IDLE_POLL: Duration = Duration::from_millis(100);

/// See [`connect_quickly`].
const CONNECT_RETRY: Duration = Duration::from_millis(20);
const CONNECT_LIMIT: Duration = Duration::from_secs(10);

/// Connects, retrying every [`CONNECT_RETRY`] rather than waiting for TCP's own
/// retry a second later. On loopback the handshake completes inside `connect`
/// unless the listen backlog is full (a server busy with join notices accepts
/// slowly), and then Linux drops the attempt silently.
pub(crate) fn connect_quickly(addr: SocketAddr) -> io::Result<std::net::TcpStream> {
    let deadline = Instant::now() + CONNECT_LIMIT;
    loop {
        match std::net::TcpStream::connect_timeout(&addr, CONNECT_RETRY) {
            Err(e) if e.kind() == io::ErrorKind::TimedOut && Instant::now() < deadline => {}
            result => return result,
        }
    }
}

/// How often the main thread looks at progress while the senders send.
pub(crate) const TICK: Duration = Duration::from_millis(2);

/// The longest connect and settle may take before the run goes on regardless.
const SETTLE_LIMIT: Duration = Duration::from_secs(180);

/// While connecting, the longest silence after the last connection before
/// the run gives up waiting for a line every connection should get (see
/// [`Plan::settle_text`]) and goes on, reported as never settled.
const SILENCE_LIMIT: Duration = Duration::from_secs(5);

/// How long the server may take to close every connection after it was asked
/// to stop, before the generator closes them itself.
const CLOSE_LIMIT: Duration = Duration::from_secs(15);

/// `closing` values.
const OPEN: u8 = 0;
const DRAIN: u8 = 1;
const CLOSE_NOW: u8 = 2;

/// What to do: the flags of one run.
#[derive(Debug, Clone)]
pub(crate) struct Plan {
    /// Connections, senders included.
    pub(crate) clients: usize,
    /// The first `senders` clients each send `messages` lines.
    pub(crate) senders: usize,
    /// Lines per sender.
    pub(crate) messages: usize,
    /// Bytes per line, newline included.
    pub(crate) size: usize,
    /// Lines per second per sender; 0 sends as fast as the server takes them.
    pub(crate) rate: f64,
    /// Poll-loop threads.
    pub(crate) threads: usize,
    /// Settled means: no byte arrived on any connection for this long.
    pub(crate) quiet: Duration,
    /// Give up waiting for missing lines after this long without progress.
    pub(crate) stall: Duration,
    /// Also wait until every connection has received something (the server
    /// greets each client), not only for the quiet period.
    pub(crate) expect_greeting: bool,
    /// Spread the clients over this many rooms: client `c` sends `/join
    /// roomK` with `K = c % rooms` as it connects, and the room has settled
    /// once each has been told `* you are now in roomK`. 0: nobody joins a
    /// room (everyone stays in the lobby, and any server will do).
    pub(crate) rooms: usize,
    /// The server sums up the joins in a room of more than this many members
    /// once a second (ours, `--crowd`); then the room has settled only once
    /// every connection has the summary that counts everyone, `(N here)`.
    /// `None`: a server that announces nothing, or announces every join.
    pub(crate) crowd: Option<usize>,
}

impl Plan {
    /// Groups of clients that hear each other: the rooms, or the one lobby.
    fn groups(&self) -> usize {
        self.rooms.max(1)
    }

    /// The group (room index) of client `client`.
    fn group_of(&self, client: usize) -> usize {
        client % self.groups()
    }

    /// Clients in group `group`.
    fn members(&self, group: usize) -> usize {
        let groups = self.groups();
        self.clients / groups + usize::from(group < self.clients % groups)
    }

    /// The most senders any one group has: what each receiver tracks.
    pub(crate) fn senders_per_group(&self) -> usize {
        self.senders.div_ceil(self.groups())
    }

    /// Deliveries a correct server makes: every line to every other client
    /// in its sender's room.
    pub(crate) fn expected(&self) -> u64 {
        (0..self.senders)
            .map(|sender| self.members(self.group_of(sender)).saturating_sub(1) as u64)
            .sum::<u64>()
            * self.messages as u64
    }

    /// What client `client` sends as it connects: `/join roomK`, with rooms.
    fn join_line(&self, client: usize) -> Option<Vec<u8>> {
        (self.rooms > 0).then(|| format!("/join room{}\n", self.group_of(client)).into_bytes())
    }

    /// The line that tells client `client` the room is settled for it: its
    /// `/join` was answered, or (in a crowded lobby) the summary that counts
    /// every client has arrived. Without one, a quiet period has to do.
    fn settle_text(&self, client: usize) -> Option<Vec<u8>> {
        if self.rooms > 0 {
            Some(format!("* you are now in room{}\n", self.group_of(client)).into_bytes())
        } else {
            self.crowd
                .filter(|&crowd| self.clients > crowd)
                .map(|_| format!("({} here)\n", self.clients).into_bytes())
        }
    }
}

/// One generator thread's counters, published after every poll so the main
/// thread can watch progress without stopping anyone.
#[derive(Debug, Default)]
struct Gauge {
    delivered: AtomicU64,
    sent: AtomicU64,
    last_byte_ns: AtomicU64,
    last_marker_ns: AtomicU64,
    greeted: AtomicU64,
    /// Connections that have their settle text (see [`Plan::settle_text`]).
    ready: AtomicU64,
    registered: AtomicU64,
    open: AtomicU64,
    busy_ns: AtomicU64,
}

/// Shared by the main thread and the generator threads.
#[derive(Debug)]
struct Control {
    /// The one clock: send times in markers and receive times are both
    /// nanoseconds since this instant.
    epoch: Instant,
    go: AtomicBool,
    send_start_ns: AtomicU64,
    closing: AtomicU8,
    gauges: Vec<Gauge>,
}

impl Control {
    fn now_ns(&self) -> u64 {
        self.epoch.elapsed().as_nanos() as u64
    }

    fn sum(&self, field: impl Fn(&Gauge) -> &AtomicU64) -> u64 {
        self.gauges
            .iter()
            .map(|g| field(g).load(Ordering::Relaxed))
            .sum()
    }

    fn max(&self, field: impl Fn(&Gauge) -> &AtomicU64) -> u64 {
        self.gauges
            .iter()
            .map(|g| field(g).load(Ordering::Relaxed))
            .max()
            .unwrap_or(0)
    }
}

/// What the generator threads counted, merged.
#[derive(Debug, Default)]
pub(crate) struct Tally {
    /// Distinct (receiver, sender, sequence) deliveries.
    pub(crate) delivered: u64,
    /// A line a client had already received, again.
    pub(crate) duplicated: u64,
    /// A line older than one the same client already had from the same sender.
    pub(crate) reordered: u64,
    /// Marker starts that did not hold one intact line.
    pub(crate) corrupted: u64,
    /// Intact markers that should not have arrived: a sender's own line
    /// echoed back, or ids out of range.
    pub(crate) stray: u64,
    /// Intact lines from a sender in another room.
    pub(crate) crossed: u64,
    /// Bytes received.
    pub(crate) bytes: u64,
    /// Bytes written by senders.
    pub(crate) sent_bytes: u64,
    /// Connections the server closed before the run was over.
    pub(crate) closed_by_server: u64,
    /// Senders whose socket failed while writing.
    pub(crate) send_errors: u64,
    /// Send-to-receive latency of every delivery, in nanoseconds.
    pub(crate) latency: Histogram,
}

impl Tally {
    fn merge(&mut self, other: &Tally) {
        self.delivered += other.delivered;
        self.duplicated += other.duplicated;
        self.reordered += other.reordered;
        self.corrupted += other.corrupted;
        self.stray += other.stray;
        self.crossed += other.crossed;
        self.bytes += other.bytes;
        self.sent_bytes += other.sent_bytes;
        self.closed_by_server += other.closed_by_server;
        self.send_errors += other.send_errors;
        self.latency.merge(&other.latency);
    }
}

/// The connect phase, timed.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Connected {
    /// From the first connect to the last one returning.
    pub(crate) connect: Duration,
    /// From the first connect to the last byte of the join-notice storm.
    pub(crate) settle: Duration,
    /// True if the settle limit ran out first, or the room fell silent
    /// before every connection had its settle text.
    pub(crate) settle_timed_out: bool,
}

/// The send phase, timed.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Sent {
    /// From the first send to the last delivery.
    pub(crate) window: Duration,
    /// True if every expected delivery arrived (false: it stalled).
    pub(crate) complete: bool,
}

/// The running generator.
#[derive(Debug)]
pub(crate) struct Generator {
    plan: Plan,
    control: Arc<Control>,
    workers: Vec<WorkerHandle>,
}

#[derive(Debug)]
struct WorkerHandle {
    adds_tx: mpsc::Sender<(std::net::TcpStream, u32)>,
    waker: Waker,
    thread: JoinHandle<Tally>,
}

impl Generator {
    /// Starts the generator threads (no connections yet).
    ///
    /// # Errors
    /// A poll instance or a thread could not be created.
    pub(crate) fn start(plan: Plan) -> io::Result<Generator> {
        let threads = plan.threads.max(1);
        let control = Arc::new(Control {
            epoch: Instant::now(),
            go: AtomicBool::new(false),
            send_start_ns: AtomicU64::new(0),
            closing: AtomicU8::new(OPEN),
            gauges: (0..threads).map(|_| Gauge::default()).collect(),
        });
        let mut workers = Vec::with_capacity(threads);
        for index in 0..threads {
            let poll = Poll::new()?;
            let waker = Waker::new(poll.registry(), WAKER)?;
            let (adds_tx, adds_rx) = mpsc::channel();
            let worker = Worker::new(index, &plan, control.clone(), poll, adds_rx);
            let thread = thread::Builder::new()
                .name(format!("{GENERATOR_THREAD}{index}"))
                .spawn(move || worker.run())?;
            workers.push(WorkerHandle {
                adds_tx,
                waker,
                thread,
            });
        }
        Ok(Generator {
            plan,
            control,
            workers,
        })
    }

    /// Connects every client, one after another (each sending its `/join`
    /// at once, with rooms), handing each socket to a generator thread at
    /// once so the join notices it gets are read from the start; then waits
    /// for the room to settle (see [`Plan::quiet`] and [`Plan::settle_text`]).
    ///
    /// # Errors
    /// A connection failed.
    pub(crate) fn connect(&self, addr: SocketAddr) -> io::Result<Connected> {
        let started = Instant::now();
        for client in 0..self.plan.clients {
            let mut stream = connect_quickly(addr)
                .map_err(|e| io::Error::new(e.kind(), format!("connection {client}: {e}")))?;
            if let Some(line) = self.plan.join_line(client) {
                // A dozen bytes into a fresh socket's empty buffer: the
                // timeout only bounds what cannot happen.
                stream.set_write_timeout(Some(Duration::from_secs(1)))?;
                stream.write_all(&line)?;
            }
            // Senders' lines must leave at once, not wait for an ACK (Nagle).
            stream.set_nodelay(true)?;
            stream.set_nonblocking(true)?;
            let worker = &self.workers[client % self.workers.len()];
            worker
                .adds_tx
                .send((stream, client as u32))
                .map_err(|_| io::Error::other("a generator thread has stopped"))?;
            worker.waker.wake()?;
        }
        let connected_ns = self.control.now_ns();
        let connect = started.elapsed();
        let start_ns = connected_ns - connect.as_nanos() as u64;
        let clients = self.plan.clients as u64;
        let deadline = started + SETTLE_LIMIT;
        let settle_timed_out = loop {
            let now_ns = self.control.now_ns();
            let last = self.control.max(|g| &g.last_byte_ns).max(connected_ns);
            let registered = self.control.sum(|g| &g.registered) == clients;
            let greeted = !self.plan.expect_greeting || self.control.sum(|g| &g.greeted) == clients;
            let ready = self.control.sum(|g| &g.ready) == clients;
            let silence = now_ns.saturating_sub(last);
            if registered && greeted && ready && silence >= self.plan.quiet.as_nanos() as u64 {
                break false;
            }
            if Instant::now() >= deadline || silence >= SILENCE_LIMIT.as_nanos() as u64 {
                break true;
            }
            thread::sleep(Duration::from_millis(5));
        };
        let last = self.control.max(|g| &g.last_byte_ns).max(connected_ns);
        Ok(Connected {
            connect,
            settle: Duration::from_nanos(last - start_ns),
            settle_timed_out,
        })
    }

    /// Lets the senders go and waits until every expected delivery has arrived,
    /// or nothing has moved for [`Plan::stall`].
    /// `on_tick` runs every [`TICK`] meanwhile (the caller samples the server).
    pub(crate) fn send(&self, mut on_tick: impl FnMut()) -> Sent {
        let expected = self.plan.expected();
        let start_ns = self.control.now_ns();
        self.control
            .send_start_ns
            .store(start_ns, Ordering::Release);
        self.control.go.store(true, Ordering::Release);
        self.wake_all();
        let mut last_progress = (0, 0);
        let mut last_change = Instant::now();
        let complete = loop {
            let delivered = self.control.sum(|g| &g.delivered);
            if delivered >= expected {
                break true;
            }
            let progress = (delivered, self.control.sum(|g| &g.sent));
            if progress != last_progress {
                last_progress = progress;
                last_change = Instant::now();
            } else if last_change.elapsed() >= self.plan.stall {
                break false;
            }
            on_tick();
            thread::sleep(TICK);
        };
        let last = self.control.max(|g| &g.last_marker_ns).max(start_ns);
        Sent {
            window: Duration::from_nanos(last - start_ns),
            complete,
        }
    }

    /// Time the generator threads have spent outside `poll` (handling
    /// events), summed over the threads.
    pub(crate) fn busy(&self) -> Duration {
        Duration::from_nanos(self.control.sum(|g| &g.busy_ns))
    }

    /// How many generator threads there are.
    pub(crate) fn threads(&self) -> usize {
        self.workers.len()
    }

    /// Ends the run and returns the counts. With `server_closes`, the server
    /// has been told to stop: keep reading until it closes every connection
    /// (closing first would make it announce thousands of departures);
    /// otherwise close everything now.
    ///
    /// # Errors
    /// A generator thread panicked.
    pub(crate) fn finish(self, server_closes: bool) -> Result<Tally, String> {
        if server_closes {
            self.control.closing.store(DRAIN, Ordering::Release);
            self.wake_all();
            let deadline = Instant::now() + CLOSE_LIMIT;
            while self.control.sum(|g| &g.open) > 0 && Instant::now() < deadline {
                thread::sleep(Duration::from_millis(5));
            }
        }
        self.control.closing.store(CLOSE_NOW, Ordering::Release);
        self.wake_all();
        let mut tally = Tally::default();
        for worker in self.workers {
            drop(worker.adds_tx);
            let part = worker
                .thread
                .join()
                .map_err(|_| "a generator thread panicked".to_string())?;
            tally.merge(&part);
        }
        Ok(tally)
    }

    fn wake_all(&self) {
        for worker in &self.workers {
            // A failed wake only delays the thread until its next poll timeout.
            let _ = worker.waker.wake();
        }
    }
}

/// One connection as its generator thread sees it.
#[derive(Debug)]
struct Conn {
    /// `None` once closed.
    stream: Option<TcpStream>,
    /// The client's index; clients below `senders` send.
    client: u32,
    /// The start of a marker cut off by the end of the last read.
    carry: Vec<u8>,
    got_bytes: bool,
    /// The settle text still to come (see [`Plan::settle_text`]), and the
    /// last bytes read before it, in case it straddles two reads.
    awaiting: Option<Vec<u8>>,
    tail: Vec<u8>,
    out: Option<Outgoing>,
}

/// A sender's progress.
#[derive(Debug)]
struct Outgoing {
    next_seq: u32,
    /// Formatted lines not yet fully written, and how much of them is.
    buf: Vec<u8>,
    written: usize,
    /// Writes made, which picks the size of the next.
    pieces: u64,
    /// Known writable: edge-triggered polling says so once, then only again
    /// after a write has hit `WouldBlock`.
    writable: bool,
    /// With `--rate`, senders are spread out over the first interval instead
    /// of all sending at the same instant.
    offset_ns: u64,
}

/// One generator thread.
#[derive(Debug)]
struct Worker {
    index: usize,
    plan: Plan,
    format: Format,
    control: Arc<Control>,
    poll: Poll,
    adds_rx: mpsc::Receiver<(std::net::TcpStream, u32)>,
    conns: Vec<Conn>,
    /// For each of this thread's connections and each sender of its room, a
    /// bit per sequence number: which lines arrived (duplicates are caught here).
    seen: Vec<u64>,
    words_per_sender: usize,
    /// Senders tracked per connection: those of its room (all, without rooms).
    tracked: usize,
    /// For each connection and sender of its room, one more than the highest
    /// sequence number seen: anything lower that arrives later arrived out of
    /// order.
    high: Vec<u32>,
    buf: Vec<u8>,
    tally: Tally,
    sending: bool,
    send_start_ns: u64,
    last_byte_ns: u64,
    last_marker_ns: u64,
    greeted: u64,
    ready: u64,
    open: u64,
    busy_ns: u64,
}

impl Worker {
    fn new(
        index: usize,
        plan: &Plan,
        control: Arc<Control>,
        poll: Poll,
        adds_rx: mpsc::Receiver<(std::net::TcpStream, u32)>,
    ) -> Worker {
        Worker {
            index,
            plan: plan.clone(),
            format: Format::new(plan.size),
            control,
            poll,
            adds_rx,
            conns: Vec::new(),
            seen: Vec::new(),
            words_per_sender: plan.messages.div_ceil(64),
            tracked: plan.senders_per_group(),
            high: Vec::new(),
            // Room for a carried partial marker in front of a full read.
            buf: vec![0; READ_BUF + plan.size],
            tally: Tally::default(),
            sending: false,
            send_start_ns: 0,
            last_byte_ns: 0,
            last_marker_ns: 0,
            greeted: 0,
            ready: 0,
            open: 0,
            busy_ns: 0,
        }
    }

    fn gauge(&self) -> &Gauge {
        &self.control.gauges[self.index]
    }

    fn run(mut self) -> Tally {
        let mut events = Events::with_capacity(1024);
        loop {
            match self.control.closing.load(Ordering::Acquire) {
                CLOSE_NOW => break,
                DRAIN if self.open == 0 => break,
                _ => {}
            }
            let timeout = self.next_timeout();
            if let Err(e) = self.poll.poll(&mut events, timeout) {
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                eprintln!("fanout: poll failed: {e}");
                break;
            }
            // Busy time, not idle time, is what is added up: the loop publishes
            // it after every round, so it is never stale by more than one
            // round, while a thread asleep in `poll` could not say how long
            // it has been waiting.
            let woke = Instant::now();
            for event in events.iter() {
                match event.token() {
                    WAKER => self.take_new(),
                    Token(slot) => {
                        let closed = event.is_read_closed() || event.is_error();
                        if event.is_readable() || closed {
                            self.read(slot, closed);
                        }
                        if event.is_writable() {
                            if let Some(out) = &mut self.conns[slot].out {
                                out.writable = true;
                            }
                            self.pump(slot);
                        }
                    }
                }
            }
            if !self.sending && self.control.go.load(Ordering::Acquire) {
                self.sending = true;
                self.send_start_ns = self.control.send_start_ns.load(Ordering::Acquire);
                for slot in 0..self.conns.len() {
                    self.pump(slot);
                }
            } else if self.sending && self.plan.rate > 0.0 {
                for slot in 0..self.conns.len() {
                    if self.conns[slot].out.is_some() {
                        self.pump(slot);
                    }
                }
            }
            self.busy_ns += woke.elapsed().as_nanos() as u64;
            self.publish();
        }
        // Whatever is still open closes as the thread's state drops.
        self.publish();
        self.tally
    }

    /// Until the next rate-limited line is due, or [`IDLE_POLL`].
    fn next_timeout(&self) -> Option<Duration> {
        if !self.sending || self.plan.rate <= 0.0 {
            return Some(IDLE_POLL);
        }
        let now = self.control.now_ns();
        let next_due = self
            .conns
            .iter()
            .filter_map(|c| c.out.as_ref().filter(|_| c.stream.is_some()))
            .filter(|out| (out.next_seq as usize) < self.plan.messages)
            .map(|out| self.due_ns(out))
            .min();
        match next_due {
            Some(due) => Some(Duration::from_nanos(due.saturating_sub(now)).min(IDLE_POLL)),
            None => Some(IDLE_POLL),
        }
    }

    fn due_ns(&self, out: &Outgoing) -> u64 {
        let interval = 1e9 / self.plan.rate;
        self.send_start_ns + out.offset_ns + (f64::from(out.next_seq) * interval) as u64
    }

    fn publish(&self) {
        let gauge = self.gauge();
        gauge
            .delivered
            .store(self.tally.delivered, Ordering::Relaxed);
        gauge.sent.store(self.tally.sent_bytes, Ordering::Relaxed);
        gauge
            .last_byte_ns
            .store(self.last_byte_ns, Ordering::Relaxed);
        gauge
            .last_marker_ns
            .store(self.last_marker_ns, Ordering::Relaxed);
        gauge.greeted.store(self.greeted, Ordering::Relaxed);
        gauge.ready.store(self.ready, Ordering::Relaxed);
        gauge
            .registered
            .store(self.conns.len() as u64, Ordering::Relaxed);
        gauge.open.store(self.open, Ordering::Relaxed);
        gauge.busy_ns.store(self.busy_ns, Ordering::Relaxed);
    }

    /// Registers the sockets the main thread has connected.
    fn take_new(&mut self) {
        while let Ok((stream, client)) = self.adds_rx.try_recv() {
            let slot = self.conns.len();
            let mut stream = TcpStream::from_std(stream);
            let sender = (client as usize) < self.plan.senders;
            let interest = if sender {
                Interest::READABLE | Interest::WRITABLE
            } else {
                Interest::READABLE
            };
            if let Err(e) = self
                .poll
                .registry()
                .register(&mut stream, Token(slot), interest)
            {
                eprintln!("fanout: cannot poll connection {client}: {e}");
                continue;
            }
            let out = sender.then(|| Outgoing {
                next_seq: 0,
                buf: Vec::new(),
                pieces: 0,
                written: 0,
                writable: false,
                offset_ns: if self.plan.rate > 0.0 {
                    (f64::from(client) * 1e9 / (self.plan.rate * self.plan.senders as f64)) as u64
                } else {
                    0
                },
            });
            let awaiting = self.plan.settle_text(client as usize);
            if awaiting.is_none() {
                self.ready += 1;
            }
            self.conns.push(Conn {
                stream: Some(stream),
                client,
                carry: Vec::new(),
                got_bytes: false,
                awaiting,
                tail: Vec::new(),
                out,
            });
            let per_conn = self.tracked * self.words_per_sender;
            self.seen.resize(self.seen.len() + per_conn, 0);
            self.high.resize(self.high.len() + self.tracked, 0);
            self.open += 1;
        }
        self.publish();
    }

    /// Reads a connection until it would block, counting every marker.
    /// `closed`: the event said the peer has closed its side too.
    fn read(&mut self, slot: usize, closed: bool) {
        loop {
            let conn = &mut self.conns[slot];
            let Some(stream) = &conn.stream else { return };
            let carried = conn.carry.len();
            self.buf[..carried].copy_from_slice(&conn.carry);
            let room = self.buf.len() - carried;
            let n = match (&*stream).read(&mut self.buf[carried..]) {
                Ok(0) => return self.close(slot),
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => return self.close(slot),
            };
            // One clock reading per read: every line in it arrived by now.
            let now = self.control.now_ns();
            self.last_byte_ns = now;
            self.tally.bytes += n as u64;
            if !conn.got_bytes {
                conn.got_bytes = true;
                self.greeted += 1;
            }
            if conn.awaiting.is_some() && awaited(conn, &self.buf[carried..carried + n]) {
                self.ready += 1;
            }
            let me = conn.client;
            let end = carried + n;
            let senders = self.plan.senders;
            let messages = self.plan.messages;
            let words = self.words_per_sender;
            let (groups, tracked) = (self.plan.groups() as u32, self.tracked);
            let (tally, seen, high) = (&mut self.tally, &mut self.seen, &mut self.high);
            let mut marked = false;
            let used = self.format.scan(&self.buf[..end], |found| match found {
                Found::Corrupt => tally.corrupted += 1,
                Found::Marker {
                    sender,
                    seq,
                    sent_ns,
                } => {
                    if sender as usize >= senders || seq as usize >= messages || sender == me {
                        tally.stray += 1;
                        return;
                    }
                    if sender % groups != me % groups {
                        tally.crossed += 1;
                        return;
                    }
                    // The sender's place among the senders of its room.
                    let pair = slot * tracked + (sender / groups) as usize;
                    let word = pair * words + seq as usize / 64;
                    let bit = 1u64 << (seq % 64);
                    if seen[word] & bit != 0 {
                        tally.duplicated += 1;
                        return;
                    }
                    seen[word] |= bit;
                    tally.delivered += 1;
                    if seq < high[pair] {
                        tally.reordered += 1;
                    } else {
                        high[pair] = seq + 1;
                    }
                    tally.latency.record(now.saturating_sub(sent_ns));
                    marked = true;
                }
            });
            if marked {
                self.last_marker_ns = now;
            }
            let conn = &mut self.conns[slot];
            conn.carry.clear();
            conn.carry.extend_from_slice(&self.buf[used..end]);
            // A short read emptied the socket; with edge-triggered polling any
            // later byte raises a new event, so the extra `read` that would
            // only say `WouldBlock` is skipped (one syscall per event saved).
            // Not when the close came with the last bytes: its edge is
            // spent, and only the next `read` (returning 0) shows it. Skipped
            // then, the connection would stay open until the run gives up on
            // it (the server's goodbye and FIN often arrive together).
            if n < room && !closed {
                return;
            }
        }
    }

    /// Writes a sender's lines until the socket is full or nothing is due.
    fn pump(&mut self, slot: usize) {
        if !self.sending {
            return;
        }
        let rate = self.plan.rate;
        let messages = self.plan.messages as u32;
        let conn = &mut self.conns[slot];
        let (Some(stream), Some(out)) = (&conn.stream, &mut conn.out) else {
            return;
        };
        if !out.writable {
            return;
        }
        let interval = if rate > 0.0 { 1e9 / rate } else { 0.0 };
        loop {
            if out.written == out.buf.len() {
                out.buf.clear();
                out.written = 0;
            }
            // Top up with whatever is due: flat out, enough for the next piece.
            // The send time is taken as the lines are formatted, right before
            // they are written.
            if out.buf.len() - out.written < MAX_PIECE && out.next_seq < messages {
                out.buf.drain(..out.written);
                out.written = 0;
                let now = self.control.now_ns();
                while out.next_seq < messages && out.buf.len() < MAX_PIECE {
                    let due = self.send_start_ns
                        + out.offset_ns
                        + (f64::from(out.next_seq) * interval) as u64;
                    if rate > 0.0 && due > now {
                        break;
                    }
                    self.format
                        .write_line(&mut out.buf, conn.client, out.next_seq, now);
                    out.next_seq += 1;
                }
            }
            let pending = out.buf.len() - out.written;
            if pending == 0 {
                return;
            }
            // Flat out, the stream goes in pieces of 4 to 16 KiB that ignore
            // line boundaries, as a real program's buffered writes do: lines
            // straddle writes and the server must put them back together.
            // (Pieces of a multiple of the line size would hide exactly the
            // bug the Node design has.) At a set rate, each line goes alone.
            let piece = if rate > 0.0 {
                pending
            } else {
                out.pieces += 1;
                (MIN_PIECE + (out.pieces as usize * 7919) % (MAX_PIECE - MIN_PIECE)).min(pending)
            };
            match (&*stream).write(&out.buf[out.written..out.written + piece]) {
                Ok(n) => {
                    out.written += n;
                    self.tally.sent_bytes += n as u64;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    out.writable = false;
                    return;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => {
                    self.tally.send_errors += 1;
                    out.next_seq = messages;
                    out.buf.clear();
                    out.written = 0;
                    return;
                }
            }
        }
    }

    fn close(&mut self, slot: usize) {
        let conn = &mut self.conns[slot];
        if let Some(mut stream) = conn.stream.take() {
            let _ = self.poll.registry().deregister(&mut stream);
            self.open -= 1;
            if self.control.closing.load(Ordering::Acquire) == OPEN {
                self.tally.closed_by_server += 1;
            }
        }
    }
}

/// Looks for `conn`'s settle text in the bytes of one read (joined to the
/// end of the last one, so text split between reads is found); true once it
/// has arrived, after which the connection stops looking.
fn awaited(conn: &mut Conn, data: &[u8]) -> bool {
    let Some(text) = &conn.awaiting else {
        return false;
    };
    conn.tail.extend_from_slice(data);
    if memchr::memmem::find(&conn.tail, text).is_some() {
        conn.awaiting = None;
        conn.tail = Vec::new();
        return true;
    }
    let keep = text.len().saturating_sub(1).min(conn.tail.len());
    conn.tail.drain(..conn.tail.len() - keep);
    false
}
