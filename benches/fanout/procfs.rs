//! Memory and CPU figures from Linux's `/proc`: the server's peak RSS and CPU
//! time, in this process (per thread, by thread name) or in another (`--pid`),
//! the machine's other load, and the bytes waiting in loopback TCP queues.
//! Elsewhere every figure is simply unavailable and the report says so.

use std::time::Duration;

/// Which thread a CPU figure belongs to, by the names the server and the
/// generator give their threads.
#[cfg(target_os = "linux")]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    /// The server's single writer.
    Broadcaster,
    /// The server's other threads: `reader-N`, the accept loop, `refuser`, `stats`.
    ServerOther,
    /// The load generator's poll loops (`gen-N`).
    Generator,
    /// Anything else (this program's main thread, which only connects and waits).
    Other,
}

/// The bench's name for the thread that calls `Server::run` (the accept loop).
pub(crate) const ACCEPT_THREAD: &str = "accept";
/// Prefix of the generator's thread names.
pub(crate) const GENERATOR_THREAD: &str = "gen-";

#[cfg(target_os = "linux")]
fn role(name: &str) -> Role {
    if name == "broadcaster" {
        Role::Broadcaster
    } else if name.starts_with("reader-")
        || name == ACCEPT_THREAD
        || name == "refuser"
        || name == "stats"
    {
        Role::ServerOther
    } else if name.starts_with(GENERATOR_THREAD) {
        Role::Generator
    } else {
        Role::Other
    }
}

/// CPU time (user + system) of this process's live threads, summed by role.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct ThreadCpu {
    /// The broadcaster thread.
    pub(crate) broadcaster: Duration,
    /// Every other server thread.
    pub(crate) server_other: Duration,
    /// The generator's threads.
    pub(crate) generator: Duration,
}

impl ThreadCpu {
    /// All server threads.
    pub(crate) fn server(&self) -> Duration {
        self.broadcaster + self.server_other
    }

    /// The time spent between `earlier` and `self`.
    pub(crate) fn since(&self, earlier: &ThreadCpu) -> ThreadCpu {
        ThreadCpu {
            broadcaster: self.broadcaster.saturating_sub(earlier.broadcaster),
            server_other: self.server_other.saturating_sub(earlier.server_other),
            generator: self.generator.saturating_sub(earlier.generator),
        }
    }
}

/// The kernel's clock tick for `utime`/`stime` and `/proc/stat`: `USER_HZ`,
/// which is 100 on every Linux ABI this runs on. CPU figures are therefore
/// good to 10 ms.
#[cfg(target_os = "linux")]
const TICKS_PER_SECOND: u64 = 100;

/// Parses `utime + stime` and the name out of a `stat` file. The name sits in
/// parentheses and may itself contain spaces or parentheses, so the fields are
/// counted from the last `)`.
#[cfg(target_os = "linux")]
fn parse_stat(stat: &str) -> Option<(String, Duration)> {
    let open = stat.find('(')?;
    let close = stat.rfind(')')?;
    let name = stat.get(open + 1..close)?.to_string();
    // After ") ": state(3) ppid(4) ... utime(14) stime(15); index 0 is state.
    let fields: Vec<&str> = stat.get(close + 2..)?.split(' ').collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    let ticks = utime + stime;
    Some((name, Duration::from_millis(ticks * 1000 / TICKS_PER_SECOND)))
}

/// A thread's time on a CPU in nanoseconds, the first field of its
/// `schedstat`: the same count the kernel scales `utime + stime` from, without
/// their 10 ms ticks. Scenario F compares runs that use a few tenths of a
/// second of CPU each, where ticks would be too coarse.
#[cfg(target_os = "linux")]
fn parse_schedstat(text: &str) -> Option<Duration> {
    let ns: u64 = text.split_whitespace().next()?.parse().ok()?;
    Some(Duration::from_nanos(ns))
}

/// CPU time of this process's live threads by role (threads that have ended
/// are not counted: the benchmark samples while every server thread lives).
/// From each thread's `schedstat` (nanoseconds), or its `stat` (ticks) where
/// the kernel has no `schedstat`.
#[cfg(target_os = "linux")]
pub(crate) fn thread_cpu() -> Option<ThreadCpu> {
    let mut cpu = ThreadCpu::default();
    for entry in std::fs::read_dir("/proc/self/task").ok()? {
        let Ok(entry) = entry else { continue };
        // A thread may end between listing and reading: skip it.
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        let Some((name, ticks)) = parse_stat(&stat) else {
            continue;
        };
        let time = std::fs::read_to_string(entry.path().join("schedstat"))
            .ok()
            .and_then(|text| parse_schedstat(&text))
            .unwrap_or(ticks);
        match role(&name) {
            Role::Broadcaster => cpu.broadcaster += time,
            Role::ServerOther => cpu.server_other += time,
            Role::Generator => cpu.generator += time,
            Role::Other => {}
        }
    }
    Some(cpu)
}

