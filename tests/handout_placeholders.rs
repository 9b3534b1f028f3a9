//! The handout checker's placeholders, unit-tested. The checker
//! (`tests/handouts/`) has its own `main`, so libtest never runs a test
//! written in its files: this target compiles its comparison again, alone.

#[allow(dead_code)]
#[path = "handouts/compare.rs"]
mod compare;
#[allow(dead_code)]
#[path = "handouts/doc.rs"]
mod doc;

use compare::Placeholders;
use doc::Compare;

/// A session's token (32 hex digits) is a placeholder, in a transcript
/// line and in `#session`, with `numbers` too, so a quote matches any
/// run's tokens; shorter or longer runs of hex digits stay as they are.
#[test]
fn a_session_token_is_a_placeholder() {
    let placeholders = Placeholders::new();
    let plain = Compare::default();
    let numbers = Compare {
        numbers: true,
        ..Compare::default()
    };
    let record =
        |token: &str| format!(r#"{{"seq":3,"event":"session","token":"{token}","name":"ann"}}"#);
    let one = record("c87fca6741aa4081d4f3eee7b3fc06a1");
    let other = record("5b770ce91b430a501aac2118e181dbce");
    assert_eq!(
        placeholders.normalise(&one, &plain),
        r#"{"seq":3,"event":"session","token":"[TOKEN]","name":"ann"}"#
    );
    assert_eq!(
        placeholders.normalise(&one, &plain),
        placeholders.normalise(&other, &plain)
    );
    assert_eq!(
        placeholders.normalise(&one, &numbers),
        r#"{"seq":#,"event":"session","token":"[TOKEN]","name":"ann"}"#
    );
    assert_eq!(
        placeholders.normalise("#session 5f0c9a3e7b21d4c8a6e0f3b9d2c7a1e4 41", &plain),
        "#session [TOKEN] 41"
    );
    for not_a_token in [
        "5f0c9a3e7b21d4c8a6e0f3b9d2c7a1e",          // 31 digits
        "5f0c9a3e7b21d4c8a6e0f3b9d2c7a1e4a",        // 33
        "28d4d8e0a1b2c3d4e5f60718293a4b5c6d7e8f90", // a commit, 40
    ] {
        assert_eq!(placeholders.normalise(not_a_token, &plain), not_a_token);
    }
}
