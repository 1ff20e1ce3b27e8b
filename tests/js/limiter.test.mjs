// The JS Limiter against the real wasm core (Node ESM entry). Time comes from a
// fake clock; nothing sleeps.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import vm from 'node:vm';
import {
  InsufficientCapacityError, Limiter, QueueFullError, SnapshotError,
  isInsufficientCapacityError, isQueueFullError, isTollgateError,
} from 'tollgate';
import { fakeClock, flush, track } from './fake-clock.mjs';

const T0 = 1_795_441_320_000; // 2026-11-23T13:42:00Z
const hexWindows = [{ limit: 20, per: '1m' }, { limit: 60, per: '1h' }];
const hex = (clock, extra = {}) => new Limiter({ windows: hexWindows, clock, ...extra });

test('Hex quota: 20 admitted in a minute, the 21st told to come back when the first slot frees', () => {
  const clock = fakeClock(T0);
  const limiter = hex(clock);
  for (let i = 0; i < 20; i++) assert.equal(limiter.tryAcquire().ok, true);
  clock.set(T0 + 5_000);
  assert.deepEqual(limiter.tryAcquire(), { ok: false, retryAt: T0 + 60_000, waitMs: 55_000 });
  assert.deepEqual(limiter.usage().map((u) => u.used), [20, 20]);
});

test('Hex quota: 100 requests as fast as allowed send 20, 20, 20 in the first three minutes and 60 in the first hour', async () => {
  const clock = fakeClock(T0);
  const limiter = hex(clock);
  const admitted = [];
  const all = Array.from({ length: 100 }, () => limiter.acquire().then((p) => admitted.push(p.at)));
  await clock.advance(3_600_000 + 180_000);
  await Promise.all(all);
  const inFirst = (ms) => admitted.filter((t) => t < T0 + ms).length;
  assert.deepEqual([inFirst(60_000), inFirst(120_000), inFirst(180_000), inFirst(3_600_000)], [20, 40, 60, 60]);
  assert.equal(admitted[60], T0 + 3_600_000);
  // Never more than 20 in any minute, 60 in any hour.
  for (const t of admitted) {
    assert.ok(admitted.filter((u) => u >= t && u < t + 60_000).length <= 20);
    assert.ok(admitted.filter((u) => u >= t && u < t + 3_600_000).length <= 60);
  }
});

test('acquire resolves exactly when admitted, not a millisecond early', async () => {
  const clock = fakeClock(T0);
  const limiter = new Limiter({ windows: [{ limit: 1, per: '1s' }], clock });
  await limiter.acquire();
  const second = track(limiter.acquire());
  await clock.advanceTo(T0 + 999);
  assert.equal(second.settled, false);
  await clock.advanceTo(T0 + 1_000);
  assert.equal(second.value.at, T0 + 1_000);
});

test('many waiters share exactly one timer, admitted by priority then arrival', async () => {
  const clock = fakeClock(T0);
  const limiter = new Limiter({ windows: [{ limit: 1, per: 100 }], clock });
  limiter.tryAcquire();
  const order = [];
  const waits = [];
  for (let i = 0; i < 50; i++) {
    const priority = i % 3 === 0 ? 1 : 0;
    waits.push(limiter.acquire({ priority }).then(() => order.push(i)));
  }
  assert.equal(limiter.waiting, 50);
  assert.equal(clock.pending, 1);
  await clock.advance(100 * 50);
  await Promise.all(waits);
  const high = [...Array(50).keys()].filter((i) => i % 3 === 0);
  const low = [...Array(50).keys()].filter((i) => i % 3 !== 0);
  assert.deepEqual(order, [...high, ...low]);
  assert.equal(clock.pending, 0);
});

test('aborting a waiter rejects with signal.reason, frees its place and its timer', async () => {
  const clock = fakeClock(T0);
  const limiter = new Limiter({ windows: [{ limit: 1, per: '1m' }], clock });
  limiter.tryAcquire();
  const controller = new AbortController();
  const waiting = track(limiter.acquire({ signal: controller.signal }));
  assert.equal(clock.pending, 1);
  const reason = new Error('user gave up');
  controller.abort(reason);
  await flush();
  assert.equal(waiting.error, reason);
  assert.equal(limiter.waiting, 0);
  assert.equal(clock.pending, 0);
  // Its place is free: the next caller is admitted at the minute, not after it.
  const next = track(limiter.acquire());
  await clock.advanceTo(T0 + 60_000);
  assert.equal(next.value.at, T0 + 60_000);
});

