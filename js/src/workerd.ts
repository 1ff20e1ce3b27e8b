/**
 * The Cloudflare Workers entry (the `workerd` export condition, which wrangler
 * sets). Workers forbid compiling wasm from bytes at run time, so the inline
 * entry cannot work there; instead the .wasm files are imported as modules,
 * which wrangler (and miniflare's `CompiledWasm` modules) hand over already
 * compiled. The feedback module is handed to wasm/feedback.ts, which
 * instantiates it on first use.
 */
import { useCore } from './core.js';
import { provideFeedbackModule } from './wasm/feedback.js';
import feedbackWasm from '../../pkg/web/tollgate_feedback.wasm';
import limiterWasm from '../../pkg/web/tollgate_core.wasm';

useCore(new WebAssembly.Instance(limiterWasm));
provideFeedbackModule(feedbackWasm);

export * from './index.js';
