// rateLimitedFetch against real HTTP servers on 127.0.0.1 that enforce the seed
// APIs' quotas. Server and client share one fake clock, so hours and days pass
// in seconds; every assertion is on the server's own log.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { rateLimitedFetch } from 'tollgate';
import { startHexServer, startHexagraphServer, startSecureCodingHubServer } from '../servers/index.mjs';
import { drive, fakeClock } from './drive.mjs';
import { mostInAnyWindow } from './windows.mjs';

/** Virtual time stands still while any request of `limited` is in flight. */
const inFlight = (limited) => ({ busy: () => limited.scopes().some((s) => s.limiter.inFlight > 0) });

const T0 = Date.UTC(2026, 10, 23, 13, 42, 17, 250); // mid-minute, so calendar boundaries are crossed

const hexRoutes = [{
  name: 'hex run',
  method: 'POST',
  url: '/api/v1/run/:projectId',
  windows: [{ limit: 20, per: '1m' }, { limit: 60, per: '1h' }],
  key: (r) => r.headers.get('authorization'),
}];

test('Hex: 150 triggers on two tokens draw no 429; reads pass through at once; one idempotency key per call', async (t) => {
  const clock = fakeClock(T0);
  const server = await startHexServer({ clock, runDurationMs: 1 });
  t.after(() => server.close());
  const limited = rateLimitedFetch(fetch, { routes: hexRoutes, clock });
  const trigger = (token, i) => limited(`${server.url}/api/v1/run/p-${token}-${i}`, {
    method: 'POST', headers: { authorization: `Bearer ${token}` }, body: JSON.stringify({ inputParams: { i } }),
  }).then((res) => res.status);

  const calls = [];
  for (let i = 0; i < 75; i++) calls.push(trigger('alpha', i), trigger('beta', i));
  // Reads are not limited: they go through while 130 triggers are queued.
  const read = await limited(`${server.url}/api/v1/projects`, { headers: { authorization: 'Bearer alpha' } });
  assert.equal(read.status, 200);
  const statuses = await drive(clock, Promise.all(calls), inFlight(limited));

  assert.deepEqual(new Set(statuses), new Set([201]));
  const posts = server.log.filter((r) => r.method === 'POST');
  assert.equal(posts.filter((r) => r.status === 429).length, 0, 'no avoidable refusal');
  assert.equal(posts.length, 150, 'nothing lost, nothing sent twice');
  assert.equal(new Set(posts.map((r) => r.idempotencyKey)).size, 150);
  for (const token of ['alpha', 'beta']) {
    const times = posts.filter((r) => r.key.includes(token)).map((r) => r.at);
    assert.equal(mostInAnyWindow(times, 60_000), 20);
    assert.equal(mostInAnyWindow(times, 3_600_000), 60);
  }
  // 75 per token at 60/h: 60 in the first three minutes, and the other 15 the
  // moment the first 20 leave the hour, not a millisecond later.
  assert.equal(Math.max(...posts.map((r) => r.at)), T0 + 3_600_000);
  // Scopes are labelled by a hash of the token, never the token.
  const scopes = limited.scopes();
  assert.equal(scopes.length, 2);
  for (const s of scopes) assert.ok(!s.key.includes('alpha') && !s.key.includes('beta') && s.key.length > 4);
});

test('SecureCodingHub: 60 per calendar minute AND 1,000 per sliding hour, 1,100 calls, no 429', async (t) => {
  const clock = fakeClock(T0);
  const server = await startSecureCodingHubServer({ clock });
  t.after(() => server.close());
  const limited = rateLimitedFetch(fetch, {
    clock,
    routes: [{ url: '/*', windows: [{ limit: 60, per: '1m', kind: 'fixed' }, { limit: 1000, per: '1h' }], key: (r) => r.headers.get('authorization') }],
  });
  const calls = Array.from({ length: 1100 }, (_, i) => limited(`${server.url}/api/v1/progress/${i}`, {
    headers: { authorization: 'Bearer sch-key' },
  }).then((res) => res.status));
  const statuses = await drive(clock, Promise.all(calls), inFlight(limited));
  assert.equal(statuses.filter((s) => s === 200).length, 1100);
  assert.equal(server.stats().refused, 0);
  const times = server.log.map((r) => r.at);
  const perMinute = new Map();
  for (const at of times) perMinute.set(Math.floor(at / 60_000), (perMinute.get(Math.floor(at / 60_000)) ?? 0) + 1);
  assert.equal(Math.max(...perMinute.values()), 60);
  assert.equal(mostInAnyWindow(times, 3_600_000), 1000);
});

