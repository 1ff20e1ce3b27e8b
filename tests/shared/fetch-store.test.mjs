// `rateLimitedFetch(fetch, { ..., store })`: real child processes, each with
// its own wrapper over presets.hex({ store: redisStore(client) }), share the
// token's quota through a real redis-server. The servers' own logs judge.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import Redis from 'ioredis';
import { hexClient, presets, rateLimitedFetch, redisStore } from 'tollgate';
import { systemClock } from '../servers/clock.mjs';
import { serve } from '../servers/http.mjs';
import { startHexServer } from '../servers/hex.mjs';
import { mostInAnyWindow } from '../js/windows.mjs';
import { startRedis } from './redis-server.mjs';
import { finished, startWorker } from './workers.mjs';

// The Hex server's clock runs 60x faster: its minute passes in a real second,
// so the workers' windows are scaled alike (20 per second, 60 per minute).
const SPEED = 60;
function fastClock() {
  const realStart = Date.now();
  return { now: () => Math.floor(realStart + (Date.now() - realStart) * SPEED) };
}
const HEX_WINDOWS = [{ limit: 20, per: '1s' }, { limit: 60, per: '60s' }];
// Set by hand to see the tests fail: the same workers without the store.
const NO_STORE = process.env.TOLLGATE_TEST_NO_STORE === '1';

let redis;
before(async () => { redis = await startRedis(); });
after(async () => { await redis?.stop(); });

async function startAll(configs) {
  const workers = configs.map((c) => startWorker({ script: 'fetch-worker.mjs', redisPort: redis.port, noStore: NO_STORE, ...c }));
  await Promise.all(workers.map((w) => w.next((m) => m.event === 'ready')));
  return workers;
}

test('two processes with presets.hex({ store }) draw no 429 and the Hex server never sees more than its quota', async () => {
  const hex = await startHexServer({ clock: fastClock() });
  try {
    const config = { url: hex.url, token: 'tok-fetch', task: 'hex', windows: HEX_WINDOWS, count: 30, waitForGo: true };
    const workers = await startAll([config, config]);
    for (const w of workers) w.go();
    const reports = await Promise.all(workers.map(finished));
    const log = hex.log.filter((e) => e.method === 'POST');
    assert.equal(log.filter((e) => e.status === 429).length, 0, 'no trigger refused');
    const times = log.filter((e) => e.status >= 200 && e.status < 300).map((e) => e.at);
    assert.equal(times.length, 60, 'all 60 of the hour sent');
    assert.ok(mostInAnyWindow(times, 60_000) <= 20, `at most 20 in any minute; saw ${mostInAnyWindow(times, 60_000)}`);
    assert.ok(mostInAnyWindow(times, 3_600_000) <= 60);
    assert.ok(reports.every((r) => r.statuses.length === 30 && r.statuses.every((s) => s === 201)));
  } finally {
    await hex.close();
  }
});

test("one process's 429 with Retry-After pauses the other process's queued calls", async () => {
  const RETRY_AFTER_S = 2;
  const server = await serve({
    clock: systemClock,
    route: (req, at) => (req.headers['x-refuse'] === '1'
      ? { status: 429, body: { error: 'slow down' }, headers: { 'retry-after': String(RETRY_AFTER_S), 'content-type': 'application/json' }, who: 'refused' }
      : { status: 201, body: { runId: 'r' }, who: req.headers['x-who'] ?? 'other' }),
    logEntry: ({ at, method }, r) => ({ at, method, status: r.status }),
  });
  try {
    const windows = [{ limit: 100, per: '1s' }]; // never the limit here: only the pause holds calls
    const [a, b] = await startAll([
      { url: server.url, token: 'tok-429', task: 'refuse', windows, waitForGo: true },
      { url: server.url, token: 'tok-429', task: 'burst', windows, count: 5, waitForGo: true },
    ]);
    a.go();
    const { until } = await a.next((m) => m.event === 'paused');
    await finished(a);
    b.go();
    const report = await finished(b);
    const refusedAt = server.log.find((e) => e.status === 429).at;
    const others = server.log.filter((e) => e.status === 201).map((e) => e.at);
    assert.equal(others.length, 5);
    assert.ok(until >= refusedAt + (RETRY_AFTER_S - 0.1) * 1_000, `paused until the Retry-After: ${until - refusedAt} ms after the 429`);
    // (Redis time is mapped onto each process's clock with a measured offset: a few ms of slack.)
    const early = others.filter((at) => at < until - 20);
    assert.deepEqual(early, [], `the other process sent nothing before the pause ended (until ${until}; sent at ${others})`);
    assert.equal(report.queued, 5, 'its calls queued behind the shared pause');
  } finally {
    await server.close();
  }
});

