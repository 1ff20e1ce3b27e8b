// Learned windows and zero configuration, against a real server on 127.0.0.1
// that states its policy in draft-7 headers (as express-rate-limit does).
import assert from 'node:assert/strict';
import http from 'node:http';
import { test } from 'node:test';
import { rateLimitedFetch } from 'tollgate';
import { drive, fakeClock } from './drive.mjs';

const T0 = Date.UTC(2026, 10, 23, 13, 42, 0);
let base;
let hits = 0;
const server = http.createServer((req, res) => {
  hits++;
  res.writeHead(200, { 'ratelimit-policy': '2;w=10', ratelimit: `limit=2, remaining=${hits % 2 === 1 ? 1 : 0}, reset=10` });
  res.end('{}');
});
test.before(async () => {
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${server.address().port}`;
});
test.after(() => server.close());

test('without configuration, the origin is limited by the policy its server states', async () => {
  const clock = fakeClock(T0);
  const limited = rateLimitedFetch(fetch, { clock, random: () => 0 });
  const adapted = [];
  limited.events.addEventListener('adapted', (e) => adapted.push(e.detail));
  hits = 0;
  // Admission times (responses may arrive after virtual time has moved on).
  const times = [];
  limited.events.addEventListener('admitted', (e) => times.push(e.detail.at - T0));
  await drive(clock, Promise.all(Array.from({ length: 4 }, () => limited(`${base}/x`))));
  assert.equal(hits, 4);
  assert.deepEqual(times.sort((a, b) => a - b).map((t) => t >= 10_000), [false, false, true, true], `admitted at ${times}`);
  const [scope] = limited.scopes();
  assert.deepEqual(scope.configured, []);
  assert.deepEqual(scope.learned, [{ limit: 2, perMs: 10_000, kind: 'sliding' }]);
  assert.equal(adapted.length, 1);
  assert.deepEqual(adapted[0].to, [{ limit: 2, perMs: 10_000, kind: 'sliding' }]);
});

test('a configured limit above the stated one is lowered at once; unmatched requests pass through unless learnUnmatched', async () => {
  const clock = fakeClock(T0);
  const limited = rateLimitedFetch(fetch, { clock, routes: [{ url: '/x', windows: [{ limit: 5, per: '10s' }] }] });
  hits = 0;
  await drive(clock, limited(`${base}/x`));
  const [scope] = limited.scopes();
  assert.deepEqual(scope.configured.map((w) => [w.limit, w.perMs]), [[5, 10_000]]);
  assert.deepEqual(scope.limiter.usage().map((u) => [u.limit, u.perMs]), [[2, 10_000]]);
  await drive(clock, limited(`${base}/other`));
  assert.equal(limited.scopes().length, 1, 'unmatched: no scope');
  const learning = rateLimitedFetch(fetch, { clock, learnUnmatched: true, routes: [{ url: '/x', windows: [{ limit: 5, per: '10s' }] }] });
  await drive(clock, learning(`${base}/other`));
  assert.equal(learning.scopes().length, 1);
  assert.deepEqual(learning.scopes()[0].learned, [{ limit: 2, perMs: 10_000, kind: 'sliding' }]);
});

test('a window learned from an epoch X-RateLimit-Reset (whole seconds, rounded up) is its exact length, and its slots free a window after their requests, not at the rounded reset', async () => {
  // express-rate-limit's legacy headers: 2 per 10 s from a window's first
  // request, no window length, the reset in epoch seconds rounded up. Sent at
  // T0 + 300 ms, the first request's reset reads T0 + 11 s: 10.7 s ahead.
  const clock = fakeClock(T0 + 300);
  const log = [];
  let windowEnd = 0;
  let count = 0;
  const legacy = http.createServer((req, res) => {
    const now = clock.now();
    if (now >= windowEnd) {
      windowEnd = now + 10_000;
      count = 0;
    }
    count++;
    log.push([now - T0, count <= 2 ? 200 : 429]);
    const headers = { 'x-ratelimit-limit': '2', 'x-ratelimit-remaining': String(Math.max(0, 2 - count)), 'x-ratelimit-reset': String(Math.ceil(windowEnd / 1000)) };
    if (count > 2) headers['retry-after'] = String(Math.ceil((windowEnd - now) / 1000));
    res.writeHead(count <= 2 ? 200 : 429, headers).end('{}');
  });
  await new Promise((resolve) => legacy.listen(0, '127.0.0.1', resolve));
  try {
    // Virtual time holds while a request is in flight (a network with no latency).
    let inFlight = 0;
    const counted = (input, init) => {
      inFlight++;
      return fetch(input, init).finally(() => { inFlight--; });
    };
    const limited = rateLimitedFetch(counted, { clock, random: () => 0 });
    const url = `http://127.0.0.1:${legacy.address().port}/x`;
    await drive(clock, Promise.all(Array.from({ length: 4 }, () => limited(url))), { busy: () => inFlight > 0 });
    assert.deepEqual(limited.scopes()[0].learned, [{ limit: 2, perMs: 10_000, kind: 'sliding' }], 'not 11 s (rounded from 10.7 s)');
    // The third goes when the first's slot frees (10 s after it), not at the reset as sent (10.7 s).
    assert.deepEqual(log, [[300, 200], [300, 200], [10_300, 200], [10_300, 200]]);
  } finally {
    legacy.close();
  }
});

