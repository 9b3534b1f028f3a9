//! A line editor as a pure state machine: keyboard bytes in, [`Action`]s and
//! the exact bytes to draw out. Whoever owns the terminal (the client's
//! interactive mode, the server's console) does the I/O; everything here is
//! tested without one.

use super::complete::{Completer, Cycle};
use super::history::History;
use super::keys::{Key, KeyDecoder};
use super::recent::Recent;
use super::width::{char_width, str_width};
use super::words::{spaced_word_start_before, word_end_after, word_start_before};

/// What a key press asks the program to do, beyond redrawing the input line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Action {
    /// Enter on a line that is not blank: send it.
    Send(String),
    /// Ctrl-D on an empty line: the end of input.
    Quit,
    /// Ctrl-C. The client quits as it does at Ctrl-D; the server's console
    /// stops the server, as Ctrl-C does anywhere else.
    Interrupt,
    /// Ctrl-Z: stop the process until the shell's `fg`.
    Suspend,
    /// Ctrl-L: clear the screen and draw it again
    /// ([`Editor::redraw_screen`]), as the terminal may have been
    /// scribbled on by another program.
    Redraw,
}

/// Below this many free columns for text, the prompt is not drawn at all.
const MIN_TEXT_COLUMNS: usize = 8;
/// Below this many columns for text, a scrolled line has no `<` and `>`
/// markers: they would leave too little room to see what is typed.
const MIN_MARKER_COLUMNS: usize = 8;
/// Drawn at the left edge when the line goes on to the left, and at the
/// right edge when it goes on to the right. Plain characters, so they show
/// on any terminal and need no colour (`NO_COLOR` keeps them); the cursor
/// never stands on one.
const MORE_LEFT: char = '<';
const MORE_RIGHT: char = '>';

/// The input line being typed, its cursor, the prompt in front of it, the
/// lines sent this session, and the lines printed above it lately.
///
/// The screen model is one terminal row: the prompt, then as much of the line
/// as fits, scrolled horizontally so the cursor is always visible, with `<`
/// at the left edge when there is more to the left and `>` at the right edge
/// when there is more to the right. The last column is never written (only
/// the cursor may stand there), so the terminal never wraps the input onto a
/// second row, which a redraw could not clear.
#[derive(Debug)]
pub(crate) struct Editor {
    decoder: KeyDecoder,
    line: Vec<char>,
    /// Index into `line` (characters, not bytes) of the character the cursor
    /// stands on; `line.len()` at the end.
    cursor: usize,
    /// Index of the first character drawn; more than 0 when the line is wider
    /// than the room for it.
    scroll: usize,
    prompt_plain: String,
    prompt_styled: String,
    /// The lines sent, for Up and Down.
    history: History,
    /// The width the line was last drawn for (0: not drawn yet), and the
    /// column the cursor was left in: where a resize finds it.
    drawn_width: usize,
    drawn_cursor_column: usize,
    /// A Tab completion under way (nothing but Tabs pressed since it began).
    cycle: Option<Cycle>,
    /// What was printed above the input line, for Ctrl-L.
    recent: Recent,
}

impl Editor {
    pub(crate) fn new() -> Self {
        Editor {
            decoder: KeyDecoder::new(),
            line: Vec::new(),
            cursor: 0,
            scroll: 0,
            prompt_plain: String::new(),
            prompt_styled: String::new(),
            history: History::default(),
            drawn_width: 0,
            drawn_cursor_column: 0,
            cycle: None,
            recent: Recent::default(),
        }
    }

    /// Sets the prompt: `plain` to measure it, `styled` (the same text,
    /// perhaps with colour codes) to draw it.
    pub(crate) fn set_prompt(&mut self, plain: &str, styled: &str) {
        self.prompt_plain = plain.to_string();
        self.prompt_styled = styled.to_string();
    }

    /// The text typed so far.
    #[cfg(test)]
    pub(crate) fn text(&self) -> String {
        self.line.iter().collect()
    }

    /// Feeds keyboard bytes (any piece of them: a key may be split across
    /// calls) and returns what the keys ask for, in order; Tab asks
    /// `completer`. The caller redraws the line afterwards with
    /// [`Editor::draw`].
    pub(crate) fn feed(&mut self, bytes: &[u8], completer: &dyn Completer) -> Vec<Action> {
        let mut keys = Vec::new();
        self.decoder.feed(bytes, &mut keys);
        keys.into_iter()
            .filter_map(|key| self.press(key, completer))
            .collect()
    }

