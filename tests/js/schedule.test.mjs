// schedule, wrap and maxConcurrent: real async work on a fake clock, and a real
// local HTTP server that counts the requests it holds open at once.
import assert from 'node:assert/strict';
import http from 'node:http';
import { test } from 'node:test';
import { Limiter, QueueFullError, rateLimitedFetch } from 'tollgate';
import { fakeClock, flush, track } from './fake-clock.mjs';

const T0 = 1_795_441_320_000;

/** A promise the test settles by hand: "work" that ends when the test says. */
function deferred() {
  let resolve;
  let reject;
  const promise = new Promise((res, rej) => { resolve = res; reject = rej; });
  return { promise, resolve, reject };
}

test('schedule runs fn when admitted and counts it in flight until fn settles', async () => {
  const clock = fakeClock(T0);
  const limiter = new Limiter({ windows: [{ limit: 2, per: '1s' }], clock, countInFlight: true });
  const work = [deferred(), deferred(), deferred()];
  const started = [];
  const runs = work.map((w, i) => track(limiter.schedule(() => { started.push([i, clock.now()]); return w.promise; })));
  await flush();
  assert.deepEqual(started, [[0, T0], [1, T0]]);
  assert.equal(limiter.inFlight, 2, 'both running calls count until they settle');
  // The window would free at T0 + 1 s, but the first two are still in flight.
  await clock.advanceTo(T0 + 5_000);
  assert.equal(started.length, 2);
  work[0].resolve('first');
  await clock.advanceTo(T0 + 5_000);
  await flush();
  assert.equal(runs[0].value, 'first');
  // Completed at T0 + 5 s: counted there, so the third goes a second later.
  assert.equal(started.length, 2);
  await clock.advanceTo(T0 + 6_000);
  assert.deepEqual(started[2], [2, T0 + 6_000]);
  work[1].resolve();
  work[2].resolve();
});

test('a rejection completes the permit too, and propagates unchanged', async () => {
  const clock = fakeClock(T0);
  const limiter = new Limiter({ windows: [{ limit: 5, per: '1s' }], clock, countInFlight: true, maxConcurrent: 1 });
  const boom = new Error('boom');
  await assert.rejects(limiter.schedule(async () => { throw boom; }), (e) => e === boom);
  assert.equal(limiter.inFlight, 0);
  // The slot came back: the next call runs at once.
  assert.equal(await limiter.schedule(() => 42), 42);
  // A synchronous throw is a rejection as well.
  await assert.rejects(limiter.schedule(() => { throw boom; }), (e) => e === boom);
  assert.equal(await limiter.schedule(() => 'again'), 'again');
});

test('schedule passes cost, priority and signal to acquire', async () => {
  const clock = fakeClock(T0);
  const limiter = new Limiter({ windows: [{ limit: 3, per: '1s' }], clock });
  await limiter.schedule(() => {}, { cost: 3 });
  const order = [];
  const low = limiter.schedule(() => order.push('low'), { priority: 0 });
  const high = limiter.schedule(() => order.push('high'), { priority: 5 });
  const controller = new AbortController();
  const aborted = limiter.schedule(() => order.push('never'), { signal: controller.signal });
  controller.abort(new Error('stop'));
  await assert.rejects(aborted, /stop/);
  await clock.advanceTo(T0 + 1_000);
  await Promise.all([low, high]);
  assert.deepEqual(order, ['high', 'low']);
});

test('schedule and wrap reject bad arguments with named TypeErrors', async () => {
  const limiter = new Limiter({ windows: [{ limit: 1, per: '1s' }] });
  await assert.rejects(limiter.schedule('nope'), { name: 'TypeError', message: /`fn` must be a function/ });
  await assert.rejects(limiter.schedule(() => {}, { cost: 0 }), { name: 'TypeError', message: /`cost`/ });
  assert.throws(() => limiter.wrap(42), { name: 'TypeError', message: /`fn` must be a function/ });
  for (const bad of [0, -1, 1.5, '3', Number.NaN]) {
    assert.throws(() => new Limiter({ windows: [{ limit: 1, per: '1s' }], maxConcurrent: bad }), { name: 'TypeError', message: /`maxConcurrent` must be an integer from 1/ });
  }
  assert.throws(() => rateLimitedFetch(fetch, { routes: [{ url: '/*', windows: [{ limit: 1, per: '1s' }], maxConcurrent: 0 }] }),
    { name: 'TypeError', message: /`routes\[0\]\.maxConcurrent` must be/ });
});

