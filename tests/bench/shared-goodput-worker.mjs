// One of the 4 processes of tests/bench/shared-goodput.mjs: sends a backlog
// to a quota test server (Hex or SecureCodingHub, its clock accelerated
// `speed` times) for `runMs` of real time, through one of three limiters
// sharing the quota in Redis, each set up as its docs advise:
//   tollgate:    rateLimitedFetch(fetch, presets.hex|secureCodingHub({ store: redisStore(client) })),
//                the preset's windows divided by `speed`
//   bottleneck:  clustering (datastore 'ioredis'): a limiter per window (reservoir
//                refreshed every window), the minute's chained to the hour's; its
//                heartbeat (which refreshes reservoirs) scaled down to 250 ms
//   rlf:         rate-limiter-flexible: RateLimiterUnion of two RateLimiterRedis
//                (points per duration), consume, and on a refusal wait msBeforeNext
// Protocol (JSON lines on stdout): 'ready', then 'go' on stdin, then 'done'.
import Bottleneck from 'bottleneck';
import Redis from 'ioredis';
import { RateLimiterRedis, RateLimiterUnion } from 'rate-limiter-flexible';
import { presets, rateLimitedFetch, redisStore } from 'tollgate';

const c = JSON.parse(process.argv[2]);
const say = (o) => process.stdout.write(`${JSON.stringify(o)}\n`);
const MINUTE = 60_000 / c.speed;
const HOUR = 3_600_000 / c.speed;
const [perMinute, perHour] = c.api === 'hex' ? [20, 60] : [60, 1000];
let n = 0;
const request = (signal) => (c.api === 'hex'
  ? { url: `${c.url}/api/v1/run/p-${process.pid}-${n++}`, init: { method: 'POST', signal } }
  : { url: `${c.url}/v1/findings?page=${n++}`, init: { method: 'GET', signal } });
const send = async (fetchFn, signal, token = c.token) => {
  const { url, init } = request(signal);
  init.headers = { authorization: `Bearer ${token}` };
  const res = await fetchFn(url, init);
  await res.arrayBuffer();
  return res.status;
};

const client = new Redis(c.redisPort, '127.0.0.1');
const stop = new AbortController();
const sleep = (ms) => new Promise((resolve) => {
  const t = setTimeout(resolve, ms);
  stop.signal.addEventListener('abort', () => { clearTimeout(t); resolve(); }, { once: true });
});
const statuses = [];
const errors = [];
const count = (p) => p.then((s) => statuses.push(s), (e) => { if (!stop.signal.aborted) errors.push(String(e?.message ?? e)); });

let run;
let close;
let warm = () => send(fetch, undefined, `warm-${process.pid}`);
if (c.contender === 'tollgate') {
  const options = (c.api === 'hex' ? presets.hex : presets.secureCodingHub)({ store: redisStore(client) });
  const windows = options.routes[0].windows;
  options.routes[0].windows = windows.map((w) => ({ ...w, per: w.per === '1m' ? MINUTE : HOUR }));
  const limited = rateLimitedFetch(fetch, options);
  warm = () => send(limited, undefined, `warm-${process.pid}`);
  run = async () => {
    while (!stop.signal.aborted) await count(send(limited, stop.signal));
  };
  close = async () => { for (const scope of limited.scopes()) await scope.limiter.close?.(); };
} else if (c.contender === 'bottleneck') {
  // Clustering refreshes reservoirs on its heartbeat (every 5 s by default; the docs ask for refresh
  // intervals that are multiples of it): scaled down with the windows, to bottleneck's local default.
  const common = { datastore: 'ioredis', clientOptions: { host: '127.0.0.1', port: c.redisPort }, clearDatastore: false, heartbeatInterval: 250 };
  const minute = new Bottleneck({ ...common, id: `${c.id}-minute`, reservoir: perMinute, reservoirRefreshAmount: perMinute, reservoirRefreshInterval: MINUTE });
  const hour = new Bottleneck({ ...common, id: `${c.id}-hour`, reservoir: perHour, reservoirRefreshAmount: perHour, reservoirRefreshInterval: HOUR });
  minute.chain(hour);
  await Promise.all([minute.ready(), hour.ready()]);
  run = async () => {
    while (!stop.signal.aborted) await count(minute.schedule(() => send(fetch, stop.signal)));
  };
  // Jobs still waiting in either limiter at the end are dropped (their promises reject).
  const stopped = new Promise((resolve) => stop.signal.addEventListener('abort', () => {
    Promise.all([minute.stop({ dropWaitingJobs: true }), hour.stop({ dropWaitingJobs: true })]).catch(() => {}).then(resolve);
  }, { once: true }));
  close = async () => {
    await stopped;
    await Promise.all([minute.disconnect(), hour.disconnect()]).catch(() => {});
  };
} else {
  const union = new RateLimiterUnion(
    new RateLimiterRedis({ storeClient: client, keyPrefix: `${c.id}-minute`, points: perMinute, duration: MINUTE / 1000 }),
    new RateLimiterRedis({ storeClient: client, keyPrefix: `${c.id}-hour`, points: perHour, duration: HOUR / 1000 }),
  );
  warm = async () => { await union.consume(`warm-${process.pid}`); await send(fetch, undefined, `warm-${process.pid}`); };
  run = async () => {
    while (!stop.signal.aborted) {
      try {
        await union.consume(c.token);
      } catch (refusals) {
        await sleep(Math.max(1, ...Object.values(refusals).map((r) => r.msBeforeNext ?? 0)));
        continue;
      }
      await count(send(fetch, stop.signal));
    }
  };
  close = async () => {};
}

await client.ping();
// Warm up (connections, JIT, wasm, tollgate's pub/sub connection) on a quota
// of its own, so that the run measures the limiter, not a cold start.
for (let i = 0; i < 3; i++) await warm();
say({ event: 'ready' });
await new Promise((resolve) => process.stdin.once('data', resolve));
setTimeout(() => stop.abort(), c.runMs);
await Promise.all(Array.from({ length: c.callers }, run));
await close();
client.disconnect();
say({ event: 'done', statuses: statuses.length, errors: errors.length, error: errors[0] });
process.exit(0);
