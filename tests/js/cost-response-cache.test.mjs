// responseCache: single flight and a TTL cache for GETs, against real local HTTP
// servers (the Hexagraph-like one and the scripted misbehaving one) that log
// every request they receive; server and cache share one fake clock.
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { test } from 'node:test';
import { rateLimitedFetch } from 'tollgate';
import { startHexagraphServer, startMisbehavingServer } from '../servers/index.mjs';
import { fakeClock, flush } from './fake-clock.mjs';

const require = createRequire(import.meta.url);
const { responseCache } = require('../../js/cjs/cost/response-cache.js');

const T0 = Date.UTC(2026, 10, 23, 9, 0, 0);
const gets = (server, path) => server.log.filter((e) => e.method === 'GET' && (path === undefined || e.path === path)).length;

async function hexagraph(t, clock) {
  const server = await startHexagraphServer({ clock });
  t.after(() => server.close());
  return server;
}

async function misbehaving(t, clock) {
  const server = await startMisbehavingServer({ clock });
  t.after(() => server.close());
  return server;
}

test('identical GETs in flight together share one request; each caller gets a response of its own', async (t) => {
  const clock = fakeClock(T0);
  const server = await hexagraph(t, clock);
  const cached = responseCache(fetch, { clock });
  const url = `${server.url}/outputs/42`;
  const responses = await Promise.all(Array.from({ length: 5 }, () => cached(url)));
  assert.equal(gets(server), 1);
  assert.equal(new Set(responses).size, 5, 'five distinct Response objects');
  for (const r of responses) {
    assert.equal(r.status, 200);
    assert.equal(r.url, url);
    assert.equal(r.headers.get('content-type'), 'application/json');
  }
  // Each body is readable on its own: reading one leaves the others unread.
  assert.deepEqual(await responses[0].json(), { data: [], path: '/outputs/42' });
  assert.equal(responses[1].bodyUsed, false);
  assert.deepEqual(await Promise.all(responses.slice(1).map((r) => r.json())), Array(4).fill({ data: [], path: '/outputs/42' }));
});

test('a fresh 200 is served without a request until `ttl`; then it is fetched again', async (t) => {
  const clock = fakeClock(T0);
  const server = await hexagraph(t, clock);
  const cached = responseCache(fetch, { clock, ttl: '30s' });
  const url = `${server.url}/authors/7`;
  await (await cached(url)).json();
  clock.set(T0 + 29_999);
  assert.deepEqual(await (await cached(url)).json(), { data: [], path: '/authors/7' });
  assert.equal(gets(server), 1);
  clock.set(T0 + 30_000);
  await (await cached(url)).json();
  assert.equal(gets(server), 2);
  await (await cached(`${server.url}/authors/8`)).json();
  assert.equal(gets(server), 3, 'another URL is another entry');
});

test('only a 200 is kept; no-store, no-cache and Vary: * are not; a shorter max-age wins', async (t) => {
  const clock = fakeClock(T0);
  const server = await misbehaving(t, clock);
  const cached = responseCache(fetch, { clock, ttl: '1m' });
  const twice = async (path) => {
    for (let i = 0; i < 2; i++) await (await cached(`${server.url}${path}`)).text();
    return server.log.filter((e) => e.path === path.split('?')[0] && e.id === new URL(path, server.url).searchParams.get('id')).length;
  };
  assert.equal(await twice('/headers?id=plain'), 1);
  assert.equal(await twice('/headers?id=ns&h-cache-control=no-store'), 2);
  assert.equal(await twice('/headers?id=nc&h-cache-control=private,%20no-cache'), 2);
  assert.equal(await twice('/headers?id=vary&h-vary=*'), 2);
  assert.equal(await twice('/error?id=e404&status=404&n=2'), 2, 'a 404 is not kept');
  assert.equal(await twice('/error?id=e203&status=203&n=2'), 2, 'a 203 is not kept either');
  assert.equal(await twice('/headers?id=max&h-cache-control=max-age%3D10'), 1);
  clock.set(T0 + 10_000);
  await (await cached(`${server.url}/headers?id=max&h-cache-control=max-age%3D10`)).text();
  assert.equal(server.log.filter((e) => e.id === 'max').length, 2, 'max-age=10 ended it after 10 s, not 1 min');
  assert.equal(await twice('/headers?id=junk&h-cache-control=max-age%3Dsoon'), 1, 'a malformed max-age is ignored');
  const head = `${server.url}/headers?id=head`;
  await (await cached(head)).text();
  for (let i = 0; i < 2; i++) assert.equal((await cached(head, { method: 'head' })).status, 200);
  assert.deepEqual(server.log.filter((e) => e.id === 'head').map((e) => e.method), ['GET', 'HEAD'], 'HEAD is kept too, apart from GET');
});

