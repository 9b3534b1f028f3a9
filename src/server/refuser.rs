//! The refuser thread: a connection the server turns away (full, busy) still
//! gets its one `! ` line and a moment to read it, without holding up the
//! accept loop.

use std::io::{self, Write};
use std::net::{Shutdown, TcpStream};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use crossbeam_channel::{bounded, Receiver, Sender};

use super::socket::linger;

/// Connections refused at once may wait this many deep for their line; past
/// that a refused connection is simply closed (a connection flood must not
/// grow a queue).
const CAPACITY: usize = 64;

/// The accept loop's end of the refuser.
#[derive(Debug)]
pub(crate) struct Refuser {
    refusals_tx: Sender<(TcpStream, Vec<u8>)>,
    thread: JoinHandle<()>,
}

impl Refuser {
    /// Starts the thread.
    ///
    /// # Errors
    /// The thread could not be started.
    pub(crate) fn spawn() -> io::Result<Refuser> {
        let (refusals_tx, refusals_rx) = bounded(CAPACITY);
        let thread = thread::Builder::new()
            .name("refuser".to_string())
            .spawn(move || refuse_all(refusals_rx))?;
        Ok(Refuser {
            refusals_tx,
            thread,
        })
    }

    /// Hands over a refused connection with its line, or closes it at once if
    /// too many are already waiting.
    pub(crate) fn refuse(&self, stream: TcpStream, line: Vec<u8>) {
        let _ = self.refusals_tx.try_send((stream, line));
    }

    /// Lets the thread finish the connections it holds, and waits for it.
    pub(crate) fn stop(self) {
        drop(self.refusals_tx);
        let _ = self.thread.join();
    }
}

/// Writes each refused connection its one line, then lets it drain and close.
fn refuse_all(refusals_rx: Receiver<(TcpStream, Vec<u8>)>) {
    for (stream, line) in refusals_rx {
        let _ = stream.set_write_timeout(Some(Duration::from_secs(1)));
        if (&stream).write_all(&line).is_ok() {
            let _ = stream.shutdown(Shutdown::Write);
            linger(&stream);
        }
    }
}
