// checkHeadroom against the Hexagraph-like server's GET /rate-limit: the limiter
// adopts the server's counts, and the answer (fits now, or when) is checked
// against what the server then accepts. Server and limiter share a fake clock.
import assert from 'node:assert/strict';
import http from 'node:http';
import { createRequire } from 'node:module';
import { test } from 'node:test';
import { Limiter } from 'tollgate';
import { startHexagraphServer } from '../servers/index.mjs';
import { drive, fakeClock } from './drive.mjs';

const require = createRequire(import.meta.url);
const { checkHeadroom } = require('../../js/cjs/cost/headroom.js');
const { HeadroomError, isHeadroomError } = require('../../js/cjs/cost/errors.js');

const T0 = Date.UTC(2026, 10, 23, 9, 0, 0);
const MINUTE = 60_000;
const DAY = 86_400_000;
const HEXAGRAPH = [{ limit: 30, per: '1m' }, { limit: 1000, per: '1d' }];

async function hexagraph(t, clock, options = {}) {
  const server = await startHexagraphServer({ clock, ...options });
  t.after(() => server.close());
  return server;
}

/** Another client on the same IP spends `n` requests the limiter never saw. */
async function spentElsewhere(server, n) {
  for (let i = 0; i < n; i++) assert.equal((await fetch(`${server.url}/outputs/${i}`)).status, 200);
}

/**
 * Sends `n` requests through `limiter` as fast as it admits them; returns the
 * admission times. Virtual time stands still while a request is in flight.
 */
async function sendThrough(limiter, clock, server, n) {
  const times = [];
  let inFlight = 0;
  const all = Array.from({ length: n }, async (_, i) => {
    const permit = await limiter.acquire();
    times.push(clock.now());
    inFlight++;
    const res = await fetch(`${server.url}/batch/${i}`);
    inFlight--;
    permit.complete();
    return res.status;
  });
  const statuses = await drive(clock, Promise.all(all), { busy: () => inFlight > 0 });
  return { times, statuses };
}

test('what others spent is adopted: a batch that fits is sent without a 429, one more would not fit', async (t) => {
  const clock = fakeClock(T0);
  const server = await hexagraph(t, clock);
  await spentElsewhere(server, 12);
  const limiter = new Limiter({ windows: HEXAGRAPH, clock });
  const url = `${server.url}/rate-limit`;

  const h = await checkHeadroom(fetch, url, limiter, { n: 18, clock });
  assert.deepEqual(h, {
    n: 18, fits: true, inOneGo: true, earliestAt: T0, waitMs: 0, reconciled: true,
    minute: { current: 12, limit: 30, remaining: 18 }, day: { current: 12, limit: 1000, remaining: 988 },
  });
  assert.deepEqual(limiter.usage().map((w) => w.used), [12, 12], 'the limiter counts what the server counts');

  const more = await checkHeadroom(fetch, url, limiter, { n: 19, clock });
  assert.equal(more.fits, false);
  assert.equal(more.reconciled, false, 'nothing new to adopt');
  assert.equal(more.earliestAt, T0 + MINUTE);
  assert.equal(more.waitMs, MINUTE);
  assert.equal(server.log.filter((e) => e.path === '/rate-limit').length, 2);

  const { statuses } = await sendThrough(limiter, clock, server, 18);
  assert.deepEqual(new Set(statuses), new Set([200]));
  assert.equal(clock.now(), T0, 'all 18 went at once');
});

test('a batch larger than a window: never in one go, and earliestAt is when its last request is admitted', async (t) => {
  const clock = fakeClock(T0);
  const server = await hexagraph(t, clock);
  await spentElsewhere(server, 12);
  const limiter = new Limiter({ windows: HEXAGRAPH, clock });
  const h = await checkHeadroom(fetch, `${server.url}/rate-limit`, limiter, { n: 45, clock });
  assert.equal(h.inOneGo, false);
  assert.equal(h.fits, false);
  // 18 now; the other client's 12 and those 18 leave the minute at T0 + 1 min; 27 more then.
  assert.equal(h.earliestAt, T0 + MINUTE);
  assert.deepEqual(limiter.usage().map((w) => w.used), [12, 12], 'planning left the limiter as it was');

  const { times, statuses } = await sendThrough(limiter, clock, server, 45);
  assert.equal(statuses.filter((s) => s === 429).length, 0);
  assert.equal(Math.max(...times), h.earliestAt, 'the plan is what the limiter then did');
});

