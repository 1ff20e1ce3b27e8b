// Node's ESM entry re-exports the CommonJS build, so `import` and `require`
// share one wasm instance and one set of classes (`instanceof` agrees).
export * from './cjs/node.js';
