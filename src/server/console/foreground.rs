//! Whether the console may read a terminal now. A process in the background
//! of an interactive shell (`server &`) that reads its terminal is stopped by
//! the kernel (SIGTTIN), which would silently freeze the whole room; so the
//! console reads a terminal only while the server is the terminal's
//! foreground job.
//!
//! On Linux that is told std-only from `/proc/self/stat`: the process group
//! (field 5) against the terminal's foreground process group (field 8).
//! Elsewhere on Unix there is no std-only way, so a terminal is read only when
//! `--console on` asks for it; pipes and files are always safe to read.

use std::io::IsTerminal;

use crate::config::ConsoleMode;

/// When to read the console's next line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Readiness {
    /// Now.
    Read,
    /// Not now: we are in the background; ask again in a while. (Only Linux
    /// can tell that it is in the background.)
    #[cfg_attr(not(target_os = "linux"), allow(dead_code))]
    Wait,
    /// Never: reading could stop the process and nothing can tell.
    Never,
}

/// Decides whether to read standard input now.
pub(crate) fn readiness(mode: ConsoleMode) -> Readiness {
    match mode {
        ConsoleMode::Off => Readiness::Never,
        ConsoleMode::On => Readiness::Read,
        ConsoleMode::Auto if !std::io::stdin().is_terminal() => Readiness::Read,
        ConsoleMode::Auto => terminal_readiness(),
    }
}

#[cfg(target_os = "linux")]
fn terminal_readiness() -> Readiness {
    match std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|stat| in_foreground(&stat))
    {
        Some(true) => Readiness::Read,
        Some(false) => Readiness::Wait,
        None => Readiness::Never,
    }
}

/// Windows has no job control: a console is always safe to read.
#[cfg(windows)]
fn terminal_readiness() -> Readiness {
    Readiness::Read
}

#[cfg(not(any(target_os = "linux", windows)))]
fn terminal_readiness() -> Readiness {
    Readiness::Never
}

/// From the text of `/proc/self/stat`: is this process's group the terminal's
/// foreground group? `None` if the text cannot be read. The command name
/// (field 2) is in parentheses and may hold spaces, so fields are counted
/// from the last `)`.
#[cfg(any(target_os = "linux", test))]
pub(crate) fn in_foreground(stat: &str) -> Option<bool> {
    let after_name = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // fields[0] is field 3 (state): the process group is field 5, the
    // terminal's foreground group field 8.
    let pgrp: i64 = fields.get(2)?.parse().ok()?;
    let tpgid: i64 = fields.get(5)?.parse().ok()?;
    Some(pgrp == tpgid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn foreground_is_read_from_proc_stat() {
        let fg = "4242 (server) S 100 4242 100 34816 4242 4194560 0 0";
        let bg = "4242 (my server) S 100 4242 100 34816 4100 4194560 0 0";
        assert_eq!(in_foreground(fg), Some(true));
        assert_eq!(in_foreground(bg), Some(false), "a name with a space");
        assert_eq!(in_foreground("garbage"), None);
    }
}
