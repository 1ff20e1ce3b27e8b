#!/usr/bin/env bash
# Every test, by layer. Run through `npm test`, which sets up and builds first.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n== %s\n' "$*"; }

step "Rust: unit, behaviour and property tests (${PROPTEST_CASES:=10000} cases per property)"
PROPTEST_CASES=$PROPTEST_CASES cargo test --release --quiet

step "Rust: extreme values in the debug profile too, where an overflow is a panic"
PROPTEST_CASES=500 cargo test --quiet --test props_extremes --test permits --test snapshot_corrupt

step "Rust: fuzzing, each cargo-fuzz target for ${FUZZ_SECONDS:=10} s from the seed corpus (longer: npm run fuzz)"
bash tests/fuzz/run.sh "$FUZZ_SECONDS"

step "Rust: the core builds as no_std for wasm32 (no default features)"
cargo build --quiet --no-default-features --target wasm32-unknown-unknown

step "Rust: clippy, warnings denied"
cargo clippy --quiet --all-targets -- -D warnings
cargo clippy --quiet --no-default-features --features wasm-feedback --target wasm32-unknown-unknown -- -D warnings
cargo clippy --quiet --no-default-features --features wasm-core --target wasm32-unknown-unknown -- -D warnings

step "JS: the Limiter, rateLimitedFetch and the test servers (node:test, ESM and CJS), the browser build in Chromium, bundlers (esbuild, webpack, Rollup, Vite) and runtimes (Deno, Bun, workerd)"
node --test --test-reporter=spec tests/js/ tests/servers/ tests/browser/ tests/package/ tests/types/ tests/bundlers/ tests/runtimes/

step "JS: shared limiters on a real redis-server: differential vs the core, multi-process, fairness, cluster"
node --test --test-reporter=spec tests/shared/

step "JS: rateLimitedFetch against real rate-limiting middleware (express-rate-limit, @fastify/rate-limit, rate-limiter-flexible), in real time"
node --test --test-reporter=spec tests/interop/
