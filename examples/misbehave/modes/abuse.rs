//! `reset`, `churn` and `escape`: clients that come and go rudely, or try to
//! take over other people's terminals. The room must not notice.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

use super::{is_forbidden, pieces, show, Cast, Outcome, Problems, SETTLE, SMOOTH, TALK_EVERY};
use crate::peer::{timed_out, Peer, WRITE_TIMEOUT};
use crate::talker::Talker;

const HALF_LINE: &str = "this line is cut off in the mid";

/// A client sends half a line and vanishes: observers must see it leave, and
/// nothing of the half line.
pub(super) fn reset(addr: SocketAddr) -> Outcome {
    let cast = Cast::assemble(addr)?;
    let mut bad = Peer::join(addr, "resetter")?;
    let marks = cast.admit(&[&bad])?;
    // A close with data still unread is an abortive close: the OS sends a
    // reset (RST) instead of FIN. So leave something unread, then close.
    bad.stop_reading();
    cast.observers[0].send(b"hello resetter\n")?;
    let unread = bad.has_unread(SETTLE);
    bad.send(HALF_LINE.as_bytes())?;
    let name = bad.name.clone();
    bad.abort();
    println!(
        "  resetter sent {} with no newline and closed{}",
        show(HALF_LINE, 60),
        if unread {
            " with data unread: an abortive close (a reset)"
        } else {
            " (nothing was unread, so this may have been a plain close)"
        }
    );
    let left = format!("* {name} left");
    cast.wait(marks, SETTLE, |r, mark| {
        r.any_since(mark, |l| l.contains(&left))
    });

    let mut problems = Problems::default();
    let mut notices = Vec::new();
    for (observer, mark) in cast.observers.iter().zip(marks) {
        let (text, notice) = observer.inbox().read(|r| {
            let notice = r
                .since(mark)
                .iter()
                .find(|l| l.text.contains(&left))
                .map(|l| l.text[l.text.find(&left).unwrap_or(0)..].to_string());
            (r.text_since(mark), notice)
        });
        let half = pieces(&text, &name).join(" | ");
        println!(
            "  {} saw {}{}",
            observer.role,
            notice
                .as_deref()
                .map_or("no leave notice".to_string(), |l| show(l, 80)),
            if half.is_empty() {
                String::new()
            } else {
                format!(" and {}", show(&half, 80))
            }
        );
        match notice {
            Some(notice) => notices.push(notice),
            None => problems.add(&observer.role, "never saw resetter leave"),
        }
        if !half.is_empty() {
            problems.add(
                &observer.role,
                format!("got the half line: {}", show(&half, 60)),
            );
        }
    }
    let why = cast.because(
        "chunk framing",
        "the server relays raw chunks, so it never waits for a line to be complete",
    );
    cast.close();
    Ok(problems.verdict(&why, || {
        format!(
            "both observers saw {} and nothing of the half line",
            show(notices.first().map_or("", String::as_str), 80)
        )
    }))
}

/// Threads that connect and disconnect at once.
const CHURNERS: usize = 4;
/// Most connections per churner thread.
const CHURN_CYCLES: usize = 250;
/// How long the churn lasts (unless every churner is done sooner).
const CHURN_TIME: Duration = Duration::from_millis(1500);
/// How long the newcomer may wait for its welcome after the churn.
const RESPONSIVE: Duration = Duration::from_secs(1);

/// What the churners managed.
#[derive(Debug, Default)]
struct Churned {
    connections: usize,
    failures: usize,
    first_failure: Option<String>,
}

