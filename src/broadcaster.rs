//! The broadcaster: the only thread that writes to client sockets. It drains the
//! events channel in batches, lays each batch out once as shared bytes, and
//! writes every recipient its part in one (vectored) write with a deadline.

use std::io::{self, IoSlice, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, TryRecvError};

use crate::config::Framing;
use crate::protocol;
use crate::registry::ClientId;
use crate::server::Shared;
use crate::transcript::{Entry, Transcript};

/// What readers (and the accept loop) ask the broadcaster to do. The channel is
/// bounded: a reader whose event does not fit waits, and stops reading its
/// socket meanwhile, which slows its sender through TCP flow control.
#[derive(Debug)]
pub enum Event {
    /// A client registered: welcome it, tell the others, start sending to it.
    Joined {
        /// The new client.
        id: ClientId,
        /// Its name when it joined (its address). Carried here rather than read
        /// from the registry, where a quick `/nick` may already have changed it:
        /// the others must see the join before the rename, as it happened.
        name: Arc<str>,
    },
    /// Chat from one client for everyone else, already formatted
    /// (`> NAME: TEXT\n`, possibly several lines, in the order they were sent).
    Chat {
        /// The sender, who does not get its own lines back.
        from: ClientId,
        /// The sender's name when the lines were formatted (for the transcript).
        name: Arc<str>,
        /// The formatted lines.
        bytes: Vec<u8>,
    },
    /// A notice for everyone except one client (a rename, a `/me`).
    Notice {
        /// Who does not get it.
        except: ClientId,
        /// The formatted line.
        line: Vec<u8>,
        /// What the transcript records.
        entry: Entry,
    },
    /// Lines for one client only: replies, errors, private messages.
    Direct {
        /// The recipient.
        to: ClientId,
        /// The formatted lines.
        line: Vec<u8>,
        /// What the transcript records, if anything.
        entry: Option<Entry>,
    },
    /// A client is going: send it `farewell` if any, stop sending to it, tell
    /// the others, and shut its write side so the farewell is followed by FIN.
    Leave {
        /// Who is leaving.
        id: ClientId,
        /// Shown in `* NAME left (REASON)`.
        reason: Option<String>,
        /// A last line for the client (`* bye`).
        farewell: Option<Vec<u8>>,
    },
    /// Deliver everything before this, say goodbye to everyone, and stop.
    Shutdown,
}

/// Most events handled in one batch, and the size past which a batch is
/// written out: big batches mean few syscalls, bounded ones mean bounded memory.
const MAX_BATCH_EVENTS: usize = 4096;
const MAX_BATCH_BYTES: usize = 256 * 1024;

/// Who a run of bytes in a batch is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Audience {
    All,
    AllExcept(ClientId),
    Only(ClientId),
}

impl Audience {
    fn includes(self, id: ClientId) -> bool {
        match self {
            Audience::All => true,
            Audience::AllExcept(other) => other != id,
            Audience::Only(other) => other == id,
        }
    }
}

/// A run of bytes in the batch buffer (it starts where the previous one ends).
#[derive(Debug)]
struct Segment {
    end: usize,
    audience: Audience,
}

/// A client the current batch may write to, and the segments it may see:
/// `from..to`. A client that joins mid-batch starts at its welcome; one that
/// leaves mid-batch stops after its farewell.
#[derive(Debug)]
struct Member {
    id: ClientId,
    stream: Arc<TcpStream>,
    from: usize,
    to: usize,
}

/// One batch laid out once: all its lines in one buffer, cut into segments by
/// audience, so most recipients get the very same bytes in a single write.
#[derive(Debug, Default)]
struct Outbox {
    bytes: Vec<u8>,
    segments: Vec<Segment>,
    /// Segments before this index may not grow: a member's window starts or
    /// ends here.
    sealed: usize,
}

impl Outbox {
    fn push(&mut self, audience: Audience, bytes: &[u8]) {
        self.bytes.extend_from_slice(bytes);
        let end = self.bytes.len();
        let growable = self.segments.len() > self.sealed;
        match self.segments.last_mut() {
            Some(last) if growable && last.audience == audience => {
                last.end = end;
            }
            _ => self.segments.push(Segment { end, audience }),
        }
    }

    /// Closes the current segment, returning the index the next one will have.
    fn seal(&mut self) -> usize {
        self.sealed = self.segments.len();
        self.sealed
    }

    fn is_empty(&self) -> bool {
        self.segments.is_empty()
    }

    fn clear(&mut self) {
        self.bytes.clear();
        self.segments.clear();
        self.sealed = 0;
    }

