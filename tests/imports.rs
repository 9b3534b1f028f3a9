//! Imports point down: no circle of files in `src/` that import one another,
//! counting `super::` too (STYLE.md). The checker is here, in portable Rust
//! run by `cargo test`: it reads each file, maps it to its module, finds every
//! path that reaches another file, and fails naming the files of each circle
//! and the lines that close it. Its own tests run it on small made-up trees,
//! so it cannot pass by seeing nothing.
//!
//! What counts as an import of another file, `B`, from a file `A`:
//! - a `use` of a path into `B`: `use crate::…`, `use super::…`, `use self::…`,
//!   and a parent's `use child::…` (the same as `use self::child::…`);
//! - such a path in code: `crate::a::b(…)`, `super::x`, `self::child::f`,
//!   `child::f` in the parent.
//!
//! A path leads to the file of the deepest module it names: `super::name` is
//! the sibling `name.rs` when `name` is a module, and the parent's own file
//! when `name` is an item defined (or re-exported) there. A parent's
//! `mod child;` declares, and does not import. Comments, doc comments and
//! string literals are skipped, so a doc link is not an import.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::Path;

/// A module: its path below the crate root (`["server", "reader"]`).
type ModPath = Vec<String>;

/// Where one import is written: the line, and the path as written.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Evidence {
    line: usize,
    path: String,
}

/// Every import between two different files, with where each is written.
#[derive(Debug, Default)]
struct Graph {
    /// `from` file, `to` file, each place `from` names something in `to`.
    edges: BTreeMap<(String, String), Vec<Evidence>>,
}

/// The import graph of a crate whose files (path below `src/`, text) are given.
fn graph(files: &BTreeMap<String, String>) -> Graph {
    let modules = module_map(files);
    let mut graph = Graph::default();
    for (file, text) in files {
        let here = file_module(file);
        for (module, path, line) in paths(&tokens(text), &here) {
            if let Some(target) = resolve(&modules, &module, &path) {
                if &target != file {
                    graph
                        .edges
                        .entry((file.clone(), target))
                        .or_default()
                        .push(Evidence {
                            line,
                            path: path.join("::"),
                        });
                }
            }
        }
    }
    graph
}

/// The module a file holds, from its path: `lib.rs` is the crate root,
/// `a/mod.rs` and `a.rs` are `a`, `a/b.rs` is `a::b`.
fn file_module(file: &str) -> ModPath {
    let without = file.strip_suffix(".rs").expect("a .rs file");
    let mut parts: ModPath = without.split('/').map(str::to_string).collect();
    if parts == ["lib"] || parts.last().is_some_and(|last| last == "mod") {
        parts.pop();
    }
    parts
}

/// Every module of the crate, with the file it lives in: one per file, and
/// one per inline `mod name { … }` (which lives in its parent's file).
fn module_map(files: &BTreeMap<String, String>) -> BTreeMap<ModPath, String> {
    let mut modules = BTreeMap::new();
    for (file, text) in files {
        let here = file_module(file);
        modules.insert(here.clone(), file.clone());
        for inline in inline_modules(&tokens(text), &here) {
            modules.insert(inline, file.clone());
        }
    }
    modules
}

/// A token of Rust source, as far as paths need: comments, strings and
/// characters are gone, and whatever cannot be part of a path is `Other`.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Ident(String),
    /// `::`
    PathSep,
    Open,
    Close,
    Semi,
    Comma,
    Star,
    Other,
}

