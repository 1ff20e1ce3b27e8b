// rateLimitedFetch's retries, errors, aborts and deadlines against a real
// misbehaving server (tests/servers/misbehaving.mjs) on 127.0.0.1.
import assert from 'node:assert/strict';
import http from 'node:http';
import { test } from 'node:test';
import {
  DeadlineError, InsufficientCapacityError, RateLimitError, RetryError,
  isRateLimitError, isRetryError, rateLimitedFetch,
} from 'tollgate';
import { startMisbehavingServer } from '../servers/index.mjs';
import { drive, fakeClock } from './drive.mjs';

const T0 = Date.UTC(2026, 10, 23, 13, 42, 0);
let server;
let serial = 0;
test.before(async () => { server = await startMisbehavingServer({ clock: { now: () => T0 } }); });
test.after(() => server.close());
const url = (path, query = '') => `${server.url}${path}?id=${++serial}${query && `&${query}`}`;

function wrap(clock, extra = {}) {
  return rateLimitedFetch(fetch, {
    clock,
    random: () => 0,
    routes: [{ url: '/*', windows: [{ limit: 100, per: '1m' }] }],
    ...extra,
  });
}
const attemptsAt = (u) => server.log.filter((r) => r.path === new URL(u).pathname && r.id === new URL(u).searchParams.get('id')).length;

test('unmatched requests go straight to fetch, untouched', async () => {
  const seen = [];
  const spy = (input, init) => { seen.push([input, init]); return fetch(input, init); };
  const limited = rateLimitedFetch(spy, { routes: [{ method: 'POST', url: '/only/this', windows: [{ limit: 1, per: '1h' }] }] });
  const init = { headers: { 'x-a': '1' } };
  const res = await limited(url('/ok'), init);
  assert.equal(res.status, 200);
  assert.equal(seen[0][1], init, 'the same init object, no idempotency key, no copy');
  assert.equal(limited.scopes().length, 0);
});

test('429 with Retry-After in seconds: retried after exactly that long, and the response is returned', async () => {
  const clock = fakeClock(T0);
  const limited = wrap(clock);
  const u = url('/retry-after-seconds', 's=7&n=2');
  const res = await drive(clock, limited(u));
  assert.equal(res.status, 200);
  assert.equal(attemptsAt(u), 3);
  assert.equal(clock.now(), T0 + 14_000);
});

test('Retry-After as an HTTP-date is read against the server Date header', async () => {
  const clock = fakeClock(T0);
  const limited = wrap(clock);
  const u = url('/retry-after-date', 's=30&n=1');
  const res = await drive(clock, limited(u));
  assert.equal(res.status, 200);
  assert.equal(clock.now(), T0 + 30_000);
});

test('a garbage Retry-After loses its timing but not the retry (exponential backoff instead)', async () => {
  const clock = fakeClock(T0);
  const limited = wrap(clock, { random: () => 0.999, retry: { backoff: '1s' } });
  const u = url('/retry-after-garbage', 'n=2&v=' + encodeURIComponent('in a bit'));
  const res = await drive(clock, limited(u));
  assert.equal(res.status, 200);
  assert.equal(attemptsAt(u), 3);
  const waited = clock.now() - T0;
  assert.ok(waited > 2_900 && waited < 3_000, `full jitter under 1 s + 2 s, got ${waited}`);
});

test('an absurd Retry-After fails fast with RateLimitError carrying the server time', async () => {
  const clock = fakeClock(T0);
  const limited = wrap(clock);
  const u = url('/retry-after-absurd', 'n=5');
  const error = await drive(clock, limited(u)).catch((e) => e);
  assert.ok(error instanceof RateLimitError && isRateLimitError(error));
  assert.equal(error.retryAt, T0 + 604_800_000);
  assert.equal(error.response.status, 429);
  assert.equal(error.attempts, 1);
  assert.match(error.message, /GET .*retry-after-absurd.* failed after 1 attempt/);
  assert.equal(clock.now(), T0, 'no sleeping for a week');
});

test('retries run out on 429: RateLimitError; on 500: RetryError with the last response', async () => {
  const clock = fakeClock(T0);
  const limited = wrap(clock, { retry: { limit: 3, backoff: 100 } });
  const u = url('/retry-after-seconds', 's=1&n=10');
  const rate = await drive(clock, limited(u)).catch((e) => e);
  assert.ok(rate instanceof RateLimitError);
  assert.equal(rate.attempts, 3);
  const v = url('/error', 'n=10&status=500');
  const retry = await drive(clock, limited(v)).catch((e) => e);
  assert.ok(retry instanceof RetryError && isRetryError(retry));
  assert.equal(retry.response.status, 500);
  assert.equal(attemptsAt(v), 3);
});