test('500 calls on a fresh limiter: the plan matches admitting one at a time', async (t) => {
  const clock = fakeClock(T0);
  const server = await hexagraph(t, clock);
  const limiter = new Limiter({ windows: HEXAGRAPH, clock });
  const h = await checkHeadroom(fetch, `${server.url}/rate-limit`, limiter, { n: 500, clock });
  assert.equal(h.reconciled, false);
  assert.equal(h.earliestAt, T0 + 16 * MINUTE, '30 a minute: the 500th goes in the 17th minute');

  // The same question answered the slow way, on a copy: one tryAcquire per request.
  let now = T0;
  const copy = Limiter.restore(limiter.snapshot(), { clock: { now: () => now, setTimeout() {}, clearTimeout() {} } });
  let last;
  for (let admitted = 0; admitted < 500;) {
    const r = copy.tryAcquire();
    if (r.ok) { admitted++; last = now; } else now = r.retryAt;
  }
  assert.equal(h.earliestAt, last);
});

test('the day window binds: earliestAt waits for it, never NaN', async (t) => {
  const clock = fakeClock(T0 - 2 * 3_600_000);
  const server = await hexagraph(t, clock, { perDay: 40 });
  await spentElsewhere(server, 30);
  clock.advance(MINUTE);
  await spentElsewhere(server, 5);
  clock.set(T0);
  const limiter = new Limiter({ windows: [{ limit: 30, per: '1m' }, { limit: 40, per: '1d' }], clock });
  const h = await checkHeadroom(fetch, `${server.url}/rate-limit`, limiter, { n: 10, clock });
  assert.deepEqual([h.minute, h.day], [{ current: 0, limit: 30, remaining: 30 }, { current: 35, limit: 40, remaining: 5 }]);
  assert.equal(h.fits, false);
  assert.equal(h.inOneGo, true);
  // The server does not say when its day frees up, so the limiter holds its count for a full day from now.
  assert.equal(h.earliestAt, T0 + DAY);
  assert.ok(Number.isFinite(h.waitMs) && h.waitMs === DAY);
});

test('the limiter counts more than the server (requests not yet sent): fits follows the limiter', async (t) => {
  const clock = fakeClock(T0);
  const server = await hexagraph(t, clock);
  const limiter = new Limiter({ windows: [{ limit: 25, per: '1m' }, { limit: 900, per: '1d' }], clock });
  for (let i = 0; i < 15; i++) assert.ok(limiter.tryAcquire().ok);
  const ok = await checkHeadroom(fetch, `${server.url}/rate-limit`, limiter, { n: 10, clock });
  assert.equal(ok.reconciled, false);
  assert.equal(ok.fits, true);
  const no = await checkHeadroom(fetch, `${server.url}/rate-limit`, limiter, { n: 11, clock });
  assert.equal(no.minute.remaining, 30, 'the server has room');
  assert.equal(no.fits, false, 'the limiter (25 a minute, for headroom) does not');
  assert.equal(no.earliestAt, T0 + MINUTE);
  assert.equal(no.inOneGo, true);
  // A limiter set below the server's limit adopts the server's count, not its remaining.
  await spentElsewhere(server, 20);
  await checkHeadroom(fetch, `${server.url}/rate-limit`, limiter, { clock });
  assert.deepEqual(limiter.usage().map((w) => w.used), [20, 20]);
});

