// Goodput of a shared quota: 4 real child processes (shared-goodput-worker.mjs)
// share one API token's quota through one redis-server and send a backlog to
// the strict test server of that API, which counts accepted and refused
// requests itself: the Hex server (20 per sliding minute AND 60 per sliding
// hour) and the SecureCodingHub server (60 per fixed calendar minute AND 1,000
// per sliding hour). tollgate, bottleneck's clustering and rate-limiter-
// flexible's RateLimiterRedis each get their own token (the servers count per
// token) and run at the same time, each set up as its docs advise (see the
// worker). The servers' clocks run SPEED times faster than real time, and the
// clients' windows are divided by SPEED alike, so 62 minutes of quota time
// (an hour boundary included) take 62 s; the server's calendar minutes fall
// on real seconds, where a client's fixed 1 s windows fall too.
// "% of ideal" divides the accepted requests by what a perfect client sending
// at exactly the server's earliest times would get from the same start in
// the same time (the server's own quota model, replayed).
import { fileURLToPath } from 'node:url';
import { acceleratedClock } from '../servers/clock.mjs';
import { startHexServer } from '../servers/hex.mjs';
import { startSecureCodingHubServer } from '../servers/securecodinghub.mjs';
import { Quota, fixedBuckets, slidingLog } from '../servers/quota.mjs';
import { startWorker } from '../shared/workers.mjs';
import { fmt, log } from './lib.mjs';

const SPEED = 60;
const RUN_MS = Number(process.env.TOLLGATE_BENCH_GOODPUT_MS ?? 62_000);
// Other parameters for a manual run: TOLLGATE_BENCH_GOODPUT_PROCESSES and _CALLERS.
const PROCESSES = Number(process.env.TOLLGATE_BENCH_GOODPUT_PROCESSES ?? 4);
const CALLERS = Number(process.env.TOLLGATE_BENCH_GOODPUT_CALLERS ?? 4); // concurrent calls in each process
for (const [name, n] of [['PROCESSES', PROCESSES], ['CALLERS', CALLERS]]) {
  if (!Number.isInteger(n) || n < 1 || n > 64) throw new RangeError(`TOLLGATE_BENCH_GOODPUT_${name} must be a whole number from 1 to 64; got ${n}`);
}
const WORKER = fileURLToPath(new URL('./shared-goodput-worker.mjs', import.meta.url));
export const CONTENDERS = [
  ['tollgate', 'tollgate `rateLimitedFetch` + preset with `store: redisStore(ioredis)`'],
  ['bottleneck', 'bottleneck clustering (ioredis datastore), reservoir per window, chained, heartbeat 250 ms'],
  ['rlf', 'rate-limiter-flexible `RateLimiterUnion` of two `RateLimiterRedis`, wait `msBeforeNext`'],
];
const APIS = {
  hex: { name: 'Hex (20/min AND 60/h, sliding)', start: startHexServer, quota: () => ({ minute: () => slidingLog(20, 60_000), hour: () => slidingLog(60, 3_600_000) }) },
  sch: { name: 'SecureCodingHub (60 per calendar minute AND 1,000 per sliding hour)', start: startSecureCodingHubServer, quota: () => ({ m: () => fixedBuckets(60, 60_000), h: () => slidingLog(1000, 3_600_000) }) },
};

/** What a client sending at the server's exact earliest times gets in [from, to]. */
function ideal(quotaSpec, from, to) {
  const q = new Quota(quotaSpec);
  let n = 0;
  for (let t = from; t < to;) {
    const d = q.take('ideal', t);
    if (d.ok) n++;
    else t = d.retryAtMs;
  }
  return n;
}

/**
 * For each limiter in turn, its 4 processes on each API (both APIs at once,
 * each on its own server and token); a row per API and limiter.
 */
export async function goodputRows(redisPort) {
  // Server time = SPEED x real time since the epoch: its calendar minutes start on real seconds.
  const now = Date.now();
  const clock = acceleratedClock({ startMs: now * SPEED, speed: SPEED });
  const servers = {};
  for (const [name, api] of Object.entries(APIS)) servers[name] = await api.start({ clock });
  const rows = [];
  try {
    for (const [contender, label] of CONTENDERS.filter(([c]) => !process.env.TOLLGATE_BENCH_GOODPUT_ONLY || c === process.env.TOLLGATE_BENCH_GOODPUT_ONLY)) {
      const workers = [];
      try {
        for (const apiName of Object.keys(APIS)) {
          for (let p = 0; p < PROCESSES; p++) {
            workers.push(startWorker({
              scriptPath: WORKER, contender, api: apiName, url: servers[apiName].url, token: `tok-${contender}`, redisPort,
              speed: SPEED, runMs: RUN_MS, callers: CALLERS, id: `goodput-${apiName}-${contender}-${now}`,
            }));
          }
        }
        await Promise.all(workers.map((w) => w.next((m) => m.event === 'ready', 60_000)));
        log(`${contender}: ${workers.length} processes ready; running ${RUN_MS / 1000} s`);
        // Go just after a calendar minute of the servers begins (a real second
        // here), so that no limiter starts in a minute mostly gone.
        await new Promise((resolve) => setTimeout(resolve, 1_000 - ((clock.now() / SPEED) % 1_000) + 5));
        const from = clock.now();
        for (const w of workers) w.go();
        const reports = await Promise.all(workers.map((w) => w.next((m) => m.event === 'done' || m.event === 'error', RUN_MS + 60_000)));
        for (const r of reports) if (r.errors || r.event === 'error') log(`${contender}: a process reported ${r.errors ?? 1} errors: ${r.error ?? r.message}`);
        // The run's quota time ends on a calendar minute: a perfect client would
        // send a whole minute's worth in the last few real ms of a partial one.
        const to = Math.floor((from + RUN_MS * SPEED) / 60_000) * 60_000;
        for (const [apiName, api] of Object.entries(APIS)) {
          const mine = servers[apiName].log.filter((e) => e.key === `tok-${contender}`);
          // Accepted within the run's time (a call in flight at its end may land just after).
      const accepted = mine.filter((e) => e.status >= 200 && e.status < 300 && e.at < to).length;
          const refused = mine.filter((e) => e.status === 429).length;
          if (process.env.TOLLGATE_BENCH_GOODPUT_DEBUG) {
            const per = new Map();
            for (const e of mine) { const m = Math.floor(e.at / 60_000); per.set(m, (per.get(m) ?? 0) + 1); }
            log(`${contender} ${apiName}: per minute ${[...per.values()].join(' ')}; first at +${mine[0] && mine[0].at - from} ms`);
          }
          const best = ideal(api.quota(), from, to);
          rows.push({ api: api.name, contender, label, accepted, refused, ideal: best, pct: (100 * accepted) / best });
        }
      } finally {
        for (const w of workers) w.kill();
      }
    }
  } finally {
    for (const server of Object.values(servers)) await server.close();
  }
  return rows;
}

export const goodputNote = `${PROCESSES} processes per limiter, ${CALLERS} concurrent calls each, one limiter at a time ` +
  `(own token each; Hex and SecureCodingHub at once, each on its own server) against one test server whose clock runs ${SPEED}× real time (windows divided by ${SPEED} on the clients), ` +
  `${fmt(RUN_MS / 1000)} s = ${fmt((RUN_MS * SPEED) / 60_000)} quota minutes.`;
