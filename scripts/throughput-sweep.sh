#!/usr/bin/env bash
# Committed records/s and call latency of one dev node against offered load: for each client
# count, a fresh release node on a temporary data directory, loaded with consents in calls of
# 1,000 for SECS seconds. Writes docs/throughput.tsv and draws docs/throughput.svg from it.
#   scripts/throughput-sweep.sh [SECS] [CLIENTS...]     (default: 12 s; 1 2 4 8 16 32 clients)
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-12}
shift || true
clients=("$@")
((${#clients[@]})) || clients=(1 2 4 8 16 32)

scripts/install-deps.sh
cargo build --release --locked --bin cunzheng-node --bin cunzheng
bin=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')/release
port=18090
tsv=docs/throughput.tsv
printf 'clients\trecords_per_s\tp50_ms\tp99_ms\tnode_cores\n' > "$tsv.new"
for n in "${clients[@]}"; do
    data=$(mktemp -d)
    "$bin/cunzheng-node" --dev --data "$data" --http "127.0.0.1:$port" > "$data/node.log" 2>&1 &
    pid=$!
    for _ in $(seq 150); do
        [[ -f $data/dev-credentials.json ]] && curl -sf "http://127.0.0.1:$port/v1/genesis" > /dev/null && break
        sleep 0.2
    done
    out=$("$bin/cunzheng" bench --api "http://127.0.0.1:$port" --credentials "$data/dev-credentials.json" \
        --clients "$n" --duration "$secs" --no-raw --node-pid "$pid")
    kill "$pid"
    wait "$pid" || true
    rm -rf "$data"
    rate=$(awk '$1 == "records/s" {print $2}' <<< "$out")
    p50=$(awk '$1 == "latency" {print $4}' <<< "$out")
    p99=$(awk '$1 == "latency" {print $6}' <<< "$out")
    cores=$(awk '$1 == "node" {print $4}' <<< "$out")
    printf '%s\t%s\t%s\t%s\t%s\n' "$n" "$rate" "$p50" "$p99" "$cores" | tee -a "$tsv.new"
done
mv "$tsv.new" "$tsv"
python3 scripts/throughput-chart.py "$tsv" docs/throughput.svg
