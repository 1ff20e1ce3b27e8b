// 429s that say nothing (no Retry-After, no rate-limit header: nginx's
// limit_req answers so), against a real server on 127.0.0.1 that counts a
// sliding window on the test's fake clock. See README "429s that say nothing".
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import http from 'node:http';
import { test } from 'node:test';
import { rateLimitedFetch } from 'tollgate';
import { drive, fakeClock } from './drive.mjs';

const T0 = Date.UTC(2026, 10, 23, 13, 42, 0);

/** `limit` per `perMs` (sliding, on `clock`), refused with a bare 429; its log: [virtual ms, status]. */
async function silentServer(clock, limit, perMs) {
  const log = [];
  const server = http.createServer((req, res) => {
    const now = clock.now();
    const recent = log.filter(([at, status]) => status === 200 && at > now - perMs).length;
    const status = recent < limit ? 200 : 429;
    log.push([now, status]);
    res.writeHead(status, { 'content-type': 'text/plain' }).end(status === 200 ? 'ok' : 'Too Many Requests');
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${server.address().port}/work`, log, close: () => new Promise((r) => server.close(r)) };
}

const settle = (limited, url, n) => Promise.allSettled(Array.from({ length: n }, () => limited(url).then(async (r) => {
  await r.text();
  if (r.status !== 200) throw new Error(`status ${r.status}`);
})));
/** fetch, counting requests in flight: virtual time holds while any is (see drive's `busy`). */
function counted() {
  let inFlight = 0;
  const f = (input, init) => {
    inFlight++;
    return fetch(input, init).finally(() => { inFlight--; });
  };
  return { fetch: f, busy: () => inFlight > 0 };
}
const lost = (outcomes) => outcomes.filter((o) => o.status === 'rejected').map((o) => String(o.reason));

/** Set by the first test: a learning scope would spin, and hang any later test of one in this process. */
let spins = false;

test('a server that says nothing about its limits, not even a 429: a learning scope sends all after its probe, and never spins', () => {
  // In a child: a spin on a settled promise starves the event loop, so no timer
  // in this process could fail the test.
  const script = `
    import http from 'node:http';
    import { rateLimitedFetch } from 'tollgate';
    const server = http.createServer((req, res) => res.end('ok'));
    await new Promise((r) => server.listen(0, '127.0.0.1', r));
    const limited = rateLimitedFetch(fetch);
    const url = 'http://127.0.0.1:' + server.address().port + '/x';
    const statuses = await Promise.all(Array.from({ length: 5 }, () => limited(url).then(async (r) => { await r.text(); return r.status; })));
    console.log(JSON.stringify(statuses));
    server.close();
  `;
  const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], { cwd: new URL('../..', import.meta.url), encoding: 'utf8', timeout: 15_000 });
  spins = child.signal !== null;
  assert.equal(child.signal, null, `killed after 15 s: it hung (stderr: ${child.stderr})`);
  assert.equal(child.stdout.trim(), '[200,200,200,200,200]', child.stderr);
});

test('a configured window too generous for a silent server is lowered to what it accepted in a period: its first excess refused, no 429 after, none lost', async () => {
  const clock = fakeClock(T0);
  const server = await silentServer(clock, 2, 10_000);
  try {
    const net = counted();
    const limited = rateLimitedFetch(net.fetch, { clock, random: () => 0, routes: [{ url: '/work', windows: [{ limit: 4, per: '10s' }] }] });
    const adapted = [];
    limited.events.addEventListener('adapted', (e) => adapted.push(e.detail));
    const outcomes = await drive(clock, settle(limited, server.url, 6), { busy: net.busy });
    assert.deepEqual(lost(outcomes), []);
    // 4 sent at once, 2 refused; then 2 per 10 s from the accepted ones.
    assert.deepEqual(server.log.map(([at, s]) => [at - T0, s]), [[0, 200], [0, 200], [0, 429], [0, 429], [10_000, 200], [10_000, 200], [20_000, 200], [20_000, 200]]);
    const [scope] = limited.scopes();
    assert.deepEqual(scope.learned, [{ limit: 2, perMs: 10_000, kind: 'sliding' }]);
    assert.deepEqual(scope.limiter.usage().map(({ limit, perMs }) => [limit, perMs]), [[2, 10_000]]);
    assert.equal(adapted.length, 1);
  } finally {
    await server.close();
  }
});

test('a learning scope refused without a word goes one request at a time, spacing doubled by a 429 until one is accepted, then cut by a tenth by a 200 down to the pace its refusals bound, spending no retry budget', async () => {
  assert.equal(spins, false, 'not run: a learning scope spins (see the first test), this one would hang');
  const clock = fakeClock(T0);
  const server = await silentServer(clock, 3, 10_000);
  try {
    // A budget of 2 tokens stops retries once 1 is spent: fewer than the refusals here.
    const net = counted();
    const limited = rateLimitedFetch(net.fetch, { clock, random: () => 0, retry: { backoff: '1s', budget: { maxTokens: 2 } } });
    const outcomes = await drive(clock, settle(limited, server.url, 6), { busy: net.busy });
    assert.deepEqual(lost(outcomes), []);
    // The probe, then rounds of 1 and 2 (slow start): 3 accepted, 1 refused,
    // and the scope goes blind. Then one at a time, the first 1 s after that
    // refusal: 1 s, 3 s, 7 s refused (the window frees at 10 s), each doubling
    // the spacing; 15 s accepted (8 s); then cut by a tenth (7.2 s), but not to
    // 7 s or below: nothing was accepted in the 7 s to the last refusal, so the
    // server's pace is slower than that (22.2 s, 29.4 s).
    assert.deepEqual(server.log.map(([t, s]) => [t - T0, s]), [
      [0, 200], [0, 200], [0, 200], [0, 429],
      [1_000, 429], [3_000, 429], [7_000, 429], [15_000, 200], [22_200, 200], [29_400, 200],
    ]);
  } finally {
    await server.close();
  }
});

/**
 * nginx's limit_req on `clock`: `burst` + 1 at once, then one per `intervalMs`
 * (its excess in ms, drained as time passes; a refusal leaves it as it is),
 * refused with a bare 429. Its log: [virtual ms, status].
 */
async function silentBucket(clock, burst, intervalMs) {
  const log = [];
  let excess;
  let last;
  const server = http.createServer((req, res) => {
    const now = clock.now();
    const next = excess === undefined ? 0 : Math.max(0, excess - ((now - last) * 1000) / intervalMs) + 1000;
    const status = next <= burst * 1000 ? 200 : 429;
    if (status === 200) [excess, last] = [next, now];
    log.push([now, status]);
    res.writeHead(status, { 'content-type': 'text/plain' }).end(status === 200 ? 'ok' : 'Too Many Requests');
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${server.address().port}/work`, log, close: () => new Promise((r) => server.close(r)) };
}

test('a silent bucket (nginx limit_req: 5 at once, then one a second), no configuration: a slow start, one refusal below its pace, then no 429', async () => {
  assert.equal(spins, false, 'not run: a learning scope spins (see the first test), this one would hang');
  const clock = fakeClock(T0);
  const server = await silentBucket(clock, 4, 1_000);
  try {
    const net = counted();
    const limited = rateLimitedFetch(net.fetch, { clock, random: () => 0, retry: { backoff: '1s' } });
    const outcomes = await drive(clock, settle(limited, server.url, 15), { busy: net.busy });
    assert.deepEqual(lost(outcomes), []);
    // Slow start: the probe, rounds of 1, 2 and 4 (1 accepted: its bucket of
    // 5 is empty), 3 refused. Blind: 1 s accepted, 1.9 s (a tenth less) refused,
    // back to the 1 s last accepted, counted from that acceptance (the refusal
    // took nothing from the bucket: its slot at 2 s is still there, and waiting
    // 1 s from the refusal, 2.9 s, lost it), and never below it again.
    assert.deepEqual(server.log.map(([t, s]) => [t - T0, s]), [
      [0, 200], [0, 200], [0, 200], [0, 200], [0, 200], [0, 429], [0, 429], [0, 429],
      [1_000, 200], [1_900, 429],
      ...Array.from({ length: 9 }, (_, i) => [2_000 + i * 1_000, 200]),
    ]);
  } finally {
    await server.close();
  }
});

test('a silent bucket with room left from a pause: a faster spacing accepted there is not trusted, the pace its refusals bound is; one refusal below it, none after', async () => {
  assert.equal(spins, false, 'not run: a learning scope spins (see the first test), this one would hang');
  const clock = fakeClock(T0);
  const server = await silentBucket(clock, 4, 1_000);
  try {
    const net = counted();
    // A backoff of 3 s: the first request one at a time finds 3 slots of the bucket refilled.
    // (A spacing accepted while such room lasts says nothing of the pace.)
    const limited = rateLimitedFetch(net.fetch, { clock, random: () => 0, retry: { backoff: '3s', maxBackoff: '30s' } });
    const outcomes = await drive(clock, settle(limited, server.url, 45), { busy: net.busy });
    assert.deepEqual(lost(outcomes), []);
    const log = server.log.map(([t, s]) => [t - T0, s]);
    // The slow start's 3 refused at 0 s. Then one at a time from 3 s, the
    // spacing cut by a tenth while the room lasts (down to 0.41 s at 26 s),
    // one refusal there, and none after: 19 accepted in the 26.4 s since the
    // scope went blind, so the server's pace is slower than 26.4 s / 20; the
    // shortest spacing accepted above that, 1.437 s, for the rest (the first
    // counted from the last acceptance, not from the refusal).
    const refusedAt = log.filter(([t, s]) => s === 429 && t > 0).map(([t]) => t);
    assert.deepEqual(refusedAt, [26_399], JSON.stringify(log));
    const lastAccepted = log.filter(([t, s]) => s === 200 && t < 26_399).at(-1)[0];
    const after = log.filter(([t]) => t > 26_399);
    assert.ok(after.length >= 15, `${after.length} after the refusal`);
    assert.ok(after.every(([t, s], i) => s === 200 && t - (i === 0 ? lastAccepted : after[i - 1][0]) === 1_437), JSON.stringify(after));
  } finally {
    await server.close();
  }
});

test('a server that never refuses, no configuration: requests go in rounds that double (the probe, 1, 2, 4, 8, ...), not one at a time', async () => {
  const server = http.createServer((req, res) => res.end('ok'));
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    // Each round's requests all start before any response can arrive (I/O comes
    // after the microtasks that release them): a new round starts at 0 in flight.
    const rounds = [];
    let inFlight = 0;
    const f = (input, init) => {
      if (inFlight++ === 0) rounds.push(0);
      rounds[rounds.length - 1]++;
      return fetch(input, init).finally(() => { inFlight--; });
    };
    const clock = fakeClock(T0);
    const limited = rateLimitedFetch(f, { clock });
    const outcomes = await drive(clock, settle(limited, `http://127.0.0.1:${server.address().port}/x`, 30), { busy: () => inFlight > 0 });
    assert.deepEqual(lost(outcomes), []);
    assert.deepEqual(rounds, [1, 1, 2, 4, 8, 14]);
    assert.equal(clock.now(), T0, 'no wait at all');
  } finally {
    server.close();
  }
});

