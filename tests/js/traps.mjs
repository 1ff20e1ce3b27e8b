// Run by boundary.test.mjs in its own process (small stack, --expose-gc): drives
// every entry point into the wasm limiter module to a stack overflow 2,000 times
// at slowly varying depths, so that the overflow lands at every call inside the
// wasm, and feeds 10,000 throwing inputs; then checks that every limiter, old and
// new, decides exactly as a twin that never saw a trap, and that collecting the
// old limiters does not bring the process down. Prints one JSON line.
import { Limiter } from 'tollgate';

const T0 = 1_795_441_320_000;
const OVERFLOWS = Number(process.env.OVERFLOWS ?? 2_000);
const THROWS = Number(process.env.THROWS ?? 10_000);
const clock = { now: () => T0, setTimeout: () => 0, clearTimeout: () => {} };
const WINDOWS = [
  { limit: 100_000, per: '1m' },
  { limit: 200_000, per: '1h', kind: 'fixed' },
  { limit: 300_000, per: '1d', kind: 'bucket' },
];
// A call abandoned by a stack overflow may leave its promise unobserved: only
// stack overflows and aborts may go unhandled.
process.on('unhandledRejection', (e) => {
  if (e instanceof RangeError || e?.name === 'AbortError') return;
  console.error(e);
  process.exit(1);
});
const make = () => new Limiter({ windows: WINDOWS, clock, countInFlight: true });

/**
 * Calls `attempt` until it has overflowed the stack OVERFLOWS times: recurses
 * until the stack runs out, then climbs back `up` frames (random, below a reach
 * that adapts so that about half the attempts overflow) and calls it there. When it returns (or its promise fulfils), `replay` runs
 * the same call on the twin, with the whole stack. Counts the overflows, those
 * that happened inside wasm (a wasm frame on the error's stack), and successes.
 */
async function run(name, attempt, replay) {
  const r = { overflows: 0, inWasm: 0, ok: 0 };
  const note = (e) => {
    if (!(e instanceof RangeError)) throw e;
    r.overflows++;
    if (/wasm/.test(e.stack ?? '')) r.inWasm++;
  };
  // How far up the stack to climb before calling: adapted so that about half the attempts overflow.
  let reach = 8;
  let up = 0;
  let outcome;
  const dive = () => {
    try {
      dive();
    } catch (error) {
      if (!(error instanceof RangeError) || up-- > 0) throw error;
      try {
        outcome = { value: attempt() };
      } catch (e) {
        outcome = { error: e };
      }
    }
  };
  // Once with the whole stack first: compiling a function on first call needs
  // far more stack than running it, and would overflow every time.
  await attempt();
  replay?.();
  for (let n = 0; r.overflows < OVERFLOWS && n < OVERFLOWS * 10; n++) {
    up = Math.floor(Math.random() * reach);
    outcome = undefined;
    dive();
    if (outcome === undefined) continue;
    let failed = 'error' in outcome ? outcome.error : undefined;
    if (failed === undefined) {
      try {
        await outcome.value;
      } catch (e) {
        failed = e;
      }
    }
    reach = Math.max(2, failed === undefined ? reach - 1 : reach + 1);
    if (failed !== undefined) {
      note(failed);
      continue;
    }
    r.ok++;
    replay?.();
  }
  results[name] = r;
  if (process.env.CHECK_EACH) for (const p of pairs) if (JSON.stringify(p.l.snapshot()) !== JSON.stringify(p.twin.snapshot())) throw new Error(`drift after ${name}`);
}

const results = {};
/** A limiter under test and its twin, which sees only the calls that succeeded. */
const pairs = [];
function pair() {
  const p = { l: make(), twin: make() };
  pairs.push(p);
  return p;
}

