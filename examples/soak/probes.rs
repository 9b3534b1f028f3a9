//! What Linux's `/proc` says about the server process: its threads
//! (`/proc/PID/task`, by name), its descriptors (`/proc/PID/fd`), its
//! memory (`VmRSS`, `VmHWM` in `/proc/PID/status`), its CPU time, and its
//! sockets by TCP state: the inodes its descriptors point to, looked up in
//! the kernel's socket tables (`/proc/net/tcp`, `tcp6`). Plain functions;
//! `sampler.rs` calls them on a clock.

use std::collections::{BTreeMap, HashMap};
use std::fs;

/// A TCP state as the kernel's tables number it (`include/net/tcp_states.h`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum TcpState {
    Established,
    SynSent,
    SynRecv,
    FinWait1,
    FinWait2,
    TimeWait,
    Close,
    CloseWait,
    LastAck,
    Listen,
    Closing,
    Other,
}

impl TcpState {
    fn from_hex(code: &str) -> TcpState {
        match code {
            "01" => TcpState::Established,
            "02" => TcpState::SynSent,
            "03" => TcpState::SynRecv,
            "04" => TcpState::FinWait1,
            "05" => TcpState::FinWait2,
            "06" => TcpState::TimeWait,
            "07" => TcpState::Close,
            "08" => TcpState::CloseWait,
            "09" => TcpState::LastAck,
            "0A" => TcpState::Listen,
            "0B" => TcpState::Closing,
            _ => TcpState::Other,
        }
    }

    /// Its name as `ss` prints it.
    pub(crate) fn name(self) -> &'static str {
        match self {
            TcpState::Established => "ESTAB",
            TcpState::SynSent => "SYN-SENT",
            TcpState::SynRecv => "SYN-RECV",
            TcpState::FinWait1 => "FIN-WAIT-1",
            TcpState::FinWait2 => "FIN-WAIT-2",
            TcpState::TimeWait => "TIME-WAIT",
            TcpState::Close => "CLOSE",
            TcpState::CloseWait => "CLOSE-WAIT",
            TcpState::LastAck => "LAST-ACK",
            TcpState::Listen => "LISTEN",
            TcpState::Closing => "CLOSING",
            TcpState::Other => "other",
        }
    }
}

/// One row of the kernel's socket table.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TcpRow {
    pub(crate) state: TcpState,
    pub(crate) local_port: u16,
    pub(crate) remote_port: u16,
}

/// Every TCP socket of this network namespace (IPv4 and IPv6), by inode.
/// Sockets no process holds any more (closing, TIME-WAIT) have inode 0 and
/// are listed apart, by their local port.
#[derive(Debug, Default)]
pub(crate) struct TcpTable {
    pub(crate) by_inode: HashMap<u64, TcpRow>,
    pub(crate) orphans: Vec<TcpRow>,
}

/// Reads `/proc/net/tcp` and `/proc/net/tcp6`.
pub(crate) fn tcp_table() -> TcpTable {
    let mut table = TcpTable::default();
    for path in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let Ok(text) = fs::read_to_string(path) else {
            continue;
        };
        // "sl local rem st tx:rx tr:when retrnsmt uid timeout inode ...".
        for line in text.lines().skip(1) {
            let fields: Vec<&str> = line.split_whitespace().collect();
            if fields.len() < 10 {
                continue;
            }
            let port = |field: &str| {
                field
                    .rsplit_once(':')
                    .and_then(|(_, port)| u16::from_str_radix(port, 16).ok())
                    .unwrap_or(0)
            };
            let row = TcpRow {
                state: TcpState::from_hex(fields[3]),
                local_port: port(fields[1]),
                remote_port: port(fields[2]),
            };
            match fields[9].parse::<u64>() {
                Ok(0) | Err(_) => table.orphans.push(row),
                Ok(inode) => {
                    table.by_inode.insert(inode, row);
                }
            }
        }
    }
    table
}

/// How many threads the process has.
pub(crate) fn threads(pid: u32) -> Option<usize> {
    Some(fs::read_dir(format!("/proc/{pid}/task")).ok()?.count())
}

/// The process's threads by name, with the numbered ones (`reader-17`,
/// `dashboard-3`) counted together as `reader-*`.
pub(crate) fn threads_by_name(pid: u32) -> BTreeMap<String, usize> {
    let mut names = BTreeMap::new();
    let Ok(tasks) = fs::read_dir(format!("/proc/{pid}/task")) else {
        return names;
    };
    for task in tasks.filter_map(Result::ok) {
        let Ok(comm) = fs::read_to_string(task.path().join("comm")) else {
            continue;
        };
        let comm = comm.trim_end();
        let name = match comm.split_once('-') {
            Some((stem, tail)) if tail.chars().all(|c| c.is_ascii_digit()) => format!("{stem}-*"),
            _ => comm.to_string(),
        };
        *names.entry(name).or_default() += 1;
    }
    names
}

