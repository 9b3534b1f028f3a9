//! The instructor's code answers, proven: each piece is put where the
//! handout says, in a copy of the project under `target/handouts/`, and the
//! handout's own acceptance command must pass there. The copy is rewritten
//! only where it changed, so a second run compiles nothing new.
//!
//! Every answer is proven in the same copy, one at a time, with one target
//! folder: the dependencies are compiled once, and cargo, which decides what
//! to rebuild from the times of the source files it read last, sees each
//! answer's files as changed. (Copies at different paths sharing a target
//! folder would not be: cargo would compare the times of another copy's
//! files, and run a build of the answer before.)

use std::collections::HashMap;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::doc::Block;

/// The longest an acceptance command may take (the first run compiles the
/// copy's dependencies once; later runs reuse them).
const LIMIT: Duration = Duration::from_secs(600);

/// What a copy is made of: the parts of the project a build reads.
const PARTS: [&str; 6] = [
    "Cargo.toml",
    "Cargo.lock",
    "src",
    "tests",
    "examples",
    "benches",
];

#[derive(Debug)]
pub(crate) struct Answers {
    root: PathBuf,
    work: PathBuf,
    pieces: HashMap<String, Vec<(String, String, Block)>>,
}

/// Kills the command on drop, so a hung build cannot outlive the checker.
struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Answers {
    pub(crate) fn new(root: &Path) -> Answers {
        Answers {
            root: root.to_path_buf(),
            work: root.join("target/handouts/answer"),
            pieces: HashMap::new(),
        }
    }

    /// Notes that `block` goes into `file` after the first line containing `after`.
    pub(crate) fn add(
        &mut self,
        name: &str,
        file: &str,
        after: &str,
        block: &Block,
    ) -> Result<(), String> {
        let original = fs::read_to_string(self.root.join(file))
            .map_err(|e| format!("cannot read {file}: {e}"))?;
        if !original.lines().any(|l| l.contains(after)) {
            return Err(format!(
                "{file} has no line containing `{after}` to put this answer after"
            ));
        }
        self.pieces.entry(name.to_string()).or_default().push((
            file.to_string(),
            after.to_string(),
            block.clone(),
        ));
        Ok(())
    }

    /// Builds the copy with answer `name` in it and runs `command` there.
    pub(crate) fn prove(&self, name: &str, command: &str) -> Result<(), String> {
        // One copy for all: one answer at a time, whichever handout asks.
        static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());
        let _turn = ONE_AT_A_TIME
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let copy = &self.work;
        let mut patched: HashMap<String, Vec<String>> = HashMap::new();
        for (file, after, block) in self.pieces.get(name).into_iter().flatten() {
            let lines = patched.entry(file.clone()).or_insert_with(|| {
                fs::read_to_string(self.root.join(file))
                    .unwrap_or_default()
                    .lines()
                    .map(str::to_string)
                    .collect()
            });
            let at = lines
                .iter()
                .position(|l| l.contains(after.as_str()))
                .ok_or_else(|| {
                    format!(
                        "answer {name}: {file} has no line containing `{after}` (line {})",
                        block.first_line
                    )
                })?;
            for (i, line) in block.lines.iter().enumerate() {
                lines.insert(at + 1 + i, line.clone());
            }
        }
        let patched: HashMap<PathBuf, Vec<u8>> = patched
            .into_iter()
            .map(|(file, lines)| (copy.join(file), (lines.join("\n") + "\n").into_bytes()))
            .collect();
        for part in PARTS {
            mirror(&self.root.join(part), &copy.join(part), &patched)
                .map_err(|e| format!("cannot copy {part}: {e}"))?;
        }
        // `exec 2>&1` first, so that every command of a compound one
        // (`a && b`) reports into the same pipe, not only the last.
        let child = Command::new("sh")
            .args(["-c", &format!("exec 2>&1; {command}")])
            .current_dir(copy)
            // Its own target folder: a copy built in the project's would
            // replace the binaries the handouts are running.
            .env("CARGO_TARGET_DIR", self.root.join("target/handouts/target"))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot run `{command}`: {e}"))?;
        let mut guard = Guard(child);
        let mut stdout = guard.0.stdout.take().expect("piped");
        let reader = std::thread::spawn(move || {
            let mut text = String::new();
            let _ = stdout.read_to_string(&mut text);
            text
        });
        let deadline = Instant::now() + LIMIT;
        let status = loop {
            if let Some(status) = guard.0.try_wait().map_err(|e| e.to_string())? {
                break status;
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "answer {name}: `{command}` took more than {} s",
                    LIMIT.as_secs()
                ));
            }
            // A child cannot be waited on with a deadline in std.
            std::thread::sleep(Duration::from_millis(100));
        };
        let output = reader.join().unwrap_or_default();
        if status.success() && ran_a_test(&output) {
            return Ok(());
        }
        let tail: Vec<&str> = output
            .lines()
            .rev()
            .take(40)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        let how = if status.success() {
            "runs no test"
        } else {
            "fails"
        };
        Err(format!(
            "answer {name}: `{command}` {how} with the answer applied (in {}):\n  | {}",
            copy.display(),
            tail.join("\n  | ")
        ))
    }
}

/// True unless the output has test results and none of them ran a test: a
/// test name that matches nothing passes, and proves nothing.
fn ran_a_test(output: &str) -> bool {
    let passed: Vec<u64> = output
        .lines()
        .filter_map(|l| l.strip_prefix("test result: ok. "))
        .filter_map(|rest| rest.split(' ').next()?.parse().ok())
        .collect();
    passed.is_empty() || passed.iter().sum::<u64>() > 0
}

/// Makes `to` hold what `from` holds, or what `patched` says for a file,
/// touching only files that differ, and removing what `from` no longer has
/// (a file moved into a folder of its own would otherwise be found twice).
fn mirror(from: &Path, to: &Path, patched: &HashMap<PathBuf, Vec<u8>>) -> std::io::Result<()> {
    if from.is_dir() {
        if to.is_file() {
            fs::remove_file(to)?;
        }
        fs::create_dir_all(to)?;
        for entry in fs::read_dir(from)? {
            let entry = entry?;
            let name = entry.file_name();
            if name == "node_modules" {
                continue;
            }
            mirror(&entry.path(), &to.join(name), patched)?;
        }
        for entry in fs::read_dir(to)? {
            let entry = entry?;
            let name = entry.file_name();
            if name == "node_modules" || from.join(&name).exists() {
                continue;
            }
            if entry.file_type()?.is_dir() {
                fs::remove_dir_all(entry.path())?;
            } else {
                fs::remove_file(entry.path())?;
            }
        }
        Ok(())
    } else {
        if to.is_dir() {
            fs::remove_dir_all(to)?;
        }
        match patched.get(to) {
            Some(bytes) => write_if_changed(to, bytes),
            None => write_if_changed(to, &fs::read(from)?),
        }
    }
}

fn write_if_changed(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    if fs::read(path).ok().as_deref() == Some(bytes) {
        return Ok(());
    }
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir)?;
    }
    fs::write(path, bytes)
}