test('a limiter set above the server\'s limit: fits follows the server', async (t) => {
  const clock = fakeClock(T0);
  const server = await hexagraph(t, clock);
  await spentElsewhere(server, 20);
  const limiter = new Limiter({ windows: [{ limit: 60, per: '1m' }, { limit: 1000, per: '1d' }], clock });
  const h = await checkHeadroom(fetch, `${server.url}/rate-limit`, limiter, { n: 15, clock });
  assert.deepEqual(limiter.usage().map((w) => w.remaining), [40, 980], 'the limiter has room for 15');
  assert.equal(h.minute.remaining, 10);
  assert.equal(h.fits, false, 'the server has not');
});

/** A server answering /rate-limit with a fixed status and body text. */
async function scripted(t, status, body) {
  const server = http.createServer((req, res) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(body);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise((resolve) => { server.close(resolve); server.closeAllConnections(); }));
  return `http://127.0.0.1:${server.address().port}/rate-limit`;
}

test('a malformed answer is a HeadroomError naming what is wrong, and the limiter is left alone', async (t) => {
  const clock = fakeClock(T0);
  const good = { minute: { current: 1, limit: 30 }, day: { current: 1, limit: 1000 } };
  const cases = [
    [200, 'Too Many Requests', /not JSON/],
    [200, '{}', /no `rateLimit` object/],
    [200, 'null', /no `rateLimit` object/],
    [200, JSON.stringify({ rateLimit: { minute: good.minute } }), /`rateLimit.day` object/],
    [200, JSON.stringify({ rateLimit: { ...good, minute: { current: '12', limit: 30 } } }), /`rateLimit.minute.current` must be an integer >= 0; got "12"/],
    [200, JSON.stringify({ rateLimit: { ...good, minute: { current: -1, limit: 30 } } }), /`rateLimit.minute.current`/],
    [200, JSON.stringify({ rateLimit: { ...good, day: { current: 1.5, limit: 1000 } } }), /`rateLimit.day.current`/],
    [200, JSON.stringify({ rateLimit: { ...good, day: { current: 1 } } }), /`rateLimit.day.limit` must be an integer >= 1; got undefined/],
    [200, JSON.stringify({ rateLimit: { ...good, day: { current: 1, limit: 0 } } }), /`rateLimit.day.limit`/],
    [429, JSON.stringify({ error: 'Too Many Requests', statusCode: 429 }), /answered 429/],
    [500, '', /answered 500/],
  ];
  for (const [status, body, message] of cases) {
    const url = await scripted(t, status, body);
    const limiter = new Limiter({ windows: HEXAGRAPH, clock });
    await assert.rejects(checkHeadroom(fetch, url, limiter, { n: 5, clock }), (e) => {
      assert.ok(e instanceof HeadroomError && isHeadroomError(e) && e.name === 'HeadroomError', body);
      assert.match(e.message, message);
      assert.ok(e.message.includes(url));
      assert.equal(e.response.status, status);
      return true;
    });
    assert.deepEqual(limiter.usage().map((w) => w.used), [0, 0]);
  }
});

test('bad arguments are TypeErrors naming them', async (t) => {
  const clock = fakeClock(T0);
  const server = await hexagraph(t, clock);
  const url = `${server.url}/rate-limit`;
  const minuteOnly = new Limiter({ windows: [{ limit: 30, per: '1m' }], clock });
  await assert.rejects(checkHeadroom(fetch, url, minuteOnly, { clock }), (e) => e instanceof TypeError && /`limiter` has no window of 86400000 ms/.test(e.message));
  const limiter = new Limiter({ windows: HEXAGRAPH, clock });
  await assert.rejects(checkHeadroom(fetch, url, limiter, { n: 0 }), /`n`/);
  await assert.rejects(checkHeadroom(fetch, url, limiter, { n: 2.5 }), /`n`/);
  await assert.rejects(checkHeadroom(fetch, url, {}, {}), /`limiter`/);
  await assert.rejects(checkHeadroom(null, url, limiter), /`fetch`/);
  await assert.rejects(checkHeadroom(fetch, 42, limiter), /`url`/);
  await assert.rejects(checkHeadroom(fetch, url, limiter, { signal: 'stop' }), /`signal`/);
  assert.equal(server.log.length, 0, 'nothing was sent');
});
