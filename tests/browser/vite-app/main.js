// A tiny app as a user writes it: `import ... from 'tollgate'`, bundled by Vite.
// The package's browser entry compiles its wasm with a top-level await, so
// there is nothing to initialise.
import { InsufficientCapacityError, Limiter, rateLimitedFetch } from 'tollgate';

const limiter = new Limiter({ windows: [{ limit: 2, per: '1m' }, { limit: 3, per: '1h' }] });
const admitted = [limiter.tryAcquire().ok, limiter.tryAcquire().ok, limiter.tryAcquire().ok];
const refused = limiter.tryAcquire();
let named = '';
try {
  limiter.tryAcquire(5);
} catch (error) {
  named = error instanceof InsufficientCapacityError ? error.name : 'wrong class';
}

const limited = rateLimitedFetch(fetch.bind(globalThis), { routes: [{ url: '/api/*', windows: [{ limit: 3, per: '1h' }] }] });
const statuses = [];
for (let i = 0; i < 3; i++) statuses.push((await limited('/api/ping')).status);
const next = limited.scopes()[0].limiter.tryAcquire();

const result = { admitted, waitMs: refused.waitMs, named, statuses, nextOk: next.ok, nextWaitMs: next.waitMs };
document.getElementById('output').textContent = JSON.stringify(result);
window.result = result;
