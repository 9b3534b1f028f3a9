//! The benchmark's command line: `cargo bench --bench fanout -- [FLAGS]`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::marker::Format;

/// `--help` text.
pub(crate) const USAGE: &str = "\
Usage: cargo bench --bench fanout -- [OPTIONS]

Fan-out benchmark: N clients connect, S of them send M lines each, and every
client checks that every other sender's lines arrive, once, in order, intact.

One run:
  --clients N        connections, senders included [default: 100]
  --senders S        clients that send [default: 10]
  --messages M       lines per sender [default: 1000]
  --size BYTES       bytes per line sent, newline included [default: 64]
  --rate R           lines per second per sender; 0 = as fast as possible [default: 0]
  --addr HOST:PORT   drive a running chat server instead of starting ours in-process
  --pid PID          that server's process, for its peak RSS and CPU time (Linux)
  --json             print the report as one JSON object
  --threads T        generator poll-loop threads [default: 2]
  --quiet-ms MS      the room has settled after MS without a byte [default: 300]
  --stall-s SECS     give up on missing lines after SECS without progress [default: 5]
  --rooms R          spread the clients over R rooms: client C sends `/join roomK`
                     (K = C mod R) as it connects, and lines must stay in their
                     room; 0 = everyone stays in the lobby [default: 0]
  --crowd N          the server sums up joins in rooms of more than N (ours: its
                     --crowd); wait for the summary that counts everyone before
                     sending. In-process, our setting is used [default: none]

Scenario F, many rooms (in-process; issue 17):
  --many-rooms       all of F: one room and many rooms of the same size, the
                     same lines per second; each run in a fresh child process

Scenario G, slow readers (in-process; issue 24):
  --slow-readers     all of G: 40 clients talking at the default rate limit
                     and a pair in another room, next to 0, 1, 5 and 20
                     clients reading 800 bytes every 5 ms; each run in a fresh
                     child process (about a minute)
  --slow-run K       one run of G with K slow readers, in this process

Scenario E, stalled clients (in-process; issue 13):
  --stalled          all of E: a 20000-line flood with 0, 1, 5, 20 and 50 clients
                     that never read, then a normal talker's latency next to 5 of
                     them and a flooder; each run in a fresh child process
  --stalled-run K    one flood run with K stalled clients, in this process
  --stalled-latency K
                     one latency run with K stalled clients, in this process
  --deadline-s SECS  give up on one run of E after SECS and report what arrived
                     [default: 120]

The suite (what `make bench` runs):
  --suite            scenarios A-G, a sweep, memory per client, 9000 clients,
                     and A-D against separate server processes
  --write FILE       write the suite's report to FILE (and its chart beside it)
  --no-node          skip the Node baseline even if `node` is installed
  --self-test        check the marker scanner and the observer of E and G, and exit
";

/// What the command line asks for.
#[derive(Debug, Clone)]
pub(crate) struct Options {
    /// Connections.
    pub(crate) clients: usize,
    /// Sending clients.
    pub(crate) senders: usize,
    /// Lines per sender.
    pub(crate) messages: usize,
    /// Bytes per line, newline included.
    pub(crate) size: usize,
    /// Lines per second per sender (0: flat out).
    pub(crate) rate: f64,
    /// A running server to drive instead of an in-process one.
    pub(crate) addr: Option<SocketAddr>,
    /// That server's pid.
    pub(crate) pid: Option<u32>,
    /// Print JSON.
    pub(crate) json: bool,
    /// Generator threads.
    pub(crate) threads: usize,
    /// Quiet period that means "settled".
    pub(crate) quiet: Duration,
    /// Progress timeout while waiting for deliveries.
    pub(crate) stall: Duration,
    /// Run the suite.
    pub(crate) suite: bool,
    /// Where the suite writes its report.
    pub(crate) write: Option<PathBuf>,
    /// Skip the Node baseline.
    pub(crate) no_node: bool,
    /// Only check the scanner.
    pub(crate) self_test: bool,
    /// A label for the report (the suite names its scenarios).
    pub(crate) label: String,
    /// Run all of scenario E.
    pub(crate) stalled: bool,
    /// One flood run of E with this many stalled clients.
    pub(crate) stalled_run: Option<usize>,
    /// One latency run of E with this many stalled clients.
    pub(crate) stalled_latency: Option<usize>,
    /// How long one run of E may take.
    pub(crate) deadline: Duration,
    /// Rooms to spread the clients over (0: the lobby only).
    pub(crate) rooms: usize,
    /// The server's crowd threshold, for a server not in this process.
    pub(crate) crowd: Option<usize>,
    /// Run all of scenario F.
    pub(crate) many_rooms: bool,
    /// Run all of scenario G.
    pub(crate) slow_readers: bool,
    /// One run of G with this many slow readers.
    pub(crate) slow_run: Option<usize>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            clients: 100,
            senders: 10,
            messages: 1000,
            size: 64,
            rate: 0.0,
            addr: None,
            pid: None,
            json: false,
            threads: 2,
            quiet: Duration::from_millis(300),
            stall: Duration::from_secs(5),
            suite: false,
            write: None,
            no_node: false,
            self_test: false,
            label: String::new(),
            stalled: false,
            stalled_run: None,
            stalled_latency: None,
            // Today's server needs about one second per stalled client (50 s
            // for K = 50); this leaves room for a busy machine and still
            // ends a run that would never finish.
            deadline: Duration::from_secs(120),
            rooms: 0,
            crowd: None,
            many_rooms: false,
            slow_readers: false,
            slow_run: None,
        }
    }
}

