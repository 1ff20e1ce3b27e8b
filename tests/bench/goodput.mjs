// Quota fidelity ("goodput"): how much of a two-window quota each limiter gets accepted, and how
// many 429s it draws, in virtual time.
//
// One discrete-event simulation per (policy, latency, limiter, seed). virtual-time.mjs fakes Date,
// performance and the global timers as @sinonjs/fake-timers' install() does (but with a heap: see
// there why), so every peer's Date.now/performance.now/setTimeout is virtual; tollgate gets the
// same clock through its `clock` option. The loop fires one timer at a time and drains microtasks
// and immediates (a real setImmediate) in between, as Node's event loop would.
//
// The client has a backlog of 3x what the quota allows over the run and hands all of it to its
// limiter at once; each admitted request travels to the server in U[0, J] ms (integer ms), is
// judged there at arrival, and its response comes back after another U[0, J]. tollgate counts in
// flight (`countInFlight: true`) and completes each permit when the response arrives. Refused
// requests are not retried (each job is one attempt), except by the seed's limiter, whose own
// retry loop is what moves its queue (see seed-limiter.mjs).
//
// Requests are counted by their arrival time at the server within [START, START + T): T is three
// periods of the longest window and START is 00:00 UTC, so calendar buckets line up with the run.
import Bottleneck from 'bottleneck';
import { TokenBucket } from 'limiter';
import PQueue from 'p-queue';
import pThrottle from 'p-throttle';
import rlf from 'rate-limiter-flexible';
import { Limiter } from 'tollgate';
import { Quota, fixedBuckets, slidingLog } from '../servers/index.mjs';
import { HexRateLimiter, hexRunWithRetry } from './seed-limiter.mjs';
import { drain, installVirtualTime } from './virtual-time.mjs';
import { fmt, header, log, median, out, table, target } from './lib.mjs';

const { RateLimiterMemory, RateLimiterQueue } = rlf;
const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;
const START = Date.UTC(2026, 0, 5); // 00:00 UTC
const JITTERS = [0, 50, 500];
const SEEDS = [1, 2, 3]; // J = 0 is deterministic: one run
const BACKLOG_FACTOR = 3;

// windows: [short, long], as each API declares them.
const POLICIES = [
  { name: 'Hex', windows: [{ limit: 20, per: MIN, kind: 'sliding' }, { limit: 60, per: HOUR, kind: 'sliding' }] },
  { name: 'Hexagraph', windows: [{ limit: 30, per: MIN, kind: 'sliding' }, { limit: 1000, per: DAY, kind: 'sliding' }] },
  { name: 'SecureCodingHub', windows: [{ limit: 60, per: MIN, kind: 'fixed' }, { limit: 1000, per: HOUR, kind: 'sliding' }] },
];
// The "sliding log" server is each API's declared mix (for SCH: fixed minute + sliding hour);
// the "fixed buckets" server counts every window in calendar (epoch-aligned) buckets.
const SERVERS = [
  { name: 'sliding log', kind: (w) => w.kind },
  { name: 'fixed buckets', kind: () => 'fixed' },
];

/**
 * The most any client can get accepted in [START, START + T) without a single refusal, when T is
 * a multiple of every period and START is aligned to all of them: min over windows of
 * limit x T / per. Upper bound: split the run into T/per disjoint intervals of one period; under
 * a sliding log and under aligned fixed buckets alike each holds at most `limit` accepted
 * requests. Reached by: at the start of each long period, send bursts of `short.limit` at the
 * start of consecutive short periods until `long.limit` are sent (latency only shifts each burst
 * by at most J, which the ample idle time absorbs). Hex over 3 h: min(20 x 180, 60 x 3) = 180.
 */
function maxAccepted({ windows: [short, long] }, T) {
  if (long.limit > short.limit * (long.per / short.per)) throw new Error('short window binds: derive the bound again');
  return Math.min(...[short, long].map((w) => (w.limit * T) / w.per));
}