/// Hundreds of clients come and go in every way (at once, mid-line, with
/// `/quit`, with a half-close) while alice and bob talk to each other. Each
/// must hear the other throughout; afterwards the server must welcome a
/// newcomer at once, and count nobody who left.
pub(super) fn churn(addr: SocketAddr) -> Outcome {
    let cast = Cast::assemble(addr)?;
    // Everyone online before the churn, as the server counts them: the others
    // in bob's welcome, plus bob.
    let before = others_online(&cast.observers[1].welcome).map(|n| n + 1);
    let marks = cast.marks();
    let talkers = [
        Talker::start(&cast.observers[0], "ping", TALK_EVERY)?,
        Talker::start(&cast.observers[1], "pong", TALK_EVERY)?,
    ];
    let started = Instant::now();
    let churners = (0..CHURNERS)
        .map(|t| {
            thread::Builder::new()
                .name(format!("churner-{t}"))
                .spawn(move || churner(addr, t, started))
        })
        .collect::<io::Result<Vec<_>>>()?;
    let mut churned = Churned::default();
    for churner in churners {
        let one = churner.join().unwrap_or_default();
        churned.connections += one.connections;
        churned.failures += one.failures;
        churned.first_failure = churned.first_failure.or(one.first_failure);
    }
    let took = started.elapsed();
    // Alice and bob talk for the whole churn time, even if the churn was quick.
    thread::sleep(CHURN_TIME.saturating_sub(took));
    let [ping, pong] = talkers.map(Talker::stop);
    println!(
        "  {} connections came and went in {:.1} s{}",
        churned.connections,
        took.as_secs_f64(),
        match &churned.first_failure {
            Some(e) => format!("; {} failed (the first: {e})", churned.failures),
            None => String::new(),
        }
    );
    // Each observer listens to the other one.
    let [alice, bob] = &cast.observers;
    let deadline = Instant::now() + SETTLE;
    alice
        .inbox()
        .wait_until(deadline, |r| pong.all_arrived(r, marks[0]));
    bob.inbox()
        .wait_until(deadline, |r| ping.all_arrived(r, marks[1]));
    let alice_heard = alice.inbox().read(|r| pong.heard_by(r, marks[0]));
    let bob_heard = bob.inbox().read(|r| ping.heard_by(r, marks[1]));
    println!("  alice heard bob: {}", alice_heard.summary());
    println!("  bob heard alice: {}", bob_heard.summary());

    // A newcomer: welcomed at once, and told the same number of others as
    // were online before (retrying while the last leavers are processed).
    let deadline = Instant::now() + Duration::from_secs(3);
    let (waited, counted) = loop {
        let asked = Instant::now();
        let newcomer = Peer::join(addr, "newcomer")?;
        let waited = asked.elapsed();
        let counted = others_online(&newcomer.welcome);
        newcomer.close();
        if counted == before || Instant::now() >= deadline {
            break (waited, counted);
        }
        thread::sleep(Duration::from_millis(100));
    };
    let count = |n: Option<usize>| n.map_or("?".to_string(), |n| n.to_string());
    println!(
        "  a newcomer was welcomed in {:.0} ms and told {} others are online (before the churn: {})",
        waited.as_secs_f64() * 1000.0,
        count(counted),
        count(before)
    );
    let why = cast.merged_talk("alice and bob");
    cast.close();

    let mut problems = Problems::default();
    problems.check_heard("alice", "bob", &alice_heard, SMOOTH);
    problems.check_heard("bob", "alice", &bob_heard, SMOOTH);
    if churned.failures > 0 {
        problems.add(
            "",
            format!(
                "{} of {} churn connections failed (the first: {})",
                churned.failures,
                churned.connections,
                churned.first_failure.unwrap_or_default()
            ),
        );
    }
    if waited > RESPONSIVE {
        problems.add(
            "the newcomer",
            format!("waited {:.1} s for its welcome", waited.as_secs_f64()),
        );
    }
    if counted != before {
        problems.add(
            "the server",
            format!(
                "still counts {} others online, not {} as before the churn",
                count(counted),
                count(before)
            ),
        );
    }
    Ok(problems.verdict(&why, || {
        format!(
            "{} connections came and went; alice and bob heard each other throughout, and a \
             newcomer was welcomed in {:.0} ms with the right count",
            churned.connections,
            waited.as_secs_f64() * 1000.0
        )
    }))
}

/// The N in `* welcome NAME, N others online, ...`.
fn others_online(welcome: &str) -> Option<usize> {
    let (_, rest) = welcome.split_once(", ")?;
    rest.split(' ').next()?.parse().ok()
}

/// One churner thread: connects and disconnects in four different ways.
fn churner(addr: SocketAddr, first_way: usize, started: Instant) -> Churned {
    let mut churned = Churned::default();
    for cycle in 0..CHURN_CYCLES {
        if started.elapsed() >= CHURN_TIME {
            break;
        }
        churned.connections += 1;
        if let Err(e) = churn_once(addr, (first_way + cycle) % 4) {
            churned.failures += 1;
            churned.first_failure.get_or_insert(e.to_string());
        }
    }
    churned
}