/// What parsing found.
#[derive(Debug)]
pub(crate) enum Parsed {
    /// Run with these options.
    Run(Box<Options>),
    /// Print [`USAGE`].
    Help,
}

/// Parses the flags (without the program name).
///
/// # Errors
/// A message for the user: unknown flag, missing or bad value, impossible mix.
pub(crate) fn parse(args: impl IntoIterator<Item = String>) -> Result<Parsed, String> {
    let mut o = Options::default();
    let mut args = args.into_iter();
    while let Some(flag) = args.next() {
        let mut value = |name: &str| args.next().ok_or(format!("{name} needs a value"));
        match flag.as_str() {
            "--clients" => o.clients = number(&flag, &value(&flag)?)?,
            "--senders" => o.senders = number(&flag, &value(&flag)?)?,
            "--messages" => o.messages = number(&flag, &value(&flag)?)?,
            "--size" => o.size = number(&flag, &value(&flag)?)?,
            "--rate" => o.rate = number(&flag, &value(&flag)?)?,
            "--addr" => o.addr = Some(number(&flag, &value(&flag)?)?),
            "--pid" => o.pid = Some(number(&flag, &value(&flag)?)?),
            "--threads" => o.threads = number(&flag, &value(&flag)?)?,
            "--quiet-ms" => o.quiet = Duration::from_millis(number(&flag, &value(&flag)?)?),
            "--stall-s" => o.stall = Duration::from_secs(number(&flag, &value(&flag)?)?),
            "--label" => o.label = value(&flag)?,
            "--stalled-run" => o.stalled_run = Some(number(&flag, &value(&flag)?)?),
            "--stalled-latency" => o.stalled_latency = Some(number(&flag, &value(&flag)?)?),
            "--deadline-s" => o.deadline = Duration::from_secs(number(&flag, &value(&flag)?)?),
            "--rooms" => o.rooms = number(&flag, &value(&flag)?)?,
            "--crowd" => o.crowd = Some(number(&flag, &value(&flag)?)?),
            "--many-rooms" => o.many_rooms = true,
            "--slow-readers" => o.slow_readers = true,
            "--slow-run" => o.slow_run = Some(number(&flag, &value(&flag)?)?),
            "--stalled" => o.stalled = true,
            "--write" => o.write = Some(PathBuf::from(value(&flag)?)),
            "--json" => o.json = true,
            "--suite" => o.suite = true,
            "--no-node" => o.no_node = true,
            "--self-test" => o.self_test = true,
            "-h" | "--help" => return Ok(Parsed::Help),
            // `cargo bench` appends this to every bench's arguments.
            "--bench" => {}
            other => return Err(format!("unknown flag {other}")),
        }
    }
    if o.senders > o.clients {
        return Err(format!(
            "--senders {} is more than --clients {}",
            o.senders, o.clients
        ));
    }
    // Each stalled client costs two descriptors (ours and the server's) and a
    // server reader thread; 5000 is far more than E needs and stays well clear
    // of the open-files limit.
    if o.stalled_run.or(o.stalled_latency).unwrap_or(0) > 5000 {
        return Err("--stalled-run and --stalled-latency take at most 5000 clients".into());
    }
    // A slow reader also costs the generator a thread of its own.
    if o.slow_run.unwrap_or(0) > 1000 {
        return Err("--slow-run takes at most 1000 slow readers".into());
    }
    if o.rooms > o.clients {
        return Err(format!(
            "--rooms {} is more than --clients {}: a room needs a member",
            o.rooms, o.clients
        ));
    }
    if o.deadline.is_zero() {
        return Err("--deadline-s must be at least 1".into());
    }
    if o.threads == 0 {
        return Err("--threads must be at least 1".into());
    }
    if !(o.rate >= 0.0 && o.rate.is_finite()) {
        return Err("--rate must be a number of lines per second, 0 or more".into());
    }
    if u32::try_from(o.messages).is_err() || u32::try_from(o.clients).is_err() {
        return Err("--messages and --clients must fit in 32 bits".into());
    }
    let min = Format::min_size(o.senders, o.messages);
    if o.size < min {
        return Err(format!(
            "--size {} is too small: a line needs {min} bytes for its marker",
            o.size
        ));
    }
    // One bit per (receiver, sender of its room, line): say no before
    // allocating gigabytes.
    let per_room = o.senders.div_ceil(o.rooms.max(1));
    let bits = o.clients as u128 * per_room as u128 * o.messages as u128;
    if bits > 1 << 33 {
        return Err("clients x senders x messages is too large to track (over 8.6e9)".into());
    }
    Ok(Parsed::Run(Box::new(o)))
}

fn number<T: std::str::FromStr>(flag: &str, text: &str) -> Result<T, String> {
    text.parse()
        .map_err(|_| format!("{flag}: cannot understand {text:?}"))
}
