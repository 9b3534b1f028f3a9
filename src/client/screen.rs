//! The terminal as interactive mode draws it: the switched terminal, the line
//! editor's input line at the bottom, and the lines printed above it. It
//! outlives a connection, and with it the half-typed line.

use std::fs::File;
use std::io::{self, Write};
use std::os::fd::AsFd;

use super::render::Painter;
use crate::term::{Editor, RawMode, Size};

/// Everything on the screen, owned by the one thread that draws.
#[derive(Debug)]
pub(crate) struct Screen {
    /// The switched terminal; restored when this is dropped.
    raw: RawMode,
    pub(crate) editor: Editor,
    pub(crate) painter: Painter,
    size: Size,
    out: File,
}

impl Screen {
    /// A screen on this process's terminal, already switched by `raw`.
    ///
    /// # Errors
    /// The terminal's descriptor cannot be duplicated.
    pub(crate) fn new(raw: RawMode, painter: Painter) -> io::Result<Screen> {
        Ok(Screen {
            raw,
            editor: Editor::new(),
            painter,
            size: Size::new(),
            out: terminal_output()?,
        })
    }

    /// Sets the prompt: `plain` to measure it, `styled` to draw it.
    pub(crate) fn set_prompt(&mut self, plain: &str, styled: &str) {
        self.editor.set_prompt(plain, styled);
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

    /// Ends interactive mode: leaves the half-typed line on screen, whole,
    /// with `note` after it (or, if nothing was typed, erases the input line
    /// for the shell's prompt), and restores the terminal. Returns the
    /// terminal's output for whatever is printed after.
    ///
    /// # Errors
    /// Writing to the terminal failed (it is restored all the same).
    pub(crate) fn close(self, note: &str) -> io::Result<File> {
        let Screen {
            raw,
            mut editor,
            painter,
            mut size,
            mut out,
        } = self;
        let bytes = editor.keep(&painter.status(note), size.columns());
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
