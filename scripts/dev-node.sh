#!/usr/bin/env bash
# Starts a development node: a one-validator chain on embedded RocksDB in ./data (or the
# folder given with --data), serving http://127.0.0.1:8080, with a demo client whose
# credentials are written to data/dev-credentials.json. Extra arguments go to cunzheng-node.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
exec cargo run --release --locked --bin cunzheng-node -- --dev "$@"
