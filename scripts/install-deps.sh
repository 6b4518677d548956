#!/usr/bin/env bash
# Installs what building cunzheng needs on Debian when it is missing: clang and libclang for
# RocksDB's bindings, Debian's RocksDB library, and the rustfmt and clippy components. With
# --test, also Chromium and ChromeDriver, which the browser tests drive headless, a Chinese font for
# their screenshots, poppler's PDF tools, libfaketime and iproute2 for the fault tests (clocks
# apart, a member in a network namespace), schemathesis (PyPI) for the API conformance test, and
# cargo-fuzz.
set -euo pipefail

packages=(clang libclang-dev librocksdb-dev pkg-config)
if [ "${1:-}" = "--test" ]; then
  packages+=(chromium chromium-driver fonts-wqy-zenhei poppler-utils faketime iproute2)
fi
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "installing ${missing[*]}" >&2
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# schemathesis, which the API conformance test runs against a dev node, from PyPI.
if [ "${1:-}" = "--test" ] && ! command -v st >/dev/null 2>&1; then
  echo "installing schemathesis" >&2
  pip_flags=(--user)
  [ "$(id -u)" -ne 0 ] || pip_flags=(--root-user-action=ignore)
  python3 -m pip install -q "${pip_flags[@]}" "schemathesis==4.32.5"
fi

# cargo-fuzz, which runs the fuzz targets for a bounded time (scripts/fuzz.sh).
if [ "${1:-}" = "--test" ] && ! cargo fuzz --version >/dev/null 2>&1; then
  echo "installing cargo-fuzz" >&2
  cargo install -q --locked cargo-fuzz@0.13.2
fi

if command -v rustup >/dev/null 2>&1; then
  cargo fmt --version >/dev/null 2>&1 || rustup component add rustfmt
  cargo clippy --version >/dev/null 2>&1 || rustup component add clippy
fi