test('retry: false still fails at the first silent 429 (the scope adapts, the call is not retried)', async () => {
  const clock = fakeClock(T0);
  const server = await silentServer(clock, 1, 10_000);
  try {
    const limited = rateLimitedFetch(fetch, { clock, retry: false, routes: [{ url: '/work', windows: [{ limit: 3, per: '10s' }] }] });
    const outcomes = await drive(clock, settle(limited, server.url, 3));
    assert.equal(lost(outcomes).length, 2);
    assert.deepEqual(server.log.map(([, s]) => s), [200, 429, 429]);
  } finally {
    await server.close();
  }
});

test('retry.shouldRetry saying no to a silent 429: asked once, the 429 returned, the scope still adapts', async () => {
  const clock = fakeClock(T0);
  const server = await silentServer(clock, 1, 10_000);
  try {
    const asked = [];
    const limited = rateLimitedFetch(fetch, {
      clock, routes: [{ url: '/work', windows: [{ limit: 3, per: '10s' }] }],
      retry: { shouldRetry: (c) => { asked.push(c.response.status); return false; } },
    });
    const statuses = await drive(clock, Promise.all(Array.from({ length: 3 }, () => limited(server.url).then((r) => r.status))));
    assert.deepEqual(statuses.sort(), [200, 429, 429]);
    assert.deepEqual(asked, [429, 429]);
    assert.deepEqual(limited.scopes()[0].learned, [{ limit: 1, perMs: 10_000, kind: 'sliding' }]);
  } finally {
    await server.close();
  }
});