    /// Applies one key.
    fn press(&mut self, key: Key, completer: &dyn Completer) -> Option<Action> {
        // Any key but Tab and Shift-Tab ends a completion under way.
        let cycle = self.cycle.take();
        match key {
            Key::Char(c) => {
                self.line.insert(self.cursor, c);
                self.cursor += 1;
            }
            Key::Backspace if self.cursor > 0 => {
                self.cursor -= 1;
                self.line.remove(self.cursor);
            }
            Key::Delete if self.cursor < self.line.len() => {
                self.line.remove(self.cursor);
            }
            Key::Left => self.cursor = self.cursor.saturating_sub(1),
            Key::Right => self.cursor = (self.cursor + 1).min(self.line.len()),
            Key::WordLeft => self.cursor = word_start_before(&self.line, self.cursor),
            Key::WordRight => self.cursor = word_end_after(&self.line, self.cursor),
            Key::Home => self.cursor = 0,
            Key::End => self.cursor = self.line.len(),
            Key::ClearLine => {
                self.line.clear();
                self.cursor = 0;
            }
            Key::DeleteSpaceWord => {
                let start = spaced_word_start_before(&self.line, self.cursor);
                self.line.drain(start..self.cursor);
                self.cursor = start;
            }
            Key::DeleteWordBefore => {
                let start = word_start_before(&self.line, self.cursor);
                self.line.drain(start..self.cursor);
                self.cursor = start;
            }
            Key::DeleteWordAfter => {
                let end = word_end_after(&self.line, self.cursor);
                self.line.drain(self.cursor..end);
            }
            Key::Tab => self.complete(cycle, true, completer),
            Key::BackTab => self.complete(cycle, false, completer),
            Key::Up => {
                if self.history.back(&mut self.line) {
                    self.cursor = self.line.len();
                }
            }
            Key::Down => {
                if self.history.forward(&mut self.line) {
                    self.cursor = self.line.len();
                }
            }
            Key::Enter => return self.enter(),
            Key::EndOfInput if self.line.is_empty() => return Some(Action::Quit),
            Key::EndOfInput => return self.press(Key::Delete, completer),
            Key::Interrupt => return Some(Action::Interrupt),
            Key::Suspend => return Some(Action::Suspend),
            Key::Redraw => return Some(Action::Redraw),
            // Backspace at the start, Delete at the end.
            Key::Backspace | Key::Delete => {}
        }
        None
    }

    /// Tab (`forward`) or Shift-Tab: the next choice of a completion under
    /// way, or a new completion of the word before the cursor (the
    /// characters since the last space). An empty word, or one with no
    /// choices, is left as it is.
    fn complete(&mut self, cycle: Option<Cycle>, forward: bool, completer: &dyn Completer) {
        let mut cycle = match cycle {
            Some(mut cycle) => {
                cycle.step(forward);
                cycle
            }
            None => {
                let start = self.line[..self.cursor]
                    .iter()
                    .rposition(|c| c.is_whitespace())
                    .map_or(0, |at| at + 1);
                if start == self.cursor {
                    return;
                }
                let before: String = self.line[..start].iter().collect();
                let word: String = self.line[start..self.cursor].iter().collect();
                let choices = completer.choices(&before, &word);
                if choices.is_empty() {
                    return;
                }
                Cycle::new(start, self.cursor - start, choices, forward)
            }
        };
        let choice: Vec<char> = cycle.shown().chars().collect();
        let end = cycle.start + cycle.len;
        self.cursor = cycle.start + choice.len();
        cycle.len = choice.len();
        self.line.splice(cycle.start..end, choice);
        self.cycle = Some(cycle);
    }

    fn enter(&mut self) -> Option<Action> {
        let text: String = self.line.drain(..).collect();
        self.cursor = 0;
        self.scroll = 0;
        self.history.stop_browsing();
        // The server ignores a blank line; sending it would only cost a
        // rate-limit token.
        if text.trim().is_empty() {
            return None;
        }
        self.history.push(&text);
        Some(Action::Send(text))
    }