/// Not available off Linux.
#[cfg(not(target_os = "linux"))]
pub(crate) fn thread_cpu() -> Option<ThreadCpu> {
    None
}

/// CPU time of a whole process (all its threads, ended ones included).
#[cfg(target_os = "linux")]
pub(crate) fn process_cpu(pid: u32) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_stat(&stat).map(|(_, time)| time)
}

/// Not available off Linux.
#[cfg(not(target_os = "linux"))]
pub(crate) fn process_cpu(_pid: u32) -> Option<Duration> {
    None
}

/// A `kB` field of `/proc/PID/status` (`VmHWM` is the peak RSS, `VmRSS` the
/// current one), for `pid`, or for this process when `None`.
#[cfg(target_os = "linux")]
pub(crate) fn status_kib(pid: Option<u32>, field: &str) -> Option<u64> {
    let path = match pid {
        Some(pid) => format!("/proc/{pid}/status"),
        None => "/proc/self/status".to_string(),
    };
    let status = std::fs::read_to_string(path).ok()?;
    status.lines().find_map(|line| {
        let rest = line.strip_prefix(field)?.strip_prefix(':')?;
        rest.trim().strip_suffix("kB")?.trim().parse().ok()
    })
}

/// Not available off Linux.
#[cfg(not(target_os = "linux"))]
pub(crate) fn status_kib(_pid: Option<u32>, _field: &str) -> Option<u64> {
    None
}

/// Resets the peak RSS (`VmHWM`) to the current RSS, so the peak reported is
/// this run's (Linux 4.0+, `clear_refs` value 5). Returns false if it could not.
#[cfg(target_os = "linux")]
pub(crate) fn reset_peak(pid: Option<u32>) -> bool {
    let path = match pid {
        Some(pid) => format!("/proc/{pid}/clear_refs"),
        None => "/proc/self/clear_refs".to_string(),
    };
    std::fs::write(path, "5").is_ok()
}

/// Not available off Linux.
#[cfg(not(target_os = "linux"))]
pub(crate) fn reset_peak(_pid: Option<u32>) -> bool {
    false
}

/// What a thread was doing when sampled, from `/proc/self/task/TID/syscall`.
/// (Only Linux ever produces one; elsewhere the samples are simply absent.)
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ThreadState {
    /// On a CPU, or ready to run.
    Running,
    /// Blocked in a socket write: the receiving side is not draining fast enough.
    Writing,
    /// Blocked on a futex: for the broadcaster, waiting for the next event.
    Waiting,
    /// Blocked in some other system call.
    Other,
}

/// The id of this process's first live thread named `name`.
#[cfg(target_os = "linux")]
pub(crate) fn find_thread(name: &str) -> Option<u32> {
    std::fs::read_dir("/proc/self/task")
        .ok()?
        .filter_map(Result::ok)
        .find(|entry| {
            std::fs::read_to_string(entry.path().join("comm"))
                .is_ok_and(|comm| comm.trim_end() == name)
        })
        .and_then(|entry| entry.file_name().to_str()?.parse().ok())
}

/// Not available off Linux.
#[cfg(not(target_os = "linux"))]
pub(crate) fn find_thread(_name: &str) -> Option<u32> {
    None
}

/// System call numbers of `write`, `writev`, `sendto`, `sendmsg`, and of `futex`.
#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
const SYSCALLS: ([u64; 4], u64) = ([1, 20, 44, 46], 202);
#[cfg(all(target_os = "linux", target_arch = "aarch64"))]
const SYSCALLS: ([u64; 4], u64) = ([64, 66, 206, 211], 98);
#[cfg(all(
    target_os = "linux",
    not(any(target_arch = "x86_64", target_arch = "aarch64"))
))]
const SYSCALLS: ([u64; 4], u64) = ([u64::MAX; 4], u64::MAX);

/// What thread `tid` of this process is doing right now.
#[cfg(target_os = "linux")]
pub(crate) fn thread_state(tid: u32) -> Option<ThreadState> {
    let text = std::fs::read_to_string(format!("/proc/self/task/{tid}/syscall")).ok()?;
    let first = text.split_whitespace().next()?;
    if first == "running" {
        return Some(ThreadState::Running);
    }
    let number: u64 = first.parse().ok()?;
    let (writes, futex) = SYSCALLS;
    Some(if writes.contains(&number) {
        ThreadState::Writing
    } else if number == futex {
        ThreadState::Waiting
    } else {
        ThreadState::Other
    })
}

/// Not available off Linux.
#[cfg(not(target_os = "linux"))]
pub(crate) fn thread_state(_tid: u32) -> Option<ThreadState> {
    None
}

/// The whole machine's CPU time from the first line of `/proc/stat`, in ticks.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct MachineCpu {
    /// Busy in any process or in the kernel (steal not included).
    pub(crate) busy: u64,
    /// Taken by the hypervisor for other guests.
    pub(crate) steal: u64,
    /// Everything, idle included: elapsed time times CPUs.
    pub(crate) total: u64,
}

