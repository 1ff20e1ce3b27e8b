/**
 * The web build's wasm bytes, inlined as base64 into js/dist/wasm/tollgate_bg.js
 * by .ci/inline-wasm.mjs (after tsc). Only js/src/inline.ts imports it.
 */
declare const bytes: Uint8Array<ArrayBuffer>;
export default bytes;