test('an already aborted signal rejects at once without queueing', async () => {
  const limiter = hex(fakeClock(T0));
  const signal = AbortSignal.abort(new Error('too late'));
  await assert.rejects(limiter.acquire({ signal }), /too late/);
  assert.equal(limiter.waiting, 0);
});

test('aborting the head lets a smaller waiter behind it in at once', async () => {
  const clock = fakeClock(T0);
  const limiter = new Limiter({ windows: [{ limit: 3, per: '1m' }], clock });
  limiter.tryAcquire(2);
  const controller = new AbortController();
  const big = track(limiter.acquire({ cost: 3, signal: controller.signal }));
  const small = track(limiter.acquire({ cost: 1 }));
  await flush();
  assert.equal(small.settled, false, 'FIFO: the small one waits behind the big head');
  controller.abort();
  await flush();
  assert.equal(big.error.name, 'AbortError');
  assert.equal(small.value.at, T0);
});

test('a cost above a window can never fit: InsufficientCapacityError at once, not a wait', async () => {
  const limiter = hex(fakeClock(T0));
  assert.throws(() => limiter.tryAcquire(21), (e) => e instanceof InsufficientCapacityError &&
    isInsufficientCapacityError(e) && e.message === 'a cost of 21 can never be admitted: window 0 allows at most 20');
  await assert.rejects(limiter.acquire({ cost: 61 }), InsufficientCapacityError);
  assert.equal(limiter.waiting, 0);
});

test('a full queue rejects the next waiter with QueueFullError', async () => {
  const limiter = new Limiter({ windows: [{ limit: 1, per: '1m' }], clock: fakeClock(T0), maxWaiters: 2 });
  limiter.tryAcquire();
  limiter.acquire();
  limiter.acquire();
  await assert.rejects(limiter.acquire(), (e) => e instanceof QueueFullError && isQueueFullError(e) &&
    /`maxWaiters` = 2/.test(e.message));
});

test('error guards recognise errors from another realm by name and brand', () => {
  const foreign = vm.runInNewContext("const e = new Error('x'); e.name = 'QueueFullError'; e[Symbol.for('tollgate.error')] = true; e");
  assert.equal(foreign instanceof Error, false);
  assert.equal(isQueueFullError(foreign), true);
  assert.equal(isTollgateError(foreign), true);
  assert.equal(isInsufficientCapacityError(foreign), false);
  assert.equal(isTollgateError(new Error('plain')), false);
});

test('bad options are TypeErrors naming the option and what is allowed', () => {
  const bad = [
    [{ windows: [] }, /`windows` must be a non-empty array/],
    [{ windows: [{ limit: 0, per: '1m' }] }, /`windows\[0\]\.limit` must be an integer from 1 to 4294967295; got 0/],
    [{ windows: [{ limit: 2.5, per: '1m' }] }, /`windows\[0\]\.limit`/],
    [{ windows: [{ limit: 5, per: 'soon' }] }, /`windows\[0\]\.per` must be whole milliseconds or a string such as/],
    [{ windows: [{ limit: 5, per: 0 }] }, /`windows\[0\]\.per` must be from 1 ms/],
    [{ windows: [{ limit: 5, per: Number.NaN }] }, /`windows\[0\]\.per`/],
    [{ windows: [{ limit: 5, per: '1m', kind: 'leaky' }] }, /`windows\[0\]\.kind` must be 'sliding', 'fixed' or 'bucket'/],
    [{ windows: [{ limit: 5, per: '1m', offset: 5 }] }, /`windows\[0\]\.offset` applies only to kind 'fixed'/],
    [{ windows: hexWindows, maxWaiters: -1 }, /`maxWaiters` must be an integer >= 0 or Infinity/],
    [{ windows: hexWindows, clock: { now: () => 0 } }, /`clock` must have `now\(\)`/],
  ];
  for (const [options, message] of bad) assert.throws(() => new Limiter(options), (e) => e instanceof TypeError && message.test(e.message));
  const limiter = hex(fakeClock(T0));
  assert.throws(() => limiter.tryAcquire(0), /`cost` must be an integer from 1/);
  assert.throws(() => limiter.tryAcquire(1.5), /`cost`/);
});

