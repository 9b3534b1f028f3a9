//! `dashboard-lurkers`: the dashboard (`--dashboard`) against a crowd that
//! holds connections and gives nothing back: event streams that never read,
//! request heads that never end. A teacher's fresh look at the page must
//! still be answered at once, and the chat must not notice.

use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

use super::{secs, Cast, Outcome, Problems, SETTLE, SMOOTH, TALK_EVERY};
use crate::peer::{connect, is_timeout, Peer};
use crate::source::connect_from;
use crate::talker::Talker;

/// `/events` streams the lurkers open and never read: more than the 32 that
/// once kept every other viewer out for as long as they stayed.
const STREAMS: usize = 40;
/// Request heads they start and never finish: the 40 that once did the same
/// for five seconds at a time.
const HALVES: usize = 40;
/// Fresh looks at `/state.json` while the lurkers hold on, and how far apart
/// (a viewer reloading the page).
const VIEWS: usize = 5;
const VIEW_EVERY: Duration = Duration::from_millis(200);
/// A fresh look must be answered within this.
const VIEW_LIMIT: Duration = Duration::from_secs(2);
/// An unfinished request must be closed this soon after it was sent: "a
/// second or two", and slack for a busy machine.
const HALF_LIMIT: Duration = Duration::from_millis(3500);
/// Where the lurkers connect from, where they can: not the viewer's address.
const LURKER_ADDRESS: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 2);
/// How long to wait for the dashboard to show the observers before the
/// lurkers come: it samples twice a second, but on a busy machine reading
/// the kernel's socket tables for a sample can take a second or more.
const FIRST_LOOK: Duration = Duration::from_secs(10);

/// What one fresh look at `/state.json` got.
#[derive(Debug)]
struct View {
    took: Duration,
    /// The status line, or what went wrong instead.
    status: String,
    /// The snapshot named every observer.
    names_everyone: bool,
}

impl View {
    fn good(&self) -> bool {
        self.status == "HTTP/1.1 200 OK" && self.names_everyone && self.took < VIEW_LIMIT
    }
}

/// Asks for `/state.json` as a browser would, and reads the answer to its
/// end (giving up after [`VIEW_LIMIT`] and three seconds more).
fn look(dashboard: SocketAddr, names: &[String]) -> View {
    let asked = Instant::now();
    let answer = connect(dashboard).and_then(|mut stream| {
        stream.write_all(
            format!("GET /state.json HTTP/1.1\r\nHost: {dashboard}\r\nAccept: */*\r\n\r\n")
                .as_bytes(),
        )?;
        read_to_close(&stream, asked + VIEW_LIMIT + Duration::from_secs(3))
    });
    let took = asked.elapsed();
    match answer {
        Ok(Some(bytes)) => {
            let text = String::from_utf8_lossy(&bytes);
            View {
                took,
                status: text.lines().next().unwrap_or("an empty answer").to_string(),
                names_everyone: names
                    .iter()
                    .all(|name| text.contains(&format!("\"name\":\"{name}\""))),
            }
        }
        Ok(None) => View {
            took,
            status: "no complete answer".to_string(),
            names_everyone: false,
        },
        Err(e) => View {
            took,
            status: format!("an error: {e}"),
            names_everyone: false,
        },
    }
}