test('503 without Retry-After is retried with backoff for GET, not for POST without a key', async () => {
  const clock = fakeClock(T0);
  const limited = wrap(clock, { routes: [{ url: '/*', windows: [{ limit: 100, per: '1m' }], idempotencyKey: false }] });
  const g = url('/unavailable', 'n=1');
  assert.equal((await drive(clock, limited(g))).status, 200);
  const p = url('/unavailable', 'n=1');
  const res = await drive(clock, limited(p, { method: 'POST', body: 'x' }));
  assert.equal(res.status, 503, 'a POST that may have been processed is returned, not repeated');
  assert.equal(attemptsAt(p), 1);
  const q = url('/unavailable', 'n=1&s=2');
  assert.equal((await drive(clock, limited(q, { method: 'POST', body: 'x' }))).status, 200, 'a 503 with Retry-After refused it: safe to repeat');
});

test('a connection reset: GET retried; POST retried only with its Idempotency-Key, which stays the same', async () => {
  const clock = fakeClock(T0);
  const limited = wrap(clock);
  const g = url('/reset', 'n=1');
  assert.equal((await drive(clock, limited(g))).status, 200);
  const p = url('/reset', 'n=2');
  const res = await drive(clock, limited(p, { method: 'POST', body: '{"run":1}' }));
  assert.equal(res.status, 200);
  const keys = server.log.filter((r) => r.id === new URL(p).searchParams.get('id')).map((r) => r.idempotencyKey);
  assert.equal(keys.length, 3);
  assert.match(keys[0], /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  assert.equal(new Set(keys).size, 1);
  const noKey = wrap(clock, { routes: [{ url: '/*', windows: [{ limit: 100, per: '1m' }], idempotencyKey: false }] });
  const q = url('/reset', 'n=1');
  await assert.rejects(drive(clock, noKey(q, { method: 'POST', body: 'x' })), (e) => e instanceof TypeError && /fetch failed/.test(e.message));
  assert.equal(attemptsAt(q), 1);
});

test('a caller-set Idempotency-Key is kept', async () => {
  const limited = wrap(fakeClock(T0));
  const res = await limited(url('/echo'), { method: 'POST', headers: { 'Idempotency-Key': 'mine-1' }, body: 'hello' });
  const echo = await res.json();
  assert.equal(echo.headers['idempotency-key'], 'mine-1');
  assert.equal(echo.body, 'hello');
});

test('the body is sent again on a retry; a stream body is not retried and the error says why', async (t) => {
  // A server that refuses the first request and records every body it receives.
  const bodies = [];
  const echo = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => { body += c; });
    req.on('end', () => {
      bodies.push(body);
      if (bodies.length === 1) res.writeHead(429, { 'retry-after': '1' }).end();
      else res.writeHead(200).end(body);
    });
  });
  await new Promise((r) => echo.listen(0, '127.0.0.1', r));
  t.after(() => echo.close());
  const clock = fakeClock(T0);
  const limited = wrap(clock);
  const req = new Request(`http://127.0.0.1:${echo.address().port}/put`, { method: 'PUT', body: 'payload' });
  const res = await drive(clock, limited(req));
  assert.equal(await res.text(), 'payload');
  assert.deepEqual(bodies, ['payload', 'payload']);
  const s = url('/error', 'n=1&status=502');
  const stream = new ReadableStream({ start(c) { c.enqueue(new TextEncoder().encode('once')); c.close(); } });
  const error = await drive(clock, limited(s, { method: 'PUT', body: stream, duplex: 'half' })).catch((e) => e);
  assert.ok(error instanceof RetryError, String(error));
  assert.match(error.message, /stream and cannot be replayed/);
});

test('aborting while queued rejects with signal.reason and frees the place', async () => {
  const clock = fakeClock(T0);
  const limited = wrap(clock, { routes: [{ url: '/*', windows: [{ limit: 1, per: '1m' }] }] });
  await limited(url('/ok'));
  const controller = new AbortController();
  const waiting = limited(url('/ok'), { signal: controller.signal });
  await new Promise((r) => setTimeout(r, 5));
  const [scope] = limited.scopes();
  assert.equal(scope.limiter.waiting, 1);
  controller.abort(new Error('stop'));
  await assert.rejects(waiting, /stop/);
  assert.equal(scope.limiter.waiting, 0);
});

