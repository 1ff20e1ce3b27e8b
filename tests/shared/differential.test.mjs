// Differential test: random operation sequences applied to the wasm core's
// in-process Limiter and to a Limiter.shared on a real redis-server (client
// time, one fake clock for both) must give the same decisions, permit times,
// retryAt, usage and plans, for every window kind. The Lua scripts and the
// Rust core are two implementations of one semantics; this keeps them one.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import Redis from 'ioredis';
import { Limiter, redisStore } from 'tollgate';
import { fakeClock } from '../js/fake-clock.mjs';
import { startRedis } from './redis-server.mjs';

const CASES = Number(process.env.TOLLGATE_DIFF_CASES ?? 1500);
const SEED = Number(process.env.TOLLGATE_DIFF_SEED ?? Date.now() % 1_000_000);

let server;
let client;
before(async () => {
  server = await startRedis();
  client = new Redis(server.port, '127.0.0.1', { lazyConnect: false });
});
after(async () => {
  client?.disconnect();
  await server?.stop();
});

function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const tick = () => new Promise((r) => setImmediate(r));

// The core says Infinity when only a completion can make room; the shared
// store, whose permits in flight have a lease (here 1000 days), says when the
// oldest lease ends instead.
const LEASE_MS = 1000 * 86_400_000;
function assertTime(shared, core, message) {
  if (core === Number.POSITIVE_INFINITY && shared !== core) {
    assert.ok(shared >= 1_795_441_320_000 + LEASE_MS, `${message}: ${shared}, not the end of a lease`);
  } else {
    assert.equal(shared, core, message);
  }
}

