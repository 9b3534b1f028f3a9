//! Keys typed while the session cannot send (interactive mode): Enter would
//! have nowhere to send the line, so it is held, and the line stays on the
//! input line; the user is told why once in each outage. Pure: bytes in,
//! bytes out; `interactive.rs` feeds what passes to the editor.

/// What the user is told at the first Enter held in an outage (the status
/// in the prompt says the rest).
const NOTE: &str = "(not connected: your line stays on the input line; \
                    press Enter again once the session is back)";

/// Whether the user was told, in this outage, that Enter waits.
#[derive(Debug, Default)]
pub(crate) struct HeldEnter {
    told: bool,
}

impl HeldEnter {
    /// Keys typed while nothing can be sent, with Enter taken out; and the
    /// note to show, at the first Enter held since lines could last be sent.
    pub(crate) fn hold(&mut self, bytes: &[u8]) -> (Vec<u8>, Option<&'static str>) {
        let (held, pressed) = hold_enter(bytes);
        if pressed && !self.told {
            self.told = true;
            return (held, Some(NOTE));
        }
        (held, None)
    }

    /// Lines can be sent again: the next outage's first Enter is explained.
    pub(crate) fn ready(&mut self) {
        self.told = false;
    }
}

/// Keys typed while nothing can be sent, with Enter taken out so the line
/// stays on the input line; says whether there was one. A run of Enters
/// with more keys after it (a block pasted) becomes one space, so the
/// pasted lines do not run together.
fn hold_enter(bytes: &[u8]) -> (Vec<u8>, bool) {
    let mut held = Vec::with_capacity(bytes.len());
    let mut pressed = false;
    let mut pending_space = false;
    for &b in bytes {
        if b == b'\r' || b == b'\n' {
            pressed = true;
            pending_space = true;
            continue;
        }
        if std::mem::take(&mut pending_space) {
            held.push(b' ');
        }
        held.push(b);
    }
    (held, pressed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enter_is_held_while_not_connected() {
        assert_eq!(hold_enter(b"half typed\r"), (b"half typed".to_vec(), true));
        assert_eq!(hold_enter(b"abc"), (b"abc".to_vec(), false));
        // A pasted block: its lines stay apart, by one space each.
        assert_eq!(
            hold_enter(b"one\r\ntwo\rthree"),
            (b"one two three".to_vec(), true)
        );
        // Other keys pass untouched.
        assert_eq!(hold_enter(b"\x1b[D\x7f"), (b"\x1b[D\x7f".to_vec(), false));
    }

    #[test]
    fn the_user_is_told_once_until_lines_can_be_sent_again() {
        let mut held = HeldEnter::default();
        assert_eq!(held.hold(b"abc"), (b"abc".to_vec(), None));
        assert_eq!(held.hold(b"\r"), (Vec::new(), Some(NOTE)));
        assert_eq!(held.hold(b"\r"), (Vec::new(), None));
        held.ready();
        assert_eq!(held.hold(b"x\r"), (b"x".to_vec(), Some(NOTE)));
    }
}
