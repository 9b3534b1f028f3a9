//! `crowd` and `ghost`: who holds a place in the room. One address must not
//! take every place, and a client that vanishes must give its place back at
//! once and say nothing more.

use std::io;
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

use super::{secs, show, Cast, Outcome, Problems, SETTLE};
use crate::peer::{connect, first_line, hang_up, rest_until_close, Line, Peer, Received};
use crate::source::connect_from;

/// The per-address limit the in-process server gets for `crowd`: the same
/// number the server uses for other machines by default.
pub(super) const CROWD_LIMIT: usize = 16;
/// Most connections `crowd` opens before concluding there is no limit.
const CROWD_MAX: usize = 200;
/// A place given up must be free again this soon.
const PLACE_BACK: Duration = Duration::from_secs(1);
/// How often to knock again while waiting for a place: a retry pace, not a
/// synchronisation (each knock waits for the server's answer).
const KNOCK_AGAIN: Duration = Duration::from_millis(50);
/// Where `crowd`'s second address connects from.
const OTHER_ADDRESS: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 2);

/// A connection the server let in: it stays open, holding its place.
#[derive(Debug)]
struct Member {
    stream: TcpStream,
    /// The name in its welcome line.
    name: String,
}

/// A connection the server turned away, and everything it was told.
#[derive(Debug)]
struct Refusal {
    /// Its address, which is also the name the server would have given it.
    from: SocketAddr,
    /// The first line it got, or `None` if the server closed without one.
    line: Option<String>,
    /// What came after that line before the server closed, or `None` if the
    /// server did not close within the reply timeout.
    rest: Option<Vec<u8>>,
}

impl Refusal {
    fn answer(&self) -> String {
        self.line
            .as_deref()
            .map_or("no line at all".to_string(), |l| show(l, 80))
    }
}

/// What the server answered a new connection.
#[derive(Debug)]
enum Answer {
    Welcome(Member),
    Refused(Refusal),
}

/// Reads the server's answer on a fresh connection. A refused one is read to
/// its end and closed at once: the server lingers on a refused connection
/// until it closes, so keeping it open would hold up the next refusal.
fn answer(stream: TcpStream) -> io::Result<Answer> {
    let from = stream.local_addr()?;
    let line = first_line(&stream)?;
    match line.as_deref().and_then(|l| l.strip_prefix("* welcome ")) {
        Some(welcome) => {
            let name = welcome
                .split_once(", ")
                .map_or(welcome, |(name, _)| name)
                .to_string();
            Ok(Answer::Welcome(Member { stream, name }))
        }
        None => {
            let rest = rest_until_close(&stream);
            Ok(Answer::Refused(Refusal { from, line, rest }))
        }
    }
}

/// Knocks again and again until a connection is let in or `deadline` passes.
/// Returns the member and how long after `since` its knock started, or the
/// last refusal. Every refusal is also added to `refusals`.
fn knock_until(
    addr: SocketAddr,
    since: Instant,
    deadline: Instant,
    refusals: &mut Vec<Refusal>,
) -> io::Result<Result<(Member, Duration), String>> {
    loop {
        let knocked = Instant::now();
        match answer(connect(addr)?)? {
            Answer::Welcome(member) => {
                return Ok(Ok((member, knocked.saturating_duration_since(since))))
            }
            Answer::Refused(refusal) => {
                let said = refusal.answer();
                refusals.push(refusal);
                if Instant::now() >= deadline {
                    return Ok(Err(said));
                }
            }
        }
        thread::sleep(KNOCK_AGAIN);
    }
}

