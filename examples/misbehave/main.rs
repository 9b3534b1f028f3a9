//! `misbehave`: plays one misbehaving client against a chat server while two
//! well-behaved observers watch, and prints what they saw and a measured
//! PASS/FAIL verdict per mode. Std sockets only, so a lab on Windows needs no `nc`.
//!
//! ```text
//! cargo run --example misbehave -- all
//! cargo run --example misbehave -- split merge --demo chunks
//! cargo run --example misbehave -- slow --demo no-write-timeout
//! cargo run --example misbehave -- bomb --addr 127.0.0.1:9000 --pid 4242
//! cargo run --example misbehave -- dashboard-lurkers --addr 127.0.0.1:9000 --dashboard 127.0.0.1:8080
//! ```
//!
//! Layout: `main.rs` (flags, the in-process server), `modes/` (the fourteen
//! misbehaviours and their verdicts), `peer.rs` (clients that record what they
//! receive), `talker.rs` (a steady well-behaved talker), `memory.rs` (`bomb`),
//! `source.rs` (a connection from 127.0.0.2, for `crowd` and
//! `dashboard-lurkers`).

mod memory;
mod modes;
mod peer;
mod source;
mod talker;

use std::net::{SocketAddr, ToSocketAddrs};
use std::process::ExitCode;
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use chatroom::{Framing, Server, ServerConfig, ShutdownHandle};

use memory::Probe;
use modes::Mode;

const USAGE: &str = "\
Usage: misbehave MODE... [OPTIONS]

Plays one misbehaving client against a chat server while two well-behaved
observers (alice and bob) watch; prints what they saw and a measured
PASS/FAIL verdict per mode. Exits 1 if any mode fails.

Modes:
  split    one line sent a byte at a time: observers must get it whole
  merge    many lines in one write: observers must get each on its own
  slow     a client stops reading while messages pour in: the room must not
           freeze (longest gap under 3 s) and nobody may lose a line
  flood    a client sends as fast as it can: another client must still be
           heard without long gaps, and nothing lost
  bomb     an endless line: the sender gets `! line too long`, the observers
           nothing, and the server's memory stays bounded (measured on Linux,
           in-process or with --pid)
  reset    an abrupt disconnect mid-line: observers see `* NAME left`, and
           nothing of the half line
  churn    hundreds of connects and disconnects: alice and bob keep talking,
           and the server stays responsive
  escape   terminal escape sequences and bidi overrides: observers must get
           no control character
  crowd    one address opens connections until refused: it must be refused
           after exactly --max-per-ip connections with `! too many connections
           from IP (max N)`, unnoticed by the room, and get a place back within
           1 s of giving one up (a second address, 127.0.0.2, must still get
           in: Linux only)
  ghost    a client sends 2000 lines at once, which the rate limit holds back,
           then resets: observers must see it leave within 1.5 s, nothing of it
           after that, and (in-process) its place must be free within 1 s
  spoof    the server's voice: `/nick server`, look-alike names (AIice for
           alice, B0B for bob), `/me left (too slow)`, `/quit kicked`: none may
           produce a line the server itself would send
  hidden   invisible Unicode (direction marks, zero-width space, byte-order
           mark, line and paragraph separators) and telnet command bytes: the
           observers must get the text without them
  dashboard-lurkers
           40 dashboard event streams that never read and 40 requests that
           never end, from one address (127.0.0.2 on Linux): a fresh viewer
           must still get /state.json within 2 s, every time, the unfinished
           requests must be closed within 3.5 s, and the chat must not notice
  half-close
           ten clients each send a line and /quit and close their sending
           side at once: each must get its welcome and `* bye`, then the
           server's FIN; the observers must hear every line; no server socket
           may be left waiting to be closed (CLOSE-WAIT, Linux)
  all      every mode in turn