test('SecureCodingHub, client set too high: a 429 closes the gate for the calls queued behind it until Retry-After, then every call succeeds', async (t) => {
  const clock = fakeClock(T0);
  const server = await startSecureCodingHubServer({ clock });
  t.after(() => server.close());
  const events = [];
  const limited = rateLimitedFetch(fetch, {
    clock,
    random: () => 0.5,
    retry: { retryAfterJitter: '5s', limit: 6 },
    // One call every 100 ms: the server's 60 a minute run out at +6 s, mid-minute,
    // with 19 calls still queued in the limiter behind the refused one.
    routes: [{ url: '/*', windows: [{ limit: 1, per: '100ms' }], key: (r) => r.headers.get('authorization') }],
  });
  let gate; // the limiter's own state when the refusal is handled
  limited.events.addEventListener('throttled', () => {
    if (gate) return;
    gate = { pausedUntil: limited.scopes()[0].limiter.pausedUntil, waiting: -1 };
    // This 429 is the first response stating the server's window (60/min), so the scope's limiter is
    // replaced by one that also has that window; its waiters move over within this turn of the event loop.
    setImmediate(() => { gate.waiting = limited.scopes()[0].limiter.waiting; });
  });
  for (const type of ['paused', 'retry']) limited.events.addEventListener(type, (e) => events.push([type, e.detail]));
  // All 80 at once: the gate, not the caller's pacing, must hold the queued ones back.
  const calls = Array.from({ length: 80 }, (_, i) => limited(`${server.url}/x/${i}`, { headers: { authorization: 'Bearer k' } }).then((r) => r.status));
  const statuses = await drive(clock, Promise.all(calls), inFlight(limited));
  assert.deepEqual(new Set(statuses), new Set([200]));
  assert.equal(server.log.length, 81, '80 calls and one retry');

  const refused = server.log.filter((r) => r.status === 429);
  assert.equal(refused.length, 1, 'one refusal: the calls queued behind it waited instead of stampeding');
  // The server's Retry-After: whole seconds from the refused arrival up to the next calendar minute.
  const reopens = refused[0].at + Math.ceil((Math.ceil((refused[0].at + 1) / 60_000) * 60_000 - refused[0].at) / 1000) * 1000;
  assert.ok(gate, 'the refusal was handled');
  assert.equal(gate.pausedUntil, reopens, "the limiter's gate is closed until Retry-After");
  assert.ok(gate.waiting >= 18, `${gate.waiting} calls were queued behind the refusal`);
  // On the server's own log: nothing arrived while the gate was closed, and the queued calls came at its reopening.
  const after = server.log.filter((r) => r.at > refused[0].at);
  assert.ok(after.length >= 19);
  assert.ok(after.every((r) => r.at >= reopens), `an arrival at ${Math.min(...after.map((r) => r.at)) - refused[0].at} ms after the refusal, before the gate reopened at ${reopens - refused[0].at} ms`);
  assert.equal(after[0].at, reopens, 'the first queued call goes exactly when the gate reopens');
  const paused = events.find(([type]) => type === 'paused')[1];
  assert.deepEqual([paused.reason, paused.until], ['server', reopens]);
  const retry = events.find(([type]) => type === 'retry')[1];
  assert.equal(retry.retryAt, reopens + 2_500, 'Retry-After plus half of the 5 s jitter window');
});

test('Hexagraph: 1,030 calls against 30/min AND 1,000/day: the 1,001st waits for the day, no 429', async (t) => {
  const clock = fakeClock(T0);
  const server = await startHexagraphServer({ clock });
  t.after(() => server.close());
  const limited = rateLimitedFetch(fetch, {
    clock,
    routes: [{ url: '/*', windows: [{ limit: 30, per: '1m' }, { limit: 1000, per: '1d' }] }],
  });
  const calls = Array.from({ length: 1030 }, (_, i) => limited(`${server.url}/outputs/${i}`).then((r) => r.status));
  await drive(clock, Promise.all(calls), inFlight(limited));
  assert.equal(server.stats().refused, 0);
  const times = server.log.filter((r) => r.status === 200).map((r) => r.at).sort((a, b) => a - b);
  assert.equal(times.length, 1030);
  assert.equal(times[1000] - times[0], 86_400_000, 'the 1,001st is sent exactly a day after the first');
  assert.equal(mostInAnyWindow(times, 60_000), 30);
});

