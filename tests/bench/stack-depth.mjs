// How much native stack each export of the limiter wasm needs, in bytes: the evidence behind the
// stack probe (src/wasm_probe.rs). Not part of `npm run bench`; run it on its own:
//   node tests/bench/stack-depth.mjs                      (V8's tiers as they come)
//   node --no-liftoff tests/bench/stack-depth.mjs         (optimizing tier only)
//   node --liftoff --no-wasm-tier-up tests/bench/stack-depth.mjs   (baseline tier only)
// The ruler is a tiny wasm recursion (a fixed frame per level) that calls the export at its
// bottom; a binary search finds the deepest level at which the call still returns, and the
// difference to a call that needs nothing is the export's need, in ruler frames (converted to
// bytes with the ruler's frame size: the default stack over the deepest level of an empty call).
// Each export is measured over many limiter states (queues, logs, permits in flight) and the
// largest need is shown. Every export that changes a limiter should need the probe's 8 KB plus a
// little: the probe runs first and no call after it goes deeper. To see an export's own depth,
// take `reach()` out of `change` in src/wasm.rs and rebuild (about 2 KB at most when measured).
import { createRequire } from 'node:module';
import { Limiter } from 'tollgate';

const { wasm } = createRequire(import.meta.url)('../../js/cjs/core.js');
// (module (import "js" "f" (func $f (result f64)))
//   (func $r (export "r") (param i32) (result f64) (if (result f64) (i32.eqz (local.get 0)) (then (call $f))
//     (else (call $r (i32.sub (local.get 0) (i32.const 1)))))))
const RULER = '0061736d01000000010a026000017c60017f017c020801026a730166000003020101070501017200010a14011200200045047c100005200041016b10010b0b';
let current = () => 0;
const bytes = new Uint8Array(RULER.match(/../g).map((h) => parseInt(h, 16)));
const ruler = new WebAssembly.Instance(new WebAssembly.Module(bytes), { js: { f: () => current() } }).exports;
const fits = (k, f) => {
  current = f;
  try {
    ruler.r(k);
    return true;
  } catch (e) {
    if (!(e instanceof RangeError)) throw e;
    return false;
  }
};
function deepest(f) {
  let lo = 0;
  let hi = 1 << 20;
  while (lo < hi) {
    const m = Math.floor((lo + hi + 1) / 2);
    if (fits(m, f)) lo = m;
    else hi = m - 1;
  }
  return lo;
}

let t = 1_795_441_320_000;
const clock = { now: () => t, setTimeout: () => 0, clearTimeout() {} };
const make = () => new Limiter({ windows: [{ limit: 50, per: '1s' }, { limit: 500, per: '1m', kind: 'fixed' }, { limit: 900, per: '1h', kind: 'bucket' }], clock, countInFlight: true });
const limiters = [make(), make(), make()];
const handles = [0, 1, 2];
const saved = limiters[0].snapshot();
const permits = [];
// Each export, called directly (errors are fine: a refused or invalid call still runs its checks).
const exports = {
  tg_try_acquire: (h) => {
    const cost = 1 + (t % 3);
    const r = wasm.tg_try_acquire(h, t, cost);
    if (r <= 0) permits.push([h, -r, cost]);
    return r;
  },
  tg_enqueue: (h) => wasm.tg_enqueue(h, 1 + (t % 2), t % 5),
  tg_admit_next: (h) => wasm.tg_admit_next(h, t),
  tg_cancel: (h) => wasm.tg_cancel(h, 1 + (t % 50)),
  tg_complete: (h) => {
    const p = permits.find((x) => x[0] === h);
    return p ? wasm.tg_complete(h, p[1], p[2], t, t) : 0;
  },
  tg_release: (h) => {
    const p = permits.find((x) => x[0] === h);
    return p ? wasm.tg_release(h, p[1], p[2]) : 0;
  },
  tg_pause_until: (h) => wasm.tg_pause_until(h, t - 5),
  tg_reconcile: (h) => wasm.tg_reconcile(h, t % 3, 3, t % 2 ? -1 : t + 500, t),
  tg_advance: (h) => wasm.tg_advance(h, t),
  tg_align: (h) => wasm.tg_align(h, 1_500, 300),
  'tg_new + tg_free': () => new Limiter({ windows: [{ limit: 5, per: '1s' }, { limit: 9, per: '1m', kind: 'fixed' }] }).dispose(),
  'tg_restore + tg_free': () => Limiter.restore(saved, { clock }).dispose(),
  'tg_snapshot (reads)': (h) => wasm.tg_snapshot(h),
  'tg_plan (reads)': (h) => wasm.tg_plan(h, t, 20, 1),
  'tg_next_wake (reads)': (h) => wasm.tg_next_wake(h),
};
const quiet = (f) => () => {
  try {
    return f();
  } catch (e) {
    if (e instanceof RangeError) throw e;
    return 0;
  }
};
// Warm up: the ruler and every export compiled (and, by default, tiered up) before measuring.
for (let i = 0; i < 3_000; i++) ruler.r(60);
for (const f of Object.values(exports)) for (let i = 0; i < 300; i++) quiet(() => f(0))();
let base = deepest(() => wasm.tg_waiters(0));
const need = {};
const STEPS = Number(process.env.STEPS ?? 40);
for (let step = 0; step < STEPS; step++) {
  t += Math.floor(Math.random() * 400);
  const h = handles[step % 3];
  for (const [name, f] of Object.entries(exports)) {
    for (let i = 0; i < 5; i++) quiet(() => f(h))();
    base = Math.max(base, deepest(() => wasm.tg_waiters(h)));
    need[name] = Math.max(need[name] ?? 0, base - deepest(quiet(() => f(h))));
  }
  for (const x of handles) for (let i = 0; i < 30; i++) quiet(() => exports.tg_try_acquire(x))();
  while (permits.length > 40) {
    const p = permits.shift();
    quiet(() => wasm.tg_complete(p[0], p[1], p[2], t, t))();
  }
}
const frame = (984 * 1024) / deepest(() => 0);
console.log(`native stack each export needs beyond a call that needs nothing (max over ${STEPS} states; ruler frame ≈ ${frame.toFixed(0)} B):`);
for (const [name, frames] of Object.entries(need)) console.log(`  ${name.padEnd(22)} ${Math.round(frames * frame).toLocaleString('en-US').padStart(6)} B`);
