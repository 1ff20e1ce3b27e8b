#!/usr/bin/env bash
# Builds the two wasm modules into pkg/ and the TypeScript layer into js/dist
# (ESM) and js/cjs (CommonJS). Incremental: seconds when nothing changed.
# Both modules are no_std, with plain exports (no wasm-bindgen, no serde, no
# core::fmt) and no imports:
#   pkg/{node,web}/tollgate_core.wasm  the limiter (src/wasm.rs), loaded by
#       every entry (js/src/node.ts, browser.ts, inline.ts, workerd.ts).
#   pkg/web/tollgate_feedback.wasm  header parsing and retries
#       (src/wasm_feedback.rs), loaded on first use by js/src/wasm/feedback.ts,
#       which only rateLimitedFetch and parseRateLimitHeaders reach: a bundle
#       of `{ Limiter }` does not carry it.
set -euo pipefail
cd "$(dirname "$0")/.."

# No absolute path of this machine may end up in the wasm (reproducible
# builds: two clones in different folders give byte-identical pkg/).
# Dependencies' paths (the same for every clone on a machine) through RUSTFLAGS;
# this clone's own path only for the crate itself, so clones share built dependencies.
cargo_home=${CARGO_HOME:-$HOME/.cargo}
export RUSTFLAGS="--remap-path-prefix=$cargo_home=cargo --remap-path-prefix=$(rustc --print sysroot)=rust"
here=(--remap-path-prefix="$PWD"=tollgate)
# --converge repeats -Oz while it still shrinks; the target_features section only matters to a linker.
opt=(node_modules/.bin/wasm-opt -Oz --converge --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext --enable-mutable-globals --strip-debug --strip-producers --strip-target-features)
out=${CARGO_TARGET_DIR:-target}/wasm32-unknown-unknown/release/tollgate.wasm

# Each module's stack (128 KiB) is far more than its deepest call needs;
# `__stack_pointer` is exported so that the JS side can reset it after a trap.
wasm() { # feature, output name, rustc flags of that module only
  local feature=$1 name=$2
  shift 2
  cargo rustc --lib --release --target wasm32-unknown-unknown --no-default-features --features "$feature" --crate-type cdylib --quiet \
    -- "$@" -C link-arg=-zstack-size=131072 -C link-arg=--export=__stack_pointer "${here[@]}"
  "${opt[@]}" "$out" -o "target/pkg.tmp/$name.wasm"
}
rm -rf target/pkg.tmp pkg/web.tmp pkg/node.tmp
mkdir -p target/pkg.tmp pkg/web.tmp pkg/node.tmp
# The limiter at opt-level s, not the profile's z: a decision costs about a
# fifth less for under 0.3 KB more gzipped (tests/bench/call-cost.mjs).
wasm wasm-core tollgate_core -C opt-level=s
wasm wasm-feedback tollgate_feedback
cp target/pkg.tmp/tollgate_core.wasm target/pkg.tmp/tollgate_feedback.wasm pkg/web.tmp/
# Node reads the limiter from disk (js/src/node.ts); the feedback module it takes
# from js/cjs/wasm/tollgate_feedback.js, as every other entry does.
cp target/pkg.tmp/tollgate_core.wasm pkg/node.tmp/
for dir in pkg/web pkg/node; do rm -rf "$dir" && mv "$dir.tmp" "$dir"; done
rm -rf target/pkg.tmp

# The shared store's Lua scripts become a TS module (js/src/shared/lua/*.lua are the source).
node js/src/shared/embed-lua.mjs
npx tsc -p js/tsconfig.esm.json
npx tsc -p js/tsconfig.cjs.json
echo '{ "type": "commonjs" }' > js/cjs/package.json

# The entries that carry the wasm inside (js/src/inline.ts) import it from here.
node .ci/inline-wasm.mjs

# The Node entry: js/cjs/node.js bundled with the modules it loads at once, the
# rarely used ones loaded on first use, and js/node.mjs naming its exports.
node .ci/bundle-node.mjs