test('durations: numbers are ms, and ms/s/m/h/d strings', () => {
  const limiter = new Limiter({
    windows: [{ limit: 1, per: 250 }, { limit: 2, per: '30s' }, { limit: 3, per: '1.5m' }, { limit: 4, per: '2h' }, { limit: 5, per: '1d' }],
    clock: fakeClock(T0),
  });
  assert.deepEqual(limiter.usage().map((u) => u.perMs), [250, 30_000, 90_000, 7_200_000, 86_400_000]);
});

test('a NaN clock rejects by name; it never admits or hangs', async () => {
  const limiter = new Limiter({ windows: hexWindows, clock: { now: () => Number.NaN, setTimeout, clearTimeout } });
  assert.throws(() => limiter.tryAcquire(), (e) => e instanceof TypeError && /`now` must be a finite number/.test(e.message));
  await assert.rejects(limiter.acquire(), TypeError);
});

test('a clock that jumps back frees no slot', () => {
  const clock = fakeClock(T0);
  const limiter = new Limiter({ windows: [{ limit: 1, per: '1m' }], clock });
  assert.equal(limiter.tryAcquire().ok, true);
  clock.set(T0 - 3_600_000);
  const r = limiter.tryAcquire();
  assert.equal(r.ok, false);
  assert.equal(r.retryAt, T0 + 60_000);
});

test('pauseUntil holds every waiter until the gate, then admits at once', async () => {
  const clock = fakeClock(T0);
  const limiter = hex(clock);
  limiter.pauseUntil(T0 + 30_000);
  assert.equal(limiter.pausedUntil, T0 + 30_000);
  const w = track(limiter.acquire());
  await clock.advanceTo(T0 + 29_999);
  assert.equal(w.settled, false);
  await clock.advanceTo(T0 + 30_000);
  assert.equal(w.value.at, T0 + 30_000);
});

test('reconcile adopts a server that counts more (a shared quota) until its reset', () => {
  const clock = fakeClock(T0);
  const limiter = hex(clock);
  limiter.tryAcquire();
  assert.equal(limiter.reconcile(0, { remaining: 0, resetAt: T0 + 40_000 }), true);
  assert.deepEqual(limiter.tryAcquire(), { ok: false, retryAt: T0 + 40_000, waitMs: 40_000 });
  // A server that counts less than we do changes nothing.
  assert.equal(limiter.reconcile(1, { remaining: 60 }), false);
  assert.throws(() => limiter.reconcile(2, { remaining: 0 }), /`window` must be an index from 0 to 1/);
});

test('permit.complete counts the request when its response arrived', async () => {
  const clock = fakeClock(T0);
  const limiter = new Limiter({ windows: [{ limit: 1, per: '1s' }], clock });
  const permit = await limiter.acquire();
  await clock.advance(300);
  permit.complete();
  permit.complete(); // a second call changes nothing
  assert.equal(limiter.tryAcquire().retryAt, T0 + 1_300);
});

test('snapshot and restore: a restarted process remembers what it spent', () => {
  const clock = fakeClock(T0);
  const limiter = hex(clock);
  for (let i = 0; i < 20; i++) limiter.tryAcquire();
  const saved = JSON.parse(JSON.stringify(limiter.snapshot()));
  assert.equal(saved.version, 1);
  const restored = Limiter.restore(saved, { windows: hexWindows, clock });
  assert.deepEqual(restored.tryAcquire(), { ok: false, retryAt: T0 + 60_000, waitMs: 60_000 });
  assert.deepEqual(Limiter.restore(saved, { clock }).usage().map((u) => [u.limit, u.perMs, u.used]), [[20, 60_000, 20], [60, 3_600_000, 20]]);
});

test('restore refuses unknown versions, corrupt snapshots and other windows with SnapshotError', () => {
  const limiter = hex(fakeClock(T0));
  limiter.tryAcquire();
  const saved = limiter.snapshot();
  const cases = [
    [{ ...saved, version: 2 }, /snapshot version 2 is not supported; this build reads version 1/],
    ['{"version":1}', /corrupt snapshot: a snapshot must be an object/],
    [{ version: 1, windows: 'many' }, /corrupt snapshot/],
    [{ ...saved, windows: [{ ...saved.windows[0], state: { sliding: { log: [[5, 1], [3, 1]] } } }] }, /in order/],
  ];
  for (const [snapshot, message] of cases) {
    assert.throws(() => Limiter.restore(snapshot), (e) => e instanceof SnapshotError && message.test(e.message), String(message));
  }
  assert.throws(() => Limiter.restore(saved, { windows: [{ limit: 30, per: '1m' }] }), /other windows/);
});

