// retry.statusCodes, retry.methods and retry.shouldRetry, against the
// misbehaving server (tests/servers/misbehaving.mjs) on 127.0.0.1.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RetryError, rateLimitedFetch } from 'tollgate';
import { startMisbehavingServer } from '../servers/index.mjs';
import { drive, fakeClock } from './drive.mjs';

const T0 = Date.UTC(2026, 10, 23, 13, 42, 0);
let server;
let serial = 0;
test.before(async () => { server = await startMisbehavingServer({ clock: { now: () => T0 } }); });
test.after(() => server.close());
const url = (path, query) => `${server.url}${path}?id=${++serial}&${query}`;
const attempts = (u) => server.log.filter((r) => r.id === new URL(u).searchParams.get('id')).length;
const wrap = (clock, retry) => rateLimitedFetch(fetch, { clock, random: () => 0, retry, routes: [{ url: '/*', windows: [{ limit: 100, per: '1m' }] }] });

test('retry.statusCodes: a status added is retried, one left out is returned', async () => {
  const clock = fakeClock(T0);
  const added = url('/error', 'n=1&status=409');
  assert.equal((await drive(clock, wrap(clock, { statusCodes: [409, 503] })(added))).status, 200);
  assert.equal(attempts(added), 2);
  const left = url('/error', 'n=1&status=500');
  assert.equal((await drive(clock, wrap(clock, { statusCodes: [409, 503] })(left))).status, 500);
  assert.equal(attempts(left), 1);
  // The default retries 500 and returns 409.
  const plain = url('/error', 'n=1&status=409');
  assert.equal((await drive(clock, wrap(clock, {})(plain))).status, 409);
});

test('retry.methods: POST retried after a 500 when listed, GET not when left out', async () => {
  const clock = fakeClock(T0);
  // No Idempotency-Key, so only `methods` can make a POST retried after a 500.
  const noKey = (retry) => rateLimitedFetch(fetch, { clock, random: () => 0, retry, routes: [{ url: '/*', windows: [{ limit: 100, per: '1m' }], idempotencyKey: false }] });
  const post = url('/error', 'n=1&status=500');
  const res = await drive(clock, noKey({ methods: ['post'] })(post, { method: 'POST', body: 'x' }));
  assert.equal(res.status, 200);
  assert.equal(attempts(post), 2);
  const unlisted = url('/error', 'n=1&status=500');
  assert.equal((await drive(clock, noKey({})(unlisted, { method: 'POST', body: 'x' }))).status, 500, 'by default a POST is not');
  assert.equal(attempts(unlisted), 1);
  const get = url('/error', 'n=1&status=500');
  const error = await drive(clock, wrap(clock, { methods: ['PUT'] })(get)).then((r) => r, (e) => e);
  assert.equal(error.status, 500, 'not retried: the response is returned');
  assert.equal(attempts(get), 1);
});

test('retry.shouldRetry sees the context and can stop a retry', async () => {
  const clock = fakeClock(T0);
  const seen = [];
  const limited = wrap(clock, { shouldRetry: (c) => { seen.push(c); return c.attempt < 2; } });
  const u = url('/error', 'n=5&status=503');
  const res = await drive(clock, limited(u));
  assert.equal(res.status, 503);
  assert.equal(attempts(u), 2);
  assert.deepEqual(seen.map((c) => [c.attempt, c.response.status, c.request.method, typeof c.retryAt]), [[1, 503, 'GET', 'number'], [2, 503, 'GET', 'number']]);
  assert.ok(!(res instanceof RetryError));
});

test('bad retry options are TypeErrors naming the option', () => {
  const bad = [
    [{ statusCodes: [99] }, /`retry\.statusCodes` must be an array of HTTP statuses/],
    [{ statusCodes: '429' }, /`retry\.statusCodes`/],
    [{ methods: ['G T'] }, /`retry\.methods` must be an array of HTTP method names/],
    [{ shouldRetry: true }, /`retry\.shouldRetry` must be a function/],
  ];
  for (const [retry, message] of bad) assert.throws(() => rateLimitedFetch(fetch, { routes: [], retry }), (e) => e instanceof TypeError && message.test(e.message), String(message));
});
