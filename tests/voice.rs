//! Nobody speaks in the server's voice, and nobody hides in clean-looking
//! text: reserved and look-alike names, `/me` and `/quit` that would read like
//! notices, invisible characters, telnet's commands.

mod common;
use common::TestServer;

/// `server` (in any case, and spelt with digits for letters) and the other
/// words the server's notices begin with cannot be taken as names.
#[test]
fn the_servers_words_are_reserved_names() {
    let server = TestServer::start();
    let mut room = server.room(2);
    for name in [
        "server", "SERVER", "Server", "serv3r", "you", "Y0U", "welcome",
    ] {
        room[0].send(&format!("/nick {name}"));
        room[0].expect(&format!("! name {name} is reserved"));
    }
    // Nobody else heard of any of it: the next line the other gets is this.
    room[0].send("still me");
    let name = room[0].name.clone();
    room[1].expect(&format!("> {name}: still me"));
}

/// A name that folds to the same look as one online is refused, naming the
/// one it is too close to; a different name is fine.
#[test]
fn look_alike_names_are_refused() {
    let server = TestServer::start();
    let mut room = server.room(2);
    room[0].send("/nick BOB");
    room[0].expect("* you are now BOB");
    room[1].line();
    room[1].send("/nick ALICE");
    room[1].expect("* you are now ALICE");
    room[0].line();
    room[1].send("/nick B0B");
    room[1].expect("! name B0B is too close to BOB");
    room[1].send("/nick bob");
    room[1].expect("! name bob is taken");
    room[0].send("/nick AIICE");
    room[0].expect("! name AIICE is too close to ALICE");
    // Your own name's look-alikes are yours to take.
    room[1].send("/nick AIice");
    room[1].expect("* you are now AIice");
    room[0].line();
    room[0].send("/nick rn");
    room[0].expect("* you are now rn");
    room[1].line();
    room[1].send("/nick m");
    room[1].expect("! name m is too close to rn");
    room[1].send("/nick Robert");
    room[1].expect("* you are now Robert");
}

/// `/me` cannot print a line that reads exactly like a notice about its
/// sender, and a `/quit` reason is shown as `quit: REASON`, never as one of
/// the server's own reasons.
#[test]
fn actions_and_quit_reasons_cannot_forge_notices() {
    let server = TestServer::start();
    let mut room = server.room(2);
    let name = room[0].name.clone();
    for fake in ["left (too slow)", "joined", "left", "is now known as bob"] {
        room[0].send(&format!("/me {fake}"));
        room[0].expect("! that /me would read like a notice from the server; say it another way");
    }
    room[0].send("/me left the building");
    room[1].expect(&format!("* {name} left the building"));
    room[0].send("/quit kicked");
    room[0].expect("* bye");
    room[1].expect(&format!("* {name} left (quit: kicked)"));
}

/// Direction marks, zero-width characters, the byte-order mark and the line
/// and paragraph separators never reach another screen.
#[test]
fn invisible_characters_are_removed() {
    let server = TestServer::start();
    let mut room = server.room(2);
    let name = room[0].name.clone();
    room[0].send("a\u{200e}b\u{200f}c\u{61c}d\u{200b}e\u{feff}f\u{2028}g\u{2029}h");
    room[1].expect(&format!("> {name}: abcdefgh"));
}

/// Telnet's Ctrl-C (`IAC IP IAC DO TIMING-MARK`) disappears instead of
/// reaching everyone as replacement characters; the line after it is intact,
/// and so is the byte after a lone 255 that starts no command.
#[test]
fn telnet_commands_are_removed() {
    let server = TestServer::start();
    let mut room = server.room(2);
    let name = room[0].name.clone();
    room[0].send_raw(b"\xff\xf4\xff\xfd\x06hello\r\n");
    room[1].expect(&format!("> {name}: hello"));
    room[0].send_raw(b"wh\xff\xfb");
    room[0].send_raw(b"\x01at\r\n");
    room[1].expect(&format!("> {name}: what"));
    room[0].send_raw(b"a\xffbc\n");
    room[1].expect(&format!("> {name}: abc"));
}

/// `/nick` with spaces says what a name may be; with nothing, how to use it.
#[test]
fn nick_with_spaces_is_an_invalid_name() {
    let server = TestServer::start();
    let mut room = server.room(1);
    room[0].send("/nick no spaces");
    room[0].expect(
        "! invalid name: use 1 to 20 ASCII letters, digits, _ or -, starting with a letter",
    );
    room[0].send("/nick");
    room[0].expect("! usage: /nick NAME");
}
