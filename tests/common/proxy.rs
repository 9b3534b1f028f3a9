//! A TCP proxy that breaks connections on demand: what a dropped Wi-Fi or a
//! laptop lid does to a class, reproduced on loopback. Every connection it
//! accepts is relayed to the server; [`Proxy::reset_all`] cuts each one off
//! with a reset on both sides (so the server sees a broken connection, not
//! a goodbye), and [`Proxy::refuse_for`] resets every new connection for a
//! while (a network that is still down).

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use socket2::SockRef;

/// How often the relaying threads look up from a read to see whether their
/// connection was cut.
const LOOK_UP_EVERY: Duration = Duration::from_millis(20);

/// One relayed connection: the client's side and the server's.
#[derive(Debug)]
struct Pair {
    client: TcpStream,
    server: TcpStream,
    /// True once cut. Held while a pump writes, so that nothing is relayed
    /// once [`Proxy::reset_all`] has returned.
    cut: Arc<Mutex<bool>>,
}

#[derive(Debug, Default)]
struct State {
    pairs: Vec<Pair>,
    refuse_until: Option<Instant>,
}

/// The proxy: a listener on a free loopback port, relaying to `upstream`;
/// its threads stop when it drops.
#[derive(Debug)]
pub(crate) struct Proxy {
    pub(crate) addr: SocketAddr,
    state: Arc<Mutex<State>>,
    stop: Arc<AtomicBool>,
    accepter: Option<JoinHandle<()>>,
}

impl Proxy {
    pub(crate) fn start(upstream: SocketAddr) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the proxy");
        let addr = listener.local_addr().expect("the proxy's address");
        // Polled, so the thread can see it should stop.
        listener.set_nonblocking(true).expect("a polled listener");
        let state: Arc<Mutex<State>> = Arc::default();
        let stop = Arc::new(AtomicBool::new(false));
        let (shared, stopping) = (state.clone(), stop.clone());
        let accepter = thread::Builder::new()
            .name("proxy".into())
            .spawn(move || accept(&listener, upstream, &shared, &stopping))
            .expect("start the proxy");
        Proxy {
            addr,
            state,
            stop,
            accepter: Some(accepter),
        }
    }

    /// Cuts every relayed connection with a reset on both sides.
    pub(crate) fn reset_all(&self) {
        let pairs = std::mem::take(&mut lock(&self.state).pairs);
        for pair in pairs {
            reset(&pair);
        }
    }

    /// Resets every connection that comes in during the next `how_long`.
    pub(crate) fn refuse_for(&self, how_long: Duration) {
        lock(&self.state).refuse_until = Some(Instant::now() + how_long);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(accepter) = self.accepter.take() {
            let _ = accepter.join();
        }
        self.reset_all();
    }
}

fn lock<T>(state: &Mutex<T>) -> MutexGuard<'_, T> {
    state
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn accept(listener: &TcpListener, upstream: SocketAddr, state: &Mutex<State>, stop: &AtomicBool) {
    while !stop.load(Ordering::Acquire) {
        let client = match listener.accept() {
            Ok((client, _)) => client,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                thread::sleep(Duration::from_millis(5));
                continue;
            }
            Err(_) => continue,
        };
        let _ = client.set_nonblocking(false);
        let refusing = lock(state)
            .refuse_until
            .is_some_and(|until| Instant::now() < until);
        if refusing {
            // A reset at once: to the client, the network is still down.
            let _ = SockRef::from(&client).set_linger(Some(Duration::ZERO));
            drop(client);
            continue;
        }
        let Ok(server) = TcpStream::connect(upstream) else {
            continue;
        };
        let cut = Arc::new(Mutex::new(false));
        for (from, to) in [(&client, &server), (&server, &client)] {
            let (from, to) = (from.try_clone(), to.try_clone());
            let (Ok(from), Ok(to)) = (from, to) else {
                continue;
            };
            let cut = cut.clone();
            let _ = thread::Builder::new()
                .name("proxy-pump".into())
                .spawn(move || pump(from, to, &cut));
        }
        lock(state).pairs.push(Pair {
            client,
            server,
            cut,
        });
    }
}

/// Copies `from` to `to` until either ends or the pair is cut. A normal
/// end (FIN) is passed on as a half-close, as a real network would.
fn pump(mut from: TcpStream, mut to: TcpStream, cut: &Mutex<bool>) {
    let _ = from.set_read_timeout(Some(LOOK_UP_EVERY));
    let mut buf = [0u8; 16 * 1024];
    while !*lock(cut) {
        match from.read(&mut buf) {
            Ok(0) => {
                let _ = to.shutdown(Shutdown::Write);
                return;
            }
            Ok(n) => {
                // Read just before the cut: it dies with the connection.
                let cut = lock(cut);
                if *cut || to.write_all(&buf[..n]).is_err() {
                    return;
                }
            }
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return,
        }
    }
}

/// A reset on both sides: linger zero on each socket (a socket option, so
/// it holds for the pumps' copies too), then every copy closed; the last
/// close sends the reset.
fn reset(pair: &Pair) {
    for side in [&pair.client, &pair.server] {
        let _ = SockRef::from(side).set_linger(Some(Duration::ZERO));
    }
    *lock(&pair.cut) = true;
}