/// The tokens of `text`, each with its line number (from 1).
fn tokens(text: &str) -> Vec<(Token, usize)> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let (mut i, mut line) = (0, 1);
    // Moves past `n` characters, counting the lines they end.
    let advance = |i: &mut usize, line: &mut usize, n: usize| {
        for _ in 0..n {
            if chars.get(*i) == Some(&'\n') {
                *line += 1;
            }
            *i += 1;
        }
    };
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            // Block comments nest in Rust.
            let mut depth = 0;
            while i < chars.len() {
                if chars[i] == '/' && chars.get(i + 1) == Some(&'*') {
                    depth += 1;
                    advance(&mut i, &mut line, 2);
                } else if chars[i] == '*' && chars.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    advance(&mut i, &mut line, 2);
                    if depth == 0 {
                        break;
                    }
                } else {
                    advance(&mut i, &mut line, 1);
                }
            }
        } else if c == '"' {
            skip_string(&chars, &mut i, &mut line);
        } else if c == '\'' {
            skip_char_or_lifetime(&chars, &mut i);
        } else if c.is_alphabetic() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            match (word.as_str(), chars.get(i)) {
                // Raw strings: r"…", r#"…"#, and their byte and C forms.
                ("r" | "br" | "cr", Some('"' | '#')) => skip_raw_string(&chars, &mut i, &mut line),
                // b"…", c"…": strings with escapes.
                ("b" | "c", Some('"')) => skip_string(&chars, &mut i, &mut line),
                // b'x': a byte.
                ("b", Some('\'')) => skip_char_or_lifetime(&chars, &mut i),
                _ => out.push((Token::Ident(word), line)),
            }
        } else if c.is_ascii_digit() {
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            out.push((Token::Other, line));
        } else {
            let token = match (c, next) {
                (':', Some(':')) => {
                    i += 1;
                    Token::PathSep
                }
                ('{', _) => Token::Open,
                ('}', _) => Token::Close,
                (';', _) => Token::Semi,
                (',', _) => Token::Comma,
                ('*', _) => Token::Star,
                _ => Token::Other,
            };
            if !c.is_whitespace() {
                out.push((token, line));
            }
            advance(&mut i, &mut line, 1);
        }
    }
    out
}

/// Skips a string with escapes, from its opening `"`.
fn skip_string(chars: &[char], i: &mut usize, line: &mut usize) {
    *i += 1;
    while *i < chars.len() && chars[*i] != '"' {
        if chars[*i] == '\\' {
            *i += 1;
        }
        if chars.get(*i) == Some(&'\n') {
            *line += 1;
        }
        *i += 1;
    }
    *i += 1;
}

/// Skips a raw string from the `#`s or `"` after its `r`.
fn skip_raw_string(chars: &[char], i: &mut usize, line: &mut usize) {
    let mut hashes = 0;
    while chars.get(*i) == Some(&'#') {
        hashes += 1;
        *i += 1;
    }
    if chars.get(*i) != Some(&'"') {
        // `r#ident`, a raw identifier: nothing to skip.
        return;
    }
    *i += 1;
    while *i < chars.len() {
        if chars[*i] == '"' && (1..=hashes).all(|k| chars.get(*i + k) == Some(&'#')) {
            *i += 1 + hashes;
            return;
        }
        if chars[*i] == '\n' {
            *line += 1;
        }
        *i += 1;
    }
}

/// Skips a character literal (`'x'`, `'\n'`, `'"'`), or only the quote of a
/// lifetime or label (`'a`), from the `'`.
fn skip_char_or_lifetime(chars: &[char], i: &mut usize) {
    if chars.get(*i + 1) == Some(&'\\') {
        // The quote, the backslash and the escaped character, then on to
        // the closing quote (`'\u{1F600}'` has more before it).
        *i += 3;
        while *i < chars.len() && chars[*i] != '\'' {
            *i += 1;
        }
        *i += 1;
    } else if chars.get(*i + 2) == Some(&'\'') {
        *i += 3;
    } else {
        *i += 1;
    }
}

/// The inline modules (`mod name { … }`) in a file's tokens, as full paths.
fn inline_modules(tokens: &[(Token, usize)], here: &ModPath) -> Vec<ModPath> {
    let mut found = Vec::new();
    walk(tokens, here, |module, _, _| found.push(module.clone()));
    found.sort();
    found.dedup();
    found.retain(|m| m != here);
    found
}