test('wrap keeps this, arguments and the return value', async () => {
  const clock = fakeClock(T0);
  const limiter = new Limiter({ windows: [{ limit: 1, per: '1s' }], clock });
  const client = {
    base: 10,
    add: limiter.wrap(async function (a, b) { return this.base + a + b; }),
  };
  assert.equal(await client.add(1, 2), 13);
  const second = track(client.add(3, 4));
  await clock.advanceTo(T0 + 999);
  assert.equal(second.settled, false, 'the second call waits for the window');
  await clock.advanceTo(T0 + 1_000);
  assert.equal(second.value, 17);
});

test('maxConcurrent caps calls in flight; waiters go by priority and can be aborted', async () => {
  const clock = fakeClock(T0);
  const limiter = new Limiter({ windows: [{ limit: 100, per: '1s' }], clock, maxConcurrent: 2 });
  let running = 0;
  let most = 0;
  const order = [];
  const gates = [];
  const job = (name) => async () => {
    running += 1;
    most = Math.max(most, running);
    order.push(name);
    const gate = deferred();
    gates.push(gate);
    await gate.promise;
    running -= 1;
  };
  const runs = [limiter.schedule(job('a')), limiter.schedule(job('b')), limiter.schedule(job('c')), limiter.schedule(job('d'), { priority: 1 })];
  const controller = new AbortController();
  const gone = limiter.schedule(job('never'), { signal: controller.signal });
  await flush();
  assert.deepEqual(order, ['a', 'b']);
  assert.equal(limiter.waiting, 3, 'slot waiters count as waiting');
  assert.deepEqual(limiter.tryAcquire(), { ok: false, retryAt: Infinity, waitMs: Infinity });
  controller.abort(new Error('cancelled'));
  await assert.rejects(gone, /cancelled/);
  assert.equal(limiter.waiting, 2);
  while (gates.length > 0) {
    gates.shift().resolve();
    await flush();
    await flush();
  }
  await Promise.all(runs);
  assert.equal(most, 2);
  assert.deepEqual(order, ['a', 'b', 'd', 'c'], 'd has the higher priority');
  assert.equal(limiter.waiting, 0);
});

test('maxConcurrent with acquire: a permit holds its slot until complete(); maxWaiters counts slot waiters', async () => {
  const clock = fakeClock(T0);
  const limiter = new Limiter({ windows: [{ limit: 100, per: '1s' }], clock, maxConcurrent: 1, maxWaiters: 1 });
  const first = await limiter.acquire();
  const second = track(limiter.acquire());
  await assert.rejects(limiter.acquire(), QueueFullError);
  await flush();
  assert.equal(second.settled, false);
  first.complete();
  first.complete(); // a second complete gives back nothing more
  await flush();
  assert.ok(second.value, 'the slot passed on');
  assert.equal(limiter.tryAcquire().ok, false);
  second.value.complete();
  const third = limiter.tryAcquire();
  assert.equal(third.ok, true);
});