    /// Byte ranges of the segments in `from..to` that `id` should see, with
    /// neighbouring ranges merged.
    fn ranges_for(&self, id: Option<ClientId>, from: usize, to: usize) -> Vec<(usize, usize)> {
        let mut ranges: Vec<(usize, usize)> = Vec::new();
        let to = to.min(self.segments.len());
        for index in from..to {
            let start = if index == 0 {
                0
            } else {
                self.segments[index - 1].end
            };
            let segment = &self.segments[index];
            let wanted = match id {
                Some(id) => segment.audience.includes(id),
                // The common view: what a client not named by any segment gets.
                None => {
                    segment.audience == Audience::All
                        || matches!(segment.audience, Audience::AllExcept(_))
                }
            };
            if !wanted {
                continue;
            }
            match ranges.last_mut() {
                Some(last) if last.1 == start => last.1 = segment.end,
                _ => ranges.push((start, segment.end)),
            }
        }
        ranges
    }
}

/// Why a write to a client failed.
#[derive(Debug, Clone, Copy)]
enum Failure {
    TooSlow,
    Reset,
}

impl Failure {
    fn reason(self) -> &'static str {
        match self {
            Failure::TooSlow => "too slow",
            Failure::Reset => "connection reset",
        }
    }
}

/// The broadcaster thread's state.
#[derive(Debug)]
pub(crate) struct Broadcaster {
    shared: Arc<Shared>,
    events_rx: Receiver<Event>,
    transcript: Option<Transcript>,
    outbox: Outbox,
    members: Vec<Member>,
    /// Sockets to half-close once the batch that says goodbye is written.
    departed: Vec<Arc<TcpStream>>,
}

impl Broadcaster {
    pub(crate) fn new(
        shared: Arc<Shared>,
        events_rx: Receiver<Event>,
        transcript: Option<Transcript>,
    ) -> Self {
        Broadcaster {
            shared,
            events_rx,
            transcript,
            outbox: Outbox::default(),
            members: Vec::new(),
            departed: Vec::new(),
        }
    }

    /// Runs until [`Event::Shutdown`] or until every sender is gone.
    ///
    /// Each turn: take a snapshot of who is in the room, handle every event
    /// already waiting (up to a bound), then write the batch out. While the
    /// broadcaster is busy writing, events pile up, so the busier the room, the
    /// bigger the batches and the fewer the syscalls per line.
    pub(crate) fn run(mut self) {
        loop {
            let first = if self.outbox.is_empty() {
                match self.events_rx.recv() {
                    Ok(event) => Some(event),
                    Err(_) => return,
                }
            } else {
                // Eviction notices from the last batch are waiting: don't block.
                None
            };
            self.start_batch();
            let mut stop = false;
            let mut next = first;
            loop {
                if let Some(event) = next.take() {
                    stop = self.handle(event);
                }
                if stop
                    || self.outbox.bytes.len() >= MAX_BATCH_BYTES
                    || self.outbox.segments.len() >= MAX_BATCH_EVENTS
                {
                    break;
                }
                match self.events_rx.try_recv() {
                    Ok(event) => next = Some(event),
                    Err(TryRecvError::Empty) => break,
                    Err(TryRecvError::Disconnected) => {
                        stop = true;
                        break;
                    }
                }
            }
            self.flush();
            if stop {
                self.say_goodbye();
                return;
            }
            // Let go of this batch's sockets now: a client that left during it
            // must not keep its descriptor open until the next event arrives.
            self.members.clear();
        }
    }

    fn start_batch(&mut self) {
        self.members.clear();
        self.members
            .extend(
                self.shared
                    .registry
                    .ready_streams()
                    .into_iter()
                    .map(|(id, stream)| Member {
                        id,
                        stream,
                        from: 0,
                        to: usize::MAX,
                    }),
            );
    }

    fn record(&mut self, entry: Entry) {
        if let Some(transcript) = &mut self.transcript {
            transcript.record(&entry);
        }
    }

    /// Lays one event out in the batch. Returns true for shutdown.
    fn handle(&mut self, event: Event) -> bool {
        match event {
            Event::Joined { id, name } => {
                let Some((stream, others)) = self.shared.registry.mark_ready(id) else {
                    return false;
                };
                self.shared.stats.note_clients(self.shared.registry.len());
                let from = self.outbox.seal();
                let welcome = self.shared.welcome(&name, others);
                self.outbox.push(Audience::Only(id), &welcome);
                self.outbox.push(
                    Audience::AllExcept(id),
                    &protocol::notice(&format!("{name} joined")),
                );
                self.members.push(Member {
                    id,
                    stream,
                    from,
                    to: usize::MAX,
                });
                self.record(Entry::Join {
                    name: name.to_string(),
                });
            }
            Event::Chat { from, name, bytes } => {
                self.outbox.push(Audience::AllExcept(from), &bytes);
                if self.transcript.is_some() {
                    self.record_chat(&name, &bytes);
                }
            }
            Event::Notice {
                except,
                line,
                entry,
            } => {
                self.outbox.push(Audience::AllExcept(except), &line);
                self.record(entry);
            }
            Event::Direct { to, line, entry } => {
                self.outbox.push(Audience::Only(to), &line);
                if let Some(entry) = entry {
                    self.record(entry);
                }
            }
            Event::Leave {
                id,
                reason,
                farewell,
            } => self.leave(id, reason, farewell),
            Event::Shutdown => {
                self.outbox
                    .push(Audience::All, &protocol::notice("server shutting down"));
                self.record(Entry::Shutdown);
                return true;
            }
        }
        false
    }

