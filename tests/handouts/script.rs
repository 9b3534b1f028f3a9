//! Carries out one handout's steps in its terminals, in order, and collects
//! what did not match. Commands are typed as written, except that the
//! handout's ports (9000, 8080) become the ones the server really got.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use regex::Regex;

use crate::answers::Answers;
use crate::compare::{self, Diff, Placeholders};
use crate::doc::{Action, Block, Command, Compare, Doc};
use crate::shim::Programs;
use crate::terminal::Terminals;

/// How long a quoted output, a `wait` or a server's start may take by default.
const WAIT: Duration = Duration::from_secs(10);
/// How long a `run` command may take by default.
const RUN: Duration = Duration::from_secs(30);

/// A quote to write back into its handout (`HANDOUTS=overwrite`).
#[derive(Debug)]
pub(crate) struct Edit {
    pub(crate) first_line: usize,
    pub(crate) old_len: usize,
    pub(crate) lines: Vec<String>,
}

/// What running one handout found.
#[derive(Debug, Default)]
pub(crate) struct Report {
    pub(crate) failures: Vec<String>,
    /// Blocks not run: the first line of each, and why.
    pub(crate) skipped: Vec<(Vec<usize>, String)>,
    pub(crate) edits: Vec<Edit>,
    pub(crate) steps: usize,
}

#[derive(Debug, Default)]
struct Term {
    /// Where the next quote is looked for: past the last one found.
    cursor: usize,
    /// The last line when the checker last typed here: `wait` looks from it.
    mark: usize,
    /// The last command typed at the prompt, as shown, and as typed.
    last_command: String,
    last_typed: String,
}

struct Run<'a> {
    doc: &'a Doc,
    terminals: Terminals,
    state: PathBuf,
    placeholders: &'a Placeholders,
    answers: Answers,
    /// Ports the handout's servers listened on (shown as 9000), and their dashboards' (8080).
    chat_ports: Vec<u16>,
    dashboard_ports: Vec<u16>,
    /// The terminal the server was started in: `pgrep -x server` looks in its session.
    server_term: Option<u32>,
    terms: HashMap<u32, Term>,
    report: Report,
    listening: Regex,
    dashboard: Regex,
}

/// Runs every step of `doc`; `state` is a folder of its own.
pub(crate) fn run(
    doc: &Doc,
    state: &Path,
    root: &Path,
    programs: &Programs,
    placeholders: &Placeholders,
) -> Report {
    let _ = fs::remove_dir_all(state);
    if let Err(e) = fs::create_dir_all(state) {
        return Report {
            failures: vec![format!(
                "{}: cannot make {}: {e}",
                doc.path,
                state.display()
            )],
            ..Report::default()
        };
    }
    let bin = match crate::shim::write(state, programs) {
        Ok(bin) => bin,
        Err(e) => {
            return Report {
                failures: vec![format!("{}: cannot write the cargo shim: {e}", doc.path)],
                ..Report::default()
            }
        }
    };
    let path = format!("{bin}:{}", std::env::var("PATH").unwrap_or_default());
    let env = vec![
        ("PATH".to_string(), path),
        ("LANG".to_string(), "C.UTF-8".to_string()),
    ];
    // From the whole path: README.md and docs/labs/README.md run at the
    // same time, and each needs a tmux server and an answers folder of its own.
    let name = doc.path.trim_end_matches(".md").replace('/', "-");
    let mut run = Run {
        doc,
        terminals: Terminals::new(&name, state, root, env),
        state: state.to_path_buf(),
        placeholders,
        answers: Answers::new(root),
        chat_ports: Vec::new(),
        dashboard_ports: Vec::new(),
        server_term: None,
        terms: HashMap::new(),
        report: Report::default(),
        listening: Regex::new(r"listening on (\S+):(\d+)$").expect("a valid pattern"),
        dashboard: Regex::new(r"dashboard on http://\S+:(\d+)/").expect("a valid pattern"),
    };
    for step in &doc.steps {
        run.report.steps += 1;
        let at = format!("{}:{}", doc.path, step.line);
        match run.step(&step.action) {
            Ok(()) => {}
            Err(Stop::Mismatch(text)) => run.report.failures.push(text),
            Err(Stop::Broken(text)) => {
                run.report.failures.push(format!(
                    "{at}: {text}\n  (the rest of {} was not run)",
                    doc.path
                ));
                break;
            }
        }
        if run.report.failures.len() >= 8 {
            run.report
                .failures
                .push(format!("{}: stopped after 8 failures", doc.path));
            break;
        }
    }
    drop(run.terminals);
    run.report
}

