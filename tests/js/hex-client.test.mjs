// The Hex run client against the Hex-like server (tests/servers/hex.mjs) over real
// HTTP. Server and client share one fake clock, so half-hour timeouts and hourly
// quotas pass in a second; assertions are on the server's own log and run table.
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { test } from 'node:test';
import { isTollgateError } from 'tollgate'; // loads the wasm core the CJS modules below share
import { startHexServer } from '../servers/index.mjs';
import { drive, fakeClock } from './drive.mjs';
import { mostInAnyWindow } from './windows.mjs';

const require = createRequire(import.meta.url);
const { hexClient } = require('../../js/cjs/hex/client.js');
const { isBatchDeadlineError, isHexApiError, isHexAuthError, isRunTimeoutError } = require('../../js/cjs/hex/errors.js');

const T0 = Date.UTC(2026, 10, 23, 13, 42, 0);
const MIN = 60_000;
const HOUR = 3_600_000;

/**
 * fetch that counts requests in flight (bodies read to the end), so virtual
 * time stands still until every response has arrived: a network with no latency.
 */
function network(inner = fetch) {
  let pending = 0;
  const f = async (input, init) => {
    pending += 1;
    try {
      const res = await inner(input, init);
      const body = await res.arrayBuffer();
      return new Response(body, { status: res.status, headers: res.headers });
    } finally {
      pending -= 1;
    }
  };
  return { fetch: f, busy: () => pending > 0 };
}

async function setup(t, serverOptions = {}, { wrap, ...clientOptions } = {}) {
  const clock = fakeClock(T0);
  const server = await startHexServer({ clock, ...serverOptions });
  t.after(() => server.close());
  const net = network(wrap ? wrap(fetch) : fetch);
  const hex = hexClient({ baseUrl: server.url, token: 'tok-1', fetch: net.fetch, clock, ...clientOptions });
  const run = (promise) => drive(clock, promise, { busy: net.busy });
  return { clock, server, hex, run };
}

const posts = (server) => server.log.filter((r) => r.method === 'POST' && /^\/api\/v1\/run\/[^/]+$/.test(r.path));
const statusPolls = (server, runId) => server.log.filter((r) => r.path === `/api/v1/run/${runId}/status`);

test('the whole flow: trigger, 409 answered with the running run, status, list, wait, cancel a finished run', async (t) => {
  const { clock, server, hex, run } = await setup(t, { runDurationMs: 60_000 });

  const first = await run(hex.runProject('sales', { region: 'emea' }));
  assert.equal(first.alreadyRunning, false);
  assert.equal(first.projectId, 'sales');
  assert.match(first.runId, /^run-\d+$/);

  const again = await run(hex.runProject('sales', { region: 'emea' }));
  assert.equal(again.alreadyRunning, true, 'the 409 resolves with the run in progress');
  assert.equal(again.runId, first.runId);
  assert.equal(again.status, 'RUNNING');
  assert.equal(server.runs.size, 1, 'no second run was started');
  assert.deepEqual(posts(server).map((r) => r.status), [201, 409]);
  const keys = posts(server).map((r) => r.idempotencyKey);
  assert.ok(keys.every((k) => /^[0-9a-f-]{36}$/.test(k)) && keys[0] !== keys[1], 'each trigger carries its own idempotency key');

  assert.equal((await run(hex.getRunStatus(first.runId))).status, 'RUNNING');
  const projects = await run(hex.listProjects());
  assert.deepEqual(projects.find((p) => p.id === 'sales').lastRun, { runId: first.runId, status: 'RUNNING' });

  const done = await run(hex.waitForRun(first.runId));
  assert.equal(done.status, 'COMPLETED');
  assert.equal(clock.now(), T0 + 60_000, 'seen done at the first poll after the run ended');
  const polls = statusPolls(server, first.runId).slice(2).map((r) => r.at); // the 409's look-up and getRunStatus came first
  assert.deepEqual(polls.map((at) => at - T0), Array.from({ length: 13 }, (_, i) => i * 5_000), 'every 5 s');

  const cancelled = await run(hex.cancelRun(first.runId));
  assert.equal(cancelled.status, 'COMPLETED', 'a finished run keeps its status');
  assert.equal(clock.pending, 0, 'no timer left behind');
});

