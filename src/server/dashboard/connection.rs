//! One dashboard connection, on its own thread: read one request head within
//! the size and time limits ([`read_request`]), answer ([`answer`]), and
//! close ([`finish`]). `/events` keeps the connection and writes each new
//! snapshot until the browser leaves, stops reading (a write timeout, or the
//! sampler finds it behind), is displaced, or the dashboard stops.

use std::io::{self, Read, Write};
use std::net::{IpAddr, Shutdown, TcpStream};
use std::time::{Duration, Instant};

use super::feed::{Feed, Next};
use super::http::{self, Request, Route, Status, MAX_HEAD_BYTES};
use crate::server::socket::{is_timeout, linger};

/// The whole request head must arrive within this (then `408` and close). A
/// browser sends its head in one write as soon as it has connected, so even
/// on a busy machine or a lossy Wi-Fi (a lost packet is resent within about
/// 200 ms) it is in well under a second; only a stuck or hostile client
/// takes longer. Two seconds keeps such a client's place short without
/// cutting off a real browser; a crowd of them is displaced sooner anyway
/// (see `places.rs`).
pub(crate) const REQUEST_DEADLINE: Duration = Duration::from_secs(2);

/// Longest wait for a browser to take one write. A page that stopped
/// reading (a laptop asleep, a frozen tab) loses its stream after this.
pub(crate) const WRITE_TIMEOUT: Duration = Duration::from_secs(2);

/// With no new snapshot for this long (never, with the sampler running), a
/// comment line keeps the stream, and the check that the browser is there.
const KEEP_ALIVE: Duration = Duration::from_secs(5);

/// The page: one file, its style and script inline.
const PAGE: &str = include_str!("page.html");

/// Reads one request head from a connection that arrived at `arrived_at`:
/// the route asked for, or the refusal to give (`408` once
/// [`REQUEST_DEADLINE`] has passed). `None` if the client went away first,
/// or the socket cannot be set up: then there is nothing to answer.
pub(crate) fn read_request(stream: &TcpStream, arrived_at: IpAddr) -> Option<Request> {
    let _ = stream.set_nodelay(true);
    if stream.set_write_timeout(Some(WRITE_TIMEOUT)).is_err() {
        return None;
    }
    read_head(stream, arrived_at)
}

/// Answers `request` (as [`read_request`] returned it). True when a whole
/// answer was written and the connection is to be closed with [`finish`];
/// false when it is over already (an event stream ended, a write failed).
pub(crate) fn answer(stream: &TcpStream, request: Request, feed: &Feed) -> bool {
    let mut writer = stream;
    let route = match request {
        Request::Route(route) => route,
        Request::Refuse(status) => return writer.write_all(&http::refusal(status)).is_ok(),
        // Never returned by `read_request`: nothing to answer.
        Request::Incomplete => return false,
    };
    let written = match route {
        Route::Page => writer.write_all(&http::response(
            Status::Ok,
            "text/html; charset=utf-8",
            PAGE.as_bytes(),
        )),
        Route::State => {
            let (_, json) = feed.latest();
            writer.write_all(&http::response(
                Status::Ok,
                "application/json",
                json.as_bytes(),
            ))
        }
        Route::Events => {
            // However the stream ends, nothing more is said on it.
            let _ = stream_events(&mut writer, feed);
            let _ = stream.shutdown(Shutdown::Both);
            return false;
        }
    };
    written.is_ok()
}

/// Reads until the request head is complete, refused, or late: `None` if the
/// connection ends first. The deadline is for the whole head, not each read,
/// so a client sending a byte a second cannot stretch it.
fn read_head(stream: &TcpStream, arrived_at: IpAddr) -> Option<Request> {
    let deadline = Instant::now() + REQUEST_DEADLINE;
    let mut head = Vec::with_capacity(1024);
    let mut buf = [0u8; 1024];
    loop {
        match http::parse(&head, arrived_at) {
            Request::Incomplete => {}
            decided => return Some(decided),
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() || stream.set_read_timeout(Some(left)).is_err() {
            return Some(Request::Refuse(Status::RequestTimeout));
        }
        // Never read past the limit: what parse has not seen is not kept.
        let room = (MAX_HEAD_BYTES + 1 - head.len()).min(buf.len());
        match (&*stream).read(&mut buf[..room]) {
            Ok(0) => return None,
            Ok(n) => head.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if is_timeout(&e) => return Some(Request::Refuse(Status::RequestTimeout)),
            Err(_) => return None,
        }
    }
}

/// Writes the event stream: the newest snapshot at once, then each new one
/// as the sampler publishes it.
///
/// # Errors
/// A write failed or timed out: the browser left or stopped reading.
fn stream_events(out: &mut impl Write, feed: &Feed) -> io::Result<()> {
    out.write_all(&http::event_stream_head())?;
    // If the stream breaks, the browser reconnects after this many ms.
    out.write_all(b"retry: 2000\n\n")?;
    let (mut seen, json) = feed.latest();
    out.write_all(http::event(&json).as_bytes())?;
    loop {
        match feed.next_after(seen, Instant::now() + KEEP_ALIVE) {
            Next::Fresh(seq, json) => {
                seen = seq;
                out.write_all(http::event(&json).as_bytes())?;
            }
            Next::TimedOut => out.write_all(b": still here\n\n")?,
            Next::Closed => return Ok(()),
        }
    }
}

/// After an answer: FIN, then read what the client still sends until it
/// closes (briefly), so that closing with unread bytes does not reset the
/// connection and destroy the answer before the browser reads it.
pub(crate) fn finish(stream: &TcpStream) {
    let _ = stream.shutdown(Shutdown::Write);
    linger(stream);
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::thread;

    /// A browser that reads `budget` bytes, then stops: every later write
    /// times out, as a full socket with a write timeout does.
    #[derive(Debug)]
    struct StopsReading {
        budget: usize,
        got: Vec<u8>,
    }

    impl Write for StopsReading {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            if self.budget == 0 {
                return Err(io::ErrorKind::WouldBlock.into());
            }
            let n = buf.len().min(self.budget);
            self.budget -= n;
            self.got.extend_from_slice(&buf[..n]);
            Ok(n)
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    /// A stream whose browser stops reading ends with the first write that
    /// times out, even while snapshots keep coming: its thread is freed.
    #[test]
    fn a_browser_that_stops_reading_ends_its_stream() {
        let feed = Arc::new(Feed::new("{\"n\":0}".into()));
        let publisher = {
            let feed = feed.clone();
            thread::spawn(move || {
                for n in 1..=200 {
                    feed.publish(format!("{{\"n\":{n}}}"));
                    thread::sleep(Duration::from_millis(2));
                }
                feed.close();
            })
        };
        let mut browser = StopsReading {
            budget: 400,
            got: Vec::new(),
        };
        let result = stream_events(&mut browser, &feed);
        let error = result.expect_err("the stream must end with the failed write");
        assert!(is_timeout(&error), "{error}");
        let text = String::from_utf8_lossy(&browser.got);
        assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{text}");
        assert!(text.contains("data: {\"n\":"), "{text}");
        publisher.join().expect("the publisher ran");
    }

    /// A stream ends cleanly when the dashboard stops.
    #[test]
    fn a_stream_ends_when_the_feed_closes() {
        let feed = Feed::new("{}".into());
        feed.close();
        let mut browser = StopsReading {
            budget: usize::MAX,
            got: Vec::new(),
        };
        stream_events(&mut browser, &feed).expect("a clean end");
        let text = String::from_utf8_lossy(&browser.got);
        assert!(text.ends_with("retry: 2000\n\ndata: {}\n\n"), "{text}");
    }
}
