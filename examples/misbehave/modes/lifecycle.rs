//! `half-close`: clients that say their last line and `/quit`, and close
//! their sending side in the same moment (`printf 'hi\n/quit\n' | nc -N`).
//! End of input is a normal way to finish: each must still get what it is
//! due (its welcome, `* bye`) and then the server's FIN, and the server must
//! keep nothing of them (no socket left waiting to be closed).

use std::io::{self, Write};
use std::net::{Shutdown, SocketAddr};

use super::{show, Cast, Outcome, Problems, SETTLE};
use crate::peer::{connect, rest_until_close};

/// How many clients come, one after another (the failure was a race).
const ROUNDS: usize = 10;

/// Each client sends a line and `/quit` and half-closes at once; it must
/// read its welcome, then `* bye`, then the end; the observers must hear
/// its line and its leaving.
pub(super) fn half_close(addr: SocketAddr) -> Outcome {
    let cast = Cast::assemble(addr)?;
    let marks = cast.marks();
    let mut problems = Problems::default();
    let mut closed = 0;
    for round in 1..=ROUNDS {
        let mut stream = connect(addr)?;
        stream.write_all(format!("last words {round}\n/quit\n").as_bytes())?;
        stream.shutdown(Shutdown::Write)?;
        let Some(got) = rest_until_close(&stream) else {
            problems.add("", format!("client {round} was never closed by the server"));
            continue;
        };
        closed += 1;
        let text = String::from_utf8_lossy(&got);
        let lines: Vec<&str> = text.lines().collect();
        if !lines.first().is_some_and(|l| l.starts_with("* welcome ")) {
            problems.add(
                "",
                format!("client {round} got no welcome: {}", show(&text, 80)),
            );
        }
        if lines.last() != Some(&"* bye") {
            problems.add(
                "",
                format!("client {round} got no `* bye`: {}", show(&text, 80)),
            );
        }
    }
    println!("  {ROUNDS} clients sent a line and /quit and half-closed at once; the server closed {closed}");
    cast.wait(marks, SETTLE, |r, mark| {
        r.any_since(mark, |l| l.ends_with(&format!(": last words {ROUNDS}")))
    });
    for (observer, mark) in cast.observers.iter().zip(marks) {
        let heard = observer.inbox().read(|r| {
            (1..=ROUNDS)
                .filter(|round| {
                    r.any_since(mark, |l| l.ends_with(&format!(": last words {round}")))
                })
                .count()
        });
        println!("  {} heard {heard} of their last lines", observer.role);
        if heard != ROUNDS {
            problems.add(
                &observer.role,
                format!("heard {heard} of {ROUNDS} last lines"),
            );
        }
    }
    let waiting = close_wait(addr)?;
    if let Some(waiting) = waiting {
        println!("  server sockets still waiting to be closed: {waiting}");
        if waiting > 0 {
            problems.add("", format!("{waiting} server sockets left in CLOSE-WAIT"));
        }
    }
    Ok(problems.verdict("a half-closed client must get what it is due, then be closed", || {
        format!("{ROUNDS} of {ROUNDS} half-closed clients got their welcome and `* bye`, then the server's FIN")
    }))
}

/// Server sockets on `addr`'s port in CLOSE-WAIT (the client closed, the
/// server did not), from the kernel's table; `None` where there is none
/// to read. Asked a moment after the last close.
fn close_wait(addr: SocketAddr) -> io::Result<Option<usize>> {
    std::thread::sleep(std::time::Duration::from_millis(500));
    let mut waiting = 0;
    let mut read_any = false;
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let Ok(text) = std::fs::read_to_string(table) else {
            continue;
        };
        read_any = true;
        for row in text.lines().skip(1) {
            let fields: Vec<&str> = row.split_whitespace().collect();
            let (Some(local), Some(state)) = (fields.get(1), fields.get(3)) else {
                continue;
            };
            let port = local
                .rsplit(':')
                .next()
                .and_then(|p| u16::from_str_radix(p, 16).ok());
            if port == Some(addr.port()) && *state == "08" {
                waiting += 1;
            }
        }
    }
    Ok(read_any.then_some(waiting))
}