    fn record_chat(&mut self, name: &str, bytes: &[u8]) {
        let prefix = name.len() + 4; // "> " + name + ": "
        let texts: Vec<String> = match self.shared.config.framing {
            Framing::Lines => bytes
                .split(|&b| b == b'\n')
                .filter(|line| line.len() >= prefix)
                .map(|line| String::from_utf8_lossy(&line[prefix..]).into_owned())
                .collect(),
            Framing::Chunks => {
                vec![String::from_utf8_lossy(&bytes[prefix.min(bytes.len())..]).into_owned()]
            }
        };
        for text in texts {
            self.record(Entry::Message {
                from: name.to_string(),
                text,
            });
        }
    }

    /// Removes a client that is leaving of its own accord (or whose reader saw
    /// the connection end). If it was already evicted, there is nothing to do.
    fn leave(&mut self, id: ClientId, reason: Option<String>, farewell: Option<Vec<u8>>) {
        let Some((name, stream)) = self.shared.registry.remove(id) else {
            return;
        };
        if let Some(farewell) = farewell {
            self.outbox.push(Audience::Only(id), &farewell);
        }
        let end = self.outbox.seal();
        if let Some(member) = self.members.iter_mut().rev().find(|m| m.id == id) {
            member.to = end;
        }
        self.departed.push(stream);
        self.announce_leave(&name, reason);
    }

    fn announce_leave(&mut self, name: &str, reason: Option<String>) {
        let text = match &reason {
            Some(reason) => format!("{name} left ({reason})"),
            None => format!("{name} left"),
        };
        self.outbox.push(Audience::All, &protocol::notice(&text));
        self.record(Entry::Leave {
            name: name.to_string(),
            reason,
        });
    }

    /// Writes the batch: the common bytes to every member no segment names, a
    /// tailored vectored write to the few others. Clients that fail are evicted,
    /// and the notices about them start the next batch.
    fn flush(&mut self) {
        let outbox = &self.outbox;
        if outbox.is_empty() {
            return;
        }
        let mut named: Vec<ClientId> = outbox
            .segments
            .iter()
            .filter_map(|s| match s.audience {
                Audience::All => None,
                Audience::AllExcept(id) | Audience::Only(id) => Some(id),
            })
            .collect();
        named.sort_unstable();
        named.dedup();
        let common = outbox.ranges_for(None, 0, usize::MAX);
        let timeout = self.shared.config.write_timeout;
        let mut failures = Vec::new();
        let mut written = 0u64;
        for member in &self.members {
            let whole_batch = member.from == 0 && member.to == usize::MAX;
            let tailored;
            let ranges = if whole_batch && named.binary_search(&member.id).is_err() {
                &common
            } else {
                tailored = outbox.ranges_for(Some(member.id), member.from, member.to);
                &tailored
            };
            if ranges.is_empty() {
                continue;
            }
            let mut slices: Vec<IoSlice<'_>> = ranges
                .iter()
                .map(|&(start, end)| IoSlice::new(&outbox.bytes[start..end]))
                .collect();
            match write_all_before(&member.stream, &mut slices, timeout) {
                Ok(()) => written += ranges.iter().map(|(s, e)| (e - s) as u64).sum::<u64>(),
                Err(e) => failures.push((member.id, classify(&e))),
            }
        }
        self.shared.stats.bytes_out.fetch_add(written, Relaxed);
        self.outbox.clear();
        for stream in self.departed.drain(..) {
            // The farewell (if any) is out: FIN follows it. Ignore errors, the
            // peer may be gone already.
            let _ = stream.shutdown(Shutdown::Write);
        }
        for (id, failure) in failures {
            self.evict(id, failure);
        }
    }