    /// The bytes that redraw the input line on a terminal `width` columns wide
    /// and leave the cursor where it belongs: back to the start of the input
    /// line, erase it, the prompt, the visible part of the line, then column 0
    /// again and right to the cursor.
    pub(crate) fn draw(&mut self, width: usize) -> String {
        let mut out = self.back_to_start(width);
        self.draw_line(width, &mut out);
        out
    }

    /// The bytes that print `lines` above the input line: erase the input
    /// line, print each line and end it, then draw the input line again below
    /// them. Nothing typed is lost or moved.
    pub(crate) fn print_above(&mut self, lines: &[String], width: usize) -> String {
        let mut out = self.back_to_start(width);
        for line in lines {
            out.push_str(line);
            // `\r\n` rather than `\n`: correct even if the terminal's output
            // processing (which turns `\n` into `\r\n`) were switched off.
            out.push_str("\r\n");
            self.recent.push(line);
        }
        self.draw_line(width, &mut out);
        out
    }

    /// The bytes that clear the screen and draw it again, for a terminal
    /// `width` columns by `rows` rows: the last lines printed above the input
    /// line, as many as fit above it, then the input line.
    pub(crate) fn redraw_screen(&mut self, width: usize, rows: usize) -> String {
        // Home, then erase the whole screen (the scrollback stays).
        let mut out = String::from("\x1b[H\x1b[2J");
        for line in self
            .recent
            .last_screen(width.max(2), rows.saturating_sub(1))
        {
            out.push_str(line);
            out.push_str("\r\n");
        }
        self.draw_line(width, &mut out);
        out
    }

    /// The bytes that erase the input line and leave the cursor at its start,
    /// for whatever is printed next (the shell's prompt, at the end).
    pub(crate) fn erase(&mut self, width: usize) -> String {
        let out = self.back_to_start(width);
        // The cursor is at column 0 now, wherever the next drawing starts.
        self.drawn_cursor_column = 0;
        out
    }

    /// The bytes that leave the input line on screen for good, when editing
    /// ends with something typed and not sent: the prompt, the whole line
    /// (not scrolled: nothing redraws it now, so it may wrap), a space and
    /// `note`, then the start of the next row. A line of nothing but spaces
    /// is erased instead, as [`Editor::erase`] does.
    pub(crate) fn keep(&mut self, note: &str, width: usize) -> String {
        let mut out = self.erase(width);
        if self.line.iter().all(|c| c.is_whitespace()) {
            return out;
        }
        out.push_str(&self.prompt_styled);
        out.extend(&self.line);
        if !note.is_empty() {
            out.push(' ');
            out.push_str(note);
        }
        out.push_str("\r\n");
        out
    }

    /// Moves the cursor to column 0 of the input line and erases from there
    /// to the end of the screen (`ESC [ J`; only the input line is below).
    ///
    /// A resize can move the cursor. The line was drawn to fit the old width;
    /// if the window got narrower than the cursor's column, a terminal that
    /// reflows its text (tmux, VTE, Konsole, kitty, iTerm2, Windows Terminal:
    /// most today) has wrapped the row, and the cursor with it, onto the rows
    /// below. So the cursor first goes up as many rows as the wrap moved it.
    /// The road not taken: asking the terminal where its cursor is (`ESC [ 6 n`)
    /// would cover terminals that cut rows instead (xterm), but its answer
    /// comes back mixed with the keys, later. On those, the cost of guessing
    /// "reflow" is that a few chat lines just above the input line are erased
    /// from view; the input line itself is right either way.
    fn back_to_start(&mut self, width: usize) -> String {
        let width = width.max(2);
        let mut out = String::new();
        if self.drawn_width != 0 && width != self.drawn_width {
            let rows_up = self.drawn_cursor_column / width;
            if rows_up > 0 {
                out.push_str(&format!("\x1b[{rows_up}A"));
            }
        }
        out.push_str("\r\x1b[J");
        out
    }

