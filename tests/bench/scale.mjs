// Scale: 100,000 waiters on one limiter, and 10,000 scopes (keys) on one rateLimitedFetch wrapper.
// Virtual time (virtual-time.mjs) for tollgate (through `clock`) and the peers alike, so "pending
// timers" counts every timer each one holds. Memory: heapUsed + external after gc (the wasm
// core's linear memory is an ArrayBuffer, so it is in `external`; it grows and never shrinks).
// Every measurement runs in a fresh process (`node --expose-gc scale.mjs <part> <contender>`,
// printing one JSON line), so no contender's garbage or timers weigh on another's.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { fmt, header, log, mb, memory, out, passFail, ratio, table, target } from './lib.mjs';
import { drain, installVirtualTime } from './virtual-time.mjs';

const N = 100_000;
const KEYS = 10_000;
const [part, who] = process.argv.slice(2);
const clock = installVirtualTime(Date.UTC(2026, 0, 5));
const tgClock = { now: () => clock.now, setTimeout: (f, ms) => clock.setTimeout(f, ms), clearTimeout: (h) => clock.clearTimeout(h) };
const ms = (t0) => Number(process.hrtime.bigint() - t0) / 1e6;
const settle = async () => { for (let i = 0; i < 3; i++) await drain(); };
const priorityOf = (i) => (i * 7919) % 5; // 0..4, scattered
const twoWindows = () => [{ limit: 100, per: '1s' }, { limit: 1000, per: '1m' }];

/** Awaits `p`, firing virtual timers whenever nothing else can run (bottleneck starts jobs on a timer). */
async function until(p) {
  let done = false;
  p.then(() => { done = true; }, () => { done = true; });
  for (;;) {
    await drain();
    if (done) return p;
    if (!clock.next()) throw new Error('stuck: nothing left that could settle it');
  }
}
/** Lets `ms` of virtual time pass, firing what falls due. */
async function idle(span) {
  const end = clock.now + span;
  clock.setTimeout(() => {}, span);
  while (clock.now < end && clock.next()) await drain();
}

// Each contender: an instance whose capacity is used up (so every call waits), and how to wait.
const WAITERS = {
  tollgate: { make: async ({ Limiter }) => { const l = new Limiter({ windows: twoWindows(), clock: tgClock }); while (l.tryAcquire().ok); return l; }, wait: (l, i) => l.acquire({ priority: priorityOf(i) }) },
  'p-throttle (strict)': { make: async () => { const t = (await import('p-throttle')).default({ limit: 100, interval: 1000, strict: true })(() => 1); for (let i = 0; i < 100; i++) t(); return t; }, wait: (t) => t() },
  'rate-limiter-flexible': { make: async () => { const { RateLimiterQueue, RateLimiterMemory } = (await import('rate-limiter-flexible')).default; const q = new RateLimiterQueue(new RateLimiterMemory({ points: 100, duration: 1 })); await q.removeTokens(100); return q; }, wait: (q) => q.removeTokens(1) },
  bottleneck: { make: async () => new (await import('bottleneck')).default({ reservoir: 0, reservoirRefreshAmount: 100, reservoirRefreshInterval: 1000 }), wait: (b) => b.schedule(async () => 1) },
  'p-queue (strict)': { make: async () => { const q = new (await import('p-queue')).default({ intervalCap: 100, interval: 1000, strict: true }); for (let i = 0; i < 100; i++) q.add(() => 1); return q; }, wait: (q) => q.add(() => 1) },
  limiter: { make: async () => new (await import('limiter')).TokenBucket({ bucketSize: 100, tokensPerInterval: 100, interval: 'second' }), wait: (b) => b.removeTokens(1) },
  seed: { make: async () => { const s = new (await import('./seed-limiter.mjs')).HexRateLimiter({ minuteLimit: 100, minuteMs: 1000, hourLimit: 1000, hourMs: 60_000 }); s.minuteTokens = 0; return s; }, wait: (s) => s.acquire() },
};

