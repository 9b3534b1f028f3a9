//! Plain line mode, for pipes, files, Windows, and any terminal where
//! interactive mode is not possible: a `stdin` thread sends whole input lines,
//! the calling thread prints the server's lines.

use std::io::{self, BufRead, Write};
use std::net::{Shutdown, TcpStream};
use std::ops::ControlFlow;
use std::sync::Arc;
use std::thread;

use super::incoming::{read_lines, Ended};
use super::names::{refusal, NameEvent, NameTracker};
use super::render::Painter;
use crate::term::clean_typed_line;

/// Runs a plain session on a connected `stream`: every line of `input` goes
/// to the server, every line from the server to `output`, status lines to
/// `status`. Returns when the server closes the connection.
///
/// # Errors
/// Writing to `output` failed.
pub(crate) fn session<R>(
    stream: Arc<TcpStream>,
    input: R,
    output: &mut dyn Write,
    status: &mut dyn Write,
    painter: Painter,
    mut tracker: NameTracker,
) -> io::Result<()>
where
    R: BufRead + Send + 'static,
{
    let writer = stream.clone();
    // Nobody joins this thread: it may sit in a blocking read of stdin forever,
    // and the process ends without it once the server has gone.
    thread::Builder::new()
        .name("stdin".to_string())
        .spawn(move || copy_input(input, &writer))?;
    let mut failed_output = None;
    let ended = read_lines(&stream, |line| {
        let event = tracker.line(&line);
        let printed = writeln!(output, "{}", painter.incoming(&line, tracker.name()))
            .and_then(|()| output.flush());
        if let Err(e) = printed {
            failed_output = Some(e);
            return ControlFlow::Break(());
        }
        if let Some(NameEvent::Refused { name, reason }) = event {
            let _ = writeln!(status, "{}", refusal(&name, &reason));
        }
        ControlFlow::Continue(())
    });
    if let Some(e) = failed_output {
        return Err(e);
    }
    if let Ended::Failed(e) = ended {
        let _ = writeln!(status, "Connection error: {e}");
    }
    let _ = writeln!(status, "Disconnected from the server.");
    Ok(())
}

/// Sends every input line, then half-closes so the server sees the end.
///
/// Each line is cleaned first ([`clean_typed_line`]): in a terminal's line
/// mode, an arrow key pressed while typing lands in the line as an escape
/// sequence. A line with nothing left to say is not sent.
fn copy_input<R: BufRead>(mut input: R, stream: &TcpStream) {
    let mut line = Vec::new();
    loop {
        line.clear();
        match input.read_until(b'\n', &mut line) {
            Ok(0) | Err(_) => break,
            Ok(_) => {
                let mut clean = clean_typed_line(&line);
                if clean.iter().all(u8::is_ascii_whitespace) {
                    continue;
                }
                clean.push(b'\n');
                if (&*stream).write_all(&clean).is_err() {
                    return;
                }
            }
        }
    }
    let _ = stream.shutdown(Shutdown::Write);
}