/// Walks a file's tokens, calling `at` with the module each token is in
/// (inline modules counted), the token's index, and the tokens.
fn walk(
    tokens: &[(Token, usize)],
    here: &ModPath,
    mut at: impl FnMut(&ModPath, usize, &[(Token, usize)]),
) {
    let ident = |k: usize| match tokens.get(k) {
        Some((Token::Ident(word), _)) => Some(word.as_str()),
        _ => None,
    };
    // Open inline modules: their names and the brace depth they opened at.
    let mut open: Vec<(String, usize)> = Vec::new();
    let mut depth = 0;
    let mut module = here.clone();
    for k in 0..tokens.len() {
        match &tokens[k].0 {
            Token::Open => {
                depth += 1;
                if k >= 2 && ident(k - 2) == Some("mod") {
                    if let Some(name) = ident(k - 1) {
                        open.push((name.to_string(), depth));
                        module.push(name.to_string());
                    }
                }
            }
            Token::Close => {
                if open.last().is_some_and(|(_, at)| *at == depth) {
                    open.pop();
                    module.pop();
                }
                depth = depth.saturating_sub(1);
            }
            _ => {}
        }
        at(&module, k, tokens);
    }
}

/// Every path a file names that might lead into the crate: each with the
/// module it is written in, its segments, and its line. `use` trees are
/// unfolded (`use a::{b, c::d}` gives `a::b` and `a::c::d`); in code, a path
/// starts with an identifier that is not after `::`.
fn paths(tokens: &[(Token, usize)], here: &ModPath) -> Vec<(ModPath, Vec<String>, usize)> {
    let mut found = Vec::new();
    // Tokens up to this index belong to a `use` already read.
    let mut skip_to = 0;
    walk(tokens, here, |module, k, tokens| {
        if k < skip_to {
            return;
        }
        let (token, line) = &tokens[k];
        let Token::Ident(word) = token else {
            return;
        };
        let after_sep = k > 0 && tokens[k - 1].0 == Token::PathSep;
        if word == "use" {
            let mut leaves = Vec::new();
            skip_to = use_tree(tokens, k + 1, Vec::new(), &mut leaves);
            for path in leaves {
                found.push((module.clone(), path, *line));
            }
        } else if !after_sep && tokens.get(k + 1).map(|t| &t.0) == Some(&Token::PathSep) {
            let mut path = vec![word.clone()];
            let mut j = k + 1;
            while tokens.get(j).map(|t| &t.0) == Some(&Token::PathSep) {
                match tokens.get(j + 1) {
                    Some((Token::Ident(next), _)) => path.push(next.clone()),
                    _ => break,
                }
                j += 2;
            }
            skip_to = j;
            found.push((module.clone(), path, *line));
        }
    });
    found
}

/// Reads a `use` tree from token `k` with the segments before it in
/// `prefix`, pushing each leaf path; returns the index after the tree.
fn use_tree(
    tokens: &[(Token, usize)],
    mut k: usize,
    mut prefix: Vec<String>,
    leaves: &mut Vec<Vec<String>>,
) -> usize {
    let kind = |k: usize| tokens.get(k).map(|(token, _)| token);
    loop {
        match kind(k) {
            Some(Token::Ident(word)) if word == "as" => {
                // `as name`: the alias changes nothing about where it leads.
                leaves.push(prefix);
                return k + 2;
            }
            Some(Token::Ident(word)) => {
                prefix.push(word.clone());
                k += 1;
            }
            Some(Token::PathSep) => k += 1,
            Some(Token::Star) => {
                leaves.push(prefix);
                return k + 1;
            }
            // `{a, b::c, }`: each item a tree of its own after the prefix.
            Some(Token::Open) => {
                k += 1;
                loop {
                    if kind(k) == Some(&Token::Close) {
                        return k + 1;
                    }
                    k = use_tree(tokens, k, prefix.clone(), leaves);
                    match kind(k) {
                        Some(Token::Comma) => k += 1,
                        Some(Token::Close) => return k + 1,
                        // Not Rust: stop reading this tree here.
                        _ => return k,
                    }
                }
            }
            // `;`, `,` or `}`: the end of this leaf.
            _ => {
                if !prefix.is_empty() {
                    leaves.push(prefix);
                }
                return k;
            }
        }
    }
}

