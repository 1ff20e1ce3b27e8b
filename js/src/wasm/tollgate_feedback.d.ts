/**
 * The feedback module's wasm bytes, decoded on each call (pkg/web/tollgate_feedback.wasm), inlined as
 * base64 into js/dist/wasm/tollgate_feedback.js (ESM) and
 * js/cjs/wasm/tollgate_feedback.js (CommonJS) by .ci/inline-wasm.mjs (after
 * tsc). Only js/src/wasm/feedback.ts imports it.
 */
declare function bytes(): Uint8Array<ArrayBuffer>;
export default bytes;
