//! The lines sent, for Up and Down: which one is shown while browsing, and
//! the line being typed, kept aside meanwhile for Down to bring back. Pure:
//! the line editor (`editor.rs`) asks.

/// Lines kept for Up and Down.
const HISTORY_LIMIT: usize = 500;

/// The lines sent this session, oldest first, and where browsing stands.
#[derive(Debug, Default)]
pub(crate) struct History {
    lines: Vec<String>,
    /// While Up/Down browse `lines`: which entry is shown.
    browsing: Option<usize>,
    /// The line as it was before browsing started, brought back by Down.
    draft: Vec<char>,
}

impl History {
    /// Enter was pressed: browsing ends, whatever is sent.
    pub(crate) fn stop_browsing(&mut self) {
        self.browsing = None;
        self.draft.clear();
    }

    /// Keeps a line sent, unless it repeats the last one; the oldest goes
    /// when [`HISTORY_LIMIT`] are kept.
    pub(crate) fn push(&mut self, text: &str) {
        if self.lines.last().map(String::as_str) != Some(text) {
            if self.lines.len() == HISTORY_LIMIT {
                self.lines.remove(0);
            }
            self.lines.push(text.to_string());
        }
    }

    /// Up: puts the entry before the one shown in `line` (the newest, when
    /// browsing starts: `line` is kept aside as the draft). False if there
    /// is none, and `line` is left as it is.
    pub(crate) fn back(&mut self, line: &mut Vec<char>) -> bool {
        let index = match self.browsing {
            None if self.lines.is_empty() => return false,
            None => {
                self.draft = std::mem::take(line);
                self.lines.len() - 1
            }
            Some(0) => return false,
            Some(i) => i - 1,
        };
        self.show(Some(index), line);
        true
    }

    /// Down: puts the entry after the one shown in `line`, or after the
    /// newest the draft. False if not browsing, and `line` is left as it is.
    pub(crate) fn forward(&mut self, line: &mut Vec<char>) -> bool {
        match self.browsing {
            None => return false,
            Some(i) if i + 1 < self.lines.len() => self.show(Some(i + 1), line),
            Some(_) => self.show(None, line),
        }
        true
    }

    fn show(&mut self, index: Option<usize>, line: &mut Vec<char>) {
        self.browsing = index;
        *line = match index {
            Some(i) => self.lines[i].chars().collect(),
            None => std::mem::take(&mut self.draft),
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chars(text: &str) -> Vec<char> {
        text.chars().collect()
    }

    #[test]
    fn a_repeated_line_is_kept_once_and_the_oldest_goes_at_the_limit() {
        let mut history = History::default();
        for n in 0..=HISTORY_LIMIT {
            history.push(&n.to_string());
            history.push(&n.to_string());
        }
        assert_eq!(history.lines.len(), HISTORY_LIMIT);
        assert_eq!(history.lines.first().map(String::as_str), Some("1"));
    }

    #[test]
    fn browsing_keeps_the_draft_for_down_to_bring_back() {
        let mut history = History::default();
        let mut line = chars("draft");
        assert!(!history.back(&mut line));
        history.push("first");
        history.push("second");
        assert!(history.back(&mut line));
        assert_eq!(line, chars("second"));
        assert!(history.back(&mut line));
        assert!(!history.back(&mut line));
        assert_eq!(line, chars("first"));
        assert!(history.forward(&mut line));
        assert!(history.forward(&mut line));
        assert_eq!(line, chars("draft"));
        assert!(!history.forward(&mut line));
    }
}
