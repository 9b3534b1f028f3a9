//! Connecting from another loopback address, for `crowd`: on Linux all of
//! 127.0.0.0/8 is this machine, so a socket bound to 127.0.0.2 before it
//! connects reaches the server as a second address, no network needed.
//!
//! std has no way to bind a socket before connecting it (`TcpStream::connect`
//! always picks the source address itself), so this uses `socket2`, a
//! dev-dependency (the server itself needs nothing of the kind). Elsewhere
//! than Linux, 127.0.0.2 is usually not configured, and [`connect_from`] says so.

use std::io;
use std::net::{Ipv4Addr, SocketAddrV4, TcpStream};

/// Connects to `to` from the address `from` (port chosen by the system), with
/// the tool's usual timeouts. The connection attempt itself gives up after
/// two seconds.
///
/// # Errors
/// The socket calls failed, or the platform is not Linux.
pub(crate) fn connect_from(from: Ipv4Addr, to: SocketAddrV4) -> io::Result<TcpStream> {
    let stream = imp::connect_from(from, to)?;
    crate::peer::prepare(&stream)?;
    Ok(stream)
}

#[cfg(target_os = "linux")]
mod imp {
    use std::io;
    use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, TcpStream};
    use std::time::Duration;

    use socket2::{Domain, Protocol, Socket, Type};

    pub(super) fn connect_from(from: Ipv4Addr, to: SocketAddrV4) -> io::Result<TcpStream> {
        let socket = Socket::new(Domain::IPV4, Type::STREAM, Some(Protocol::TCP))?;
        socket.bind(&SocketAddr::from(SocketAddrV4::new(from, 0)).into())?;
        socket.connect_timeout(&SocketAddr::from(to).into(), Duration::from_secs(2))?;
        Ok(socket.into())
    }
}

#[cfg(not(target_os = "linux"))]
mod imp {
    use std::io;
    use std::net::{Ipv4Addr, SocketAddrV4, TcpStream};

    pub(super) fn connect_from(_from: Ipv4Addr, _to: SocketAddrV4) -> io::Result<TcpStream> {
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "connecting from 127.0.0.2 is only tried on Linux",
        ))
    }
}
