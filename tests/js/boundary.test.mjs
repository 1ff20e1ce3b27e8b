// The wasm boundary (issue 11): traps leave nothing broken, inputs are read in JS
// before any wasm call, permits complete exactly once, abort signals are shared
// without listener leaks, and disposed limiters give their wasm memory back.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Limiter, TollgateError } from 'tollgate';
import { fakeClock } from './fake-clock.mjs';

const here = dirname(fileURLToPath(import.meta.url));
// The same module instance the package entry loaded (CommonJS cache), for the wasm memory.
const { wasm } = createRequire(import.meta.url)('../../js/cjs/core.js');
const T0 = 1_795_441_320_000;

test('2,000 stack overflows at every entry point and 10,000 throwing inputs leave every limiter exact, and the process exits 0', () => {
  // Its own process: a small stack keeps the recursions short; --expose-gc collects old limiters.
  const r = spawnSync(process.execPath, ['--stack-size=300', '--expose-gc', join(here, 'traps.mjs')],
    { encoding: 'utf8', timeout: 120_000, maxBuffer: 256 << 20 });
  const line = r.stdout.trim().split('\n').at(-1) ?? '';
  assert.equal(r.status, 0, `exit ${r.status}: ${r.stderr.split('\n').filter((l) => !/Maximum call stack|PromiseRejectCallback|^\s*\^?\s*$/.test(l)).slice(-15).join('\n')}`);
  const { results, thrown, exact } = JSON.parse(line);
  assert.equal(thrown, 10_000);
  assert.equal(exact, 3, 'every limiter, old and new, decides as its twin');
  for (const [entry, { overflows, ok }] of Object.entries(results)) {
    assert.equal(overflows, 2_000, entry);
    assert.ok(ok > 100, `${entry}: the calls between the overflows succeed`);
  }
  // The overflows must land inside the wasm, not only in the JS around it.
  for (const entry of ['tryAcquire', 'acquire', 'permit.complete', 'reconcile', 'snapshot', 'plan', 'Limiter.restore', 'new Limiter']) {
    assert.ok(results[entry].inWasm > 100, `${entry}: ${results[entry].inWasm} overflows inside wasm`);
  }
});

test('an invalid `signal` is a TypeError and leaves no waiter behind', async () => {
  const clock = fakeClock(T0);
  const limiter = new Limiter({ windows: [{ limit: 1, per: '1m' }], clock });
  limiter.tryAcquire();
  for (const signal of [{}, null, 'abort', { aborted: false }]) {
    await assert.rejects(limiter.acquire({ signal }), (e) => e instanceof TypeError && /`signal` must be an AbortSignal/.test(e.message));
  }
  assert.equal(limiter.waiting, 0);
  const next = limiter.acquire();
  await clock.advance(60_000);
  assert.equal((await next).at, T0 + 60_000, 'the next waiter is admitted exactly when the slot frees');
});

test('a failed complete() changes nothing and can be retried; complete(at) is bounded to the clock', async () => {
  const clock = fakeClock(T0);
  const limiter = new Limiter({ windows: [{ limit: 1, per: '1m' }], clock, countInFlight: true });
  const permit = (await limiter.acquire());
  for (const at of [Number.NaN, -1, 'later', T0 + 3_600_000, T0 * 1_000, 10n]) {
    assert.throws(() => permit.complete(at), (e) => e instanceof TypeError && /`at` must be a time in ms/.test(e.message), String(at));
    assert.equal(limiter.inFlight, 1, `complete(${String(at)}) changed nothing`);
    assert.equal(permit.settled, false);
  }
  permit.complete(T0 + 999); // within the documented tolerance of 1,000 ms: read as the clock
  assert.equal(limiter.inFlight, 0);
  assert.equal(permit.settled, true);
  permit.complete(); // later calls do nothing
  assert.deepEqual(limiter.tryAcquire(), { ok: false, retryAt: T0 + 60_000, waitMs: 60_000 });
});

