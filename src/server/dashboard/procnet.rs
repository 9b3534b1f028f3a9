//! Each client's kernel queues on Linux, from `/proc/net/tcp` and
//! `/proc/net/tcp6`: the bytes its socket has sent but not had acknowledged
//! (send queue) and received but its reader has not read (receive queue).
//! Parsing is pure; only [`KernelTable::read`] touches the files.
// Elsewhere nothing reads the tables, and the parser goes unused.
#![cfg_attr(not(target_os = "linux"), allow(dead_code))]

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// One socket's two kernel queues, in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct KernelQueues {
    /// Written by the server, not yet acknowledged by the client: on a
    /// stalled client, what its receive window has no room for.
    pub(crate) send: u64,
    /// Arrived from the client, not yet read by its reader thread: on a
    /// rate-limited client, what waits while its reader sleeps.
    pub(crate) recv: u64,
}

/// One line of `/proc/net/tcp{,6}`: the connection and its queues.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SocketLine {
    /// This end (the server's, for a client's socket).
    pub(crate) local: SocketAddr,
    /// The other end (the client).
    pub(crate) remote: SocketAddr,
    /// The TCP state, as the kernel numbers it (1 is ESTABLISHED).
    pub(crate) state: u8,
    /// Its queues.
    pub(crate) queues: KernelQueues,
}

/// TCP states whose queues say nothing about a client: `TIME_WAIT` (a closed
/// connection's ghost, which can share a live one's addresses) and `LISTEN`.
const TIME_WAIT: u8 = 0x06;
const LISTEN: u8 = 0x0A;

/// Parses one line of the table, such as
/// `0: 0100007F:2328 0100007F:D2B4 01 00001000:00000200 00:00000000 ...`:
/// addresses as hex in the kernel's own byte order, the port in plain hex,
/// then the state and `tx_queue:rx_queue`. `None` for the heading or a line
/// that does not fit.
pub(crate) fn parse_line(line: &str) -> Option<SocketLine> {
    let mut fields = line.split_whitespace();
    let slot = fields.next()?;
    if !slot.ends_with(':') {
        return None;
    }
    let local = parse_addr(fields.next()?)?;
    let remote = parse_addr(fields.next()?)?;
    let state = u8::from_str_radix(fields.next()?, 16).ok()?;
    let (tx, rx) = fields.next()?.split_once(':')?;
    Some(SocketLine {
        local,
        remote,
        state,
        queues: KernelQueues {
            send: u64::from_str_radix(tx, 16).ok()?,
            recv: u64::from_str_radix(rx, 16).ok()?,
        },
    })
}

/// `HEX_ADDRESS:HEX_PORT`. The address is the kernel's in-memory bytes (in
/// network order) printed as 32-bit words in this machine's order, so each
/// word is turned back into its bytes with `to_ne_bytes`.
fn parse_addr(text: &str) -> Option<SocketAddr> {
    let (addr, port) = text.split_once(':')?;
    let port = u16::from_str_radix(port, 16).ok()?;
    let word = |i: usize| -> Option<[u8; 4]> {
        let hex = addr.get(i * 8..i * 8 + 8)?;
        Some(u32::from_str_radix(hex, 16).ok()?.to_ne_bytes())
    };
    let ip = match addr.len() {
        8 => IpAddr::V4(Ipv4Addr::from(word(0)?)),
        32 => {
            let mut bytes = [0u8; 16];
            for i in 0..4 {
                bytes[i * 4..i * 4 + 4].copy_from_slice(&word(i)?);
            }
            IpAddr::V6(Ipv6Addr::from(bytes))
        }
        _ => return None,
    };
    Some(SocketAddr::new(ip, port))
}

/// An IPv4 client of a dual-stack listener shows as `::ffff:a.b.c.d` on one
/// side and may show as `a.b.c.d` on the other: compare them as IPv4.
fn canonical(addr: SocketAddr) -> SocketAddr {
    SocketAddr::new(addr.ip().to_canonical(), addr.port())
}

/// The kernel's queues of every TCP connection, found by their addresses.
#[derive(Debug, Default)]
pub(crate) struct KernelTable {
    /// By the remote address: the (local address, queues) of each connection to it.
    by_remote: HashMap<SocketAddr, Vec<(SocketAddr, KernelQueues)>>,
}

impl KernelTable {
    /// The table from the text of `/proc/net/tcp` and `/proc/net/tcp6`.
    pub(crate) fn parse(tables: &[&str]) -> KernelTable {
        let mut table = KernelTable::default();
        let lines = tables.iter().flat_map(|text| text.lines());
        for line in lines.filter_map(parse_line) {
            if line.state == TIME_WAIT || line.state == LISTEN {
                continue;
            }
            table
                .by_remote
                .entry(canonical(line.remote))
                .or_default()
                .push((canonical(line.local), line.queues));
        }
        table
    }

    /// The queues of the connection between `local` and `remote`. A local
    /// address whose IP is unspecified (a listener on `0.0.0.0` or `::`)
    /// matches on its port alone: the client may have reached any address
    /// of this machine.
    pub(crate) fn lookup(&self, local: SocketAddr, remote: SocketAddr) -> Option<KernelQueues> {
        let local = canonical(local);
        self.by_remote
            .get(&canonical(remote))?
            .iter()
            .find(|(mine, _)| {
                mine.port() == local.port()
                    && (local.ip().is_unspecified() || mine.ip() == local.ip())
            })
            .map(|&(_, queues)| queues)
    }

