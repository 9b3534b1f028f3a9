//! Connect/disconnect churn leaves nothing behind: no thread, no descriptor, no
//! registry entry. Alone in its own test binary, so that counting this
//! process's threads and descriptors sees only this test's server.

mod common;

use std::collections::HashMap;
use std::io::Write;
use std::net::{Shutdown, TcpStream};
use std::time::Duration;

use common::{wait_until, TestServer, TIMEOUT};

/// How long the server may take to be rid of two thousand connections on a
/// busy machine.
const LONG_WAIT: Duration = Duration::from_secs(30);

/// How often to look again: readers finish their linger on their own time,
/// and nothing tells the test when.
const PACE: Duration = Duration::from_millis(50);

#[cfg(target_os = "linux")]
fn count(dir: &str) -> usize {
    std::fs::read_dir(dir).expect("read /proc").count()
}

/// Thousands of connections end by FIN, by reset, half-closed, mid-line and
/// mid-broadcast; afterwards the room and the process are as before.
#[test]
fn churn_leaves_nothing_behind() {
    let server = TestServer::with(|c| c.rate_limit = 0);
    let mut observer = server.connect();
    let mut talker = server.connect();
    observer.expect(&format!("* {} joined", talker.name));
    #[cfg(target_os = "linux")]
    let (threads_before, fds_before) = (count("/proc/self/task"), count("/proc/self/fd"));

    // The names of the connections closed with a reset, in order.
    let mut reset: Vec<String> = Vec::new();
    for i in 0..2000 {
        let stream = TcpStream::connect(server.addr).expect("connect");
        match i % 5 {
            // Plain close (FIN).
            0 => drop(stream),
            // Half-close, then wait for the server to close its side.
            1 => {
                stream.shutdown(Shutdown::Write).unwrap();
                stream.set_read_timeout(Some(TIMEOUT)).unwrap();
                let mut sink = Vec::new();
                let _ = std::io::Read::read_to_end(&mut &stream, &mut sink);
            }
            // Close in the middle of a line.
            2 => {
                let _ = (&stream).write_all(b"half a li");
            }
            // Close with unread data: the kernel sends a reset. The welcome
            // (and perhaps the broadcast) is what is left unread; waiting for
            // it makes the reset certain, and the leave notice must say so.
            3 => {
                let _ = (&stream).write_all(b"hello\n");
                talker.send("a broadcast while they come and go");
                let name = stream.local_addr().expect("local address").to_string();
                // A refused client (server full) never joined: no notice.
                if common::close_with_reset(stream).starts_with("* welcome") {
                    reset.push(name);
                }
            }
            // Leave politely.
            _ => {
                let _ = (&stream).write_all(b"/quit\n");
            }
        }
    }

    // Wait until the registry holds just the two who stayed.
    let want = format!("* online (2): {}, {}", observer.name, talker.name);
    wait_until("the registry to empty", LONG_WAIT, PACE, || {
        talker.send("/who");
        let answer = talker.wait_for("the who answer", |l| l.starts_with("* online"));
        if answer == want {
            Ok(())
        } else {
            Err(answer)
        }
    });
    // The observer is still served, in order.
    talker.send("still here");
    observer.wait_for("the last line", |l| l.ends_with(": still here"));
    // Every leave was announced before the registry emptied, so before that
    // line: each reset connection's notice says it was reset. Counted per
    // name, since a port freed by a reset can be handed out again.
    let mut notices: HashMap<&str, usize> = HashMap::new();
    for line in &observer.history {
        if let Some(name) = line
            .strip_prefix("* ")
            .and_then(|l| l.strip_suffix(" left (connection reset)"))
        {
            *notices.entry(name).or_default() += 1;
        }
    }
    let mut expected: HashMap<&str, usize> = HashMap::new();
    for name in &reset {
        *expected.entry(name).or_default() += 1;
    }
    for (name, want) in expected {
        let got = notices.get(name).copied().unwrap_or(0);
        assert!(
            got >= want,
            "{name} was reset {want} times but announced so {got} times"
        );
    }

    // Reader threads finish their linger within a second or so of leaving.
    #[cfg(target_os = "linux")]
    {
        wait_until(
            "every thread and descriptor given back",
            LONG_WAIT,
            PACE,
            || {
                let (threads, fds) = (count("/proc/self/task"), count("/proc/self/fd"));
                if threads <= threads_before && fds <= fds_before {
                    Ok(())
                } else {
                    Err(format!(
                        "threads {threads_before} -> {threads}, fds {fds_before} -> {fds}"
                    ))
                }
            },
        );
        // The last one to leave, with nothing happening after it, is let go
        // of too (the broadcaster keeps no socket between batches).
        let last = common::Client::connect(server.addr);
        observer.wait_for("the last join", |l| l == format!("* {} joined", last.name));
        talker.wait_for("the last join", |l| l.ends_with(" joined"));
        drop(last);
        observer.wait_for("the last leave", |l| l.ends_with(" left"));
        wait_until(
            "the last leaver's descriptor closed",
            TIMEOUT,
            PACE,
            || match count("/proc/self/fd") {
                fds if fds <= fds_before => Ok(()),
                fds => Err(format!("fds {fds_before} -> {fds}")),
            },
        );
    }
}