test('a response that is not kept is still shared by the GETs in flight with it, as clones', async (t) => {
  const clock = fakeClock(T0);
  const server = await misbehaving(t, clock);
  const cached = responseCache(fetch, { clock });
  const url = `${server.url}/headers?id=shared&h-cache-control=no-store`;
  const responses = await Promise.all([cached(url), cached(url), cached(url)]);
  assert.equal(server.log.filter((e) => e.id === 'shared').length, 1);
  for (const r of responses) assert.equal((await r.json()).ok, true);
});

test('requests with other headers (another API token) are not shared', async (t) => {
  const clock = fakeClock(T0);
  const server = await misbehaving(t, clock);
  const cached = responseCache(fetch, { clock });
  const url = `${server.url}/echo`;
  const [a, b, a2] = await Promise.all([
    cached(url, { headers: { authorization: 'Bearer a' } }),
    cached(url, { headers: { authorization: 'Bearer b' } }),
    cached(new Request(url, { headers: { authorization: 'Bearer a' } })),
  ]);
  assert.equal(server.log.filter((e) => e.path === '/echo').length, 2);
  assert.equal((await a.json()).headers.authorization, 'Bearer a');
  assert.equal((await b.json()).headers.authorization, 'Bearer b');
  assert.equal((await a2.json()).headers.authorization, 'Bearer a');
  await Promise.all([cached(url, { redirect: 'manual' }), cached(url, { redirect: 'follow' })]);
  assert.equal(server.log.filter((e) => e.path === '/echo').length, 4, 'nor are requests that follow redirects otherwise');
});

test('other methods pass straight through and a success drops what was kept for their URL', async (t) => {
  const clock = fakeClock(T0);
  const server = await misbehaving(t, clock);
  const cached = responseCache(fetch, { clock });
  const url = `${server.url}/echo`;
  await (await cached(url)).text();
  const posted = await cached(url, { method: 'POST', body: 'hello' });
  assert.equal((await posted.json()).body, 'hello');
  await (await cached(url)).text();
  assert.equal(server.log.filter((e) => e.method === 'GET').length, 2, 'the POST dropped the kept GET');
  await (await cached(url)).text();
  await (await cached(url, { cache: 'no-store' })).text();
  await (await cached(url, { cache: 'reload' })).text();
  assert.equal(server.log.filter((e) => e.method === 'GET').length, 4, 'cache: no-store and reload bypass it');
});

test('invalidate(url) forgets one URL, invalidate() everything; maxEntries bounds the memory', async (t) => {
  const clock = fakeClock(T0);
  const server = await hexagraph(t, clock);
  const cached = responseCache(fetch, { clock, maxEntries: 2 });
  const get = async (path) => (await cached(`${server.url}${path}`)).text();
  await get('/a');
  await get('/b');
  cached.invalidate(`${server.url}/a`);
  await get('/a');
  await get('/b');
  assert.equal(gets(server), 3);
  cached.invalidate();
  await get('/a');
  await get('/b');
  assert.equal(gets(server), 5);
  await get('/a'); // a most recent
  await get('/c'); // evicts b
  await get('/a');
  assert.equal(gets(server, '/a'), 3);
  await get('/b');
  assert.equal(gets(server, '/b'), 3, 'b was evicted');
  assert.throws(() => cached.invalidate('/relative'), /`url`/);
});

test('wrapping rateLimitedFetch: a joined or cached GET costs no quota', async (t) => {
  const clock = fakeClock(T0);
  const server = await hexagraph(t, clock);
  const limited = rateLimitedFetch(fetch, {
    clock,
    routes: [{ name: 'hexagraph', url: `${server.url}/*`, windows: [{ limit: 30, per: '1m' }, { limit: 1000, per: '1d' }] }],
  });
  const api = responseCache(limited, { clock, ttl: '5m' });
  const url = `${server.url}/outputs/1`;
  // 20 at once, below the 30 a minute, so that without sharing they would all be sent (and counted) at once.
  const statuses = await Promise.all(Array.from({ length: 20 }, async () => (await api(url)).status));
  assert.deepEqual(new Set(statuses), new Set([200]));
  for (let i = 0; i < 20; i++) await (await api(url)).text();
  assert.equal(gets(server), 1);
  const [scope] = limited.scopes();
  assert.deepEqual(scope.limiter.usage().map((w) => w.used), [1, 1], '40 GETs, one unit of quota');
});