    /// Reads both tables; `None` if neither can be read (no `/proc`).
    #[cfg(target_os = "linux")]
    pub(crate) fn read() -> Option<KernelTable> {
        let v4 = std::fs::read_to_string("/proc/net/tcp");
        let v6 = std::fs::read_to_string("/proc/net/tcp6");
        if v4.is_err() && v6.is_err() {
            return None;
        }
        Some(KernelTable::parse(&[
            v4.as_deref().unwrap_or(""),
            v6.as_deref().unwrap_or(""),
        ]))
    }

    /// Other systems have no `/proc/net/tcp`: no kernel queues to show.
    #[cfg(not(target_os = "linux"))]
    pub(crate) fn read() -> Option<KernelTable> {
        None
    }
}

// The sample lines are what a little-endian machine (x86, most ARM) prints.
#[cfg(all(test, target_endian = "little"))]
mod tests {
    use super::*;

    const TCP: &str = "\
  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:2328 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 41357 1 0000000000000000 100 0 0 10 0
   1: 0100007F:2328 0100007F:D2B4 01 0003B000:00000200 01:00000014 00000000  1000        0 41360 1 0000000000000000 20 4 30 10 -1
   2: 0100007F:D2B4 0100007F:2328 01 00000000:0005F4A1 00:00000000 00000000  1000        0 41359 1 0000000000000000 20 4 30 10 -1
   3: 0100007F:2328 0100007F:D2C0 06 00000000:00000000 03:00000F6A 00000000     0        0 0 3 0000000000000000
";

    const TCP6: &str = "\
  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000001000000:1F90 00000000000000000000000001000000:A1B2 01 00000010:00000000 00:00000000 00000000  1000        0 51000 1 0000000000000000 20 4 30 10 -1
   1: 0000000000000000FFFF00000100007F:2328 0000000000000000FFFF00000200007F:C350 01 00000000:00000007 00:00000000 00000000  1000        0 51001 1 0000000000000000 20 4 30 10 -1
";

    fn addr(text: &str) -> SocketAddr {
        text.parse().expect("a socket address")
    }

    #[test]
    fn parses_ipv4_lines() {
        let line = TCP.lines().nth(2).and_then(parse_line).expect("a line");
        assert_eq!(
            line,
            SocketLine {
                local: addr("127.0.0.1:9000"),
                remote: addr("127.0.0.1:53940"),
                state: 1,
                queues: KernelQueues {
                    send: 0x3B000,
                    recv: 0x200
                },
            }
        );
        assert_eq!(TCP.lines().next().and_then(parse_line), None, "the heading");
        assert_eq!(parse_line(""), None);
        assert_eq!(parse_line("   1: 0100007F:2328 junk 01 0:0"), None);
    }

    #[test]
    fn parses_ipv6_lines() {
        let line = TCP6.lines().nth(1).and_then(parse_line).expect("a line");
        assert_eq!(line.local, addr("[::1]:8080"));
        assert_eq!(line.remote, addr("[::1]:41394"));
        assert_eq!(line.queues, KernelQueues { send: 16, recv: 0 });
        let mapped = TCP6.lines().nth(2).and_then(parse_line).expect("a line");
        assert_eq!(mapped.remote, addr("[::ffff:127.0.0.2]:50000"));
    }

    #[test]
    fn finds_the_server_side_of_each_connection() {
        let table = KernelTable::parse(&[TCP, TCP6]);
        let server = addr("127.0.0.1:9000");
        // The server's socket to the client, not the client's own socket to
        // the server (both are on this machine, with the ports swapped).
        assert_eq!(
            table.lookup(server, addr("127.0.0.1:53940")),
            Some(KernelQueues {
                send: 0x3B000,
                recv: 0x200
            })
        );
        // A listener on every address matches on the port.
        assert_eq!(
            table
                .lookup(addr("0.0.0.0:9000"), addr("127.0.0.1:53940"))
                .map(|q| q.send),
            Some(0x3B000)
        );
        assert_eq!(
            table.lookup(addr("127.0.0.2:9000"), addr("127.0.0.1:53940")),
            None
        );
        // A connection in TIME_WAIT is not a client's.
        assert_eq!(table.lookup(server, addr("127.0.0.1:53952")), None);
        // A dual-stack listener sees an IPv4 client as ::ffff:a.b.c.d.
        assert_eq!(
            table.lookup(addr("[::]:9000"), addr("[::ffff:127.0.0.2]:50000")),
            Some(KernelQueues { send: 0, recv: 7 })
        );
        assert_eq!(
            table.lookup(addr("[::]:9000"), addr("127.0.0.2:50000")),
            Some(KernelQueues { send: 0, recv: 7 })
        );
        assert_eq!(
            table.lookup(addr("[::1]:8080"), addr("[::1]:41394")),
            Some(KernelQueues { send: 16, recv: 0 })
        );
    }
}
