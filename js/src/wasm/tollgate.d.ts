// The web glue as copied by .ci/inline-wasm.mjs into js/dist/wasm/ (without its
// default wasm URL): the same API as pkg/web/tollgate.js.
export * from '../../../pkg/web/tollgate.js';
export { default } from '../../../pkg/web/tollgate.js';
