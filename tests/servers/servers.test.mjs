// Real-HTTP tests for the fake quota servers. All time is on a manualClock, so hours and days
// pass instantly; the numbers are the seeds' own (Hex 20/min + 60/h per token, Hexagraph
// 30/min + 1,000/day per IP, SecureCodingHub 60/calendar-minute + 1,000/sliding-hour per key).
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import {
  manualClock, acceleratedClock, slidingLog, fixedBuckets, Quota,
  startHexServer, startHexagraphServer, startSecureCodingHubServer,
} from './index.mjs';

const MIN = 60_000;
const HOUR = 3_600_000;
const DAY = 86_400_000;

async function call(url, { method = 'GET', token, ip, headers = {}, body } = {}) {
  const h = { ...headers };
  if (token) h.authorization = `Bearer ${token}`;
  if (ip) h['x-forwarded-for'] = ip;
  const res = await fetch(url, { method, headers: h, body });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : null };
}
const times = (n, f) => Promise.all(Array.from({ length: n }, (_, i) => f(i)));
const statuses = (rs) => rs.map((r) => r.status);

describe('quota model', () => {
  test('sliding log is exact at the window edge and reports retryAtMs', () => {
    const w = slidingLog(2, 1000);
    w.record(100); w.record(500);
    assert.deepEqual(w.check(1099), { ok: false, count: 2, limit: 2, retryAtMs: 1100 });
    assert.equal(w.check(1100).ok, true);
    assert.equal(w.count(1499), 1);
  });
  test('fixed buckets follow calendar UTC minutes', () => {
    const w = fixedBuckets(1, MIN);
    const t = Date.UTC(2024, 0, 1, 13, 42, 59, 0);
    w.record(t);
    assert.deepEqual(w.check(t + 500), { ok: false, count: 1, limit: 1, retryAtMs: Date.UTC(2024, 0, 1, 13, 43) });
    assert.equal(w.check(Date.UTC(2024, 0, 1, 13, 43, 1)).ok, true);
  });
  test('Quota is all-or-nothing, per key, and names the window that frees up last', () => {
    const q = new Quota({ a: () => slidingLog(1, 1000), b: () => slidingLog(3, 5000) });
    assert.equal(q.take('k', 0).ok, true);
    assert.equal(q.take('k', 1000).ok, true);
    const d = q.take('k', 1000); // a is full until 2000, b still has room
    assert.deepEqual([d.ok, d.window, d.limit, d.retryAtMs], [false, 'a', 1, 2000]);
    assert.equal(q.take('k', 1999).ok, false);
    assert.equal(q.take('k', 2000).ok, true, 'refused requests were not recorded');
    const e = q.take('k', 2500); // a full until 3000, b (0, 1000, 2000) full until 5000
    assert.deepEqual([e.ok, e.window, e.limit, e.retryAtMs], [false, 'b', 3, 5000]);
    assert.equal(q.take('other', 2500).ok, true);
    assert.deepEqual(q.usage('k', 3000), { a: { current: 0, limit: 1 }, b: { current: 3, limit: 3 } });
    assert.equal(q.take('k', 4999).ok, false);
    assert.equal(q.take('k', 5000).ok, true);
  });
  test('acceleratedClock runs speed times faster than real time', async () => {
    const c = acceleratedClock({ startMs: 1_000_000, speed: 1000 });
    await new Promise((r) => setTimeout(r, 20));
    assert.ok(c.now() - 1_000_000 >= 15_000, `${c.now() - 1_000_000}`);
  });
});