function mulberry32(seed) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// Each client: how it is configured (printed) and how it takes the backlog.
const CLIENTS = [
  {
    name: 'tollgate', how: '`new Limiter({ windows, clock, countInFlight: true })` with the declared window kinds; `await acquire()`, `permit.complete()` when the response arrives',
    start({ windows, backlog, send, job, clock }) {
      const lim = new Limiter({
        windows: windows.map((w) => ({ limit: w.limit, per: w.per, kind: w.kind })), countInFlight: true,
        clock: { now: () => clock.now, setTimeout: (f, ms) => clock.setTimeout(f, ms), clearTimeout: (h) => clock.clearTimeout(h) },
      });
      for (let i = 0; i < backlog; i++) job(async () => { const p = await lim.acquire(); try { return await send(); } finally { p.complete(); } });
    },
  },
  {
    name: 'p-throttle', how: 'two `pThrottle({ limit, interval, strict: true })`, nested `long(short(send))` (longest window waited first)',
    start({ windows: [s, l], backlog, send, job }) {
      const f = pThrottle({ limit: l.limit, interval: l.per, strict: true })(pThrottle({ limit: s.limit, interval: s.per, strict: true })(send));
      for (let i = 0; i < backlog; i++) job(() => f());
    },
  },
  {
    name: 'rate-limiter-flexible', how: 'a `RateLimiterQueue` over a `RateLimiterMemory({ points, duration })` per window; `await long.removeTokens(1)` then `await short.removeTokens(1)`',
    start({ windows: [s, l], backlog, send, job }) {
      const q = (w) => new RateLimiterQueue(new RateLimiterMemory({ points: w.limit, duration: w.per / 1000 }));
      const [sq, lq] = [q(s), q(l)];
      for (let i = 0; i < backlog; i++) job(async () => { await lq.removeTokens(1); await sq.removeTokens(1); return send(); });
    },
  },
  {
    name: 'bottleneck', how: 'a limiter per window with `reservoir` = `reservoirRefreshAmount` = limit and `reservoirRefreshInterval` = period, chained `long.chain(short)`; the short one also has `minTime` = period / limit, as its README advises',
    start({ windows: [s, l], backlog, send, job }) {
      const long = new Bottleneck({ reservoir: l.limit, reservoirRefreshAmount: l.limit, reservoirRefreshInterval: l.per });
      const short = new Bottleneck({ reservoir: s.limit, reservoirRefreshAmount: s.limit, reservoirRefreshInterval: s.per, minTime: Math.ceil(s.per / s.limit) });
      long.chain(short);
      for (let i = 0; i < backlog; i++) job(() => long.schedule(send));
    },
  },
  {
    name: 'p-queue (strict)', how: 'a `PQueue({ intervalCap, interval, strict: true })` per window (strict = sliding, as its FAQ advises for strict APIs), nested `long.add(() => short.add(send))`',
    start({ windows: [s, l], backlog, send, job }) {
      const long = new PQueue({ intervalCap: l.limit, interval: l.per, strict: true });
      const short = new PQueue({ intervalCap: s.limit, interval: s.per, strict: true });
      for (let i = 0; i < backlog; i++) job(() => long.add(() => short.add(send)));
    },
  },
  {
    name: 'p-queue (default)', how: 'the same without `strict`: fixed intervals that start when the queue does (its default)',
    start({ windows: [s, l], backlog, send, job }) {
      const long = new PQueue({ intervalCap: l.limit, interval: l.per });
      const short = new PQueue({ intervalCap: s.limit, interval: s.per });
      for (let i = 0; i < backlog; i++) job(() => long.add(() => short.add(send)));
    },
  },
  {
    name: 'limiter', how: 'hierarchical `TokenBucket`s (its README\'s advice for two budgets): the short window\'s bucket with the long one as `parentBucket`, both filled at start; `await short.removeTokens(1)`',
    start({ windows: [s, l], backlog, send, job }) {
      const long = new TokenBucket({ bucketSize: l.limit, tokensPerInterval: l.limit, interval: l.per });
      const short = new TokenBucket({ bucketSize: s.limit, tokensPerInterval: s.limit, interval: s.per, parentBucket: long });
      long.content = l.limit;
      short.content = s.limit;
      for (let i = 0; i < backlog; i++) job(async () => { await short.removeTokens(1); return send(); });
    },
  },
  {
    name: 'seed (as written)', live: true, how: 'seed-limiter.mjs: the seed\'s `HexRateLimiter` (two full token buckets) with its limits as parameters, every job through the seed\'s `hexRunWithRetry` (429: sleep 30 s x 2^n + 0-5 s, then `acquire()` again; 4 attempts). Its queue moves only when someone calls `acquire()`',
    start({ windows: [s, l], backlog, send, job, random }) {
      const lim = new HexRateLimiter({ minuteLimit: s.limit, minuteMs: s.per, hourLimit: l.limit, hourMs: l.per });
      for (let i = 0; i < backlog; i++) job(() => hexRunWithRetry(lim, send, 3, random));
    },
  },
  {
    name: 'seed + refill() every 1 s', live: true, how: 'the same, plus the benchmark calls the limiter\'s private `refill()` every second (not in the seed\'s code) so its queue cannot stall: this isolates the token-bucket error',
    start(ctx) {
      const lim = new HexRateLimiter({ minuteLimit: ctx.windows[0].limit, minuteMs: ctx.windows[0].per, hourLimit: ctx.windows[1].limit, hourMs: ctx.windows[1].per });
      setInterval(() => lim.refill(), 1000);
      for (let i = 0; i < ctx.backlog; i++) ctx.job(() => hexRunWithRetry(lim, ctx.send, 3, ctx.random));
    },
  },
];

