//! `--history N`: the last N public lines (chat and `/me`), exactly as they
//! were delivered, for late joiners. A ring of at most N lines, each at most
//! one line long, so its memory is bounded by N x the line limit. Only the
//! broadcaster touches it.

use std::collections::VecDeque;

/// The last public lines.
#[derive(Debug)]
pub(super) struct History {
    lines: VecDeque<Box<[u8]>>,
    capacity: usize,
}

impl History {
    /// Keeps at most `capacity` lines; 0 keeps none.
    pub(super) fn new(capacity: usize) -> History {
        History {
            lines: VecDeque::with_capacity(capacity.min(1024)),
            capacity,
        }
    }

    /// True when it keeps nothing (`--history 0`, the default).
    pub(super) fn is_off(&self) -> bool {
        self.capacity == 0
    }

    /// Keeps every line in `bytes` (one or more lines, each ending in `\n`;
    /// in the chunk demo mode, one chunk as it was relayed).
    pub(super) fn keep(&mut self, bytes: &[u8]) {
        if self.is_off() {
            return;
        }
        for line in bytes.split_inclusive(|&b| b == b'\n') {
            if self.lines.len() == self.capacity {
                self.lines.pop_front();
            }
            self.lines.push_back(line.into());
        }
    }

    /// How many lines it holds.
    pub(super) fn len(&self) -> usize {
        self.lines.len()
    }

    /// The lines, oldest first.
    pub(super) fn lines(&self) -> impl Iterator<Item = &[u8]> {
        self.lines.iter().map(|line| &line[..])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_last_n_lines_in_order() {
        let mut history = History::new(3);
        history.keep(b"> a: 1\n> a: 2\n");
        history.keep(b"* b waves\n");
        history.keep(b"> a: 3\n");
        let kept: Vec<&[u8]> = history.lines().collect();
        assert_eq!(kept, [&b"> a: 2\n"[..], b"* b waves\n", b"> a: 3\n"]);
    }

    #[test]
    fn off_keeps_nothing() {
        let mut history = History::new(0);
        history.keep(b"> a: 1\n");
        assert!(history.is_off());
        assert_eq!(history.len(), 0);
    }
}
