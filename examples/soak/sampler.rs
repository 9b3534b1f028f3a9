//! The sampler thread: reads the server's figures from `/proc` on a clock
//! and keeps what the checks and the chart need: a sample a second
//! (threads, descriptors, memory, sockets by state), the descriptor count
//! four times a second (forty during a burst, to judge each `server busy`),
//! and how long each of the server's sockets stayed in CLOSE-WAIT.

use std::collections::HashMap;
use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crossbeam_channel::{bounded, Receiver, RecvTimeoutError, Sender};

use crate::probes::{self, TcpState};

/// The usual interval between two looks at the descriptors and sockets.
const TICK: Duration = Duration::from_millis(250);
/// The interval while a burst runs: a `server busy` is only fair while the
/// descriptors are all taken, and a burst takes and frees them fast.
const FAST_TICK: Duration = Duration::from_millis(25);
/// The interval between two samples for the chart.
const SAMPLE_EVERY: Duration = Duration::from_secs(1);

/// One point of the chart.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Sample {
    /// Seconds since the server started.
    pub(crate) t: f64,
    pub(crate) threads: usize,
    pub(crate) fds: usize,
    pub(crate) rss_kib: u64,
    pub(crate) established: usize,
}

/// A server socket seen in CLOSE-WAIT for longer than the rule allows.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LongCloseWait {
    /// When it was first seen so, in seconds since the server started.
    pub(crate) since: f64,
    /// How long it was seen so (at least).
    pub(crate) seconds: f64,
    /// The client's end of it: the soak's port, which says which kind.
    pub(crate) client_port: u16,
}

/// What the sampler kept.
#[derive(Debug, Default)]
pub(crate) struct Samples {
    pub(crate) series: Vec<Sample>,
    /// The descriptor count at each look, with its time.
    pub(crate) fd_trace: Vec<(f64, usize)>,
    /// Server sockets ever seen in CLOSE-WAIT.
    pub(crate) close_waits: usize,
    /// The longest stay in CLOSE-WAIT seen, in seconds (at least).
    pub(crate) longest_close_wait: f64,
    /// Stays in CLOSE-WAIT over a second (the first 50).
    pub(crate) long_close_waits: Vec<LongCloseWait>,
}

impl Samples {
    /// The most threads seen.
    pub(crate) fn peak_threads(&self) -> usize {
        self.series.iter().map(|s| s.threads).max().unwrap_or(0)
    }

    /// The most descriptors seen.
    pub(crate) fn peak_fds(&self) -> usize {
        self.fd_trace.iter().map(|(_, n)| *n).max().unwrap_or(0)
    }

    /// The highest resident memory sampled (the peak itself is `VmHWM`).
    pub(crate) fn peak_rss_kib(&self) -> u64 {
        self.series.iter().map(|s| s.rss_kib).max().unwrap_or(0)
    }
}

/// Allowed stay in CLOSE-WAIT: the server has read the client's FIN and
/// must close its side within a second.
pub(crate) const CLOSE_WAIT_LIMIT: f64 = 1.0;

/// The running sampler.
#[derive(Debug)]
pub(crate) struct Sampler {
    /// Dropped to stop it: the thread's wait then ends at once.
    stop_tx: Sender<()>,
    fast: Arc<AtomicBool>,
    thread: JoinHandle<Samples>,
}

impl Sampler {
    /// Starts sampling server `pid`; times count from `t0`.
    ///
    /// # Errors
    /// The thread could not be started.
    pub(crate) fn start(pid: u32, t0: Instant) -> io::Result<Sampler> {
        let (stop_tx, stop_rx) = bounded::<()>(0);
        let fast = Arc::new(AtomicBool::new(false));
        let fast_flag = fast.clone();
        let thread = thread::Builder::new()
            .name("sampler".to_string())
            .spawn(move || run(pid, t0, &stop_rx, &fast_flag))?;
        Ok(Sampler {
            stop_tx,
            fast,
            thread,
        })
    }

    /// A handle the burst thread can switch the pace with.
    pub(crate) fn pace(&self) -> Arc<AtomicBool> {
        self.fast.clone()
    }

    /// Stops the thread and returns what it kept.
    pub(crate) fn finish(self) -> Samples {
        drop(self.stop_tx);
        self.thread.join().unwrap_or_default()
    }
}