/** A fetch that never answers until aborted, and records what it was given. */
function hangingFetch() {
  const calls = [];
  const f = (input, init) => new Promise((_, reject) => {
    calls.push({ input, init });
    init.signal.addEventListener('abort', () => reject(init.signal.reason), { once: true });
  });
  f.calls = calls;
  return f;
}

test('a caller that aborts leaves; the shared request is aborted only when every caller has', async () => {
  const inner = hangingFetch();
  const cached = responseCache(inner, { clock: fakeClock(T0) });
  const a = new AbortController();
  const b = new AbortController();
  const pa = cached('https://api.example/x', { signal: a.signal });
  const pb = cached('https://api.example/x', { signal: b.signal });
  pa.catch(() => {});
  pb.catch(() => {});
  await flush();
  assert.equal(inner.calls.length, 1);
  const shared = inner.calls[0].init.signal;
  a.abort(new Error('a gave up'));
  await assert.rejects(pa, /a gave up/);
  assert.equal(shared.aborted, false, 'b still waits for it');
  b.abort(new Error('b gave up'));
  assert.equal(shared.aborted, true);
  // The next call, even at once, starts afresh instead of joining the aborted request.
  const c = new AbortController();
  const pc = cached('https://api.example/x', { signal: c.signal });
  pc.catch(() => {});
  await flush();
  assert.equal(inner.calls.length, 2);
  await assert.rejects(pb, /b gave up/);
  c.abort();
  await assert.rejects(pc, { name: 'AbortError' });
  const already = AbortSignal.abort(new Error('too late'));
  await assert.rejects(cached('https://api.example/y', { signal: already }), /too late/);
  assert.equal(inner.calls.length, 2, 'an aborted signal sends nothing');
});

test('what a request in flight during invalidate() brings back answers its callers but is not kept', async () => {
  const pending = [];
  const inner = () => new Promise((resolve) => {
    const version = `v${pending.length + 1}`;
    pending.push(() => resolve(new Response(version, { status: 200 })));
  });
  const cached = responseCache(inner, { clock: fakeClock(T0) });
  const url = 'https://api.example/entity/1';
  const before = cached(url);
  await flush();
  cached.invalidate(url); // e.g. the entity was just changed elsewhere
  const after = cached(url);
  await flush();
  assert.equal(pending.length, 2, 'the call after invalidate() did not join the stale request');
  pending[1](); // the fresh answer arrives first, the stale one last
  assert.equal(await (await after).text(), 'v2');
  pending[0]();
  assert.equal(await (await before).text(), 'v1');
  const again = cached(url);
  await flush();
  assert.equal(pending.length, 2, 'the fresh answer was kept');
  assert.equal(await (await again).text(), 'v2');
});

test('a failed request rejects every caller that joined it, and is not kept', async () => {
  let n = 0;
  const failing = async () => { n++; throw new TypeError('fetch failed'); };
  const cached = responseCache(failing, { clock: fakeClock(T0) });
  const results = await Promise.allSettled([cached('https://api.example/x'), cached('https://api.example/x')]);
  assert.deepEqual(results.map((r) => r.reason?.message), ['fetch failed', 'fetch failed']);
  assert.equal(n, 1);
  await assert.rejects(cached('https://api.example/x'), /fetch failed/);
  assert.equal(n, 2);
});

test('bad options are TypeErrors naming them', () => {
  assert.throws(() => responseCache('fetch'), /`fetch`/);
  assert.throws(() => responseCache(fetch, { ttl: -1 }), /`ttl`/);
  assert.throws(() => responseCache(fetch, { ttl: 0 }), /`ttl`/);
  assert.throws(() => responseCache(fetch, { maxEntries: Infinity }), /`maxEntries`/);
  assert.throws(() => responseCache(fetch, { clock: Date }), /`clock`/);
});
