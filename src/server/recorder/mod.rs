//! The recorder thread: it owns the transcript (`--transcript`) and the ring
//! of recent events the dashboard shows, and writes them off the message
//! path. The broadcaster hands it each [`Record`] through a bounded channel
//! and never waits for it: when the channel is full (a slow disk, a pipe
//! nobody reads), the record is dropped and counted, and the next record
//! that gets through is preceded by an [`Entry::Gap`] saying how many were
//! lost there, so the transcript is honest about its holes.

pub(crate) mod recent;
pub(crate) mod reload;
mod transcript;

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::Instant;

use crossbeam_channel::{bounded, Receiver, RecvTimeoutError, Sender, TrySendError};

use crate::log::Log;

use super::stats::Stats;
use recent::Recent;
use reload::Restored;
use transcript::Transcript;
pub(crate) use transcript::{Entry, Record};

/// Records that may wait for the recorder. A few seconds of a busy room's
/// chat: enough to ride out a disk's hiccup, small enough (each record is a
/// few hundred bytes) that a recorder stuck for good costs about a megabyte.
const CAPACITY: usize = 4096;

/// Where the transcript goes, as `Server::bind` prepared it.
#[derive(Debug)]
pub(crate) enum TranscriptTarget {
    /// A file opened at bind time (so a bad path fails the start, not
    /// later), with the number of records it already holds.
    File(File, u64),
    /// A named pipe: opening it waits for a reader, so the recorder thread
    /// opens it itself and the chat starts at once.
    Pipe(PathBuf),
}

impl TranscriptTarget {
    /// Prepares `path`: a file is read back first (what a restarted server
    /// takes back, each room's log at most `room_bytes`), then opened to
    /// append; a named pipe is left for the recorder, and gives nothing back.
    ///
    /// # Errors
    /// The file cannot be read, opened or created.
    pub(crate) fn open(path: &Path, room_bytes: usize) -> io::Result<(TranscriptTarget, Restored)> {
        if is_pipe(path) {
            return Ok((
                TranscriptTarget::Pipe(path.to_path_buf()),
                Restored::default(),
            ));
        }
        let restored = reload::read(path, room_bytes)?;
        let file = transcript::open_append(path)?;
        Ok((TranscriptTarget::File(file, restored.records), restored))
    }
}

#[cfg(unix)]
fn is_pipe(path: &Path) -> bool {
    use std::os::unix::fs::FileTypeExt;
    std::fs::metadata(path).is_ok_and(|m| m.file_type().is_fifo())
}

#[cfg(not(unix))]
fn is_pipe(_path: &Path) -> bool {
    false
}

/// What travels to the recorder.
#[derive(Debug)]
enum Note {
    Record(Record),
    /// This many records were dropped just before the next one.
    Gap(u64),
}

/// The broadcaster's end: hands records over without ever waiting.
#[derive(Debug)]
pub(crate) struct Recorder {
    /// `None` when nothing is recorded (no transcript, no dashboard), or
    /// once the recorder thread is gone.
    records_tx: Option<Sender<Note>>,
    /// Records dropped since the last one that got through.
    dropped: u64,
    stats: Arc<Stats>,
}

impl Recorder {
    /// True when records are wanted at all: callers skip making them otherwise.
    pub(crate) fn is_on(&self) -> bool {
        self.records_tx.is_some()
    }

    /// Hands `record` to the recorder, or drops and counts it if the
    /// recorder is behind. Never blocks.
    pub(crate) fn record(&mut self, record: Record) {
        let Some(records_tx) = &self.records_tx else {
            return;
        };
        if self.dropped > 0 {
            match records_tx.try_send(Note::Gap(self.dropped)) {
                Ok(()) => self.dropped = 0,
                Err(TrySendError::Full(_)) => return self.drop_one(),
                Err(TrySendError::Disconnected(_)) => return self.records_tx = None,
            }
        }
        match records_tx.try_send(Note::Record(record)) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => self.drop_one(),
            Err(TrySendError::Disconnected(_)) => self.records_tx = None,
        }
    }

    fn drop_one(&mut self) {
        self.dropped += 1;
        self.stats.records_dropped.fetch_add(1, Relaxed);
    }
}

