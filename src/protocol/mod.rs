//! What both sides agree on, as pure functions: framing ([`LineFramer`]),
//! cleaning text ([`sanitize`]), the name rule, command parsing ([`Command`])
//! and every line the server sends ([`lines`]). No threads, no sockets.

mod command;
mod framing;
pub mod lines;
mod names;
mod text;

pub use command::{Command, ParseError, HELP};
pub use framing::{Frame, LineFramer};
pub use names::{is_valid_name, MAX_NAME_CHARS, NAME_RULE};
pub use text::{clean_line, is_forbidden, sanitize, strip_for_terminal};
