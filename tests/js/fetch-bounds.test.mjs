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
