//! The reader thread of one client: lets it in (asking for the class code
//! first, on a server with one: [`gate`]), registers it, reads its socket
//! and cuts the bytes into lines ([`read_loop`]), carries out what [`plan`]
//! decides for each ([`session`], within the rate limit: [`throttle`]; the
//! commands that bring a session back: [`comeback`]), and hands everything
//! meant for other people to the broadcaster. Once the client is in the
//! room, it never writes to any socket itself.

mod comeback;
mod end;
mod gate;
mod pending;
mod plan;
mod read_loop;
mod session;
mod throttle;

use std::io;
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::Instant;

use crossbeam_channel::Sender;

use super::client::{ClientId, ClientRecord, Meters};
use super::event::Event;
use super::rooms::RoomId;
use super::shared::Shared;
use super::socket::WRITE_SLICE;
use end::End;
use gate::Gate;
use read_loop::ReadLoop;
use session::Session;

/// Stack for each reader thread. The default 2 MiB is address space, not
/// memory, but small stacks make the cost per client plain: the reader's
/// deepest frame is its read buffer plus formatting.
const STACK: usize = 128 * 1024;

/// Starts the reader thread of a newly accepted client. `guard` is held for
/// as long as the thread runs (the accept loop counts clients by it).
///
/// # Errors
/// The thread could not be started (`guard` is dropped then, too).
pub(crate) fn spawn<G: Send + 'static>(
    shared: Arc<Shared>,
    events_tx: Sender<Event>,
    id: ClientId,
    stream: Arc<TcpStream>,
    peer: SocketAddr,
    guard: G,
) -> io::Result<JoinHandle<()>> {
    thread::Builder::new()
        .name(format!("reader-{}", id.0))
        .stack_size(STACK)
        .spawn(move || {
            let _guard = guard;
            run(shared, events_tx, id, stream, peer);
        })
}

/// Runs one client's reader until its connection ends, then cleans up.
fn run(
    shared: Arc<Shared>,
    events_tx: Sender<Event>,
    id: ClientId,
    stream: Arc<TcpStream>,
    peer: SocketAddr,
) {
    // Nagle's algorithm would hold small lines back for up to one round trip.
    let _ = stream.set_nodelay(true);
    // A write that blocks waits this long at most: what does not fit waits
    // in the server (see the fan-out); in the demo mode without a write
    // timeout, it waits for as long as it takes.
    let slice = shared.config.write_timeout.map(|_| WRITE_SLICE);
    let _ = stream.set_write_timeout(slice);
    let Gate::Open {
        telnet,
        framer,
        early,
    } = gate::pass(&shared, &stream, peer.ip())
    else {
        return;
    };

    let name: Arc<str> = Arc::from(peer.to_string());
    let meters = Arc::new(Meters::default());
    shared.registry.insert(
        id,
        ClientRecord {
            addr: peer,
            since: Instant::now(),
            name: name.clone(),
            stream: stream.clone(),
            meters: meters.clone(),
            room: RoomId::LOBBY,
            token: None,
        },
    );
    shared.log.info(&format!("{name} connected"));
    let read_loop = ReadLoop::new(
        shared.clone(),
        meters.clone(),
        stream.clone(),
        telnet,
        framer,
    );
    let mut session = Session::new(shared, events_tx, id, name.clone(), meters, stream);
    let welcome = Event::Welcome {
        id,
        name,
        announce: !session.waits_to_announce(),
    };
    let end = if session.send(welcome) {
        read_loop.run(&mut session, early)
    } else {
        End::ServerStopping
    };
    session.finish(end);
}
