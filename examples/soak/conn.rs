//! One simulated client's chat connection: dialled from a chosen loopback
//! address (Linux answers all of 127.0.0.0/8, so bans can hit 127.0.0.3
//! and spare the healthy clients on 127.0.0.1) with an optional small
//! receive buffer, read a line at a time with a deadline, left by `/quit`,
//! a half-close or a reset. Also the `#SEQ COUNT` markers of a session.

use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, Shutdown, SocketAddr, SocketAddrV4, TcpStream};
use std::time::{Duration, Instant};

use socket2::{Domain, Protocol, Socket, Type};

/// How long a connection attempt may take: a burst can fill the server's
/// listen backlog, and the kernel retries a dropped SYN after a second.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(8);
/// A write the server does not take within this is given up: the rate
/// limiter is holding the client back, or the server stopped reading it.
pub(crate) const WRITE_TIMEOUT: Duration = Duration::from_secs(2);

/// What one read brought.
#[derive(Debug)]
pub(crate) enum Got {
    /// A whole line, without its `\n`.
    Line(String),
    /// Nothing more by the deadline.
    Quiet,
    /// The server closed the connection (end of stream).
    Closed,
    /// The connection failed (a reset, mostly).
    Failed(io::Error),
}

/// Where a connection comes from and how much it may buffer.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Dial {
    /// The source address.
    pub(crate) from: Ipv4Addr,
    /// `SO_RCVBUF` before connecting, which also stops Linux from growing
    /// the buffer (to 32 MiB here): a client that stops reading then fills
    /// up in seconds, as a student's laptop on a slow link would.
    pub(crate) receive_buffer: Option<usize>,
}

impl Dial {
    /// From 127.0.0.1 with the kernel's buffers.
    pub(crate) const HEALTHY: Dial = Dial {
        from: Ipv4Addr::LOCALHOST,
        receive_buffer: None,
    };

    /// From 127.0.0.1 with a small receive buffer.
    pub(crate) fn small(bytes: usize) -> Dial {
        Dial {
            from: Ipv4Addr::LOCALHOST,
            receive_buffer: Some(bytes),
        }
    }

    /// From another loopback address.
    pub(crate) fn from(from: Ipv4Addr) -> Dial {
        Dial {
            from,
            receive_buffer: None,
        }
    }

    /// Opens a TCP connection to `to` as this dial says.
    ///
    /// # Errors
    /// The socket calls failed or the server did not answer in time.
    pub(crate) fn stream(self, to: SocketAddrV4) -> io::Result<TcpStream> {
        let socket = Socket::new(Domain::IPV4, Type::STREAM, Some(Protocol::TCP))?;
        if let Some(bytes) = self.receive_buffer {
            socket.set_recv_buffer_size(bytes)?;
        }
        socket.bind(&SocketAddr::from(SocketAddrV4::new(self.from, 0)).into())?;
        socket.connect_timeout(&SocketAddr::from(to).into(), CONNECT_TIMEOUT)?;
        let stream: TcpStream = socket.into();
        stream.set_nodelay(true)?;
        stream.set_write_timeout(Some(WRITE_TIMEOUT))?;
        Ok(stream)
    }
}

/// A chat connection read a line at a time.
#[derive(Debug)]
pub(crate) struct Conn {
    stream: TcpStream,
    /// Bytes read and not yet handed out as lines.
    buf: Vec<u8>,
    /// The read timeout last set, to set it only when it changes.
    timeout: Option<Duration>,
    /// Its local port: how the soak names it in the kernel's socket table.
    pub(crate) port: u16,
}

impl Conn {
    /// Connects as `dial` says.
    ///
    /// # Errors
    /// See [`Dial::stream`].
    pub(crate) fn open(to: SocketAddrV4, dial: Dial) -> io::Result<Conn> {
        let stream = dial.stream(to)?;
        let port = stream.local_addr()?.port();
        Ok(Conn {
            stream,
            buf: Vec::new(),
            timeout: None,
            port,
        })
    }