test('Hexagraph with responses taking 0-5 s of virtual time: each request counts from its response, no 429', async (t) => {
  // Unlike `busy` (virtual time held while anything is in flight), time moves
  // while the server holds a response, so the limiter must count each request
  // when its response arrived: the 31st call may go only a minute after the
  // first one's RESPONSE, not its send.
  const latency = (path) => (Number(path.split('/').pop()) * 7_919) % 5_001;
  const clock = fakeClock(T0);
  const server = await startHexagraphServer({ clock, clockLatencyMs: (req, path) => latency(path) });
  t.after(() => server.close());
  const limited = rateLimitedFetch(fetch, { clock, routes: [{ url: '/*', windows: [{ limit: 30, per: '1m' }] }] });
  const calls = Array.from({ length: 100 }, (_, i) => limited(`${server.url}/outputs/${i}`).then((r) => r.status));
  // Time holds only while a request is on the wire (not yet held by the server, or its response not yet read).
  const onTheWire = () => limited.scopes().reduce((n, s) => n + s.limiter.inFlight, 0) > server.held();
  const statuses = await drive(clock, Promise.all(calls), { busy: onTheWire });
  assert.deepEqual(new Set(statuses), new Set([200]));
  assert.equal(server.stats().refused, 0);
  const sent = server.log.map((r) => ({ at: r.at, done: r.at + latency(r.path) })).sort((a, b) => a.at - b.at);
  assert.equal(sent.length, 100);
  assert.ok(sent.some((r) => r.done > r.at + 4_000), 'some responses took seconds of virtual time');
  // Every request counts from its response: of any 31 sent in a row, the last goes
  // a full minute after a response of one of the 30 before it, never earlier.
  const dones = sent.map((r) => r.done).sort((a, b) => a - b);
  for (let j = 30; j < sent.length; j++) {
    assert.ok(sent[j].at >= dones[j - 30] + 60_000, `call ${j} sent at +${sent[j].at - T0} ms, before response no. ${j - 30} (by time) + 1 min (+${dones[j - 30] + 60_000 - T0} ms)`);
  }
  // ...and not later than needed: within the largest latency of the one before.
  assert.ok(clock.now() - T0 < 4 * (60_000 + 5_001), `finished at +${clock.now() - T0} ms`);
});

test('random latency: virtual time runs on while requests are in flight, and still no 429 (Hex and SecureCodingHub)', async (t) => {
  // No `busy` hold here: the fake clock jumps ahead whenever a timer is due, so
  // a request can be in flight for virtual minutes, as on a very slow network.
  const latencyMs = () => Math.floor(Math.random() * 15);
  const clock = fakeClock(T0);
  const hex = await startHexServer({ clock, runDurationMs: 1, latencyMs });
  const sch = await startSecureCodingHubServer({ clock, latencyMs });
  t.after(() => Promise.all([hex.close(), sch.close()]));
  const limited = rateLimitedFetch(fetch, {
    clock,
    routes: [
      hexRoutes[0],
      { url: '/api/v1/progress/*', windows: [{ limit: 60, per: '1m', kind: 'fixed' }, { limit: 1000, per: '1h' }] },
    ],
  });
  const calls = [];
  for (let i = 0; i < 90; i++) {
    calls.push(limited(`${hex.url}/api/v1/run/p${i}`, { method: 'POST', headers: { authorization: 'Bearer t' } }));
    calls.push(limited(`${sch.url}/api/v1/progress/${i}`, { headers: { authorization: 'Bearer k' } }));
    calls.push(limited(`${sch.url}/api/v1/progress/b${i}`, { headers: { authorization: 'Bearer k' } }));
  }
  const responses = await drive(clock, Promise.all(calls));
  assert.ok(responses.every((r) => r.ok));
  assert.equal(hex.stats().refused, 0);
  assert.equal(sch.stats().refused, 0);
  assert.equal(hex.log.filter((r) => r.status === 201).length, 90);
  assert.equal(sch.log.filter((r) => r.status === 200).length, 180);
});

test('SecureCodingHub with its clock 30 s ahead of ours: calendar minutes follow its Date header, no 429', async (t) => {
  const clock = fakeClock(T0);
  const serverClock = { now: () => clock.now() + 30_000 };
  const server = await startSecureCodingHubServer({ clock: serverClock });
  t.after(() => server.close());
  const limited = rateLimitedFetch(fetch, {
    clock,
    routes: [{ url: '/*', windows: [{ limit: 60, per: '1m', kind: 'fixed' }, { limit: 1000, per: '1h' }] }],
  });
  const aligned = [];
  limited.events.addEventListener('aligned', (e) => aligned.push([e.detail.serverOffsetMs, e.detail.uncertaintyMs]));
  // One call first, so the Date header is known before the burst.
  const auth = { headers: { authorization: 'Bearer sch' } };
  assert.equal((await limited(`${server.url}/first`, auth)).status, 200);
  // Date said 13:42:47 at our 13:42:17.250: the offset is 29.75 s to 30.75 s.
  assert.deepEqual(aligned, [[29_750, 1_000]]);
  const calls = Array.from({ length: 250 }, (_, i) => limited(`${server.url}/x/${i}`, auth).then((r) => r.status));
  const statuses = await drive(clock, Promise.all(calls), inFlight(limited));
  assert.ok(statuses.every((s) => s === 200));
  assert.equal(server.stats().refused, 0, 'without following Date, each client minute spans two server minutes');
  const perServerMinute = new Map();
  for (const r of server.log) perServerMinute.set(Math.floor(r.at / 60_000), (perServerMinute.get(Math.floor(r.at / 60_000)) ?? 0) + 1);
  assert.equal(Math.max(...perServerMinute.values()), 60);
});