test('requests in flight when the scope learns a lower limit stay counted as in flight on the new limiter, until they land', async () => {
  // A strict sliding log, 2 per 10 s, stating its policy. The client is
  // configured for 4: it sends 4 at once; the first reaches the server at
  // once, the others 0.5 s and 1 s later (latency on the way in). The first
  // response teaches 2 per 10 s while 3 are still on their way.
  const clock = fakeClock(T0);
  const log = [];
  const strict = http.createServer((req, res) => {
    const now = clock.now();
    const recent = log.filter(([at, s]) => s === 200 && at > now - 10_000).map(([at]) => at);
    const status = recent.length < 2 ? 200 : 429;
    log.push([now, status]);
    const headers = { 'ratelimit-policy': '2;w=10', ratelimit: `limit=2, remaining=${Math.max(0, 1 - recent.length)}, reset=10` };
    if (status === 429) headers['retry-after'] = String(Math.ceil((recent[0] + 10_000 - now) / 1000));
    res.writeHead(status, headers).end('{}');
  });
  await new Promise((resolve) => strict.listen(0, '127.0.0.1', resolve));
  try {
    const delays = [0, 500, 1_000, 1_000];
    let sent = 0;
    let onWire = 0;
    const late = async (input, init) => {
      const delay = delays[sent++] ?? 0;
      if (delay > 0) await new Promise((resolve) => clock.setTimeout(resolve, delay));
      onWire++;
      try {
        return await fetch(input, init);
      } finally {
        onWire--;
      }
    };
    const limited = rateLimitedFetch(late, { clock, random: () => 0, routes: [{ url: '/x', windows: [{ limit: 4, per: '10s' }] }] });
    const url = `http://127.0.0.1:${strict.address().port}/x`;
    // Virtual time moves only when nothing is on the wire (the delays are virtual timers).
    const statuses = await drive(clock, Promise.all(Array.from({ length: 4 }, () => limited(url).then((r) => r.status))), { busy: () => onWire > 0 });
    assert.deepEqual(statuses, [200, 200, 200, 200]);
    // The two that arrived at 1 s are refused there (the server's window holds 0 s and 0.5 s);
    // their retries go when a slot frees on the server: 10 s and 10.5 s, no 429 after the first window.
    assert.deepEqual(log.map(([at, s]) => [at - T0, s]), [[0, 200], [500, 200], [1_000, 429], [1_000, 429], [10_000, 200], [10_500, 200]]);
  } finally {
    strict.close();
  }
});

/**
 * express-rate-limit's legacy headers on `clock`: `limit` per window of
 * `windowMs` from its first request, X-RateLimit-Reset in epoch seconds
 * rounded up; no Date. The first `slow` requests reach it `latencyMs`
 * (virtual) after they are sent, the others at once. Resolves with its log
 * ([virtual ms, status]), its fetch, and `busy`.
 */
