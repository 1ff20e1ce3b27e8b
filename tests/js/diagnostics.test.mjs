// Node's diagnostics_channel mirror of the events: a real subscriber, a real
// local server that answers 429, a fake clock driven between real requests.
import assert from 'node:assert/strict';
import diagnostics from 'node:diagnostics_channel';
import http from 'node:http';
import { test } from 'node:test';
import { Limiter, rateLimitedFetch } from 'tollgate';
import { drive, fakeClock } from './drive.mjs';

const T0 = Date.UTC(2026, 10, 23, 13, 42, 0);

/** 429 with Retry-After: 7 to the first request of each path, 200 after. */
async function startServer(t) {
  const seen = new Map();
  const server = http.createServer((req, res) => {
    const n = (seen.get(req.url) ?? 0) + 1;
    seen.set(req.url, n);
    if (n === 1) res.writeHead(429, { 'retry-after': '7' }).end();
    else res.writeHead(200).end('ok');
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise((resolve) => server.close(resolve)));
  return { url: `http://127.0.0.1:${server.address().port}`, seen };
}

/** Subscribes to `names` for the rest of the test; returns what each received. */
function subscribe(t, names) {
  const got = Object.fromEntries(names.map((n) => [n, []]));
  for (const name of names) {
    const onMessage = (message, channelName) => got[name].push({ message, channelName });
    diagnostics.subscribe(name, onMessage);
    t.after(() => diagnostics.unsubscribe(name, onMessage));
  }
  return got;
}

test('rateLimitedFetch publishes throttled, retry and admitted on tollgate:fetch:* with the events\' detail', async (t) => {
  const server = await startServer(t);
  const got = subscribe(t, ['tollgate:fetch:throttled', 'tollgate:fetch:retry', 'tollgate:fetch:admitted', 'tollgate:fetch:paused']);
  const clock = fakeClock(T0);
  const limited = rateLimitedFetch(fetch, {
    clock, random: () => 0,
    routes: [{ name: 'runs', url: '/run/:id', windows: [{ limit: 20, per: '1m' }], key: (r) => r.headers.get('authorization') }],
  });
  const events = [];
  limited.events.addEventListener('throttled', (e) => events.push(e.detail));
  const res = await drive(clock, limited(`${server.url}/run/1`, { headers: { authorization: 'Bearer secret-token' } }));
  assert.equal(res.status, 200);
  assert.equal(server.seen.get('/run/1'), 2);

  assert.equal(got['tollgate:fetch:throttled'].length, 1);
  const { message, channelName } = got['tollgate:fetch:throttled'][0];
  assert.equal(channelName, 'tollgate:fetch:throttled');
  assert.deepEqual(message, { route: 'runs', key: message.key, at: T0, status: 429, attempt: 1, retryAt: T0 + 7_000 });
  assert.equal(message, events[0], 'the same detail object as the event');
  assert.ok(!JSON.stringify(message).includes('secret-token'), 'the key is hashed');
  assert.deepEqual(got['tollgate:fetch:retry'].map((m) => [m.message.attempt, m.message.retryAt]), [[1, T0 + 7_000]]);
  // The retry waited in a sleep, not in the queue.
  assert.deepEqual(got['tollgate:fetch:admitted'].map((m) => [m.message.attempt, m.message.queued]), [[1, false], [2, false]]);
  assert.equal(got['tollgate:fetch:paused'][0].message.until, T0 + 7_000);
});

test('Limiter publishes queued and admitted on tollgate:limiter:* with no listener on its events', async (t) => {
  const got = subscribe(t, ['tollgate:limiter:queued', 'tollgate:limiter:admitted']);
  const clock = fakeClock(T0);
  const limiter = new Limiter({ windows: [{ limit: 1, per: '1s' }], clock });
  limiter.tryAcquire();
  const second = limiter.acquire({ priority: 3 });
  await clock.advanceTo(T0 + 1_000);
  assert.equal((await second).at, T0 + 1_000);
  assert.deepEqual(got['tollgate:limiter:queued'].map((m) => m.message), [{ at: T0, cost: 1, priority: 3, waiting: 1 }]);
  assert.deepEqual(got['tollgate:limiter:admitted'].map((m) => m.message), [{ at: T0 + 1_000, cost: 1, waiting: 0 }]);
});

test('nothing is built when no one listens and no channel has subscribers', async (t) => {
  const server = await startServer(t);
  const Original = globalThis.CustomEvent;
  let built = 0;
  globalThis.CustomEvent = class extends Original {
    constructor(...args) {
      super(...args);
      built += 1;
    }
  };
  t.after(() => { globalThis.CustomEvent = Original; });
  const clock = fakeClock(T0);
  const limited = rateLimitedFetch(fetch, { clock, random: () => 0, routes: [{ url: '/run/:id', windows: [{ limit: 20, per: '1m' }] }] });
  assert.equal((await drive(clock, limited(`${server.url}/run/2`))).status, 200);
  assert.equal(built, 0);
  // A subscriber alone (no listener) is enough to publish, without building an event.
  const got = subscribe(t, ['tollgate:fetch:throttled']);
  assert.equal((await drive(clock, limited(`${server.url}/run/3`))).status, 200);
  assert.equal(got['tollgate:fetch:throttled'].length, 1);
  assert.equal(built, 0);
});

test('a call that waited for its quota: queued, then admitted with queued: true and its wait', async (t) => {
  const server = await startServer(t);
  const got = subscribe(t, ['tollgate:fetch:queued', 'tollgate:fetch:admitted']);
  const clock = fakeClock(T0);
  const limited = rateLimitedFetch(fetch, { clock, routes: [{ url: '/ok/*', windows: [{ limit: 1, per: '1m' }] }] });
  server.seen.set('/ok/1', 1); // answered 200 from the start
  const both = Promise.all([limited(`${server.url}/ok/1`), limited(`${server.url}/ok/1`)]);
  const [a, b] = await drive(clock, both);
  assert.deepEqual([a.status, b.status], [200, 200]);
  // Infinity: the first is still in flight, and only its completion can tell when the next fits.
  assert.deepEqual(got['tollgate:fetch:queued'].map((m) => m.message.retryAt), [Infinity]);
  assert.deepEqual(got['tollgate:fetch:admitted'].map((m) => [m.message.queued, m.message.waitedMs]), [[false, 0], [true, 60_000]]);
});
