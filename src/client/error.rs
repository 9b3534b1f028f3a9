//! [`ClientError`]: why a session could not run or went wrong on this side
//! (as opposed to an [`super::Ending`], which is how a connection ended).

use std::fmt;
use std::io;

/// Why the client stopped with an error.
#[derive(Debug)]
pub enum ClientError {
    /// The server could not be reached.
    Connect {
        /// `HOST:PORT` as given.
        addr: String,
        /// What the OS said.
        source: io::Error,
    },
    /// Printing to the output failed.
    Output(io::Error),
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientError::Connect { addr, source } => {
                write!(f, "cannot connect to {addr}: {source}")
            }
            ClientError::Output(source) => write!(f, "cannot write output: {source}"),
        }
    }
}

impl std::error::Error for ClientError {}
