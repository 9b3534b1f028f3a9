//! The `--stats-every` thread: a summary line on the log every period, until
//! the server stops it.

use std::io;
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crossbeam_channel::{bounded, Receiver, RecvTimeoutError, Sender};

use super::shared::Shared;

/// A running stats logger; [`StatsLogger::stop`] ends it.
#[derive(Debug)]
pub(crate) struct StatsLogger {
    /// Never sent on: dropping it disconnects the channel, which wakes the thread.
    stop_tx: Sender<()>,
    thread: JoinHandle<()>,
}

impl StatsLogger {
    /// Starts the thread if `--stats-every` asks for one.
    ///
    /// # Errors
    /// The thread could not be started.
    pub(crate) fn spawn(shared: &Arc<Shared>) -> io::Result<Option<StatsLogger>> {
        let Some(every) = shared.config.stats_every else {
            return Ok(None);
        };
        let (stop_tx, stop_rx) = bounded(0);
        let shared = shared.clone();
        let thread = thread::Builder::new()
            .name("stats".to_string())
            .spawn(move || log_stats(&shared, every, stop_rx))?;
        Ok(Some(StatsLogger { stop_tx, thread }))
    }

    /// Stops the thread and waits for it.
    pub(crate) fn stop(self) {
        drop(self.stop_tx);
        let _ = self.thread.join();
    }
}

fn log_stats(shared: &Shared, every: Duration, stop_rx: Receiver<()>) {
    let mut next = Instant::now() + every;
    loop {
        match stop_rx.recv_deadline(next) {
            Err(RecvTimeoutError::Timeout) => {
                shared.log.always(&shared.stats_line());
                next += every;
            }
            _ => return,
        }
    }
}
