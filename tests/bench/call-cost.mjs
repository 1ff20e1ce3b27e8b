// Per-call cost in Node, when the limiter admits at once (limits far above what a run can use):
// - synchronous: tollgate's `tryAcquire()` on a two-window sliding policy vs limiter's
//   `TokenBucket.tryRemoveTokens(1)` (one bucket, as the issue states its target; the two-bucket
//   hierarchy, the closer match to two windows, is shown too);
// - asynchronous: `await limiter.acquire()` vs rate-limiter-flexible's `await consume(key)` and
//   `await throttled()` of p-throttle (strict, as configured in goodput.mjs; its default windowed
//   mode is shown too), and the floor of any such call: a `Date.now()` and an `await` of a resolved promise.
// Real clocks (Date.now / performance.now): their cost is part of a call. Each round runs every
// contender in turn (rotating the order); the table shows the median of the rounds after warm-up.
import { TokenBucket } from 'limiter';
import pThrottle from 'p-throttle';
import rlf from 'rate-limiter-flexible';
import { Limiter } from 'tollgate';
import { fmt, header, log, median, out, ratio, table, target } from './lib.mjs';

const { RateLimiterMemory } = rlf;
const HUGE = 4_294_967_295; // tollgate's largest limit
const WARMUP = 2;
const ROUNDS = 9;
const SYNC_OPS = 1_000_000;
const FLOOR = '(for reference: `await Promise.resolve(x)` after a `Date.now()`, the floor of any call that reads the clock and returns a promise)';
const ASYNC_OPS = 200_000;

const tollgate = () => new Limiter({ windows: [{ limit: HUGE, per: '1m' }, { limit: HUGE, per: '1h' }] });
function bucket(parentBucket) {
  const b = new TokenBucket({ bucketSize: 1e15, tokensPerInterval: 1e15, interval: 'second', parentBucket });
  b.content = 1e15;
  return b;
}

// Each contender: a fresh instance per round (so no state piles up across rounds) and a loop.
const SYNC = [
  { name: 'tollgate `tryAcquire()` (2 sliding windows)', make: tollgate, run(l, n) { let ok = 0; for (let i = 0; i < n; i++) if (l.tryAcquire().ok) ok++; return ok; } },
  { name: 'limiter `TokenBucket.tryRemoveTokens(1)` (1 bucket)', make: () => bucket(), run(b, n) { let ok = 0; for (let i = 0; i < n; i++) if (b.tryRemoveTokens(1)) ok++; return ok; } },
  { name: 'limiter `tryRemoveTokens(1)`, child + parent bucket', make: () => bucket(bucket()), run(b, n) { let ok = 0; for (let i = 0; i < n; i++) if (b.tryRemoveTokens(1)) ok++; return ok; } },
  { name: '(for reference: `Date.now()` alone, which tollgate reads once a call)', make: () => null, run(_, n) { let ok = 0; for (let i = 0; i < n; i++) if (Date.now() > 0) ok++; return ok; } },
];
const ASYNC = [
  { name: 'tollgate `await acquire()`', make: tollgate, async run(l, n) { for (let i = 0; i < n; i++) await l.acquire(); return n; } },
  { name: 'rate-limiter-flexible `await consume(key)`', make: () => new RateLimiterMemory({ points: 1e15, duration: 3600 }), async run(r, n) { for (let i = 0; i < n; i++) await r.consume('k'); return n; } },
  { name: 'p-throttle strict `await throttled()`', make: () => pThrottle({ limit: 1e15, interval: 3_600_000, strict: true })(() => undefined), async run(t, n) { for (let i = 0; i < n; i++) await t(); return n; } },
  { name: 'p-throttle (windowed) `await throttled()`', make: () => pThrottle({ limit: 1e15, interval: 3_600_000 })(() => undefined), async run(t, n) { for (let i = 0; i < n; i++) await t(); return n; } },
  // What any limiter that reads the clock and hands back a promise pays, before deciding anything.
  { name: FLOOR, make: () => ({}), async run(o, n) { for (let i = 0; i < n; i++) if ((await Promise.resolve(Date.now() > 0 ? o : null)) !== o) return i; return n; } },
];