test('a blind scope whose server starts stating its policy is paced by the learned window again, no longer one at a time', async () => {
  assert.equal(spins, false, 'not run: a learning scope spins (see the first test), this one would hang');
  const clock = fakeClock(T0);
  const log = [];
  let announce = false;
  // 2 per 10 s (sliding); the 429s bare; the 200s state the policy once `announce` is set.
  const server = http.createServer((req, res) => {
    const now = clock.now();
    const recent = log.filter(([at, status]) => status === 200 && at > now - 10_000);
    const status = recent.length < 2 ? 200 : 429;
    log.push([now, status]);
    const headers = status === 200 && announce ? { 'ratelimit-policy': '2;w=10', ratelimit: `limit=2, remaining=${1 - recent.length}, reset=10` } : {};
    res.writeHead(status, headers).end();
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const net = counted();
    const limited = rateLimitedFetch(net.fetch, { clock, random: () => 0 });
    limited.events.addEventListener('throttled', () => { announce = true; });
    const outcomes = await drive(clock, settle(limited, `http://127.0.0.1:${server.address().port}/work`, 6), { busy: net.busy });
    assert.deepEqual(lost(outcomes), []);
    const accepted = log.filter(([, s]) => s === 200).map(([at]) => at - T0);
    // Blind: 1 s, 3 s, 7 s refused, 15 s accepted and the policy learned:
    // then two per 10 s (one more at once, as the server said 1 remained).
    assert.deepEqual(accepted, [0, 0, 15_000, 15_000, 25_000, 25_000]);
    assert.deepEqual(limited.scopes()[0].learned, [{ limit: 2, perMs: 10_000, kind: 'sliding' }]);
  } finally {
    server.close();
  }
});
