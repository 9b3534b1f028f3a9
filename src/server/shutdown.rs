//! [`ShutdownHandle`]: how another thread (a Ctrl-C handler, a test) asks a
//! running server to stop.

use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::Duration;

use super::shared::Shared;

/// Stops a running server from another thread.
#[derive(Debug, Clone)]
pub struct ShutdownHandle {
    pub(super) shared: Arc<Shared>,
    /// The listening address, made connectable (an unspecified address becomes
    /// loopback).
    pub(super) wake_addr: SocketAddr,
}

impl ShutdownHandle {
    /// Asks the server to stop; [`Server::run`](super::Server::run) then
    /// returns once every client has been told and every thread has ended.
    /// Safe to call more than once.
    pub fn shutdown(&self) {
        if !self.shared.begin_shutdown() {
            return;
        }
        // `accept` cannot be interrupted portably, so connect to ourselves: the
        // accept loop wakes, sees the flag and stops. If the connection fails,
        // the loop still sees the flag the next time anything connects.
        let _ = TcpStream::connect_timeout(&self.wake_addr, Duration::from_secs(1));
    }
}
