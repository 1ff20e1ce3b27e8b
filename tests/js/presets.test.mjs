// The seed presets against the seed-like servers, and SecureCodingHub's key pool.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { presets, rateLimitedFetch } from 'tollgate';
import { startHexServer, startHexagraphServer, startSecureCodingHubServer } from '../servers/index.mjs';
import { drive, fakeClock } from './drive.mjs';

const T0 = Date.UTC(2026, 10, 23, 13, 42, 30);
const idle = (limited) => ({ busy: () => limited.scopes().some((s) => s.limiter.inFlight > 0) });
const perMinute = (log) => {
  const m = new Map();
  for (const r of log) m.set(`${r.key}@${Math.floor(r.at / 60_000)}`, (m.get(`${r.key}@${Math.floor(r.at / 60_000)}`) ?? 0) + 1);
  return Math.max(...m.values());
};

test('presets.hex(): triggers limited per token, status reads unthrottled, no 429', async (t) => {
  const clock = fakeClock(T0);
  const server = await startHexServer({ clock, runDurationMs: 1 });
  t.after(() => server.close());
  const limited = rateLimitedFetch(fetch, { ...presets.hex(), clock });
  const calls = Array.from({ length: 70 }, (_, i) => limited(`${server.url}/api/v1/run/p${i}`, {
    method: 'POST', headers: { authorization: 'Bearer tok' },
  }));
  const status = await limited(`${server.url}/api/v1/run/run-000001/status`, { headers: { authorization: 'Bearer tok' } });
  assert.notEqual(status.status, 429);
  const responses = await drive(clock, Promise.all(calls), idle(limited));
  assert.ok(responses.every((r) => r.status === 201));
  assert.equal(server.stats().refused, 0);
  assert.equal(limited.scopes().length, 1);
});

test('presets.secureCodingHub({ keys }): each request goes with the key free soonest; three keys, three quotas', async (t) => {
  const clock = fakeClock(T0);
  const server = await startSecureCodingHubServer({ clock });
  t.after(() => server.close());
  const limited = rateLimitedFetch(fetch, { ...presets.secureCodingHub({ keys: ['k1', 'k2', 'k3'] }), clock });
  const calls = Array.from({ length: 300 }, (_, i) => limited(`${server.url}/api/v1/users/${i}`));
  const responses = await drive(clock, Promise.all(calls), idle(limited));
  assert.ok(responses.every((r) => r.status === 200));
  assert.equal(server.stats().refused, 0);
  const byKey = new Map();
  for (const r of server.log) byKey.set(r.key, (byKey.get(r.key) ?? 0) + 1);
  assert.deepEqual([...byKey.keys()].sort(), ['k1', 'k2', 'k3'].map((k) => server.log.find((r) => r.key.includes(k)).key).sort());
  for (const n of byKey.values()) assert.equal(n, 100, 'spread evenly');
  assert.equal(perMinute(server.log), 60);
  // 300 at 180 a minute across the pool: done in the second calendar minute after the start.
  assert.ok(clock.now() < Math.ceil(T0 / 60_000) * 60_000 + 120_000, `took ${clock.now() - T0} ms`);
});

test('presets.secureCodingHub({ headroom: 10 }) stays under 50 a minute, as the document advises', async (t) => {
  const clock = fakeClock(T0);
  const server = await startSecureCodingHubServer({ clock });
  t.after(() => server.close());
  const limited = rateLimitedFetch(fetch, { ...presets.secureCodingHub({ headroom: 10 }), clock });
  const calls = Array.from({ length: 120 }, (_, i) => limited(`${server.url}/x/${i}`, { headers: { authorization: 'Bearer k' } }));
  await drive(clock, Promise.all(calls), idle(limited));
  assert.equal(perMinute(server.log), 50);
  assert.throws(() => presets.secureCodingHub({ headroom: 60 }), /`headroom` must leave at least 1 request a minute/);
});

test('presets.hexagraph(): REST and GraphQL share the quota; GET /rate-limit is free; overrides apply', async (t) => {
  const clock = fakeClock(T0);
  const server = await startHexagraphServer({ clock });
  t.after(() => server.close());
  const limited = rateLimitedFetch(fetch, { ...presets.hexagraph({ url: `${server.url}/*`, perMinute: 10 }), clock });
  const calls = [];
  for (let i = 0; i < 15; i++) {
    calls.push(limited(`${server.url}/outputs/${i}`));
    calls.push(limited(`${server.url}/graphql`, { method: 'POST', body: '{"query":"{ a }"}', headers: { 'content-type': 'application/json' } }));
  }
  const usage = await limited(`${server.url}/rate-limit`);
  assert.equal(usage.status, 200, 'not queued behind the 30 counted calls');
  await drive(clock, Promise.all(calls), idle(limited));
  assert.equal(server.stats().refused, 0);
  const counted = server.log.filter((r) => r.path !== '/rate-limit').map((r) => r.at);
  assert.equal(counted.filter((at) => at < T0 + 60_000).length, 10);
});

test('scopeFor: the limiter a request would use, before any request, for plans and headroom checks', () => {
  const clock = fakeClock(T0);
  const limited = rateLimitedFetch(fetch, { ...presets.hex(), clock });
  assert.equal(limited.scopeFor('http://h/api/v1/projects'), undefined, 'reads are not limited');
  const scope = limited.scopeFor('http://h/api/v1/run/p1', { method: 'POST', headers: { authorization: 'Bearer t' } });
  assert.equal(scope.route, 'hex run');
  const plan = scope.limiter.plan(61);
  assert.equal(plan[60] - plan[0], 3_600_000);
  assert.equal(limited.scopes().length, 1, 'the scope now exists, and the next call uses it');
  assert.equal(limited.scopeFor('http://h/api/v1/run/p2', { method: 'POST', headers: { authorization: 'Bearer t' } }), scope);
});

test('idle scopes are dropped as new keys come; busy ones are kept', async () => {
  const clock = fakeClock(T0);
  const ok = async () => new Response('{}');
  const limited = rateLimitedFetch(ok, { clock, routes: [{ url: '/*', windows: [{ limit: 5, per: '1m' }], key: (r) => r.headers.get('x-key') }] });
  const call = (key) => limited('http://h/x', { headers: { 'x-key': key } });
  for (let i = 0; i < 1_500; i++) await call(`k${i}`);
  assert.equal(limited.scopes().length, 1_500, 'their windows still count the calls: none is idle');
  clock.set(T0 + 61_000); // a minute later all 1,500 are empty
  for (let i = 0; i < 5; i++) await call('busy');
  for (let i = 0; i < 600; i++) await call(`n${i}`); // the map reaches 2,048: a sweep
  const kept = limited.scopes();
  assert.ok(kept.length <= 602 && kept.length > 500, `kept ${kept.length}`);
  assert.ok(kept.some((s) => s.limiter.usage()[0].used === 5), 'the full scope is kept');
  assert.ok(!kept.some((s) => s.limiter.usage()[0].used === 0), 'only idle ones went');
});
