# The commands a user and CI need; `make test` is what CI runs.
.PHONY: all run-server run-client test lint fmt doc bench check-targets

all: test

run-server:
	cargo run --bin server

run-client:
	cargo run --bin client

lint:
	cargo fmt --check
	cargo clippy --all-targets -- -D warnings

fmt:
	cargo fmt

doc:
	RUSTDOCFLAGS="-D warnings" cargo doc --no-deps

test: lint
	cargo test
	RUSTDOCFLAGS="-D warnings" cargo doc --no-deps

bench:
	cargo bench --bench fanout -- --suite --write docs/BENCHMARKS.md

# Proves the code builds for Windows and macOS (needs the rustup targets; not in CI).
check-targets:
	cargo check --all-targets --target x86_64-pc-windows-gnu
	cargo check --all-targets --target x86_64-apple-darwin