{
  const p = pair();
  await run('tryAcquire', () => p.l.tryAcquire(), () => p.twin.tryAcquire());
  await run('acquire', () => p.l.acquire(), () => p.twin.acquire());
  const permits = [];
  for (let i = 0; i < OVERFLOWS * 20; i++) permits.push([p.l.tryAcquire().permit, p.twin.tryAcquire().permit]);
  await run('permit.complete', () => permits.at(-1)[0].complete(), () => permits.pop()[1].complete());
  await run('reconcile', () => p.l.reconcile(0, { remaining: 99_000 }), () => p.twin.reconcile(0, { remaining: 99_000 }));
  await run('pauseUntil', () => p.l.pauseUntil(T0 - 1), () => p.twin.pauseUntil(T0 - 1));
  await run('alignToServer', () => p.l.alignToServer(1_500, 500), () => p.twin.alignToServer(1_500, 500));
  await run('snapshot', () => p.l.snapshot());
  await run('plan', () => p.l.plan(3));
  await run('usage', () => p.l.usage());
  await run('earliest', () => p.l.earliest());
  await run('inFlight', () => p.l.inFlight);
  await run('pausedUntil', () => p.l.pausedUntil);
  const saved = p.l.snapshot();
  await run('Limiter.restore', () => Limiter.restore(saved, { clock }).dispose());
  await run('new Limiter', () => make().dispose());
  // Queued waiters: enqueue, then abort (cancel in the core).
  const one = [{ limit: 1, per: '1h' }];
  const q = { l: new Limiter({ windows: one, clock }), twin: new Limiter({ windows: one, clock }) };
  q.l.tryAcquire();
  q.twin.tryAcquire();
  pairs.push(q);
  const controllers = [];
  // Queued (tg_enqueue); then aborted, with the whole stack (tg_cancel). An abort()
  // cut short by the overflow inside Node's own dispatch is not the limiter's to see.
  await run('acquire (queued)', () => {
    const c = new AbortController();
    controllers.push(c);
    const waiting = q.l.acquire({ signal: c.signal });
    waiting.catch(() => {});
    return q.l.waiting > 0 ? undefined : waiting;
  });
  for (const c of controllers) c.abort();
  await new Promise((r) => setTimeout(r, 10));
  if (q.l.waiting !== 0) throw new Error(`${q.l.waiting} waiters left behind`);
}

// 10,000 inputs that throw while being read: none may reach the wasm.
const boom = () => { throw new Error('boom'); };
const thrower = { get cost() { return boom(); } };
const revoked = Proxy.revocable({}, {});
revoked.revoke();
const throwing = [
  (l) => l.acquire(thrower),
  (l) => l.acquire(revoked.proxy),
  (l) => l.tryAcquire(revoked.proxy),
  (l) => l.reconcile(0, { get remaining() { return boom(); } }),
  (l) => l.reconcile(0, revoked.proxy),
  () => Limiter.restore({ version: 1, get windows() { return boom(); } }),
  () => Limiter.restore(revoked.proxy),
  () => new Limiter({ get windows() { return boom(); } }),
  () => new Limiter({ windows: [revoked.proxy] }),
  () => new Limiter({ windows: WINDOWS, clock: { now: boom, setTimeout() {}, clearTimeout() {} } }).tryAcquire(),
];
let thrown = 0;
const victim = pairs[0];
for (let i = 0; i < THROWS; i++) {
  try {
    const r = throwing[i % throwing.length](victim.l);
    if (r instanceof Promise) await r;
  } catch {
    thrown++;
  }
}

// Old limiters dropped without dispose(): collecting them must not trap.
for (let i = 0; i < 1_000; i++) make().tryAcquire();
globalThis.gc?.();
await new Promise((r) => setTimeout(r, 50));
globalThis.gc?.();

// Every limiter decides as its twin: same state now, same answers to the same calls.
const strip = (s) => JSON.stringify(s);
let exact = 0;
for (const p of [...pairs, pair()]) {
  if (strip(p.l.snapshot()) !== strip(p.twin.snapshot())) throw new Error('a limiter drifted from its twin');
  for (let i = 0; i < 50; i++) {
    const a = p.l.tryAcquire();
    const b = p.twin.tryAcquire();
    if (a.ok !== b.ok || (a.ok ? a.permit.at !== b.permit.at : a.retryAt !== b.retryAt)) throw new Error('a decision differs');
  }
  exact++;
}
console.log(JSON.stringify({ results, thrown, exact }));
