//! A well-behaved talker: a thread that sends numbered lines at a steady pace
//! through a [`Peer`]'s socket and remembers when each left, so the modes can
//! measure what an observer lost, how long it waited, and how late lines were.

use std::io::Write;
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crate::peer::{Line, Peer, Received};

/// A talker that is talking.
#[derive(Debug)]
pub(crate) struct Talker {
    role: String,
    name: String,
    tag: String,
    stop: Arc<AtomicBool>,
    thread: JoinHandle<Vec<Instant>>,
}

/// What a talker said: the times its lines `TAG 0`, `TAG 1`, ... left.
#[derive(Debug)]
pub(crate) struct Spoken {
    role: String,
    name: String,
    tag: String,
    sent: Vec<Instant>,
}

/// How one observer heard a talker.
#[derive(Debug)]
pub(crate) struct Heard {
    /// Lines sent.
    pub(crate) sent: usize,
    /// Lines received, counting each number once.
    pub(crate) got: usize,
    /// Every line arrived, exactly once, in the order sent.
    pub(crate) intact: bool,
    /// The longest wait for the next line, from the first line sent on.
    pub(crate) longest_gap: Duration,
    /// The longest time from a line's sending to its arrival.
    pub(crate) worst_delay: Duration,
}

impl Heard {
    /// "all 25 in order, longest gap 0.10 s, worst delay 0.01 s" or what was wrong.
    pub(crate) fn summary(&self) -> String {
        let arrival = if self.intact {
            format!("all {} in order", self.sent)
        } else if self.got == self.sent {
            format!("all {} but out of order or twice", self.sent)
        } else {
            format!(
                "{} of {} (lost {})",
                self.got,
                self.sent,
                self.sent - self.got
            )
        };
        format!(
            "{arrival}, longest gap {:.2} s, worst delay {:.2} s",
            self.longest_gap.as_secs_f64(),
            self.worst_delay.as_secs_f64()
        )
    }
}

impl Talker {
    /// Starts sending `TAG N` through `peer` every `every`.
    ///
    /// # Errors
    /// The thread cannot be started.
    pub(crate) fn start(peer: &Peer, tag: &str, every: Duration) -> std::io::Result<Talker> {
        let stop = Arc::new(AtomicBool::new(false));
        let (stream, stopped, line_tag) = (peer.stream(), stop.clone(), tag.to_string());
        let thread = thread::Builder::new()
            .name(format!("talker-{tag}"))
            .spawn(move || talk(&stream, &line_tag, every, &stopped))?;
        Ok(Talker {
            role: peer.role.clone(),
            name: peer.name.clone(),
            tag: tag.to_string(),
            stop,
            thread,
        })
    }

    /// Stops talking (within one interval) and returns what was said.
    pub(crate) fn stop(self) -> Spoken {
        self.stop.store(true, Ordering::Release);
        let sent = self.thread.join().unwrap_or_default();
        Spoken {
            role: self.role,
            name: self.name,
            tag: self.tag,
            sent,
        }
    }
}

fn talk(stream: &TcpStream, tag: &str, every: Duration, stop: &AtomicBool) -> Vec<Instant> {
    let mut sent = Vec::new();
    let mut next = Instant::now();
    while !stop.load(Ordering::Acquire) {
        let now = Instant::now();
        if now < next {
            thread::sleep(next - now);
            continue;
        }
        sent.push(Instant::now());
        if (&*stream)
            .write_all(format!("{tag} {}\n", sent.len() - 1).as_bytes())
            .is_err()
        {
            sent.pop();
            break;
        }
        next += every;
    }
    sent
}

/// The number in `> NAME: TAG N`, if `line` ends with one of this talker's
/// lines. Searched for, not expected at the start: in chunk framing a line may
/// begin with the unfinished chunk of someone else.
fn number(line: &str, name: &str, tag: &str) -> Option<usize> {
    let head = format!("> {name}: {tag} ");
    let start = line.rfind(&head)? + head.len();
    line[start..].parse().ok()
}

/// When the latest line of talker `name`/`tag` arrived, if any did since `mark`.
pub(crate) fn last_heard(
    received: &Received,
    mark: usize,
    name: &str,
    tag: &str,
) -> Option<Instant> {
    received
        .since(mark)
        .iter()
        .rev()
        .find(|line| number(&line.text, name, tag).is_some())
        .map(|line| line.at)
}

impl Spoken {
    /// Who the talker plays.
    pub(crate) fn role(&self) -> &str {
        &self.role
    }

    fn arrivals<'a>(&self, lines: &'a [Line]) -> Vec<(usize, &'a Line)> {
        lines
            .iter()
            .filter_map(|line| Some((number(&line.text, &self.name, &self.tag)?, line)))
            .collect()
    }

    /// True once every line sent has reached the peer that received `received`.
    pub(crate) fn all_arrived(&self, received: &Received, mark: usize) -> bool {
        let mut seen = vec![false; self.sent.len()];
        for (n, _) in self.arrivals(received.since(mark)) {
            if let Some(seen) = seen.get_mut(n) {
                *seen = true;
            }
        }
        seen.iter().all(|&s| s)
    }

    /// How the peer that received `received` (since `mark`) heard this talker.
    pub(crate) fn heard_by(&self, received: &Received, mark: usize) -> Heard {
        let arrivals = self.arrivals(received.since(mark));
        let mut seen = vec![false; self.sent.len()];
        for &(n, _) in &arrivals {
            if let Some(seen) = seen.get_mut(n) {
                *seen = true;
            }
        }
        let got = seen.iter().filter(|&&s| s).count();
        let intact = arrivals.len() == self.sent.len()
            && arrivals.iter().enumerate().all(|(i, &(n, _))| i == n);
        // Gaps start from the first line sent: a room frozen from the start
        // must count too.
        let mut longest_gap = Duration::ZERO;
        let mut previous = self.sent.first().copied();
        let mut worst_delay = Duration::ZERO;
        for &(n, line) in &arrivals {
            if let Some(previous) = previous {
                longest_gap = longest_gap.max(line.at.saturating_duration_since(previous));
            }
            previous = Some(line.at);
            if let Some(&sent) = self.sent.get(n) {
                worst_delay = worst_delay.max(line.at.saturating_duration_since(sent));
            }
        }
        Heard {
            sent: self.sent.len(),
            got,
            intact,
            longest_gap,
            worst_delay,
        }
    }
}
