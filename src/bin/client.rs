//! The `client` binary: parse flags, then chat with a line editor on a Unix
//! terminal, or in plain lines on stdin/stdout. Status lines go to stderr.
//! The exit code says how the session ended (`client::Exit` has the table).

use std::io;
use std::process::exit;

use chatroom::client::{self, ClientError, Ending, Exit};
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
            eprintln!("client: {e}\ntry 'client --help'");
            exit(Exit::Usage.code());
        }
    };
    #[cfg(unix)]
    if client::interactive() {
        // The terminal is switched so that Ctrl-C is a key, not a signal; the
        // handler is for SIGTERM and SIGHUP (and a SIGINT from `kill`), so
        // that they too end the session through the path that restores the
        // terminal. Plain mode keeps the default: Ctrl-C ends it at once.
        let (stop_tx, stop_rx) = crossbeam_channel::bounded(1);
        let _ = ctrlc::set_handler(move || {
            let _ = stop_tx.try_send(());
        });
        finish(client::run_interactive(&config, stop_rx));
    }
    let stdin = io::BufReader::new(io::stdin());
    finish(client::run(
        &config,
        stdin,
        &mut io::stdout(),
        &mut io::stderr(),
    ));
}

/// Exits with the code that matches how the session ended. The stdin thread
/// may still be blocked waiting for a line; exiting ends it, so the client
/// quits as soon as the server has gone.
fn finish(result: Result<Ending, ClientError>) -> ! {
    match &result {
        Ok(_) => {}
        Err(e @ ClientError::Connect { .. }) => eprintln!("Connection error: {e}"),
        Err(e) => eprintln!("client: {e}"),
    }
    exit(Exit::of_result(&result).code());
}
