//! `split` and `merge`: TCP is a byte stream, so one line may arrive in many
//! reads and many lines in one read. A server must relay whole lines anyway.

use std::net::SocketAddr;
use std::thread;
use std::time::Duration;

use super::{pieces, show, Cast, Outcome, Problems, SETTLE};
use crate::peer::Peer;

const SPLIT_TEXT: &str = "this line travels one byte at a time";
/// Long enough that the server reads each byte on its own.
const SPLIT_PAUSE: Duration = Duration::from_millis(15);

/// One line sent one byte per write: observers must get it as one whole line.
pub(super) fn split(addr: SocketAddr) -> Outcome {
    let cast = Cast::assemble(addr)?;
    let bad = Peer::join(addr, "splitter")?;
    let marks = cast.admit(&[&bad])?;
    let line = format!("{SPLIT_TEXT}\n");
    for byte in line.as_bytes() {
        bad.send(std::slice::from_ref(byte))?;
        thread::sleep(SPLIT_PAUSE);
    }
    println!(
        "  {} sent {} in {} one-byte writes, {} ms apart",
        bad.role,
        show(&line, 80),
        line.len(),
        SPLIT_PAUSE.as_millis()
    );
    let whole = format!("> {}: {SPLIT_TEXT}", bad.name);
    cast.wait(marks, SETTLE, |r, mark| r.any_since(mark, |l| l == whole));

    let mut problems = Problems::default();
    for (observer, mark) in cast.observers.iter().zip(marks) {
        let text = observer.inbox().read(|r| r.text_since(mark));
        println!("  {} saw: {}", observer.role, show(&text, 160));
        let got = pieces(&text, &bad.name);
        let who = &observer.role;
        match got.len() {
            0 => problems.add(who, "never got it"),
            1 if got[0] != SPLIT_TEXT => {
                problems.add(who, format!("got {} instead", show(&got[0], 60)))
            }
            1 if !text.contains(&format!("{whole}\n")) => {
                problems.add(who, "got it without its line end")
            }
            1 => {}
            n => problems.add(who, format!("got it in {n} pieces instead of one line")),
        }
    }
    bad.close();
    let why = cast.because(
        "chunk framing",
        "the server relays each read as it arrives instead of reassembling lines",
    );
    cast.close();
    Ok(problems.verdict(&why, || {
        format!(
            "both observers got the line whole and once, after {} one-byte writes",
            line.len()
        )
    }))
}

const MERGE_LINES: usize = 20;

/// Many lines in one write: observers must get each as its own line.
pub(super) fn merge(addr: SocketAddr) -> Outcome {
    let cast = Cast::assemble(addr)?;
    let bad = Peer::join(addr, "merger")?;
    let marks = cast.admit(&[&bad])?;
    let texts: Vec<String> = (1..=MERGE_LINES)
        .map(|i| format!("merged line {i} of {MERGE_LINES}"))
        .collect();
    let mut write = texts.join("\n");
    write.push('\n');
    bad.send(write.as_bytes())?;
    println!(
        "  {} sent {MERGE_LINES} lines ({} bytes) in one write",
        bad.role,
        write.len()
    );
    let last = texts[MERGE_LINES - 1].as_str();
    cast.wait(marks, SETTLE, |r, mark| {
        r.any_since(mark, |l| l.ends_with(last))
    });

    let prefix = format!("> {}: ", bad.name);
    let mut problems = Problems::default();
    for (observer, mark) in cast.observers.iter().zip(marks) {
        let lines: Vec<String> = observer
            .inbox()
            .read(|r| r.since(mark).iter().map(|l| l.text.clone()).collect());
        let shown: Vec<String> = lines.iter().take(3).map(|l| show(l, 60)).collect();
        let more = match lines.len().saturating_sub(3) {
            0 => String::new(),
            n => format!(", ... ({n} more)"),
        };
        println!(
            "  {} saw {} lines: {}{more}",
            observer.role,
            lines.len(),
            shown.join(", ")
        );
        let attributed: Vec<&str> = lines
            .iter()
            .filter_map(|l| l.strip_prefix(&prefix))
            .collect();
        let bare = lines.iter().filter(|l| texts.contains(l)).count();
        if attributed != texts {
            let mut problem = format!(
                "got {} of the {MERGE_LINES} lines with the sender's name",
                attributed.len()
            );
            if bare > 0 {
                problem.push_str(&format!(
                    " and {bare} with no sender at all, merged into one message"
                ));
            }
            problems.add(&observer.role, problem);
        }
    }
    bad.close();
    let why = cast.because(
        "chunk framing",
        "the server relays whatever one read returned as one message",
    );
    cast.close();
    Ok(problems.verdict(&why, || {
        format!("both observers got all {MERGE_LINES} lines, each on its own line, in order")
    }))
}
