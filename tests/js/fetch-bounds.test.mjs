// Plausibility bounds on what servers say, against a real server on
// 127.0.0.1 that answers with the status and headers each request asks for:
// no absurd time parks a scope, escapes as a RangeError, or outlives
// `retry.maxRetryAfter`; a deadline the known wait exceeds fails at once.
import assert from 'node:assert/strict';
import http from 'node:http';
import { test } from 'node:test';
import { DeadlineError, RateLimitError, rateLimitedFetch } from 'tollgate';
import { drive, fakeClock } from './drive.mjs';

const T0 = Date.UTC(2026, 10, 23, 13, 42, 0);
const log = [];
let base;
const server = http.createServer((req, res) => {
  const url = new URL(req.url, 'http://x');
  log.push(url.pathname + url.search);
  const headers = {};
  for (const [k, v] of url.searchParams) if (k.startsWith('h-')) headers[k.slice(2)] = v;
  res.writeHead(Number(url.searchParams.get('status') ?? 200), headers);
  res.end('{}');
});
test.before(async () => {
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${server.address().port}`;
});
test.after(() => server.close());

let scopeSerial = 0;
/** A wrapper limiting one fresh path prefix (one scope), and a URL maker for it. */
function setup(clock, options = {}) {
  const prefix = `/s${++scopeSerial}`;
  const limited = rateLimitedFetch(fetch, {
    clock,
    random: () => 0,
    routes: [{ url: `${prefix}/*`, windows: [{ limit: 5, per: '1s' }] }],
    ...options,
  });
  const at = (status, headers = {}) => {
    const q = new URLSearchParams({ status: String(status) });
    for (const [k, v] of Object.entries(headers)) q.set(`h-${k}`, v);
    return `${base}${prefix}/x?${q}`;
  };
  return { limited, at, sent: () => log.filter((l) => l.startsWith(`${prefix}/`)).length };
}

const ABSURD = [
  ['Retry-After: 99999999999', 429, { 'retry-after': '99999999999' }],
  ['Retry-After: 9999999999999', 429, { 'retry-after': '9999999999999' }],
  ['Retry-After: year 9999', 429, { 'retry-after': 'Fri, 31 Dec 9999 23:59:59 GMT' }],
  ['X-RateLimit-Reset: 99999999999 on a 429', 429, { 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': '99999999999' }],
  ['X-RateLimit-Reset in microseconds on a 200', 200, { 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': String(T0 * 1000) }],
  ['RateLimit t=999999999999999 on a 200', 200, { ratelimit: '"d";r=0;t=999999999999999', 'ratelimit-policy': '"d";q=5;w=1' }],
];

for (const [what, status, headers] of ABSURD) {
  test(`${what}: later calls fail fast with RateLimitError until maxRetryAfter, then go through`, async () => {
    const clock = fakeClock(T0);
    const { limited, at, sent } = setup(clock, { retry: { maxRetryAfter: '1m' } });
    const first = await drive(clock, limited(at(status, headers))).catch((e) => e);
    if (status === 429) {
      assert.ok(first instanceof RateLimitError, `${what}: ${first}`);
      assert.ok(first.retryAt > T0 + 60_000);
    } else {
      assert.equal(first.status, 200);
    }
    assert.equal(clock.now(), T0, 'no waiting');
    const before = sent();
    for (let i = 0; i < 3; i++) {
      const later = await drive(clock, limited(at(200))).catch((e) => e);
      assert.ok(later instanceof RateLimitError, `${what}: call ${i} gave ${later}`);
      assert.ok(later.retryAt > T0 + 60_000 && Number.isFinite(later.retryAt));
      assert.doesNotThrow(() => later.message);
    }
    assert.equal(sent(), before, 'refused calls are not sent');
    assert.equal(clock.now(), T0, 'refused calls do not wait');
    // The refusal expires after maxRetryAfter: the server is asked again.
    await clock.advanceTo(T0 + 60_000);
    const res = await drive(clock, limited(at(200)));
    assert.equal(res.status, 200);
    assert.ok(clock.now() - T0 <= 61_000, `waited until ${clock.now() - T0}`);
  });
}

test('a Date of 1970 is not trusted: an epoch reset 1 s away stays 1 s away', async () => {
  const clock = fakeClock(T0);
  const { limited, at } = setup(clock);
  const headers = {
    date: 'Thu, 01 Jan 1970 00:00:01 GMT',
    'x-ratelimit-limit': '5',
    'x-ratelimit-remaining': '0',
    'x-ratelimit-reset': String(T0 / 1000 + 1),
  };
  assert.equal((await drive(clock, limited(at(200, headers)))).status, 200);
  assert.equal((await drive(clock, limited(at(200)))).status, 200);
  assert.equal(clock.now(), T0 + 1_000, 'the next call waits for the reset, and no longer');
});

test('a deadline the known wait exceeds rejects at once with DeadlineError and its retryAt', async () => {
  const clock = fakeClock(T0);
  const { at } = setup(clock);
  const one = rateLimitedFetch(fetch, { clock, routes: [{ url: new URL(at(200)).pathname, windows: [{ limit: 1, per: '1m' }] }] });
  assert.equal((await drive(clock, one(at(200)))).status, 200);
  const error = await drive(clock, one(at(200), { tollgate: { deadline: '1s' } })).catch((e) => e);
  assert.ok(error instanceof DeadlineError, String(error));
  assert.equal(error.retryAt, T0 + 60_000);
  assert.equal(clock.now(), T0, 'rejected without waiting for the deadline');
});

// A property over header values, however absurd: every call ends with a
// response or a documented error, never waits past maxRetryAfter, and never
// leaves its scope paused or full beyond it.
test('property: no header value gives a wait past maxRetryAfter or an undocumented error', async () => {
  let seed = 12345;
  const rand = (n) => { seed = (seed * 1103515245 + 12345) % 2 ** 31; return seed % n; };
  const pick = (a) => a[rand(a.length)];
  const numbers = ['0', '1', '7', '59', '3600', '99999999999', '9999999999999', '999999999999999', '18446744073709551616',
    String(Math.floor(T0 / 1000) + 5), String(T0 + 5_000), String(T0 * 1000), '-1', '1.5', '1e3', ' 2 ', 'NaN', ''];
  const dates = ['Thu, 01 Jan 1970 00:00:01 GMT', 'Fri, 31 Dec 9999 23:59:59 GMT', new Date(T0 + 3_000).toUTCString(),
    new Date(T0 - 7_200_000).toUTCString(), 'yesterday'];
  const fields = {
    'retry-after': () => pick([...numbers, ...dates]),
    date: () => pick(dates),
    'x-ratelimit-limit': () => pick(numbers),
    'x-ratelimit-remaining': () => pick(['0', '1', ...numbers]),
    'x-ratelimit-reset': () => pick(numbers),
    'x-ratelimit-window': () => pick(['per_minute', '1s', '99999999999d', ...numbers]),
    'ratelimit-policy': () => pick([`${pick(numbers)};w=${pick(numbers)}`, `"d";q=${pick(numbers)};w=${pick(numbers)}`]),
    ratelimit: () => pick([`"d";r=${pick(numbers)};t=${pick(numbers)}`, `limit=${pick(numbers)}, remaining=${pick(numbers)}, reset=${pick(numbers)}`]),
    'ratelimit-reset': () => pick(numbers),
    'ratelimit-remaining': () => pick(numbers),
  };
  const BOUND = 60_000;
  for (let i = 0; i < 60; i++) {
    const clock = fakeClock(T0);
    const { limited, at } = setup(clock, { retry: { maxRetryAfter: BOUND, limit: 2, backoff: 10 } });
    const headers = {};
    for (const [name, value] of Object.entries(fields)) if (rand(3) === 0) headers[name] = value();
    for (const name of Object.keys(headers)) if (!/^[\t\x20-\x7e]*$/.test(headers[name])) delete headers[name];
    const status = pick([200, 429, 503]);
    for (const u of [at(status, headers), at(200), at(200)]) {
      const start = clock.now();
      const outcome = await drive(clock, limited(u)).catch((e) => e);
      const what = `${status} ${JSON.stringify(headers)}: ${outcome}`;
      assert.ok(outcome instanceof Response || ['RateLimitError', 'RetryError', 'DeadlineError'].includes(outcome.name), what);
      assert.ok(clock.now() - start <= BOUND + 1_000, `${what}: waited ${clock.now() - start}`);
      if (!(outcome instanceof Response)) assert.ok(outcome.retryAt === undefined || !Number.isNaN(outcome.retryAt), what);
      const [scope] = limited.scopes();
      assert.ok(scope.limiter.pausedUntil <= clock.now() + BOUND + 1_000, `${what}: paused until ${scope.limiter.pausedUntil - clock.now()}`);
      for (const u2 of scope.limiter.usage()) assert.ok(u2.nextFreeAt <= clock.now() + BOUND + 1_000 || u2.nextFreeAt === Infinity, `${what}: full until ${u2.nextFreeAt - clock.now()}`);
    }
  }
});
