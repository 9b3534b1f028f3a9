//! The switched terminal as an interactive program draws it: the line
//! editor's input line on the bottom row, lines printed above it, each frame
//! written whole. The client's interactive mode and the server's console
//! both draw through a [`Screen`]; what they print is theirs.

use std::fs::File;
use std::io::{self, Write};
use std::os::fd::AsFd;

use super::editor::Editor;
use super::tty::{RawMode, Size};

/// The terminal and its input line, owned by the one thread that draws.
#[derive(Debug)]
pub(crate) struct Screen {
    /// The switched terminal; restored when this is dropped.
    raw: RawMode,
    pub(crate) editor: Editor,
    size: Size,
    out: File,
}

impl Screen {
    /// A screen on this process's terminal, already switched by `raw`, with
    /// `editor`'s input line (and its prompt) at the bottom.
    ///
    /// # Errors
    /// The terminal's descriptor cannot be duplicated.
    pub(crate) fn new(raw: RawMode, editor: Editor) -> io::Result<Screen> {
        Ok(Screen {
            raw,
            editor,
            size: Size::new(),
            out: terminal_output()?,
        })
    }

    /// Prints `above` (if any) above the input line, and draws the input line.
    ///
    /// # Errors
    /// Writing to the terminal failed.
    pub(crate) fn draw(&mut self, above: &[String]) -> io::Result<()> {
        let width = self.size.columns();
        let bytes = if above.is_empty() {
            self.editor.draw(width)
        } else {
            self.editor.print_above(above, width)
        };
        self.write(&bytes)
    }

    /// Reads the terminal's width again, and draws the input line again if
    /// it changed.
    ///
    /// # Errors
    /// Writing to the terminal failed.
    pub(crate) fn check_resize(&mut self) -> io::Result<()> {
        if self.size.read_now() {
            self.draw(&[])?;
        }
        Ok(())
    }

    /// Ctrl-L: clears the screen and draws it again, the last lines printed
    /// and the input line, for the size the terminal has now.
    ///
    /// # Errors
    /// Writing to the terminal failed.
    pub(crate) fn redraw_all(&mut self) -> io::Result<()> {
        self.size.read_now();
        let bytes = self
            .editor
            .redraw_screen(self.size.columns(), self.size.rows());
        self.write(&bytes)
    }

    /// Ctrl-Z: erase the input line, stop until `fg`, then draw it again.
    ///
    /// # Errors
    /// Writing to the terminal failed, or it cannot be switched again.
    pub(crate) fn suspend(&mut self) -> io::Result<()> {
        let erase = self.editor.erase(self.size.columns());
        self.out.write_all(erase.as_bytes())?;
        self.raw.suspend()?;
        self.size.read_now();
        self.draw(&[])
    }

    /// Ends interactive drawing: leaves the half-typed line on screen,
    /// whole, with `note` after it (or, if nothing was typed, erases the
    /// input line for the shell's prompt), writes `then`, and restores the
    /// terminal. Returns the terminal's output for whatever is printed after.
    ///
    /// # Errors
    /// Writing to the terminal failed (it is restored all the same).
    pub(crate) fn close(self, note: &str, then: &str) -> io::Result<File> {
        let Screen {
            raw,
            mut editor,
            mut size,
            mut out,
        } = self;
        let mut bytes = editor.keep(note, size.columns());
        bytes.push_str(then);
        let written = out.write_all(bytes.as_bytes()).and_then(|()| out.flush());
        drop(raw);
        written.map(|()| out)
    }

    fn write(&mut self, bytes: &str) -> io::Result<()> {
        self.out.write_all(bytes.as_bytes())?;
        self.out.flush()
    }
}

/// The terminal, written directly. `io::stdout()` is line-buffered: it
/// would write a message and the redraw after it in two pieces, and the
/// terminal could show the moment in between. A `File` on the same descriptor
/// writes each frame whole, in one system call.
fn terminal_output() -> io::Result<File> {
    Ok(File::from(io::stdout().as_fd().try_clone_to_owned()?))
}
