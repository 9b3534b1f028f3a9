//! `slow`, `flood` and `bomb`: clients that push the server's resources. A
//! client that stops reading, one that sends too fast, one whose line never
//! ends: each must cost the server a bounded amount, and never the room.

use std::io::{self, Write};
use std::net::SocketAddr;
use std::thread;
use std::time::{Duration, Instant};

use super::{mib, pieces, secs, show, Cast, Outcome, Problems, FREEZE, SETTLE, SMOOTH, TALK_EVERY};
use crate::memory::{Probe, Usage};
use crate::peer::{is_timeout, Crowd, Peer, WRITE_TIMEOUT};
use crate::talker::{last_heard, Talker};

/// Helpers connected per step while filling the slow client's buffers.
const WAVE: usize = 8;
/// Most helpers `slow` will use (about 20 MB of messages at 50 lines each).
const MAX_HELPERS: usize = 400;
/// How long `slow` keeps trying to make the server block.
const SLOW_LIMIT: Duration = Duration::from_secs(8);
/// A stall this long means the server is already blocked: stop adding helpers.
const STALLING: Duration = Duration::from_millis(300);
/// Filler for the helpers' messages: one message is about 1 KB.
const FILLER: usize = 960;

/// How a `slow` run ended.
#[derive(Debug)]
enum SlowEnd {
    /// The server evicted the slow client: the line the observers got, and when.
    Evicted(String, Duration),
    /// The observers went this long without a line while carol kept talking.
    Frozen(Duration),
    /// Nothing happened: the slow client's buffers took everything.
    Absorbed,
}