async function waiters(name) {
  const c = WAITERS[name];
  const inst = await c.make(await import('tollgate'));
  await settle();
  const before = memory();
  const timersBefore = clock.pending;
  const t0 = process.hrtime.bigint();
  const promises = new Array(N);
  for (let i = 0; i < N; i++) promises[i] = c.wait(inst, i);
  const enqueueMs = ms(t0);
  await settle();
  const r = { added: memory() - before, timers: clock.pending - timersBefore, enqueueMs };
  if (name === 'tollgate') { // admitted in priority-then-FIFO order? Run the clock until all are in.
    const order = [];
    promises.forEach((p, i) => p.then(() => order.push(i)));
    r.fired = 0;
    while (order.length < N && clock.next()) { r.fired++; await drain(); }
    const expected = [...Array(N).keys()].sort((a, b) => priorityOf(b) - priorityOf(a) || a - b);
    r.admitted = order.length;
    r.inOrder = order.length === N && order.every((x, k) => x === expected[k]);
  }
  return r;
}

// Aborting every other waiter, each with its own AbortController, as a caller that may give up
// would. `node`: the same controllers, each with an abort listener and a pending promise, no limiter.
async function abort(kind) {
  const { Limiter } = await import('tollgate');
  const lim = kind === 'tollgate' ? new Limiter({ windows: twoWindows(), clock: tgClock }) : undefined;
  while (lim?.tryAcquire().ok);
  const makeWaiter = lim ? (i, signal) => lim.acquire({ priority: priorityOf(i), signal })
    : (i, signal) => new Promise((resolve, reject) => signal.addEventListener('abort', () => reject(signal.reason), { once: true }));
  await settle();
  const before = memory();
  const ctl = new Array(N);
  const ps = new Array(N);
  for (let i = 0; i < N; i++) {
    ctl[i] = new AbortController();
    ps[i] = makeWaiter(i, ctl[i].signal);
    ps[i].catch(() => {});
  }
  await settle();
  const added = memory() - before;
  const t0 = process.hrtime.bigint();
  for (let i = 1; i < N; i += 2) ctl[i].abort();
  const abortMs = ms(t0);
  await settle();
  const settledMs = ms(t0);
  for (let i = 1; i < N; i += 2) { ctl[i] = undefined; ps[i] = undefined; }
  const freed = added - (memory() - before);
  return { added, abortMs, settledMs, freed, waiting: lim?.waiting, timers: clock.pending };
}

// 10,000 keys, one call each, then two days idle (longer than any window) and one more call.
const SCOPES = {
  tollgate: async () => {
    const { rateLimitedFetch } = await import('tollgate');
    const limited = rateLimitedFetch(async () => new Response('ok'), { clock: tgClock, routes: [{ name: 'hex run', method: 'POST', url: '/api/v1/run/:id', windows: [{ limit: 20, per: '1m' }, { limit: 60, per: '1h' }], key: (r) => r.headers.get('authorization') }] });
    return { call: async (key) => (await until(limited('https://hex.example/api/v1/run/p', { method: 'POST', headers: { authorization: `Bearer ${key}` } }))).text(), held: () => limited.scopes().length };
  },
  'rate-limiter-flexible': async () => {
    const rl = new (await import('rate-limiter-flexible')).default.RateLimiterMemory({ points: 20, duration: 60 });
    return { call: (key) => until(rl.consume(key)), held: () => rl._memoryStorage._storage.size };
  },
  bottleneck: async () => { // minTime, not a reservoir: a reservoir arms a 250 ms heartbeat per key
    const group = new (await import('bottleneck')).default.Group({ minTime: 3000 });
    return { call: (key) => until(group.key(key).schedule(async () => 1)), held: () => group.keys().length };
  },
};

async function scopes(name) {
  const s = await SCOPES[name]();
  await s.call('warm');
  await settle();
  const before = memory();
  for (let k = 0; k < KEYS; k++) await s.call(`token-${k}`);
  await settle();
  const perKey = (memory() - before) / KEYS;
  const timers = clock.pending;
  await idle(2 * 86_400_000);
  await s.call('late');
  return { perKey, timers, held: s.held() - 2 }; // minus 'warm' and 'late'
}

if (part) {
  const r = await { waiters, abort, scopes }[part](who);
  clock.seal();
  process.stdout.write(`${JSON.stringify(r)}\n`);
  process.exit(0); // the peers' parked work keeps nothing running
}

