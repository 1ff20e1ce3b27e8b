// What a matched request does per call was made cheaper (issue 12, calls and
// overhead); these check that it still does the same: the response's headers
// read for feedback give what parseRateLimitHeaders gives, the acceptance times
// are kept bounded and counted as before, the requests in flight are listed in
// order however they land, a full retry budget stays full, and a request
// without headers reaches fetch with none of ours (a plain one with no init at
// all; one with headers, with exactly them). A real server on 127.0.0.1.
import assert from 'node:assert/strict';
import http from 'node:http';
import { createRequire } from 'node:module';
import { test } from 'node:test';
import { parseRateLimitHeaders, rateLimitedFetch } from 'tollgate';

const require = createRequire(import.meta.url);
// The package's own instances of its internal modules (see .ci/bundle-node.mjs).
const { readFeedback } = require('../../js/cjs/feedback.js');
const { ACCEPTED_KEPT, acceptedSince, recordAccepted } = require('../../js/cjs/refusal.js');
const { Flights } = require('../../js/cjs/fetch.js');
const { RetryPlanner } = require('../../js/cjs/wasm/feedback.js');

const NOW = Date.UTC(2026, 11, 5, 7, 0, 0);
const CASES = [
  {},
  { date: new Date(NOW).toUTCString() },
  { date: new Date(NOW + 3_000).toUTCString(), 'content-type': 'text/plain', 'x-ratelimit-limit': '60', 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': '30' },
  { 'retry-after': '7', 'x-unrelated': 'a' },
  { ratelimit: 'limit=2, remaining=1, reset=10', 'ratelimit-policy': '2;w=10', 'X-Rate-Limit-Window': '60' },
  [['ratelimit-policy', '10;w=1'], ['ratelimit-policy', '1000;w=3600'], ['ratelimit', '"burst";r=3;t=1'], ['RateLimit-Limit', '5']],
  { 'x-ratelimit-limit': '100', 'x-ratelimit-remaining': '99', 'x-ratelimit-window': '60', 'x-rate-limit-reset': '1800000000' },
];

/** Headers that only answer `get` (another implementation's, as a custom fetch may return). */
const getOnly = (headers) => ({ get: (name) => headers.get(name) });

test('response headers read for feedback say what parseRateLimitHeaders says, from undici\'s Headers or another implementation\'s', () => {
  for (const init of CASES) {
    const headers = new Headers(init);
    const read = readFeedback(headers, NOW);
    assert.deepEqual(read, readFeedback(getOnly(headers), NOW), JSON.stringify(init));
    // Nothing beyond a Date: null; anything else: what parseRateLimitHeaders (a get per name) finds.
    const limits = [...headers.keys()].some((k) => k !== 'date' && /rate|retry/.test(k));
    if (limits) assert.deepEqual(read, parseRateLimitHeaders(headers, NOW), JSON.stringify(init));
    else assert.equal(read, null, JSON.stringify(init));
  }
  // Repeated fields are joined as `get` joins them: two policies are two windows.
  const two = readFeedback(new Headers(CASES[5]), NOW);
  assert.ok(two.windows.length >= 2, JSON.stringify(two));
});

test('acceptance times: bounded, trimmed in batches, and counted over the latest ACCEPTED_KEPT as before', () => {
  const accepted = [];
  let longest = 0;
  for (let i = 0; i < 5 * ACCEPTED_KEPT + 100; i++) {
    recordAccepted(accepted, i);
    longest = Math.max(longest, accepted.length);
    assert.equal(accepted.at(-1), i, 'the newest is kept');
  }
  assert.ok(longest < 2 * ACCEPTED_KEPT, `at most twice ACCEPTED_KEPT are held (${longest})`);
  assert.ok(accepted.length >= ACCEPTED_KEPT);
  const last = 5 * ACCEPTED_KEPT + 99;
  // Counts within the kept ones are exact; beyond them they stop at the cap, as when exactly ACCEPTED_KEPT were kept.
  assert.equal(acceptedSince(accepted, last - 10), 10);
  assert.equal(acceptedSince(accepted, last - 4_000), 4_000);
  assert.equal(acceptedSince(accepted, -1), ACCEPTED_KEPT);
  assert.equal(acceptedSince(accepted, last - ACCEPTED_KEPT - 500), ACCEPTED_KEPT);
});

test('requests in flight: listed oldest first, however they land; a second removal changes nothing', () => {
  const list = new Flights();
  const order = () => {
    const costs = [];
    for (let f = list.first; f !== undefined; f = f.next) costs.push(f.cost);
    // Walked back from the last: the same list reversed (both links hold).
    const back = [];
    for (let f = list.last; f !== undefined; f = f.prev === f ? undefined : f.prev) back.unshift(f.cost);
    assert.deepEqual(back, costs);
    return costs;
  };
  const [a, b, c, d] = [1, 2, 3, 4].map((cost) => list.add(cost));
  assert.deepEqual(order(), [1, 2, 3, 4]);
  list.delete(b); // from the middle
  assert.deepEqual(order(), [1, 3, 4]);
  list.delete(b); // again: nothing (its neighbours are not touched)
  assert.deepEqual(order(), [1, 3, 4]);
  list.delete(d); // the last
  assert.deepEqual(order(), [1, 3]);
  const e = list.add(5);
  assert.deepEqual(order(), [1, 3, 5]);
  list.delete(a); // the first
  list.delete(a);
  assert.deepEqual(order(), [3, 5]);
  list.delete(e);
  list.delete(c);
  assert.deepEqual(order(), []);
  assert.equal(list.first, undefined);
  assert.equal(list.last, undefined);
  list.add(6);
  assert.deepEqual(order(), [6]);
});

test('a full retry budget stays full through successes: it then allows as many retries as a new one', () => {
  const fresh = new RetryPlanner(100, 1_000, 30_000, Infinity, 0, 300_000, 10, 0.1);
  const full = new RetryPlanner(100, 1_000, 30_000, Infinity, 0, 300_000, 10, 0.1);
  for (let i = 0; i < 1_000; i++) full.onSuccess();
  const retries = (planner) => Array.from({ length: 6 }, () => planner.decide(1, 503, true, false, -1, NOW, NOW, 0.5) >= 0);
  assert.deepEqual(retries(full), retries(fresh));
  assert.deepEqual(retries(new RetryPlanner(100, 1_000, 30_000, Infinity, 0, 300_000, 10, 0.1)), [true, true, true, true, false, false]);
  // Spent, then refilled by successes up to the maximum and no further: 4 retries again, not more.
  for (let i = 0; i < 10_000; i++) full.onSuccess();
  assert.deepEqual(retries(full), [true, true, true, true, false, false]);
});

test('a matched request reaches fetch with no headers of ours unless it has some; with some, exactly those', async () => {
  const seen = [];
  const server = http.createServer((req, res) => {
    seen.push({ custom: req.headers['x-custom'] ?? null, key: req.headers['idempotency-key'] ?? null });
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end('ok');
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${server.address().port}`;
  try {
    const inits = [];
    const given = [];
    const spy = (input, init) => {
      given.push(init);
      inits.push(init?.headers);
      return fetch(input, init);
    };
    const limited = rateLimitedFetch(spy, { routes: [{ url: '/a/*', windows: [{ limit: 100, per: '1s' }] }] });
    await (await limited(`${base}/a/1`)).text();
    await (await limited(`${base}/a/2`, { headers: { 'x-custom': 'yes' } })).text();
    await (await limited(new Request(`${base}/a/3`, { headers: { 'x-custom': 'from-request' } }))).text();
    await (await limited(`${base}/a/4`, { method: 'POST', body: '{}' })).text();
    assert.equal(inits[0], undefined, 'no headers: fetch gets none');
    assert.equal(given[0], undefined, 'a plain call: fetch gets no init at all, as a raw call would');
    assert.equal(given[1].tollgate, undefined);
    assert.ok(inits[1] instanceof Headers && inits[1].get('x-custom') === 'yes');
    assert.deepEqual(seen.map((s) => s.custom), [null, 'yes', 'from-request', null]);
    assert.equal(seen[0].key, null);
    assert.match(seen[3].key ?? '', /^[0-9a-f-]{36}$/, 'a POST still gets its Idempotency-Key');
  } finally {
    server.close();
  }
});

test('admitted reaches a diagnostics_channel subscriber that comes after the wrapper was made, and stops when it leaves', async () => {
  const diagnostics = await import('node:diagnostics_channel');
  const server = http.createServer((req, res) => res.writeHead(200, { 'content-type': 'text/plain' }).end('ok'));
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${server.address().port}/late/1`;
  const got = [];
  const onMessage = (message) => got.push(message.attempt);
  try {
    const limited = rateLimitedFetch(fetch, { routes: [{ url: '/late/*', windows: [{ limit: 100, per: '1s' }] }] });
    await (await limited(url)).text(); // no one listens yet
    diagnostics.subscribe('tollgate:fetch:admitted', onMessage);
    await (await limited(url)).text();
    await (await limited(url)).text();
    diagnostics.unsubscribe('tollgate:fetch:admitted', onMessage);
    await (await limited(url)).text();
    assert.deepEqual(got, [1, 1]);
  } finally {
    diagnostics.unsubscribe('tollgate:fetch:admitted', onMessage);
    server.close();
  }
});
