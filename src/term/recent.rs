//! The last lines printed above the input line, so that Ctrl-L can draw the
//! screen again: a terminal keeps no copy a program can read back. Pure.

use std::collections::VecDeque;

use super::escapes::EscapeStripper;
use super::width::str_width;

/// Lines kept at most: more than any terminal has rows.
const KEPT: usize = 500;

/// The lines most recently printed above the input line, as printed (with
/// any colour codes), each with the columns it takes.
#[derive(Debug, Default)]
pub(crate) struct Recent {
    lines: VecDeque<(String, usize)>,
}

impl Recent {
    /// Remembers a line just printed.
    pub(crate) fn push(&mut self, line: &str) {
        if self.lines.len() == KEPT {
            self.lines.pop_front();
        }
        // Measured without its colour codes, which take no room.
        let mut visible = String::new();
        EscapeStripper::new().push(line, &mut visible);
        self.lines
            .push_back((line.to_string(), str_width(&visible)));
    }

    /// The last lines that fit in `rows` rows of a terminal `width` columns
    /// wide, oldest first; a line wider than the terminal takes as many
    /// rows as it wraps onto.
    pub(crate) fn last_screen(&self, width: usize, rows: usize) -> Vec<&str> {
        let width = width.max(1);
        let mut used = 0;
        let mut shown: Vec<&str> = Vec::new();
        for (line, columns) in self.lines.iter().rev() {
            let takes = columns.div_ceil(width).max(1);
            if used + takes > rows {
                break;
            }
            used += takes;
            shown.push(line);
        }
        shown.reverse();
        shown
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_rows_worth_oldest_first() {
        let mut recent = Recent::default();
        for line in ["one", "two", "three", "four"] {
            recent.push(line);
        }
        assert_eq!(recent.last_screen(80, 2), ["three", "four"]);
        assert_eq!(recent.last_screen(80, 9), ["one", "two", "three", "four"]);
        assert_eq!(recent.last_screen(80, 0), Vec::<&str>::new());
    }

    #[test]
    fn wide_lines_take_the_rows_they_wrap_onto_and_colour_takes_none() {
        let mut recent = Recent::default();
        recent.push("old");
        recent.push(&"x".repeat(25));
        recent.push("\x1b[2mdim but short\x1b[0m");
        // 10 columns: the long line takes 3 rows, the dim one 2 (13 columns).
        assert_eq!(recent.last_screen(10, 5).len(), 2);
        assert_eq!(recent.last_screen(10, 6).len(), 3);
        assert_eq!(recent.last_screen(20, 3).len(), 2);
        assert_eq!(recent.last_screen(20, 4).len(), 3);
    }

    #[test]
    fn only_so_many_are_kept() {
        let mut recent = Recent::default();
        for n in 0..KEPT + 10 {
            recent.push(&n.to_string());
        }
        let all = recent.last_screen(80, usize::MAX);
        assert_eq!(all.len(), KEPT);
        assert_eq!(all[0], "10");
    }
}
