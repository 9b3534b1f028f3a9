//! What the kernel still holds for one loopback connection, read from
//! `/proc/net/tcp`: lets a test wait until the server has really read what a
//! client sent, which no reply can show while a line is still unfinished.

use std::net::TcpStream;
#[cfg(target_os = "linux")]
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
#[cfg(target_os = "linux")]
use std::time::Duration;

#[cfg(target_os = "linux")]
use super::wait::{wait_until, TIMEOUT};

/// Waits until the server has read every byte sent on `stream` so far.
///
/// Two steps, each a fresh look at the kernel's table: first the client's
/// send queue is empty (the server's kernel acknowledged every byte, so they
/// all sit in the server socket's receive queue or were read), then the
/// server socket's receive queue is empty (the server read them all). Done
/// the other way round, an empty receive queue could mean "not arrived yet".
#[cfg(target_os = "linux")]
pub(crate) fn until_server_has_read_all(stream: &TcpStream) {
    let client = stream.local_addr().expect("the client's address");
    let server = stream.peer_addr().expect("the server's address");
    until_empty("the server's kernel to acknowledge every byte", || {
        queue(client, server).map(|q| q.send)
    });
    until_empty("the server to read every byte", || {
        queue(server, client).map(|q| q.receive)
    });
}

/// Elsewhere there is no such table to read: say so, rather than pretend.
#[cfg(not(target_os = "linux"))]
pub(crate) fn until_server_has_read_all(_stream: &TcpStream) {
    eprintln!("cannot see the server's receive queue on this OS: pieces may be read together");
}

/// Polls `queued` until it is `Some(0)`; panics after [`TIMEOUT`] with the
/// bytes still queued. The pace is short: a queue drains in microseconds.
#[cfg(target_os = "linux")]
fn until_empty(what: &str, queued: impl Fn() -> Option<u64>) {
    wait_until(what, TIMEOUT, Duration::from_millis(1), || match queued() {
        Some(0) => Ok(()),
        bytes => Err(format!("bytes still queued: {bytes:?}")),
    });
}

#[cfg(target_os = "linux")]
/// Bytes queued on one socket, as `/proc/net/tcp` shows them.
#[derive(Debug)]
pub(crate) struct Queues {
    /// Sent and not yet acknowledged by the peer.
    pub(crate) send: u64,
    /// Received and not yet read by the socket's owner.
    pub(crate) receive: u64,
}

#[cfg(target_os = "linux")]
/// The queues of the socket whose own address is `local` and whose peer is
/// `remote`, if the table has it.
pub(crate) fn queue(local: SocketAddr, remote: SocketAddr) -> Option<Queues> {
    let table = match local {
        SocketAddr::V4(_) => "/proc/net/tcp",
        SocketAddr::V6(_) => "/proc/net/tcp6",
    };
    let text = std::fs::read_to_string(table).expect("read the kernel's TCP table");
    // Each row: `sl local_address rem_address st tx_queue:rx_queue ...`.
    text.lines().skip(1).find_map(|row| {
        let fields: Vec<&str> = row.split_whitespace().collect();
        if fields.len() < 5 || parse_addr(fields[1])? != local || parse_addr(fields[2])? != remote {
            return None;
        }
        let (send, receive) = fields[4].split_once(':')?;
        Some(Queues {
            send: u64::from_str_radix(send, 16).ok()?,
            receive: u64::from_str_radix(receive, 16).ok()?,
        })
    })
}

#[cfg(target_os = "linux")]
/// Parses `0100007F:1F90`: the address as the kernel keeps it in memory,
/// printed as 32-bit words in the machine's byte order, then the port.
fn parse_addr(text: &str) -> Option<SocketAddr> {
    let (addr, port) = text.split_once(':')?;
    let port = u16::from_str_radix(port, 16).ok()?;
    let mut bytes = Vec::with_capacity(16);
    for word in addr.as_bytes().chunks(8) {
        let word = u32::from_str_radix(std::str::from_utf8(word).ok()?, 16).ok()?;
        bytes.extend_from_slice(&word.to_ne_bytes());
    }
    let ip = match bytes.len() {
        4 => IpAddr::V4(Ipv4Addr::from(<[u8; 4]>::try_from(bytes).ok()?)),
        16 => IpAddr::V6(Ipv6Addr::from(<[u8; 16]>::try_from(bytes).ok()?)),
        _ => return None,
    };
    Some(SocketAddr::new(ip, port))
}