/// The machine's CPU counters now.
#[cfg(target_os = "linux")]
pub(crate) fn machine_cpu() -> Option<MachineCpu> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let fields: Vec<u64> = stat
        .lines()
        .next()?
        .split_whitespace()
        .skip(1)
        .filter_map(|f| f.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal ...
    let get = |i: usize| fields.get(i).copied().unwrap_or(0);
    let busy = get(0) + get(1) + get(2) + get(5) + get(6);
    let steal = get(7);
    Some(MachineCpu {
        busy,
        steal,
        total: busy + steal + get(3) + get(4),
    })
}

/// Not available off Linux.
#[cfg(not(target_os = "linux"))]
pub(crate) fn machine_cpu() -> Option<MachineCpu> {
    None
}

/// Converts ticks of `/proc/stat` to seconds.
pub(crate) fn ticks_to_seconds(ticks: u64) -> f64 {
    // USER_HZ, as above (spelled out here too: this one is not Linux-only).
    ticks as f64 / 100.0
}

/// One side of a loopback TCP connection, as the kernel sees it.
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
#[derive(Debug, Clone, Copy)]
pub(crate) struct TcpSide {
    /// Bytes in its send queue.
    pub(crate) send: u64,
    /// Bytes in its receive queue.
    pub(crate) receive: u64,
    /// Still ESTABLISHED: this side has not closed it, nor seen it closed
    /// (a side that closed with bytes still queued stays listed until they
    /// are delivered, in another state).
    pub(crate) established: bool,
}

/// Loopback IPv4 connections, keyed by (local port, remote port). From
/// `/proc/net/tcp`, so it covers every process in this network namespace; on
/// loopback both ends of a connection are listed, each from its own side.
///
/// Scenarios E and G use it to say how much a client that does not keep up
/// absorbs: its own receive queue plus the server's send queue to it. This is
/// kernel memory, which no RSS figure includes. G also asks whether the
/// server has closed a slow reader's connection.
#[cfg(target_os = "linux")]
pub(crate) fn loopback_tcp_queues() -> Option<std::collections::HashMap<(u16, u16), TcpSide>> {
    let table = std::fs::read_to_string("/proc/net/tcp").ok()?;
    // 127.0.0.1 as the kernel prints it: the address's bytes in host order.
    let loopback = if cfg!(target_endian = "little") {
        "0100007F"
    } else {
        "7F000001"
    };
    let port = |field: &str| -> Option<u16> {
        let (ip, port) = field.split_once(':')?;
        (ip == loopback).then_some(())?;
        u16::from_str_radix(port, 16).ok()
    };
    let mut queues = std::collections::HashMap::new();
    // "sl local_address rem_address st tx_queue:rx_queue ...", after a header.
    for line in table.lines().skip(1) {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let (Some(local), Some(remote), Some(state), Some(sizes)) =
            (fields.get(1), fields.get(2), fields.get(3), fields.get(4))
        else {
            continue;
        };
        // TIME_WAIT (06) and LISTEN (0A) entries hold no data, and an old
        // TIME_WAIT entry could share a port pair with a live connection.
        if *state == "06" || *state == "0A" {
            continue;
        }
        let (Some(local), Some(remote)) = (port(local), port(remote)) else {
            continue;
        };
        let Some((tx, rx)) = sizes.split_once(':') else {
            continue;
        };
        if let (Ok(tx), Ok(rx)) = (u64::from_str_radix(tx, 16), u64::from_str_radix(rx, 16)) {
            let side = TcpSide {
                send: tx,
                receive: rx,
                established: *state == "01",
            };
            queues.insert((local, remote), side);
        }
    }
    Some(queues)
}

/// Not available off Linux.
#[cfg(not(target_os = "linux"))]
pub(crate) fn loopback_tcp_queues() -> Option<std::collections::HashMap<(u16, u16), TcpSide>> {
    None
}

/// The machine's CPU counters and this process's CPU time at one moment, to
/// say afterwards how busy everything else on the machine was in between.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LoadMark {
    machine: Option<MachineCpu>,
    own: Option<Duration>,
}

impl LoadMark {
    /// The counters now.
    pub(crate) fn now() -> LoadMark {
        LoadMark {
            machine: machine_cpu(),
            own: process_cpu(std::process::id()),
        }
    }

    /// The CPU other processes used since `earlier`, as a percentage of the
    /// machine's capacity (other people's builds and tests share this machine:
    /// figures taken while this is high are pessimistic).
    pub(crate) fn others_since(&self, earlier: &LoadMark) -> Option<f64> {
        let (m0, m1) = (earlier.machine?, self.machine?);
        let (o0, o1) = (earlier.own?, self.own?);
        if m1.total <= m0.total {
            return None;
        }
        let total = ticks_to_seconds(m1.total - m0.total);
        let busy = ticks_to_seconds(m1.busy.saturating_sub(m0.busy));
        let ours = o1.saturating_sub(o0).as_secs_f64();
        Some((100.0 * (busy - ours) / total).max(0.0))
    }
}