/// One address opens connections until the server refuses one. It must be
/// refused after exactly the limit (alice and bob count: they come from the
/// same address), be told so in one exact line, go unnoticed by the room, and
/// get a place back within a second of giving one up; a second address must
/// still get in.
pub(super) fn crowd(addr: SocketAddr, limit: Option<usize>) -> Outcome {
    let cast = Cast::assemble(addr)?;
    let ip = cast.observers[0].stream().local_addr()?.ip();
    let marks = cast.marks();
    let mut members = Vec::new();
    let mut refusals = Vec::new();
    let mut failure = None;
    while members.len() < CROWD_MAX {
        match connect(addr).and_then(answer) {
            Ok(Answer::Welcome(member)) => members.push(member),
            Ok(Answer::Refused(refusal)) => {
                refusals.push(refusal);
                break;
            }
            Err(e) => {
                failure = Some(e);
                break;
            }
        }
    }
    let held = cast.observers.len() + members.len();
    let mut problems = Problems::default();
    if let Some(e) = &failure {
        problems.add("", format!("connection {} from {ip} failed: {e}", held + 1));
    }
    let limit_said = match limit {
        Some(n) => format!(" (the limit is {n})"),
        None => String::new(),
    };
    let Some(refusal) = refusals.first() else {
        println!(
            "  {ip} held {held} places (alice, bob and {} more) and was never refused",
            members.len()
        );
        if failure.is_none() {
            problems.add(
                "",
                format!("{ip} was never refused: it held {held} places{limit_said}"),
            );
        }
        return Ok(finish_crowd(
            cast,
            members,
            Vec::new(),
            problems,
            String::new,
        ));
    };
    println!(
        "  {ip} held {held} places (alice, bob and {} more); connection {} got {}",
        members.len(),
        held + 1,
        refusal.answer()
    );
    let line = refusal.line.clone().unwrap_or_default();
    let stated = line
        .strip_prefix(&format!("! too many connections from {ip} (max "))
        .and_then(|rest| rest.strip_suffix(')'))
        .and_then(|n| n.parse::<usize>().ok());
    let expected_line = format!(
        "! too many connections from {ip} (max {})",
        limit.map_or("N".to_string(), |n| n.to_string())
    );
    match (limit, stated) {
        (Some(n), Some(m)) if n == m => {}
        (None, Some(_)) => {}
        _ => problems.add(
            "the refused connection",
            format!("got {}, not {}", refusal.answer(), show(&expected_line, 80)),
        ),
    }
    if let Some(n) = limit {
        if held != n {
            problems.add(
                "",
                format!("{ip} was refused after {held} places instead of {n}"),
            );
        }
    }
    match &refusal.rest {
        None => problems.add("the refused connection", "was not closed after its line"),
        Some(rest) if !rest.is_empty() => problems.add(
            "the refused connection",
            format!(
                "got more after its line: {}",
                show(&String::from_utf8_lossy(rest), 80)
            ),
        ),
        Some(_) => {}
    }
    let mut newcomers = Vec::new();

    // Give one place up politely, and knock until it is ours again.
    let mut back = None;
    if let Some(gone) = members.pop() {
        let given_up = Instant::now();
        hang_up(&[gone.stream]);
        match knock_until(addr, given_up, given_up + PLACE_BACK, &mut refusals)? {
            Ok((member, after)) => {
                println!(
                    "  one of the crowd left; a new connection from {ip} got in {:.0} ms later",
                    after.as_secs_f64() * 1000.0
                );
                back = Some(after);
                newcomers.push(member);
            }
            Err(said) => {
                println!("  one of the crowd left; a new connection from {ip} still got {said}");
                problems.add(
                    "",
                    format!(
                        "{ip} was still refused {:.1} s after one of its connections closed: {said}",
                        secs(PLACE_BACK)
                    ),
                );
            }
        }
    }

    // Another address, while this one is full again.
    let other = match addr {
        SocketAddr::V4(to) if to.ip().is_loopback() => {
            match connect_from(OTHER_ADDRESS, to).and_then(answer) {
                Ok(Answer::Welcome(member)) => {
                    println!("  a connection from {OTHER_ADDRESS} got in");
                    newcomers.push(member);
                    format!(", while {OTHER_ADDRESS} still got in")
                }
                Ok(Answer::Refused(refusal)) => {
                    println!(
                        "  a connection from {OTHER_ADDRESS} got {}",
                        refusal.answer()
                    );
                    problems.add(
                        "",
                        format!(
                            "{OTHER_ADDRESS} was refused too ({}): the limit is not per address",
                            refusal.answer()
                        ),
                    );
                    refusals.push(refusal);
                    String::new()
                }
                Err(e) if e.kind() == io::ErrorKind::Unsupported => {
                    println!("  another address was not tried: {e}");
                    format!(" ({OTHER_ADDRESS} not tried on this platform)")
                }
                Err(e) => {
                    problems.add("", format!("a connection from {OTHER_ADDRESS} failed: {e}"));
                    String::new()
                }
            }
        }
        _ => {
            println!("  another address was not tried: the server is not on IPv4 loopback");
            " (no second address tried)".to_string()
        }
    };

    // The latest arrival's join notice is what the observers wait for: any
    // notice about a refused connection would have come before it.
    if let Some(last) = newcomers.last().or(members.last()) {
        let joined = format!("* {} joined", last.name);
        cast.wait(marks, SETTLE, |r, mark| r.any_since(mark, |l| l == joined));
    }
    for (observer, mark) in cast.observers.iter().zip(marks) {
        let noticed = observer.inbox().read(|r| notices_about(r, mark, &refusals));
        for line in noticed {
            problems.add(
                &observer.role,
                format!("saw {} about a refused connection", show(&line, 80)),
            );
        }
    }
    let passed = move || {
        format!(
            "{ip} was refused after {held} places with {}, unnoticed by the room, and got a place \
             back {:.0} ms after giving one up{other}",
            show(&line, 80),
            back.unwrap_or_default().as_secs_f64() * 1000.0
        )
    };
    Ok(finish_crowd(cast, members, newcomers, problems, passed))
}

