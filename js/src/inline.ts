/**
 * The entry with the wasm inside: the package's `browser`, `deno`, `bun` and
 * `default` export, and `tollgate/inline`. Every bundler takes it as it is
 * (there is no .wasm file to emit and no top-level await), and Deno and Bun need
 * no file-read permission or asset path.
 *
 * The bytes are compiled synchronously when the module is evaluated.
 * Chromium allows that on the main thread for modules up to 8 MB since version 114
 * (4 KB before); Firefox and Safari have no such limit. Apps that want
 * the wasm as its own cached file, compiled while it streams in, import
 * `tollgate/web` (js/src/browser.ts) instead.
 *
 * The glue is a copy of pkg/web's without its default wasm URL (see
 * .ci/inline-wasm.mjs), so webpack and Vite emit no unused .wasm asset.
 */
import * as glue from './wasm/tollgate.js';
import { type CoreModule, useCore } from './core.js';
import wasm from './wasm/tollgate_bg.js';
import limiterWasm from './wasm/tollgate_core.js';

glue.initSync({ module: wasm });
// The limiter module imports nothing: compiled and instantiated from its bytes, synchronously.
useCore(glue as unknown as CoreModule, new WebAssembly.Instance(new WebAssembly.Module(limiterWasm)));

export * from './index.js';
