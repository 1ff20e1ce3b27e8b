/**
 * The entry with the wasm inside: the package's `browser`, `deno`, `bun` and
 * `default` export, and `tollgate/inline`. Every bundler takes it as it is
 * (there is no .wasm file to emit and no top-level await), and Deno and Bun need
 * no file-read permission or asset path.
 *
 * The limiter module is compiled synchronously when this module is evaluated;
 * the feedback module (header parsing and retries) on first use, by
 * wasm/feedback.ts, which only rateLimitedFetch and parseRateLimitHeaders
 * reach. Each module's bytes sit in a JS module of their own
 * (.ci/inline-wasm.mjs), so a bundle of `{ Limiter }` carries only the limiter's.
 * Chromium allows compiling on the main thread for modules up to 8 MB since
 * version 114 (4 KB before); Firefox and Safari have no such limit. Apps that
 * want the limiter as its own cached file, compiled while it streams in,
 * import `tollgate/web` (js/src/browser.ts) instead.
 */
import { useCore } from './core.js';
import limiterWasm from './wasm/tollgate_core.js';

// The limiter module imports nothing: compiled and instantiated from its bytes, synchronously.
useCore(new WebAssembly.Instance(new WebAssembly.Module(limiterWasm())));

export * from './index.js';