/// Every line since `mark` that is a notice about one of `refusals` (the
/// server names a client by its address until it picks a name).
fn notices_about(received: &Received, mark: usize, refusals: &[Refusal]) -> Vec<String> {
    received
        .since(mark)
        .iter()
        .filter(|l| {
            refusals
                .iter()
                .any(|r| l.text.starts_with(&format!("* {} ", r.from)))
        })
        .map(|l| l.text.clone())
        .collect()
}

fn finish_crowd(
    cast: Cast,
    members: Vec<Member>,
    newcomers: Vec<Member>,
    problems: Problems,
    passed: impl FnOnce() -> String,
) -> (bool, String) {
    let streams: Vec<TcpStream> = members
        .into_iter()
        .chain(newcomers)
        .map(|m| m.stream)
        .collect();
    hang_up(&streams);
    cast.close();
    problems.verdict("", passed)
}

/// The in-process server's room for `ghost`: alice, bob and the ghost, so the
/// ghost's place is the only one a newcomer can get.
pub(super) const GHOST_ROOM: usize = 3;
/// Lines the ghost sends in one write: the rate limit lets 50 through at once,
/// then 20 a second, so most of them are still held back when it resets.
const GHOST_LINES: usize = 2000;
const GHOST_TAG: &str = "boo";
/// The leave notice must arrive this soon after the reset.
const LEAVE_WITHIN: Duration = Duration::from_millis(1500);
/// How long to keep watching for the ghost's lines after that.
const AFTERMATH: Duration = Duration::from_secs(3);

/// How one observer saw the ghost go.
#[derive(Debug)]
struct Haunting {
    /// Lines of the ghost that arrived before the reset, and after it.
    before: usize,
    after_reset: usize,
    /// The leave notice, and how long after the reset it came.
    left: Option<(String, Duration)>,
    /// Lines of the ghost that arrived after its leave notice.
    after_left: usize,
}

impl Haunting {
    fn of(received: &Received, mark: usize, name: &str, reset_at: Instant) -> Haunting {
        let said = format!("> {name}: {GHOST_TAG} ");
        let left = format!("* {name} left");
        let lines = received.since(mark);
        let left_at = lines.iter().position(|l| l.text.starts_with(&left));
        let ghostly = |l: &&Line| l.text.starts_with(&said);
        Haunting {
            before: lines
                .iter()
                .filter(ghostly)
                .filter(|l| l.at <= reset_at)
                .count(),
            after_reset: lines
                .iter()
                .filter(ghostly)
                .filter(|l| l.at > reset_at)
                .count(),
            left: left_at.map(|i| {
                let line = &lines[i];
                (
                    line.text.clone(),
                    line.at.saturating_duration_since(reset_at),
                )
            }),
            after_left: left_at.map_or(0, |i| lines[i + 1..].iter().filter(ghostly).count()),
        }
    }
}