    /// Appends the prompt, the visible part of the line with its markers,
    /// and the cursor movement, the cursor being at column 0 of the input line.
    fn draw_line(&mut self, width: usize, out: &mut String) {
        let width = width.max(2);
        let mut prompt_width = str_width(&self.prompt_plain);
        let show_prompt = prompt_width + MIN_TEXT_COLUMNS < width;
        if !show_prompt {
            prompt_width = 0;
        }
        let room = width - 1 - prompt_width;
        let (more_left, more_right) = self.scroll_to_cursor(room);
        if show_prompt {
            out.push_str(&self.prompt_styled);
        }
        let mut used = 0;
        if more_left {
            out.push(MORE_LEFT);
            used += 1;
        }
        // With a `>`, the text stops one column short of it.
        let text_room = room - usize::from(more_right);
        let mut cursor_column = prompt_width + used;
        for (i, &c) in self.line.iter().enumerate().skip(self.scroll) {
            if i == self.cursor {
                cursor_column = prompt_width + used;
            }
            let w = char_width(c);
            if used + w > text_room {
                break;
            }
            used += w;
            out.push(c);
        }
        if self.cursor == self.line.len() {
            cursor_column = prompt_width + used;
        }
        if more_right {
            // A wide character that did not fit leaves a gap before the `>`.
            out.extend(std::iter::repeat(' ').take(text_room - used));
            out.push(MORE_RIGHT);
        }
        out.push('\r');
        if cursor_column > 0 {
            // `ESC [ 0 C` would move one column on most terminals, hence the test.
            out.push_str(&format!("\x1b[{cursor_column}C"));
        }
        self.drawn_width = width;
        self.drawn_cursor_column = cursor_column;
    }

    /// Columns the characters `from..to` of the line take.
    fn columns(&self, from: usize, to: usize) -> usize {
        self.line[from..to].iter().map(|&c| char_width(c)).sum()
    }

    /// Whether, with the line drawn from `scroll` in `room` columns, the
    /// cursor and the character under it are in view, markers counted.
    fn cursor_in_view(&self, scroll: usize, room: usize, markers: bool) -> bool {
        let left = usize::from(markers && scroll > 0);
        // All the rest fits: no `>`, and the cursor may stand just after the
        // text, in the terminal's last column.
        if self.rest_fits(scroll, room, markers) {
            return true;
        }
        let under_cursor = self
            .line
            .get(self.cursor)
            .map_or(1, |&c| char_width(c).max(1));
        let right = usize::from(markers);
        left + self.columns(scroll, self.cursor) + under_cursor + right <= room
    }

    /// Moves `scroll` so the cursor, and the character under it, are in view
    /// in `room` columns, scrolling as little as it can; scrolls back when
    /// the line has become short enough to show more. Says which markers the
    /// line needs: `<` (more to the left) and `>` (more to the right).
    fn scroll_to_cursor(&mut self, room: usize) -> (bool, bool) {
        let markers = room >= MIN_MARKER_COLUMNS;
        self.scroll = self.scroll.min(self.cursor);
        while self.scroll < self.cursor && !self.cursor_in_view(self.scroll, room, markers) {
            self.scroll += 1;
        }
        while self.scroll > 0 && self.rest_fits(self.scroll - 1, room, markers) {
            self.scroll -= 1;
        }
        let more_left = markers && self.scroll > 0;
        let more_right = markers && !self.rest_fits(self.scroll, room, markers);
        (more_left, more_right)
    }