const self = fileURLToPath(import.meta.url);
function child(...args) {
  log(`scale ${args.join(' ')}`);
  const r = spawnSync(process.execPath, ['--expose-gc', self, ...args], { encoding: 'utf8', maxBuffer: 1 << 20 });
  if (r.status !== 0) throw new Error(`scale ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').at(-1));
}

header('Scale: 100,000 waiters on one limiter; 10,000 scopes on one wrapper');
const w = Object.fromEntries(Object.keys(WAITERS).map((name) => [name, child('waiters', name)]));
const t = w.tollgate;
out(`Each limiter's capacity used up, then ${fmt(N)} calls that must wait (tollgate: 2 windows, priorities 0–4 scattered; peers: FIFO). ` +
  'Memory added: after gc, with the returned promises held. Target: ≤ 64 MB and exactly 1 pending timer.\n');
out(table(['limiter', 'memory added', 'bytes/waiter', 'vs tollgate', 'pending timers', 'enqueue ms'],
  Object.entries(w).map(([name, r]) => [name, mb(r.added), fmt(r.added / N), name === 'tollgate' ? '1.00×' : ratio(r.added, t.added), fmt(r.timers), fmt(r.enqueueMs)])));
out(`\ntollgate: memory ${target('100,000 waiters: memory added ≤ 64 MB', mb(t.added), t.added <= 64 * 2 ** 20)} (≤ 64 MB), ` +
  `timers ${target('100,000 waiters: exactly 1 pending timer', fmt(t.timers), t.timers === 1)} (1); ` +
  `order ${target('100,000 waiters: admitted in priority-then-FIFO order', `${fmt(t.admitted)} admitted`, t.inOrder)}: ` +
  `${fmt(t.admitted)} admitted in ${fmt(t.fired)} timer firings, ${t.inOrder ? '' : 'NOT '}in priority-then-FIFO order.\n`);

const node = child('abort', 'node');
const tg = child('abort', 'tollgate');
const each = (x) => `${fmt(x.abortMs)} ms (${fmt((x.abortMs * 1e3) / (N / 2), 1)} µs each)`;
out(table([`${fmt(N)} waiters, an AbortController each; abort every other one`, 'Node alone (controller + listener + promise)', 'tollgate (controller + waiter)', 'tollgate\'s share'], [
  ['memory added', mb(node.added), mb(tg.added), mb(tg.added - node.added)],
  ['`abort()` × 50,000', each(node), each(tg), `${fmt(((tg.abortMs - node.abortMs) * 1e3) / (N / 2), 1)} µs each`],
  ['… until the rejections settled', `${fmt(node.settledMs)} ms`, `${fmt(tg.settledMs)} ms`, '—'],
  ['memory freed (after gc)', `${mb(node.freed)} (${fmt((100 * node.freed) / node.added)}%)`, `${mb(tg.freed)} (${fmt((100 * tg.freed) / tg.added)}%)`, mb(tg.freed - node.freed)],
  ['waiting, pending timers after', '—', `${fmt(tg.waiting)}, ${fmt(tg.timers)} (${passFail(tg.timers === 1)})`, '—'],
]));
out();

const s = Object.fromEntries(Object.keys(SCOPES).map((name) => [name, child('scopes', name)]));
out(`${fmt(KEYS)} keys, one call each (tollgate: Hex's route through one \`rateLimitedFetch\`, a stub fetch; rate-limiter-flexible: one \`RateLimiterMemory\`; bottleneck: one \`Group\`), then 48 h idle and a call with a new key. ` +
  'p-throttle, p-queue, limiter and the seed have no keyed scopes.\n');
out(table(['scopes', 'bytes per idle key', 'vs tollgate', 'pending timers', 'idle keys still held', 'evicted (tollgate: target)'], Object.entries(s).map(([name, r]) =>
  [name, fmt(r.perKey), name === 'tollgate' ? '1.00×' : ratio(r.perKey, s.tollgate.perKey), fmt(r.timers), fmt(Math.max(0, r.held)),
    name === 'tollgate' ? target('10,000 idle scopes evicted', `${fmt(Math.max(0, r.held))} of ${fmt(KEYS)} still held after 48 h idle`, r.held <= 0) : r.held <= 0 ? 'yes' : 'no'])));
out();
