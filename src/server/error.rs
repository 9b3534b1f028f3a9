//! [`ServerError`]: why a server could not start.

use std::fmt;
use std::io;
use std::path::PathBuf;

/// Why the server could not start.
#[derive(Debug)]
pub enum ServerError {
    /// The listening socket could not be bound.
    Bind {
        /// The address as the user gave it.
        addr: String,
        /// What the OS said.
        source: io::Error,
    },
    /// The dashboard's listening socket could not be bound (`--dashboard`).
    Dashboard {
        /// The address as the user gave it.
        addr: String,
        /// What the OS said.
        source: io::Error,
    },
    /// The transcript file could not be opened.
    Transcript {
        /// The path given with `--transcript`.
        path: PathBuf,
        /// What the OS said.
        source: io::Error,
    },
}

impl fmt::Display for ServerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ServerError::Bind { addr, source } => write!(f, "cannot listen on {addr}: {source}"),
            ServerError::Dashboard { addr, source } => {
                write!(f, "cannot serve the dashboard on {addr}: {source}")
            }
            ServerError::Transcript { path, source } => {
                write!(f, "cannot open transcript {}: {source}", path.display())
            }
        }
    }
}

impl std::error::Error for ServerError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ServerError::Bind { source, .. }
            | ServerError::Dashboard { source, .. }
            | ServerError::Transcript { source, .. } => Some(source),
        }
    }
}
