// The package's browser build, as the dashboard serves it: a plain module import
// (the entry compiles the wasm with a top-level await; there is no init() to call).
export * from '/js/dist/browser.js';
