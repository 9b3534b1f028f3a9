//! Plain line mode, for pipes, files, Windows, and any terminal where
//! interactive mode is not possible: a `stdin` thread sends whole input lines,
//! the calling thread prints the server's lines.

use std::io::{self, BufRead, Write};
use std::net::{Shutdown, TcpStream};
use std::ops::ControlFlow;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;

use super::ending::{Ending, LastWord};
use super::incoming::{read_lines, Ended};
use super::names::{refusal, NameEvent, NameTracker};
use super::render::Painter;
use crate::term::clean_typed_line;

/// Runs a plain session on a connected `stream`: every line of `input` goes
/// to the server, every line from the server to `output`, status lines to
/// `status`. Returns how the connection ended, once the server has closed
/// it: the end of `input` counts as you quitting.
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
) -> io::Result<Ending>
where
    R: BufRead + Send + 'static,
{
    let writer = stream.clone();
    let input_ended = Arc::new(AtomicBool::new(false));
    let ended_flag = input_ended.clone();
    // Nobody joins this thread: it may sit in a blocking read of stdin forever,
    // and the process ends without it once the server has gone.
    thread::Builder::new()
        .name("stdin".to_string())
        .spawn(move || copy_input(input, &writer, &ended_flag))?;
    let mut failed_output = None;
    let mut last_word = LastWord::default();
    let ended = read_lines(&stream, |line| {
        last_word.line(&line);
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
    let failure = match ended {
        Ended::Failed(e) => {
            let _ = writeln!(status, "Connection error: {e}");
            Some(e)
        }
        Ended::Closed | Ended::Stopped => None,
    };
    let _ = writeln!(status, "Disconnected from the server.");
    // The input thread sets the flag before it half-closes, and the server
    // closes only after it has seen that: the flag is set by now if the
    // input's end is what ended the session.
    Ok(last_word.ending(input_ended.load(Ordering::SeqCst), failure))
}

/// Sends every input line, then notes in `input_ended` that you are done and
/// half-closes so the server sees the end.
///
/// Each line is cleaned first ([`clean_typed_line`]): in a terminal's line
/// mode, an arrow key pressed while typing lands in the line as an escape
/// sequence. A line with nothing left to say is not sent.
fn copy_input<R: BufRead>(mut input: R, stream: &TcpStream, input_ended: &AtomicBool) {
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
    input_ended.store(true, Ordering::SeqCst);
    let _ = stream.shutdown(Shutdown::Write);
}