describe('Hex', () => {
  const T = Date.UTC(2024, 0, 15, 9, 0, 0, 123);

  test('20 per sliding minute and 60 per sliding hour per token, exact to the ms', async (t) => {
    const clock = manualClock(T);
    const hex = await startHexServer({ clock });
    t.after(() => hex.close());
    let n = 0;
    const trigger = (token = 'tok-a') => call(`${hex.url}/api/v1/run/proj-${++n}`, { method: 'POST', token });

    const first = await times(20, () => trigger());
    assert.deepEqual(statuses(first), Array(20).fill(201));
    assert.equal(first[0].body.status, 'RUNNING');
    assert.equal(typeof first[0].body.runId, 'string');
    const r21 = await trigger();
    assert.equal(r21.status, 429);
    assert.match(r21.body.reason, /Rate limit exceeded/);
    assert.equal((await trigger('tok-b')).status, 201, 'another token has its own quota');

    clock.set(T + MIN - 1);
    assert.equal((await trigger()).status, 429, 'still inside the first minute');
    clock.set(T + MIN);
    assert.deepEqual(statuses(await times(20, () => trigger())), Array(20).fill(201));
    assert.equal((await trigger()).status, 429);
    clock.set(T + 2 * MIN);
    assert.deepEqual(statuses(await times(20, () => trigger())), Array(20).fill(201));

    clock.set(T + 3 * MIN); // minute window empty, hour window holds 60
    assert.equal((await trigger()).status, 429, '61st in the hour is refused after the minute passed');
    assert.equal(hex.log.at(-1).window, 'hour');
    clock.set(T + HOUR - 1);
    assert.equal((await trigger()).status, 429, 'refused at first + 3_599_999');
    clock.set(T + HOUR);
    assert.equal((await trigger()).status, 201, 'accepted at first + 3_600_000');

    assert.deepEqual(hex.stats(), { accepted: 62, refused: 5, byStatus: { 201: 62, 429: 5 } });
    assert.deepEqual(Object.keys(hex.log[0]).sort(), ['at', 'duplicate', 'idempotencyKey', 'key', 'method', 'path', 'status', 'window']);
    assert.equal(hex.log[0].at, T);
    assert.equal(hex.log[0].key, 'tok-a');
  });

  test('409 on re-trigger of a running project (counted), run lifecycle, cancel', async (t) => {
    const clock = manualClock(T);
    const hex = await startHexServer({ clock, runDurationMs: 30_000, runOutcome: (p) => (p === 'bad' ? 'ERRORED' : 'COMPLETED') });
    t.after(() => hex.close());
    const run = (p) => call(`${hex.url}/api/v1/run/${p}`, { method: 'POST', token: 'tok' });
    const status = (id) => call(`${hex.url}/api/v1/run/${id}/status`, { token: 'tok' });

    const a = await run('proj');
    assert.equal(a.status, 201);
    clock.advance(29_999);
    const again = await run('proj');
    assert.equal(again.status, 409);
    assert.equal(again.body.runId, a.body.runId);
    assert.equal(hex.quota.usage('tok', clock.now()).minute.current, 2, 'the 409 trigger counted');
    assert.equal((await status(a.body.runId)).body.status, 'RUNNING');
    clock.advance(1);
    assert.equal((await status(a.body.runId)).body.status, 'COMPLETED');
    assert.equal((await run('proj')).status, 201);

    const b = await run('other');
    const k = await call(`${hex.url}/api/v1/run/${b.body.runId}/cancel`, { method: 'POST', token: 'tok' });
    assert.deepEqual([k.status, k.body.status], [200, 'KILLED']);
    assert.equal((await run('other')).status, 201, 'a killed run no longer blocks');

    const c = await run('bad');
    clock.advance(30_000);
    assert.equal((await status(c.body.runId)).body.status, 'ERRORED');
    assert.equal((await status('nope')).status, 404);
  });

  test('status, cancel and list projects are unlimited; 401 without a token', async (t) => {
    const clock = manualClock(T);
    const hex = await startHexServer({ clock });
    t.after(() => hex.close());
    const runs = await times(20, (i) => call(`${hex.url}/api/v1/run/p${i}`, { method: 'POST', token: 'tok' }));
    assert.equal((await call(`${hex.url}/api/v1/run/p99`, { method: 'POST', token: 'tok' })).status, 429);
    const reads = await times(100, (i) => call(`${hex.url}/api/v1/run/${runs[i % 20].body.runId}/status`, { token: 'tok' }));
    assert.deepEqual(statuses(reads), Array(100).fill(200));
    const list = await call(`${hex.url}/api/v1/projects`, { token: 'tok' });
    assert.equal(list.status, 200);
    assert.equal(list.body.values.length, 21, 'projects seen, including the refused trigger');
    const cancels = await times(20, (i) => call(`${hex.url}/api/v1/run/${runs[i].body.runId}/cancel`, { method: 'POST', token: 'tok' }));
    assert.deepEqual(cancels.map((r) => r.body.status), Array(20).fill('KILLED'));
    const anon = await call(`${hex.url}/api/v1/run/p1`, { method: 'POST' });
    assert.equal(anon.status, 401);
    assert.equal(typeof anon.body.reason, 'string');
    assert.equal(hex.stats().refused, 1);
  });

  test('Idempotency-Key replays the original response without counting', async (t) => {
    const clock = manualClock(T);
    const hex = await startHexServer({ clock });
    t.after(() => hex.close());
    const post = (p, key, token = 'tok') =>
      call(`${hex.url}/api/v1/run/${p}`, { method: 'POST', token, headers: key ? { 'idempotency-key': key } : {} });

    const orig = await post('p', 'k1');
    const dup = await post('p', 'k1');
    assert.equal(dup.status, 201);
    assert.deepEqual(dup.body, orig.body);
    assert.equal(hex.log.at(-1).duplicate, true);
    assert.equal(hex.log.at(-1).idempotencyKey, 'k1');
    assert.equal(hex.quota.usage('tok', T).minute.current, 1);
    const other = await post('p2', 'k1', 'tok2');
    assert.equal(other.status, 201, 'keys are per token: same key, other token is a new trigger');
    assert.notEqual(other.body.runId, orig.body.runId);

    await times(19, (i) => post(`q${i}`));
    assert.equal((await post('p', 'k1')).status, 201, 'a replay is served even when the quota is exhausted');
    assert.equal((await post('z', 'k2')).status, 429);
    clock.advance(MIN);
    assert.equal((await post('z', 'k2')).status, 201, 'a 429 is not stored: retrying the key is a real attempt');
    assert.equal(hex.log.filter((e) => e.duplicate).length, 2);
  });

  test('latencyMs delays the response, not the arrival time; close() is prompt', async (t) => {
    const clock = manualClock(T);
    const hex = await startHexServer({ clock, latencyMs: () => 40 });
    t.after(() => hex.close()); // also on failure: an open server would keep the test process alive
    const started = performance.now();
    const pending = call(`${hex.url}/api/v1/run/p`, { method: 'POST', token: 'tok' });
    // Wait (a few ms of real time) until the server has logged the arrival, then move the clock
    // while the response is still being delayed: the recorded arrival time must not change.
    while (hex.log.length === 0) await new Promise((r) => setTimeout(r, 1));
    clock.advance(5 * MIN);
    assert.equal((await pending).status, 201);
    assert.ok(performance.now() - started >= 35);
    assert.equal(hex.log[0].at, T);
    // close() must not wait for a keep-alive socket or a delayed response still in flight.
    call(`${hex.url}/api/v1/run/q`, { method: 'POST', token: 'tok' }).catch(() => {});
    while (hex.log.length === 1) await new Promise((r) => setTimeout(r, 1));
    const closing = performance.now();
    await hex.close();
    assert.ok(performance.now() - closing < 2000);
  });
});

