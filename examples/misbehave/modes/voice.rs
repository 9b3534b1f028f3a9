//! `spoof` and `hidden`: whose voice a line is in, and whether all of it can
//! be seen. No client may make a line that reads as the server's, and no
//! client may hide characters in what the others read.

use std::io;
use std::net::SocketAddr;
use std::time::Instant;

use super::{show, Cast, Outcome, Problems, SETTLE};
use crate::peer::{timed_out, Peer};

/// The name a look-alike attack asks for, given a name already online: the
/// issue's own examples for alice and bob, otherwise the name in capitals with
/// `O` written as a zero and `L` as a capital i.
fn look_alike(name: &str) -> String {
    match name {
        "alice" => "AIice".to_string(),
        "bob" => "B0B".to_string(),
        _ => name.to_uppercase().replace('O', "0").replace('L', "I"),
    }
}

/// Asks for the name `wanted` and returns the server's answer: the first
/// error line, or `* you are ...`, that `peer` receives.
fn ask_nick(peer: &Peer, wanted: &str) -> io::Result<String> {
    let mark = peer.inbox().mark();
    peer.send(format!("/nick {wanted}\n").as_bytes())?;
    let mut answer = None;
    peer.inbox().wait_until(Instant::now() + SETTLE, |r| {
        answer = r
            .since(mark)
            .iter()
            .find(|l| l.text.starts_with("! ") || l.text.starts_with("* you are "))
            .map(|l| l.text.clone());
        answer.is_some() || r.closed
    });
    answer.ok_or_else(|| timed_out(&format!("no answer to /nick {wanted}")))
}

/// Sends a chat line through `peer` and waits until both observers have it:
/// everything `peer` did before has then reached them too (one reader, one
/// broadcaster, in order).
fn in_step(cast: &Cast, peer: &Peer, text: &str) -> io::Result<[usize; 2]> {
    let marks = cast.marks();
    peer.send(format!("{text}\n").as_bytes())?;
    let line = format!("> {}: {text}", peer.name);
    cast.wait(marks, SETTLE, |r, mark| r.any_since(mark, |l| l == line));
    Ok(cast.marks())
}

