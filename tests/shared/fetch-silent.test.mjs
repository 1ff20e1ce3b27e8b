// A shared scope (`rateLimitedFetch(fetch, { routes, store })`) behind a
// server that answers bare 429s (no Retry-After, no reset, no window: nginx's
// limit_req answers so) beyond a rule tighter than the configured one. Three
// wrappers, each with its own Redis connection (as three processes would
// have), share the quota through a real redis-server. A silent 429 must not
// spend the retry budget (no call lost) and must hold every wrapper through
// the store's gate, so the refusals stay bounded.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import Redis from 'ioredis';
import { rateLimitedFetch, redisStore } from 'tollgate';
import { systemClock } from '../servers/clock.mjs';
import { serve } from '../servers/http.mjs';
import { nginxServer } from '../interop/servers.mjs';
import { startRedis } from './redis-server.mjs';

let redis;
before(async () => { redis = await startRedis(); });
after(async () => { await redis?.stop(); });

/** A server that accepts `limit` per sliding `perMs` and refuses the rest with a bare 429. */
function silentServer(limit, perMs) {
  const accepted = [];
  return serve({
    clock: systemClock,
    route: (_req, at) => {
      while (accepted.length > 0 && accepted[0] <= at - perMs) accepted.shift();
      if (accepted.length >= limit) return { status: 429, body: {} };
      accepted.push(at);
      return { status: 200, body: { ok: true } };
    },
    logEntry: ({ at }, r) => ({ at, status: r.status }),
  });
}

test('silent 429s in a shared scope: three wrappers on one store lose no call, and the refusals stay bounded', async () => {
  const server = await silentServer(10, 1_000);
  const clients = [0, 1, 2].map(() => new Redis(redis.port, '127.0.0.1'));
  try {
    // Configured 100 a second (a wrong configuration); the server allows 10:
    // the configured window holds nothing back, only the store's gate does.
    const wrappers = clients.map((client) => rateLimitedFetch(fetch, {
      routes: [{ name: 'work', url: '/work', windows: [{ limit: 100, per: '1s' }] }],
      store: redisStore(client, { prefix: 'silent' }),
      retry: { backoff: '100ms', maxBackoff: '2s' },
    }));
    const calls = wrappers.flatMap((limited) => Array.from({ length: 10 }, () => limited(`${server.url}/work`)
      .then((r) => r.status, (e) => e.name)));
    const outcomes = await Promise.all(calls);
    const lost = outcomes.filter((s) => s !== 200);
    assert.deepEqual(lost, [], `every call answered 200; lost: ${lost}`);
    const refused = server.log.filter((e) => e.status === 429).length;
    console.log(`refused ${refused}, all sent within ${server.log.at(-1).at - server.log[0].at} ms`);
    assert.equal(server.log.filter((e) => e.status === 200).length, 30);
    // The first burst's excess (20), then what each pause's end lets through
    // into a full server (seen: 29 to 33; retried without the gate's pause:
    // hundreds, as fast as the configured window lets them go).
    assert.ok(refused <= 45, `refusals bounded: ${refused}`);
  } finally {
    await server.close();
    for (const c of clients) c.disconnect();
  }
});

test("behind nginx's limit_req (10 r/s, burst 9: bare 429s), three wrappers on one store configured 20 a second lose no call", async () => {
  const nginx = await nginxServer({ limit: 10, windowMs: 1_000 });
  const clients = [0, 1, 2].map(() => new Redis(redis.port, '127.0.0.1'));
  let outcomes;
  try {
    const wrappers = clients.map((client) => rateLimitedFetch(fetch, {
      routes: [{ name: 'work', url: '/work', windows: [{ limit: 20, per: '1s' }] }],
      store: redisStore(client, { prefix: 'nginx' }),
      retry: { backoff: '100ms', maxBackoff: '2s' },
    }));
    outcomes = await Promise.all(wrappers.flatMap((limited) => Array.from({ length: 10 }, () => limited(`${nginx.url}/work`)
      .then(async (r) => { await r.body?.cancel(); return r.status; }, (e) => e.name))));
  } finally {
    await nginx.close();
    for (const c of clients) c.disconnect();
  }
  const lost = outcomes.filter((s) => s !== 200);
  assert.deepEqual(lost, [], `every call answered 200; lost: ${lost}`);
  const refused = nginx.log.filter((e) => e.status === 429).length;
  assert.equal(nginx.log.filter((e) => e.status === 200).length, 30);
  console.log(`nginx: refused ${refused}, all sent within ${nginx.log.at(-1).at - nginx.log[0].at} ms`);
  // The first burst's excess (10), then a few per pause at most.
  assert.ok(refused <= 40, `refusals bounded: ${refused}`);
});

test('a server that refuses everything without a word still ends a shared scope\'s call (once the pause is at retry.maxBackoff)', async () => {
  const server = await silentServer(0, 1_000);
  const client = new Redis(redis.port, '127.0.0.1');
  try {
    const limited = rateLimitedFetch(fetch, {
      routes: [{ name: 'work', url: '/work', windows: [{ limit: 100, per: '1s' }] }],
      store: redisStore(client, { prefix: 'refuses' }),
      retry: { backoff: '10ms', maxBackoff: '80ms' },
    });
    // (A signal, so that a call retried for ever fails the test instead of holding the process.)
    await assert.rejects(limited(`${server.url}/work`, { signal: AbortSignal.timeout(10_000) }), { name: 'RateLimitError' });
    // Pauses of 10, 20, 40 and 80 ms absorbed, then the call's 4 attempts.
    const refused = server.log.length;
    assert.ok(refused >= 5 && refused <= 12, `refused ${refused} times before giving up`);
  } finally {
    await server.close();
    client.disconnect();
  }
});