describe('Hexagraph', () => {
  const T = Date.UTC(2024, 0, 15, 0, 0, 0, 7);

  test('30 per minute per IP, REST and GraphQL counted, /rate-limit shape and counts', async (t) => {
    const clock = manualClock(T);
    const hg = await startHexagraphServer({ clock });
    t.after(() => hg.close());
    const ip = '10.0.0.1';
    const rest = await times(20, () => call(`${hg.url}/outputs`, { ip }));
    const gql = await times(10, () => call(`${hg.url}/graphql`, { method: 'POST', ip, body: '{"query":"{x}"}' }));
    assert.deepEqual(statuses([...rest, ...gql]), Array(30).fill(200));
    const over = await call(`${hg.url}/outputs`, { ip });
    assert.equal(over.status, 429);
    assert.deepEqual(over.body, { error: 'Too Many Requests', message: 'Rate limit exceeded. Please wait before sending additional requests.', statusCode: 429 });
    assert.equal(over.headers.get('retry-after'), null);
    assert.equal((await call(`${hg.url}/graphql`, { method: 'POST', ip })).status, 429);
    assert.equal((await call(`${hg.url}/outputs`, { ip: '10.0.0.2' })).status, 200, 'another IP has its own quota');

    const usage = { rateLimit: { minute: { current: 30, limit: 30 }, day: { current: 30, limit: 1000 } } };
    assert.deepEqual((await call(`${hg.url}/rate-limit`, { ip })).body, usage);
    assert.deepEqual((await call(`${hg.url}/rate-limit`, { ip })).body, usage, '/rate-limit is not counted');
    clock.set(T + MIN - 1);
    assert.equal((await call(`${hg.url}/outputs`, { ip })).status, 429);
    clock.set(T + MIN);
    assert.deepEqual((await call(`${hg.url}/rate-limit`, { ip })).body.rateLimit.minute, { current: 0, limit: 30 });
    assert.equal((await call(`${hg.url}/outputs`, { ip })).status, 200);
    assert.deepEqual((await call(`${hg.url}/rate-limit`, { ip })).body.rateLimit.day, { current: 31, limit: 1000 });
    assert.equal((await call(`${hg.url}/outputs`)).status, 200);
    assert.equal(hg.log.at(-1).key, '127.0.0.1', 'without X-Forwarded-For the socket address is the key');
  });

  test('1,000 per sliding day per IP', async (t) => {
    const clock = manualClock(T);
    const hg = await startHexagraphServer({ clock });
    t.after(() => hg.close());
    const ip = '192.0.2.9';
    for (let m = 0; m < 34; m++) {
      clock.set(T + m * MIN);
      const rs = await times(m < 33 ? 30 : 10, () => call(`${hg.url}/authors`, { ip }));
      assert.ok(rs.every((r) => r.status === 200), `minute ${m}`);
    }
    clock.set(T + 34 * MIN);
    assert.equal((await call(`${hg.url}/authors`, { ip })).status, 429);
    assert.equal(hg.log.at(-1).window, 'day');
    assert.deepEqual((await call(`${hg.url}/rate-limit`, { ip })).body, { rateLimit: { minute: { current: 0, limit: 30 }, day: { current: 1000, limit: 1000 } } });
    clock.set(T + DAY - 1);
    assert.equal((await call(`${hg.url}/authors`, { ip })).status, 429);
    clock.set(T + DAY);
    assert.equal((await call(`${hg.url}/authors`, { ip })).status, 200, 'the first 30 left the day window');
    // 1,001 counted 200s plus one uncounted /rate-limit 200.
    assert.deepEqual(hg.stats(), { accepted: 1002, refused: 2, byStatus: { 200: 1002, 429: 2 } });
  });
});

