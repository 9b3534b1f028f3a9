//! [`Throttle`]: the rate limit (`--rate-limit`) as a reader applies it to its
//! own client: the token bucket says how long a line must wait, and the
//! reader sleeps that long, watching for the client leaving meanwhile. Apart
//! from `session.rs` because the waiting has rules of its own (what wakes
//! it, what the dashboard sees); the bucket's arithmetic is `ratelimit.rs`.

use std::net::TcpStream;
use std::sync::atomic::Ordering::{Acquire, Relaxed};
use std::thread;
use std::time::{Duration, Instant};

use crate::server::client::Meters;
use crate::server::ratelimit::TokenBucket;
use crate::server::socket::describe;

use super::end::End;

/// While a throttled reader waits, it looks this often at whether its client
/// reset the connection or was evicted, so a client held back by the rate
/// limiter is still noticed leaving within a fraction of a second.
const THROTTLE_CHECK: Duration = Duration::from_millis(100);

/// One client's rate limit: its token bucket, if the server has a limit.
#[derive(Debug)]
pub(super) struct Throttle {
    bucket: Option<TokenBucket>,
}

impl Throttle {
    /// A full bucket for `rate` lines per second; no limit at all when `rate`
    /// is 0.
    pub(super) fn new(rate: u32) -> Throttle {
        Throttle {
            bucket: (rate > 0).then(|| TokenBucket::new(rate, Instant::now())),
        }
    }

    /// Takes a token for the next line, and says how long that line must
    /// wait: zero without a limit, and while the burst lasts. Called for
    /// every line, so without a limit it does not even read the clock.
    #[inline]
    pub(super) fn take(&mut self) -> Duration {
        match &mut self.bucket {
            Some(bucket) => bucket.take(Instant::now()),
            None => Duration::ZERO,
        }
    }

    /// Waits `wait` (what [`take`](Throttle::take) said) before the line is
    /// handled. The line is delayed, never dropped; while this thread sleeps
    /// it does not read, so the kernel's buffers fill and TCP slows the
    /// sender down. It wakes every [`THROTTLE_CHECK`] to see whether the
    /// client reset the connection or was evicted meanwhile: then it stops
    /// at once, and says how the connection ended. `meters.throttled` is set
    /// while it waits, for the dashboard.
    pub(super) fn hold(wait: Duration, meters: &Meters, stream: &TcpStream) -> Option<End> {
        let until = Instant::now() + wait;
        meters.throttled.store(true, Relaxed);
        let mut end = None;
        loop {
            if meters.gone.load(Acquire) {
                end = Some(End::Removed);
                break;
            }
            // A reset sets the socket's pending error even while unread data
            // waits in front of it; a plain close (FIN) does not, and the
            // lines before it are still delivered.
            if let Ok(Some(e)) = stream.take_error() {
                end = Some(End::Failed(describe(&e)));
                break;
            }
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            thread::sleep(left.min(THROTTLE_CHECK));
        }
        meters.throttled.store(false, Relaxed);
        end
    }
}
