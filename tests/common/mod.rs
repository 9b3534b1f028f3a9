//! Test helpers, one tool per file: a server on port 0 (`server.rs`), the
//! one raw line client (`client.rs`), a guard for child processes
//! (`child.rs`), tmux as a pseudo-terminal (`tmux.rs`), a proxy that breaks
//! connections on demand (`proxy.rs`), a socket's kernel queues
//! (`queues.rs`), and waiting with a deadline (`wait.rs`). Each test file uses a different subset, hence the
//! `dead_code` allowance.
#![allow(dead_code)]

mod child;
mod client;
mod proxy;
mod queues;
mod server;
mod tmux;
mod wait;

// Each test file uses some of these, so the rest would be unused imports.
#[cfg(target_os = "linux")]
#[allow(unused_imports)]
pub(crate) use self::queues::queue;
#[allow(unused_imports)]
pub(crate) use self::{
    child::ChildGuard,
    client::{close_with_reset, is_timeout, small_buffer_client, Client},
    proxy::Proxy,
    server::{console_server_with_bob, keep_every_line, server_binary, test_config, TestServer},
    tmux::{shell_quote, Tmux},
    wait::{poll, retry, wait_until, TIMEOUT},
};