describe('SecureCodingHub', () => {
  test('60 per calendar UTC minute; Retry-After = ceil(seconds to the next minute)', async (t) => {
    const T = Date.UTC(2024, 0, 15, 13, 42, 30, 250);
    const clock = manualClock(T);
    const sch = await startSecureCodingHubServer({ clock });
    t.after(() => sch.close());
    const get = (key = 'key-a') => call(`${sch.url}/api/progress`, { token: key });

    assert.deepEqual(statuses(await times(60, () => get())), Array(60).fill(200));
    const r = await get();
    assert.equal(r.status, 429);
    assert.deepEqual(r.body, { error: 'rate_limited' });
    assert.equal(r.headers.get('retry-after'), '30'); // 29.75 s to 13:43:00, rounded up
    assert.equal(r.headers.get('x-ratelimit-window'), 'per_minute');
    assert.equal(r.headers.get('x-ratelimit-limit'), '60');
    assert.equal((await get('key-b')).status, 200, 'another key has its own quota');

    clock.set(Date.UTC(2024, 0, 15, 13, 42, 59, 1));
    assert.equal((await get()).headers.get('retry-after'), '1'); // 0.999 s, rounded up
    clock.set(Date.UTC(2024, 0, 15, 13, 43, 0, 0));
    assert.deepEqual(statuses(await times(60, () => get())), Array(60).fill(200));
    // Fixed buckets: 60 more right after the next boundary are fine (120 within a second).
    clock.set(Date.UTC(2024, 0, 15, 13, 43, 59, 999));
    assert.equal((await get()).status, 429);
    clock.set(Date.UTC(2024, 0, 15, 13, 44, 0, 0));
    assert.deepEqual(statuses(await times(60, () => get())), Array(60).fill(200));
    assert.equal((await call(`${sch.url}/api/progress`)).status, 401);
  });

  test('1,000 per sliding hour with X-RateLimit-Window per_hour', async (t) => {
    const S = Date.UTC(2024, 0, 15, 14, 0, 0, 250);
    const clock = manualClock(S);
    const sch = await startSecureCodingHubServer({ clock });
    t.after(() => sch.close());
    const get = () => call(`${sch.url}/api/users`, { token: 'key-h' });
    for (let m = 0; m <= 16; m++) {
      clock.set(S + m * MIN);
      const rs = await times(m < 16 ? 60 : 40, get); // 16 x 60 + 40 = 1,000
      assert.ok(rs.every((x) => x.status === 200), `minute ${m}`);
    }
    clock.set(S + 17 * MIN + 123); // fresh calendar minute, but the hour holds 1,000
    const r = await get();
    assert.equal(r.status, 429);
    assert.equal(r.headers.get('x-ratelimit-window'), 'per_hour');
    assert.equal(r.headers.get('x-ratelimit-limit'), '1000');
    assert.equal(r.headers.get('retry-after'), String(Math.ceil((S + HOUR - (S + 17 * MIN + 123)) / 1000))); // 2580
    assert.equal(r.headers.get('retry-after'), '2580');
    clock.set(S + HOUR - 1);
    const edge = await get();
    assert.deepEqual([edge.status, edge.headers.get('retry-after'), edge.headers.get('x-ratelimit-window')], [429, '1', 'per_hour']);
    clock.set(S + HOUR);
    assert.equal((await get()).status, 200, 'the first minute of requests left the hour');
    assert.deepEqual(sch.stats(), { accepted: 1001, refused: 2, byStatus: { 200: 1001, 429: 2 } });
  });
});
