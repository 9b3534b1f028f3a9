//! Tab completion in the line editor: the word before the cursor is
//! replaced by a choice a [`Completer`] offers, and each further Tab shows
//! the next choice ([`Cycle`]). Pure; what the choices are is the caller's.

/// Offers what may replace the word being completed. The editor knows
/// nothing of chat: the client's completer knows names and commands, a
/// console's would know its own.
pub(crate) trait Completer {
    /// The choices for `word`, the part of a word typed before the cursor
    /// (never empty), where `before` is the line before that word. Each
    /// choice is the whole replacement, with what should follow it (a
    /// space, `: `), in the order Tab offers them. None: Tab does nothing.
    fn choices(&self, before: &str, word: &str) -> Vec<String>;
}

/// A completer with no choices, for tests of everything but completion.
#[cfg(test)]
#[derive(Debug, Clone, Copy)]
pub(crate) struct NoCompletion;

#[cfg(test)]
impl Completer for NoCompletion {
    fn choices(&self, _before: &str, _word: &str) -> Vec<String> {
        Vec::new()
    }
}

/// A completion under way: Tab pressed, and nothing else since.
///
/// The choices are the ones found at the first Tab; each Tab replaces the
/// choice shown with the next, Shift-Tab with the one before, and both go
/// round at the ends (irssi's way: no list is printed, the line itself shows
/// each choice in turn). Any other key ends the cycle, keeping the choice
/// shown, so Tab, then typing, then Tab completes afresh.
#[derive(Debug)]
pub(crate) struct Cycle {
    /// Where the completed word starts in the line (characters).
    pub(crate) start: usize,
    /// Characters of the choice now in the line.
    pub(crate) len: usize,
    choices: Vec<String>,
    shown: usize,
}

impl Cycle {
    /// A cycle on `choices` (not empty) for the word at `start`, that is
    /// `len` characters long now; `forward` is Tab, not Shift-Tab, which
    /// starts from the last choice.
    pub(crate) fn new(start: usize, len: usize, choices: Vec<String>, forward: bool) -> Cycle {
        debug_assert!(!choices.is_empty());
        let shown = if forward { 0 } else { choices.len() - 1 };
        Cycle {
            start,
            len,
            choices,
            shown,
        }
    }

    /// Moves to the next choice (or the one before), round at the ends.
    pub(crate) fn step(&mut self, forward: bool) {
        let n = self.choices.len();
        self.shown = if forward {
            (self.shown + 1) % n
        } else {
            (self.shown + n - 1) % n
        };
    }

    /// The choice to show now.
    pub(crate) fn shown(&self) -> &str {
        &self.choices[self.shown]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tab_goes_round_forward_and_shift_tab_back() {
        let choices = vec!["a".to_string(), "b".to_string(), "c".to_string()];
        let mut cycle = Cycle::new(0, 1, choices.clone(), true);
        let mut seen = vec![cycle.shown().to_string()];
        for _ in 0..3 {
            cycle.step(true);
            seen.push(cycle.shown().to_string());
        }
        assert_eq!(seen, ["a", "b", "c", "a"]);
        let mut back = Cycle::new(0, 1, choices, false);
        assert_eq!(back.shown(), "c");
        back.step(false);
        assert_eq!(back.shown(), "b");
        back.step(true);
        back.step(true);
        assert_eq!(back.shown(), "a");
    }

    #[test]
    fn one_choice_stays() {
        let mut cycle = Cycle::new(3, 2, vec!["bob: ".to_string()], true);
        cycle.step(true);
        assert_eq!(cycle.shown(), "bob: ");
        assert_eq!(NoCompletion.choices("", "x"), Vec::<String>::new());
    }
}
