//! The Unix terminal, switched without a crate: `stty` run with the terminal
//! as its stdin saves, changes and restores the mode; it also gives the size.
//! [`RawMode`] guarantees the restore, on every way out, panics included.

use std::io::{self, IsTerminal, Write};
use std::process::{Command, Stdio};
use std::sync::Once;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

/// Whether the client can be interactive: stdin (the keyboard) and stdout
/// (the screen) are both terminals. A pipe or a file on either side means a
/// script is driving the client, and plain line mode serves it better.
pub(crate) fn is_interactive() -> bool {
    io::stdin().is_terminal() && io::stdout().is_terminal()
}

/// The terminal's settings as `stty -g` printed them, while the terminal is
/// switched; the panic hook reads it. Whoever takes it out restores it, so
/// the restore happens exactly once.
static SAVED: Mutex<Option<String>> = Mutex::new(None);
static PANIC_HOOK: Once = Once::new();

/// The terminal in character-at-a-time mode without echo; dropping it
/// restores the terminal exactly as it was.
///
/// Why `stty` and not the `termios` calls: they need `libc` (or `unsafe`
/// declarations of our own), and the design card allows no crate for this.
/// `stty -g` prints every setting in a form `stty` takes back, so saving and
/// restoring is exact, whatever the user had set. The switch is
/// `-icanon -echo -isig min 1 time 0`, not `stty raw`: `raw` would also
/// switch off output processing (`\n` would no longer return the carriage)
/// and flow control, which the client has no reason to touch. `-isig` makes
/// Ctrl-C a byte the editor reads instead of a signal that kills the process
/// before it can restore anything.
#[derive(Debug)]
pub(crate) struct RawMode {
    _private: (),
}

impl RawMode {
    /// Saves the terminal's settings and switches it.
    ///
    /// # Errors
    /// `stty` cannot be run or refuses (the terminal is left as it was).
    pub(crate) fn enable() -> io::Result<RawMode> {
        install_panic_hook();
        let guard = RawMode { _private: () };
        switch()?;
        Ok(guard)
    }

    /// Does what Ctrl-Z does to a program in the terminal's normal mode (there
    /// the terminal turns it into the signal SIGTSTP; switched, it is a byte):
    /// restores the terminal for the shell, stops the process, and when the
    /// shell's `fg` continues it, saves and switches the terminal again.
    ///
    /// # Errors
    /// The terminal cannot be switched again.
    pub(crate) fn suspend(&self) -> io::Result<()> {
        restore();
        // std cannot raise a signal without `libc`; the `kill` program can.
        // This process stops inside `status()` and goes on at SIGCONT. (A
        // process with no job control around it ignores SIGTSTP: then it
        // simply goes on.)
        let _ = Command::new("kill")
            .args(["-TSTP", &std::process::id().to_string()])
            .status();
        switch()
    }
}

/// Saves the terminal's settings and switches it to character mode.
fn switch() -> io::Result<()> {
    let saved = stty(&["-g"])?.trim().to_string();
    // Saved before switching, so a failure half-way still restores.
    *SAVED.lock() = Some(saved);
    stty(&["-icanon", "-echo", "-isig", "min", "1", "time", "0"])?;
    Ok(())
}

impl Drop for RawMode {
    fn drop(&mut self) {
        restore();
    }
}

/// Puts the terminal back as it was saved, if it is still switched: what
/// dropping the [`RawMode`] does, for a thread that does not own it (the
/// server's main thread, when the console's thread cannot finish in time).
pub(crate) fn restore() {
    // Take the settings out first: the lock is not held while stty runs.
    let saved = SAVED.lock().take();
    if let Some(saved) = saved {
        let _ = stty(&[&saved]);
    }
}

/// Restores the terminal before a panic message is printed, in any thread: the
/// main thread's guard would restore it too while unwinding, but a panic in
/// another thread does not unwind the main one, and the message itself should
/// appear on a terminal in its normal mode, on a line of its own.
fn install_panic_hook() {
    PANIC_HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if SAVED.lock().is_some() {
                // stderr, not stdout: another thread may hold stdout's lock.
                let _ = io::stderr().write_all(b"\r\n");
                restore();
            }
            previous(info);
        }));
    });
}

/// Runs `stty ARGS` on the terminal that is our stdin and returns what it printed.
fn stty(args: &[&str]) -> io::Result<String> {
    let out = Command::new("stty")
        .args(args)
        .stdin(Stdio::inherit())
        .output()?;
    if !out.status.success() {
        let said = String::from_utf8_lossy(&out.stderr);
        return Err(io::Error::other(format!(
            "stty {}: {}",
            args.join(" "),
            said.trim()
        )));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// How often the size is read again at most. Reading it runs a process, so
/// not on every key; often enough that a resized window is redrawn right
/// almost at once (the interactive loop also wakes up to check).
const SIZE_MAX_AGE: Duration = Duration::from_millis(250);

/// The terminal's size, re-read when it may have changed. (A resize is
/// announced by the signal SIGWINCH, which std cannot catch without `libc`;
/// reading the size now and then is the crate-free way.)
#[derive(Debug)]
pub(crate) struct Size {
    columns: usize,
    rows: usize,
    read_at: Option<Instant>,
}

impl Size {
    pub(crate) fn new() -> Self {
        Size {
            columns: 80,
            rows: 24,
            read_at: None,
        }
    }

    /// The width in columns, read again if the last reading is older than a
    /// moment.
    pub(crate) fn columns(&mut self) -> usize {
        if self.read_at.map_or(true, |at| at.elapsed() >= SIZE_MAX_AGE) {
            self.read_now();
        }
        self.columns
    }

    /// The height in rows, as last read.
    pub(crate) fn rows(&self) -> usize {
        self.rows
    }

    /// Reads the size now; true if the width changed (all the input line
    /// cares about).
    pub(crate) fn read_now(&mut self) -> bool {
        let from_env = |name: &str| std::env::var(name).ok()?.trim().parse().ok();
        let (rows, columns) = match stty(&["size"]).ok().and_then(|s| parse_stty_size(&s)) {
            Some(size) => size,
            None => (
                from_env("LINES").filter(|&r| r > 0).unwrap_or(24),
                from_env("COLUMNS").filter(|&c| c > 0).unwrap_or(80),
            ),
        };
        self.read_at = Some(Instant::now());
        let changed = columns != self.columns;
        self.columns = columns;
        self.rows = rows;
        changed
    }
}

/// The rows and columns in `stty size`'s answer, `ROWS COLUMNS`; `None` for
/// a terminal that does not know its size (it says `0 0`).
fn parse_stty_size(text: &str) -> Option<(usize, usize)> {
    let mut numbers = text.split_whitespace().map(|n| n.parse::<usize>().ok());
    let (rows, columns) = (numbers.next()??, numbers.next()??);
    (rows > 0 && columns > 0).then_some((rows, columns))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stty_size_answers() {
        assert_eq!(parse_stty_size("30 100\n"), Some((30, 100)));
        assert_eq!(parse_stty_size("0 0\n"), None);
        assert_eq!(parse_stty_size("stty: not a tty"), None);
    }
}
