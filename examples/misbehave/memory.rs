//! The server's memory, for `bomb`: resident size and its peak, read from
//! `/proc/PID/status` (Linux only; elsewhere it says "not measured").

/// Whose memory can be measured.
#[derive(Debug, Clone)]
pub(crate) enum Probe {
    /// The server runs inside this process: measure ourselves.
    OwnProcess,
    /// The server is the process with this id (`--pid`).
    Pid(u32),
    /// Nothing to measure (a remote server without `--pid`).
    Nothing,
}

/// One reading, in KiB.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Usage {
    /// Resident set size now (`VmRSS`).
    pub(crate) rss_kib: u64,
    /// Peak resident set size so far (`VmHWM`).
    pub(crate) peak_kib: u64,
}

impl Probe {
    /// What is measured, for the report.
    pub(crate) fn describe(&self) -> String {
        match self {
            Probe::OwnProcess => "this process: the server and these clients".to_string(),
            Probe::Pid(pid) => format!("server process {pid}"),
            Probe::Nothing => "give the server's --pid to measure it".to_string(),
        }
    }

    /// Reads the memory now, or `None` if it cannot be measured here.
    pub(crate) fn sample(&self) -> Option<Usage> {
        match self {
            Probe::OwnProcess => read_status("/proc/self/status"),
            Probe::Pid(pid) => read_status(&format!("/proc/{pid}/status")),
            Probe::Nothing => None,
        }
    }
}

#[cfg(target_os = "linux")]
fn read_status(path: &str) -> Option<Usage> {
    let status = std::fs::read_to_string(path).ok()?;
    let field = |name: &str| -> Option<u64> {
        let line = status.lines().find(|l| l.starts_with(name))?;
        line[name.len()..]
            .trim()
            .trim_end_matches("kB")
            .trim()
            .parse()
            .ok()
    };
    Some(Usage {
        rss_kib: field("VmRSS:")?,
        peak_kib: field("VmHWM:")?,
    })
}

#[cfg(not(target_os = "linux"))]
fn read_status(_path: &str) -> Option<Usage> {
    None
}
