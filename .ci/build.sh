#!/usr/bin/env bash
# Builds the wasm core into pkg/ (Node and web glue) and the TypeScript layer
# into js/dist (ESM) and js/cjs (CommonJS). Incremental: seconds when nothing changed.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo rustc --lib --release --target wasm32-unknown-unknown --features wasm --crate-type cdylib --quiet
wasm=target/wasm32-unknown-unknown/release/tollgate.wasm

for target in nodejs web; do
  out=pkg/${target%js}
  rm -rf "$out.tmp"
  wasm-bindgen "$wasm" --out-dir "$out.tmp" --target "$target"
  # binaryen from npm, pinned in package-lock.json: Debian's wasm-opt 108
  # breaks the externref table that wasm-bindgen emits.
  node_modules/.bin/wasm-opt -Oz --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext --enable-mutable-globals --enable-reference-types --enable-multivalue --strip-debug --strip-producers \
    "$out.tmp/tollgate_bg.wasm" -o "$out.tmp/tollgate_bg.wasm"
  rm -rf "$out" && mv "$out.tmp" "$out"
done
# The Node glue is CommonJS inside a "type": "module" package.
echo '{ "type": "commonjs" }' > pkg/node/package.json

npx tsc -p js/tsconfig.esm.json
npx tsc -p js/tsconfig.cjs.json
echo '{ "type": "commonjs" }' > js/cjs/package.json

# The entries that carry the wasm inside (js/src/inline.ts) import it from here.
node .ci/inline-wasm.mjs