/// How many descriptors the process holds.
pub(crate) fn fds(pid: u32) -> Option<usize> {
    Some(fs::read_dir(format!("/proc/{pid}/fd")).ok()?.count())
}

/// The inodes of the sockets the process holds.
pub(crate) fn socket_inodes(pid: u32) -> Vec<u64> {
    let Ok(fds) = fs::read_dir(format!("/proc/{pid}/fd")) else {
        return Vec::new();
    };
    fds.filter_map(Result::ok)
        .filter_map(|fd| fs::read_link(fd.path()).ok())
        .filter_map(|target| {
            let target = target.to_str()?.to_string();
            target
                .strip_prefix("socket:[")?
                .strip_suffix(']')?
                .parse()
                .ok()
        })
        .collect()
}

/// The process's sockets, each with its row in `table` (a socket not in
/// the table, a Unix socket say, is left out).
pub(crate) fn sockets(pid: u32, table: &TcpTable) -> Vec<(u64, TcpRow)> {
    socket_inodes(pid)
        .into_iter()
        .filter_map(|inode| Some((inode, *table.by_inode.get(&inode)?)))
        .collect()
}

/// A `kB` field of `/proc/PID/status` (`VmRSS`, `VmHWM`).
pub(crate) fn status_kib(pid: u32, field: &str) -> Option<u64> {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status.lines().find_map(|line| {
        let rest = line.strip_prefix(field)?.strip_prefix(':')?;
        rest.trim().strip_suffix("kB")?.trim().parse().ok()
    })
}

/// The soft limit on open files the process runs with.
pub(crate) fn fd_limit(pid: u32) -> Option<usize> {
    let limits = fs::read_to_string(format!("/proc/{pid}/limits")).ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line.trim_start_matches("Max open files")
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// CPU time of a process in clock ticks (user + system, all its threads).
pub(crate) fn cpu_ticks(pid: &str) -> Option<u64> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The name may hold spaces: count fields from the last ')'.
    let rest = stat.get(stat.rfind(')')? + 2..)?;
    let fields: Vec<&str> = rest.split(' ').collect();
    Some(fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?)
}

/// The machine's busy and total CPU ticks (the first line of `/proc/stat`).
pub(crate) fn machine_ticks() -> Option<(u64, u64)> {
    let stat = fs::read_to_string("/proc/stat").ok()?;
    let fields: Vec<u64> = stat
        .lines()
        .next()?
        .split_whitespace()
        .skip(1)
        .filter_map(|f| f.parse().ok())
        .collect();
    let get = |i: usize| fields.get(i).copied().unwrap_or(0);
    // user nice system idle iowait irq softirq steal
    let busy = get(0) + get(1) + get(2) + get(5) + get(6) + get(7);
    Some((busy, busy + get(3) + get(4)))
}

/// The CPU counters at one moment: the machine's, the server's and this
/// program's, to say afterwards how busy the rest of the machine was.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Load {
    machine: Option<(u64, u64)>,
    server: Option<u64>,
    soak: Option<u64>,
}

/// Shares of the machine's CPU over a stretch of time, in percent.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct LoadShares {
    pub(crate) server: f64,
    pub(crate) soak: f64,
    pub(crate) others: f64,
}

impl Load {
    /// The counters now.
    pub(crate) fn now(server_pid: u32) -> Load {
        Load {
            machine: machine_ticks(),
            server: cpu_ticks(&server_pid.to_string()),
            soak: cpu_ticks("self"),
        }
    }

    /// What the server, this program and everything else used since `earlier`.
    pub(crate) fn since(&self, earlier: &Load) -> Option<LoadShares> {
        let ((b0, t0), (b1, t1)) = (earlier.machine?, self.machine?);
        let total = t1.checked_sub(t0).filter(|t| *t > 0)? as f64;
        let busy = b1.saturating_sub(b0) as f64;
        let server = self.server?.saturating_sub(earlier.server?) as f64;
        let soak = self.soak?.saturating_sub(earlier.soak?) as f64;
        Some(LoadShares {
            server: 100.0 * server / total,
            soak: 100.0 * soak / total,
            others: (100.0 * (busy - server - soak) / total).max(0.0),
        })
    }
}