async function legacyServer(clock, limit, windowMs, latencyMs, slow) {
  const log = [];
  let start = -Infinity;
  let count = 0;
  const server = http.createServer((req, res) => {
    const now = clock.now();
    if (now >= start + windowMs) [start, count] = [now, 0];
    const status = count < limit ? 200 : 429;
    if (status === 200) count++;
    log.push([now, status]);
    res.sendDate = false;
    res.writeHead(status, {
      'x-ratelimit-limit': String(limit), 'x-ratelimit-remaining': String(limit - count),
      'x-ratelimit-reset': String(Math.ceil((start + windowMs) / 1000)),
    }).end('{}');
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  let onWire = 0;
  let sent = 0;
  const delayed = async (input, init) => {
    if (sent++ < slow) await new Promise((resolve) => clock.setTimeout(resolve, latencyMs));
    onWire++;
    try {
      return await fetch(input, init);
    } finally {
      onWire--;
    }
  };
  return { url: `http://127.0.0.1:${server.address().port}/x`, log, fetch: delayed, busy: () => onWire > 0, close: () => server.close() };
}

// Sent at .8 s, at the server at 1.1 s: its window of 10 s ends at 11.1 s,
// stated as 12 (rounded up), so 10 s and 11 s both fit what the client saw.
test('a window stated by a limit and a whole-second reset that allows two lengths: the configured one, not a second window beside it', async () => {
  const clock = fakeClock(T0 + 800);
  const server = await legacyServer(clock, 3, 10_000, 300, 3);
  try {
    const limited = rateLimitedFetch(server.fetch, { clock, random: () => 0, routes: [{ url: '/x', windows: [{ limit: 3, per: '10s' }] }] });
    const statuses = await drive(clock, Promise.all(Array.from({ length: 6 }, () => limited(server.url).then((r) => r.status))), { busy: server.busy });
    assert.deepEqual(statuses, [200, 200, 200, 200, 200, 200]);
    const [scope] = limited.scopes();
    assert.deepEqual(scope.learned, [{ limit: 3, perMs: 10_000, kind: 'sliding' }]);
    assert.deepEqual(scope.limiter.usage().map((u) => [u.limit, u.perMs]), [[3, 10_000]]);
  } finally {
    server.close();
  }
});

test('with no configuration: the longer length first (never early), narrowed to the other by the next window, which replaces it', async () => {
  const clock = fakeClock(T0 + 800);
  const server = await legacyServer(clock, 3, 10_000, 300, 1);
  try {
    const limited = rateLimitedFetch(server.fetch, { clock, random: () => 0 });
    const learned = [];
    limited.events.addEventListener('adapted', (e) => learned.push(e.detail.learned.map((l) => l.perMs)));
    const statuses = await drive(clock, Promise.all(Array.from({ length: 6 }, () => limited(server.url).then((r) => r.status))), { busy: server.busy });
    assert.deepEqual(statuses, [200, 200, 200, 200, 200, 200]);
    // The first window's 3 at 1.1 s; its reset, stated 12 s, adopted (the server
    // counts 3 there); the second window's first request sent and received at
    // 12 s, its reset stated 22 s: at most 10 s.
    assert.deepEqual(server.log.map(([t, s]) => [t - T0, s]), [[1_100, 200], [1_100, 200], [1_100, 200], [12_000, 200], [12_000, 200], [12_000, 200]]);
    // 11 s from the first window (10 s or 11 s: the longer); 10 s from the second.
    assert.deepEqual(learned, [[11_000], [10_000]]);
    const [scope] = limited.scopes();
    assert.deepEqual(scope.learned, [{ limit: 3, perMs: 10_000, kind: 'sliding' }]);
    assert.deepEqual(scope.limiter.usage().map((u) => [u.limit, u.perMs]), [[3, 10_000]]);
  } finally {
    server.close();
  }
});
