//! What both sides agree on, as pure functions: framing ([`LineFramer`]),
//! telnet's commands removed ([`TelnetFilter`]), cleaning text ([`sanitize`]),
//! the name rules, command parsing ([`Command`])
//! and every line the server sends ([`lines`]). No threads, no sockets.

mod command;
mod framing;
pub mod lines;
mod names;
mod telnet;
mod text;

pub use command::{Command, ParseError, HELP};
pub use framing::{Frame, LineFramer};
pub use names::{
    is_reserved, is_valid_name, is_valid_room, skeleton, MAX_NAME_CHARS, NAME_RULE, RESERVED_NAMES,
    ROOM_RULE,
};
pub use telnet::TelnetFilter;
pub use text::{clean_line, is_forbidden, sanitize, strip_for_terminal};
