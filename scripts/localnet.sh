#!/usr/bin/env bash
# Runs the four-member consortium of node-config/ as local processes.
#
#   scripts/localnet.sh up       build (release) and start members 1-4, wait until they decide
#   scripts/localnet.sh down     stop them (SIGTERM, then SIGKILL after 10 s)
#   scripts/localnet.sh status   each member's /v1/status
#   scripts/localnet.sh reset    stop them and delete their data
#
# Data and logs go to data/localnet/nodeN/ (node.log there). HTTP: 127.0.0.1:8081-8084.
set -euo pipefail
cd "$(dirname "$0")/.."

run_dir=data/localnet
members=(1 2 3 4)

pid_of() { cat "$run_dir/node$1/node.pid" 2>/dev/null || true; }
alive() { local p; p=$(pid_of "$1"); [ -n "$p" ] && kill -0 "$p" 2>/dev/null; }

up() {
  scripts/install-deps.sh
  cargo build --release --locked --bin cunzheng-node --bin cunzheng
  # A checkout leaves the sample keys readable by all; the node wants them private.
  chmod 600 node-config/keys/*
  local bin
  bin="$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')/release/cunzheng-node"
  for i in "${members[@]}"; do
    mkdir -p "$run_dir/node$i"
    if alive "$i"; then
      echo "node$i already running (pid $(pid_of "$i"))"
      continue
    fi
    RUST_LOG="${RUST_LOG:-info,arc_malachitebft_core_consensus=warn,arc_malachitebft_engine=warn,arc_malachitebft_network=error,arc_malachitebft_sync=warn}" \
      nohup "$bin" --config "node-config/node$i.toml" >>"$run_dir/node$i/node.log" 2>&1 &
    echo $! >"$run_dir/node$i/node.pid"
    echo "node$i started (pid $!), log $run_dir/node$i/node.log"
  done
  for _ in $(seq 1 60); do
    if curl -sf http://127.0.0.1:8081/v1/status | grep -q '"height":[1-9]'; then
      status
      return 0
    fi
    sleep 1
  done
  echo "the members decided no block within 60 s; see $run_dir/node*/node.log" >&2
  return 1
}

down() {
  for i in "${members[@]}"; do
    alive "$i" && kill -TERM "$(pid_of "$i")"
  done
  for _ in $(seq 1 20); do
    local any=0
    for i in "${members[@]}"; do alive "$i" && any=1; done
    [ "$any" = 0 ] && break
    sleep 0.5
  done
  for i in "${members[@]}"; do
    alive "$i" && kill -KILL "$(pid_of "$i")"
    rm -f "$run_dir/node$i/node.pid"
  done
  echo "localnet stopped"
}

status() {
  for i in "${members[@]}"; do
    printf 'node%s  ' "$i"
    if alive "$i"; then
      curl -s "http://127.0.0.1:808$i/v1/status" || printf 'not answering'
    else
      printf 'stopped'
    fi
    echo
  done
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  status) status ;;
  reset) down; rm -rf "$run_dir" ;;
  *) echo "usage: $0 up|down|status|reset" >&2; exit 2 ;;
esac