    /// Whether the whole line from `scroll` on fits in `room` columns (with
    /// a `<` before it if it is scrolled and `markers` are drawn).
    fn rest_fits(&self, scroll: usize, room: usize, markers: bool) -> bool {
        usize::from(markers && scroll > 0) + self.columns(scroll, self.line.len()) <= room
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::term::complete::NoCompletion;

    impl Editor {
        /// Feeds `bytes` with nothing to complete.
        fn keys(&mut self, bytes: &[u8]) -> Vec<Action> {
            self.feed(bytes, &NoCompletion)
        }
    }

    fn editor() -> Editor {
        let mut editor = Editor::new();
        editor.set_prompt("ann> ", "ann> ");
        editor
    }

    /// Feeds `bytes` and returns the line, with `|` where the cursor is.
    fn after(editor: &mut Editor, bytes: &[u8]) -> String {
        editor.keys(bytes);
        let mut shown: String = editor.line[..editor.cursor].iter().collect();
        shown.push('|');
        shown.extend(&editor.line[editor.cursor..]);
        shown
    }

    #[test]
    fn typing_inserts_at_the_cursor() {
        let mut e = editor();
        assert_eq!(after(&mut e, b"helo"), "helo|");
        assert_eq!(after(&mut e, b"\x1b[D\x1b[Dl"), "hel|lo");
        assert_eq!(after(&mut e, b"\x1b[C\x1b[C!"), "hello!|");
    }

    #[test]
    fn backspace_both_spellings_and_at_the_start() {
        let mut e = editor();
        assert_eq!(after(&mut e, b"abcd\x7f"), "abc|");
        assert_eq!(after(&mut e, b"\x08"), "ab|");
        assert_eq!(after(&mut e, b"\x01\x7f"), "|ab");
    }

    #[test]
    fn delete_removes_under_the_cursor_and_not_past_the_end() {
        let mut e = editor();
        assert_eq!(after(&mut e, b"abc\x01\x1b[3~"), "|bc");
        assert_eq!(after(&mut e, b"\x05\x1b[3~"), "bc|");
    }

    #[test]
    fn left_right_stop_at_the_ends() {
        let mut e = editor();
        assert_eq!(after(&mut e, b"ab\x1b[D\x1b[D\x1b[D"), "|ab");
        assert_eq!(after(&mut e, b"\x1b[C\x1b[C\x1b[C"), "ab|");
    }

    #[test]
    fn home_and_end_in_every_spelling() {
        let mut e = editor();
        e.keys(b"abc");
        for (home, end) in [
            (&b"\x1b[H"[..], &b"\x1b[F"[..]),
            (b"\x1bOH", b"\x1bOF"),
            (b"\x1b[1~", b"\x1b[4~"),
            (b"\x01", b"\x05"),
        ] {
            assert_eq!(after(&mut e, home), "|abc");
            assert_eq!(after(&mut e, end), "abc|");
        }
    }

    #[test]
    fn ctrl_u_clears_the_line() {
        let mut e = editor();
        assert_eq!(after(&mut e, b"some text\x1b[D\x15"), "|");
    }

    #[test]
    fn ctrl_w_deletes_the_word_before_the_cursor() {
        let mut e = editor();
        assert_eq!(after(&mut e, b"one two  \x17"), "one |");
        assert_eq!(after(&mut e, b"three\x1b[D\x1b[D\x17"), "one |ee");
        assert_eq!(after(&mut e, b"\x17\x17"), "|ee");
    }

    #[test]
    fn multibyte_characters_count_as_one() {
        let mut e = editor();
        assert_eq!(after(&mut e, "café ✓".as_bytes()), "café ✓|");
        assert_eq!(after(&mut e, b"\x7f\x7f\x1b[D\x7f"), "ca|é");
        // A character split across two reads.
        let bytes = "ü".as_bytes();
        e.keys(&bytes[..1]);
        assert_eq!(after(&mut e, &bytes[1..]), "caü|é");
    }

    #[test]
    fn enter_sends_and_clears_blank_lines_are_not_sent() {
        let mut e = editor();
        assert_eq!(e.keys(b"hello\r"), [Action::Send("hello".into())]);
        assert_eq!(e.text(), "");
        assert_eq!(e.keys(b"   \n"), []);
        assert_eq!(e.text(), "");
        // A paste of two lines sends both, in order, and keeps the unfinished third.
        assert_eq!(
            e.keys(b"one\ntwo\nthr"),
            [Action::Send("one".into()), Action::Send("two".into())]
        );
        assert_eq!(e.text(), "thr");
    }

    #[test]
    fn ctrl_d_quits_only_on_an_empty_line() {
        let mut e = editor();
        assert_eq!(after(&mut e, b"ab\x01\x04"), "|b");
        assert_eq!(e.keys(b"\x04"), []);
        assert_eq!(e.keys(b"\x04"), [Action::Quit]);
    }

    #[test]
    fn ctrl_c_interrupts_even_with_text() {
        let mut e = editor();
        assert_eq!(e.keys(b"half typed\x03more"), [Action::Interrupt]);
    }

    #[test]
    fn ctrl_z_suspends_and_keeps_the_line() {
        let mut e = editor();
        assert_eq!(e.keys(b"half\x1a"), [Action::Suspend]);
        assert_eq!(after(&mut e, b"way"), "halfway|");
    }

    #[test]
    fn history_goes_back_and_forward_and_keeps_the_draft() {
        let mut e = editor();
        e.keys(b"first\rsecond\rsecond\rdraft");
        assert_eq!(after(&mut e, b"\x1b[A"), "second|");
        assert_eq!(after(&mut e, b"\x1b[A"), "first|");
        // Only two entries: the repeated line was kept once.
        assert_eq!(after(&mut e, b"\x1b[A"), "first|");
        assert_eq!(after(&mut e, b"\x1b[B"), "second|");
        assert_eq!(after(&mut e, b"\x1b[B"), "draft|");
        assert_eq!(after(&mut e, b"\x1b[B"), "draft|");
        // An entry can be edited and sent.
        e.keys(b"\x15\x1b[A\x1b[A");
        assert_eq!(e.keys(b"!\r"), [Action::Send("first!".into())]);
        assert_eq!(after(&mut e, b"\x1b[A"), "first!|");
    }

    #[test]
    fn history_is_empty_at_first() {
        let mut e = editor();
        assert_eq!(after(&mut e, b"x\x1b[A\x1b[B"), "x|");
    }

    #[test]
    fn draw_puts_prompt_text_and_cursor() {
        let mut e = editor();
        e.keys(b"hello");
        assert_eq!(e.draw(80), "\r\x1b[Jann> hello\r\x1b[10C");
        e.keys(b"\x01");
        assert_eq!(e.draw(80), "\r\x1b[Jann> hello\r\x1b[5C");
        // No prompt and the cursor at column 0: no movement at all.
        let mut bare = Editor::new();
        assert_eq!(bare.draw(80), "\r\x1b[J\r");
    }

    #[test]
    fn the_prompt_is_drawn_styled_but_measured_plain() {
        let mut e = Editor::new();
        e.set_prompt("ann> ", "\x1b[32mann\x1b[0m> ");
        e.keys(b"hi");
        assert_eq!(e.draw(80), "\r\x1b[J\x1b[32mann\x1b[0m> hi\r\x1b[7C");
    }

    #[test]
    fn an_incoming_line_is_printed_above_and_the_typing_redrawn() {
        let mut e = editor();
        e.keys(b"half typ\x1b[D");
        let out = e.print_above(&["> bob: hello ann".to_string()], 80);
        assert_eq!(out, "\r\x1b[J> bob: hello ann\r\nann> half typ\r\x1b[12C");
        // Typing goes on where it was.
        assert_eq!(after(&mut e, b"e"), "half tye|p");
    }

    #[test]
    fn several_lines_above_need_one_redraw() {
        let mut e = editor();
        e.keys(b"x");
        let out = e.print_above(&["* a".to_string(), "* b".to_string()], 80);
        assert_eq!(out, "\r\x1b[J* a\r\n* b\r\nann> x\r\x1b[6C");
    }

    #[test]
    fn a_long_line_scrolls_with_markers_and_never_touches_the_last_column() {
        // 20 columns: 5 for the prompt, 14 for text, the last one left free.
        let mut e = editor();
        e.keys(b"abcdefghijklmnopqrstuvwxyz");
        // More to the left: `<`, and the cursor in the last column.
        assert_eq!(e.draw(20), "\r\x1b[Jann> <nopqrstuvwxyz\r\x1b[19C");
        // Home shows the start again, cut to the room there is: `>`.
        e.keys(b"\x01");
        assert_eq!(e.draw(20), "\r\x1b[Jann> abcdefghijklm>\r\x1b[5C");
        // Moving right past the edge scrolls by as little as needed; the
        // cursor never stands on a marker.
        e.keys(&b"\x1b[C".repeat(14));
        assert_eq!(e.draw(20), "\r\x1b[Jann> <defghijklmno>\r\x1b[17C");
        // Back to the end of a line that fits again: no markers.
        e.keys(b"\x05");
        e.keys(&[0x7f; 12]);
        assert_eq!(e.draw(20), "\r\x1b[Jann> abcdefghijklmn\r\x1b[19C");
    }

    #[test]
    fn deleting_from_a_scrolled_line_scrolls_back() {
        let mut e = editor();
        e.keys(b"abcdefghijklmnopqrstuvwxyz");
        e.draw(20);
        e.keys(&[0x7f; 12]);
        assert_eq!(e.draw(20), "\r\x1b[Jann> abcdefghijklmn\r\x1b[19C");
    }

    #[test]
    fn wide_characters_are_measured() {
        let mut e = editor();
        e.keys("漢字漢字漢字漢字".as_bytes());
        // Room for 14 columns: `<` and six wide characters; the cursor after them.
        assert_eq!(e.draw(20), "\r\x1b[Jann> <漢字漢字漢字\r\x1b[18C");
        // From the start: six, a gap where a seventh does not fit, then `>`.
        e.keys(b"\x01");
        assert_eq!(e.draw(20), "\r\x1b[Jann> 漢字漢字漢字 >\r\x1b[5C");
    }

    #[test]
    fn a_narrow_terminal_drops_the_prompt_rather_than_wrap() {
        let mut e = editor();
        e.keys(b"abcdefghij");
        assert_eq!(e.draw(10), "\r\x1b[J<cdefghij\r\x1b[9C");
        // Even a silly width draws something sane.
        let mut e = editor();
        e.keys(b"abcdefghij");
        assert_eq!(e.draw(0), "\r\x1b[Jj\r\x1b[1C");
    }

    #[test]
    fn a_resize_redraws_for_the_new_width() {
        let mut e = editor();
        e.keys(b"abcdefghijklmnopqrstuvwxyz");
        assert_eq!(
            e.draw(40),
            "\r\x1b[Jann> abcdefghijklmnopqrstuvwxyz\r\x1b[31C"
        );
        // Narrower than the cursor's column (31): a reflowing terminal has
        // wrapped the row and moved the cursor one row down; go up first.
        assert_eq!(e.draw(20), "\x1b[1A\r\x1b[Jann> <nopqrstuvwxyz\r\x1b[19C");
        // Wider: nothing was wrapped.
        assert_eq!(
            e.draw(40),
            "\r\x1b[Jann> abcdefghijklmnopqrstuvwxyz\r\x1b[31C"
        );
        // Narrower, but the cursor's column still fits: it stayed on its row,
        // and the erase to the end of the screen removes the wrapped tail.
        e.keys(b"\x01");
        e.draw(40);
        assert_eq!(e.draw(10), "\r\x1b[Jabcdefgh>\r");
    }

    #[test]
    fn a_resize_seen_with_an_incoming_line_is_handled_first() {
        let mut e = editor();
        e.keys(b"abcdefghijklmnopqrstuvwxyz");
        e.draw(40);
        assert_eq!(
            e.print_above(&["* hi".to_string()], 15),
            "\x1b[2A\r\x1b[J* hi\r\nann> <stuvwxyz\r\x1b[14C"
        );
    }

    #[test]
    fn markers_need_room() {
        // 10 columns and no prompt: 9 for text, markers.
        let mut e = Editor::new();
        e.keys(b"abcdefghijkl\x01");
        assert_eq!(e.draw(10), "\r\x1b[Jabcdefgh>\r");
        // 8 columns: 7 for text, too few to give two of them to markers.
        assert_eq!(e.draw(8), "\r\x1b[Jabcdefg\r");
        e.keys(b"\x05");
        assert_eq!(e.draw(8), "\r\x1b[Jfghijkl\r\x1b[7C");
    }

    #[test]
    fn alt_and_ctrl_keys_move_and_delete_by_word() {
        let mut e = editor();
        assert_eq!(
            after(&mut e, b"/msg bob hello,world"),
            "/msg bob hello,world|"
        );
        // Alt-b and Ctrl-Left.
        assert_eq!(after(&mut e, b"\x1bb"), "/msg bob hello,|world");
        assert_eq!(after(&mut e, b"\x1b[1;5D"), "/msg bob |hello,world");
        assert_eq!(after(&mut e, b"\x1bb\x1bb"), "/|msg bob hello,world");
        // Alt-f and Ctrl-Right go to the end of the next word.
        assert_eq!(after(&mut e, b"\x1bf"), "/msg| bob hello,world");
        assert_eq!(after(&mut e, b"\x1b[1;5C"), "/msg bob| hello,world");
        // Alt-d deletes to the end of the next word, Alt-Backspace to the
        // start of the one before; Ctrl-W back to the space.
        assert_eq!(after(&mut e, b"\x1bd"), "/msg bob|,world");
        assert_eq!(after(&mut e, b"\x1b\x7f"), "/msg |,world");
        assert_eq!(after(&mut e, b"\x05\x17"), "/msg |");
        // At the ends of the line, nothing happens.
        assert_eq!(after(&mut e, b"\x1bf\x1bd"), "/msg |");
        assert_eq!(after(&mut e, b"\x01\x1bb\x1b\x7f"), "|/msg ");
    }

    /// Offers names that start with the word, as the client's completer does.
    struct Names(&'static [&'static str]);

