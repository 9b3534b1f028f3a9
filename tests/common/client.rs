//! The line client: one raw TCP connection to the server whose every read
//! has a deadline, and which keeps every line it took so that a failing
//! assertion can print what did arrive.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use super::queues;
use super::wait::TIMEOUT;

/// What one read of a [`Client`]'s socket brought.
#[derive(Debug, PartialEq, Eq)]
enum Got {
    /// Some bytes, now at the end of the client's buffer.
    Bytes,
    /// Nothing before the deadline.
    TimedOut,
    /// The server closed the connection (or reset it).
    Closed,
}

/// The one raw chat client of the test suite: it reads bytes into a buffer of
/// its own and takes whole lines (or raw text) from it, every read with a
/// deadline, and keeps each line it took so a failing assertion can print it.
#[derive(Debug)]
pub(crate) struct Client {
    /// The name from the welcome line: the client's address as the server
    /// sees it (`IP:PORT`). Empty for [`Client::connect_raw`].
    pub(crate) name: String,
    pub(crate) stream: TcpStream,
    /// Received and not yet taken, as a line or as raw text.
    buf: Vec<u8>,
    /// True once a read found the connection closed.
    closed: bool,
    /// Every line taken so far, oldest first.
    pub(crate) history: Vec<String>,
}

impl Client {
    /// Connects and reads the welcome line, taking the name from it. Once this
    /// returns, the server has registered the client.
    pub(crate) fn connect(addr: SocketAddr) -> Client {
        let mut client = Client::connect_raw(addr);
        let welcome = client.line();
        let name = welcome
            .strip_prefix("* welcome ")
            .and_then(|rest| rest.split(", ").next())
            .unwrap_or_else(|| panic!("expected a welcome line, got {welcome:?}"))
            .to_string();
        client.name = name;
        client
    }

    /// Connects without reading anything.
    pub(crate) fn connect_raw(addr: SocketAddr) -> Client {
        Client::from_stream(TcpStream::connect(addr).expect("connect to the test server"))
    }

    /// Wraps a connected socket made elsewhere, without reading anything.
    pub(crate) fn from_stream(stream: TcpStream) -> Client {
        stream
            .set_write_timeout(Some(TIMEOUT))
            .expect("set a write timeout");
        // Each write leaves at once, as with the real client: a test that
        // writes a line in pieces means pieces.
        stream.set_nodelay(true).expect("set TCP_NODELAY");
        Client {
            name: String::new(),
            stream,
            buf: Vec::new(),
            closed: false,
            history: Vec::new(),
        }
    }

    /// Sends `text` and a newline.
    pub(crate) fn send(&mut self, text: &str) {
        self.send_raw(format!("{text}\n").as_bytes());
    }