/// Tries to speak in the server's voice: the reserved name `server`, names
/// that look like alice's and bob's, `/me` text that copies a notice, and a
/// `/quit` reason that copies an eviction. Each must be refused, or come out
/// looking different from what the server itself would say.
pub(super) fn spoof(addr: SocketAddr) -> Outcome {
    let cast = Cast::assemble(addr)?;
    let mallory = Peer::join(addr, "mallory")?;
    let marks = cast.admit(&[&mallory])?;
    let me = mallory.name.clone();
    let mut problems = Problems::default();

    // Names. An accepted one is given back at once, so each try starts as
    // mallory, with alice and bob online under their own names.
    let mut tries: Vec<(String, Option<String>)> =
        vec![("server".to_string(), None), ("SERVER".to_string(), None)];
    for observer in &cast.observers {
        let alike = look_alike(&observer.name);
        let refusal = format!("! name {alike} is too close to {}", observer.name);
        tries.push((alike, Some(refusal)));
    }
    for (wanted, exact) in &tries {
        let answer = ask_nick(&mallory, wanted)?;
        println!("  mallory asked for {wanted}: {}", show(&answer, 80));
        if answer.starts_with("* you are now ") {
            problems.add(
                "mallory",
                format!("became {wanted}: the server said {}", show(&answer, 60)),
            );
            let back = ask_nick(&mallory, &me)?;
            if back != format!("* you are now {me}") {
                return Err(io::Error::other(format!(
                    "could not take the name {me} back: {}",
                    show(&back, 60)
                )));
            }
        } else if !answer.starts_with("! ") {
            problems.add(
                "mallory",
                format!("asked for {wanted} and got {}", show(&answer, 60)),
            );
        } else if let Some(exact) = exact.as_ref().filter(|exact| answer != **exact) {
            problems.add(
                "mallory",
                format!(
                    "asked for {wanted} and got {}, not {}",
                    show(&answer, 60),
                    show(exact, 60)
                ),
            );
        }
    }
    let after_names = in_step(&cast, &mallory, "that was my name")?;
    for (observer, mark) in cast.observers.iter().zip(marks) {
        let renames: Vec<String> = observer.inbox().read(|r| {
            r.since(mark)
                .iter()
                .filter(|l| {
                    tries
                        .iter()
                        .any(|(wanted, _)| l.text.ends_with(&format!(" is now known as {wanted}")))
                })
                .map(|l| l.text.clone())
                .collect()
        });
        if let Some(first) = renames.first() {
            problems.add(
                &observer.role,
                format!(
                    "saw {} rename(s) to a forbidden name, such as {}",
                    renames.len(),
                    show(first, 60)
                ),
            );
        }
    }

    // `/me` copying the server's notices about mallory.
    let forged = [format!("{me} left (too slow)"), format!("{me} joined")];
    for text in &forged {
        let action = text.strip_prefix(&format!("{me} ")).unwrap_or(text);
        mallory.send(format!("/me {action}\n").as_bytes())?;
    }
    let after_me = in_step(&cast, &mallory, "that was me")?;
    for (observer, (from, to)) in cast
        .observers
        .iter()
        .zip(after_names.into_iter().zip(after_me))
    {
        let got: Vec<String> = observer.inbox().read(|r| {
            r.lines
                .get(from..to)
                .unwrap_or_default()
                .iter()
                .filter(|l| l.text.starts_with("* "))
                .map(|l| l.text.clone())
                .collect()
        });
        let shown: Vec<String> = got.iter().map(|l| show(l, 60)).collect();
        println!(
            "  {} got mallory's /me lines as: {}",
            observer.role,
            if shown.is_empty() {
                "nothing".to_string()
            } else {
                shown.join(", ")
            }
        );
        for line in got
            .iter()
            .filter(|l| forged.iter().any(|f| **l == format!("* {f}")))
        {
            problems.add(
                &observer.role,
                format!(
                    "got {} from /me, exactly the server's notice",
                    show(line, 60)
                ),
            );
        }
    }

    // `/quit` with a reason that copies an eviction.
    let marks = cast.marks();
    mallory.send(b"/quit kicked\n")?;
    let left = format!("* {me} left");
    cast.wait(marks, SETTLE, |r, mark| {
        r.any_since(mark, |l| l.starts_with(&left))
    });
    let evicted = format!("* {me} left (kicked)");
    for (observer, mark) in cast.observers.iter().zip(marks) {
        let notice = observer.inbox().read(|r| {
            r.since(mark)
                .iter()
                .find(|l| l.text.starts_with(&left))
                .map(|l| l.text.clone())
        });
        match notice {
            Some(notice) => {
                println!(
                    "  after /quit kicked, {} saw {}",
                    observer.role,
                    show(&notice, 60)
                );
                if notice == evicted {
                    problems.add(
                        &observer.role,
                        format!("saw {}, as if the server had said it", show(&notice, 60)),
                    );
                }
            }
            None => {
                println!(
                    "  after /quit kicked, {} saw no leave notice",
                    observer.role
                );
                problems.add(&observer.role, "never saw mallory leave after /quit");
            }
        }
    }
    mallory.close();
    cast.close();
    Ok(problems.verdict("", || {
        format!(
            "{} names were refused, and no /me or /quit of mallory's looked like a notice from the server",
            tries.len()
        )
    }))
}

/// Characters that change how text reads without being seen: direction marks,
/// a zero-width space, the byte-order mark, and the line and paragraph
/// separators (which some terminals and editors treat as a line end).
const HIDDEN: [(char, &str); 7] = [
    ('\u{200e}', "left-to-right mark"),
    ('\u{200f}', "right-to-left mark"),
    ('\u{61c}', "Arabic letter mark"),
    ('\u{200b}', "zero-width space"),
    ('\u{feff}', "byte-order mark"),
    ('\u{2028}', "line separator"),
    ('\u{2029}', "paragraph separator"),
];
/// What `telnet` sends after Ctrl-C: IAC IP (interrupt process), then IAC DO
/// TIMING-MARK, then the next line typed, with telnet's `\r\n`.
const TELNET: &[u8] = b"\xff\xf4\xff\xfd\x06hello\r\n";
const TELNET_TEXT: &str = "hello";
const HIDDEN_DONE: &str = "hidden done";

