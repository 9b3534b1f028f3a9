//! How lines look on screen: whether to colour, the colour of each kind of
//! line and of each name, the prompt, and how your own lines are echoed in
//! interactive mode. Pure: text in, text (with or without colour codes) out.

use std::ffi::OsStr;

use crate::config::ColorChoice;

const RESET: &str = "\x1b[0m";
const DIM: &str = "\x1b[2m";
const RED: &str = "\x1b[31m";
const BOLD: &str = "\x1b[1m";

/// Foreground colours a name can get. Red is left out: it means an error.
/// Plain and bright variants, so ten names in a row rarely share one.
const NAME_COLOURS: [&str; 10] = [
    "\x1b[32m", "\x1b[33m", "\x1b[34m", "\x1b[35m", "\x1b[36m", "\x1b[92m", "\x1b[93m", "\x1b[94m",
    "\x1b[95m", "\x1b[96m",
];

/// Whether to colour, from `--color` and the environment: `auto` colours only
/// a terminal, and only if `NO_COLOR` is unset or empty (the convention at
/// no-color.org) and `TERM` is not `dumb`. `always` beats `NO_COLOR`: a flag
/// given on purpose wins over a general preference.
pub(crate) fn colour_wanted(
    choice: ColorChoice,
    stdout_is_terminal: bool,
    no_color: Option<&OsStr>,
    term: Option<&OsStr>,
) -> bool {
    match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => {
            stdout_is_terminal
                && no_color.map_or(true, |v| v.is_empty())
                && term != Some(OsStr::new("dumb"))
        }
    }
}

/// Styles lines for the screen: with colour codes, or exactly as given.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Painter {
    /// Add colour codes at all.
    pub(crate) colour: bool,
}

impl Painter {
    /// A line from the server, already cleaned by `incoming::read_lines` (so
    /// it holds no escape character of its own: every code in the result is
    /// ours). `me` is your
    /// current name, for highlighting lines that mention you.
    pub(crate) fn incoming(self, line: &str, me: Option<&str>) -> String {
        if !self.colour {
            return line.to_string();
        }
        if let Some((name, text)) = parse_private(line) {
            return format!(
                "{BOLD}> {}{name}{RESET}{BOLD} (private): {text}{RESET}",
                name_colour(name)
            );
        }
        if let Some((name, text)) = parse_chat(line) {
            let text = match me {
                Some(me) if mentions(text, me) => format!("{BOLD}{text}{RESET}"),
                _ => text.to_string(),
            };
            return format!("> {}{name}{RESET}: {text}", name_colour(name));
        }
        if line.starts_with("* ") {
            return format!("{DIM}{line}{RESET}");
        }
        if line.starts_with("! ") {
            return format!("{RED}{line}{RESET}");
        }
        line.to_string()
    }

    /// The prompt for `name`: what to measure and what to draw.
    pub(crate) fn prompt(self, name: &str) -> (String, String) {
        let plain = format!("{name}> ");
        let styled = self.name(name) + "> ";
        (plain, styled)
    }

    /// The input line's prompt while the session has a status to show
    /// (`reconnecting in 2 s...`): the status in brackets, dimmed, before
    /// the name's prompt, so a glance at the line you type says whether it
    /// can be sent. Before the first welcome there is no name yet.
    ///
    /// Before the name rather than after the text: the line editor
    /// (`crate::term`) draws a prompt, then the text, and nothing after it.
    pub(crate) fn prompt_with_status(
        self,
        name: Option<&str>,
        status: Option<&str>,
    ) -> (String, String) {
        let (mut plain, mut styled) = name.map(|n| self.prompt(n)).unwrap_or_default();
        if let Some(status) = status {
            let label = format!("({status})");
            plain.insert_str(0, &format!("{label} "));
            styled.insert_str(0, &format!("{} ", self.dim(&label)));
        }
        (plain, styled)
    }

    /// How a line you sent appears in the conversation in interactive mode
    /// (the server never sends your own lines back). Chat looks like the
    /// prompt (`ann> hello`), `/me` as the others see it, `/msg` as
    /// `(to bob) hi`, and any other command as typed, dimmed, so that its
    /// reply below it has a context. A command the server will refuse for
    /// missing words is shown as typed too; its `!` reply follows.
    pub(crate) fn echo(self, sent: &str, me: &str) -> String {
        let line = sent.trim();
        if let Some(text) = line.strip_prefix("//") {
            return format!("{}> /{text}", self.name(me));
        }
        let Some(command) = line.strip_prefix('/') else {
            return format!("{}> {line}", self.name(me));
        };
        let (word, rest) = split_word(command);
        if word.eq_ignore_ascii_case("me") && !rest.is_empty() {
            return self.dim(&format!("* {me} {rest}"));
        }
        if word.eq_ignore_ascii_case("msg") {
            let (to, text) = split_word(rest);
            if !text.is_empty() {
                return self.bold(&format!("(to {to}) {text}"));
            }
        }
        self.dim(line)
    }