    /// Sends bytes exactly as given.
    pub(crate) fn send_raw(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).expect("write to the server");
    }

    /// One read into the buffer, waiting at most until `deadline`.
    fn read_some(&mut self, deadline: Instant) -> Got {
        let mut chunk = [0u8; 64 * 1024];
        loop {
            if self.closed {
                return Got::Closed;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Got::TimedOut;
            }
            // `left` is not zero, which set_read_timeout would take as "forever".
            self.stream
                .set_read_timeout(Some(left))
                .expect("set a read timeout");
            match self.stream.read(&mut chunk) {
                Ok(0) => self.closed = true,
                Ok(n) => {
                    self.buf.extend_from_slice(&chunk[..n]);
                    return Got::Bytes;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if is_timeout(&e) => return Got::TimedOut,
                Err(e) if e.kind() == io::ErrorKind::ConnectionReset => self.closed = true,
                Err(e) => panic!(
                    "{}: read failed: {e}; history: {:#?}",
                    self.name, self.history
                ),
            }
        }
    }

    /// Takes the next whole line out of the buffer, if there is one.
    fn take_line(&mut self) -> Option<String> {
        let end = self.buf.iter().position(|&b| b == b'\n')?;
        let raw: Vec<u8> = self.buf.drain(..=end).collect();
        let line = String::from_utf8(raw[..end].to_vec()).expect("the server sends UTF-8");
        self.history.push(line.clone());
        Some(line)
    }

    /// The next line, or the reason there is none by `deadline`.
    fn next_line(&mut self, deadline: Instant) -> Result<String, Got> {
        loop {
            if let Some(line) = self.take_line() {
                return Ok(line);
            }
            match self.read_some(deadline) {
                Got::Bytes => {}
                other => return Err(other),
            }
        }
    }

    /// The next line, without its `\n`; panics after [`TIMEOUT`].
    pub(crate) fn line(&mut self) -> String {
        match self.try_line(TIMEOUT) {
            Some(line) => line,
            None => panic!(
                "{}: no line within {TIMEOUT:?} (closed: {}); received so far: {:#?}",
                self.name, self.closed, self.history
            ),
        }
    }

    /// The next line, or `None` if the connection closed or `wait` passed.
    pub(crate) fn try_line(&mut self, wait: Duration) -> Option<String> {
        self.next_line(Instant::now() + wait).ok()
    }

    /// The next line, or `None` if none is complete by `deadline`. For loops
    /// that check something else between lines; the server closing the
    /// connection is a test failure here.
    pub(crate) fn line_before(&mut self, deadline: Instant) -> Option<String> {
        match self.next_line(deadline) {
            Ok(line) => Some(line),
            Err(Got::Closed) => panic!(
                "{}: the server closed the connection; history: {:#?}, unfinished: {:?}",
                self.name,
                self.history,
                String::from_utf8_lossy(&self.buf)
            ),
            Err(_) => None,
        }
    }

    /// Asserts the next line is exactly `want`.
    pub(crate) fn expect(&mut self, want: &str) {
        let got = self.line();
        assert_eq!(
            got, want,
            "{}: unexpected line; history: {:#?}",
            self.name, self.history
        );
    }

    /// Reads lines until one satisfies `wanted`, and returns it.
    pub(crate) fn wait_for(&mut self, what: &str, wanted: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            match self.next_line(deadline) {
                Ok(line) if wanted(&line) => return line,
                Ok(_) => {}
                Err(why) => panic!(
                    "{}: never got {what} ({why:?}); received: {:#?}, unfinished: {:?}",
                    self.name,
                    self.history,
                    String::from_utf8_lossy(&self.buf)
                ),
            }
        }
    }

    /// Reads until the bytes received and not yet taken contain `wanted`,
    /// then takes and returns all of them, line breaks and all. For the
    /// chunk-framing demo mode, whose output is not made of lines.
    pub(crate) fn raw_until(&mut self, wanted: &str) -> String {
        let deadline = Instant::now() + TIMEOUT;
        while !String::from_utf8_lossy(&self.buf).contains(wanted) {
            let read = self.read_some(deadline);
            assert_eq!(
                read,
                Got::Bytes,
                "{}: never received {wanted:?}; got {:?}",
                self.name,
                String::from_utf8_lossy(&self.buf)
            );
        }
        String::from_utf8_lossy(&std::mem::take(&mut self.buf)).into_owned()
    }

    /// Asserts the server closes the connection (after any lines already sent).
    pub(crate) fn expect_closed(&mut self) {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            match self.read_some(deadline) {
                Got::Closed => return,
                Got::Bytes => {}
                Got::TimedOut => panic!(
                    "{}: connection not closed within {TIMEOUT:?}; history {:#?}, then {:?}",
                    self.name,
                    self.history,
                    String::from_utf8_lossy(&self.buf)
                ),
            }
        }
    }

    /// Asks `/who` and waits for the answer: the server still serves this client.
    pub(crate) fn still_served(&mut self) {
        self.send("/who");
        self.wait_for("the /who answer", |l| l.starts_with("* online"));
    }

    /// Half-closes the sending side, as `client` does when stdin ends.
    pub(crate) fn finish_sending(&self) {
        self.stream
            .shutdown(Shutdown::Write)
            .expect("half-close the socket");
    }

    /// Waits until the server has read every byte this client sent (Linux:
    /// see [`queues`]). A test that writes a line in pieces calls this after
    /// each piece, so the server's next read cannot hold the next piece too:
    /// the split really happens, instead of being likely.
    pub(crate) fn until_server_has_read_all(&self) {
        queues::until_server_has_read_all(&self.stream);
    }

    /// Closes the connection with a reset rather than a FIN: waits until bytes
    /// from the server sit unread in this socket's kernel buffer, then closes
    /// it, and a socket closed with unread data is reset by the kernel.
    pub(crate) fn reset(self) {
        let unread = close_with_reset(self.stream);
        assert!(!unread.is_empty());
    }
}

/// Closes `stream` with a reset (see [`Client::reset`]), and returns the
/// start of what was left unread. Panics if no byte arrives within [`TIMEOUT`].
pub(crate) fn close_with_reset(stream: TcpStream) -> String {
    stream
        .set_read_timeout(Some(TIMEOUT))
        .expect("set a read timeout");
    let mut start = [0u8; 64];
    // `peek` waits for data without taking it out of the kernel's buffer.
    match stream.peek(&mut start) {
        Ok(n) if n > 0 => {
            drop(stream);
            String::from_utf8_lossy(&start[..n]).into_owned()
        }
        other => panic!("nothing unread to make the close a reset: {other:?}"),
    }
}

/// True for the errors a socket timeout produces (which one depends on the OS).
pub(crate) fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

/// A raw connection with a 4 KiB receive buffer (asked before connecting,
/// which std cannot do), that has read its welcome line: a client whose
/// buffers fill at once when it stops reading. Returns it with its name
/// (its address). Reads time out after [`TIMEOUT`].
pub(crate) fn small_buffer_client(addr: SocketAddr) -> (TcpStream, String) {
    use socket2::{Domain, Protocol, Socket, Type};
    let socket = Socket::new(Domain::IPV4, Type::STREAM, Some(Protocol::TCP)).expect("socket");
    socket.set_recv_buffer_size(4096).expect("SO_RCVBUF");
    socket.connect(&addr.into()).expect("connect");
    let stream: TcpStream = socket.into();
    stream.set_read_timeout(Some(TIMEOUT)).expect("timeout");
    let mut welcome = Vec::new();
    let mut byte = [0u8; 1];
    while !welcome.ends_with(b"\n") {
        let n = (&stream).read(&mut byte).expect("the welcome line");
        assert_eq!(n, 1, "closed before the welcome: {welcome:?}");
        welcome.push(byte[0]);
    }
    let name = stream.local_addr().expect("local addr").to_string();
    (stream, name)
}