/// A client floods 2000 lines in one write, which the rate limit holds back,
/// then resets its connection. The observers must see it leave within 1.5 s,
/// and nothing of it after that; in-process, its place must be free within a
/// second (the room holds exactly alice, bob and the ghost).
pub(super) fn ghost(addr: SocketAddr, room: Option<usize>) -> Outcome {
    let cast = Cast::assemble(addr)?;
    let mut ghost = Peer::join(addr, "ghost")?;
    let marks = cast.admit(&[&ghost])?;
    let mut problems = Problems::default();
    let mut refusals = Vec::new();

    // The place check means something only if the room really is full now.
    let measure_place = match room {
        Some(room) => match answer(connect(addr)?)? {
            Answer::Refused(refusal) => {
                println!(
                    "  with alice, bob and ghost in a room of {room}, a fourth connection got {}",
                    refusal.answer()
                );
                true
            }
            Answer::Welcome(member) => {
                hang_up(&[member.stream]);
                problems.add(
                    "",
                    format!("a fourth client got in with --max-clients {room}, so ghost's place could not be measured"),
                );
                false
            }
        },
        None => {
            println!("  ghost's place is not measured: the server's --max-clients is unknown");
            false
        }
    };

    // A reset needs data left unread when the socket closes (see `reset`):
    // alice talks to a ghost that no longer reads.
    ghost.stop_reading();
    cast.observers[0].send(b"still there, ghost?\n")?;
    let unread = ghost.has_unread(SETTLE);
    let burst: String = (0..GHOST_LINES)
        .map(|i| format!("{GHOST_TAG} {i:04}\n"))
        .collect();
    ghost.send(burst.as_bytes())?;
    let first = format!("> {}: {GHOST_TAG} 0000", ghost.name);
    cast.wait(marks, SETTLE, |r, mark| r.any_since(mark, |l| l == first));
    let name = ghost.name.clone();
    let reset_at = Instant::now();
    ghost.abort();
    println!(
        "  ghost sent {GHOST_LINES} lines in one write, saw its first one relayed, and closed{}",
        if unread {
            " with data unread: a reset"
        } else {
            " (nothing was unread, so this may have been a plain close)"
        }
    );
    if !unread {
        problems.add(
            "",
            "ghost had nothing unread when it closed, so its close may not have been a reset",
        );
    }

    let mut newcomer = None;
    if measure_place {
        match knock_until(addr, reset_at, reset_at + PLACE_BACK, &mut refusals)? {
            Ok((member, after)) => {
                println!(
                    "  a newcomer got ghost's place {:.0} ms after the reset",
                    after.as_secs_f64() * 1000.0
                );
                newcomer = Some((member, after));
            }
            Err(said) => {
                println!(
                    "  {:.1} s after the reset a newcomer still got {said}",
                    secs(PLACE_BACK)
                );
                problems.add(
                    "",
                    format!(
                        "a newcomer was still refused {:.1} s after the reset ({said}): ghost held its place",
                        secs(PLACE_BACK)
                    ),
                );
            }
        }
    }

    // Watch the whole time, unless the ghost already spoke after its notice.
    let watch_end = reset_at + LEAVE_WITHIN + AFTERMATH;
    let left = format!("* {name} left");
    let said = format!("> {name}: {GHOST_TAG} ");
    cast.wait(
        marks,
        watch_end.saturating_duration_since(Instant::now()),
        |r, mark| {
            let lines = r.since(mark);
            lines
                .iter()
                .position(|l| l.text.starts_with(&left))
                .is_some_and(|i| lines[i + 1..].iter().any(|l| l.text.starts_with(&said)))
        },
    );
    let watched = Instant::now().saturating_duration_since(reset_at);
    let mut notices = Vec::new();
    for (observer, mark) in cast.observers.iter().zip(marks) {
        let seen = observer
            .inbox()
            .read(|r| Haunting::of(r, mark, &name, reset_at));
        let who = &observer.role;
        println!(
            "  {who} got {} of ghost's lines before the reset and {} after it; {}",
            seen.before,
            seen.after_reset,
            match &seen.left {
                Some((line, after)) => format!(
                    "{} {:.2} s after the reset, then {} more of its lines",
                    show(line, 60),
                    secs(*after),
                    seen.after_left
                ),
                None => format!("no leave notice in {:.1} s", secs(watched)),
            }
        );
        if seen.before >= GHOST_LINES {
            problems.add(
                who,
                format!(
                    "got all {GHOST_LINES} lines before the reset: nothing was held back (is the \
                     rate limit off?), so nothing could come after the leave notice"
                ),
            );
        }
        match &seen.left {
            None => problems.add(
                who,
                format!(
                    "saw no leave notice for ghost in {:.1} s after the reset",
                    secs(watched)
                ),
            ),
            Some((_, after)) if *after > LEAVE_WITHIN => problems.add(
                who,
                format!("saw ghost leave only {:.1} s after the reset", secs(*after)),
            ),
            Some((line, after)) => notices.push((line.clone(), *after)),
        }
        if seen.after_left > 0 {
            problems.add(
                who,
                format!(
                    "got {} of ghost's lines after its leave notice",
                    seen.after_left
                ),
            );
        }
    }
    if let Some((member, _)) = &newcomer {
        hang_up(std::slice::from_ref(&member.stream));
    }
    cast.close();
    let place = match &newcomer {
        Some((_, after)) => format!(
            "; a newcomer got its place {:.0} ms after the reset",
            after.as_secs_f64() * 1000.0
        ),
        None => String::new(),
    };
    Ok(problems.verdict("", || {
        let slowest = notices
            .iter()
            .map(|(_, after)| *after)
            .max()
            .unwrap_or_default();
        format!(
            "both observers saw {} within {:.2} s of the reset and nothing of ghost after it, \
             while the rate limit still held most of its {GHOST_LINES} lines{place}",
            show(notices.first().map_or("", |(line, _)| line.as_str()), 60),
            secs(slowest)
        )
    }))
}