test('a trigger whose response is lost is retried with the same idempotency key: Hex replays it, one run', async (t) => {
  let lose = 1;
  const { server, hex, run } = await setup(t, {}, {
    wrap: (inner) => async (input, init) => {
      const res = await inner(input, init);
      if (init?.method === 'POST' && lose-- > 0) throw new TypeError('fetch failed: socket hang up'); // reached Hex, answer lost
      return res;
    },
  });
  const triggered = await run(hex.runProject('ops', {}));
  const log = posts(server);
  assert.equal(log.length, 2);
  assert.equal(log[0].idempotencyKey, log[1].idempotencyKey, 'the retry carries the same key');
  assert.equal(log[1].duplicate, true, 'so Hex answers with the stored response');
  assert.equal(server.runs.size, 1);
  assert.equal(triggered.runId, [...server.runs.keys()][0]);
});

test('409 without a runId in the body: the running run is found in the project list', async (t) => {
  const { server, hex, run } = await setup(t, { runDurationMs: HOUR }, {
    wrap: (inner) => async (input, init) => {
      const res = await inner(input, init);
      if (res.status !== 409) return res;
      const { runId, ...rest } = await res.json();
      return new Response(JSON.stringify(rest), { status: 409, headers: res.headers });
    },
  });
  const first = await run(hex.runProject('p1'));
  const again = await run(hex.runProject('p1'));
  assert.equal(again.alreadyRunning, true);
  assert.equal(again.runId, first.runId);
  assert.ok(server.log.some((r) => r.path === '/api/v1/projects'), 'looked up through ListProjects');
  assert.equal(server.runs.size, 1);
});

test('401: HexAuthError ("token rejected or rotated"), not retried; a batch stops triggering', async (t) => {
  // The Hex-like server accepts any well-formed token; a rejected one is modelled by a proxy dropping it.
  const { server, hex, run } = await setup(t, {}, {
    token: 'secret-token-123',
    wrap: (inner) => (input, init) => {
      const headers = new Headers(init?.headers);
      headers.delete('authorization');
      return inner(input, { ...init, headers });
    },
  });
  const error = await run(hex.runProject('p1')).catch((e) => e);
  assert.ok(isHexAuthError(error), String(error));
  assert.ok(isTollgateError(error));
  assert.equal(error.name, 'HexAuthError');
  assert.equal(error.status, 401);
  assert.match(error.message, /token rejected or rotated/);
  assert.ok(!error.message.includes('secret-token-123'), 'the token never appears in a message');
  assert.equal(server.log.length, 1, 'not retried');
  for (const call of [() => hex.getRunStatus('run-000001'), () => hex.listProjects(), () => hex.cancelRun('run-000001')]) {
    await assert.rejects(run(call()), (e) => isHexAuthError(e));
  }

  server.log.length = 0;
  const results = await run(hex.runBatch(Array.from({ length: 8 }, (_, i) => ({ id: `p${i}` })), { concurrency: 2 }));
  assert.equal(results.length, 8);
  assert.ok(results.every((r) => r.status === 'failed' && isHexAuthError(r.error)));
  assert.ok(server.log.length <= 2, `after the first 401 no trigger is sent (sent ${server.log.length})`);
});

test('waitForRun: polls every 5 s, then backs off x1.5 up to 1 min; at 30 min it cancels the run and rejects with RunTimeoutError', async (t) => {
  const { clock, server, hex, run } = await setup(t, { runDurationMs: 2 * HOUR });
  const { runId } = await run(hex.runProject('slow'));
  const error = await run(hex.waitForRun(runId)).catch((e) => e);

  assert.ok(isRunTimeoutError(error), String(error));
  assert.equal(error.name, 'RunTimeoutError');
  assert.equal(error.runId, runId);
  assert.equal(error.lastStatus, 'RUNNING');
  assert.equal(error.cancelled, true);
  assert.equal(error.run.status, 'KILLED');
  assert.equal(clock.now(), T0 + 30 * MIN);
  assert.equal(server.runs.get(runId).killedAt, T0 + 30 * MIN, 'cancelled at the timeout');
  assert.equal((await run(hex.getRunStatus(runId))).status, 'KILLED', 'the server shows the run KILLED');

  const gaps = statusPolls(server, runId).slice(0, -1).map((r, i, all) => (i === 0 ? r.at - T0 : r.at - all[i - 1].at));
  assert.deepEqual(gaps.slice(0, 61), [0, ...new Array(60).fill(5_000)], '5 s for the first 5 minutes');
  assert.deepEqual(gaps.slice(61, 68), [7_500, 11_250, 16_875, 25_313, 37_970, 56_955, 60_000], 'then x1.5');
  assert.ok(gaps.slice(68).every((g) => g === 60_000), 'capped at 1 min');
  assert.equal(clock.pending, 0);
});

