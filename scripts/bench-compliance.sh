#!/usr/bin/env bash
# Measures what the compliance rules cost and how fast their reads are, on this machine:
#
#   1. deposit throughput of consents and of calls on a dev node that computes verdicts,
#      alternating with one started --without-verdicts, three rounds each, one node at a time;
#   2. the scrub of 10,000 phones and record searches on a dev chain of about 1.2 million
#      records (cunzheng bench-reads).
#
# Usage: scripts/bench-compliance.sh [clients] [seconds]. Prints every run; report medians.
set -euo pipefail
cd "$(dirname "$0")/.."
clients=${1:-16}
seconds=${2:-20}
scripts/install-deps.sh
cargo build --release --locked --bin cunzheng-node --bin cunzheng
bin=$(cargo metadata --format-version 1 --no-deps | sed 's/.*"target_directory":"\([^"]*\)".*/\1/')/release
work=$(mktemp -d /var/tmp/cunzheng-bench.XXXXXX)
node=""
trap '[ -n "$node" ] && kill "$node" 2>/dev/null; rm -rf "$work"' EXIT

start() { # start DIR [node args...]: a dev node on a free port; sets $node and $creds
  local dir=$1; shift
  "$bin/cunzheng-node" --dev --data "$dir" --http 127.0.0.1:0 "$@" >"$dir.log" 2>&1 &
  node=$!
  creds=$dir/dev-credentials.json
  for _ in $(seq 1 150); do [ -s "$creds" ] && return; sleep 0.2; done
  echo "the dev node did not start; see $dir.log" >&2
  exit 1
}
stop() { kill "$node"; wait "$node" 2>/dev/null || true; node=""; }

for endpoint in /voice/add /voice/sendAddChain; do
  for round in 1 2 3; do
    for mode in with without; do
      args=(); [ "$mode" = without ] && args=(--without-verdicts)
      start "$work/$mode-$round${endpoint//\//-}" "${args[@]}"
      echo "== $endpoint, round $round, $mode verdicts"
      "$bin/cunzheng" bench --credentials "$creds" --clients "$clients" --duration "$seconds" \
        --endpoint "$endpoint" --no-raw | grep -E 'records/s|latency'
      stop
    done
  done
done

start "$work/reads"
echo "== loading about 1.2 million records"
"$bin/cunzheng" bench --credentials "$creds" --clients 16 --duration 12 --endpoint /voice/add --no-raw | grep records/s
"$bin/cunzheng" bench --credentials "$creds" --clients 16 --duration 16 --endpoint /voice/sendAddChain --no-raw | grep records/s
"$bin/cunzheng" bench-reads --credentials "$creds" --repeat 20
stop
