//! The dashboard page in a real browser: headless Chromium (Debian's
//! `chromium`), driven over the DevTools protocol by `tests/browser/check.mjs`
//! (puppeteer-core, installed by `npm ci` in `tests/browser`; `.ci/run` does
//! both): it renders, keeps up with 500 clients, and fits a 1024 x 768
//! projector. A missing browser or module fails the test with the command
//! that installs it, unless `SKIP_BROWSER=1` says to skip it.

use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

mod common;
mod tools;
use common::{server_binary, Client, TestServer};

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
    load_page_with(dashboard, until, &[])
}

/// [`load_page`], with more of `check.mjs`'s options (`--width`, `--layout`...).
fn load_page_with(dashboard: SocketAddr, until: &str, options: &[&str]) -> Value {
    let output = Command::new("node")
        .arg(browser_dir().join("check.mjs"))
        .arg(format!("http://{dashboard}/"))
        .args(["--wait", "15000", "--until", until])
        .args(options)
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

/// With 500 clients the page draws those furthest behind and counts the rest,
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
        r"showing the \d+ furthest behind of 500 clients; \d+ more not shown",
    );
    assert_clean(&report);
    let text = report["text"].as_str().expect("the page's text");
    assert!(text.contains("lobby (500)"), "{text}");
    drop(crowd);
}

/// At 1024 x 768, a common projector, the page fits: nothing is wider than
/// the window, no element's content is wider than its box (cut off or
/// spilling over), no text is under 16 px, and every connected client's
/// name is whole on screen, the muted one with its badge beside it. The
/// class has the longest name and room there can be (20 characters, one of
/// them all `W`), and the teacher muted dave at the console.
#[test]
fn the_page_fits_a_projector_at_1024_by_768() {
    if !ready("the_page_fits_a_projector_at_1024_by_768") {
        return;
    }
    let (mut server, chat) = server_binary(&["--join-grace-ms", "0", "--dashboard", "0"]);
    let line = server.wait_for("stderr", "dashboard on http://");
    let dashboard: SocketAddr = line
        .rsplit("http://")
        .next()
        .and_then(|a| a.trim().trim_end_matches('/').parse().ok())
        .unwrap_or_else(|| panic!("no address in {line:?}"));
    let names = [
        "ann",
        "bob",
        "dave",
        "maximilian_rodriguez",
        "WWWWWWWWWWWWWWWWWWWW",
        "eve",
    ];
    let mut class: Vec<Client> = Vec::new();
    for name in names {
        let mut student = Client::connect(chat);
        student.send(&format!("/nick {name}"));
        student.expect(&format!("* you are now {name}"));
        class.push(student);
    }
    let eve = class.last_mut().expect("eve");
    eve.send("/join group_of_the_backrow");
    eve.expect("* you are now in group_of_the_backrow");
    server.type_line("mute dave 600");
    server.wait_for("stdout", "ok: muted dave");
    let report = load_page_with(
        dashboard,
        "muted",
        &[
            "--width",
            "1024",
            "--height",
            "768",
            "--layout",
            "--names",
            &names.join(","),
        ],
    );
    assert_clean(&report);
    let layout = &report["layout"];
    assert_eq!(layout["innerWidth"], 1024, "{layout:#}");
    assert!(
        layout["scrollWidth"].as_u64() <= Some(1024),
        "the page scrolls sideways: {layout:#}"
    );
    assert_eq!(
        layout["overflowing"],
        Value::Array(vec![]),
        "content wider than its box: {layout:#}"
    );
    let smallest = layout["smallest"]["px"].as_f64().expect("a smallest font");
    assert!(smallest >= 16.0, "text too small to read: {layout:#}");
    let shown = layout["names"].as_array().expect("names");
    assert_eq!(shown.len(), names.len(), "{layout:#}");
    for name in shown {
        assert_eq!(name["visible"], true, "not whole on screen: {name}");
    }
    let dave = shown
        .iter()
        .find(|n| n["name"] == "dave")
        .expect("dave was looked for");
    assert!(
        dave["tags"]
            .as_array()
            .is_some_and(|tags| tags.contains(&Value::from("muted"))),
        "dave's badge cannot be seen: {dave}"
    );
    let text = report["text"].as_str().expect("the page's text");
    assert!(text.contains("group_of_the_backrow"), "{text}");
}
