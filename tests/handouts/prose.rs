//! The claims in a handout's prose that can be checked without running
//! anything: every project path it names exists, every link to a file or a
//! heading leads somewhere, and every name it places in a file
//! (`Session::on_chunk` in `src/server/reader/mod.rs`) is in that file.

use std::fs;
use std::path::Path;

use regex::Regex;

/// Every complaint, as `path:line: what`.
pub(crate) fn check(path: &str, text: &str, root: &Path) -> Vec<String> {
    let code_path = Regex::new(r"`((?:src|tests|benches|examples|docs)/[\w./-]*)`").expect("valid");
    let placed = Regex::new(r"`([A-Za-z_][\w]*(?:::[A-Za-z_]\w*)*)(?:\(\))?`,? (?:in|\()`((?:src|tests|benches|examples)/[\w./-]+\.rs)`")
        .expect("valid");
    let link = Regex::new(r"\]\(([^)\s]+)\)").expect("valid");
    let dir = Path::new(path).parent().unwrap_or(Path::new(""));
    let mut out = Vec::new();
    let mut fenced = false;
    for (n, line) in text.lines().enumerate() {
        let at = format!("{path}:{}", n + 1);
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
            continue;
        }
        if fenced {
            continue;
        }
        for c in code_path.captures_iter(line) {
            if !root.join(&c[1]).exists() {
                out.push(format!("{at}: `{}` does not exist", &c[1]));
            }
        }
        for c in placed.captures_iter(line) {
            let file = root.join(&c[2]);
            let Ok(source) = fs::read_to_string(&file) else {
                continue;
            };
            for part in c[1].split("::") {
                let word = Regex::new(&format!(r"\b{part}\b")).expect("valid");
                if !word.is_match(&source) {
                    out.push(format!(
                        "{at}: `{}` is named in `{}`, which has no `{part}`",
                        &c[1], &c[2]
                    ));
                }
            }
        }
        for c in link.captures_iter(line) {
            let target = &c[1];
            if target.contains("://") || target.starts_with("mailto:") {
                continue;
            }
            let (file, anchor) = match target.split_once('#') {
                Some((f, a)) => (f, Some(a)),
                None => (target, None),
            };
            let file = if file.is_empty() {
                root.join(path)
            } else {
                root.join(dir).join(file)
            };
            if !file.exists() {
                out.push(format!("{at}: the link `{target}` leads nowhere"));
                continue;
            }
            if let Some(anchor) = anchor {
                let headings = fs::read_to_string(&file).unwrap_or_default();
                if !headings
                    .lines()
                    .filter(|l| l.starts_with('#'))
                    .any(|h| slug(h) == anchor)
                {
                    out.push(format!(
                        "{at}: the link `{target}` names a heading that does not exist"
                    ));
                }
            }
        }
    }
    out
}

/// A heading's anchor as GitHub makes it: lower case, punctuation dropped,
/// spaces as hyphens.
fn slug(heading: &str) -> String {
    heading
        .trim_start_matches('#')
        .trim()
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
            _ => None,
        })
        .collect()
}
