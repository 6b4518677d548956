#!/usr/bin/env bash
# Every check, in the order a failure is cheapest to see: format, clippy with warnings denied,
# docs, then the whole test suite (unit, router, and the end-to-end tests named e2e_*, which
# start the real binaries; e2e_browser drives headless Chromium), then the fuzz targets for
# 20 s each. Extra arguments go to `cargo test` and skip the fuzzing, e.g. `scripts/test.sh e2e_`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh --test

cargo fmt --all --check
cargo clippy --workspace --all-targets --locked -- -D warnings
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --locked --quiet
# The end-to-end tests run the node and CLI binaries.
cargo build --workspace --bins --locked
cargo test --workspace --locked "$@"
# The fuzz targets, 20 s each, on the whole run only (not when arguments pick tests).
if (($# == 0)); then scripts/fuzz.sh 20; fi
