//! Reads a handout: its fenced blocks and the `<!-- check: ... -->` comments
//! that say what to do with them, turned into the list of steps `script.rs`
//! carries out. Pure: text in, steps (or a complaint with a line number) out.

use std::time::Duration;

/// A fenced block: its info string and its lines, with the line number (from
/// 1) of its first line of content, the one a mismatch report names.
#[derive(Debug, Clone)]
pub(crate) struct Block {
    pub(crate) lang: String,
    pub(crate) first_line: usize,
    pub(crate) lines: Vec<String>,
}

/// A shell command to type: a block's lines, or one written in the comment
/// itself (a hidden step that sets the scene for a quoted output).
#[derive(Debug, Clone)]
pub(crate) struct Command {
    pub(crate) line: usize,
    pub(crate) text: String,
}

/// How a quoted output is compared (the words after `shows N`).
#[derive(Debug, Clone, Default)]
pub(crate) struct Compare {
    /// `numbers`: every number is a placeholder (counters, sizes, timings).
    pub(crate) numbers: bool,
    /// `spacing`: runs of spaces count as one (column layouts such as `ss`).
    pub(crate) spacing: bool,
    /// `output`: only what the last command in that terminal printed, all of it.
    pub(crate) output: bool,
    /// `sorted`: the lines in any order (tables a kernel prints in hash order).
    pub(crate) sorted: bool,
    /// `trimmed`: other lines may come between the quoted ones (a log
    /// interleaved with a program's output, cut from the quote).
    pub(crate) trimmed: bool,
    /// `again` (with `output`): the command is run again until its output
    /// matches, for a state that takes a moment to be reached (`ss`).
    pub(crate) again: bool,
    /// `sub \`A\` \`B\``: A in the quote stands for B on the screen.
    pub(crate) subs: Vec<(String, String)>,
    pub(crate) within: Option<Duration>,
}

/// One thing the checker does, in the handout's order.
#[derive(Debug, Clone)]
pub(crate) enum Action {
    /// Type the command and wait for the shell's prompt; it must exit with `exit`.
    Run {
        term: u32,
        command: Command,
        exit: i32,
        within: Option<Duration>,
        subs: Vec<(String, String)>,
    },
    /// Type the command and go on while it runs, once `until` (if given) shows.
    Start {
        term: u32,
        command: Command,
        until: Option<String>,
        within: Option<Duration>,
        subs: Vec<(String, String)>,
    },
    /// Type a line into the program running in the terminal.
    Type { term: u32, text: String },
    /// Press keys, named as tmux names them (`C-c`, `C-z`, `Enter`).
    Press { term: u32, keys: Vec<String> },
    /// Wait until the text shows in the terminal.
    Wait {
        term: u32,
        text: String,
        within: Option<Duration>,
    },
    /// The quoted output must show in the terminal.
    Shows {
        term: u32,
        block: Block,
        compare: Compare,
    },
    /// Blocks the checker cannot run unattended, and why.
    Skip { reason: String, blocks: Vec<Block> },
    /// An instructor's code answer, compiled and tested in a copy of the project.
    Answer {
        name: String,
        file: String,
        after: String,
        block: Block,
    },
    /// The command that proves the answers named so far (`cargo test ...`).
    Prove { name: String, command: String },
}

#[derive(Debug, Clone)]
pub(crate) struct Step {
    /// The line of the `check:` comment that asked for it.
    pub(crate) line: usize,
    pub(crate) action: Action,
}

#[derive(Debug)]
pub(crate) struct Doc {
    /// The path from the project's root, as reports name it.
    pub(crate) path: String,
    pub(crate) steps: Vec<Step>,
    /// Fenced blocks no comment claimed; a lab must have none.
    pub(crate) unclaimed: Vec<Block>,
}

