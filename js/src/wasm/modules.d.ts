/**
 * A `.wasm` file imported as a module, as Cloudflare Workers (wrangler,
 * miniflare's `CompiledWasm`) provide it: compiled, not yet instantiated.
 * Only js/src/workerd.ts imports them.
 */
declare module '*.wasm' {
  const module: WebAssembly.Module;
  export default module;
}