async function runCase(seed, store, trace) {
  const r = rng(seed);
  const int = (lo, hi) => lo + Math.floor(r() * (hi - lo + 1));
  const pick = (xs) => xs[int(0, xs.length - 1)];
  const windows = Array.from({ length: int(1, 3) }, () => {
    const kind = pick(['sliding', 'fixed', 'bucket']);
    const w = { kind, limit: int(1, 6), per: int(5, 120) };
    if (kind === 'fixed' && r() < 0.5) w.offset = int(0, 200);
    return w;
  });
  const minLimit = Math.min(...windows.map((w) => w.limit));
  const countInFlight = r() < 0.5;
  const clock = fakeClock(1_795_441_320_000 + int(0, 100_000));
  const core = new Limiter({ windows, clock, countInFlight });
  const shared = Limiter.shared({ name: `diff:${seed}`, windows, store, clock, countInFlight, leaseMs: '1000d' });
  trace.push({ windows, countInFlight, start: clock.now() });
  const permits = []; // [corePermit, sharedPermit]
  const retryAts = [];
  let queuedEvents = 0;
  shared.events.addEventListener('queued', () => queuedEvents++);
  const queued = []; // { core: state, shared: state }
  // A round trip that changes nothing (plan writes nothing back), after which
  // the replies sent before it have been handled.
  const settle = async () => {
    await shared.plan(0);
    for (let i = 0; i < 3; i++) await tick();
  };
  // Moves time to `to` one due timer at a time, letting the shared limiter's
  // round trips finish at each (its timers are armed by Redis's replies).
  const advanceTo = async (to) => {
    for (let guard = 0; guard < 50; guard++) {
      const due = clock.nextTimerAt();
      const step = due !== undefined && due <= to ? due : to;
      await clock.advanceTo(step);
      await settle();
      if (step === to && (clock.nextTimerAt() === undefined || clock.nextTimerAt() > to)) return;
    }
  };
  const comparePending = async () => {
    // The core decides synchronously; give the shared limiter's round trips
    // (a first subscription, a timer's poll) a bounded moment to catch up.
    const deadline = Date.now() + 2_000;
    while (Date.now() < deadline && queued.some((q) => q.core.done !== q.shared.done)) await settle();
    for (const q of queued) {
      assert.equal(q.shared.done, q.core.done, `waiter ${q.n} admitted by one only: core ${q.core.done} ${q.core.permit?.at}, shared ${q.shared.done} ${q.shared.permit?.at} ${q.shared.error}`);
      if (q.core.done && !q.counted) {
        q.counted = true;
        assert.equal(q.shared.permit.at, q.core.permit.at, `waiter ${q.n} admitted at different times`);
        permits.push([q.core.permit, q.shared.permit]);
      }
    }
  };
  try {
    for (let step = 0; step < 16; step++) {
      const op = pick(['try', 'try', 'try', 'tries', 'advance', 'advance', 'advance', 'complete', 'release', 'acquire', 'pause', 'reconcile', 'reconcile', 'usage', 'usage', 'plan']);
      trace.push({ op, now: clock.now() });
      if (op === 'try') {
        const cost = int(1, minLimit);
        const a = core.tryAcquire(cost);
        const b = await shared.tryAcquire(cost);
        trace.push({ cost, core: a.ok ? a.permit.at : a.retryAt, shared: b.ok ? b.permit.at : b.retryAt });
        assert.equal(b.ok, a.ok, `tryAcquire(${cost}) decided differently`);
        if (a.ok) {
          assert.equal(b.permit.at, a.permit.at);
          permits.push([a.permit, b.permit]);
        } else {
          assertTime(b.retryAt, a.retryAt, `tryAcquire(${cost}) retryAt differs`);
          if (Number.isFinite(a.retryAt)) retryAts.push(a.retryAt);
        }
      } else if (op === 'tries') {
        // Calls made together: the store decides them in one batch, in order,
        // as the core decides them one after another.
        const costs = Array.from({ length: int(2, 4) }, () => int(1, minLimit));
        const a = costs.map((cost) => core.tryAcquire(cost));
        const b = await Promise.all(costs.map((cost) => shared.tryAcquire(cost)));
        trace.push({ costs, core: a.map((x) => (x.ok ? x.permit.at : -x.retryAt)), shared: b.map((x) => (x.ok ? x.permit.at : -x.retryAt)) });
        a.forEach((x, i) => {
          assert.equal(b[i].ok, x.ok, `tryAcquire(${costs[i]}) #${i} of a batch decided differently`);
          if (x.ok) {
            assert.equal(b[i].permit.at, x.permit.at);
            permits.push([x.permit, b[i].permit]);
          } else {
            assertTime(b[i].retryAt, x.retryAt, `tryAcquire(${costs[i]}) #${i} of a batch: retryAt differs`);
          }
        });
      } else if (op === 'release' && permits.length > 0) {
        // Cancelled before it was sent: its units go back, as far as the core gives them back.
        const [a, b] = permits.splice(int(0, permits.length - 1), 1)[0];
        trace.push({ release: a.at, cost: a.cost });
        // The store releases at now (its stored clock may lag behind refusals
        // it did not write back); the core at the latest time it saw: bring
        // the core's clock to now first (usage() moves it, as any call does).
        core.usage();
        a.release();
        await b.release();
        await advanceTo(clock.now());
        await comparePending();
      } else if (op === 'advance') {
        // Half the time exactly onto a boundary: when a slot frees, a retryAt,
        // a bucket's start (off-by-one mistakes show only there).
        const boundaries = [...retryAts, ...permits.flatMap(([p]) => windows.map((w) => p.at + w.per))]
          .filter((t) => t > clock.now() && t < clock.now() + 1_000);
        const to = r() < 0.5 && boundaries.length > 0 ? pick(boundaries) : clock.now() + int(0, 150);
        trace.push({ to });
        await advanceTo(to);
        await comparePending();
      } else if (op === 'complete' && permits.length > 0) {
        const [a, b] = permits.splice(int(0, permits.length - 1), 1)[0];
        const at = r() < 0.3 ? undefined : clock.now() + int(-20, 20);
        trace.push({ at, permitAt: a.at });
        a.complete(at);
        await b.complete(at);
        await advanceTo(clock.now());
        await comparePending();
      } else if (op === 'acquire') {
        const cost = int(1, minLimit);
        const priority = int(0, 2);
        const state = (p) => {
          const s = { done: false, permit: undefined };
          p.then((permit) => { s.done = true; s.permit = permit; }, (error) => { s.error = error; });
          return s;
        };
        const q = { n: queued.length, core: state(core.acquire({ cost, priority })), shared: state(shared.acquire({ cost, priority })) };
        queued.push(q);
        trace.push({ cost, priority });
        // The shared acquire is in Redis's queue (or admitted) once it says so.
        const before = queuedEvents;
        const deadline = Date.now() + 2_000;
        while (Date.now() < deadline && queuedEvents === before && !q.shared.done) await tick();
        await advanceTo(clock.now());
        await comparePending();
      } else if (op === 'pause') {
        const until = clock.now() + int(0, 100);
        core.pauseUntil(until);
        await shared.pauseUntil(until);
        await advanceTo(clock.now());
      } else if (op === 'reconcile') {
        const window = int(0, windows.length - 1);
        const remaining = int(0, windows[window].limit);
        const resetAt = r() < 0.3 ? undefined : clock.now() + int(-10, 200);
        const opts = resetAt === undefined ? { remaining } : { remaining, resetAt };
        trace.push({ window, ...opts });
        assert.equal(await shared.reconcile(window, opts), core.reconcile(window, opts), 'reconcile changed differently');
        await advanceTo(clock.now());
        await comparePending();
      } else if (op === 'usage') {
        const a = core.usage();
        const b = await shared.usage();
        assert.deepEqual(b.map((u) => u.used), a.map((u) => u.used), 'usage differs');
        a.forEach((u, i) => assertTime(b[i].nextFreeAt, u.nextFreeAt, `usage()[${i}].nextFreeAt differs`));
      } else if (op === 'plan') {
        const cost = int(1, minLimit);
        assert.deepEqual(await shared.plan(4, { cost }), core.plan(4, { cost }), `plan(4, ${cost}) differs`);
      }
    }
  } finally {
    await shared.close();
  }
}

