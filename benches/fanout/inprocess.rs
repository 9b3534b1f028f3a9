//! Our server, started in this process on `127.0.0.1:0` for one run and stopped
//! after it. Every in-process scenario (the fan-out runs and the stalled-client
//! runs of scenario E) starts it here, so they all measure the same settings.

use std::io;
use std::net::SocketAddr;
use std::thread::{self, JoinHandle};

use chatroom::{Server, ServerConfig, ShutdownHandle};

use crate::procfs;

/// The settings of every in-process run: the defaults, with the limits lifted
/// that would otherwise be measured instead of the fan-out: the 20 lines/s per
/// client rate limit (senders here send thousands per second) and the
/// 1024-client cap. The generator's clients never name themselves, so the
/// join grace would only delay every `joined` notice: it is off, as in the
/// Node baseline. The write timeout stays at its default (1000 ms).
pub(crate) fn config() -> ServerConfig {
    ServerConfig {
        port: 0,
        quiet: true,
        rate_limit: 0,
        max_clients: 20_000,
        join_grace: std::time::Duration::ZERO,
        ..ServerConfig::default()
    }
}

/// Our server, running in this process for one run.
#[derive(Debug)]
pub(crate) struct InProcess {
    handle: ShutdownHandle,
    thread: JoinHandle<io::Result<()>>,
}

impl InProcess {
    /// Binds `config` and runs the server on a thread named like the accept
    /// loop (see [`procfs::ACCEPT_THREAD`]), so its CPU time counts as the server's.
    ///
    /// # Errors
    /// The server could not bind, or its thread could not be started.
    pub(crate) fn start(config: ServerConfig) -> Result<(InProcess, SocketAddr), String> {
        let server = Server::bind(config).map_err(|e| e.to_string())?;
        let addr = server.local_addr();
        let handle = server.shutdown_handle();
        let thread = thread::Builder::new()
            .name(procfs::ACCEPT_THREAD.into())
            .spawn(move || server.run())
            .map_err(|e| format!("cannot start the server thread: {e}"))?;
        Ok((InProcess { handle, thread }, addr))
    }

    /// Asks the server to stop, without waiting (it then closes every
    /// connection itself, which the fan-out generator waits for).
    pub(crate) fn begin_stop(&self) {
        self.handle.shutdown();
    }

    /// Asks the server to stop and waits until it has; an error it stopped
    /// with is printed, since the run's figures are already taken.
    pub(crate) fn stop(self) {
        self.handle.shutdown();
        if let Ok(Err(e)) = self.thread.join() {
            eprintln!("fanout: the server stopped with an error: {e}");
        }
    }
}