    /// Disconnects a client whose write failed. `shutdown(Both)` also wakes its
    /// reader, which then finds it already removed and just ends.
    fn evict(&mut self, id: ClientId, failure: Failure) {
        let Some((name, stream)) = self.shared.registry.remove(id) else {
            return;
        };
        let _ = stream.shutdown(Shutdown::Both);
        let counter = match failure {
            Failure::TooSlow => &self.shared.stats.evicted_slow,
            Failure::Reset => &self.shared.stats.evicted_reset,
        };
        counter.fetch_add(1, Relaxed);
        self.shared
            .log
            .info(&format!("{name} evicted ({})", failure.reason()));
        self.announce_leave(&name, Some(failure.reason().to_string()));
    }

    /// After the last batch: half-close every socket so the goodbye is followed
    /// by FIN. Readers end when their clients close; the server makes sure of
    /// the rest.
    fn say_goodbye(&mut self) {
        for member in &self.members {
            let _ = member.stream.shutdown(Shutdown::Write);
        }
    }
}

fn classify(error: &io::Error) -> Failure {
    match error.kind() {
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => Failure::TooSlow,
        _ => Failure::Reset,
    }
}

/// Writes all of `slices` to `stream`, giving up once `timeout` has passed since
/// the call began: a deadline for the whole write, not for each syscall, so a
/// client that reads a trickle cannot hold the broadcaster longer than one
/// timeout. `None` blocks for as long as it takes (the demo mode).
///
/// The socket's own write timeout was set to `timeout` when it connected, so
/// the usual case (everything fits in the socket buffer) is one syscall; the
/// timeout is only shortened, and then restored, when a write was partial.
fn write_all_before(
    stream: &TcpStream,
    mut slices: &mut [IoSlice<'_>],
    timeout: Option<Duration>,
) -> io::Result<()> {
    let started = Instant::now();
    let mut shortened = false;
    let result = loop {
        let mut writer = stream;
        match writer.write_vectored(slices) {
            Ok(0) => break Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => {
                IoSlice::advance_slices(&mut slices, n);
                if slices.is_empty() {
                    break Ok(());
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => break Err(e),
        }
        if let Some(timeout) = timeout {
            let left = timeout.saturating_sub(started.elapsed());
            if left.is_zero() {
                break Err(io::ErrorKind::TimedOut.into());
            }
            // Zero would mean "no timeout" to set_write_timeout; `left` is not zero.
            stream.set_write_timeout(Some(left))?;
            shortened = true;
        }
    };
    if shortened {
        let _ = stream.set_write_timeout(timeout);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(outbox: &Outbox, ranges: &[(usize, usize)]) -> String {
        ranges
            .iter()
            .map(|&(s, e)| String::from_utf8_lossy(&outbox.bytes[s..e]).into_owned())
            .collect()
    }

    #[test]
    fn each_recipient_sees_its_own_view_of_one_buffer() {
        let (a, b, c) = (ClientId(1), ClientId(2), ClientId(3));
        let mut outbox = Outbox::default();
        outbox.push(Audience::AllExcept(a), b"a1 ");
        outbox.push(Audience::AllExcept(a), b"a2 ");
        outbox.push(Audience::AllExcept(b), b"b1 ");
        outbox.push(Audience::Only(c), b"c-only ");
        outbox.push(Audience::All, b"all ");
        // Consecutive lines from one sender share a segment.
        assert_eq!(outbox.segments.len(), 4);
        assert_eq!(
            text(&outbox, &outbox.ranges_for(Some(a), 0, usize::MAX)),
            "b1 all "
        );
        assert_eq!(
            text(&outbox, &outbox.ranges_for(Some(b), 0, usize::MAX)),
            "a1 a2 all "
        );
        assert_eq!(
            text(&outbox, &outbox.ranges_for(Some(c), 0, usize::MAX)),
            "a1 a2 b1 c-only all "
        );
        // Anyone else gets the common view: no Only segments.
        assert_eq!(
            text(&outbox, &outbox.ranges_for(None, 0, usize::MAX)),
            "a1 a2 b1 all "
        );
        // Neighbouring ranges are merged into one slice.
        assert_eq!(outbox.ranges_for(None, 0, usize::MAX).len(), 2);
    }

    #[test]
    fn a_window_starts_at_a_seal() {
        let (old, new) = (ClientId(1), ClientId(2));
        let mut outbox = Outbox::default();
        outbox.push(Audience::AllExcept(old), b"before ");
        let from = outbox.seal();
        // Same audience, but not merged into the sealed segment, so the
        // newcomer's window can start between the two.
        outbox.push(Audience::AllExcept(old), b"after ");
        assert_eq!(outbox.segments.len(), 2);
        assert_eq!(
            text(&outbox, &outbox.ranges_for(Some(new), from, usize::MAX)),
            "after "
        );
        assert_eq!(
            text(&outbox, &outbox.ranges_for(Some(new), 0, from)),
            "before "
        );
    }
}