async function runCases(count, store) {
  let next = 0;
  const failures = [];
  const worker = async () => {
    while (next < count && failures.length === 0) {
      const seed = SEED * 10_000 + next++;
      const trace = [];
      try {
        await runCase(seed, store, trace);
      } catch (error) {
        failures.push({ seed, error, trace });
      }
    }
  };
  await Promise.all(Array.from({ length: 16 }, worker));
  if (failures.length > 0) {
    const { seed, error, trace } = failures[0];
    assert.fail(`case ${seed} (TOLLGATE_DIFF_SEED=${SEED}): ${error.message}\n${trace.map((t) => JSON.stringify(t)).join('\n')}`);
  }
}

test(`the Redis store and the wasm core decide alike: ${CASES} random sequences, every window kind (seed ${SEED})`, async () => {
  const store = redisStore(client, { time: 'client', queueLeaseMs: '1000d' });
  if (process.env.TOLLGATE_DIFF_ONLY) { // re-run one failing case: its number as printed
    const trace = [];
    try {
      await runCase(Number(process.env.TOLLGATE_DIFF_ONLY), store, trace);
    } finally {
      console.log(trace.map((t) => JSON.stringify(t)).join('\n'));
    }
    return;
  }
  await runCases(CASES, store);
});

// The same semantics where Redis has no functions: each operation is policy.lua
// and the operation as one script (EVALSHA), put together differently.
test(`on scripts (FUNCTION renamed away) too: ${Math.ceil(CASES / 5)} random sequences (seed ${SEED})`, { skip: Boolean(process.env.TOLLGATE_DIFF_ONLY) }, async () => {
  const old = await startRedis(['--rename-command', 'FUNCTION', '']);
  const io = new Redis(old.port, '127.0.0.1');
  try {
    await runCases(Math.ceil(CASES / 5), redisStore(io, { time: 'client', queueLeaseMs: '1000d' }));
    const evalsha = Number(/cmdstat_evalsha:calls=(\d+)/.exec(await io.info('commandstats'))?.[1] ?? 0);
    assert.ok(evalsha > 1_000, `decided by scripts: ${evalsha} EVALSHA`);
  } finally {
    io.disconnect();
    await old.stop();
  }
});
