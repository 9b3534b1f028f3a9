//! The handout checker: every command a handout in `docs/labs/` tells the
//! reader to run is run, in real terminals (tmux), and every output it
//! quotes is compared with what the programs print. The `<!-- check: ... -->`
//! comments in each handout say which terminal, when, and how to compare;
//! docs/labs/README.md ("Keeping the handouts true") explains them.
//!
//! One result per document, a few documents at a time ([`AT_ONCE`]); the
//! report ends
//! with the steps no machine can run unattended. `HANDOUTS=overwrite`
//! writes what the programs printed into the quotes that differ.

mod answers;
mod compare;
mod doc;
mod prose;
mod script;
mod shim;
mod terminal;
#[path = "../tools/mod.rs"]
mod tools;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::Instant;

use script::Report;

/// How many documents are checked at once. Labs 4, 6 and 7 and the
/// instructor's notes each flood a server; all eleven at once on a 2-core
/// machine starved lab 7's slow reader (a shell loop of `dd` and `sleep`)
/// long enough for the server to evict it, which the handout says it must
/// not. Three at a time, the longest first, take no longer in all.
const AT_ONCE: usize = 3;

/// The documents checked: every lab handout, the instructor's notes, and
/// the samples of the README and the protocol.
fn documents(root: &Path) -> Vec<String> {
    let mut labs: Vec<String> = std::fs::read_dir(root.join("docs/labs"))
        .map(|dir| {
            dir.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.ends_with(".md"))
                .map(|n| format!("docs/labs/{n}"))
                .collect()
        })
        .unwrap_or_default();
    labs.sort();
    labs.extend(["README.md".to_string(), "docs/PROTOCOL.md".to_string()]);
    labs
}

/// The example and the benchmark the handouts run, built as `cargo test`
/// builds its targets (the dev profile: a release build would take minutes).
fn build_extras(root: &Path) -> Result<(String, String), String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(&cargo)
        .args([
            "build",
            "--example",
            "misbehave",
            "--bench",
            "fanout",
            "--message-format=json",
        ])
        .current_dir(root)
        .output()
        .map_err(|e| format!("cannot run {cargo}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "cargo build --example misbehave --bench fanout failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let (mut misbehave, mut fanout) = (None, None);
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let Ok(message) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        let (Some(name), Some(exe)) = (
            message["target"]["name"].as_str(),
            message["executable"].as_str(),
        ) else {
            continue;
        };
        match name {
            "misbehave" => misbehave = Some(exe.to_string()),
            "fanout" => fanout = Some(exe.to_string()),
            _ => {}
        }
    }
    Ok((
        misbehave.ok_or("no misbehave executable")?,
        fanout.ok_or("no fanout executable")?,
    ))
}

/// Writes the quotes that differed back into their handouts.
fn overwrite(root: &Path, path: &str, report: &Report) -> std::io::Result<()> {
    let file = root.join(path);
    let text = std::fs::read_to_string(&file)?;
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let mut edits: Vec<&script::Edit> = report.edits.iter().collect();
    edits.sort_by_key(|e| std::cmp::Reverse(e.first_line));
    for edit in edits {
        let start = edit.first_line - 1;
        lines.splice(start..start + edit.old_len, edit.lines.iter().cloned());
    }
    std::fs::write(file, lines.join("\n") + "\n")
}

fn main() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let args: Vec<String> = std::env::args().skip(1).collect();
    let filters: Vec<&String> = args.iter().filter(|a| !a.starts_with('-')).collect();
    let all = documents(&root);
    if args.iter().any(|a| a == "--list") {
        for path in &all {
            println!("{path}: test");
        }
        return;
    }
    let chosen: Vec<String> = all
        .iter()
        .filter(|p| filters.is_empty() || filters.iter().any(|f| p.contains(f.as_str())))
        .cloned()
        .collect();
    let filtered_out = all.len() - chosen.len();
    let started = Instant::now();
    println!("\nrunning {} handouts", chosen.len());
    if chosen.is_empty() {
        println!("\ntest result: ok. 0 passed; 0 failed; 0 ignored; 0 measured; {filtered_out} filtered out; finished in 0.00s\n");
        return;
    }
    if !tools::tmux_ready("handouts") {
        println!("\ntest result: ok. 0 passed; 0 failed; {} ignored; 0 measured; {filtered_out} filtered out; finished in 0.00s\n", chosen.len());
        return;
    }
    let (misbehave, fanout) = match build_extras(&root) {
        Ok(paths) => paths,
        Err(e) => {
            println!("cannot build what the handouts run: {e}");
            std::process::exit(101);
        }
    };
    let programs = shim::Programs {
        server: env!("CARGO_BIN_EXE_server").to_string(),
        client: env!("CARGO_BIN_EXE_client").to_string(),
        misbehave,
        fanout,
        cargo: std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()),
    };
    let placeholders = compare::Placeholders::new();
    let (done_tx, done_rx) = mpsc::channel();
    // The longest documents first, so the last one to start is a short one.
    let mut queue = chosen.clone();
    queue
        .sort_by_key(|p| std::cmp::Reverse(std::fs::metadata(root.join(p)).map_or(0, |m| m.len())));
    let next = AtomicUsize::new(0);
    std::thread::scope(|scope| {
        for _ in 0..AT_ONCE.min(queue.len()) {
            let (done_tx, root, programs, placeholders, queue, next) = (
                done_tx.clone(),
                &root,
                &programs,
                &placeholders,
                &queue,
                &next,
            );
            scope.spawn(move || {
                while let Some(path) = queue.get(next.fetch_add(1, Ordering::Relaxed)) {
                    let began = Instant::now();
                    let report =
                        std::panic::catch_unwind(|| check(path, root, programs, placeholders))
                            .unwrap_or_else(|_| Report {
                                failures: vec![format!("{path}: the checker panicked (see above)")],
                                ..Report::default()
                            });
                    let _ = done_tx.send((path.clone(), report, began.elapsed()));
                }
            });
        }
        drop(done_tx);
        let mut reports = Vec::new();
        for (path, report, took) in done_rx {
            let verdict = if report.failures.is_empty() {
                "ok"
            } else {
                "FAILED"
            };
            println!(
                "handout {path} ... {verdict} ({} steps, {:.1} s)",
                report.steps,
                took.as_secs_f64()
            );
            let _ = std::io::stdout().flush();
            reports.push((path, report));
        }
        reports.sort_by(|a, b| a.0.cmp(&b.0));
        finish(&root, &reports, filtered_out, started);
    });
}