test('acquire(null), reconcile(0) and a clock returning a BigInt get named errors', async () => {
  const limiter = new Limiter({ windows: [{ limit: 5, per: '1m' }], clock: fakeClock(T0) });
  await assert.rejects(limiter.acquire(null), (e) => e instanceof TypeError && /`options` must be an object/.test(e.message));
  assert.throws(() => limiter.reconcile(0), (e) => e instanceof TypeError && /needs the server's report as an object/.test(e.message));
  const bigClock = { now: () => 10n, setTimeout, clearTimeout };
  const big = new Limiter({ windows: [{ limit: 5, per: '1m' }], clock: bigClock });
  assert.throws(() => big.tryAcquire(), (e) => e instanceof TypeError && /`clock.now\(\)` must return a number.*10n \(bigint\)/.test(e.message));
  await assert.rejects(big.acquire(), TypeError);
});

test('one AbortSignal shared by 5,000 waiting calls adds one listener, and no MaxListeners warning', async () => {
  const warnings = [];
  const onWarning = (w) => warnings.push(w.name);
  process.on('warning', onWarning);
  try {
    const limiters = [new Limiter({ windows: [{ limit: 1, per: '1h' }] }), new Limiter({ windows: [{ limit: 1, per: '1h' }] })];
    for (const l of limiters) l.tryAcquire();
    const controller = new AbortController();
    const calls = [];
    for (let i = 0; i < 5_000; i++) calls.push(limiters[i % 2].acquire({ signal: controller.signal }).catch((e) => e));
    controller.abort();
    const reasons = await Promise.all(calls);
    assert.ok(reasons.every((r) => r === controller.signal.reason));
    assert.deepEqual(limiters.map((l) => l.waiting), [0, 0]);
    await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(warnings, []);
  } finally {
    process.off('warning', onWarning);
  }
});

test('dispose() frees the wasm side at once: 100,000 limiters created and disposed leave wasm memory flat', () => {
  const windows = [{ limit: 20, per: '1m' }, { limit: 60, per: '1h', kind: 'fixed' }];
  const churn = (n) => {
    for (let i = 0; i < n; i++) {
      const l = new Limiter({ windows });
      l.tryAcquire();
      l.dispose();
    }
  };
  churn(1_000);
  const before = wasm.memory.buffer.byteLength;
  churn(100_000);
  assert.equal(wasm.memory.buffer.byteLength, before);
  const l = new Limiter({ windows });
  l.dispose();
  l.dispose(); // twice is fine
  assert.throws(() => l.tryAcquire(), (e) => e instanceof TollgateError && /disposed/.test(e.message));
  // What `using scoped = new Limiter(...)` calls at the end of its block (Node 20 has the symbol, not the syntax).
  const scoped = new Limiter({ windows });
  scoped[Symbol.dispose]();
  assert.throws(() => scoped.tryAcquire(), /disposed/);
});

test('the wasm modules hold no absolute path of the machine that built them', async () => {
  const { readFileSync, readdirSync } = await import('node:fs');
  const { homedir } = await import('node:os');
  const root = join(here, '..', '..');
  // Remapped, dependencies read `cargo/registry/src/...` and the standard library `/rustc/<commit>/...`: the same everywhere.
  const needles = [root, homedir(), '/.cargo/'];
  for (const dir of ['pkg/node', 'pkg/web']) {
    for (const file of readdirSync(join(root, dir)).filter((f) => f.endsWith('.wasm'))) {
      const text = readFileSync(join(root, dir, file)).toString('latin1');
      for (const needle of needles) assert.equal(text.includes(needle), false, `${dir}/${file} contains ${needle}`);
    }
  }
});

test('idle scopes of rateLimitedFetch go after a period of idleness, whatever key comes next', async () => {
  const { rateLimitedFetch } = await import('tollgate');
  const clock = fakeClock(T0);
  const routes = [{ url: '/api/*', windows: [{ limit: 5, per: '1m' }], key: (r) => r.headers.get('x-key') }];
  const limited = rateLimitedFetch(fetch, { routes, clock });
  const scopeOf = (key) => limited.scopeFor('http://127.0.0.1/api/x', { headers: { 'x-key': key } });
  for (let i = 0; i < 500; i++) scopeOf(`k${i}`).limiter.tryAcquire().permit.complete();
  assert.equal(limited.scopes().length, 500);
  await clock.advance(48 * 3_600_000);
  scopeOf('k7'); // a key it already has: no new scope
  assert.equal(limited.scopes().length, 1, 'the 499 idle scopes were dropped');
});

test('permit.release() gives back the units of a request never sent, once', () => {
  const limiter = new Limiter({ windows: [{ limit: 1, per: '1h' }], clock: fakeClock(T0), countInFlight: true });
  const { permit } = limiter.tryAcquire();
  assert.equal(limiter.tryAcquire().ok, false);
  permit.release();
  assert.equal(limiter.inFlight, 0);
  assert.equal(permit.settled, true);
  permit.release(); // once: later calls do nothing
  permit.complete();
  assert.equal(limiter.tryAcquire().ok, true, 'the unit came back');
  assert.equal(limiter.tryAcquire().ok, false, 'only the one unit');
});

test('dispose() rejects every waiter (plain, with a cost, with a signal) with a TollgateError, none left unhandled', async () => {
  const unhandled = [];
  const onUnhandled = (e) => unhandled.push(e);
  process.on('unhandledRejection', onUnhandled);
  try {
    const clock = fakeClock(T0);
    const limiter = new Limiter({ windows: [{ limit: 2, per: '1m' }], clock });
    limiter.tryAcquire();
    limiter.tryAcquire();
    const controller = new AbortController();
    const calls = [limiter.acquire(), limiter.acquire({ cost: 2 }), limiter.acquire({ signal: controller.signal }), limiter.acquire({ priority: 3 })];
    assert.equal(limiter.waiting, 4);
    limiter.dispose();
    const outcomes = await Promise.allSettled(calls);
    for (const o of outcomes) {
      assert.equal(o.status, 'rejected');
      assert.ok(o.reason instanceof TollgateError && /disposed while this call waited/.test(o.reason.message), String(o.reason));
    }
    await new Promise((r) => setTimeout(r, 10));
    assert.deepEqual(unhandled, []);
  } finally {
    process.off('unhandledRejection', onUnhandled);
  }
});

test('queued plain and costed waiters are admitted in priority-then-arrival order, each permit at the time it was admitted', async () => {
  const clock = fakeClock(T0);
  const limiter = new Limiter({ windows: [{ limit: 2, per: '1s' }], clock });
  limiter.tryAcquire();
  limiter.tryAcquire();
  const order = [];
  const calls = [
    limiter.acquire().then((p) => order.push(['a', p.at, p.cost])),
    limiter.acquire({ cost: 2 }).then((p) => order.push(['b', p.at, p.cost])),
    limiter.acquire({ priority: 1 }).then((p) => order.push(['c', p.at, p.cost])),
    limiter.acquire().then((p) => order.push(['d', p.at, p.cost])),
  ];
  await clock.advance(3_000);
  await Promise.all(calls);
  assert.deepEqual(order, [['c', T0 + 1_000, 1], ['a', T0 + 1_000, 1], ['b', T0 + 2_000, 2], ['d', T0 + 3_000, 1]]);
});