impl Drop for Recorder {
    /// The last records may have been dropped with nothing after them to
    /// carry the gap: it is handed over now, waiting a moment if it must
    /// (the chat is over by then), so the transcript still says so.
    fn drop(&mut self) {
        if let (Some(records_tx), true) = (&self.records_tx, self.dropped > 0) {
            let _ = records_tx.send_timeout(Note::Gap(self.dropped), FINAL_GAP_WAIT);
        }
    }
}

/// How long the broadcaster, at its end, waits to hand over the last gap.
const FINAL_GAP_WAIT: std::time::Duration = std::time::Duration::from_secs(1);

/// The running recorder thread.
#[derive(Debug)]
pub(crate) struct RecorderHandle {
    thread: JoinHandle<()>,
    /// Never sent on: the thread drops its end when it ends.
    finished_rx: Receiver<()>,
}

impl RecorderHandle {
    /// Waits for the recorder to write out what it holds and end, until
    /// `deadline`. A recorder stuck in a write (a pipe nobody reads) is left
    /// behind: the process ends without it.
    pub(crate) fn finish_by(self, deadline: Instant) {
        if !matches!(
            self.finished_rx.recv_deadline(deadline),
            Err(RecvTimeoutError::Timeout)
        ) {
            let _ = self.thread.join();
        }
    }
}

/// Starts the recorder if there is anything to record: a transcript, or the
/// dashboard's `recent` ring. It ends when the [`Recorder`] is dropped.
///
/// # Errors
/// The thread could not be started.
pub(crate) fn spawn(
    transcript: Option<TranscriptTarget>,
    recent: Option<Arc<Recent>>,
    stats: Arc<Stats>,
    log: Log,
) -> io::Result<(Recorder, Option<RecorderHandle>)> {
    if transcript.is_none() && recent.is_none() {
        let off = Recorder {
            records_tx: None,
            dropped: 0,
            stats,
        };
        return Ok((off, None));
    }
    let (records_tx, records_rx) = bounded(CAPACITY);
    let (finished_tx, finished_rx) = bounded::<()>(0);
    let thread = thread::Builder::new()
        .name("recorder".to_string())
        .spawn(move || {
            let _finished = finished_tx;
            run(&records_rx, transcript, recent.as_deref(), log);
        })?;
    let recorder = Recorder {
        records_tx: Some(records_tx),
        dropped: 0,
        stats,
    };
    Ok((
        recorder,
        Some(RecorderHandle {
            thread,
            finished_rx,
        }),
    ))
}

/// The thread: take what waits, write it to the buffer, and flush once
/// nothing more waits, so a quiet room's records reach the file at once and
/// a busy room's go out in few writes.
fn run(
    records_rx: &Receiver<Note>,
    target: Option<TranscriptTarget>,
    recent: Option<&Recent>,
    log: Log,
) {
    let mut transcript = match target {
        Some(TranscriptTarget::File(file, records)) => Some(Transcript::new(file, records, log)),
        Some(TranscriptTarget::Pipe(path)) => match Transcript::open(&path, log) {
            Ok(transcript) => Some(transcript),
            Err(e) => {
                log.always(&format!(
                    "cannot open the transcript {}: {e}",
                    path.display()
                ));
                None
            }
        },
        None => None,
    };
    while let Ok(first) = records_rx.recv() {
        let mut next = Some(first);
        while let Some(note) = next.take() {
            let record = match note {
                Note::Record(record) => record,
                Note::Gap(dropped) => {
                    log.always(&format!(
                        "transcript: {dropped} records dropped (the recorder fell behind)"
                    ));
                    Record::now(Entry::Gap { dropped })
                }
            };
            if let Some(recent) = recent {
                recent.push(&record.entry);
            }
            if let Some(transcript) = &mut transcript {
                transcript.write(&record);
            }
            next = records_rx.try_recv().ok();
        }
        if let Some(transcript) = &mut transcript {
            transcript.flush();
        }
    }
}
