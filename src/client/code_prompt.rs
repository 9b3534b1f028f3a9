//! The class code asked for on the input line (interactive mode): a fresh
//! editor behind a `code>` prompt takes it, while the chat's editor, with
//! the line half-typed in it, waits aside. `interactive.rs` asks and hands
//! the code on.

use super::render::Painter;
use crate::term::Editor;

/// The prompt while the class code is asked for.
const CODE_PROMPT: &str = "code> ";
/// What the user is told when the server asks for the code.
const ASKED: &str = "This class needs a code: type it and press Enter.";

/// Whether the class code is asked for, and meanwhile the chat's editor.
#[derive(Debug, Default)]
pub(crate) struct CodePrompt {
    /// The chat's editor while a fresh one takes the code: the code never
    /// joins the chat's history (Up), nor stays on the screen.
    chat_editor: Option<Editor>,
}

impl CodePrompt {
    /// True while the code is asked for: the next line sent is the code.
    pub(crate) fn asking(&self) -> bool {
        self.chat_editor.is_some()
    }

    /// Asks for the code: the chat's editor, `editor` on the screen, is
    /// put aside for a fresh one (once, however often the server asks).
    /// Returns what the user is told.
    pub(crate) fn ask(&mut self, editor: &mut Editor) -> &'static str {
        if self.chat_editor.is_none() {
            self.chat_editor = Some(std::mem::replace(editor, Editor::new()));
        }
        ASKED
    }

    /// The code was typed, or the session ends: the chat's editor, with
    /// its half-typed line, is back on the screen as `editor`.
    pub(crate) fn done(&mut self, editor: &mut Editor) {
        if let Some(chat) = self.chat_editor.take() {
            *editor = chat;
        }
    }

    /// While the code is asked for, the prompt: plain to measure it, and
    /// styled to draw it.
    pub(crate) fn prompt(&self, painter: Painter) -> Option<(String, String)> {
        self.asking()
            .then(|| (CODE_PROMPT.to_string(), painter.status(CODE_PROMPT)))
    }
}