async function simulate(client, policy, J, servers, seed) {
  const clock = installVirtualTime(START);
  try {
    const random = mulberry32(seed * 7919 + J);
    const T = 3 * policy.windows[1].per;
    const end = START + T;
    const backlog = BACKLOG_FACTOR * maxAccepted(policy, T);
    const quotas = servers.map((sv) => new Quota(Object.fromEntries(policy.windows.map((w, i) => [i, () => (sv.kind(w) === 'fixed' ? fixedBuckets(w.limit, w.per) : slidingLog(w.limit, w.per))]))));
    const counts = servers.map(() => ({ accepted: 0, refused: 0 }));
    const latency = () => Math.floor(random() * (J + 1));
    const send = () => new Promise((resolve) => {
      setTimeout(() => {
        const t = Date.now();
        const verdicts = quotas.map((q) => q.take('client', t).ok);
        if (t < end) verdicts.forEach((ok, i) => { counts[i][ok ? 'accepted' : 'refused']++; });
        setTimeout(() => resolve(verdicts[0] ? { ok: true, status: 200 } : { ok: false, status: 429 }), latency());
      }, latency());
    });
    let finished = 0;
    const job = (f) => { Promise.resolve().then(f).then(() => finished++, () => finished++); };
    client.start({ windows: policy.windows, backlog, send, job, clock, random });
    let stalledAt;
    for (;;) {
      await drain();
      if (!clock.next()) { if (finished < backlog) stalledAt = clock.now; break; }
      if (clock.now >= end) break;
    }
    return { counts, stalledAt, waiting: backlog - finished, max: maxAccepted(policy, T) };
  } finally {
    // Park this run's leftover work (it would run on in real time, or in the next run's clock).
    clock.seal();
    for (let i = 0; i < 3; i++) await drain();
    clock.uninstall();
  }
}

const dur = (ms) => { if (ms < MIN) return `${Math.round(ms / 1000)} s`; const m = Math.round(ms / MIN); return m >= 60 ? `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m` : `${m}m`; };

header('Quota fidelity ("goodput"), virtual time');
out(`Backlog ${BACKLOG_FACTOR}x the quota, handed to the limiter at once; one-way latency U[0, J] ms each way; run over 3 periods of the longest window from 00:00 UTC. ` +
  `Cell: accepted / refused (429) / accepted as % of the most a client can get accepted with zero refusals. J > 0: median of ${SEEDS.length} seeds (tollgate's PASS needs every seed). ` +
  '"vs tollgate": all its accepted requests in the table over tollgate\'s.\n');
