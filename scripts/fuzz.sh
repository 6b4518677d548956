#!/usr/bin/env bash
# Runs every fuzz target (fuzz/fuzz_targets) for a bounded time, default 20 s each, on the
# corpus kept in fuzz/corpus, and fails on any crash, panic or sanitizer report. The targets
# build on stable Rust with RUSTC_BOOTSTRAP (cargo fuzz needs nightly flags for the
# sanitizer); scripts/install-deps.sh --test installs cargo-fuzz.
#   scripts/fuzz.sh [seconds per target] [target ...]
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
seconds="${1:-20}"
shift || true
targets=("$@")
((${#targets[@]})) || targets=(request transaction proof_bundle wire)
export RUSTC_BOOTSTRAP=1
cargo fuzz build -O >/dev/null
total=0
for t in "${targets[@]}"; do
  log=$(mktemp)
  # New inputs go to a scratch folder; the corpus in the repository is only read. To keep
  # what a run found: cargo fuzz cmin -O <target> corpus/<target> after adding it there.
  found=$(mktemp -d)
  if ! cargo fuzz run -O "$t" "$found" "corpus/$t" -- -max_total_time="$seconds" \
      -print_final_stats=1 >"$log" 2>&1; then
    cat "$log" >&2
    echo "fuzz target $t failed; the input is under fuzz/artifacts/$t" >&2
    exit 1
  fi
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
  echo "fuzz $t: ${runs:-0} executions in ${seconds} s, clean"
  total=$((total + ${runs:-0}))
  rm -rf "$log" "$found"
done
echo "fuzz: $total executions in all"
