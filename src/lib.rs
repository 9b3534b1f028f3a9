//! A multi-client TCP chat room for classroom labs: the Rust successor of the
//! Node.js `net` tutorial's chat server, built to be read.
//!
//! Every line a client sends goes to every *other* client as `> NAME: TEXT`.
//! The wire protocol is in `docs/PROTOCOL.md`; the design in `docs/ARCHITECTURE.md`.
//!
//! # Threads, in words
//! The **accept loop** (`server/mod.rs`) takes each new connection and starts a
//! **reader** thread for it (`server/reader/`). The reader puts the client's
//! record (name, address, socket, counters) in the **registry**
//! (`server/registry.rs`, one mutex-guarded map), then reads: bytes become
//! lines ([`protocol`]), lines become decisions (`server/reader/plan.rs`), and
//! everything the client's lines call for, for others or for the client
//! itself, goes as an event (`server/event.rs`) into one bounded channel.
//! The single **broadcaster** thread (`server/broadcaster/`) drains that
//! channel and is the only writer to the sockets of clients in the room
//! (before that, a reader may ask its own client for the class code): it
//! appends each message once to the log of the sender's room, and writes
//! every member (but the sender) what its socket takes *now*, from that
//! member's own cursor in the log. A client that reads slowly only lags
//! behind in the log, so one stalled client cannot freeze the room. A
//! client with a session (`/session`) whose connection breaks may come back
//! as itself (`/resume`): the registry holds its session meanwhile. A
//! **console** thread reads the teacher's commands. Who owns each piece of
//! a client's state is written down in `server/shared.rs`.
//!
//! With `--dashboard`, the **dashboard** (`server/dashboard/`) serves a
//! read-only web page of the room: a sampler thread copies the registry and
//! the counters twice a second, and one thread per browser connection writes
//! that out over hand-written HTTP. None of its threads touches a chat socket.
//!
//! # Layout
//! - [`config`]: settings, defaults and flag parsing for both binaries
//! - [`log`]: timestamped log lines on stderr
//! - [`protocol`]: what both sides agree on: framing, sanitising, names,
//!   commands, and every line the server sends (pure)
//! - `server/`: the [`Server`] and its threads (private; see `server/mod.rs`)
//! - [`client`]: the client: a line editor on a Unix terminal, plain lines
//!   elsewhere; either way it reconnects and resumes by itself
//! - `term/`: the terminal without chat: the line editor, keys, widths, raw
//!   mode (private; the client uses it, and the server's console may)

pub mod client;
pub mod config;
pub mod log;
pub mod protocol;
mod server;
mod term;

pub use config::{ClientConfig, ConsoleMode, Framing, ServerConfig};
pub use server::{Server, ServerError, ShutdownHandle};
