//! Which `Host` a request may name: `localhost`, or this machine by an IP
//! address. The defence against DNS rebinding, pure; `http.rs` asks it.
//!
//! The attack: a page on `evil.example` has its name re-pointed at
//! 127.0.0.1, and the browser, thinking it still talks to `evil.example`,
//! lets that page read `/state.json` (every student's name and address).
//! The browser still says `Host: evil.example`, so refusing a request whose
//! `Host` names anything but this machine (`421 Misdirected Request`)
//! stops it. An IP address is always safe to accept: no name was looked
//! up, so nothing could have been re-pointed.

use std::net::{IpAddr, Ipv6Addr};

/// What a `Host` header value says about where the request was meant to go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Named {
    /// This server: `localhost`, a loopback address, or the address the
    /// connection arrived at; with any port or none.
    ThisServer,
    /// Some other name or address: answered `421`.
    Elsewhere,
    /// Not a host at all (an empty value, an unclosed `[`, a port that is
    /// not a number): answered `400`.
    Malformed,
}

/// Judges a `Host` header `value` on a connection that arrived at
/// `arrived_at` (the listening address, or with a listener on `0.0.0.0` the
/// address of this machine that the browser reached).
///
/// Accepted: `localhost`, any loopback address (`127.0.0.1`, `[::1]`), and
/// `arrived_at` itself, each with or without a port. The port is not
/// compared: it plays no part in rebinding, and a tunnel (`ssh -L
/// 8000:localhost:8080`) changes it. A machine's own name (`teacher-pc`)
/// is refused along with every other name, since a rebound name looks just
/// the same; open the page by its address instead.
pub(crate) fn judge(value: &str, arrived_at: IpAddr) -> Named {
    let value = value.trim_matches([' ', '\t']);
    let Some((host, port)) = split_port(value) else {
        return Named::Malformed;
    };
    let port_ok = port.bytes().all(|b| b.is_ascii_digit())
        && (port.is_empty() || port.parse::<u16>().is_ok());
    if host.is_empty() || !port_ok {
        return Named::Malformed;
    }
    if host.eq_ignore_ascii_case("localhost") {
        return Named::ThisServer;
    }
    let ip = match host.strip_prefix('[') {
        Some(bracketed) => match bracketed
            .strip_suffix(']')
            .and_then(|inner| inner.parse::<Ipv6Addr>().ok())
        {
            Some(v6) => IpAddr::V6(v6),
            None => return Named::Malformed,
        },
        None => match host.parse::<IpAddr>() {
            Ok(IpAddr::V4(v4)) => IpAddr::V4(v4),
            // A bare IPv6 address cannot carry a port, so is not a host.
            Ok(IpAddr::V6(_)) => return Named::Malformed,
            Err(_) if host.contains(':') => return Named::Malformed,
            Err(_) => return Named::Elsewhere,
        },
    };
    let ip = ip.to_canonical();
    if ip.is_loopback() || ip == arrived_at.to_canonical() {
        Named::ThisServer
    } else {
        Named::Elsewhere
    }
}

/// `host[:port]` into its host and its port (empty if none). `None` when a
/// `[...]` is followed by anything but a port.
fn split_port(value: &str) -> Option<(&str, &str)> {
    if value.starts_with('[') {
        let end = value.find(']')?;
        let rest = &value[end + 1..];
        return match rest.strip_prefix(':') {
            Some(port) => Some((&value[..=end], port)),
            None if rest.is_empty() => Some((value, "")),
            None => None,
        };
    }
    // A bare IPv6 address has several colons: leave it whole, to be refused.
    if value.bytes().filter(|&b| b == b':').count() > 1 {
        return Some((value, ""));
    }
    Some(value.split_once(':').unwrap_or((value, "")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("an IP address")
    }

    #[test]
    fn this_server_by_localhost_loopback_or_its_address() {
        let here = ip("127.0.0.1");
        for value in [
            "localhost",
            "localhost:8080",
            "LocalHost:8080",
            "127.0.0.1",
            "127.0.0.1:8080",
            "127.0.0.1:",
            "127.0.0.2:1",
            "[::1]",
            "[::1]:8080",
            "[::ffff:127.0.0.1]:8080",
            " localhost:8080\t",
        ] {
            assert_eq!(judge(value, here), Named::ThisServer, "{value:?}");
        }
        // Listening on every address, reached by the LAN one.
        let lan = ip("192.168.1.20");
        assert_eq!(judge("192.168.1.20:8080", lan), Named::ThisServer);
        assert_eq!(judge("192.168.1.21:8080", lan), Named::Elsewhere);
        let v6 = ip("2001:db8::20");
        assert_eq!(judge("[2001:db8::20]:8080", v6), Named::ThisServer);
        // A dual-stack listener sees an IPv4 visitor's arrival as mapped.
        assert_eq!(
            judge("192.168.1.20", ip("::ffff:192.168.1.20")),
            Named::ThisServer
        );
    }

    #[test]
    fn every_name_and_other_address_is_elsewhere() {
        let here = ip("127.0.0.1");
        for value in [
            "evil.example",
            "evil.example:8080",
            "localhost.evil.example",
            "localhost.",
            "sub.localhost",
            "127.0.0.1.nip.io:8080",
            "teacher-pc:8080",
            "10.0.0.5:8080",
            "[2001:db8::1]:8080",
            "127.1",
        ] {
            assert_eq!(judge(value, here), Named::Elsewhere, "{value:?}");
        }
    }

    #[test]
    fn malformed_hosts() {
        let here = ip("127.0.0.1");
        for value in [
            "",
            ":8080",
            "localhost:80a",
            "localhost:123456",
            "localhost:65536",
            "localhost:-1",
            "localhost:+80",
            "[::1",
            "[::1]x",
            "[::1]8080",
            "[not-v6]:8080",
            "::1",
            "localhost:8080:1",
        ] {
            assert_eq!(judge(value, here), Named::Malformed, "{value:?}");
        }
    }
}
