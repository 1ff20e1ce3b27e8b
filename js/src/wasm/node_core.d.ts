/**
 * The limiter module's bytes (pkg/node/tollgate_core.wasm) for the Node entry
 * only: a module .ci/bundle-node.mjs writes into each of its two files (the
 * CommonJS one reads the file, the ES module one decodes them from base64).
 * Only js/src/node.ts imports it.
 */
declare function bytes(): Uint8Array<ArrayBuffer>;
export default bytes;
