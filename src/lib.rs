//! A multi-client TCP chat room for classroom labs: the Rust successor of the
//! Node.js `net` tutorial's chat server, built to be read.
//!
//! Every line a client sends goes to every *other* client as `> NAME: TEXT`.
//! The wire protocol is in `docs/PROTOCOL.md`; the design in `docs/ARCHITECTURE.md`.
//!
//! # Threads, in words
//! The **accept loop** ([`server`]) takes each new connection and starts a
//! **reader** thread for it ([`connection`]). The reader registers the client's
//! socket in the **registry** ([`registry`], one mutex-guarded map), then reads:
//! bytes become lines ([`protocol`]), lines become commands ([`command`]), and
//! everything meant for other people goes into one bounded channel. The single
//! **broadcaster** thread ([`broadcaster`]) drains that channel and is the only
//! writer to sockets: it writes each message to everyone except its sender,
//! with a deadline, so one stalled client cannot freeze the room.
//!
//! # Layout
//! - [`config`]: settings, defaults and flag parsing for both binaries
//! - [`protocol`]: framing, sanitising and line formats (pure)
//! - [`command`]: a line to a [`command::Command`] (pure)
//! - [`registry`]: client ids, names and sockets behind one lock
//! - [`broadcaster`]: the only writer; batches, fan-out, evictions
//! - [`connection`]: the reader thread of one client
//! - [`server`]: binding, the accept loop, limits, shutdown
//! - [`ratelimit`]: the token bucket behind `--rate-limit` (pure)
//! - [`stats`]: counters for `/stats` and `--stats-every`
//! - [`transcript`]: `--transcript`, events as JSON lines
//! - [`log`]: timestamped log lines on stderr
//! - [`client`]: the client: a line editor on a Unix terminal, plain lines elsewhere

pub mod broadcaster;
pub mod client;
pub mod command;
pub mod config;
pub mod connection;
pub mod log;
pub mod protocol;
pub mod ratelimit;
pub mod registry;
pub mod server;
pub mod stats;
pub mod transcript;

pub use config::{ClientConfig, Framing, ServerConfig};
pub use server::{Server, ServerError, ShutdownHandle};
