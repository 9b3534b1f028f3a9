//! Connecting from another loopback address, for `crowd`: on Linux all of
//! 127.0.0.0/8 is this machine, so a socket bound to 127.0.0.2 before it
//! connects reaches the server as a second address, no network needed.
//!
//! std has no way to bind a socket before connecting it (`TcpStream::connect`
//! does both, and always picks the source address itself), so on Linux this
//! file asks the C library directly: four calls, declared by hand, because the
//! example uses no crates. Elsewhere [`connect_from`] says it cannot.

use std::io;
use std::net::{Ipv4Addr, SocketAddrV4, TcpStream};

/// Connects to `to` from the address `from` (port chosen by the system), with
/// the tool's usual timeouts. The connection attempt itself gives up after
/// about two seconds.
///
/// # Errors
/// The socket calls failed, or (outside Linux on x86-64 or AArch64) the
/// platform is not supported.
pub(crate) fn connect_from(from: Ipv4Addr, to: SocketAddrV4) -> io::Result<TcpStream> {
    let stream = imp::connect_from(from, to)?;
    crate::peer::prepare(&stream)?;
    Ok(stream)
}

/// The constants below are the values on Linux for x86-64 and AArch64; other
/// Linux architectures number some of them differently, so they are left out
/// rather than guessed.
#[cfg(all(
    target_os = "linux",
    any(target_arch = "x86_64", target_arch = "aarch64")
))]
mod imp {
    use std::io;
    use std::net::{Ipv4Addr, SocketAddrV4, TcpStream};
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
    use std::os::raw::{c_int, c_long, c_void};

    const AF_INET: c_int = 2;
    const SOCK_STREAM: c_int = 1;
    const SOCK_CLOEXEC: c_int = 0o2_000_000;
    const SOL_SOCKET: c_int = 1;
    const SO_SNDTIMEO: c_int = 21;
    /// What `connect` fails with when the send timeout cut it short.
    const EINPROGRESS: i32 = 115;
    /// How long `connect` may block (Linux applies the send timeout to it).
    const CONNECT_SECS: c_long = 2;

    /// `struct sockaddr_in`: family in the machine's byte order, port and
    /// address in network byte order, then padding.
    #[repr(C)]
    #[derive(Debug)]
    struct SockaddrIn {
        sin_family: u16,
        sin_port: u16,
        sin_addr: u32,
        sin_zero: [u8; 8],
    }

    /// `struct timeval`.
    #[repr(C)]
    #[derive(Debug)]
    struct Timeval {
        tv_sec: c_long,
        tv_usec: c_long,
    }

    extern "C" {
        fn socket(domain: c_int, kind: c_int, protocol: c_int) -> c_int;
        fn setsockopt(
            fd: c_int,
            level: c_int,
            name: c_int,
            value: *const c_void,
            len: u32,
        ) -> c_int;
        fn bind(fd: c_int, addr: *const SockaddrIn, len: u32) -> c_int;
        fn connect(fd: c_int, addr: *const SockaddrIn, len: u32) -> c_int;
    }

    fn sockaddr(addr: SocketAddrV4) -> SockaddrIn {
        SockaddrIn {
            sin_family: AF_INET as u16,
            sin_port: addr.port().to_be(),
            sin_addr: u32::from(*addr.ip()).to_be(),
            sin_zero: [0; 8],
        }
    }

    /// Turns a C-style return value into an `io::Result`.
    fn check(result: c_int) -> io::Result<c_int> {
        if result < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(result)
        }
    }

    pub(super) fn connect_from(from: Ipv4Addr, to: SocketAddrV4) -> io::Result<TcpStream> {
        let len = std::mem::size_of::<SockaddrIn>() as u32;
        // SAFETY: `socket` takes plain integers and returns a new descriptor
        // (or -1, which `check` turns into an error).
        let raw = check(unsafe { socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0) })?;
        // SAFETY: `raw` is a descriptor we just opened and nobody else owns;
        // from here on `OwnedFd` closes it on every path.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        let timeout = Timeval {
            tv_sec: CONNECT_SECS,
            tv_usec: 0,
        };
        // SAFETY: the pointers refer to live values of the sizes passed, and
        // the calls only read them during the call.
        unsafe {
            check(setsockopt(
                fd.as_raw_fd(),
                SOL_SOCKET,
                SO_SNDTIMEO,
                (&timeout as *const Timeval).cast(),
                std::mem::size_of::<Timeval>() as u32,
            ))?;
            check(bind(
                fd.as_raw_fd(),
                &sockaddr(SocketAddrV4::new(from, 0)),
                len,
            ))?;
            check(connect(fd.as_raw_fd(), &sockaddr(to), len)).map_err(|e| {
                if e.raw_os_error() == Some(EINPROGRESS) {
                    io::Error::new(io::ErrorKind::TimedOut, "connect timed out")
                } else {
                    e
                }
            })?;
        }
        let stream = TcpStream::from(fd);
        // The connect timeout above is also a write timeout; the caller sets
        // the usual ones next.
        Ok(stream)
    }
}

#[cfg(not(all(
    target_os = "linux",
    any(target_arch = "x86_64", target_arch = "aarch64")
)))]
mod imp {
    use std::io;
    use std::net::{Ipv4Addr, SocketAddrV4, TcpStream};

    pub(super) fn connect_from(_from: Ipv4Addr, _to: SocketAddrV4) -> io::Result<TcpStream> {
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "binding before connecting needs Linux (x86-64 or AArch64) here",
        ))
    }
}
