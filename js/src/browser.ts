/**
 * The browser (and bundler) entry. The top-level await compiles the wasm before
 * the import completes, so users never call an `init()`.
 */
import init, * as glue from '../../pkg/web/tollgate.js';
import { type CoreModule, useCore } from './core.js';

await init({ module_or_path: new URL('../../pkg/web/tollgate_bg.wasm', import.meta.url) });
useCore(glue as unknown as CoreModule);

export * from './index.js';