test('a deadline bounds the wait: DeadlineError at once when the wait is known to end after it, and no place is held', async () => {
  const clock = fakeClock(T0);
  const limited = wrap(clock, { routes: [{ url: '/*', windows: [{ limit: 1, per: '1m' }] }] });
  await limited(url('/ok'));
  const waiting = limited(url('/ok'), { tollgate: { deadline: '10s' } });
  const error = await drive(clock, waiting).catch((e) => e);
  assert.ok(error instanceof DeadlineError, String(error));
  assert.equal(error.retryAt, T0 + 60_000);
  assert.equal(clock.now(), T0, 'the full window was known: no waiting for the deadline');
  assert.equal(limited.scopes()[0].limiter.waiting, 0);
  // A retry that would start after the deadline fails at once.
  const u = url('/retry-after-seconds', 's=30&n=1');
  const fast = wrap(clock);
  const late = await drive(clock, fast(u, { tollgate: { deadline: '20s' } })).catch((e) => e);
  assert.ok(late instanceof DeadlineError);
  assert.match(late.message, /would start after the deadline/);
});

test('a cost above the quota is InsufficientCapacityError, never a wait', async () => {
  const limited = rateLimitedFetch(fetch, { routes: [{ url: '/*', windows: [{ limit: 5, per: '1m' }], cost: 6 }] });
  await assert.rejects(limited(url('/ok')), InsufficientCapacityError);
});

test('bad options are TypeErrors naming the option', () => {
  const bad = [
    [{ routes: 'x' }, /`routes` must be an array/],
    [{ routes: [{ url: '/a', windows: 'x' }] }, /`routes\[0\]`: `windows` must be a non-empty array/],
    [{ routes: [], learnUnmatched: 'yes' }, /`learnUnmatched` must be true or false/],
    [{ routes: [{ url: 5, windows: [{ limit: 1, per: 1 }] }] }, /`routes\[0\]\.url` must be a path pattern/],
    [{ routes: [{ url: '/a', method: 'G T', windows: [{ limit: 1, per: 1 }] }] }, /`routes\[0\]\.method`/],
    [{ routes: [], retry: { limit: 0 } }, /`retry\.limit` must be an integer from 1 to 100/],
    [{ routes: [], retry: { maxRetryAfter: 'a week' } }, /`retry\.maxRetryAfter` must be whole milliseconds/],
    [{ routes: [], deadline: -1 }, /`deadline`/],
  ];
  for (const [options, message] of bad) assert.throws(() => rateLimitedFetch(fetch, options), (e) => e instanceof TypeError && message.test(e.message), String(message));
  assert.throws(() => rateLimitedFetch('fetch', { routes: [] }), /`fetch` must be a fetch function/);
});

test('the server headers reconcile the limiter: X-RateLimit-Remaining 0 holds the next call until the reset', async () => {
  const clock = fakeClock(T0);
  const limited = wrap(clock, { routes: [{ url: '/*', windows: [{ limit: 10, per: '1m' }] }] });
  const reconciled = [];
  limited.events.addEventListener('reconciled', (e) => reconciled.push(e.detail));
  const u = url('/headers', 'h-x-ratelimit-limit=10&h-x-ratelimit-remaining=0&h-x-ratelimit-reset=45');
  assert.equal((await limited(u)).status, 200);
  assert.equal(reconciled.length, 1);
  const next = limited(url('/ok'));
  await drive(clock, next);
  assert.equal(clock.now(), T0 + 45_000);
  // Garbage values change nothing and throw nothing.
  const g = url('/headers', 'h-x-ratelimit-remaining=-3&h-x-ratelimit-reset=NaN&h-retry-after=-1&h-ratelimit=%22a%22%3Br%3D');
  assert.equal((await limited(g)).status, 200);
});

test('works with the undici package fetch as well as the global one', async () => {
  const { fetch: undiciFetch } = await import('undici');
  const clock = fakeClock(T0);
  const limited = rateLimitedFetch(undiciFetch, { clock, random: () => 0, routes: [{ url: '/*', windows: [{ limit: 100, per: '1m' }] }] });
  const u = url('/retry-after-seconds', 's=2&n=1');
  const res = await drive(clock, limited(u, { method: 'POST', body: 'x' }));
  assert.equal(res.status, 200);
  assert.equal(attemptsAt(u), 2);
  assert.equal(clock.now(), T0 + 2_000);
});