test('waitForRun: aborting rejects with the reason, clears its timers and leaves the run alone', async (t) => {
  const { clock, server, hex, run } = await setup(t, { runDurationMs: HOUR });
  const { runId } = await run(hex.runProject('p'));
  const controller = new AbortController();
  const reason = new Error('shutting down');
  clock.setTimeout(() => controller.abort(reason), 12_000);
  await assert.rejects(run(hex.waitForRun(runId, { signal: controller.signal })), (e) => e === reason);
  assert.equal(clock.now(), T0 + 12_000);
  assert.equal(server.runs.get(runId).killedAt, null, 'aborting the wait does not cancel the run');
  assert.equal(clock.pending, 0, 'timers cleared');
  await assert.rejects(hex.waitForRun(runId, { interval: 'soon' }), /`interval` must be/);
});

test('runBatch: 70 projects, over the hourly quota: no 429, every result kept, progress and ETA from the plan', async (t) => {
  const ids = Array.from({ length: 70 }, (_, i) => `p-${i}`);
  const { clock, server, hex, run } = await setup(t, {
    runDurationMs: (id) => 20_000 + (Number(id.slice(2)) % 3) * 10_000, // 20, 30 or 40 s
    runOutcome: (id) => (id === 'p-13' ? 'ERRORED' : 'COMPLETED'),
  }, {
    // Hex refuses p-42's trigger (400): modelled by replacing the answer, so the trigger still reached the server.
    wrap: (inner) => async (input, init) => {
      const res = await inner(input, init);
      if (!String(input).endsWith('/run/p-42')) return res;
      return new Response(JSON.stringify({ reason: 'bad inputParams', traceId: 't' }), { status: 400, headers: { 'content-type': 'application/json' } });
    },
  });
  const events = [];
  const results = await run(hex.runBatch(ids.map((id) => ({ id, params: { id } })), {
    concurrency: 10,
    expectedRunDuration: '30s',
    deadline: new Date(T0 + 2 * HOUR),
    refuseIfLate: true,
    onProgress: (p) => events.push({ ...p, now: clock.now() }),
  }));
  const end = clock.now();

  assert.deepEqual(results.map((r) => r.id), ids, 'one result per project, in order');
  const by = (s) => results.filter((r) => r.status === s).map((r) => r.id);
  assert.equal(by('COMPLETED').length, 68);
  assert.deepEqual(by('ERRORED'), ['p-13']);
  assert.deepEqual(by('failed'), ['p-42']);
  const broken = results.find((r) => r.id === 'p-42');
  assert.ok(isHexApiError(broken.error) && broken.error.status === 400 && broken.runId === undefined);
  assert.ok(results.filter((r) => r.status !== 'failed').every((r) => r.runId && r.run.runId === r.runId));

  const log = posts(server);
  assert.equal(log.filter((r) => r.status === 429).length, 0, 'no 429');
  assert.equal(log.length, 70);
  const times = log.map((r) => r.at);
  assert.equal(mostInAnyWindow(times, MIN), 20);
  assert.equal(mostInAnyWindow(times, HOUR), 60);
  assert.equal(times[60], times[0] + HOUR, 'the 61st trigger goes the moment the first leaves the hour');

  assert.deepEqual(events[0], { started: 0, finished: 0, failed: 0, total: 70, etaAt: events[0].etaAt, late: false, now: T0 });
  const last = events.at(-1);
  assert.deepEqual({ ...last, etaAt: 0, now: 0 }, { started: 69, finished: 70, failed: 2, total: 70, etaAt: 0, late: false, now: 0 });
  assert.equal(last.etaAt, end, 'at the end the ETA is now');
  for (let i = 1; i < events.length; i++) {
    assert.ok(events[i].started >= events[i - 1].started && events[i].finished >= events[i - 1].finished);
    assert.ok(events[i].etaAt >= events[i].now);
  }
  // The plan knows the 61st trigger waits for the hour before a single run has finished.
  assert.ok(events[0].etaAt >= T0 + HOUR);
  // The ETA is the planned last trigger (the 70th goes with the 61st, when the
  // hour frees) plus the expected 30 s run; the runs really take 20 to 40 s.
  const lastTrigger = Math.max(...times);
  assert.equal(lastTrigger, T0 + HOUR);
  assert.equal(events[0].etaAt, lastTrigger + 30_000, `first ETA ${(events[0].etaAt - T0) / 1000} s`);
  const afterHour = events.find((e) => e.started === 61);
  assert.equal(afterHour.etaAt, lastTrigger + 30_000, `ETA after the hour ${(afterHour.etaAt - T0) / 1000} s`);
  assert.ok(end - lastTrigger >= 20_000 && end - lastTrigger <= 40_000, `done ${(end - lastTrigger) / 1000} s after the last trigger`);
});

