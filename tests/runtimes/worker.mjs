// The scenario as a Cloudflare Worker: each request runs it against env.BASE.
// Also the README's pattern: one wrapper for the isolate, made on the first
// request (Workers allow no random values or timers at module scope, and the
// wrapper draws its key-hashing secret when it is made), around a bound fetch
// (Workers' fetch throws "Illegal invocation" when called without its `this`).
import * as tollgate from 'tollgate';
import { scenario } from './scenario.js';

let shared;

export default {
  async fetch(request, env) {
    try {
      shared ??= tollgate.rateLimitedFetch(fetch.bind(globalThis), { routes: [{ url: '/api/*', windows: [{ limit: 60, per: '1m' }] }] });
      const sharedStatus = (await shared(`${env.BASE}/api/shared`)).status;
      return Response.json({ ...(await scenario(tollgate, env.BASE)), sharedStatus, sharedScopes: shared.scopes().length });
    } catch (error) {
      return Response.json({ error: String(error?.stack ?? error) });
    }
  },
};