    /// The socket, for a kind that reads or writes it in its own way.
    pub(crate) fn stream(&self) -> &TcpStream {
        &self.stream
    }

    /// Sends `text` and a newline.
    ///
    /// # Errors
    /// The write failed or took longer than [`WRITE_TIMEOUT`].
    pub(crate) fn send(&mut self, text: &str) -> io::Result<()> {
        let mut line = Vec::with_capacity(text.len() + 1);
        line.extend_from_slice(text.as_bytes());
        line.push(b'\n');
        (&self.stream).write_all(&line)
    }

    /// The next line, waiting until `until` at the latest.
    pub(crate) fn next(&mut self, until: Instant) -> Got {
        loop {
            if let Some(line) = self.take_line() {
                return Got::Line(line);
            }
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Got::Quiet;
            }
            match self.fill(left) {
                Ok(0) => return Got::Closed,
                Ok(_) => {}
                Err(e) if is_timeout(&e) => return Got::Quiet,
                Err(e) => return Got::Failed(e),
            }
        }
    }

    /// Reads lines until one satisfies `wanted`, or `until` passes, or the
    /// connection ends; `also` sees every line on the way (the wanted one
    /// too). Returns the wanted line.
    ///
    /// # Errors
    /// What came instead, in words, with the last lines seen.
    pub(crate) fn expect(
        &mut self,
        until: Instant,
        wanted: impl Fn(&str) -> bool,
        mut also: impl FnMut(&str),
    ) -> Result<String, String> {
        let mut seen: Vec<String> = Vec::new();
        loop {
            match self.next(until) {
                Got::Line(line) => {
                    also(&line);
                    if wanted(&line) {
                        return Ok(line);
                    }
                    if seen.len() == 4 {
                        seen.remove(0);
                    }
                    seen.push(line);
                }
                Got::Quiet => return Err(format!("nothing in time (last lines: {seen:?})")),
                Got::Closed => return Err(format!("closed by the server (last lines: {seen:?})")),
                Got::Failed(e) => return Err(format!("{e} (last lines: {seen:?})")),
            }
        }
    }

    /// Reads up to `max` bytes as they come (for a slow reader), returning
    /// how many; 0 at the end of the stream.
    ///
    /// # Errors
    /// The connection failed, or nothing came within `wait`.
    pub(crate) fn trickle(&mut self, max: usize, wait: Duration) -> io::Result<usize> {
        let mut chunk = [0u8; 16 * 1024];
        self.set_timeout(wait)?;
        let n = (&self.stream).read(&mut chunk[..max.min(16 * 1024)])?;
        self.buf.extend_from_slice(&chunk[..n]);
        Ok(n)
    }

    /// A whole line already read, if there is one.
    pub(crate) fn take_line(&mut self) -> Option<String> {
        let end = memchr::memchr(b'\n', &self.buf)?;
        let line = String::from_utf8_lossy(&self.buf[..end]).into_owned();
        self.buf.drain(..=end);
        Some(line)
    }

    fn fill(&mut self, wait: Duration) -> io::Result<usize> {
        self.set_timeout(wait)?;
        let mut chunk = [0u8; 16 * 1024];
        loop {
            match (&self.stream).read(&mut chunk) {
                Ok(n) => {
                    self.buf.extend_from_slice(&chunk[..n]);
                    return Ok(n);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }

    fn set_timeout(&mut self, wait: Duration) -> io::Result<()> {
        // A zero timeout means "block for ever" to the socket: never ask for it.
        let wait = Some(wait.max(Duration::from_millis(1)));
        if wait != self.timeout {
            self.stream.set_read_timeout(wait)?;
            self.timeout = wait;
        }
        Ok(())
    }

    /// Half-closes: the server reads the end of input.
    pub(crate) fn half_close(&self) {
        let _ = self.stream.shutdown(Shutdown::Write);
    }

    /// Reads and throws away everything until the server closes or `until`
    /// passes. Returns whether the server closed (or reset) in time, and
    /// the lines that came.
    pub(crate) fn read_to_end(&mut self, until: Instant) -> (bool, Vec<String>) {
        let mut lines = Vec::new();
        loop {
            match self.next(until) {
                Got::Line(line) => lines.push(line),
                Got::Quiet => return (false, lines),
                Got::Closed | Got::Failed(_) => return (true, lines),
            }
        }
    }

    /// Drops the connection with a reset (RST) rather than a FIN: linger
    /// on, with a zero timeout, makes the close abortive.
    pub(crate) fn reset(self) {
        reset(self.stream);
    }
}

/// Closes `stream` with a reset.
pub(crate) fn reset(stream: TcpStream) {
    let socket = Socket::from(stream);
    let _ = socket.set_linger(Some(Duration::ZERO));
}

/// A read or write that gave up waiting.
pub(crate) fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

/// The room lines' numbers, as a session's `#SEQ COUNT` markers give them:
/// the next COUNT lines are the room's lines SEQ, SEQ+1, …; any line past
/// them is the client's own (a reply, a notice), unnumbered.
#[derive(Debug, Default)]
pub(crate) struct Numbering {
    next: u64,
    left: u64,
}

/// What a line of a session is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Numbered {
    /// A `#` line: a marker, or `#session TOKEN LAST`.
    Control,
    /// The room line with this number.
    Room(u64),
    /// A line for this client alone.
    Own,
}

impl Numbering {
    /// Classifies the next line of the stream.
    pub(crate) fn classify(&mut self, line: &str) -> Numbered {
        if let Some(rest) = line.strip_prefix('#') {
            if let Some((seq, count)) = rest.split_once(' ') {
                if let (Ok(seq), Ok(count)) = (seq.parse(), count.parse()) {
                    self.next = seq;
                    self.left = count;
                }
            }
            return Numbered::Control;
        }
        if self.left == 0 {
            return Numbered::Own;
        }
        self.left -= 1;
        self.next += 1;
        Numbered::Room(self.next - 1)
    }
}

/// `#session TOKEN LAST`, parsed.
pub(crate) fn parse_session(line: &str) -> Option<(String, u64)> {
    let rest = line.strip_prefix("#session ")?;
    let (token, last) = rest.split_once(' ')?;
    Some((token.to_string(), last.parse().ok()?))
}

/// True for `* N lines skipped: you fell behind`.
pub(crate) fn is_skip_notice(line: &str) -> bool {
    line.starts_with("* ") && line.ends_with(" skipped: you fell behind")
}

/// The lines skipped, from such a notice.
pub(crate) fn skipped_count(line: &str) -> u64 {
    line.trim_start_matches("* ")
        .split(' ')
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `#SEQ COUNT` numbers the COUNT lines after it; the rest are the client's own.
    #[test]
    fn markers_number_the_lines_after_them() {
        let mut numbering = Numbering::default();
        let lines = [
            "* welcome x",
            "#session abc 6",
            "#7 2",
            "> a: one",
            "* b joined",
            "* you are now in lab",
            "#12 1",
            "> a: two",
        ];
        let got: Vec<Numbered> = lines.iter().map(|l| numbering.classify(l)).collect();
        use Numbered::*;
        assert_eq!(
            got,
            [
                Own,
                Control,
                Control,
                Room(7),
                Room(8),
                Own,
                Control,
                Room(12)
            ]
        );
        assert_eq!(
            parse_session("#session abc 6"),
            Some(("abc".to_string(), 6))
        );
    }

    /// A skip notice is known by its words, and a chat line quoting one is not one.
    #[test]
    fn skip_notices_are_told_apart() {
        let line = "* 12 lines skipped: you fell behind";
        assert!(is_skip_notice(line));
        assert_eq!(skipped_count(line), 12);
        assert!(is_skip_notice("* 1 line skipped: you fell behind"));
        assert!(!is_skip_notice("> ann: * 3 lines skipped"));
    }
}
