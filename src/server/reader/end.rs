//! [`End`]: how a client's connection ended, as far as its reader knows, and
//! what that means for the goodbye. Its own file because the read loop, the
//! throttle and the session all end a connection, and each names it.

/// How a connection ended, as far as its reader knows.
#[derive(Debug)]
pub(super) enum End {
    /// The client closed its side (or was shut down by the server).
    Closed,
    /// The connection was reset or failed.
    Failed(String),
    /// The client typed `/quit`.
    Quit(Option<String>),
    /// The broadcaster removed the client (evicted it): it has been announced
    /// as gone, so nothing more of it may be relayed.
    Removed,
    /// The broadcaster is gone: the server is stopping.
    ServerStopping,
}

impl End {
    /// True when the lines read but not yet handed on are still delivered:
    /// the client ended normally (the no-loss promise). A reset or an
    /// eviction ends the client at once, and drops them.
    pub(super) fn keeps_pending(&self) -> bool {
        !matches!(self, End::Failed(_) | End::Removed)
    }

    /// True when the client did not choose to go (its connection broke):
    /// if it has a session, the session is held for it to come back.
    pub(super) fn may_come_back(&self) -> bool {
        matches!(self, End::Failed(_))
    }
}