/// A directive that still needs its block.
#[derive(Debug)]
enum Pending {
    Run(usize, u32, i32, Option<Duration>, Vec<(String, String)>),
    Start(
        usize,
        u32,
        Option<String>,
        Option<Duration>,
        Vec<(String, String)>,
    ),
    Shows(usize, u32, Compare),
    Skip(usize, String, usize),
    Answer(usize, String, String, String),
    /// A step that needs no block, written after one that does: it waits its turn.
    Now(Step),
}

/// Parses `text` (the file at `path`); errors name the line.
pub(crate) fn parse(path: &str, text: &str) -> Result<Doc, String> {
    let lines: Vec<&str> = text.lines().collect();
    let mut steps = Vec::new();
    let mut pending: Vec<Pending> = Vec::new();
    let mut unclaimed = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        if let Some(fence) = fence_of(line) {
            let lang = line.trim_start()[fence.len()..].trim().to_string();
            let start = i + 1;
            let mut end = start;
            while end < lines.len() && !lines[end].trim_start().starts_with(&fence) {
                end += 1;
            }
            let block = Block {
                lang,
                first_line: start + 1,
                lines: lines[start..end.min(lines.len())]
                    .iter()
                    .map(|l| l.to_string())
                    .collect(),
            };
            i = end + 1;
            if pending.is_empty() {
                unclaimed.push(block);
                continue;
            }
            let first = pending.remove(0);
            let flush = |steps: &mut Vec<Step>, pending: &mut Vec<Pending>| {
                while let Some(Pending::Now(_)) = pending.first() {
                    if let Pending::Now(step) = pending.remove(0) {
                        steps.push(step);
                    }
                }
            };
            match first {
                Pending::Run(l, term, exit, within, subs) => steps.push(Step {
                    line: l,
                    action: Action::Run {
                        term,
                        command: command_of(&block),
                        exit,
                        within,
                        subs,
                    },
                }),
                Pending::Start(l, term, until, within, subs) => steps.push(Step {
                    line: l,
                    action: Action::Start {
                        term,
                        command: command_of(&block),
                        until,
                        within,
                        subs,
                    },
                }),
                Pending::Shows(l, term, compare) => steps.push(Step {
                    line: l,
                    action: Action::Shows {
                        term,
                        block,
                        compare,
                    },
                }),
                Pending::Skip(l, reason, left) => {
                    match steps.last_mut() {
                        Some(Step {
                            line,
                            action: Action::Skip { blocks, .. },
                        }) if *line == l => blocks.push(block),
                        _ => steps.push(Step {
                            line: l,
                            action: Action::Skip {
                                reason: reason.clone(),
                                blocks: vec![block],
                            },
                        }),
                    }
                    if left > 1 {
                        pending.insert(0, Pending::Skip(l, reason, left - 1));
                    }
                }
                Pending::Answer(l, name, file, after) => steps.push(Step {
                    line: l,
                    action: Action::Answer {
                        name,
                        file,
                        after,
                        block,
                    },
                }),
                Pending::Now(_) => {
                    unreachable!("a queue never starts with a step that needs no block")
                }
            }
            flush(&mut steps, &mut pending);
            continue;
        }
        if let Some(rest) = line.trim_start().strip_prefix("<!-- check:") {
            let first = i + 1;
            let mut body = String::new();
            let mut rest = rest.to_string();
            loop {
                if let Some(end) = rest.find("-->") {
                    body.push_str(&rest[..end]);
                    break;
                }
                body.push_str(&rest);
                body.push('\n');
                i += 1;
                match lines.get(i) {
                    Some(l) => rest = l.to_string(),
                    None => {
                        return Err(format!("{path}:{first}: a check: comment that never ends"))
                    }
                }
            }
            i += 1;
            for (offset, directive) in split_directives(&body) {
                let at = first + offset;
                let words = tokens(&directive).map_err(|e| format!("{path}:{at}: {e}"))?;
                if words.is_empty() {
                    continue;
                }
                directive_to(&words, at, &mut steps, &mut pending)
                    .map_err(|e| format!("{path}:{at}: {e} (in `{}`)", directive.trim()))?;
            }
            continue;
        }
        i += 1;
    }
    if let Some(p) = pending.first() {
        let line = match p {
            Pending::Run(l, ..)
            | Pending::Start(l, ..)
            | Pending::Shows(l, ..)
            | Pending::Skip(l, ..)
            | Pending::Answer(l, ..) => *l,
            Pending::Now(step) => step.line,
        };
        return Err(format!(
            "{path}:{line}: this check: waits for a fenced block that never comes"
        ));
    }
    Ok(Doc {
        path: path.to_string(),
        steps,
        unclaimed,
    })
}

