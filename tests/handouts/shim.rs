//! The `cargo` a handout's terminals find first on their `PATH`: it runs
//! what is already built at once (no `Compiling`, no release build), starts
//! the server on a free port (the port the checker pinned, once it knows
//! one) and points the client at it. `cargo test` goes to the real cargo.

use std::fs;
use std::path::Path;

/// The programs the shim runs, by absolute path.
#[derive(Debug, Clone)]
pub(crate) struct Programs {
    pub(crate) server: String,
    pub(crate) client: String,
    pub(crate) misbehave: String,
    pub(crate) fanout: String,
    pub(crate) cargo: String,
}

/// Writes `bin/cargo` into `state` and returns the `bin` folder.
pub(crate) fn write(state: &Path, programs: &Programs) -> std::io::Result<String> {
    let bin = state.join("bin");
    fs::create_dir_all(&bin)?;
    let state = state.display();
    let Programs {
        server,
        client,
        misbehave,
        fanout,
        cargo,
    } = programs;
    let script = format!(
        r#"#!/bin/bash
# cargo, as the handout checker plays it (tests/handouts/shim.rs).
state='{state}'
command=$1
shift
case "$command" in
    run | bench) ;;
    test | build) exec '{cargo}' "$command" "$@" ;;
    *) echo "the handout checker's cargo cannot do 'cargo $command'" >&2; exit 101 ;;
esac
while [ $# -gt 0 ]; do
    case "$1" in
        --release | -q | --quiet) shift ;;
        --bin | --example | --bench) what="$1 $2"; shift 2 ;;
        --) shift; break ;;
        *) echo "the handout checker's cargo does not know '$1'" >&2; exit 101 ;;
    esac
done
port=$(cat "$state/port" 2>/dev/null)
case "$what" in
    "--bin server") exec '{server}' --port "${{port:-0}}" "$@" ;;
    "--bin client") exec '{client}' --port "${{port:-9000}}" "$@" ;;
    "--example misbehave") exec '{misbehave}' "$@" ;;
    "--bench fanout") exec '{fanout}' "$@" ;;
    *) echo "the handout checker's cargo cannot run '$what'" >&2; exit 101 ;;
esac
"#
    );
    let path = bin.join("cargo");
    fs::write(&path, script)?;
    // A shell script run through tmux: only Unix runs the checker.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(&path, fs::Permissions::from_mode(0o755))?;
    }
    Ok(bin.display().to_string())
}