    /// A status line of the client itself (a refused `--name`, a lost
    /// connection), shown in interactive mode among the chat.
    pub(crate) fn status(self, text: &str) -> String {
        self.dim(text)
    }

    fn name(self, name: &str) -> String {
        if self.colour {
            format!("{}{name}{RESET}", name_colour(name))
        } else {
            name.to_string()
        }
    }

    fn dim(self, text: &str) -> String {
        self.wrap(DIM, text)
    }

    fn bold(self, text: &str) -> String {
        self.wrap(BOLD, text)
    }

    fn wrap(self, code: &str, text: &str) -> String {
        if self.colour {
            format!("{code}{text}{RESET}")
        } else {
            text.to_string()
        }
    }
}

/// The colour of a name: the same on every screen and in every session,
/// because it comes from a fixed hash (FNV-1a) of the name in lower case, as
/// names are unique ignoring case. (Not `std`'s `HashMap` hasher: it is
/// seeded at random per process.)
fn name_colour(name: &str) -> &'static str {
    let mut hash: u32 = 0x811c_9dc5;
    for b in name.bytes() {
        hash ^= u32::from(b.to_ascii_lowercase());
        hash = hash.wrapping_mul(0x0100_0193);
    }
    NAME_COLOURS[hash as usize % NAME_COLOURS.len()]
}

/// `> NAME (private): TEXT` into its name and text. Names hold no spaces, so a
/// chat line that merely contains "(private):" does not match.
fn parse_private(line: &str) -> Option<(&str, &str)> {
    let (name, text) = line.strip_prefix("> ")?.split_once(" (private): ")?;
    (!name.is_empty() && !name.contains(' ')).then_some((name, text))
}

/// `> NAME: TEXT` into its name and text. The first `": "` ends the name: an
/// address name (`127.0.0.1:53422`) has colons but never a space after one.
fn parse_chat(line: &str) -> Option<(&str, &str)> {
    let (name, text) = line.strip_prefix("> ")?.split_once(": ")?;
    (!name.is_empty() && !name.contains(' ')).then_some((name, text))
}

/// The first word of `text` and the rest, both trimmed.
fn split_word(text: &str) -> (&str, &str) {
    let text = text.trim();
    match text.split_once(char::is_whitespace) {
        Some((word, rest)) => (word, rest.trim()),
        None => (text, ""),
    }
}