/// Parses and runs one document.
fn check(
    path: &str,
    root: &Path,
    programs: &shim::Programs,
    placeholders: &compare::Placeholders,
) -> Report {
    let text = match std::fs::read_to_string(root.join(path)) {
        Ok(text) => text,
        Err(e) => {
            return Report {
                failures: vec![format!("{path}: cannot read it: {e}")],
                ..Report::default()
            }
        }
    };
    let mut failures = prose::check(path, &text, root);
    let doc = match doc::parse(path, &text) {
        Ok(doc) => doc,
        Err(e) => {
            failures.push(e);
            return Report {
                failures,
                ..Report::default()
            };
        }
    };
    // A handout with checks must be checked whole: every command and quote.
    if path.starts_with("docs/labs/") && !doc.steps.is_empty() {
        // Commands and quoted outputs; other blocks (Rust, Markdown) are prose.
        for block in doc
            .unclaimed
            .iter()
            .filter(|b| b.lang == "sh" || b.lang == "text")
        {
            failures.push(format!(
                "{path}:{}: a ```{} block with no check: comment (say how to run or compare it, or skip it with the reason)",
                block.first_line, block.lang
            ));
        }
    }
    let state = root
        .join("target/handouts/run")
        .join(path.replace('/', "-"));
    let mut report = if doc.steps.is_empty() {
        Report::default()
    } else {
        script::run(&doc, &state, root, programs, placeholders)
    };
    failures.append(&mut report.failures);
    report.failures = failures;
    report
}

fn finish(root: &Path, reports: &[(String, Report)], filtered_out: usize, started: Instant) {
    let failed: Vec<&(String, Report)> = reports
        .iter()
        .filter(|(_, r)| !r.failures.is_empty())
        .collect();
    if !failed.is_empty() {
        println!("\nfailures:\n");
        for (_, report) in &failed {
            for failure in &report.failures {
                println!("{failure}\n");
            }
        }
        if std::env::var("HANDOUTS").as_deref() == Ok("overwrite") {
            for (path, report) in &failed {
                if report.edits.is_empty() {
                    continue;
                }
                match overwrite(root, path, report) {
                    Ok(()) => println!("HANDOUTS=overwrite: wrote {} quote(s) into {path}; check them with git diff", report.edits.len()),
                    Err(e) => println!("HANDOUTS=overwrite: cannot write {path}: {e}"),
                }
            }
        } else {
            println!("To take what the programs printed into the quotes that differ: HANDOUTS=overwrite cargo test --test handouts");
        }
    }
    let skipped: Vec<String> = reports
        .iter()
        .flat_map(|(path, r)| {
            r.skipped.iter().map(move |(lines, reason)| {
                let lines: Vec<String> = lines.iter().map(usize::to_string).collect();
                format!("  {path}:{}: {reason}", lines.join(","))
            })
        })
        .collect();
    println!(
        "\nnot run, by design ({} steps; each is marked `skip` in its handout):",
        skipped.len()
    );
    for line in &skipped {
        println!("{line}");
    }
    let verdict = if failed.is_empty() { "ok" } else { "FAILED" };
    println!(
        "\ntest result: {verdict}. {} passed; {} failed; 0 ignored; 0 measured; {filtered_out} filtered out; finished in {:.2}s\n",
        reports.len() - failed.len(),
        failed.len(),
        started.elapsed().as_secs_f64()
    );
    if !failed.is_empty() {
        std::process::exit(101);
    }
}
