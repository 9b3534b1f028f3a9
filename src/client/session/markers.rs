//! The server's control lines (`#session TOKEN`, `#SEQ COUNT`) and the room
//! lines the markers number: which lines are hidden, and `last`, the number
//! of the last room line received whole. Pure: lines in, verdicts out.

/// What one line (or piece of a line) from the server is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Seen {
    /// Not a control line: shown as the server sent it.
    Shown,
    /// A control line, or a piece of one: never shown.
    Control,
    /// `#session TOKEN LAST`: the server keeps a session for this client,
    /// and numbers its room lines from now on; LAST is the number of the
    /// room's last line before (not sent by every server: `None` then).
    Session {
        /// What `/resume` takes back.
        token: String,
        /// Where counting starts.
        last: Option<u64>,
    },
}

/// A run of numbered room lines announced by `#SEQ COUNT`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Run {
    /// The number of the next room line.
    next: u64,
    /// How many of the run's lines have not arrived yet.
    left: u64,
}

/// How the line now arriving in pieces began.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Partial {
    /// As a line to show.
    Shown,
    /// As a control line; its text so far, to read once it is whole.
    Control(String),
}

/// Reads the server's lines for markers, and counts the room lines.
///
/// The server only ever starts its own lines with `> `, `* ` or `! `, so a
/// line that starts with `#` is a control line, whatever else it holds. A
/// line counts when its `\n` arrives: one cut by a lost connection never
/// did, so the server sends it again on a resume. A line can also reach us
/// in pieces (the line reader shows text that waits long for its newline):
/// its first piece says what it is, and a control line is read once whole.
#[derive(Debug, Default)]
pub(crate) struct Markers {
    last: u64,
    run: Option<Run>,
    partial: Option<Partial>,
}

impl Markers {
    /// The number of the last room line received whole; 0 before any, or
    /// the number the session started from.
    pub(crate) fn last(&self) -> u64 {
        self.last
    }

    /// A session starts at `last`: the room's last line before it, as the
    /// server says in `#session TOKEN LAST`. The next room line is numbered
    /// after it, so a loss before any room line resumes from here, not from
    /// the start of the room's log.
    pub(crate) fn start_at(&mut self, last: u64) {
        self.last = last;
    }

    /// Reads one line, or one piece of a line (`whole` false: more of it
    /// follows, or the connection ended in the middle of it).
    pub(crate) fn line(&mut self, text: &str, whole: bool) -> Seen {
        let started = self.partial.take().unwrap_or_else(|| {
            if text.starts_with('#') {
                Partial::Control(String::new())
            } else {
                Partial::Shown
            }
        });
        match started {
            Partial::Control(mut so_far) => {
                so_far.push_str(text);
                if whole {
                    self.control(&so_far)
                } else {
                    self.partial = Some(Partial::Control(so_far));
                    Seen::Control
                }
            }
            Partial::Shown => {
                if whole {
                    self.count();
                } else {
                    self.partial = Some(Partial::Shown);
                }
                Seen::Shown
            }
        }
    }

    /// The connection ended: a run it was in the middle of, and a line cut
    /// in half, will not go on on the next one.
    pub(crate) fn connection_ended(&mut self) {
        self.run = None;
        self.partial = None;
    }

    /// A new session starts (the old one could not be resumed): its numbers
    /// start again from nothing received.
    pub(crate) fn new_session(&mut self) {
        self.last = 0;
        self.run = None;
    }

    /// A room line arrived whole: if a run is under way, it is the next
    /// number; otherwise it is one of the client's own lines.
    fn count(&mut self) {
        if let Some(run) = self.run.as_mut().filter(|run| run.left > 0) {
            self.last = run.next;
            run.next += 1;
            run.left -= 1;
        }
    }