const footnotes = [];
const started = Date.now();
for (const policy of POLICIES) {
  const T = 3 * policy.windows[1].per;
  const max = maxAccepted(policy, T);
  const rows = [];
  let tollgateTotal;
  for (const client of CLIENTS) {
    const t0 = Date.now();
    const cells = {}; // `${server}|${J}` -> [{ accepted, refused, stalledAt, waiting }]
    for (const J of JITTERS) {
      for (const seed of J === 0 ? [1] : SEEDS) {
        // Clients that do not read responses see the same arrivals on both servers: one run judges
        // them against both. The seed's retry loop reads them: one run per server.
        const groups = client.live ? SERVERS.map((sv) => [sv]) : [SERVERS];
        for (const servers of groups) {
          const r = await simulate(client, policy, J, servers, seed);
          servers.forEach((sv, i) => { (cells[`${sv.name}|${J}`] ??= []).push({ ...r.counts[i], stalledAt: r.stalledAt, waiting: r.waiting }); });
        }
      }
    }
    let pass = true;
    const stallsOf = [];
    let total = 0;
    let refusedTotal = 0;
    const row = [client.name];
    for (const sv of SERVERS) {
      for (const J of JITTERS) {
        const runs = cells[`${sv.name}|${J}`];
        const acc = median(runs.map((x) => x.accepted));
        const ref = median(runs.map((x) => x.refused));
        pass &&= runs.every((x) => x.refused === 0 && x.accepted >= 0.99 * max);
        total += acc;
        refusedTotal += ref;
        const stalls = runs.filter((x) => x.stalledAt !== undefined);
        for (const x of stalls) stallsOf.push(`${dur(x.stalledAt - START)} with ${fmt(x.waiting)} jobs queued`);
        const stall = stalls.length > 0;
        row.push(`${fmt(acc)} / ${fmt(ref)} / ${((100 * acc) / max).toFixed(1)}%${stall ? ' ⊘' : ''}`);
      }
    }
    if (stallsOf.length) footnotes.push(`${policy.name}, ${client.name}: ${stallsOf.length} of ${Object.values(cells).reduce((n, r) => n + r.length, 0)} runs stalled, at ${[...new Set(stallsOf)].join('; ')}`);
    if (client.name === 'tollgate') tollgateTotal = total;
    const verdict = client.name === 'tollgate'
      ? target(`goodput, ${policy.name}: 0 refusals and ≥ 99% in every cell`, `${fmt(refusedTotal)} refusals; lowest cell ${Math.min(...Object.values(cells).flat().map((x) => (100 * x.accepted) / max)).toFixed(1)}%`, pass)
      : '—';
    row.push(client.name === 'tollgate' ? '1.00×' : `${(total / tollgateTotal).toFixed(2)}×`, fmt(refusedTotal), verdict);
    rows.push(row);
    log(`${policy.name} ${client.name}: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  }
  const w = policy.windows.map((x) => `${fmt(x.limit)}/${x.kind === 'fixed' ? 'fixed ' : ''}${x.per === MIN ? 'min' : x.per === HOUR ? 'h' : 'day'}`).join(' AND ');
  out(`### ${policy.name}: ${w}, over ${dur(T)} (max ${fmt(max)})\n`);
  out(table(['limiter', ...SERVERS.flatMap((sv) => JITTERS.map((J) => `${sv.name}, J=${J}`)), 'vs tollgate', '429s (sum)', 'target: 0 × 429, ≥ 99%'], rows));
  out();
}
out('How each limiter is configured for a two-window quota:\n');
for (const c of CLIENTS) out(`- **${c.name}**: ${c.how}.`);
out('- rate-limiter-flexible and p-queue (both modes) admit the same schedule under a saturating backlog (bursts of `limit` at the start of each period, since the first request opens every window), hence the same figures.');
out('- None of the peers can align a window to calendar minutes, so for SecureCodingHub\'s fixed minute each uses its own kind of minute window (tollgate uses `kind: \'fixed\'`).');
if (footnotes.length) {
  out('\n⊘ The run stalled: no timer was left and jobs were still queued (the seed releases waiters only inside `acquire()`); the cell counts what was accepted before that.\n');
  for (const f of footnotes) out(`- ${f}`);
}
out(`\n(goodput: ${((Date.now() - started) / 1000).toFixed(0)} s of wall time)\n`);
