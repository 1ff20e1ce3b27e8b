/**
 * The browser (and bundler) entry. The top-level await compiles both wasm
 * modules before the import completes, so users never call an `init()`.
 */
import init, * as glue from '../../pkg/web/tollgate.js';
import { type CoreModule, useCore } from './core.js';

const limiterWasm = new URL('../../pkg/web/tollgate_core.wasm', import.meta.url);
const [, limiter] = await Promise.all([
  init({ module_or_path: new URL('../../pkg/web/tollgate_bg.wasm', import.meta.url) }),
  instantiate(limiterWasm),
]);
useCore(glue as unknown as CoreModule, limiter);

async function instantiate(url: URL): Promise<WebAssembly.Instance> {
  const response = fetch(url);
  try {
    return (await WebAssembly.instantiateStreaming(response, {})).instance;
  } catch {
    // A server that does not send `application/wasm`: compile from the bytes.
    return (await WebAssembly.instantiate(await (await response).arrayBuffer(), {})).instance;
  }
}

export * from './index.js';