/// One line per hidden character, then telnet's command bytes before a line:
/// the observers must get every line, with none of the hidden characters, and
/// the telnet line as plain `hello`.
pub(super) fn hidden(addr: SocketAddr) -> Outcome {
    let cast = Cast::assemble(addr)?;
    let hider = Peer::join(addr, "hider")?;
    let marks = cast.admit(&[&hider])?;
    let lines: Vec<String> = HIDDEN
        .iter()
        .enumerate()
        .map(|(i, (c, _))| format!("hidden {i}: in{c}visible"))
        .collect();
    hider.send((lines.join("\n") + "\n").as_bytes())?;
    hider.send(TELNET)?;
    hider.send(format!("{HIDDEN_DONE}\n").as_bytes())?;
    println!(
        "  hider sent {} lines with a hidden character each, such as {}, then telnet's \
         IAC IP, IAC DO TIMING-MARK and {}",
        lines.len(),
        show(&lines[0], 40),
        show(TELNET_TEXT, 20)
    );
    let prefix = format!("> {}: ", hider.name);
    let done = format!("{prefix}{HIDDEN_DONE}");
    cast.wait(marks, SETTLE, |r, mark| r.any_since(mark, |l| l == done));

    let mut problems = Problems::default();
    let telnet_want = format!("{prefix}{TELNET_TEXT}");
    for (observer, mark) in cast.observers.iter().zip(marks) {
        let got: Vec<String> = observer.inbox().read(|r| {
            r.since(mark)
                .iter()
                .filter(|l| l.text.starts_with(&prefix))
                .map(|l| l.text[prefix.len()..].to_string())
                .collect()
        });
        let who = &observer.role;
        let mut kept = Vec::new();
        let mut missing = 0;
        for (i, (c, what)) in HIDDEN.iter().enumerate() {
            match got.iter().find(|l| l.starts_with(&format!("hidden {i}: "))) {
                Some(line) if line.contains(*c) => {
                    kept.push(format!("U+{:04X} ({what})", *c as u32))
                }
                Some(_) => {}
                None => missing += 1,
            }
        }
        let telnet = got
            .iter()
            .find(|l| !l.starts_with("hidden ") && l.as_str() != HIDDEN_DONE);
        println!(
            "  {who} got {} of the {} lines, {} of them with their hidden character; telnet's line as {}",
            HIDDEN.len() - missing,
            HIDDEN.len(),
            kept.len(),
            telnet.map_or("nothing".to_string(), |l| show(&format!("{prefix}{l}"), 60))
        );
        if !kept.is_empty() {
            problems.add(who, format!("got {}", kept.join(", ")));
        }
        if missing > 0 {
            problems.add(who, format!("never got {missing} of the lines"));
        }
        match telnet {
            None => problems.add(who, "never got the line after telnet's command bytes"),
            Some(line) if format!("{prefix}{line}") != telnet_want => {
                let replaced = line.chars().filter(|&c| c == '\u{fffd}').count();
                problems.add(
                    who,
                    format!(
                        "got telnet's line as {}{}",
                        show(&format!("{prefix}{line}"), 60),
                        if replaced > 0 {
                            format!(" ({replaced} replacement characters)")
                        } else {
                            String::new()
                        }
                    ),
                );
            }
            Some(_) => {}
        }
        if !got.iter().any(|l| l == HIDDEN_DONE) {
            problems.add(who, "never got the last line");
        }
    }
    hider.close();
    cast.close();
    Ok(problems.verdict("", || {
        format!(
            "the observers got all {} lines without their hidden characters, and telnet's line as {}",
            HIDDEN.len(),
            show(&telnet_want, 40)
        )
    }))
}