/// The opening fence of a block (three or more backticks), if `line` is one.
fn fence_of(line: &str) -> Option<String> {
    let t = line.trim_start();
    let ticks = t.chars().take_while(|&c| c == '`').count();
    (ticks >= 3).then(|| "`".repeat(ticks))
}

fn command_of(block: &Block) -> Command {
    Command {
        line: block.first_line,
        text: block.lines.join("\n"),
    }
}

/// Splits a comment's body into directives, at new lines and at `;` outside
/// backticks, each with its line offset in the comment.
fn split_directives(body: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut quoted = false;
    let mut offset = 0;
    let mut start = 0;
    for c in body.chars() {
        match c {
            '`' => {
                quoted = !quoted;
                current.push(c);
            }
            ';' | '\n' if !quoted => {
                out.push((start, std::mem::take(&mut current)));
                if c == '\n' {
                    offset += 1;
                }
                start = offset;
            }
            _ => current.push(c),
        }
    }
    out.push((start, current));
    out
}

/// A directive's words; a word in backticks is taken as written.
fn tokens(text: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
        } else if c == '`' {
            chars.next();
            let mut word = String::new();
            loop {
                match chars.next() {
                    Some('`') => break,
                    Some(c) => word.push(c),
                    None => return Err("a backtick that is never closed".into()),
                }
            }
            out.push(format!("`{word}"));
        } else {
            let mut word = String::new();
            while let Some(&c) = chars.peek() {
                if c.is_whitespace() || c == '`' {
                    break;
                }
                word.push(c);
                chars.next();
            }
            out.push(word);
        }
    }
    Ok(out)
}

/// The text of a backticked word, or an error naming what was expected.
fn quoted(word: Option<&String>, what: &str) -> Result<String, String> {
    match word.and_then(|w| w.strip_prefix('`')) {
        Some(text) => Ok(text.to_string()),
        None => Err(format!("expected {what} in backticks")),
    }
}

fn terminal(word: Option<&String>) -> Result<u32, String> {
    word.and_then(|w| w.parse().ok())
        .filter(|&n| (1..=9).contains(&n))
        .ok_or_else(|| "expected a terminal number, 1 to 9".to_string())
}

fn seconds(word: Option<&String>) -> Result<Duration, String> {
    word.and_then(|w| w.trim_end_matches('s').parse::<f64>().ok())
        .map(Duration::from_secs_f64)
        .ok_or_else(|| "expected seconds after `within`".to_string())
}