/// A client stops reading while messages for it pour in; carol keeps talking.
/// The observers must keep hearing carol, with no long gap and no lost line.
///
/// Filling a socket's buffers takes megabytes (about 3 MB on Linux loopback),
/// and the default rate limit lets one client send 50 lines at once, then 20 a
/// second. So the pressure comes from a crowd of helpers, each sending the
/// slow client its burst of 50 private messages of 1 KB: private, so only the
/// slow client's buffers fill. In chunk framing `/msg` is relayed as chat to
/// everyone; the helpers are drained, so still only sloth blocks.
pub(super) fn slow(addr: SocketAddr) -> Outcome {
    let cast = Cast::assemble(addr)?;
    let carol = Peer::join(addr, "carol")?;
    let mut sloth = Peer::join(addr, "sloth")?;
    let marks = cast.admit(&[&carol, &sloth])?;
    sloth.stop_reading();
    println!("  sloth stopped reading; carol talks 10 lines a second");

    // 50 lines per helper is the rate limit's burst; in chunk framing the limit
    // counts reads of up to 8 KB instead, so a helper may send 8 times as much.
    let per_helper = if cast.chunked() { 400 } else { 50 };
    let payload = format!("/msg {} {}\n", sloth.name, "z".repeat(FILLER)).repeat(per_helper);
    let crowd = Crowd::new()?;
    let talker = Talker::start(&carol, "tick", TALK_EVERY)?;
    let started = Instant::now();
    let left = format!("* {} left", sloth.name);
    let mut helper_error = None;
    let end = loop {
        let evicted = cast
            .observers
            .iter()
            .zip(marks)
            .find_map(|(observer, mark)| {
                observer.inbox().read(|r| {
                    r.since(mark)
                        .iter()
                        .find(|l| l.text.contains(&left))
                        .map(|l| {
                            SlowEnd::Evicted(
                                notice(&l.text),
                                l.at.saturating_duration_since(started),
                            )
                        })
                })
            });
        if let Some(evicted) = evicted {
            break evicted;
        }
        let now = Instant::now();
        let stall = cast
            .observers
            .iter()
            .zip(marks)
            .map(|(observer, mark)| {
                let heard = observer
                    .inbox()
                    .read(|r| last_heard(r, mark, &carol.name, "tick"));
                now.saturating_duration_since(heard.unwrap_or(started).max(started))
            })
            .max()
            .unwrap_or_default();
        if stall >= FREEZE {
            break SlowEnd::Frozen(stall);
        }
        if now - started >= SLOW_LIMIT {
            break SlowEnd::Absorbed;
        }
        // Add helpers while the room still flows; once it stalls, the server
        // is blocked on sloth already, and more data would only queue.
        if stall < STALLING && crowd.len() < MAX_HELPERS {
            for _ in 0..WAVE {
                if let Err(e) = crowd.add(addr, payload.as_bytes()) {
                    helper_error.get_or_insert(e);
                }
            }
        }
        thread::sleep(Duration::from_millis(50));
    };
    let sent = (crowd.len() * payload.len()) as u64;
    println!(
        "  {} helpers sent sloth {:.1} MB of messages{}",
        crowd.len(),
        mib(sent),
        helper_error
            .map(|e| format!(" (a helper failed: {e})"))
            .unwrap_or_default()
    );
    match &end {
        SlowEnd::Evicted(line, after) => {
            println!(
                "  after {:.1} s the observers got {}",
                secs(*after),
                show(line, 80)
            );
            // Let the room be seen flowing again before carol stops.
            thread::sleep(Duration::from_millis(500));
        }
        SlowEnd::Frozen(stall) => println!(
            "  the room froze: nothing from carol for {:.1} s; disconnecting sloth to end it",
            secs(*stall)
        ),
        SlowEnd::Absorbed => println!(
            "  sloth was never evicted and the room never stalled in {:.0} s",
            secs(SLOW_LIMIT)
        ),
    }
    sloth.abort();
    let spoken = talker.stop();
    let heard = cast.hear_out(marks, &spoken, Duration::from_secs(3));
    crowd.close();
    carol.close();
    let roles = cast.roles();
    let why = cast.because(
        "no write timeout",
        "the server waits as long as a write takes, so one client that stops reading stops everyone",
    ) + &cast.merged_talk("carol");
    cast.close();

    let mut problems = Problems::default();
    if let SlowEnd::Frozen(stall) = end {
        problems.add(
            "",
            format!(
                "the room froze: the observers got nothing from carol for {:.1} s while she kept \
                 talking, until sloth was disconnected",
                secs(stall)
            ),
        );
    }
    let frozen = matches!(end, SlowEnd::Frozen(_));
    for (who, heard) in roles.iter().zip(&heard) {
        if !frozen {
            problems.check_heard(who, "carol", heard, FREEZE);
        } else if !heard.intact {
            // The freeze is said already; losing lines as well is news.
            problems.add(who, format!("heard carol: {}", heard.summary()));
        }
    }
    let gap = heard
        .iter()
        .map(|h| h.longest_gap)
        .max()
        .unwrap_or_default();
    Ok(problems.verdict(&why, || match end {
        SlowEnd::Evicted(line, after) => format!(
            "the server evicted sloth after {:.1} s with {}; the observers' longest gap was \
             {:.2} s and they lost nothing",
            secs(after),
            show(&line, 60),
            secs(gap)
        ),
        _ => format!(
            "sloth's buffers took all {:.1} MB without the server blocking; longest gap {:.2} s, \
             nothing lost",
            mib(sent),
            secs(gap)
        ),
    }))
}

/// How long the flooder floods.
const FLOOD_TIME: Duration = Duration::from_millis(2500);
/// Most bytes the flooder sends: without a rate limit the room relays all of
/// it, and the observers keep all of it in memory.
const FLOOD_MAX_BYTES: u64 = 8 * 1024 * 1024;
/// Bytes per flood line, newline included.
const FLOOD_LINE: usize = 1000;