/// Everything until the server closes, or `None` at `deadline`.
fn read_to_close(stream: &TcpStream, deadline: Instant) -> io::Result<Option<Vec<u8>>> {
    let mut got = Vec::new();
    let mut buf = [0u8; 8192];
    while Instant::now() < deadline {
        match (&*stream).read(&mut buf) {
            Ok(0) => return Ok(Some(got)),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if is_timeout(&e) || e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(None)
}

/// A connection for a lurker: from [`LURKER_ADDRESS`] when the dashboard is
/// on IPv4 loopback and this is Linux, from this machine's usual address
/// otherwise (then the viewer shares the lurkers' address).
fn lurk(dashboard: SocketAddr) -> io::Result<TcpStream> {
    match dashboard {
        SocketAddr::V4(to) if to.ip().is_loopback() => match connect_from(LURKER_ADDRESS, to) {
            Err(e) if e.kind() == io::ErrorKind::Unsupported => connect(dashboard),
            other => other,
        },
        _ => connect(dashboard),
    }
}

/// What became of one lurking connection.
#[derive(Debug, Default)]
struct Fate {
    /// The server's first line to it, if any.
    first_line: Option<String>,
    /// When the server closed it (a reset counts).
    closed: Option<Instant>,
}

/// Reads every lurker without waiting until `deadline` or until all are
/// closed (reading now is fine: what counted was not reading while the
/// viewer looked), and keeps each one's first line and when it closed.
fn fates(lurkers: &[TcpStream], deadline: Instant) -> io::Result<Vec<Fate>> {
    let mut fates: Vec<Fate> = lurkers.iter().map(|_| Fate::default()).collect();
    let mut heads: Vec<Vec<u8>> = lurkers.iter().map(|_| Vec::new()).collect();
    for stream in lurkers {
        stream.set_nonblocking(true)?;
    }
    let mut buf = [0u8; 16 * 1024];
    loop {
        for ((stream, fate), head) in lurkers.iter().zip(&mut fates).zip(&mut heads) {
            while fate.closed.is_none() {
                match (&*stream).read(&mut buf) {
                    Ok(0) => fate.closed = Some(Instant::now()),
                    Ok(n) => {
                        if fate.first_line.is_none() {
                            head.extend_from_slice(&buf[..n]);
                            if let Some(end) = head.iter().position(|&b| b == b'\r') {
                                fate.first_line =
                                    Some(String::from_utf8_lossy(&head[..end]).into_owned());
                            }
                        }
                    }
                    Err(e) if is_timeout(&e) || e.kind() == io::ErrorKind::Interrupted => break,
                    Err(_) => fate.closed = Some(Instant::now()),
                }
            }
        }
        if Instant::now() >= deadline || fates.iter().all(|f| f.closed.is_some()) {
            return Ok(fates);
        }
        thread::sleep(Duration::from_millis(20)); // a polling pace
    }
}

/// Lurkers open [`STREAMS`] event streams that never read and [`HALVES`]
/// requests that never end; while they hold on, a viewer looks at
/// `/state.json` [`VIEWS`] times. Every look must be answered within
/// [`VIEW_LIMIT`] and name the observers, every unfinished request must be
/// closed within [`HALF_LIMIT`], and the observers must hear carol talk
/// throughout with no long gap.
pub(super) fn lurkers(addr: SocketAddr, dashboard: SocketAddr) -> Outcome {
    let cast = Cast::assemble(addr)?;
    let carol = Peer::join(addr, "carol")?;
    let marks = cast.admit(&[&carol])?;
    let names: Vec<String> = cast.observers.iter().map(|o| o.name.clone()).collect();
    // The dashboard works, and has sampled the room, before anything happens.
    let deadline = Instant::now() + FIRST_LOOK;
    let first = loop {
        let view = look(dashboard, &names);
        if view.good() || Instant::now() >= deadline {
            break view;
        }
        thread::sleep(Duration::from_millis(100)); // a polling pace
    };
    if !first.good() {
        return Err(io::Error::other(format!(
            "the dashboard at {dashboard} did not show the observers before the lurkers came: \
             got {} after {:.2} s",
            first.status,
            secs(first.took)
        )));
    }
    let talker = Talker::start(&carol, "tick", TALK_EVERY)?;

    let subscribe = format!("GET /events HTTP/1.1\r\nHost: {dashboard}\r\n\r\n");
    let half = format!("GET /state.json HTTP/1.1\r\nHost: {dashboard}\r\n");
    let mut lurkers = Vec::new();
    for _ in 0..STREAMS {
        let mut stream = lurk(dashboard)?;
        stream.write_all(subscribe.as_bytes())?;
        lurkers.push(stream);
    }
    let halves_sent = Instant::now();
    for _ in 0..HALVES {
        let mut stream = lurk(dashboard)?;
        stream.write_all(half.as_bytes())?;
        lurkers.push(stream);
    }
    let from = lurkers[0].local_addr()?.ip();
    println!(
        "  {from} opened {STREAMS} /events streams that never read and {HALVES} requests that \
         never end"
    );

    let mut views = Vec::new();
    for n in 0..VIEWS {
        if n > 0 {
            thread::sleep(VIEW_EVERY);
        }
        let view = look(dashboard, &names);
        println!(
            "  a fresh look at /state.json: {} in {:.3} s",
            view.status,
            secs(view.took)
        );
        views.push(view);
    }
    let fates = fates(&lurkers, halves_sent + HALF_LIMIT)?;
    let (streams, halves) = fates.split_at(STREAMS);
    let served = streams
        .iter()
        .filter(|f| f.first_line.as_deref() == Some("HTTP/1.1 200 OK"))
        .count();
    let streams_open = streams.iter().filter(|f| f.closed.is_none()).count();
    let half_count = |line: Option<&str>| {
        halves
            .iter()
            .filter(|f| f.closed.is_some() && f.first_line.as_deref() == line)
            .count()
    };
    let (timed_out, cut) = (
        half_count(Some("HTTP/1.1 408 Request Timeout")),
        half_count(None),
    );
    let halves_open = halves.iter().filter(|f| f.closed.is_none()).count();
    let refused = HALVES - timed_out - cut - halves_open;
    let last_half = halves
        .iter()
        .filter_map(|f| f.closed)
        .max()
        .map(|at| at.saturating_duration_since(halves_sent));
    println!(
        "  of the streams, {served} were answered 200 and {streams_open} were still open at the \
         end; of the unfinished requests, {timed_out} got 408, {cut} were closed without an \
         answer, {refused} got another answer, and {halves_open} were still open {:.1} s after \
         they were sent",
        secs(HALF_LIMIT)
    );
    drop(lurkers);

    let spoken = talker.stop();
    let heard = cast.hear_out(marks, &spoken, SETTLE);
    carol.close();
    let roles = cast.roles();
    cast.close();

    let mut problems = Problems::default();
    let bad: Vec<&View> = views.iter().filter(|v| !v.good()).collect();
    if let Some(first_bad) = bad.first() {
        problems.add(
            "the viewer",
            format!(
                "was not served promptly on {} of {VIEWS} looks (first: {} in {:.2} s{})",
                bad.len(),
                first_bad.status,
                secs(first_bad.took),
                if first_bad.names_everyone || !first_bad.status.ends_with("200 OK") {
                    ""
                } else {
                    ", without the observers' names"
                }
            ),
        );
    }
    if halves_open > 0 {
        problems.add(
            "",
            format!(
                "{halves_open} unfinished requests were still open {:.1} s after they were sent",
                secs(HALF_LIMIT)
            ),
        );
    }
    for (who, heard) in roles.iter().zip(&heard) {
        problems.check_heard(who, "carol", heard, SMOOTH);
    }
    let slowest = views.iter().map(|v| v.took).max().unwrap_or_default();
    let gap = heard
        .iter()
        .map(|h| h.longest_gap)
        .max()
        .unwrap_or_default();
    Ok(problems.verdict("", || {
        format!(
            "a fresh viewer got /state.json {VIEWS} of {VIEWS} times (slowest {:.3} s) while \
             {from} opened {STREAMS} streams that never read and {HALVES} requests that never \
             end; {streams_open} of its streams stayed open, its unfinished requests were all \
             closed within {:.1} s, and the observers heard carol with no gap over {:.2} s",
            secs(slowest),
            secs(last_half.unwrap_or_default()),
            secs(gap)
        )
    }))
}