test("what one process's response headers say (none left) holds the other process's calls (reconcile in the store)", async () => {
  let first = true;
  const server = await serve({
    clock: systemClock,
    route: () => {
      const headers = first ? { 'x-ratelimit-limit': '100', 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': '2' } : {};
      first = false;
      return { status: 201, body: { runId: 'r' }, headers: { ...headers, 'content-type': 'application/json' } };
    },
    logEntry: ({ at, method }, r) => ({ at, method, status: r.status }),
  });
  try {
    const windows = [{ limit: 100, per: '10s' }];
    const [a, b] = await startAll([
      { url: server.url, token: 'tok-rec', task: 'burst', windows, count: 1, waitForGo: true },
      { url: server.url, token: 'tok-rec', task: 'burst', windows, count: 3, waitForGo: true },
    ]);
    a.go();
    await finished(a);
    const firstAt = server.log[0].at;
    b.go();
    const report = await finished(b);
    const later = server.log.slice(1).map((e) => e.at);
    assert.equal(later.length, 3);
    assert.ok(later.every((at) => at >= firstAt + 1_000), `held until the server's reset: sent ${later.map((at) => at - firstAt)} ms after the first`);
    assert.equal(report.queued, 3);
  } finally {
    await server.close();
  }
});

test('a call cancelled after admission, before it was sent, gives its units back in the store', async () => {
  // The strict Hex server (20 a minute, on real time) and one wrapper with a
  // store. 20 calls are cancelled while their decisions are on the way to
  // Redis: admitted there, never sent. Then 20 more must all go at once: had
  // the cancelled ones counted as sent, the minute would be spent and the
  // deadline (2 s) would fail them at once.
  const hex = await startHexServer();
  const client = new Redis(redis.port, '127.0.0.1');
  const limited = rateLimitedFetch(fetch, presets.hex({ store: redisStore(client) }));
  try {
    const post = (i, signal) => limited(`${hex.url}/api/v1/run/project-${i}`, {
      method: 'POST', headers: { authorization: 'Bearer tok-release' }, signal, tollgate: { deadline: 2_000 },
    });
    const cancelled = Array.from({ length: 20 }, (_, i) => {
      const controller = new AbortController();
      const call = post(i, controller.signal);
      controller.abort(new Error('cancelled'));
      return call;
    });
    for (const result of await Promise.allSettled(cancelled)) {
      assert.equal(result.status, 'rejected');
      assert.equal(result.reason.message, 'cancelled');
    }
    const [scope] = limited.scopes();
    const [minute] = await scope.limiter.usage();
    assert.equal(minute.used, 0, 'the store counts none of the cancelled calls');
    const sent = await Promise.all(Array.from({ length: 20 }, (_, i) => post(100 + i).then((res) => res.status)));
    assert.deepEqual(sent, Array(20).fill(201));
    assert.equal(hex.log.filter((e) => e.method === 'POST').length, 20, 'the server saw only the calls sent');
  } finally {
    for (const scope of limited.scopes()) await scope.limiter.close?.();
    client.disconnect();
    await hex.close();
  }
});

test('`store` must be a store: a named TypeError otherwise', () => {
  for (const store of [null, 42, 'redis', {}, { open: 1 }]) {
    assert.throws(() => rateLimitedFetch(fetch, { ...presets.hex(), store }), (e) => e instanceof TypeError && /`store` must be a shared store/.test(e.message));
    assert.throws(() => rateLimitedFetch(fetch, presets.hex({ store })), (e) => e instanceof TypeError && /`store`/.test(e.message));
    assert.throws(() => presets.secureCodingHub({ store }), (e) => e instanceof TypeError && /`store`/.test(e.message));
    assert.throws(() => hexClient({ baseUrl: 'http://127.0.0.1:1', token: 't', store }), (e) => e instanceof TypeError && /`store`/.test(e.message));
  }
});

test('leaseMs: a request in flight through the store holds its units that long at most, then counts as sent at the lease\'s end', async () => {
  const server = await serve({ clock: systemClock, route: (req) => ({ status: 200, body: {}, delayMs: req.url.startsWith('/slow') ? 3_000 : 0 }) });
  const client = new Redis(redis.port, '127.0.0.1');
  try {
    // Two wrappers (two processes' worth) on one quota of 1 a second.
    const options = { routes: [{ name: 'lease', url: '/*', windows: [{ limit: 1, per: '1s' }] }], store: redisStore(client), leaseMs: '300ms' };
    const a = rateLimitedFetch(fetch, options);
    const b = rateLimitedFetch(fetch, options);
    const started = Date.now();
    const slow = a(`${server.url}/slow`);
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal((await b(`${server.url}/fast`)).status, 200);
    // The slow request counts as sent at +300 ms (its lease's end), so the
    // next goes at +1.3 s; with the default lease (a minute) it would wait for
    // the slow response (+3 s) and a second more.
    const waited = Date.now() - started;
    assert.ok(waited >= 1_250 && waited < 2_600, `the second request went after ${waited} ms`);
    assert.equal((await slow).status, 200);
  } finally {
    client.disconnect();
    await server.close();
  }
});

test('leaseMs is checked: only with a store, at least 1 ms', () => {
  assert.throws(() => rateLimitedFetch(fetch, { leaseMs: '1m' }), /`leaseMs` applies to requests in flight through a `store`/);
  const store = redisStore(new Redis({ lazyConnect: true }));
  assert.throws(() => rateLimitedFetch(fetch, { store, leaseMs: 0 }), /`leaseMs` must be at least 1 ms/);
  assert.throws(() => rateLimitedFetch(fetch, { store, leaseMs: 'soon' }), TypeError);
});