test('maxConcurrent on a route: a real server never holds more than that many at once', async (t) => {
  let open = 0;
  let most = 0;
  let served = 0;
  const server = http.createServer((req, res) => {
    open += 1;
    most = Math.max(most, open);
    // Answer a little later, so calls overlap if the limiter lets them.
    setTimeout(() => {
      open -= 1;
      served += 1;
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
    }, 20);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise((resolve) => server.close(resolve)));
  const base = `http://127.0.0.1:${server.address().port}`;
  const limited = rateLimitedFetch(fetch, { routes: [{ url: '/work/*', windows: [{ limit: 1000, per: '1s' }], maxConcurrent: 3 }] });
  const responses = await Promise.all(Array.from({ length: 12 }, (_, i) => limited(`${base}/work/${i}`).then((r) => r.text())));
  assert.deepEqual(responses, Array(12).fill('ok'));
  assert.equal(served, 12);
  assert.equal(most, 3, 'never more than 3 open at the server, and the cap was reached');
  // Without the cap the same load overlaps fully.
  most = 0;
  const free = rateLimitedFetch(fetch, { routes: [{ url: '/work/*', windows: [{ limit: 1000, per: '1s' }] }] });
  await Promise.all(Array.from({ length: 12 }, (_, i) => free(`${base}/work/${i}`).then((r) => r.text())));
  assert.ok(most > 3, `uncapped: ${most} at once`);
});

test('shared limiters: schedule and maxConcurrent written once over acquire + an async complete', async () => {
  // The helpers shared stores call (js/src/schedule.ts, js/src/concurrency.ts), over a store-like
  // limiter: a real Limiter behind asynchronous calls, as a Redis or tab store answers.
  const { scheduleWith, wrapWith } = await import('../../js/dist/schedule.js');
  const { Slots, acquireInSlot } = await import('../../js/dist/concurrency.js');
  const clock = fakeClock(T0);
  const local = new Limiter({ windows: [{ limit: 100, per: '1s' }], clock, countInFlight: true });
  const completed = [];
  const slots = new Slots(2);
  const store = {
    acquire: (options) => acquireInSlot(slots, options, async (o) => {
      const permit = await local.acquire(o);
      return { at: permit.at, cost: permit.cost, complete: async (at) => { await flush(); permit.complete(at); completed.push(permit.cost); } };
    }),
  };
  const gates = [deferred(), deferred(), deferred()];
  let running = 0;
  let most = 0;
  const runs = gates.map((g, i) => scheduleWith(store, async () => {
    running += 1;
    most = Math.max(most, running);
    await g.promise;
    running -= 1;
    if (i === 1) throw new Error('second failed');
    return i;
  }));
  await flush();
  assert.equal(running, 2, 'the third waits for a slot');
  assert.equal(slots.waiting, 1);
  gates[1].resolve();
  await assert.rejects(runs[1], /second failed/);
  await flush();
  assert.equal(running, 2, 'the failed call gave its slot to the third');
  gates[0].resolve();
  gates[2].resolve();
  assert.deepEqual(await Promise.all([runs[0], runs[2]]), [0, 2]);
  assert.equal(most, 2);
  assert.equal(completed.length, 3, 'every permit completed, the rejected one too');
  assert.equal(local.inFlight, 0);
  assert.equal(slots.used, 0);
  const double = wrapWith(store, async (x) => x * 2);
  assert.equal(await double(21), 42);
});

test('Limiter.restore keeps maxConcurrent; a refused completion changes nothing, and its retry gives the slot back', async () => {
  const clock = fakeClock(T0);
  const saved = new Limiter({ windows: [{ limit: 10, per: '1s' }], clock }).snapshot();
  const restored = Limiter.restore(saved, { clock, maxConcurrent: 1 });
  const first = restored.tryAcquire();
  assert.equal(first.ok, true);
  assert.deepEqual(restored.tryAcquire(), { ok: false, retryAt: Infinity, waitMs: Infinity });
  assert.throws(() => first.permit.complete(Number.NaN));
  // A failed complete() changes nothing (issue 11): the permit is still open, its slot still held.
  assert.deepEqual(restored.tryAcquire(), { ok: false, retryAt: Infinity, waitMs: Infinity });
  first.permit.complete();
  assert.equal(restored.tryAcquire().ok, true, 'the slot came back');
  assert.throws(() => Limiter.restore(saved, { clock, maxConcurrent: 0 }), { name: 'TypeError', message: /`maxConcurrent`/ });
});