    impl Completer for Names {
        fn choices(&self, before: &str, word: &str) -> Vec<String> {
            let after = if before.is_empty() { ": " } else { " " };
            self.0
                .iter()
                .filter(|n| n.starts_with(word))
                .map(|n| format!("{n}{after}"))
                .collect()
        }
    }

    #[test]
    fn tab_completes_and_cycles_and_any_other_key_keeps_the_choice() {
        let names = Names(&["bob", "bea", "carl"]);
        let mut e = editor();
        let tab = |e: &mut Editor, bytes: &[u8]| {
            e.feed(bytes, &names);
            let mut shown: String = e.line[..e.cursor].iter().collect();
            shown.push('|');
            shown.extend(&e.line[e.cursor..]);
            shown
        };
        assert_eq!(tab(&mut e, b"b\t"), "bob: |");
        assert_eq!(tab(&mut e, b"\t"), "bea: |");
        // Round at the end; Shift-Tab goes back.
        assert_eq!(tab(&mut e, b"\t"), "bob: |");
        assert_eq!(tab(&mut e, b"\x1b[Z"), "bea: |");
        // Typing ends the cycle; the next Tab completes the new word.
        assert_eq!(tab(&mut e, b"hi c\t"), "bea: hi carl |");
        assert_eq!(tab(&mut e, b"\t"), "bea: hi carl |");
        // Mid-line: only the part before the cursor is the word.
        assert_eq!(tab(&mut e, b"\x15see you\x01b\t"), "bob: |see you");
        // Nothing to complete: no change, no cycle.
        assert_eq!(tab(&mut e, b"\x15zed\t\t"), "zed|");
        assert_eq!(tab(&mut e, b" \t"), "zed |");
        // Shift-Tab first starts from the last choice.
        assert_eq!(tab(&mut e, b"\x15b\x1b[Z"), "bea: |");
        // A Tab never becomes a character.
        assert!(!e.text().contains('\t'));
    }

