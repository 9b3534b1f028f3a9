//! Settings for both binaries, in three files: what can be set and every
//! default (`settings.rs`), the flag parser (`flags.rs`) and the `--help`
//! texts (`help.rs`), both built on the settings' constants. This file only
//! gathers what the rest of the crate and the binaries use.

mod flags;
mod help;
mod settings;

pub use flags::{dashboard_addr, parse_client_args, parse_server_args, ConfigError, Parsed};
pub use help::{Usage, CLIENT_USAGE, SERVER_USAGE};
pub use settings::{
    ClientConfig, ColorChoice, ConsoleMode, Framing, ServerConfig, CLIENT_COUNT_RANGE,
    CLIENT_LOST_WINDOW, CLIENT_PORT_RANGE, CLIENT_SHUTDOWN_WINDOW, DEFAULT_CROWD, DEFAULT_HISTORY,
    DEFAULT_HOLD_SECS, DEFAULT_HOST, DEFAULT_JOIN_GRACE_MS, DEFAULT_LOGS_BYTES,
    DEFAULT_MAX_CLIENTS, DEFAULT_MAX_LINE_BYTES, DEFAULT_MAX_PER_IP, DEFAULT_PORT,
    DEFAULT_RATE_LIMIT, DEFAULT_ROOM_LOG_BYTES, DEFAULT_SENDQ_BYTES, DEFAULT_WRITE_TIMEOUT_MS,
    HISTORY_RANGE, HOLD_SECS_RANGE, JOIN_GRACE_MS_RANGE, MAX_EVENT_BYTES, MAX_LINE_BYTES_RANGE,
    MAX_LOGS_BYTES, MAX_SENDQ_BYTES, MIN_ROOM_LOG_BYTES, RATE_LIMIT_RANGE, ROOM_LOG_BYTES_RANGE,
    SERVER_PORT_RANGE, STATS_EVERY_SECS_RANGE, WRITE_TIMEOUT_MS_RANGE,
};