/// The file a path leads to, written in `module`; `None` for a path outside
/// the crate (`std::…`, a dependency, a local name).
fn resolve(
    modules: &BTreeMap<ModPath, String>,
    module: &ModPath,
    path: &[String],
) -> Option<String> {
    let (mut base, mut rest): (ModPath, &[String]) = match path.first()?.as_str() {
        "crate" => (Vec::new(), &path[1..]),
        "self" => (module.clone(), &path[1..]),
        "super" => (module.clone(), path),
        child if modules.contains_key(&[module.as_slice(), &[child.to_string()][..]].concat()) => {
            (module.clone(), path)
        }
        _ => return None,
    };
    while rest.first().map(String::as_str) == Some("super") {
        base.pop();
        rest = &rest[1..];
    }
    for segment in rest {
        let mut deeper = base.clone();
        deeper.push(segment.clone());
        if segment == "self" || !modules.contains_key(&deeper) {
            break;
        }
        base = deeper;
    }
    modules.get(&base).cloned()
}

/// Every circle of files, each as the files in order (the first is not
/// repeated at the end); at most `limit` in all, so a tangle cannot flood
/// the output.
fn circles(graph: &Graph, limit: usize) -> Vec<Vec<String>> {
    let mut next: Next = BTreeMap::new();
    for (from, to) in graph.edges.keys() {
        next.entry(from).or_default().insert(to);
    }
    // Which files each file leads to, directly or not: a search for circles
    // through `start` only steps to files that lead back to it, so it never
    // wanders the (large, circle-free) rest of the graph.
    let reach: BTreeMap<&str, BTreeSet<&str>> = next
        .keys()
        .map(|&file| (file, reachable(&next, file)))
        .collect();
    let mut search = Search {
        next: &next,
        reach: &reach,
        found: Vec::new(),
        limit,
    };
    // Each circle is found once, from its smallest file, through larger ones.
    for &start in next.keys() {
        search.extend(start, &mut vec![start]);
    }
    search.found
}

/// Each file's direct imports.
type Next<'a> = BTreeMap<&'a str, BTreeSet<&'a str>>;

/// The files `from` leads to by one import or more.
fn reachable<'a>(next: &Next<'a>, from: &'a str) -> BTreeSet<&'a str> {
    let mut seen = BTreeSet::new();
    let mut todo = vec![from];
    while let Some(file) = todo.pop() {
        for &to in next.get(file).into_iter().flatten() {
            if seen.insert(to) {
                todo.push(to);
            }
        }
    }
    seen
}

/// A depth-first search for the circles through one file.
#[derive(Debug)]
struct Search<'g, 'a> {
    next: &'g Next<'a>,
    reach: &'g BTreeMap<&'a str, BTreeSet<&'a str>>,
    found: Vec<Vec<String>>,
    limit: usize,
}

impl<'a> Search<'_, 'a> {
    /// Extends `path` (from `start`) by each import of its last file.
    fn extend(&mut self, start: &'a str, path: &mut Vec<&'a str>) {
        let last = *path.last().expect("a path starts with a file");
        for &to in self.next.get(last).into_iter().flatten() {
            if self.found.len() >= self.limit {
                return;
            }
            let leads_back = self.reach.get(to).is_some_and(|r| r.contains(start));
            if to == start {
                self.found
                    .push(path.iter().map(|f| f.to_string()).collect());
            } else if to > start && leads_back && !path.contains(&to) {
                path.push(to);
                self.extend(start, path);
                path.pop();
            }
        }
    }
}

/// The failure report: each circle, and for each of its steps where the
/// import is written.
fn report(graph: &Graph, circles: &[Vec<String>]) -> String {
    let mut text = format!(
        "{} import circle(s) in src/; imports must point down (STYLE.md):\n",
        circles.len()
    );
    for (n, circle) in circles.iter().enumerate() {
        let mut ring = circle.clone();
        ring.push(circle[0].clone());
        let _ = writeln!(text, "\ncircle {}: {}", n + 1, ring.join(" -> "));
        for step in ring.windows(2) {
            // One entry per line: a `use` of many names is one import.
            let mut lines: BTreeMap<usize, Vec<&str>> = BTreeMap::new();
            for e in &graph.edges[&(step[0].clone(), step[1].clone())] {
                lines.entry(e.line).or_default().push(&e.path);
            }
            let places: Vec<String> = lines
                .iter()
                .map(|(line, paths)| match paths.len() {
                    1 => format!("line {line}: {}", paths[0]),
                    n => format!("line {line}: {} and {} more", paths[0], n - 1),
                })
                .collect();
            let _ = writeln!(text, "  {} -> {}: {}", step[0], step[1], places.join("; "));
        }
    }
    text
}

