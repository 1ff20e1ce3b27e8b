// The scenario as a Cloudflare Worker: each request runs it against env.BASE.
// Also the README's pattern: one wrapper for the isolate, made at module scope
// around the global `fetch` itself. Workers allow no random values at module
// scope, so the wrapper must draw its key-hashing secret on first use (the
// route has a `key`, so the first request hashes one); and Workers' fetch
// throws "Illegal invocation" unless called with the global object as `this`,
// so the wrapper must call the global fetch that way.
import * as tollgate from 'tollgate';
import { scenario } from './scenario.js';

const shared = tollgate.rateLimitedFetch(fetch, {
  routes: [{ url: '/api/*', key: (req) => req.headers.get('authorization'), windows: [{ limit: 60, per: '1m' }] }],
});

export default {
  async fetch(request, env) {
    try {
      const sharedStatus = (await shared(`${env.BASE}/api/shared`, { headers: { authorization: 'Bearer worker-token' } })).status;
      const sharedKeys = shared.scopes().map((s) => s.key);
      return Response.json({ ...(await scenario(tollgate, env.BASE)), sharedStatus, sharedKeys });
    } catch (error) {
      return Response.json({ error: String(error?.stack ?? error) });
    }
  },
};
