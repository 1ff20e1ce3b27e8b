// The scenario as a Deno or Bun program: `import` from 'tollgate' resolved by
// the runtime itself (its export condition), the server's URL as the argument.
import * as tollgate from 'tollgate';
import { scenario } from './scenario.js';

const base = globalThis.Deno ? globalThis.Deno.args[0] : process.argv[2];
const result = await scenario(tollgate, base);
result.resolved = import.meta.resolve('tollgate');
if (globalThis.Bun) {
  // Bun lets CommonJS `require` an ES module: both must share one wasm instance.
  const { createRequire } = await import('node:module');
  result.sameForRequire = createRequire(import.meta.url)('tollgate').Limiter === tollgate.Limiter;
}
console.log(JSON.stringify(result));