test('countInFlight: a request in flight holds its slot until its response, and completing it wakes the queue', async () => {
  const clock = fakeClock(T0);
  const limiter = new Limiter({ windows: [{ limit: 1, per: '1m' }], clock, countInFlight: true });
  const first = await limiter.acquire();
  assert.equal(limiter.inFlight, 1);
  const next = track(limiter.acquire());
  await clock.advance(5 * 60_000); // still in flight after five minutes: it may arrive any moment
  assert.equal(next.settled, false);
  assert.equal(clock.pending, 0, 'no timer: only a completion can make room');
  assert.deepEqual(limiter.tryAcquire(), { ok: false, retryAt: Infinity, waitMs: Infinity });
  first.complete();
  await flush();
  assert.equal(limiter.inFlight, 0);
  assert.equal(next.settled, false);
  await clock.advance(60_000 - 1);
  assert.equal(next.settled, false);
  await clock.advance(1);
  assert.equal(next.value.at, T0 + 6 * 60_000);
  assert.throws(() => new Limiter({ windows: hexWindows, countInFlight: 'yes' }), /`countInFlight` must be true or false/);
});

test('plan: 15 Hex triggers use a quarter of the hour; 100 finish in the second hour', () => {
  const clock = fakeClock(T0);
  const limiter = hex(clock);
  const plan = limiter.plan(100);
  assert.equal(plan.length, 100);
  assert.equal(plan.slice(0, 15).filter((t) => t === T0).length, 15);
  assert.equal(plan[19], T0);
  assert.equal(plan[20], T0 + 60_000);
  assert.equal(plan[59], T0 + 120_000);
  assert.equal(plan[60], T0 + 3_600_000);
  assert.equal(plan[99], T0 + 3_600_000 + 60_000);
  // The plan is what tryAcquire does, and planning takes nothing.
  assert.equal(limiter.usage()[0].used, 0);
  for (const at of plan.slice(0, 25)) {
    clock.set(at);
    assert.equal(limiter.tryAcquire().ok, true, `at +${at - T0}`);
  }
  assert.throws(() => limiter.plan(-1), /`n` must be an integer from 0 to 1000000/);
  assert.throws(() => limiter.plan(1, { cost: 21 }), /never be admitted/);
});

test('events: queued, admitted, aborted, paused and reconciled, with their details', async () => {
  const clock = fakeClock(T0);
  const limiter = new Limiter({ windows: [{ limit: 1, per: '1m' }], clock });
  const seen = [];
  for (const type of ['queued', 'admitted', 'aborted', 'paused', 'reconciled']) {
    limiter.events.addEventListener(type, (e) => seen.push([type, e.detail]));
  }
  limiter.tryAcquire();
  const controller = new AbortController();
  const waiting = limiter.acquire({ priority: 2 });
  limiter.acquire({ signal: controller.signal }).catch(() => {});
  controller.abort();
  limiter.pauseUntil(T0 + 90_000);
  limiter.reconcile(0, { remaining: 0, resetAt: T0 + 120_000 });
  await clock.advanceTo(T0 + 120_000);
  await waiting;
  assert.deepEqual(seen.map(([type]) => type), ['queued', 'queued', 'aborted', 'paused', 'reconciled', 'admitted']);
  assert.deepEqual(seen[0][1], { at: T0, cost: 1, priority: 2, waiting: 1 });
  assert.equal(seen[3][1].until, T0 + 90_000);
  assert.equal(seen[5][1].at, T0 + 120_000);
});

test('usage() and earliest() describe now, even on a limiter idle since its last decision', () => {
  const clock = fakeClock(T0);
  const limiter = new Limiter({ windows: [{ limit: 2, per: '1m' }, { limit: 5, per: '1h' }], clock });
  limiter.tryAcquire(2);
  clock.set(T0 + 10_000);
  assert.deepEqual(limiter.usage().map((u) => [u.used, u.remaining, u.nextFreeAt]), [[2, 0, T0 + 60_000], [2, 3, T0 + 10_000]]);
  clock.set(T0 + 61_000);
  assert.deepEqual(limiter.usage().map((u) => [u.used, u.nextFreeAt]), [[0, T0 + 61_000], [2, T0 + 61_000]]);
  assert.equal(limiter.earliest(2), T0 + 61_000);
});
