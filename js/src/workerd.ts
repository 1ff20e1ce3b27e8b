/**
 * The Cloudflare Workers entry (the `workerd` export condition, which wrangler
 * sets). Workers forbid compiling wasm from bytes at run time, so the inline
 * entry cannot work there; instead the .wasm file is imported as a module, which
 * wrangler (and miniflare's `CompiledWasm` modules) hand over already compiled.
 */
import * as glue from '../../pkg/web/tollgate.js';
import { type CoreModule, useCore } from './core.js';
import wasm from '../../pkg/web/tollgate_bg.wasm';
import limiterWasm from '../../pkg/web/tollgate_core.wasm';

glue.initSync({ module: wasm });
useCore(glue as unknown as CoreModule, new WebAssembly.Instance(limiterWasm));

export * from './index.js';