test('runBatch refuseIfLate: the plan says 70 triggers cannot finish within 30 minutes; rejects up front, sends nothing', async (t) => {
  const { server, hex, run } = await setup(t);
  const projects = Array.from({ length: 70 }, (_, i) => ({ id: `p${i}` }));
  const error = await run(hex.runBatch(projects, { deadline: T0 + 30 * MIN, refuseIfLate: true })).catch((e) => e);
  assert.ok(isBatchDeadlineError(error), String(error));
  assert.equal(error.name, 'BatchDeadlineError');
  assert.equal(error.deadline, T0 + 30 * MIN);
  assert.equal(error.etaAt, T0 + HOUR, 'the 61st to 70th triggers go at +1h (runs taken as instant)');
  assert.equal(server.log.length, 0);
  // Without refuseIfLate the deadline only flags progress as late.
  const late = [];
  await run(hex.runBatch(projects.slice(0, 3), { deadline: T0 - 1, onProgress: (p) => late.push(p.late) }));
  assert.ok(late.length > 0 && late.every(Boolean));
});

test('runBatch: aborting rejects with the reason and sends no trigger after it', async (t) => {
  const { clock, server, hex, run } = await setup(t, { runDurationMs: 10_000 });
  const controller = new AbortController();
  const reason = new Error('deploy cancelled');
  clock.setTimeout(() => controller.abort(reason), 90_000); // the 21st trigger waits for +1m, the 41st for +2m
  const projects = Array.from({ length: 70 }, (_, i) => ({ id: `p${i}` }));
  await assert.rejects(run(hex.runBatch(projects, { concurrency: 70, signal: controller.signal })), (e) => e === reason);
  const sent = posts(server);
  assert.equal(sent.length, 40);
  assert.ok(sent.every((r) => r.at <= T0 + 90_000));
  await run(new Promise((resolve) => clock.setTimeout(resolve, HOUR)));
  assert.equal(posts(server).length, 40, 'the queued triggers left the queue');
  assert.equal(hex.fetch.scopes()[0].limiter.waiting, 0);
});

test('plan(n): a fresh limiter with the same windows before any trigger, then the token\'s own', async (t) => {
  const { clock, hex, run } = await setup(t, { runDurationMs: 1 }, { perMinute: 5, perHour: 8 });
  assert.deepEqual(hex.plan(9).map((at) => at - T0), [0, 0, 0, 0, 0, MIN, MIN, MIN, HOUR]);
  assert.equal(hex.fetch.scopes().length, 0);
  await run(Promise.all([1, 2, 3, 4, 5, 6].map((i) => hex.runProject(`p${i}`))));
  assert.equal(clock.now(), T0 + MIN);
  assert.deepEqual(hex.plan(3).map((at) => at - T0), [MIN, MIN, HOUR], 'the windows as the triggers left them');
});

test('bad options are TypeErrors naming the option', async () => {
  assert.throws(() => hexClient({ token: 't' }), /`baseUrl` must be an http\(s\) URL/);
  assert.throws(() => hexClient({ baseUrl: 'ftp://x', token: 't' }), /`baseUrl`/);
  assert.throws(() => hexClient({ baseUrl: 'https://app.hex.tech', token: '' }), /`token` must be a non-empty string/);
  assert.throws(() => hexClient({ baseUrl: 'https://app.hex.tech', token: 't', perMinute: 0 }), /`perMinute` must be an integer/);
  const hex = hexClient({ baseUrl: 'https://app.hex.tech/api/v1/', token: 't', fetch: async () => new Response('{}') });
  await assert.rejects(hex.runBatch([{ id: 'a' }], { concurrency: 0 }), /`concurrency` must be an integer from 1 to 1000/);
  await assert.rejects(hex.runBatch([{ id: 'a' }], { refuseIfLate: true }), /`refuseIfLate` needs a `deadline`/);
  await assert.rejects(hex.runBatch([{ id: '' }]), /`projects\[0\]\.id`/);
  await assert.rejects(hex.runProject(''), /`projectId` must be a non-empty string/);
  await assert.rejects(hex.waitForRun('r', { timeout: -1 }), /`timeout` must be/);
});
