#!/usr/bin/env bash
# Builds the two wasm modules into pkg/ and the TypeScript layer into js/dist
# (ESM) and js/cjs (CommonJS). Incremental: seconds when nothing changed.
#   pkg/{node,web}/tollgate_core.wasm  the limiter (src/wasm.rs): no_std, no
#       wasm-bindgen, no imports; loaded by js/src/node.ts and browser.ts.
#   pkg/{node,web}/tollgate{.js,_bg.wasm}  header parsing and retries
#       (src/wasm_feedback.rs) through wasm-bindgen.
set -euo pipefail
cd "$(dirname "$0")/.."

# No absolute path of this machine may end up in the wasm (reproducible
# builds: two clones in different folders give byte-identical pkg/).
# Dependencies' paths (the same for every clone on a machine) through RUSTFLAGS;
# this clone's own path only for the crate itself, so clones share built dependencies.
cargo_home=${CARGO_HOME:-$HOME/.cargo}
export RUSTFLAGS="--remap-path-prefix=$cargo_home=cargo --remap-path-prefix=$(rustc --print sysroot)=rust"
here=(--remap-path-prefix="$PWD"=tollgate)
opt=(node_modules/.bin/wasm-opt -Oz --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext --enable-mutable-globals --strip-debug --strip-producers)
out=${CARGO_TARGET_DIR:-target}/wasm32-unknown-unknown/release/tollgate.wasm

# The limiter. Its stack (128 KiB) is far more than the core's deepest call
# needs; `__stack_pointer` is exported so that core.ts can reset it after a trap.
# opt-level s, not the profile's z: a decision costs about a fifth less for
# under 0.3 KB more gzipped (tests/bench/call-cost.mjs).
cargo rustc --lib --release --target wasm32-unknown-unknown --no-default-features --features wasm-core --crate-type cdylib --quiet \
  -- -C opt-level=s -C link-arg=-zstack-size=131072 -C link-arg=--export=__stack_pointer "${here[@]}"
mkdir -p target/pkg.tmp
"${opt[@]}" "$out" -o target/pkg.tmp/tollgate_core.wasm

cargo rustc --lib --release --target wasm32-unknown-unknown --features wasm --crate-type cdylib --quiet -- "${here[@]}"
for target in nodejs web; do
  dir=pkg/${target%js}
  rm -rf "$dir.tmp"
  wasm-bindgen "$out" --out-dir "$dir.tmp" --target "$target"
  # binaryen from npm, pinned in package-lock.json: Debian's wasm-opt 108
  # breaks the externref table that wasm-bindgen emits.
  "${opt[@]}" --enable-reference-types --enable-multivalue "$dir.tmp/tollgate_bg.wasm" -o "$dir.tmp/tollgate_bg.wasm"
  cp target/pkg.tmp/tollgate_core.wasm "$dir.tmp/"
  rm -rf "$dir" && mv "$dir.tmp" "$dir"
done
rm -rf target/pkg.tmp
# The Node glue is CommonJS inside a "type": "module" package.
echo '{ "type": "commonjs" }' > pkg/node/package.json

# The shared store's Lua scripts become a TS module (js/src/shared/lua/*.lua are the source).
node js/src/shared/embed-lua.mjs
npx tsc -p js/tsconfig.esm.json
npx tsc -p js/tsconfig.cjs.json
echo '{ "type": "commonjs" }' > js/cjs/package.json

# The entries that carry the wasm inside (js/src/inline.ts) import it from here.
node .ci/inline-wasm.mjs