async function measure(contenders, ops) {
  const samples = contenders.map(() => []);
  for (let round = 0; round < WARMUP + ROUNDS; round++) {
    for (let k = 0; k < contenders.length; k++) {
      const i = (k + round) % contenders.length;
      const c = contenders[i];
      const instance = c.make();
      const t0 = process.hrtime.bigint();
      const admitted = await c.run(instance, ops);
      const ns = Number(process.hrtime.bigint() - t0) / ops;
      if (admitted !== ops) throw new Error(`${c.name}: admitted ${admitted} of ${ops}`);
      if (round >= WARMUP) samples[i].push(ns);
    }
  }
  return samples.map((s) => ({ median: median(s), min: Math.min(...s), max: Math.max(...s) }));
}

header('Per-call cost in Node (admitted at once)');
out(`Median of ${ROUNDS} rounds after ${WARMUP} warm-up rounds; ${fmt(SYNC_OPS)} calls a round (sync), ${fmt(ASYNC_OPS)} (async). Range: fastest and slowest round.\n`);

log('synchronous');
const sync = await measure(SYNC, SYNC_OPS);
out(table(['synchronous', 'ns/op', 'range', 'tollgate ÷ this'],
  SYNC.map((c, i) => [c.name, sync[i].median.toFixed(0), `${sync[i].min.toFixed(0)}–${sync[i].max.toFixed(0)}`, i === 0 ? '1.00×' : c.name.startsWith('(') ? '—' : ratio(sync[0].median, sync[i].median)])));
out();

log('asynchronous');
const asyn = await measure(ASYNC, ASYNC_OPS);
const us = (ns) => (ns / 1000).toFixed(3);
const a = asyn[0].median;
out(table(['asynchronous', 'µs/op', 'range', 'tollgate ÷ this'],
  ASYNC.map((c, i) => [c.name, us(asyn[i].median), `${us(asyn[i].min)}–${us(asyn[i].max)}`, i === 0 ? '1.00×' : c.name === FLOOR ? '—' : ratio(asyn[0].median, asyn[i].median)])));
out();
const floor = asyn[ASYNC.findIndex((c) => c.name === FLOOR)].median;
out(`The floor (${us(floor)} µs) is ${ratio(floor, asyn[1].median)} of rate-limiter-flexible's \`consume\` and ${ratio(floor, asyn[2].median)} of p-throttle (strict): `
  + `tollgate's \`acquire\` spends ${us(a - floor)} µs above it (the decision in the core, the permit).\n`);

const t = sync[0].median;
out(table(['target (issue 6; issue 12)', 'measured', 'result'], [
  ['`tryAcquire` ≤ 100 ns', `${t.toFixed(0)} ns`],
  ['`tryAcquire` ≤ ½ of limiter\'s `tryRemoveTokens`', `${ratio(t, sync[1].median)} (${t.toFixed(0)} vs ${sync[1].median.toFixed(0)} ns)`],
  ['`acquire` ≤ ½ of rate-limiter-flexible\'s `consume`', `${ratio(a, asyn[1].median)} (${us(a)} vs ${us(asyn[1].median)} µs)`],
  ['`acquire` ≤ ⅕ of p-throttle (strict)', `${ratio(a, asyn[2].median)} (${us(a)} vs ${us(asyn[2].median)} µs)`],
  ['issue 12: `tryAcquire` (2 windows) ≤ 1.0× limiter\'s single `TokenBucket`', `${ratio(t, sync[1].median)} (${t.toFixed(0)} vs ${sync[1].median.toFixed(0)} ns)`],
  ['issue 12: `acquire` ≤ ½ of p-throttle (strict)', `${ratio(a, asyn[2].median)} (${us(a)} vs ${us(asyn[2].median)} µs)`],
].map(([what, measured], i) => [what, measured, target(what, measured,
  [t <= 100, t <= sync[1].median / 2, a <= asyn[1].median / 2, a <= asyn[2].median / 5, t <= sync[1].median, a <= asyn[2].median / 2][i])])));
out();
