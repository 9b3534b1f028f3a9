//! The test server: the library's `Server` run in this process on a free
//! port ([`TestServer`]), or the real `server` binary as a child process
//! ([`server_binary`]), reading its address from its `listening on` line.

use std::io;
use std::net::SocketAddr;
use std::process::Command;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use chatroom::{Server, ServerConfig, ShutdownHandle};

use super::child::ChildGuard;
use super::client::Client;
use super::wait::poll;

/// The settings tests start from: the server's defaults, except that a
/// newcomer is announced at once (no join grace), so tests that wait for
/// `* NAME joined` do not wait for the grace, and silent newcomers are
/// announced in the order they connected.
pub(crate) fn test_config() -> ServerConfig {
    ServerConfig {
        join_grace: Duration::ZERO,
        ..ServerConfig::default()
    }
}

/// Makes a room's log big enough (64 MiB) to hold a whole test flood. A test
/// whose observer must get every line of an unlimited flood needs it: the
/// server never waits for a reader, so a test thread that reads slower than
/// the flood on a busy machine would (rightly) skip ahead with the default
/// log, and the test would measure the machine, not the server.
pub(crate) fn keep_every_line(config: &mut ServerConfig) {
    config.room_log_bytes = 64 * 1024 * 1024;
    config.logs_bytes = 64 * 1024 * 1024;
}

/// A server running in this process; stopped and joined on drop.
#[derive(Debug)]
pub(crate) struct TestServer {
    pub(crate) addr: SocketAddr,
    handle: ShutdownHandle,
    thread: Option<JoinHandle<io::Result<()>>>,
    /// The dashboard's address, when the config asked for one.
    pub(crate) dashboard: Option<SocketAddr>,
}

impl TestServer {
    /// A default server (quiet, port 0).
    pub(crate) fn start() -> TestServer {
        TestServer::with(|_| {})
    }

    /// A server with `adjust` applied to [`test_config`].
    pub(crate) fn with(adjust: impl FnOnce(&mut ServerConfig)) -> TestServer {
        let mut config = test_config();
        adjust(&mut config);
        TestServer::from_config(config)
    }

    /// A server with `config`, except that it always listens quietly on a
    /// free port (of `config.host`, which defaults to 127.0.0.1).
    pub(crate) fn from_config(config: ServerConfig) -> TestServer {
        let config = ServerConfig {
            port: 0,
            quiet: true,
            ..config
        };
        // Its start and stop lines are shown only if the test fails.
        chatroom::log::capture_for_tests();
        let server = Server::bind(config).expect("bind a test server");
        let addr = server.local_addr();
        let handle = server.shutdown_handle();
        let dashboard = server.local_dashboard_addr();
        let thread = thread::Builder::new()
            .name("test-server".into())
            .spawn(move || server.run())
            .expect("spawn the server thread");
        TestServer {
            addr,
            handle,
            thread: Some(thread),
            dashboard,
        }
    }

    /// Connects a client and reads its welcome line.
    pub(crate) fn connect(&self) -> Client {
        Client::connect(self.addr)
    }

    /// Connects `n` clients one by one, each time reading the `joined` notice on
    /// every earlier client, so the room is quiet when this returns.
    pub(crate) fn room(&self, n: usize) -> Vec<Client> {
        let mut clients: Vec<Client> = Vec::new();
        for _ in 0..n {
            let new = self.connect();
            for old in &mut clients {
                old.expect(&format!("* {} joined", new.name));
            }
            clients.push(new);
        }
        clients
    }

    /// Stops the server and waits for it, returning how long that took.
    pub(crate) fn stop(mut self) -> Duration {
        let started = Instant::now();
        self.shutdown_and_join();
        started.elapsed()
    }

    /// Stops the server and waits at most `limit` for `run` to return; true if
    /// it did. A server that does not stop is left running, so the test fails
    /// instead of hanging.
    pub(crate) fn stop_within(mut self, limit: Duration) -> bool {
        self.handle.shutdown();
        let thread = self.thread.take().expect("the server is running");
        // std cannot join a thread with a timeout: ask if it has finished.
        let stopped = poll(limit, Duration::from_millis(50), || {
            thread.is_finished().then_some(()).ok_or(())
        });
        if stopped.is_err() {
            return false;
        }
        thread
            .join()
            .expect("server thread panicked")
            .expect("server run failed");
        true
    }

    fn shutdown_and_join(&mut self) {
        self.handle.shutdown();
        if let Some(thread) = self.thread.take() {
            thread
                .join()
                .expect("server thread panicked")
                .expect("server run failed");
        }
    }

    /// A server with its dashboard on a free loopback port, and `adjust`
    /// applied to [`test_config`].
    pub(crate) fn with_dashboard(adjust: impl FnOnce(&mut ServerConfig)) -> TestServer {
        TestServer::with(|c| {
            c.dashboard = Some("127.0.0.1:0".into());
            adjust(c);
        })
    }

    /// The dashboard's address; panics if the server was started without one.
    pub(crate) fn dashboard_addr(&self) -> SocketAddr {
        self.dashboard
            .expect("a server started with its dashboard on")
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if self.thread.is_some() {
            self.handle.shutdown();
            if let Some(thread) = self.thread.take() {
                let _ = thread.join();
            }
        }
    }
}

/// Starts the real `server` binary on a free port and returns it with its address.
pub(crate) fn server_binary(args: &[&str]) -> (ChildGuard, SocketAddr) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_server"));
    command.args(["--port", "0"]).args(args);
    let mut server = ChildGuard::spawn(command);
    let line = server.wait_for("stderr", "listening on ");
    let addr = line
        .rsplit("listening on ")
        .next()
        .and_then(|a| a.trim().parse().ok())
        .unwrap_or_else(|| panic!("no address in {line:?}"));
    (server, addr)
}

/// The server binary on a free port (newcomers announced at once) with two
/// clients joined, the second renamed `bob`; for driving the console.
pub(crate) fn console_server_with_bob() -> (ChildGuard, SocketAddr, Client, Client) {
    let (server, addr) = server_binary(&["--join-grace-ms", "0"]);
    let mut first = Client::connect(addr);
    let mut bob = Client::connect(addr);
    first.expect(&format!("* {} joined", bob.name));
    let address = bob.name.clone();
    bob.send("/nick bob");
    bob.expect("* you are now bob");
    first.expect(&format!("* {address} is now known as bob"));
    bob.name = "bob".to_string();
    (server, addr, first, bob)
}
