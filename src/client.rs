//! The client: one thread copies input lines to the socket, the calling thread
//! prints what arrives, cleaned of control characters, as it arrives.

use std::fmt;
use std::io::{self, BufRead, Read, Write};
use std::net::{Shutdown, TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use crate::config::ClientConfig;
use crate::protocol::strip_for_terminal;

/// Why the client stopped with an error.
#[derive(Debug)]
pub enum ClientError {
    /// The server could not be reached.
    Connect {
        /// `HOST:PORT` as given.
        addr: String,
        /// What the OS said.
        source: io::Error,
    },
    /// Printing to the output failed.
    Output(io::Error),
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientError::Connect { addr, source } => {
                write!(f, "cannot connect to {addr}: {source}")
            }
            ClientError::Output(source) => write!(f, "cannot write output: {source}"),
        }
    }
}

impl std::error::Error for ClientError {}

/// Connects to `HOST:PORT`, trying every address the name resolves to.
///
/// # Errors
/// The name does not resolve, or no address accepts the connection.
pub fn connect(host: &str, port: u16) -> Result<TcpStream, ClientError> {
    let addr = match host.parse::<std::net::Ipv6Addr>() {
        Ok(_) => format!("[{host}]:{port}"),
        Err(_) => format!("{host}:{port}"),
    };
    let fail = |source| ClientError::Connect {
        addr: addr.clone(),
        source,
    };
    let mut last = io::Error::new(io::ErrorKind::NotFound, "no address found");
    for candidate in addr.to_socket_addrs().map_err(fail)? {
        match TcpStream::connect_timeout(&candidate, Duration::from_secs(10)) {
            Ok(stream) => return Ok(stream),
            Err(e) => last = e,
        }
    }
    Err(fail(last))
}

/// Runs a chat session: connects, sends every line of `input`, prints what
/// arrives to `output` and status lines to `status`. Returns when the server
/// closes the connection, even if the input thread is still waiting for a line
/// (the caller then exits, which ends that thread).
///
/// When `input` runs dry (Ctrl-D, or the end of a pipe), the client half-closes
/// its side and keeps printing until the server closes.
///
/// # Errors
/// The connection cannot be made, or `output` fails.
pub fn run<R>(
    config: &ClientConfig,
    input: R,
    output: &mut dyn Write,
    status: &mut dyn Write,
) -> Result<(), ClientError>
where
    R: BufRead + Send + 'static,
{
    let stream = Arc::new(connect(&config.host, config.port)?);
    let _ = stream.set_nodelay(true);
    let peer = stream
        .peer_addr()
        .map(|a| a.to_string())
        .unwrap_or_else(|_| config.host.clone());
    let _ = writeln!(status, "Connected to {peer}.");
    let mut watch = NameWatch::default();
    if let Some(name) = &config.name {
        if (&*stream)
            .write_all(format!("/nick {name}\n").as_bytes())
            .is_ok()
        {
            watch.pending = Some(name.clone());
        }
    }
    let writer = stream.clone();
    // Nobody joins this thread: it may sit in a blocking read of stdin forever,
    // and the process ends without it once the server has gone.
    thread::Builder::new()
        .name("stdin".to_string())
        .spawn(move || copy_input(input, &writer))
        .map_err(ClientError::Output)?;
    print_incoming(&stream, output, status, &mut watch)?;
    let _ = writeln!(status, "Disconnected from the server.");
    Ok(())
}

/// Sends every input line, then half-closes so the server sees the end.
fn copy_input<R: BufRead>(mut input: R, stream: &TcpStream) {
    let mut line = Vec::new();
    loop {
        line.clear();
        match input.read_until(b'\n', &mut line) {
            Ok(0) | Err(_) => break,
            Ok(_) => {
                if !line.ends_with(b"\n") {
                    line.push(b'\n');
                }
                if (&*stream).write_all(&line).is_err() {
                    return;
                }
            }
        }
    }
    let _ = stream.shutdown(Shutdown::Write);
}

