// Shared limiters on one redis-server (started here, on a free port, no
// persistence): decisions per second and latency (p50, p99) with 1, 4 and 16
// concurrent callers in one process on one connection, for tollgate's
// `Limiter.shared` + `redisStore` (one FCALL of its Lua functions library per
// decision, or per batch of decisions made together), bottleneck's
// clustering (ioredis datastore) and rate-limiter-flexible's RateLimiterRedis,
// each on a quota of 100 per second it mostly refuses (as a busy shared quota does).
import { performance } from 'node:perf_hooks';
import Bottleneck from 'bottleneck';
import Redis from 'ioredis';
import { RateLimiterRedis } from 'rate-limiter-flexible';
import { Limiter, redisStore } from 'tollgate';
import { startRedis } from '../shared/redis-server.mjs';
import { fmt, header, log, median, out, table, target } from './lib.mjs';
import { goodputNote, goodputRows } from './shared-goodput.mjs';

const RUN_MS = Number(process.env.TOLLGATE_BENCH_SHARED_MS ?? 1_000);
const CONCURRENCY = [1, 4, 16];
const ROUNDS = Number(process.env.TOLLGATE_BENCH_SHARED_ROUNDS ?? 5);
const WARM_MS = 300;

function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
}

/** `callers` loops each deciding as fast as they can for RUN_MS; decisions/s and latencies (ms). */
async function measure(decide, callers, ms = RUN_MS) {
  const lat = [];
  const end = performance.now() + ms;
  await Promise.all(Array.from({ length: callers }, async () => {
    while (performance.now() < end) {
      const t0 = performance.now();
      await decide();
      lat.push(performance.now() - t0);
    }
  }));
  lat.sort((a, b) => a - b);
  return { perSecond: lat.length / (ms / 1000), p50: percentile(lat, 0.5), p99: percentile(lat, 0.99) };
}

