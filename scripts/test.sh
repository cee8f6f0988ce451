#!/usr/bin/env bash
# `just test`: the format check, the lints and every test, against real
# servers the tests start themselves (PostgreSQL 15 and 17, MySQL 9.7 and
# MariaDB, moto, the sandbox's Kubernetes API server).
set -euo pipefail
cd "$(dirname "$0")/.."

cargo fmt --all -- --check

# Lints and build in one pass. `cargo clippy` is a `cargo check` with
# clippy-driver as the workspace's compiler: a second compile of every
# dependency (metadata only) and of every crate of ours, before the test
# build compiles them all again. Here clippy-driver (rustc plus clippy's
# lints, the same binary `cargo clippy` runs) compiles our crates for the
# test build itself, with clippy's lints denied as `cargo clippy -- -D
# warnings` would (CLIPPY_ARGS is how cargo-clippy hands them over). Every
# target clippy's `--all-targets` covers is built: lib, bins, tests, benches.
# (`--tests` is every target with a test harness: the libraries' unit tests
# and the integration tests; the binaries, `test = false`, are built for the
# integration tests that run them.)
# The variables stay set for the run below, so nothing is rebuilt.
RUSTC_WORKSPACE_WRAPPER="$(command -v clippy-driver)" || {
  echo "test: clippy-driver not found: rustup component add clippy" >&2
  exit 1
}
export RUSTC_WORKSPACE_WRAPPER
export CLIPPY_ARGS="-D__CLIPPY_HACKERY__warnings__CLIPPY_HACKERY__"
cargo test --workspace --tests --benches --no-run

# What the tests write (journals, definer backups, logs) stays out of the
# real state directory: a private scratch dir, removed afterwards. Tests
# that ROTUI_SKIP_PG17 made skip PostgreSQL 17 list themselves there, and
# are named after the run, pass or fail.
state="$(mktemp -d -t rotui-test-state-XXXXXX)"
trap 'rm -rf "$state"' EXIT
loud() {
  [ -s "$state/skipped" ] || return 0
  echo "!!! ROTUI_SKIP_PG17 is set: these tests SKIPPED PostgreSQL 17 ($(sort -u "$state/skipped" | wc -l)):" >&2
  sort -u "$state/skipped" | sed 's/^/!!!   /' >&2
}
# Six at a time, not one per core: most tests spend their time waiting on
# servers, rollouts and polls, not computing (on 2 cores the integration
# tests took 329 s at 2 threads, 161 s at 6 and 174 s at 10, each run with
# other builds going). RUST_TEST_THREADS still wins when set.
status=0
ROTUI_STATE_DIR="$state" ROTUI_SKIPPED_LOG="$state/skipped" RUST_TEST_THREADS="${RUST_TEST_THREADS:-6}" \
  cargo test --workspace --tests || status=$?
loud
exit "$status"
