//! Hostile and unlucky clients: a reader that stops reading, a flooder, the
//! rate limit, running out of descriptors, and shutdown with messages in flight.

mod common;

use std::thread;
use std::time::{Duration, Instant};

use common::TestServer;

/// A client that stops reading during a flood is evicted after one write
/// timeout; a healthy client gets every line, in order, with no long stall.
#[test]
fn slow_consumer_is_evicted_and_nothing_is_lost() {
    let server = TestServer::with(|c| {
        c.rate_limit = 0;
        c.write_timeout = Some(Duration::from_millis(1000));
        common::keep_every_line(c);
    });
    let mut room = server.room(3);
    let mut observer = room.pop().unwrap();
    let stalled = room.pop().unwrap(); // connected, but never reads again
    let mut flooder = room.pop().unwrap();
    let (flooder_name, stalled_name) = (flooder.name.clone(), stalled.name.clone());
    const LINES: usize = 20_000;
    let watcher = thread::spawn(move || {
        let mut next = 0;
        let mut longest_gap = Duration::ZERO;
        let mut last = Instant::now();
        let mut evicted = false;
        while next < LINES {
            let line = observer.line();
            longest_gap = longest_gap.max(last.elapsed());
            last = Instant::now();
            if line == format!("* {stalled_name} left (too slow)") {
                evicted = true;
                continue;
            }
            assert_eq!(
                line,
                format!("> {flooder_name}: {next:05} {}", "x".repeat(500))
            );
            next += 1;
        }
        if !evicted {
            observer.expect(&format!("* {stalled_name} left (too slow)"));
        }
        longest_gap
    });
    let mut batch = String::new();
    for i in 0..LINES {
        batch.push_str(&format!("{i:05} {}\n", "x".repeat(500)));
        if batch.len() > 64 * 1024 {
            flooder.send_raw(batch.as_bytes());
            batch.clear();
        }
    }
    flooder.send_raw(batch.as_bytes());
    let longest_gap = watcher
        .join()
        .expect("the observer got every line in order");
    // One write timeout (1 s), plus generous slack for a loaded CI machine.
    assert!(
        longest_gap < Duration::from_secs(4),
        "observer stalled for {longest_gap:?}"
    );
    drop(stalled);
}

/// `--rate-limit`: a burst passes, the rest is delayed, never dropped, and
/// other clients are not held up behind the flooder.
#[test]
fn rate_limit_delays_but_never_drops() {
    let server = TestServer::with(|c| c.rate_limit = 10); // bursts of 50 lines
    let mut room = server.room(3);
    let name = room[0].name.clone();
    let started = Instant::now();
    let burst: String = (0..80).map(|i| format!("flood {i}\n")).collect();
    room[0].send_raw(burst.as_bytes());
    room[1].expect(&format!("> {name}: flood 0"));
    // While the flooder waits for tokens, someone else talks.
    room[2].send("meanwhile");
    let other = room[2].name.clone();
    let mut seen_other_at = None;
    let mut next = 1;
    while next < 80 {
        let line = room[1].line();
        if line == format!("> {other}: meanwhile") {
            seen_other_at = Some(next);
        } else {
            assert_eq!(line, format!("> {name}: flood {next}"));
            next += 1;
        }
    }
    let took = started.elapsed();
    // 30 lines past the burst at 10 per second is 3 s; allow for timer slack.
    assert!(took > Duration::from_secs(2), "80 lines took only {took:?}");
    assert!(took < Duration::from_secs(30), "80 lines took {took:?}");
    let at = seen_other_at.expect("the other client's line arrived");
    assert!(
        at < 79,
        "the other client waited behind the flood (arrived after line {at})"
    );
}

/// Shutdown delivers every line the server had accepted before it said goodbye.
#[test]
fn shutdown_delivers_messages_in_flight() {
    let server = TestServer::with(|c| c.rate_limit = 0);
    let mut room = server.room(2);
    let name = room[0].name.clone();
    let lines: String = (0..1000).map(|i| format!("pending {i}\n")).collect();
    room[0].send_raw(lines.as_bytes());
    // The reader handles lines in order: once /who is answered, all were accepted.
    room[0].send("/who");
    room[0].wait_for("the who answer", |l| l.starts_with("* online"));
    server.stop();
    for i in 0..1000 {
        room[1].expect(&format!("> {name}: pending {i}"));
    }
    room[1].expect("* server shutting down");
    room[1].expect_closed();
}

/// Commands count against the rate limit like chat does.
#[test]
fn command_spam_is_rate_limited_too() {
    let server = TestServer::with(|c| c.rate_limit = 20); // bursts of 50
    let mut room = server.room(1);
    let started = Instant::now();
    let spam: String = (0..70).map(|_| "/who\n").collect();
    room[0].send_raw(spam.as_bytes());
    for _ in 0..70 {
        room[0].wait_for("a who answer", |l| l.starts_with("* online"));
    }
    let took = started.elapsed();
    assert!(
        took > Duration::from_millis(600),
        "70 commands took only {took:?}"
    );
}

/// Out of file descriptors (`ulimit -n`): accept failures are logged once, a
/// connection that cannot be served is told `! server busy, try again later`
/// and closed (instead of hanging with no word), and once places free up new
/// clients get in again.
#[cfg(unix)]
#[test]
fn descriptor_exhaustion_is_survived() {
    use common::{wait_until, ChildGuard, Client, TIMEOUT};
    use std::process::Command;

    let mut command = Command::new("sh");
    command.args([
        "-c",
        &format!(
            "ulimit -n 32 && exec {} --port 0 --quiet --max-clients 500",
            env!("CARGO_BIN_EXE_server")
        ),
    ]);
    let mut server = ChildGuard::spawn(command);
    let line = server.wait_for("stderr", "listening on ");
    let addr: std::net::SocketAddr = line.rsplit(' ').next().unwrap().parse().unwrap();
    // The kernel completes connections into the backlog even when the server
    // cannot accept them, so these all connect; each gets one answer.
    let mut welcomed = Vec::new();
    let mut busy = 0;
    for _ in 0..40 {
        let mut client = Client::connect_raw(addr);
        let answer = client.line();
        if answer.starts_with("* welcome") {
            welcomed.push(client);
        } else {
            assert_eq!(answer, "! server busy, try again later");
            client.expect_closed();
            busy += 1;
        }
    }
    server.wait_for("stderr", "accept failed");
    assert!(busy > 0 && !welcomed.is_empty(), "{busy} busy");
    // Free places: a newcomer gets in. Closing is not instant on the server's
    // side, so knock again (a retry pace, not synchronisation) until it does.
    welcomed.truncate(2);
    let mut late = wait_until(
        "a newcomer let in again",
        TIMEOUT,
        Duration::from_millis(50),
        || {
            let mut client = Client::connect_raw(addr);
            let answer = client.line();
            if answer.starts_with("* welcome") {
                Ok(client)
            } else {
                Err(answer)
            }
        },
    );
    server.wait_for("stderr", "accept is working again");
    late.send("/who");
    late.wait_for("the who answer", |l| l.starts_with("* online"));
    let failures = server
        .seen
        .iter()
        .filter(|l| l.contains("accept failed"))
        .count();
    assert_eq!(failures, 1, "logged more than once: {:#?}", server.seen);
}
