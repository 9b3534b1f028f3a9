//! The terminal, with nothing of chat in it: the line editor and key decoder
//! (pure), character widths, escape sequences stripped from text to print, and
//! (Unix) the switched terminal. The client uses it; so can the server's console.

// Interactive mode exists only on Unix: elsewhere the editor and the key
// decoder are compiled for their tests alone.
#[cfg_attr(not(unix), allow(dead_code))]
mod complete;
#[cfg_attr(not(unix), allow(dead_code))]
mod editor;
mod escapes;
#[cfg_attr(not(unix), allow(dead_code))]
mod history;
#[cfg_attr(not(unix), allow(dead_code))]
mod keys;
#[cfg_attr(not(unix), allow(dead_code))]
mod recent;
#[cfg(unix)]
mod screen;
#[cfg(unix)]
mod tty;
#[cfg_attr(not(unix), allow(dead_code))]
mod width;
#[cfg_attr(not(unix), allow(dead_code))]
mod words;

#[cfg_attr(not(unix), allow(unused_imports))]
pub(crate) use complete::Completer;
#[cfg_attr(not(unix), allow(unused_imports))]
pub(crate) use editor::{Action, Editor};
#[cfg_attr(not(unix), allow(unused_imports))]
pub(crate) use escapes::EscapeStripper;
pub(crate) use keys::clean_typed_line;
#[cfg(unix)]
pub(crate) use screen::Screen;
#[cfg(unix)]
pub(crate) use tty::{is_interactive, restore, RawMode};