/// Turns one directive into a step now, or a pending one that takes the next block.
fn directive_to(
    words: &[String],
    line: usize,
    steps: &mut Vec<Step>,
    pending: &mut Vec<Pending>,
) -> Result<(), String> {
    let verb = words[0].as_str();
    let mut rest = words[1..].iter().peekable();
    let waiting = !pending.is_empty();
    let mut now = Vec::new();
    let mut push = |action| now.push(Step { line, action });
    match verb {
        "run" | "start" => {
            let term = terminal(rest.next())?;
            let inline = match rest.peek() {
                Some(w) if w.starts_with('`') => Some(quoted(rest.next(), "a command")?),
                _ => None,
            };
            let (mut exit, mut until, mut within, mut subs) = (0, None, None, Vec::new());
            while let Some(word) = rest.next() {
                match word.as_str() {
                    "exit" if verb == "run" => {
                        exit = rest
                            .next()
                            .and_then(|w| w.parse().ok())
                            .ok_or("expected a code after `exit`")?
                    }
                    "until" if verb == "start" => {
                        until = Some(quoted(rest.next(), "the text to wait for")?)
                    }
                    "within" => within = Some(seconds(rest.next())?),
                    "sub" => subs.push((
                        quoted(rest.next(), "the text")?,
                        quoted(rest.next(), "what it becomes")?,
                    )),
                    other => return Err(format!("unknown word `{other}`")),
                }
            }
            match (inline, verb) {
                (Some(text), "run") => push(Action::Run {
                    term,
                    command: Command { line, text },
                    exit,
                    within,
                    subs,
                }),
                (Some(text), _) => push(Action::Start {
                    term,
                    command: Command { line, text },
                    until,
                    within,
                    subs,
                }),
                (None, "run") => pending.push(Pending::Run(line, term, exit, within, subs)),
                (None, _) => pending.push(Pending::Start(line, term, until, within, subs)),
            }
        }
        "type" => {
            let term = terminal(rest.next())?;
            let text = quoted(rest.next(), "the line to type")?;
            push(Action::Type { term, text });
        }
        "press" => {
            let term = terminal(rest.next())?;
            let keys: Vec<String> = rest.cloned().collect();
            if keys.is_empty() {
                return Err("expected keys to press".into());
            }
            push(Action::Press { term, keys });
        }
        "wait" => {
            let term = terminal(rest.next())?;
            let text = quoted(rest.next(), "the text to wait for")?;
            let within = match rest.next().map(String::as_str) {
                Some("within") => Some(seconds(rest.next())?),
                None => None,
                Some(other) => return Err(format!("unknown word `{other}`")),
            };
            push(Action::Wait { term, text, within });
        }
        "shows" => {
            let term = terminal(rest.next())?;
            let mut compare = Compare::default();
            while let Some(word) = rest.next() {
                match word.as_str() {
                    "numbers" => compare.numbers = true,
                    "spacing" => compare.spacing = true,
                    "output" => compare.output = true,
                    "sorted" => compare.sorted = true,
                    "trimmed" => compare.trimmed = true,
                    "again" => compare.again = true,
                    "within" => compare.within = Some(seconds(rest.next())?),
                    "sub" => compare.subs.push((
                        quoted(rest.next(), "the text")?,
                        quoted(rest.next(), "what it stands for")?,
                    )),
                    other => return Err(format!("unknown word `{other}`")),
                }
            }
            pending.push(Pending::Shows(line, term, compare));
        }
        "skip" => {
            let count = match rest.peek() {
                Some(w) if !w.starts_with('`') => rest
                    .next()
                    .and_then(|w| w.parse().ok())
                    .ok_or("expected a count of blocks")?,
                _ => 1,
            };
            let reason = quoted(rest.next(), "the reason")?;
            pending.push(Pending::Skip(line, reason, count));
        }
        "answer" => {
            let name = rest.next().cloned().ok_or("expected the answer's name")?;
            let file = quoted(rest.next(), "the file it goes in")?;
            match rest.next().map(String::as_str) {
                Some("after") => {}
                _ => return Err("expected `after` and the line it follows".into()),
            }
            let after = quoted(rest.next(), "the line it follows")?;
            pending.push(Pending::Answer(line, name, file, after));
        }
        "prove" => {
            let name = rest.next().cloned().ok_or("expected the answer's name")?;
            let command = quoted(rest.next(), "the command")?;
            push(Action::Prove { name, command });
        }
        other => return Err(format!("unknown directive `{other}`")),
    }
    for step in now {
        if waiting {
            pending.push(Pending::Now(step));
        } else {
            steps.push(step);
        }
    }
    Ok(())
}