fn run(pid: u32, t0: Instant, stop_rx: &Receiver<()>, fast: &AtomicBool) -> Samples {
    let mut samples = Samples::default();
    let mut tracker = CloseWaitTracker::default();
    let mut next_sockets = Instant::now();
    let mut next_sample = Instant::now();
    let mut established = 0;
    loop {
        let now = Instant::now();
        let t = now.duration_since(t0).as_secs_f64();
        let Some(fds) = probes::fds(pid) else {
            break; // the server is gone
        };
        samples.fd_trace.push((t, fds));
        if now >= next_sockets {
            next_sockets = now + TICK;
            let table = probes::tcp_table();
            let sockets = probes::sockets(pid, &table);
            established = sockets
                .iter()
                .filter(|(_, r)| r.state == TcpState::Established)
                .count();
            tracker.look(t, &sockets);
        }
        if now >= next_sample {
            next_sample = now + SAMPLE_EVERY;
            samples.series.push(Sample {
                t,
                threads: probes::threads(pid).unwrap_or(0),
                fds,
                rss_kib: probes::status_kib(pid, "VmRSS").unwrap_or(0),
                established,
            });
        }
        let tick = if fast.load(Ordering::Relaxed) {
            FAST_TICK
        } else {
            TICK
        };
        match stop_rx.recv_timeout(tick) {
            Err(RecvTimeoutError::Timeout) => {}
            _ => break,
        }
    }
    tracker.finish(&mut samples);
    samples
}

/// Each server socket in CLOSE-WAIT, from when it was first seen so.
#[derive(Debug, Default)]
struct CloseWaitTracker {
    /// inode: (first seen, last seen, client port).
    open: HashMap<u64, (f64, f64, u16)>,
    seen: usize,
    longest: f64,
    long: Vec<LongCloseWait>,
}

impl CloseWaitTracker {
    fn look(&mut self, t: f64, sockets: &[(u64, probes::TcpRow)]) {
        let mut still = HashMap::new();
        for (inode, row) in sockets {
            if row.state != TcpState::CloseWait {
                continue;
            }
            let first = match self.open.get(inode) {
                Some(&(first, _, _)) => first,
                None => {
                    self.seen += 1;
                    t
                }
            };
            still.insert(*inode, (first, t, row.remote_port));
        }
        let open = std::mem::replace(&mut self.open, still);
        for (inode, stay) in open {
            if !self.open.contains_key(&inode) {
                self.ended(stay);
            }
        }
    }

    fn ended(&mut self, (first, last, client_port): (f64, f64, u16)) {
        let seconds = last - first;
        self.longest = self.longest.max(seconds);
        if seconds > CLOSE_WAIT_LIMIT && self.long.len() < 50 {
            self.long.push(LongCloseWait {
                since: first,
                seconds,
                client_port,
            });
        }
    }

    fn finish(mut self, samples: &mut Samples) {
        for stay in std::mem::take(&mut self.open).into_values() {
            self.ended(stay);
        }
        samples.close_waits = self.seen;
        samples.longest_close_wait = self.longest;
        samples.long_close_waits = self.long;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probes::TcpRow;

    fn row(state: TcpState) -> TcpRow {
        TcpRow {
            state,
            local_port: 9000,
            remote_port: 40_000,
        }
    }

    /// A stay is timed from the first look that saw it to the last.
    #[test]
    fn close_wait_stays_are_timed_from_first_to_last_look() {
        let mut tracker = CloseWaitTracker::default();
        tracker.look(
            0.0,
            &[(1, row(TcpState::CloseWait)), (2, row(TcpState::CloseWait))],
        );
        tracker.look(
            0.25,
            &[
                (1, row(TcpState::CloseWait)),
                (2, row(TcpState::Established)),
            ],
        );
        tracker.look(1.5, &[(1, row(TcpState::CloseWait))]);
        tracker.look(1.75, &[]);
        let mut samples = Samples::default();
        tracker.finish(&mut samples);
        assert_eq!(samples.close_waits, 2);
        assert_eq!(samples.longest_close_wait, 1.5);
        assert_eq!(samples.long_close_waits.len(), 1);
        assert_eq!(samples.long_close_waits[0].client_port, 40_000);
    }
}
