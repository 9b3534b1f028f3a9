//! Compares a quoted output with the lines a terminal shows. Both sides go
//! through the same placeholders (times, client ports, process ids, session
//! tokens; every number, or runs of spaces, when the quote asks), then the
//! quote must appear as one run of lines, a `...` line standing for any
//! lines. A mismatch comes back as a diff against the closest run, to
//! print, or to write back into the handout.

use regex::Regex;

use crate::doc::Compare;

/// One line of the alignment between the quote (expected) and the screen (actual).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Diff {
    /// The quote's line `.0` is the screen's line `.1`.
    Same(usize, usize),
    /// The quote's line is not on the screen.
    Missing(usize),
    /// The screen's line is not in the quote.
    Extra(usize),
    /// The screen's line stands under a `...` of the quote (line `.0`).
    Cut(usize, usize),
}

/// The placeholders, compiled once.
#[derive(Debug)]
pub(crate) struct Placeholders {
    always: Vec<(Regex, &'static str)>,
    number: Regex,
    spaces: Regex,
}

impl Placeholders {
    pub(crate) fn new() -> Placeholders {
        let rule = |re: &str, to| (Regex::new(re).expect("a valid placeholder"), to);
        Placeholders {
            always: vec![
                // The log's clock, and tcpdump's.
                rule(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", "[TIME]"),
                rule(r"\b\d\d:\d\d:\d\d\.\d{6}\b", "[TIME]"),
                // A client's port: the kernel picks it (32768 to 60999 on Linux).
                rule(
                    r"(127\.0\.0\.1|\[::1\]|0\.0\.0\.0)([:.])\d{5}\b",
                    "$1$2[PORT]",
                ),
                rule(r"pid=\d+", "pid=[PID]"),
                // A shell prompt such as `root@vm:/work/main# `.
                // (after a `^C` echo too: the C is not the user's name).
                rule(r"(\^C)?[\w.-]+@[\w.-]+:[^\s#$]*[#$] ", "${1}$$ "),
                // How long a test run took.
                rule(r"finished in \d+\.\d+s", "finished in [SECS]"),
                // Cargo's hash in a test binary's name.
                rule(r"-[0-9a-f]{16}\b", "-[HASH]"),
                // A session's token: 32 random hex digits (`#session`, the
                // transcript's `session` records).
                rule(r"\b[0-9a-f]{32}\b", "[TOKEN]"),
            ],
            number: Regex::new(r"\d+(\.\d+)?").expect("a valid pattern"),
            spaces: Regex::new(r"\s+").expect("a valid pattern"),
        }
    }

    /// The line as it is compared.
    pub(crate) fn normalise(&self, line: &str, compare: &Compare) -> String {
        let mut line = line.trim_end().to_string();
        for (re, to) in &self.always {
            line = re.replace_all(&line, *to).into_owned();
        }
        if compare.numbers {
            line = self.number.replace_all(&line, "#").into_owned();
        }
        if compare.spacing {
            line = self.spaces.replace_all(line.trim(), " ").into_owned();
        }
        line
    }
}

fn is_cut(line: &str) -> bool {
    line.trim() == "..."
}

/// Finds the quote (`expected`, already normalised) in `actual`: the run
/// that matches with the fewest differences, the earliest of equals. `Ok`
/// with the run's end when it matches exactly; else the diff.
pub(crate) fn find(expected: &[String], actual: &[String]) -> Result<usize, Vec<Diff>> {
    let (n, m) = (expected.len(), actual.len());
    const NO: u32 = u32::MAX / 4;
    // A quote line missing costs more than a screen line too many, so of two
    // runs as far off, the one where more lines match is reported.
    const MISSING: u32 = 2;
    // cost[i][j]: the quote's first i lines against screen lines ending at j;
    // screen lines before the run are free.
    let mut cost = vec![vec![0u32; m + 1]; n + 1];
    for i in 1..=n {
        let cut = is_cut(&expected[i - 1]);
        cost[i][0] = if cut {
            cost[i - 1][0]
        } else {
            cost[i - 1][0] + MISSING
        };
        for j in 1..=m {
            cost[i][j] = if cut {
                cost[i - 1][j].min(cost[i][j - 1])
            } else {
                let same = if expected[i - 1] == actual[j - 1] {
                    cost[i - 1][j - 1]
                } else {
                    NO
                };
                same.min(cost[i - 1][j] + MISSING).min(cost[i][j - 1] + 1)
            };
        }
    }
    let (mut best, mut end) = (NO, 0);
    for (j, &c) in cost[n].iter().enumerate() {
        if c < best {
            best = c;
            end = j;
        }
    }
    if best == 0 {
        return Ok(end);
    }
    let mut diff = Vec::new();
    let (mut i, mut j) = (n, end);
    while i > 0 {
        if is_cut(&expected[i - 1]) {
            if j > 0 && cost[i][j] == cost[i][j - 1] {
                diff.push(Diff::Cut(i - 1, j - 1));
                j -= 1;
            } else {
                i -= 1;
            }
        } else if j > 0 && expected[i - 1] == actual[j - 1] && cost[i][j] == cost[i - 1][j - 1] {
            diff.push(Diff::Same(i - 1, j - 1));
            i -= 1;
            j -= 1;
        } else if j > 0 && cost[i][j] == cost[i][j - 1] + 1 {
            // Taken first going backwards, so a changed line reads - then +.
            diff.push(Diff::Extra(j - 1));
            j -= 1;
        } else {
            diff.push(Diff::Missing(i - 1));
            i -= 1;
        }
    }
    diff.reverse();
    Err(with_neighbours(diff, m))
}

/// Quote lines missing before the first line that matched (or after the
/// last) are most likely the screen's lines just before it (or after it),
/// changed: those are shown as extra lines, so the report pairs them up.
fn with_neighbours(diff: Vec<Diff>, screen_len: usize) -> Vec<Diff> {
    let anchored = |d: &Diff| matches!(d, Diff::Same(..) | Diff::Cut(..));
    let screen_of = |d: &Diff| match *d {
        Diff::Same(_, a) | Diff::Cut(_, a) => Some(a),
        _ => None,
    };
    let Some(first) = diff.iter().position(anchored) else {
        return diff;
    };
    let last = diff.iter().rposition(anchored).expect("there is a first");
    let (a0, a1) = (
        screen_of(&diff[first]).expect("anchored"),
        screen_of(&diff[last]).expect("anchored"),
    );
    let before = diff[..first]
        .iter()
        .filter(|d| matches!(d, Diff::Missing(_)))
        .count();
    let after = diff[last + 1..]
        .iter()
        .filter(|d| matches!(d, Diff::Missing(_)))
        .count();
    let mut out: Vec<Diff> = diff[..first].to_vec();
    out.extend((a0.saturating_sub(before)..a0).map(Diff::Extra));
    out.extend_from_slice(&diff[first..]);
    out.extend((a1 + 1..(a1 + 1 + after).min(screen_len)).map(Diff::Extra));
    out
}

/// Compares two lists as sets of lines (for `sorted`): the diff of both sorted.
pub(crate) fn find_sorted(expected: &[String], actual: &[String]) -> Result<(), Vec<Diff>> {
    let mut e: Vec<usize> = (0..expected.len()).collect();
    let mut a: Vec<usize> = (0..actual.len()).collect();
    e.sort_by(|&x, &y| expected[x].cmp(&expected[y]));
    a.sort_by(|&x, &y| actual[x].cmp(&actual[y]));
    let (mut diff, mut clean) = (Vec::new(), true);
    let (mut x, mut y) = (0, 0);
    while x < e.len() || y < a.len() {
        match (e.get(x), a.get(y)) {
            (Some(&p), Some(&q)) if expected[p] == actual[q] => {
                diff.push(Diff::Same(p, q));
                x += 1;
                y += 1;
            }
            (Some(&p), Some(&q)) if expected[p] < actual[q] => {
                diff.push(Diff::Missing(p));
                clean = false;
                x += 1;
            }
            (Some(&p), None) => {
                diff.push(Diff::Missing(p));
                clean = false;
                x += 1;
            }
            (_, Some(&q)) => {
                diff.push(Diff::Extra(q));
                clean = false;
                y += 1;
            }
            (None, None) => break,
        }
    }
    if clean {
        Ok(())
    } else {
        Err(diff)
    }
}

/// A quote's line as the handout wrote it, with its line number (`None`
/// for a `...` the checker put between the lines of a `trimmed` quote).
pub(crate) type Quoted = (Option<usize>, String);

/// The diff as a report: the handout's lines (`-`, with their line numbers)
/// against the terminal's (`+`), both as written, not as compared.
pub(crate) fn render(diff: &[Diff], quote: &[Quoted], actual: &[String]) -> String {
    let number = |e: usize| quote[e].0.map_or(String::new(), |n| n.to_string());
    let mut out = String::new();
    let mut cut_shown = false;
    for d in diff {
        match *d {
            Diff::Same(e, _) => out.push_str(&format!("  {:>4}   {}\n", number(e), quote[e].1)),
            Diff::Missing(e) => out.push_str(&format!("  {:>4} - {}\n", number(e), quote[e].1)),
            Diff::Extra(a) => out.push_str(&format!("       + {}\n", actual[a])),
            Diff::Cut(e, _) if !cut_shown => {
                cut_shown = true;
                out.push_str(&format!("  {:>4}   ...\n", number(e)));
            }
            Diff::Cut(..) => {}
        }
        if !matches!(d, Diff::Cut(..)) {
            cut_shown = false;
        }
    }
    out
}

/// The quote rewritten from the diff: the lines that matched stay as the
/// handout wrote them, the rest become what the terminal showed.
pub(crate) fn rewrite(diff: &[Diff], quote: &[Quoted], actual: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut last_cut = None;
    for d in diff {
        match *d {
            Diff::Same(e, _) => out.push(quote[e].1.clone()),
            Diff::Missing(_) => {}
            Diff::Extra(a) => out.push(actual[a].clone()),
            Diff::Cut(e, _) => {
                if quote[e].0.is_some() && last_cut != Some(e) {
                    out.push(quote[e].1.clone());
                }
                last_cut = Some(e);
                continue;
            }
        }
        last_cut = None;
    }
    out
}
