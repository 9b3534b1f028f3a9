//! Who is connected: [`ClientId`], and the one mutex-guarded map from id to
//! socket and name. Readers add themselves and rename themselves here; the
//! broadcaster marks clients ready, takes snapshots to write to, and removes them.

use std::collections::HashMap;
use std::net::TcpStream;
use std::sync::Arc;

use parking_lot::Mutex;

/// A client's identity for the life of the server. Ids grow with every
/// accepted connection, so sorting by id gives the order clients joined.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ClientId(pub u64);

/// One connected client as the registry sees it.
#[derive(Debug)]
struct Client {
    /// The socket, shared with the client's reader: `&TcpStream` can both read
    /// and write, so one descriptor serves both threads (no `try_clone`).
    stream: Arc<TcpStream>,
    /// The current name, shared cheaply with whoever formats lines.
    name: Arc<str>,
    /// Set by the broadcaster once it has sent the welcome; until then the
    /// client receives nothing, so the welcome is always its first line.
    ready: bool,
}

/// Why a rename was refused.
#[derive(Debug, PartialEq, Eq)]
pub enum RenameError {
    /// Another client has this name (compared ignoring case).
    Taken,
    /// The client already has exactly this name.
    Unchanged,
    /// The client is no longer registered.
    Gone,
}

/// The shared map of connected clients.
///
/// Every method takes the lock once and holds it only for a few map operations:
/// nothing here does I/O, so a slow socket can never keep the lock held.
#[derive(Debug, Default)]
pub struct Registry {
    clients: Mutex<HashMap<ClientId, Client>>,
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Self {
        Registry::default()
    }

    /// Adds a client that has just connected (not yet ready).
    pub fn insert(&self, id: ClientId, name: Arc<str>, stream: Arc<TcpStream>) {
        let client = Client {
            stream,
            name,
            ready: false,
        };
        self.clients.lock().insert(id, client);
    }

    /// Removes a client, returning its name and socket; `None` if it was already
    /// gone. Whoever gets `Some` is the one who announces the departure, which is
    /// how a client is announced as leaving exactly once.
    pub fn remove(&self, id: ClientId) -> Option<(Arc<str>, Arc<TcpStream>)> {
        self.clients
            .lock()
            .remove(&id)
            .map(|client| (client.name, client.stream))
    }

    /// Marks a client ready to receive, returning its socket and how many
    /// other ready clients there are.
    pub fn mark_ready(&self, id: ClientId) -> Option<(Arc<TcpStream>, usize)> {
        let mut clients = self.clients.lock();
        let others = clients.values().filter(|c| c.ready).count();
        let client = clients.get_mut(&id)?;
        client.ready = true;
        Some((client.stream.clone(), others))
    }

    /// The ready clients and their sockets, for the broadcaster to write to after
    /// the lock is released.
    pub fn ready_streams(&self) -> Vec<(ClientId, Arc<TcpStream>)> {
        let clients = self.clients.lock();
        let mut out = Vec::with_capacity(clients.len());
        out.extend(
            clients
                .iter()
                .filter(|(_, c)| c.ready)
                .map(|(&id, c)| (id, c.stream.clone())),
        );
        out
    }

    /// Every registered socket, ready or not (for shutdown).
    pub fn all_streams(&self) -> Vec<Arc<TcpStream>> {
        self.clients
            .lock()
            .values()
            .map(|c| c.stream.clone())
            .collect()
    }

    /// Renames a client if no other client has the name, ignoring case. The check
    /// and the change happen under one lock, so of two clients racing for a
    /// name exactly one wins. Returns the old name.
    ///
    /// # Errors
    /// [`RenameError`] says why the name was not changed.
    pub fn rename(&self, id: ClientId, new: &str) -> Result<Arc<str>, RenameError> {
        let mut clients = self.clients.lock();
        let taken = clients
            .iter()
            .any(|(&other, c)| other != id && c.name.eq_ignore_ascii_case(new));
        if taken {
            return Err(RenameError::Taken);
        }
        let client = clients.get_mut(&id).ok_or(RenameError::Gone)?;
        if &*client.name == new {
            return Err(RenameError::Unchanged);
        }
        Ok(std::mem::replace(&mut client.name, Arc::from(new)))
    }

    /// Finds a client by name, ignoring case (names are unique that way).
    pub fn find(&self, name: &str) -> Option<(ClientId, Arc<str>)> {
        self.clients
            .lock()
            .iter()
            .find(|(_, c)| c.name.eq_ignore_ascii_case(name))
            .map(|(&id, c)| (id, c.name.clone()))
    }

    /// The names of everyone registered, in the order they joined.
    pub fn names(&self) -> Vec<Arc<str>> {
        let mut named: Vec<(ClientId, Arc<str>)> = self
            .clients
            .lock()
            .iter()
            .map(|(&id, c)| (id, c.name.clone()))
            .collect();
        named.sort_unstable_by_key(|(id, _)| *id);
        named.into_iter().map(|(_, name)| name).collect()
    }

    /// How many clients are registered.
    pub fn len(&self) -> usize {
        self.clients.lock().len()
    }

    /// True when nobody is registered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    fn stream() -> Arc<TcpStream> {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        let stream = TcpStream::connect(listener.local_addr().expect("local addr"));
        Arc::new(stream.expect("connect loopback"))
    }

    fn registry(names: &[&str]) -> Registry {
        let registry = Registry::new();
        for (i, name) in names.iter().enumerate() {
            registry.insert(ClientId(i as u64 + 1), Arc::from(*name), stream());
        }
        registry
    }

    #[test]
    fn rename_rules() {
        let registry = registry(&["ann", "1.2.3.4:5"]);
        assert_eq!(registry.rename(ClientId(2), "ANN"), Err(RenameError::Taken));
        assert_eq!(
            registry.rename(ClientId(1), "ann"),
            Err(RenameError::Unchanged)
        );
        assert_eq!(registry.rename(ClientId(1), "Ann").as_deref(), Ok("ann"));
        assert_eq!(registry.rename(ClientId(9), "zed"), Err(RenameError::Gone));
        assert_eq!(registry.find("aNN").map(|(id, _)| id), Some(ClientId(1)));
    }

    #[test]
    fn names_in_join_order_and_ready_only_snapshots() {
        let registry = registry(&["c", "a", "b"]);
        let names: Vec<String> = registry.names().iter().map(|n| n.to_string()).collect();
        assert_eq!(names, ["c", "a", "b"]);
        assert!(registry.ready_streams().is_empty());
        let (_, others) = registry.mark_ready(ClientId(2)).expect("registered");
        assert_eq!(others, 0);
        let (_, others) = registry.mark_ready(ClientId(3)).expect("registered");
        assert_eq!(others, 1);
        assert_eq!(registry.ready_streams().len(), 2);
        assert!(registry.remove(ClientId(2)).is_some());
        assert!(
            registry.remove(ClientId(2)).is_none(),
            "removed exactly once"
        );
        assert_eq!(registry.len(), 2);
    }
}