/// Whether `text` mentions `name` as a whole word, ignoring case. Only real
/// names count: an address name (before `/nick`) is nobody's word.
fn mentions(text: &str, name: &str) -> bool {
    if !name.starts_with(|c: char| c.is_ascii_alphabetic()) {
        return false;
    }
    let is_name_char = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-';
    let haystack = text.to_ascii_lowercase();
    let needle = name.to_ascii_lowercase();
    haystack.match_indices(&needle).any(|(at, _)| {
        let before = haystack[..at].chars().next_back();
        let after = haystack[at + needle.len()..].chars().next();
        !before.is_some_and(is_name_char) && !after.is_some_and(is_name_char)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const COLOUR: Painter = Painter { colour: true };
    const PLAIN: Painter = Painter { colour: false };

    #[test]
    fn colour_follows_the_flag_the_terminal_and_the_environment() {
        let dumb = Some(OsStr::new("dumb"));
        let xterm = Some(OsStr::new("xterm-256color"));
        let set = Some(OsStr::new("1"));
        let empty = Some(OsStr::new(""));
        use ColorChoice::*;
        assert!(colour_wanted(Auto, true, None, xterm));
        assert!(colour_wanted(Auto, true, empty, xterm));
        assert!(!colour_wanted(Auto, false, None, xterm));
        assert!(!colour_wanted(Auto, true, set, xterm));
        assert!(!colour_wanted(Auto, true, None, dumb));
        assert!(colour_wanted(Always, false, set, dumb));
        assert!(!colour_wanted(Never, true, None, xterm));
    }

    #[test]
    fn without_colour_lines_are_unchanged() {
        for line in [
            "> bob: hi ann",
            "* bob joined",
            "! nope",
            "> a (private): x",
        ] {
            assert_eq!(PLAIN.incoming(line, Some("ann")), line);
        }
        assert_eq!(PLAIN.prompt("ann"), ("ann> ".into(), "ann> ".into()));
    }

    #[test]
    fn each_kind_of_line_has_its_look() {
        let bob = name_colour("bob");
        assert_eq!(
            COLOUR.incoming("> bob: hi", Some("ann")),
            format!("> {bob}bob\x1b[0m: hi")
        );
        assert_eq!(
            COLOUR.incoming("* bob joined", None),
            "\x1b[2m* bob joined\x1b[0m"
        );
        assert_eq!(
            COLOUR.incoming("! no such user x", None),
            "\x1b[31m! no such user x\x1b[0m"
        );
        assert_eq!(
            COLOUR.incoming("> bob (private): psst", None),
            format!("\x1b[1m> {bob}bob\x1b[0m\x1b[1m (private): psst\x1b[0m")
        );
        // Text the server sends outside the protocol (the Node tutorial's
        // server, a banner) is left alone.
        assert_eq!(COLOUR.incoming("hello", None), "hello");
    }

    #[test]
    fn address_names_are_parsed_whole() {
        let who = name_colour("127.0.0.1:53422");
        assert_eq!(
            COLOUR.incoming("> 127.0.0.1:53422: a: b", None),
            format!("> {who}127.0.0.1:53422\x1b[0m: a: b")
        );
        assert_eq!(parse_chat("> [::1]:5000: hi"), Some(("[::1]:5000", "hi")));
        assert_eq!(parse_private("> bob: see (private): x"), None);
    }

    #[test]
    fn a_name_always_gets_the_same_colour_whatever_its_case() {
        assert_eq!(name_colour("Ann"), name_colour("ann"));
        let colours: std::collections::HashSet<_> = ["ann", "bob", "carol", "dave", "eve", "frank"]
            .iter()
            .map(|n| name_colour(n))
            .collect();
        assert!(
            colours.len() >= 3,
            "the palette is barely used: {colours:?}"
        );
    }

    #[test]
    fn lines_mentioning_you_are_highlighted() {
        let bob = name_colour("bob");
        assert_eq!(
            COLOUR.incoming("> bob: hi Ann!", Some("ann")),
            format!("> {bob}bob\x1b[0m: \x1b[1mhi Ann!\x1b[0m")
        );
        assert!(mentions("ann", "ann"));
        assert!(mentions("@ann: look", "ann"));
        assert!(!mentions("annie and joanna", "ann"));
        assert!(!mentions("ann_2 is here", "ann"));
        assert!(!mentions("127.0.0.1:5 said", "127.0.0.1:5"));
    }

    #[test]
    fn a_status_stands_dimmed_before_the_name() {
        let status = Some("reconnecting in 2 s...");
        assert_eq!(
            PLAIN.prompt_with_status(Some("ann"), status),
            (
                "(reconnecting in 2 s...) ann> ".to_string(),
                "(reconnecting in 2 s...) ann> ".to_string()
            )
        );
        let ann = name_colour("ann");
        assert_eq!(
            COLOUR.prompt_with_status(Some("ann"), status).1,
            format!("\x1b[2m(reconnecting in 2 s...)\x1b[0m {ann}ann\x1b[0m> ")
        );
        assert_eq!(
            PLAIN.prompt_with_status(Some("ann"), None),
            PLAIN.prompt("ann")
        );
        assert_eq!(
            PLAIN.prompt_with_status(None, None),
            (String::new(), String::new())
        );
    }

    #[test]
    fn your_own_lines_echo_as_the_others_would_see_them() {
        assert_eq!(PLAIN.echo("hello ", "ann"), "ann> hello");
        assert_eq!(PLAIN.echo("//x y", "ann"), "ann> /x y");
        assert_eq!(PLAIN.echo("/me  waves ", "ann"), "* ann waves");
        assert_eq!(PLAIN.echo("/ME waves", "ann"), "* ann waves");
        assert_eq!(PLAIN.echo("/msg bob  hi there", "ann"), "(to bob) hi there");
        // Commands, and commands missing their words, as typed.
        assert_eq!(PLAIN.echo("/who", "ann"), "/who");
        assert_eq!(PLAIN.echo("/me", "ann"), "/me");
        assert_eq!(PLAIN.echo("/msg bob", "ann"), "/msg bob");
        let ann = name_colour("ann");
        assert_eq!(COLOUR.echo("hi", "ann"), format!("{ann}ann\x1b[0m> hi"));
        assert_eq!(COLOUR.echo("/who", "ann"), "\x1b[2m/who\x1b[0m");
        assert_eq!(
            COLOUR.echo("/msg bob hi", "ann"),
            "\x1b[1m(to bob) hi\x1b[0m"
        );
    }
}
