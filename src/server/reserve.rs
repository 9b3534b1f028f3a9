//! A file descriptor kept in reserve for one purpose: when the process runs
//! out of descriptors, `accept` fails and connections would wait in the
//! backlog with no word. Closing the reserve frees one descriptor, enough to
//! accept one connection, tell it `! server busy, try again later`, close it,
//! and take the reserve back (the classic trick of event-driven servers).

use std::fs::File;
use std::io::Write;
use std::net::{Shutdown, TcpListener};
use std::time::Duration;

use crate::protocol::lines;

/// The spare descriptor, if one could be opened.
#[derive(Debug)]
pub(crate) struct Reserve {
    file: Option<File>,
}

/// Something cheap to hold open: the null device.
#[cfg(unix)]
const NULL_DEVICE: &str = "/dev/null";
#[cfg(windows)]
const NULL_DEVICE: &str = "NUL";

impl Reserve {
    /// Opens the spare descriptor (none if even that fails).
    pub(crate) fn open() -> Reserve {
        Reserve {
            file: File::open(NULL_DEVICE).ok(),
        }
    }

    /// Frees the spare, accepts one waiting connection, tells it the server
    /// is busy and closes it, then takes the spare back. Returns false if
    /// there was no spare or nothing could be accepted even so.
    pub(crate) fn refuse_one(&mut self, listener: &TcpListener) -> bool {
        if self.file.take().is_none() {
            // Lost it (another thread took the freed descriptor): try again.
            *self = Reserve::open();
            return false;
        }
        let refused = match listener.accept() {
            Ok((stream, _)) => {
                // A new socket's buffer is empty: this write does not wait.
                let _ = stream.set_write_timeout(Some(Duration::from_millis(100)));
                let _ = (&stream).write_all(&lines::server_busy());
                let _ = stream.shutdown(Shutdown::Write);
                true
            }
            Err(_) => false,
        };
        *self = Reserve::open();
        refused
    }
}
