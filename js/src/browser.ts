/**
 * The `tollgate/web` entry: the limiter module as its own .wasm file, fetched
 * and compiled while it streams in, behind a top-level await (users never call
 * an `init()`). The feedback module (header parsing and retries) is not
 * fetched: js/src/wasm/feedback.ts carries it inline and compiles it on first
 * use, and only rateLimitedFetch and parseRateLimitHeaders reach that file.
 */
import { useCore } from './core.js';

useCore(await instantiate(new URL('../../pkg/web/tollgate_core.wasm', import.meta.url)));

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