    #[test]
    fn ctrl_l_redraws_the_screen_from_the_lines_printed() {
        let mut e = editor();
        assert_eq!(e.keys(b"typ\x0c"), [Action::Redraw]);
        e.print_above(&["* one".into(), "* two".into(), "* three".into()], 80);
        // Room for two lines above the input line on a 3-row terminal.
        assert_eq!(
            e.redraw_screen(80, 3),
            "\x1b[H\x1b[2J* two\r\n* three\r\nann> typ\r\x1b[8C"
        );
        assert_eq!(
            e.redraw_screen(80, 24),
            "\x1b[H\x1b[2J* one\r\n* two\r\n* three\r\nann> typ\r\x1b[8C"
        );
    }

    #[test]
    fn a_kept_line_is_shown_whole_with_its_note() {
        let mut e = editor();
        e.keys(b"abcdefghijklmnopqrstuvwxyz\x01");
        e.draw(20);
        assert_eq!(
            e.keep("(not sent)", 20),
            "\r\x1b[Jann> abcdefghijklmnopqrstuvwxyz (not sent)\r\n"
        );
        // Nothing typed: the input line is erased, nothing kept.
        let mut e = editor();
        e.keys(b"  ");
        e.draw(20);
        assert_eq!(e.keep("(not sent)", 20), "\r\x1b[J");
    }

    #[test]
    fn erasing_leaves_the_cursor_at_the_start_of_the_input_line() {
        let mut e = editor();
        e.keys(b"typed");
        e.draw(80);
        assert_eq!(e.erase(80), "\r\x1b[J");
        // After an erase the cursor is at column 0: a resize moves nothing.
        assert_eq!(e.erase(4), "\r\x1b[J");
        e.draw(80);
        assert_eq!(e.erase(4), "\x1b[2A\r\x1b[J");
    }
}