/// Reads every `.rs` file below `dir` into `files`, by its path below `root`.
fn read_tree(root: &Path, dir: &Path, files: &mut BTreeMap<String, String>) {
    for entry in std::fs::read_dir(dir).expect("read a source folder") {
        let path = entry.expect("a folder entry").path();
        if path.is_dir() {
            read_tree(root, &path, files);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let name = path.strip_prefix(root).expect("below src/");
            let name = name.to_string_lossy().replace('\\', "/");
            files.insert(
                name,
                std::fs::read_to_string(&path).expect("a readable file"),
            );
        }
    }
}

/// `src/` has no import circle.
#[test]
fn src_has_no_import_circles() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = BTreeMap::new();
    read_tree(&src, &src, &mut files);
    // Each binary is a crate of its own, which imports the library by name.
    files.retain(|name, _| !name.starts_with("bin/"));
    let graph = graph(&files);
    // Not vacuous: the server's root imports its shared state, and the
    // reader's session imports the protocol.
    for edge in [
        ("server/mod.rs", "server/shared.rs"),
        ("server/reader/session.rs", "protocol/mod.rs"),
    ] {
        let edge = (edge.0.to_string(), edge.1.to_string());
        assert!(graph.edges.contains_key(&edge), "no edge {edge:?}");
    }
    let circles = circles(&graph, 100);
    assert!(circles.is_empty(), "{}", report(&graph, &circles));
}

/// A made-up crate from `(path, text)` pairs.
fn tree(files: &[(&str, &str)]) -> BTreeMap<String, String> {
    files
        .iter()
        .map(|(name, text)| (name.to_string(), text.to_string()))
        .collect()
}

/// The circles of a made-up crate, as lists of files.
fn circles_of(files: &[(&str, &str)]) -> Vec<Vec<String>> {
    circles(&graph(&tree(files)), 100)
}

/// The edges of a made-up crate, as `from -> to` lines.
fn edges_of(files: &[(&str, &str)]) -> Vec<String> {
    graph(&tree(files))
        .edges
        .keys()
        .map(|(from, to)| format!("{from} -> {to}"))
        .collect()
}

/// Two files that import each other are a circle, reported with both files
/// and the lines that close it.
#[test]
fn two_files_importing_each_other_are_a_circle() {
    let files = [
        ("lib.rs", "mod a;\nmod b;\n"),
        ("a.rs", "use crate::b::B;\npub struct A;\n"),
        (
            "b.rs",
            "pub struct B;\nfn f() -> crate::a::A {\n    crate::a::A\n}\n",
        ),
    ];
    assert_eq!(circles_of(&files), [["a.rs", "b.rs"]]);
    let graph = graph(&tree(&files));
    let text = report(&graph, &circles(&graph, 100));
    assert!(text.contains("circle 1: a.rs -> b.rs -> a.rs"), "{text}");
    assert!(text.contains("a.rs -> b.rs: line 1: crate::b::B"), "{text}");
    assert!(
        text.contains("b.rs -> a.rs: line 2: crate::a::A; line 3: crate::a::A"),
        "{text}"
    );
}

/// `super::name` leads to the sibling file when `name` is a module, and to
/// the parent's file when it is an item there; a parent's `use child::…`
/// counts as `use self::child::…`.
#[test]
fn super_leads_to_a_sibling_module_or_to_the_parent() {
    let parent = ("p/mod.rs", "mod x;\nmod y;\npub use x::X;\npub struct P;\n");
    let x = ("p/x.rs", "use super::y::Y;\npub struct X(Y);\n");
    let lib = ("lib.rs", "mod p;\n");
    // y names nothing of its parent: no circle.
    let quiet_y = ("p/y.rs", "pub struct Y;\n");
    assert_eq!(
        edges_of(&[lib, parent, x, quiet_y]),
        ["p/mod.rs -> p/x.rs", "p/x.rs -> p/y.rs"]
    );
    assert!(circles_of(&[lib, parent, x, quiet_y]).is_empty());
    // y uses the parent's item: mod.rs -> x.rs -> y.rs -> mod.rs.
    let y = ("p/y.rs", "pub struct Y;\nfn f() { let _ = super::P; }\n");
    assert_eq!(
        circles_of(&[lib, parent, x, y]),
        [["p/mod.rs", "p/x.rs", "p/y.rs"]]
    );
}

