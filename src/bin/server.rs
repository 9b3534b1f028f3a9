//! The `server` binary: parse flags, install the Ctrl-C/SIGTERM handler,
//! attach the console to standard input, run, and take the terminal back
//! from an interactive console on the way out.
//! Exit codes: 0 after a clean stop, 1 if it cannot start, 2 for bad flags,
//! 130 for a second Ctrl-C.

use std::io::Write;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};

use chatroom::config::{parse_server_args, Parsed, SERVER_USAGE};
use chatroom::Server;

fn main() -> ExitCode {
    let config = match parse_server_args(std::env::args().skip(1)) {
        Ok(Parsed::Run(config)) => config,
        Ok(Parsed::Help) => {
            print!("{SERVER_USAGE}");
            return ExitCode::SUCCESS;
        }
        Ok(Parsed::Version) => {
            println!("server {}", env!("CARGO_PKG_VERSION"));
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("server: {e}\ntry 'server --help'");
            return ExitCode::from(2);
        }
    };
    let console = config.console;
    let server = match Server::bind(config) {
        Ok(server) => server,
        Err(e) => {
            eprintln!("server: {e}");
            return ExitCode::from(1);
        }
    };
    let server = server.with_stdin_console(console);
    let handle = server.shutdown_handle();
    let stopping = AtomicBool::new(false);
    // The `termination` feature makes this fire for SIGTERM (and SIGHUP) too.
    let installed = ctrlc::set_handler(move || {
        // An interactive console hands the terminal back first (its mode
        // restored, its input line erased), so what follows is written on a
        // terminal in its normal mode, on a line of its own.
        chatroom::log::restore_stderr();
        if stopping.swap(true, Ordering::SeqCst) {
            // A second Ctrl-C: the user is not willing to wait.
            std::process::exit(130);
        }
        // Not eprintln!: after a hangup (the terminal closed) stderr may be
        // gone, and a panic here would leave the server running for good.
        let _ = writeln!(
            std::io::stderr(),
            "stopping (press Ctrl-C again to quit at once)"
        );
        handle.shutdown();
    });
    if let Err(e) = installed {
        eprintln!("server: cannot install the Ctrl-C handler ({e}); stop it with a kill");
    }
    let ran = server.run();
    // The console's thread is never joined: if it still has the terminal
    // switched, it hands it back now, before the process ends.
    chatroom::log::restore_stderr();
    match ran {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("server: {e}");
            ExitCode::from(1)
        }
    }
}
