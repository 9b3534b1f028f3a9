//! The instructor's code answers, proven: each piece is put where the
//! handout says, in a copy of the project under `target/handouts/`, and the
//! handout's own acceptance command must pass there. The copy is rewritten
//! only where it changed, so a second run compiles nothing new.

use std::collections::HashMap;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
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
    pub(crate) fn new(root: &Path, doc: &str) -> Answers {
        Answers {
            root: root.to_path_buf(),
            work: root.join("target/handouts").join(doc),
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
        let copy = self.work.join(name);
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
            .current_dir(&copy)
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
        if status.success() {
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
        Err(format!(
            "answer {name}: `{command}` fails with the answer applied (in {}):\n  | {}",
            copy.display(),
            tail.join("\n  | ")
        ))
    }
}

/// Makes `to` hold what `from` holds, or what `patched` says for a file,
/// touching only files that differ.
fn mirror(from: &Path, to: &Path, patched: &HashMap<PathBuf, Vec<u8>>) -> std::io::Result<()> {
    if from.is_dir() {
        fs::create_dir_all(to)?;
        for entry in fs::read_dir(from)? {
            let entry = entry?;
            let name = entry.file_name();
            if name == "node_modules" {
                continue;
            }
            mirror(&entry.path(), &to.join(name), patched)?;
        }
        Ok(())
    } else {
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
