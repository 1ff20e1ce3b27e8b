/**
 * The limiter module's wasm bytes, decoded on each call (pkg/web/tollgate_core.wasm), inlined as
 * base64 into js/dist/wasm/tollgate_core.js by .ci/inline-wasm.mjs (after tsc).
 * Only js/src/inline.ts imports it.
 */
declare function bytes(): Uint8Array<ArrayBuffer>;
export default bytes;