Options:
  --addr HOST:PORT     test a running server instead of an in-process one
  --pid PID            with --addr: the server's process id, to measure its
                       memory in `bomb` (Linux)
  --dashboard HOST:PORT
                       with --addr: that server's dashboard, for
                       dashboard-lurkers (without it, `all` leaves that mode out)
  --demo MODE          run the in-process server in a demo mode, to watch the
                       matching misbehaviour succeed: chunks (split, merge
                       fail) or no-write-timeout (slow fails); may be repeated
  --rate-limit N       the in-process server's lines per second per client,
                       0 = off [default: 20, the server's own default]
  -h, --help           print this help

Without --addr, each mode gets a fresh in-process server with the default
settings (rate limit included: the floods are built to work within it),
except two limits small enough to reach: `crowd` runs it with --max-per-ip 16
and `ghost` with --max-clients 3 (alice, bob and the ghost); and
`dashboard-lurkers` turns its dashboard on.

With --addr, start the server for `crowd` with --max-per-ip N: by default
loopback has no limit, so a crowd from this machine is never refused. `ghost`
cannot know that server's --max-clients, so its place is not measured there.
";

/// What the command line asks for.
#[derive(Debug, Default)]
struct Options {
    modes: Vec<Mode>,
    addr: Option<String>,
    pid: Option<u32>,
    dashboard: Option<String>,
    /// `all` left `dashboard-lurkers` out (a server at `--addr`, no `--dashboard`).
    left_out_lurkers: bool,
    chunks: bool,
    no_write_timeout: bool,
    rate_limit: Option<u32>,
}

fn parse_args(args: impl IntoIterator<Item = String>) -> Result<Option<Options>, String> {
    let mut options = Options::default();
    let mut named_lurkers = false;
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((flag, value)) if flag.starts_with("--") => {
                (flag.to_string(), Some(value.to_string()))
            }
            _ => (arg, None),
        };
        let mut value = || {
            inline
                .clone()
                .or_else(|| args.next())
                .ok_or_else(|| format!("{flag} needs a value"))
        };
        match flag.as_str() {
            "-h" | "--help" => return Ok(None),
            "--addr" => options.addr = Some(value()?),
            "--dashboard" => options.dashboard = Some(value()?),
            "--pid" => {
                let text = value()?;
                options.pid = Some(
                    text.parse()
                        .map_err(|_| format!("--pid: '{text}' is not a process id"))?,
                );
            }
            "--rate-limit" => {
                let text = value()?;
                options.rate_limit = Some(
                    text.parse()
                        .map_err(|_| format!("--rate-limit: '{text}' is not a number"))?,
                );
            }
            "--demo" => match value()?.as_str() {
                "chunks" => options.chunks = true,
                "no-write-timeout" => options.no_write_timeout = true,
                other => {
                    return Err(format!(
                        "--demo: '{other}' is not 'chunks' or 'no-write-timeout'"
                    ))
                }
            },
            "all" => options.modes.extend(Mode::ALL),
            other if other.starts_with('-') => return Err(format!("unknown option '{other}'")),
            other => match Mode::parse(other) {
                Some(mode) => {
                    named_lurkers |= mode == Mode::DashboardLurkers;
                    options.modes.push(mode);
                }
                None => return Err(format!("unknown mode '{other}'")),
            },
        }
    }
    if options.modes.is_empty() {
        return Err("name a mode, or all".to_string());
    }
    if options.addr.is_some()
        && (options.chunks || options.no_write_timeout || options.rate_limit.is_some())
    {
        return Err("--demo and --rate-limit set up the in-process server; they cannot change a server at --addr".to_string());
    }
    if options.pid.is_some() && options.addr.is_none() {
        return Err(
            "--pid is for a server at --addr; the in-process server is measured anyway".to_string(),
        );
    }
    if options.dashboard.is_some() && options.addr.is_none() {
        return Err(
            "--dashboard is for a server at --addr; the in-process server starts its own"
                .to_string(),
        );
    }
    if options.addr.is_some() && options.dashboard.is_none() {
        if named_lurkers {
            return Err(
                "dashboard-lurkers with --addr needs --dashboard HOST:PORT, that server's dashboard"
                    .to_string(),
            );
        }
        let before = options.modes.len();
        options.modes.retain(|&mode| mode != Mode::DashboardLurkers);
        options.left_out_lurkers = options.modes.len() < before;
    }
    Ok(Some(options))
}

/// The server a mode runs against: one started in this process for the mode,
/// or one already running elsewhere.
#[derive(Debug)]
struct Target {
    addr: SocketAddr,
    probe: Probe,
    /// The in-process server's settings; `None` for a server at `--addr`.
    config: Option<ServerConfig>,
    /// Where the server's dashboard is, if it has one (or `--dashboard` said).
    dashboard: Option<SocketAddr>,
    in_process: Option<InProcess>,
}

