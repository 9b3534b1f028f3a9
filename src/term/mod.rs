//! The terminal, with nothing of chat in it: a pure line editor and its key
//! decoder, character widths, and (Unix) the switched terminal. The client
//! draws with it; the server's console can too, without importing `client`.

// Interactive mode exists only on Unix: elsewhere the editor and the key
// decoder are compiled for their tests alone.
#[cfg_attr(not(unix), allow(dead_code))]
mod editor;
#[cfg_attr(not(unix), allow(dead_code))]
mod keys;
#[cfg(unix)]
mod tty;
#[cfg_attr(not(unix), allow(dead_code))]
mod width;

#[cfg_attr(not(unix), allow(unused_imports))]
pub(crate) use editor::{Action, Editor};
pub(crate) use keys::clean_typed_line;
#[cfg(unix)]
pub(crate) use tty::{is_interactive, RawMode, Width};