header('Shared quota on Redis: decisions per second and latency');
const redis = await startRedis();
const peers = [];
try {
  const client = new Redis(redis.port, '127.0.0.1');
  const tg = Limiter.shared({ name: 'bench', windows: [{ limit: 100, per: '1s' }], store: redisStore(client) });
  const rlf = new RateLimiterRedis({ storeClient: client, points: 100, duration: 1, keyPrefix: 'bench-rlf' });
  const bn = new Bottleneck({
    id: 'bench-bottleneck', datastore: 'ioredis', clearDatastore: true, clientOptions: { host: '127.0.0.1', port: redis.port },
    reservoir: 100, reservoirRefreshAmount: 100, reservoirRefreshInterval: 1_000,
  });
  await bn.ready();
  peers.push(() => tg.close(), () => bn.disconnect(), () => client.disconnect());
  const contenders = [
    ['tollgate `Limiter.shared` (redisStore, ioredis)', async () => { await tg.tryAcquire(); }],
    ['rate-limiter-flexible `RateLimiterRedis.consume`', () => rlf.consume('k').catch(() => {})],
    // bottleneck decides through its Redis scripts (`check` asks whether a job would run now).
    ['bottleneck clustering `check` (ioredis datastore)', () => bn.check()],
  ];
  const rows = [];
  const results = {};
  // ROUNDS rounds, each running every cell once (the limiters interleaved, so
  // a load spike of the machine falls on all of them, in turn first); the median of each cell.
  const runs = {};
  let fcalls = 0; // how tollgate's decisions ran: FCALL (functions, Redis 7+), or EVALSHA
  for (let round = 0; round < ROUNDS; round++) {
    for (const c of CONCURRENCY) {
      // Each round starts with another limiter (one that leaves work behind,
      // as bottleneck's clustering may, weighs on each in turn).
      for (const [name, decide] of contenders.map((_, i) => contenders[(i + round) % contenders.length])) {
        log(`round ${round + 1}/${ROUNDS}: ${name}, ${c} concurrent`);
        await measure(decide, c, WARM_MS); // warm-up (JIT, scripts loaded), discarded
        await client.config('RESETSTAT');
        const r = await measure(decide, c);
        // Redis's own time per decision (every command of the run, INFO commandstats): the scripts' cost.
        const stats = await client.info('commandstats');
        const usec = [...stats.matchAll(/usec=(\d+),/g)].reduce((sum, m) => sum + Number(m[1]), 0);
        if (name === contenders[0][0]) fcalls += Number(/cmdstat_fcall:calls=(\d+)/.exec(stats)?.[1] ?? 0);
        r.redisUs = usec / (r.perSecond * (RUN_MS / 1000));
        (runs[`${name}/${c}`] ??= []).push(r);
      }
    }
  }
  const version = /redis_version:(\S+)/.exec(await client.info('server'))?.[1];
  for (const [name] of contenders) {
    for (const c of CONCURRENCY) {
      const cell = runs[`${name}/${c}`];
      const r = {
        perSecond: median(cell.map((x) => x.perSecond)), p50: median(cell.map((x) => x.p50)), p99: median(cell.map((x) => x.p99)),
        redisUs: median(cell.map((x) => x.redisUs)),
      };
      results[`${name}/${c}`] = r;
      rows.push([name, c, fmt(r.perSecond), fmt(r.p50, 3), fmt(r.p99, 3), fmt(r.redisUs, 1)]);
    }
  }
  out(table(['limiter', 'concurrent callers', 'decisions/s', 'p50 ms', 'p99 ms', 'Redis µs per decision'], rows));
  out();
  out(`Each cell: the median of ${ROUNDS} rounds of ${RUN_MS} ms of callers deciding back to back on one ioredis connection ` +
    'to a local redis-server (no persistence), the limiters interleaved in each round; same server, same run. tollgate checks ' +
    `and charges the exact sliding log in one call of its Lua functions library (${fcalls > 0 ? 'FCALL' : 'not used: EVALSHA'}, ` +
    `redis-server ${version}), and sends the calls made while one of its calls is under way together. ` +
    '"Redis µs per decision": the time redis-server spent in commands (INFO commandstats) over the decisions made.');
  out();
  const ours = results[`${contenders[0][0]}/16`];
  const bestPeer = Math.max(results[`${contenders[1][0]}/16`].perSecond, results[`${contenders[2][0]}/16`].perSecond);
  target('shared decisions/s at 16 callers ≥ the faster peer, p99 ≤ 2 ms',
    `${fmt(ours.perSecond)}/s vs ${fmt(bestPeer)}/s; p99 ${fmt(ours.p99, 2)} ms`, ours.perSecond >= bestPeer && ours.p99 <= 2);
  for (const c of CONCURRENCY.filter((x) => x !== 16)) {
    const mine = results[`${contenders[0][0]}/${c}`];
    const peer = Math.max(results[`${contenders[1][0]}/${c}`].perSecond, results[`${contenders[2][0]}/${c}`].perSecond);
    target(`shared decisions/s at ${c} caller${c > 1 ? 's' : ''} ≥ the faster peer, p99 ≤ 2 ms`,
      `${fmt(mine.perSecond)}/s vs ${fmt(peer)}/s; p99 ${fmt(mine.p99, 2)} ms`, mine.perSecond >= peer && mine.p99 <= 2);
  }
  for (const stop of peers.splice(0)) await stop();

  out('## Shared quota on Redis: goodput of 4 processes against the quota servers\n');
  const gp = await goodputRows(redis.port);
  out(table(['API', 'limiter', 'accepted', 'refused (429)', '% of ideal'],
    gp.map((r) => [r.api, r.label, fmt(r.accepted), fmt(r.refused), `${r.pct.toFixed(1)}%`])));
  out();
  out(`${goodputNote} "% of ideal": accepted within the run over what a client sending at the server's exact earliest ` +
    'times gets in the same time from the same start (the server\'s quota model replayed). Refused: every 429 the server answered.');
  out();
  for (const r of gp.filter((x) => x.contender === 'tollgate')) {
    target(`shared goodput, ${r.api}: 0 refusals at ≥ 99% of the ideal`,
      `${r.refused} refused, ${r.pct.toFixed(1)}% of ideal`, r.refused === 0 && r.pct >= 99);
  }
} finally {
  for (const stop of peers) await stop();
  await redis.stop();
}