/// Prints everything the server sends until it closes. Bytes are printed as
/// soon as they arrive, even without a newline (the Node tutorial's server
/// sends none), except for an unfinished UTF-8 character, kept for the next read.
fn print_incoming(
    stream: &TcpStream,
    output: &mut dyn Write,
    status: &mut dyn Write,
    watch: &mut NameWatch,
) -> Result<(), ClientError> {
    let mut buf = [0u8; 8192];
    let mut carry: Vec<u8> = Vec::new();
    loop {
        let n = match (&*stream).read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                let _ = writeln!(status, "Connection error: {e}");
                break;
            }
        };
        carry.extend_from_slice(&buf[..n]);
        let complete = complete_utf8_len(&carry);
        let text = String::from_utf8_lossy(&carry[..complete]);
        let clean = strip_for_terminal(&text);
        output
            .write_all(clean.as_bytes())
            .and_then(|()| output.flush())
            .map_err(ClientError::Output)?;
        watch.feed(&clean, status);
        carry.drain(..complete);
    }
    if !carry.is_empty() {
        let text = String::from_utf8_lossy(&carry);
        let _ = output.write_all(strip_for_terminal(&text).as_bytes());
    }
    let _ = output.flush();
    Ok(())
}

/// How much of `bytes` can be decoded now: all of it, except an unfinished
/// UTF-8 sequence at the very end that the next read may complete.
fn complete_utf8_len(bytes: &[u8]) -> usize {
    // Look back at most three bytes for the lead byte of the last sequence.
    for back in 1..=bytes.len().min(3) {
        let lead = bytes[bytes.len() - back];
        if lead & 0b1100_0000 == 0b1000_0000 {
            continue; // a continuation byte: keep looking for the lead
        }
        let needed = match lead {
            0xc2..=0xdf => 2,
            0xe0..=0xef => 3,
            0xf0..=0xf4 => 4,
            _ => 1,
        };
        return if needed > back {
            bytes.len() - back
        } else {
            bytes.len()
        };
    }
    bytes.len()
}

/// Watches the server's lines for its answer to `--name`, to explain a refusal
/// on stderr. Keeps at most one short line.
#[derive(Debug, Default)]
struct NameWatch {
    pending: Option<String>,
    line: String,
}

impl NameWatch {
    fn feed(&mut self, text: &str, status: &mut dyn Write) {
        let Some(name) = self.pending.clone() else {
            return;
        };
        for c in text.chars() {
            if c != '\n' {
                if self.line.len() < 512 {
                    self.line.push(c);
                }
                continue;
            }
            let line = std::mem::take(&mut self.line);
            if line.starts_with("* you are now") || line.starts_with("* you are already") {
                self.pending = None;
            } else if line.starts_with("! name ") || line.starts_with("! invalid name") {
                let reason = line.trim_start_matches("! ");
                let _ = writeln!(
                    status,
                    "The server refused the name {name} ({reason}); carrying on under your address."
                );
                self.pending = None;
            }
            if self.pending.is_none() {
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unfinished_utf8_is_held_back() {
        let check = "✓".as_bytes();
        assert_eq!(complete_utf8_len(b"abc"), 3);
        assert_eq!(complete_utf8_len(&[b'a', check[0], check[1]]), 1);
        assert_eq!(complete_utf8_len(&[0xff, b'a', check[0]]), 2);
    }

    #[test]
    fn name_refusal_is_explained() {
        let mut watch = NameWatch {
            pending: Some("ann".into()),
            ..NameWatch::default()
        };
        let mut status = Vec::new();
        watch.feed("* welcome x\n! name ann ", &mut status);
        watch.feed("is taken\n", &mut status);
        let said = String::from_utf8(status).unwrap();
        assert!(
            said.contains("refused the name ann (name ann is taken)"),
            "{said}"
        );
        assert!(watch.pending.is_none());
    }
}
