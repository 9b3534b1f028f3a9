//! The `client` binary: parse flags, chat on stdin/stdout, status on stderr.
//! Exit codes: 0 when the server closes, 1 if it cannot connect, 2 for bad flags.

use std::io;
use std::process::exit;

use chatroom::client::{self, ClientError};
use chatroom::config::{parse_client_args, Parsed, CLIENT_USAGE};

fn main() {
    let config = match parse_client_args(std::env::args().skip(1)) {
        Ok(Parsed::Run(config)) => config,
        Ok(Parsed::Help) => {
            print!("{CLIENT_USAGE}");
            return;
        }
        Ok(Parsed::Version) => {
            println!("client {}", env!("CARGO_PKG_VERSION"));
            return;
        }
        Err(e) => {
            eprint!("client: {e}\n\n{CLIENT_USAGE}");
            exit(2);
        }
    };
    let stdin = io::BufReader::new(io::stdin());
    let result = client::run(&config, stdin, &mut io::stdout(), &mut io::stderr());
    // The stdin thread may still be blocked waiting for a line; ending the
    // process ends it, so the client quits as soon as the server has gone.
    match result {
        Ok(()) => exit(0),
        Err(e @ ClientError::Connect { .. }) => {
            eprintln!("Connection error: {e}");
            exit(1);
        }
        Err(e) => {
            eprintln!("client: {e}");
            exit(1);
        }
    }
}
