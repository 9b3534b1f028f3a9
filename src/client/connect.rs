//! Connecting to `HOST:PORT`, trying every address the name resolves to,
//! within a time limit: for the first connection and for every attempt to
//! reconnect.

use std::io;
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

use super::error::ClientError;

/// How long the first connection may take. Reconnection attempts have their
/// own limit, which the session sets (`session::CONNECT_TIMEOUT`).
pub(crate) const FIRST_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Connects to `HOST:PORT`, trying every address the name resolves to.
///
/// # Errors
/// The name does not resolve, or no address accepts the connection.
pub fn connect(host: &str, port: u16) -> Result<TcpStream, ClientError> {
    connect_within(host, port, FIRST_CONNECT_TIMEOUT)
}

/// [`connect`], giving each address at most `timeout`.
///
/// # Errors
/// The name does not resolve, or no address accepts the connection.
pub(crate) fn connect_within(
    host: &str,
    port: u16,
    timeout: Duration,
) -> Result<TcpStream, ClientError> {
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
        match TcpStream::connect_timeout(&candidate, timeout) {
            Ok(stream) => {
                // Lines are small and typed by people: send each at once.
                let _ = stream.set_nodelay(true);
                return Ok(stream);
            }
            Err(e) => last = e,
        }
    }
    Err(fail(last))
}
