//! The dashboard page in a real browser: headless Chromium (Debian's
//! `chromium`), driven over the DevTools protocol by `tests/browser/check.mjs`
//! (puppeteer-core, installed by `npm ci` in `tests/browser`; `.ci/run` does
//! both). A missing one fails the test with the command that installs it,
//! unless `SKIP_BROWSER=1` says to skip it.

use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

mod common;
mod tools;
use common::TestServer;

/// The browser's executable: `$CHROMIUM`, or Debian's.
fn chromium() -> PathBuf {
    std::env::var_os("CHROMIUM").map_or_else(|| PathBuf::from("/usr/bin/chromium"), PathBuf::from)
}

fn browser_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser")
}

/// Why the browser cannot be driven here, if it cannot.
fn missing_tool() -> Option<String> {
    if Command::new("node").arg("--version").output().is_err() {
        return Some("node is not installed".into());
    }
    if !browser_dir().join("node_modules/puppeteer-core").is_dir() {
        return Some("puppeteer-core is not installed in tests/browser".into());
    }
    if !chromium().exists() {
        return Some(format!(
            "{} does not exist (or set CHROMIUM)",
            chromium().display()
        ));
    }
    None
}

/// True if the browser test may run; it fails, naming the install command,
/// when something is missing, unless `SKIP_BROWSER` is set.
fn ready(test: &str) -> bool {
    tools::ready(
        test,
        missing_tool(),
        "SKIP_BROWSER",
        "sudo apt-get install chromium nodejs npm && (cd tests/browser && npm ci)",
    )
}

/// Loads the dashboard and waits (up to 15 s) until its text matches
/// `until`; returns what `check.mjs` reported.
fn load_page(dashboard: SocketAddr, until: &str) -> Value {
    let output = Command::new("node")
        .arg(browser_dir().join("check.mjs"))
        .arg(format!("http://{dashboard}/"))
        .args(["--wait", "15000", "--until", until])
        .env("CHROMIUM", chromium())
        .output()
        .expect("run node");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let report: Value = serde_json::from_str(stdout.trim()).unwrap_or_else(|e| {
        panic!(
            "check.mjs printed no JSON ({e}); stdout: {stdout}\nstderr: {}",
            String::from_utf8_lossy(&output.stderr)
        )
    });
    assert!(output.status.success(), "the browser failed: {report:#}");
    report
}

/// Asserts the page loaded, matched, and logged no script error.
fn assert_clean(report: &Value) {
    assert_eq!(report["status"], 200, "{report:#}");
    assert_eq!(
        report["matched"], true,
        "the text never matched: {report:#}"
    );
    for errors in ["pageErrors", "consoleErrors", "failedRequests"] {
        assert_eq!(report[errors], Value::Array(vec![]), "{errors}: {report:#}");
    }
}

/// A connected client's name shows on the rendered page within seconds, the
/// live stream is up, and the page logged no script error.
#[test]
fn the_page_shows_a_connected_client() {
    if !ready("the_page_shows_a_connected_client") {
        return;
    }
    let server = TestServer::with_dashboard(|_| {});
    let mut zelda = server.connect();
    zelda.send("/nick zelda");
    zelda.expect("* you are now zelda");
    let report = load_page(server.dashboard_addr(), r"zelda\tlobby");
    assert_clean(&report);
    let text = report["text"].as_str().expect("the page's text");
    assert!(text.contains("live"), "the event stream is not up: {text}");
    assert!(
        text.contains("zelda joined") || text.contains("is now zelda"),
        "{text}"
    );
    assert_eq!(report["title"], "Chat room dashboard");
}

/// With 500 clients the page draws the fullest queues and counts the rest,
/// and keeps up with the stream without a script error.
#[test]
fn the_page_stays_usable_with_500_clients() {
    if !ready("the_page_stays_usable_with_500_clients") {
        return;
    }
    let server = TestServer::with_dashboard(|_| {});
    // Idle connections: each is a client in the room whether or not it reads.
    let crowd: Vec<TcpStream> = (0..500)
        .map(|_| TcpStream::connect(server.addr).expect("connect a client"))
        .collect();
    let report = load_page(
        server.dashboard_addr(),
        r"showing the \d+ fullest of 500 clients; \d+ more not shown",
    );
    assert_clean(&report);
    let text = report["text"].as_str().expect("the page's text");
    assert!(text.contains("lobby (500)"), "{text}");
    drop(crowd);
}