/// A client sends as fast as TCP lets it; carol keeps talking. The observers
/// must keep hearing carol without long gaps, and lose nothing.
pub(super) fn flood(addr: SocketAddr) -> Outcome {
    let cast = Cast::assemble(addr)?;
    let carol = Peer::join(addr, "carol")?;
    let mut flooder = Peer::join(addr, "flooder")?;
    let marks = cast.admit(&[&carol, &flooder])?;
    // The flooder reads nothing, so its close below is a reset: the server
    // then drops what it had not read yet, instead of relaying it for minutes.
    flooder.stop_reading();
    let talker = Talker::start(&carol, "tick", TALK_EVERY)?;

    let stream = flooder.stream();
    stream.set_write_timeout(Some(Duration::from_millis(200)))?;
    let started = Instant::now();
    let (mut batch, mut offset, mut next_line) = (Vec::new(), 0, 0u64);
    let (mut written, mut held_back) = (0u64, Duration::ZERO);
    while started.elapsed() < FLOOD_TIME && written < FLOOD_MAX_BYTES {
        if offset == batch.len() {
            batch.clear();
            offset = 0;
            for _ in 0..64 {
                let head = format!("flood {next_line:07} ");
                batch.extend_from_slice(head.as_bytes());
                batch.resize(batch.len() + FLOOD_LINE - head.len() - 1, b'f');
                batch.push(b'\n');
                next_line += 1;
            }
        }
        let tried = Instant::now();
        match (&*stream).write(&batch[offset..]) {
            Ok(n) => {
                offset += n;
                written += n as u64;
            }
            Err(e) if is_timeout(&e) => held_back += tried.elapsed(),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    let flooded = started.elapsed();
    if flooded < FLOOD_TIME {
        // The byte cap came first: let carol talk for the full time anyway.
        thread::sleep(FLOOD_TIME - flooded);
    }
    let spoken = talker.stop();
    println!(
        "  flooder wrote {} lines ({:.1} MB) in {:.1} s; TCP held its writes back for {:.1} s of that",
        written / FLOOD_LINE as u64,
        mib(written),
        secs(flooded),
        secs(held_back)
    );
    let heard = cast.hear_out(marks, &spoken, Duration::from_secs(3));
    for (observer, mark) in cast.observers.iter().zip(marks) {
        let got = observer
            .inbox()
            .read(|r| pieces(&r.text_since(mark), &flooder.name).len());
        println!(
            "  {} got {got} messages from flooder while it flooded",
            observer.role
        );
    }
    flooder.abort();
    carol.close();
    let roles = cast.roles();
    let why = cast.merged_talk("carol");
    cast.close();

    let mut problems = Problems::default();
    for (who, heard) in roles.iter().zip(&heard) {
        problems.check_heard(who, "carol", heard, SMOOTH);
    }
    let gap = heard
        .iter()
        .map(|h| h.longest_gap)
        .max()
        .unwrap_or_default();
    Ok(problems.verdict(&why, || {
        format!(
            "the observers got every line carol sent during the flood, longest gap {:.2} s",
            secs(gap)
        )
    }))
}

/// Size of the endless line.
const BOMB_BYTES: u64 = 16 * 1024 * 1024;
/// Most time spent sending it (a server that stops reading makes it slow).
const BOMB_TIME: Duration = Duration::from_secs(3);
const BOMB_AFTER: &str = "bomber is still here";
/// Carol talks at least this long, so "heard carol throughout" means something.
const MIN_TALK: Duration = Duration::from_secs(1);

/// A line that never ends: the bad client must get `! line too long`, the
/// observers nothing of it, and the server's memory must stay bounded.
pub(super) fn bomb(addr: SocketAddr, probe: &Probe) -> Outcome {
    let cast = Cast::assemble(addr)?;
    let carol = Peer::join(addr, "carol")?;
    let bomber = Peer::join(addr, "bomber")?;
    let marks = cast.admit(&[&carol, &bomber])?;
    let bomber_mark = bomber.inbox().mark();
    let before = probe.sample();
    let talker = Talker::start(&carol, "tick", TALK_EVERY)?;

    let stream = bomber.stream();
    stream.set_write_timeout(Some(Duration::from_millis(500)))?;
    let block = vec![b'A'; 64 * 1024];
    let started = Instant::now();
    let mut sent = 0u64;
    (&*stream).write_all(b"this line never ends: ")?;
    while sent < BOMB_BYTES && started.elapsed() < BOMB_TIME {
        match (&*stream).write(&block) {
            Ok(n) => sent += n as u64,
            Err(e) if is_timeout(&e) || e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    let took = started.elapsed();
    stream.set_write_timeout(Some(WRITE_TIMEOUT))?;
    let ended = bomber.send(format!("\n{BOMB_AFTER}\n").as_bytes());
    println!(
        "  bomber sent a {:.1} MB line with no newline in {:.1} s, then a newline and {}{}",
        mib(sent),
        secs(took),
        show(BOMB_AFTER, 40),
        match &ended {
            Ok(()) => String::new(),
            Err(e) => format!(" (that last write failed: {e})"),
        }
    );
    let error = "! line too long";
    let after_line = format!("> {}: {BOMB_AFTER}", bomber.name);
    bomber.inbox().wait_until(Instant::now() + SETTLE, |r| {
        r.any_since(bomber_mark, |l| l.starts_with(error))
    });
    cast.wait(marks, SETTLE, |r, mark| {
        r.any_since(mark, |l| l == after_line)
    });
    let after = probe.sample();
    // Give carol time to say something even when the bomb went off quickly.
    thread::sleep(MIN_TALK.saturating_sub(started.elapsed()));
    let spoken = talker.stop();

    let mut problems = Problems::default();
    let errors: Vec<String> = bomber.inbox().read(|r| {
        r.since(bomber_mark)
            .iter()
            .filter(|l| l.text.starts_with("! "))
            .map(|l| l.text.clone())
            .collect()
    });
    match errors.first() {
        Some(first) => println!(
            "  bomber got {} ({} error line(s))",
            show(first, 60),
            errors.len()
        ),
        None => println!("  bomber got no error line"),
    }
    if !errors.iter().any(|l| l.starts_with(error)) {
        problems.add("bomber", format!("never got `{error}`"));
    }
    let heard = cast.hear_out(marks, &spoken, SETTLE);
    for ((observer, mark), heard) in cast.observers.iter().zip(marks).zip(&heard) {
        let text = observer.inbox().read(|r| r.text_since(mark));
        let leaked: usize = pieces(&text, &bomber.name)
            .iter()
            .filter(|p| p.as_str() != BOMB_AFTER)
            .map(String::len)
            .sum();
        let recovered = text.contains(&format!("{after_line}\n"));
        println!(
            "  {} got {leaked} bytes of the endless line, {} {} as a line of its own",
            observer.role,
            if recovered { "then" } else { "and not" },
            show(BOMB_AFTER, 40)
        );
        if leaked > 0 {
            problems.add(
                &observer.role,
                format!("received {:.2} MB of the endless line", mib(leaked as u64)),
            );
        } else if !recovered {
            problems.add(&observer.role, "never got the line sent after it");
        }
        problems.check_heard(&observer.role, "carol", heard, SMOOTH);
    }
    let memory = match (before, after) {
        (Some(before), Some(after)) => {
            let grew = growth(before, after);
            println!(
                "  server memory ({}): resident {:.1} -> {:.1} MB, peak {:.1} -> {:.1} MB",
                probe.describe(),
                mib(before.rss_kib * 1024),
                mib(after.rss_kib * 1024),
                mib(before.peak_kib * 1024),
                mib(after.peak_kib * 1024)
            );
            // A server that kept the line would grow by about its size.
            if grew * 4 > sent {
                problems.add(
                    "",
                    format!(
                        "the server's memory grew by {:.1} MB for a {:.1} MB line",
                        mib(grew),
                        mib(sent)
                    ),
                );
            }
            format!("the server's memory grew {:.1} MB", mib(grew))
        }
        _ => {
            let why = if cfg!(target_os = "linux") {
                probe.describe()
            } else {
                "Linux only".to_string()
            };
            println!("  server memory: not measured ({why})");
            "the server's memory was not measured".to_string()
        }
    };
    bomber.close();
    carol.close();
    let why = cast.because(
        "chunk framing",
        "the server relays raw chunks, so it never sees a line to limit",
    );
    cast.close();
    Ok(problems.verdict(&why, || {
        format!(
            "bomber got `{error}`, the observers got none of its {:.1} MB line and heard carol \
             throughout; {memory}",
            mib(sent)
        )
    }))
}

/// The notice in `line`, which in chunk framing may follow someone's
/// unfinished chunk: `...zzz* sloth left (too slow)`.
fn notice(line: &str) -> String {
    line.rfind("* ")
        .map_or(line, |start| &line[start..])
        .to_string()
}

/// Bytes the memory grew by, now or at its peak, whichever is more.
fn growth(before: Usage, after: Usage) -> u64 {
    let rss = after.rss_kib.saturating_sub(before.rss_kib);
    let peak = after.peak_kib.saturating_sub(before.peak_kib);
    rss.max(peak) * 1024
}