/// A parent that calls into its child (`self::c::f()` or `c::f()`) and a
/// child that calls the parent are a circle; so are three files in a ring
/// of `crate::` paths written in code, and `super::super::`.
#[test]
fn paths_in_code_count() {
    for call in ["self::c::f()", "c::f()"] {
        let parent = format!("mod c;\npub fn top() {{}}\nfn g() {{ {call}; }}\n");
        let files = [
            ("lib.rs", "mod p;\n"),
            ("p/mod.rs", parent.as_str()),
            ("p/c.rs", "pub fn f() { super::top(); }\n"),
        ];
        assert_eq!(circles_of(&files), [["p/c.rs", "p/mod.rs"]], "{call}");
    }
    let ring = [
        ("lib.rs", "mod a;\nmod b;\nmod c;\n"),
        ("a.rs", "pub fn a() { crate::b::b() }\n"),
        ("b.rs", "pub fn b() { crate::c::c() }\n"),
        ("c.rs", "pub fn c() { crate::a::a() }\n"),
    ];
    assert_eq!(circles_of(&ring), [["a.rs", "b.rs", "c.rs"]]);
    let deep = [
        ("lib.rs", "mod q;\npub fn top() {}\n"),
        ("q/mod.rs", "mod r;\n"),
        ("q/r.rs", "fn f() { super::super::top() }\n"),
    ];
    assert_eq!(edges_of(&deep), ["q/r.rs -> lib.rs"]);
}

/// Comments, doc links, strings (raw and byte ones too), character literals
/// next to lifetimes, `mod` declarations, paths out of the crate, and a test
/// module's `use super::*` are not imports of another file.
#[test]
fn what_is_not_an_import() {
    let a = r###"//! See crate::b for more.
/// [`crate::b::B`] is the other half.
mod inner {
    use super::*;
    fn f() { let _ = super::A; }
}
pub struct A;
const S: &str = "crate::b::B \" super::b";
const R: &str = r#"crate::b::B "still" crate::b"#;
const Y: &[u8] = b"crate::b";
const Q: char = '"';
const E: char = '\'';
fn lifetimes<'a>(x: &'a str) -> &'a str { x }
/* crate::b /* nested */ crate::b */
use std::collections::HashMap;
fn g() -> HashMap<u8, u8> { std::collections::HashMap::new() }
"###;
    let files = [
        ("lib.rs", "mod a;\nmod b;\n"),
        ("a.rs", a),
        ("b.rs", "pub struct B;\n"),
    ];
    assert_eq!(edges_of(&files), Vec::<String>::new());
    // And after all that, a real import is still seen, on its line.
    let a_then_import = format!("{a}use crate::b::B;\n");
    let files = [
        ("lib.rs", "mod a;\nmod b;\n"),
        ("a.rs", a_then_import.as_str()),
        ("b.rs", "pub struct B;\n"),
    ];
    let graph = graph(&tree(&files));
    let evidence = &graph.edges[&("a.rs".to_string(), "b.rs".to_string())];
    assert_eq!(
        evidence,
        &[Evidence {
            line: 17,
            path: "crate::b::B".into()
        }]
    );
}

/// `use` trees are unfolded: `{self, …}`, nested braces, globs and `as`.
#[test]
fn use_trees_are_unfolded() {
    let files = [
        ("lib.rs", "mod a;\nmod b;\nmod c;\nmod d;\n"),
        (
            "a.rs",
            "use crate::{b::{self, B as Bee}, c::*};\npub(crate) use crate::d::{D};\n",
        ),
        ("b.rs", "pub struct B;\n"),
        ("c.rs", "pub struct C;\n"),
        ("d.rs", "pub struct D;\n"),
    ];
    assert_eq!(
        edges_of(&files),
        ["a.rs -> b.rs", "a.rs -> c.rs", "a.rs -> d.rs"]
    );
}