fn churn_once(addr: SocketAddr, way: usize) -> io::Result<()> {
    let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
    stream.set_read_timeout(Some(Duration::from_secs(2)))?;
    stream.set_write_timeout(Some(WRITE_TIMEOUT))?;
    match way {
        // Gone before the server has even said hello.
        0 => Ok(()),
        // Half a line, then gone.
        1 => (&stream).write_all(b"half a li"),
        // Welcome, /quit, and a polite close (in chunk framing /quit is
        // only chat, so the half-close is what ends it there).
        2 => {
            read_welcome(&stream)?;
            (&stream).write_all(b"/quit churning\n")?;
            stream.shutdown(Shutdown::Write)?;
            read_to_end(&stream)
        }
        // Welcome, one line, and a half-close.
        _ => {
            read_welcome(&stream)?;
            (&stream).write_all(b"hello from a churner\n")?;
            stream.shutdown(Shutdown::Write)?;
            read_to_end(&stream)
        }
    }
}

fn read_welcome(stream: &TcpStream) -> io::Result<()> {
    let mut buf = [0u8; 512];
    let mut got = Vec::new();
    while !got.contains(&b'\n') {
        match (&*stream).read(&mut buf)? {
            0 => return Err(io::Error::other("closed before the welcome")),
            n => got.extend_from_slice(&buf[..n]),
        }
    }
    if got.starts_with(b"* welcome ") {
        Ok(())
    } else {
        let got = String::from_utf8_lossy(&got);
        Err(io::Error::other(format!("no welcome: {}", show(&got, 60))))
    }
}

/// Reads until the server closes (each read has the stream's timeout).
fn read_to_end(stream: &TcpStream) -> io::Result<()> {
    let mut buf = [0u8; 4096];
    let deadline = Instant::now() + Duration::from_secs(2);
    while Instant::now() < deadline {
        match (&*stream).read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Err(timed_out("the server did not close the connection"))
}

/// What `escape` sends: each line tries another way to take over the reader's
/// terminal, or to disguise text.
const ESCAPES: [&str; 9] = [
    "\u{1b}[31mred alert\u{1b}[0m",
    "\u{1b}]0;terminal title hijacked\u{7}",
    "\u{1b}[2J\u{1b}[Hscreen cleared",
    "innocent text\rEVIL overwrite",
    "backspace\u{8}\u{8}\u{8}\u{8}trick",
    "invoice_\u{202e}fdp.exe",
    "\u{2066}isolated\u{2069} text",
    "c1 control \u{9b}31m here",
    "bell\u{7}\u{7}\u{7}",
];
const ESCAPE_DONE: &str = "escape done";

/// Terminal escape sequences and bidi overrides: observers must receive the
/// text without a single control or bidi character.
pub(super) fn escape(addr: SocketAddr) -> Outcome {
    let cast = Cast::assemble(addr)?;
    let bad = Peer::join(addr, "escaper")?;
    let marks = cast.admit(&[&bad])?;
    for line in ESCAPES.iter().chain([&ESCAPE_DONE]) {
        bad.send(format!("{line}\n").as_bytes())?;
    }
    println!("  escaper sent {} lines, such as:", ESCAPES.len() + 1);
    for line in &ESCAPES[..4] {
        println!("    {}", show(line, 60));
    }
    cast.wait(marks, SETTLE, |r, mark| {
        r.any_since(mark, |l| l.ends_with(ESCAPE_DONE))
    });

    let mut problems = Problems::default();
    for (observer, mark) in cast.observers.iter().zip(marks) {
        let text = observer.inbox().read(|r| r.text_since(mark));
        let got = pieces(&text, &bad.name);
        println!(
            "  {} saw {} messages from escaper, such as:",
            observer.role,
            got.len()
        );
        for piece in got.iter().take(4) {
            println!("    {}", show(piece, 60));
        }
        let mut forbidden: Vec<char> = text.chars().filter(|&c| is_forbidden(c)).collect();
        forbidden.sort_unstable();
        forbidden.dedup();
        if !forbidden.is_empty() {
            let listed: Vec<String> = forbidden
                .iter()
                .map(|&c| format!("U+{:04X}", c as u32))
                .collect();
            problems.add(
                &observer.role,
                format!("received control or bidi characters: {}", listed.join(" ")),
            );
        }
        if !text.contains(ESCAPE_DONE) {
            problems.add(&observer.role, "never got the last line");
        }
    }
    bad.close();
    cast.close();
    Ok(problems.verdict("", || {
        format!(
            "the observers got all {} lines with no control or bidi character in them",
            ESCAPES.len() + 1
        )
    }))
}
