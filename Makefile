# The commands a user and CI need; `make test` is what CI runs.
.PHONY: all run-server run-client test lint fmt doc bench soak check-targets

# bash, for pipefail: `cargo test | tee` fails when cargo test fails.
SHELL := /bin/bash
.SHELLFLAGS := -o pipefail -c

# Tests that drive programs cargo does not install fail without them, with
# the command that installs them, unless skipped by name: SKIP_TMUX=1 (the
# terminal client's tests, the console's background test, the handout
# checker), SKIP_BROWSER=1 (the dashboard in headless Chromium). The
# skipped ones are listed here, and counted in the summary.
SKIPPED := target/tmp/skipped-tests.txt
TEST_LOG := target/tmp/test-output.txt

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

# What needs no root is set up here: the browser tests' Node modules.
tests/browser/node_modules: tests/browser/package-lock.json
	@if [ -n "$$SKIP_BROWSER" ]; then \
		echo "SKIP_BROWSER is set: not installing tests/browser's modules"; \
	elif command -v npm >/dev/null 2>&1; then \
		cd tests/browser && npm ci --no-audit --no-fund; \
	else \
		echo "npm is missing: the browser tests will fail (sudo apt-get install nodejs npm, or SKIP_BROWSER=1)"; \
	fi

test: lint tests/browser/node_modules
	@mkdir -p target/tmp && rm -f $(SKIPPED)
	cargo test 2>&1 | tee $(TEST_LOG)
	RUSTDOCFLAGS="-D warnings" cargo doc --no-deps
	@skipped=0; [ -f $(SKIPPED) ] && skipped=$$(wc -l < $(SKIPPED)); \
	if [ "$$skipped" -gt 0 ]; then echo "skipped, by request:"; sed 's/^/  /' $(SKIPPED); fi; \
	awk -v s="$$skipped" '/^test result:/ { p += $$4; f += $$6 } END { printf "summary: %d passed, %d failed, %d skipped\n", p - s, f, s }' $(TEST_LOG)

bench:
	cargo bench --bench fanout -- --suite --write docs/BENCHMARKS.md

# The chaos soak (examples/soak/, not part of `make test`): a class of 200
# simulated clients for MINUTES minutes against the release server, then
# its checks (exit 1 if one fails); writes docs/SOAK.md and docs/soak.svg.
MINUTES ?= 10
soak:
	cargo build --release --bin server --example soak
	target/release/examples/soak --minutes $(MINUTES) --server target/release/server --report docs/SOAK.md

# Proves the code builds for Windows and macOS (needs the rustup targets; not in CI).
check-targets:
	cargo check --all-targets --target x86_64-pc-windows-gnu
	cargo check --all-targets --target x86_64-apple-darwin