    /// Reads a whole control line. One this client does not know is hidden
    /// all the same: a newer server may send more kinds.
    fn control(&mut self, line: &str) -> Seen {
        let mut words = line[1..].split(' ');
        match (words.next(), words.next(), words.next(), words.next()) {
            (Some("session"), Some(token), last, None) if !token.is_empty() => {
                match last.map(str::parse::<u64>) {
                    None => Seen::Session {
                        token: token.to_string(),
                        last: None,
                    },
                    Some(Ok(last)) => Seen::Session {
                        token: token.to_string(),
                        last: Some(last),
                    },
                    Some(Err(_)) => Seen::Control,
                }
            }
            (Some(seq), Some(count), None, None) => {
                if let (Ok(next), Ok(left)) = (seq.parse(), count.parse()) {
                    // A new marker starts a new run, even if the last one
                    // was not finished.
                    self.run = Some(Run { next, left });
                }
                Seen::Control
            }
            _ => Seen::Control,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds whole lines; returns the ones shown.
    fn feed(markers: &mut Markers, lines: &[&str]) -> Vec<String> {
        lines
            .iter()
            .filter(|line| markers.line(line, true) == Seen::Shown)
            .map(|line| line.to_string())
            .collect()
    }

    #[test]
    fn markers_are_hidden_and_number_the_lines_after_them() {
        let mut m = Markers::default();
        assert_eq!(m.last(), 0);
        assert_eq!(
            m.line("#session 0123456789abcdef0123456789abcdef", true),
            Seen::Session {
                token: "0123456789abcdef0123456789abcdef".into(),
                last: None
            }
        );
        assert_eq!(
            m.line("#session 0123456789abcdef0123456789abcdef 40", true),
            Seen::Session {
                token: "0123456789abcdef0123456789abcdef".into(),
                last: Some(40)
            }
        );
        let shown = feed(
            &mut m,
            &[
                "* you are now ann",
                "#41 2",
                "> bob: one",
                "> bob: two",
                "! no such user carl",
                "#43 1",
                "* bob waves",
            ],
        );
        assert_eq!(
            shown,
            [
                "* you are now ann",
                "> bob: one",
                "> bob: two",
                "! no such user carl",
                "* bob waves"
            ]
        );
        assert_eq!(m.last(), 43);
    }

    #[test]
    fn lines_after_a_run_are_the_clients_own() {
        let mut m = Markers::default();
        feed(
            &mut m,
            &["#7 1", "> bob: hi", "* 12 lines skipped: you fell behind"],
        );
        assert_eq!(m.last(), 7);
        // Before any marker, nothing counts.
        let mut m = Markers::default();
        feed(&mut m, &["> bob: hi", "* welcome ann"]);
        assert_eq!(m.last(), 0);
    }

    #[test]
    fn a_line_cut_by_the_end_of_the_connection_does_not_count() {
        let mut m = Markers::default();
        feed(&mut m, &["#10 3", "> bob: ten"]);
        assert_eq!(m.line("> bob: ele", false), Seen::Shown);
        assert_eq!(m.last(), 10);
        m.connection_ended();
        // On the next connection, the run is over: the resumed lines bring
        // their own marker, and the first line is not taken for a piece.
        assert_eq!(feed(&mut m, &["> bob: not numbered"]).len(), 1);
        assert_eq!(m.last(), 10);
        feed(&mut m, &["#11 1", "> bob: eleven"]);
        assert_eq!(m.last(), 11);
    }

    #[test]
    fn a_line_in_pieces_counts_once_when_whole() {
        let mut m = Markers::default();
        feed(&mut m, &["#5 2"]);
        assert_eq!(m.line("> bob: hel", false), Seen::Shown);
        assert_eq!(m.last(), 0);
        assert_eq!(m.line("lo", true), Seen::Shown);
        assert_eq!(m.last(), 5);
        // A marker in pieces is read whole, and its pieces are all hidden,
        // even the one that does not start with `#`.
        assert_eq!(m.line("#9", false), Seen::Control);
        assert_eq!(m.line("0 1", true), Seen::Control);
        assert_eq!(feed(&mut m, &["> bob: ninety"]).len(), 1);
        assert_eq!(m.last(), 90);
    }

    #[test]
    fn unknown_and_broken_control_lines_are_hidden() {
        let mut m = Markers::default();
        for line in [
            "#",
            "#session",
            "#x y",
            "#1 2 3",
            "#ping",
            "#session a b",
            "#session a 1 2",
        ] {
            assert_eq!(m.line(line, true), Seen::Control, "{line}");
        }
        assert_eq!(feed(&mut m, &["> bob: hi"]).len(), 1);
        assert_eq!(m.last(), 0);
    }

    #[test]
    fn a_new_session_starts_from_nothing() {
        let mut m = Markers::default();
        feed(&mut m, &["#100 1", "> bob: old"]);
        m.new_session();
        assert_eq!(m.last(), 0);
        feed(&mut m, &["> bob: not numbered"]);
        assert_eq!(m.last(), 0);
    }
}