/// Why a step failed: a quote that differs (the handout goes on), or a
/// step that leaves the terminals in an unknown state (it stops).
enum Stop {
    Mismatch(String),
    Broken(String),
}

impl Run<'_> {
    fn step(&mut self, action: &Action) -> Result<(), Stop> {
        match action {
            Action::Run {
                term,
                command,
                exit,
                within,
                subs,
            } => {
                self.type_command(*term, command, subs)?;
                let limit = within.unwrap_or(RUN);
                let (terminals, t) = (&self.terminals, *term);
                terminals
                    .wait_until(limit, || Ok(terminals.idle(t)))
                    .map_err(|_| {
                        Stop::Broken(format!(
                            "`{}` in terminal {term} did not end within {} s{}",
                            command.text,
                            limit.as_secs(),
                            self.tail(*term)
                        ))
                    })?;
                let status = self.terminals.statuses(*term).last().copied().unwrap_or(-1);
                if status != *exit {
                    return Err(Stop::Broken(format!(
                        "`{}` in terminal {term} exited with {status}, the handout expects {exit}{}",
                        command.text,
                        self.tail(*term)
                    )));
                }
                Ok(())
            }
            Action::Start {
                term,
                command,
                until,
                within,
                subs,
            } => {
                self.type_command(*term, command, subs)?;
                if let Some(text) = until {
                    self.wait(*term, text, within.unwrap_or(WAIT))?;
                }
                Ok(())
            }
            Action::Type { term, text } => {
                self.set_mark(*term)?;
                self.terminals.type_line(*term, text).map_err(Stop::Broken)
            }
            Action::Press { term, keys } => {
                self.set_mark(*term)?;
                self.terminals.keys(*term, keys).map_err(Stop::Broken)
            }
            Action::Wait { term, text, within } => self.wait(*term, text, within.unwrap_or(WAIT)),
            Action::Shows {
                term,
                block,
                compare,
            } => self.shows(*term, block, compare),
            Action::Skip { reason, blocks } => {
                // One entry per reason: a step's command and its output are one step.
                let lines = blocks.iter().map(|b| b.first_line);
                match self.report.skipped.iter_mut().find(|(_, r)| r == reason) {
                    Some((known, _)) => known.extend(lines),
                    None => self.report.skipped.push((lines.collect(), reason.clone())),
                }
                Ok(())
            }
            Action::Answer {
                name,
                file,
                after,
                block,
            } => self.answers.add(name, file, after, block).map_err(|e| {
                Stop::Mismatch(format!("{}:{}: {e}", self.doc.path, block.first_line))
            }),
            Action::Prove { name, command } => {
                self.answers.prove(name, command).map_err(Stop::Mismatch)
            }
        }
    }

    fn set_mark(&mut self, term: u32) -> Result<(), Stop> {
        let lines = self.screen(term)?.len();
        self.terms.entry(term).or_default().mark = lines.saturating_sub(1);
        Ok(())
    }

    /// The terminal's lines, the real ports shown as the handout's.
    fn screen(&mut self, term: u32) -> Result<Vec<String>, Stop> {
        let lines = self.terminals.screen(term).map_err(Stop::Broken)?;
        Ok(lines.into_iter().map(|l| self.as_in_handout(&l)).collect())
    }

    fn as_in_handout(&self, line: &str) -> String {
        let mut line = line.to_string();
        for (ports, shown) in [(&self.chat_ports, "9000"), (&self.dashboard_ports, "8080")] {
            for port in ports.iter() {
                let re = Regex::new(&format!(r"\b{port}\b")).expect("a valid pattern");
                line = re.replace_all(&line, shown).into_owned();
            }
        }
        line
    }

    /// The command as typed: the real ports, and `pgrep` kept to this handout's server.
    fn as_typed(&self, text: &str) -> String {
        let mut text = text.replace("grep 9000", "grep -w 9000");
        if let Some(&port) = self.chat_ports.last() {
            text = Regex::new(r"\b9000\b")
                .expect("valid")
                .replace_all(&text, port.to_string())
                .into_owned();
        }
        let dashboard = self.dashboard_ports.last().copied().unwrap_or(0);
        text = Regex::new(r"\b8080\b")
            .expect("valid")
            .replace_all(&text, dashboard.to_string())
            .into_owned();
        if let Some(sid) = self.server_term.and_then(|t| self.terminals.shell_pid(t)) {
            text = text.replace("pgrep -x server", &format!("pgrep -x -s {sid} server"));
        }
        text
    }

    fn type_command(
        &mut self,
        term: u32,
        command: &Command,
        subs: &[(String, String)],
    ) -> Result<(), Stop> {
        let (t, path) = (term, self.doc.path.clone());
        self.terminals.open(term).map_err(Stop::Broken)?;
        let terminals = &self.terminals;
        terminals
            .wait_until(WAIT, || Ok(terminals.idle(t)))
            .map_err(|_| {
                Stop::Broken(format!(
                    "terminal {term} is still busy, so `{}` cannot be typed{}",
                    command.text,
                    self.tail(term)
                ))
            })?;
        let mut text = command.text.clone();
        for (from, to) in subs {
            text = text.replace(from, to);
        }
        let typed = self.as_typed(&text);
        self.set_mark(term)?;
        let shown = self.as_in_handout(typed.lines().next().unwrap_or(""));
        let state = self.terms.entry(term).or_default();
        state.last_command = shown;
        state.last_typed = typed.clone();
        self.terminals.command(term, &typed).map_err(Stop::Broken)?;
        if typed.contains("--bin server") {
            self.server_started(term, &typed)
                .map_err(|e| Stop::Broken(format!("{path}:{}: {e}", command.line)))?;
        }
        Ok(())
    }

    /// Waits for the server's `listening on` line and learns its port (and
    /// its dashboard's), pinning the first so a restarted server gets it again.
    fn server_started(&mut self, term: u32, typed: &str) -> Result<(), String> {
        self.server_term = Some(term);
        let mark = self.terms.get(&term).map_or(0, |t| t.mark);
        let deadline = Instant::now() + WAIT;
        let mut chat = None;
        let mut dashboard = None;
        loop {
            let lines = self.terminals.screen(term)?;
            for line in lines.iter().skip(mark) {
                if let Some(c) = self.listening.captures(line) {
                    chat = c[2].parse::<u16>().ok();
                }
                if let Some(c) = self.dashboard.captures(line) {
                    dashboard = c[1].parse::<u16>().ok();
                }
                if line.contains("cannot listen") || line.contains("cannot serve") {
                    return Err(format!("the server did not start: {line}"));
                }
            }
            if chat.is_some() && (dashboard.is_some() || !typed.contains("--dashboard")) {
                break;
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "the server never said `listening on`{}",
                    self.tail(term)
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let chat = chat.expect("found above");
        if !self.chat_ports.contains(&chat) {
            self.chat_ports.push(chat);
        }
        let pin = self.state.join("port");
        if !pin.exists() {
            fs::write(&pin, chat.to_string()).map_err(|e| format!("cannot pin the port: {e}"))?;
        }
        if let Some(d) = dashboard {
            if !self.dashboard_ports.contains(&d) {
                self.dashboard_ports.push(d);
            }
        }
        Ok(())
    }

    fn wait(&mut self, term: u32, text: &str, limit: Duration) -> Result<(), Stop> {
        let mark = self.terms.get(&term).map_or(0, |t| t.mark);
        let deadline = Instant::now() + limit;
        loop {
            let lines = self.screen(term)?;
            if lines.iter().skip(mark).any(|l| l.contains(text)) {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(Stop::Broken(format!(
                    "terminal {term} never showed `{text}` within {} s{}",
                    limit.as_secs(),
                    self.tail(term)
                )));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The last lines of a terminal, for a report.
    fn tail(&self, term: u32) -> String {
        let lines = self.terminals.screen(term).unwrap_or_default();
        let from = lines.len().saturating_sub(15);
        let mut out = format!("\n  terminal {term} ends with:\n");
        for line in &lines[from..] {
            out.push_str(&format!("  | {}\n", self.as_in_handout(line)));
        }
        out
    }

    fn shows(&mut self, term: u32, block: &Block, compare: &Compare) -> Result<(), Stop> {
        // The quote as written, each line with its number in the handout.
        let mut written: Vec<compare::Quoted> = Vec::new();
        for (i, line) in block.lines.iter().enumerate() {
            if compare.trimmed && i > 0 {
                written.push((None, "...".to_string()));
            }
            written.push((Some(block.first_line + i), line.clone()));
        }
        let quote: Vec<String> = written
            .iter()
            .map(|(_, l)| {
                let mut l = l.clone();
                for (from, to) in &compare.subs {
                    l = l.replace(from, to);
                }
                self.placeholders.normalise(&l, compare)
            })
            .collect();
        let limit = compare.within.unwrap_or(WAIT);
        let deadline = Instant::now() + limit;
        loop {
            let screen = self.screen(term)?;
            let state = self.terms.entry(term).or_default();
            let (from, to) = if compare.output {
                output_of(&screen, &state.last_command)
            } else {
                (state.cursor.min(screen.len()), screen.len())
            };
            let window = &screen[from..to];
            let seen: Vec<String> = window
                .iter()
                .map(|l| self.placeholders.normalise(l, compare))
                .collect();
            let found = if compare.sorted && !compare.output {
                // Lines printed by threads in any order: some run of as
                // many lines must hold the same lines.
                let n = quote.len();
                let mut want = quote.clone();
                want.sort();
                (0..=seen.len().saturating_sub(n))
                    .find(|&at| {
                        let mut run = seen
                            .get(at..at + n)
                            .map(<[String]>::to_vec)
                            .unwrap_or_default();
                        run.sort();
                        run == want
                    })
                    .map(|at| at + n)
                    .ok_or_else(|| compare::find(&quote, &seen).err().unwrap_or_default())
            } else if compare.sorted {
                compare::find_sorted(&quote, &seen).map(|()| seen.len())
            } else {
                compare::find(&quote, &seen)
            };
            match found {
                Ok(end) => {
                    if !compare.output {
                        // The screen's last line may be an input line that
                        // the next incoming line replaces: it stays in view.
                        let last = screen.len().saturating_sub(1);
                        self.terms.entry(term).or_default().cursor = (from + end).min(last);
                    }
                    return Ok(());
                }
                Err(_) if compare.again && Instant::now() < deadline => {
                    // A poll interval between two runs, not a synchronisation.
                    std::thread::sleep(Duration::from_millis(200));
                    let typed = self.terms.entry(term).or_default().last_typed.clone();
                    self.terminals.command(term, &typed).map_err(Stop::Broken)?;
                    let terminals = &self.terminals;
                    terminals
                        .wait_until(RUN, || Ok(terminals.idle(term)))
                        .map_err(|_| Stop::Broken(format!("`{typed}` did not end")))?;
                }
                Err(diff) if compare.output || Instant::now() > deadline => {
                    let text = self.mismatch(term, block, &written, &diff, window, compare, limit);
                    return Err(Stop::Mismatch(text));
                }
                Err(_) => std::thread::sleep(Duration::from_millis(50)),
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn mismatch(
        &mut self,
        term: u32,
        block: &Block,
        written: &[compare::Quoted],
        diff: &[Diff],
        window: &[String],
        compare: &Compare,
        limit: Duration,
    ) -> String {
        let mut shown: Vec<String> = window.to_vec();
        for line in &mut shown {
            for (from, to) in &compare.subs {
                *line = line.replace(to.as_str(), from);
            }
        }
        let what = if compare.output {
            "the last command's output".to_string()
        } else {
            format!("terminal {term} (waited {} s)", limit.as_secs())
        };
        let mut text = format!(
            "{}:{}: the quoted output (-) differs from {what} (+):\n{}",
            self.doc.path,
            block.first_line,
            compare::render(diff, written, &shown)
        );
        if !diff.iter().any(|d| matches!(d, Diff::Same(..))) {
            text.push_str(&self.tail(term));
        }
        let lines = if compare.output {
            shown.clone()
        } else {
            compare::rewrite(diff, written, &shown)
        };
        self.report.edits.push(Edit {
            first_line: block.first_line,
            old_len: block.lines.len(),
            lines,
        });
        text
    }
}

/// Where the output of `command` (the last one typed) is on the screen: the
/// lines after its prompt line, up to the next prompt.
fn output_of(screen: &[String], command: &str) -> (usize, usize) {
    let typed = format!("$ {command}");
    let Some(at) = screen
        .iter()
        .rposition(|l| l.ends_with(&typed) || l.contains(&typed))
    else {
        return (screen.len(), screen.len());
    };
    let end = screen[at + 1..]
        .iter()
        .position(|l| l == "$" || l.starts_with("$ "))
        .map_or(screen.len(), |p| at + 1 + p);
    (at + 1, end)
}