#[derive(Debug)]
struct InProcess {
    handle: ShutdownHandle,
    stopped_rx: mpsc::Receiver<()>,
}

/// How long an in-process server may take to stop.
const STOP_TIMEOUT: Duration = Duration::from_secs(5);

impl Target {
    fn start(options: &Options, mode: Mode) -> Result<Target, String> {
        if let Some(addr) = &options.addr {
            let addr = addr
                .to_socket_addrs()
                .map_err(|e| format!("--addr {addr}: {e}"))?
                .next()
                .ok_or_else(|| format!("--addr {addr}: no address"))?;
            let probe = options.pid.map_or(Probe::Nothing, Probe::Pid);
            let dashboard = match &options.dashboard {
                Some(asked) => Some(
                    asked
                        .to_socket_addrs()
                        .map_err(|e| format!("--dashboard {asked}: {e}"))?
                        .next()
                        .ok_or_else(|| format!("--dashboard {asked}: no address"))?,
                ),
                None => None,
            };
            return Ok(Target {
                addr,
                probe,
                config: None,
                dashboard,
                in_process: None,
            });
        }
        let mut config = ServerConfig {
            port: 0,
            quiet: true,
            ..ServerConfig::default()
        };
        if options.chunks {
            config.framing = Framing::Chunks;
        }
        if options.no_write_timeout {
            config.write_timeout = None;
        }
        if let Some(rate) = options.rate_limit {
            config.rate_limit = rate;
        }
        mode.configure(&mut config);
        let server = Server::bind(config.clone()).map_err(|e| e.to_string())?;
        let addr = server.local_addr();
        let dashboard = server.local_dashboard_addr();
        let handle = server.shutdown_handle();
        let (stopped_tx, stopped_rx) = mpsc::channel();
        thread::Builder::new()
            .name("server".to_string())
            .spawn(move || {
                if let Err(e) = server.run() {
                    eprintln!("misbehave: the in-process server failed: {e}");
                }
                let _ = stopped_tx.send(());
            })
            .map_err(|e| format!("cannot start the server thread: {e}"))?;
        Ok(Target {
            addr,
            probe: Probe::OwnProcess,
            config: Some(config),
            dashboard,
            in_process: Some(InProcess { handle, stopped_rx }),
        })
    }

    /// Stops an in-process server and waits (a while) for it to finish.
    fn stop(self) {
        if let Some(server) = self.in_process {
            server.handle.shutdown();
            if server.stopped_rx.recv_timeout(STOP_TIMEOUT).is_err() {
                eprintln!(
                    "misbehave: the in-process server did not stop within {} s",
                    STOP_TIMEOUT.as_secs()
                );
            }
        }
    }
}

fn main() -> ExitCode {
    let options = match parse_args(std::env::args().skip(1)) {
        Ok(Some(options)) => options,
        Ok(None) => {
            print!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprint!("misbehave: {e}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    if options.left_out_lurkers {
        println!(
            "misbehave: all leaves out dashboard-lurkers against a server at --addr; give              --dashboard HOST:PORT to include it\n"
        );
    }
    let started = Instant::now();
    let mut verdicts = Vec::new();
    for &mode in &options.modes {
        let target = match Target::start(&options, mode) {
            Ok(target) => target,
            Err(e) => {
                eprintln!("misbehave: {e}");
                return ExitCode::from(1);
            }
        };
        let verdict = modes::run(
            mode,
            target.addr,
            &target.probe,
            target.config.as_ref(),
            target.dashboard,
        );
        target.stop();
        println!("{verdict}\n");
        verdicts.push(verdict);
    }
    let failed = verdicts.iter().filter(|v| !v.pass).count();
    if verdicts.len() > 1 {
        let names = |pass: bool| -> String {
            let names: Vec<&str> = verdicts
                .iter()
                .filter(|v| v.pass == pass)
                .map(|v| v.mode.name())
                .collect();
            if names.is_empty() {
                String::new()
            } else {
                format!(" ({})", names.join(", "))
            }
        };
        println!(
            "summary: {} passed{}, {failed} failed{} in {:.1} s",
            verdicts.len() - failed,
            names(true),
            names(false),
            started.elapsed().as_secs_f64()
        );
    }
    if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}
