#!/usr/bin/env bash
# Installs everything the build and the tests need; idempotent, and quick when
# all is already there. Used by `npm start`, `npm test` and .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf 'setup: %s\n' "$*"; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
apt_updated=
apt_install() {
  [ -n "$apt_updated" ] || { as_root apt-get update -qq; apt_updated=1; }
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "$@" >/dev/null
}

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  say "adding the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown
fi

# cargo-fuzz for the short fuzz runs in .ci/test.sh (tests/fuzz/run.sh). It runs on
# the stable toolchain with RUSTC_BOOTSTRAP=1; libFuzzer is built from C++ by libfuzzer-sys.
# Only for the tests (`npm test` passes --browser): `npm start` need not wait for it.
testing=; { [ "${1:-}" = --browser ] || [ "${TOLLGATE_BROWSER:-0}" = 1 ]; } && testing=1
if [ -n "$testing" ] && ! cargo fuzz --version >/dev/null 2>&1; then
  command -v g++ >/dev/null || apt_install g++
  say "installing cargo-fuzz (takes a few minutes)"
  cargo install cargo-fuzz --locked --quiet
fi

# strace: the fileStore test reads a child's system calls to check its fsyncs.
if [ -n "$testing" ] && ! command -v strace >/dev/null; then
  say "installing strace for the fileStore durability test"
  apt_install strace
fi

# `--browser` (npm test): Debian's Chromium for the browser tests.
if { [ "${1:-}" = --browser ] || [ "${TOLLGATE_BROWSER:-0}" = 1 ]; } && [ ! -x /usr/bin/chromium ]; then
  say "installing Debian's chromium for the browser tests"
  apt_install chromium
fi

# The shared-limiter tests (tests/shared) start their own redis-server: Debian's.
if ! command -v redis-server >/dev/null 2>&1 || ! command -v redis-cli >/dev/null 2>&1; then
  say "installing Debian's redis-server for the shared-limiter tests"
  apt_install redis-server
fi

# npm ci only when package-lock.json changed since the last install.
stamp=node_modules/.tollgate-lock
lock_sum=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$lock_sum" ]; then
  say "installing npm packages"
  npm ci --no-audit --no-fund --loglevel=error
  echo "$lock_sum" > "$stamp"
fi
