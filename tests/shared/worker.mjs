// A worker process sharing a quota through Redis, for the multi-process tests.
// Configured by one JSON argument; reports JSON lines on stdout.
//   task 'fetch': `count` times acquire, POST to the Hex-like server, complete;
//                 stops waiting at `deadlineMs` (real ms from start)
//   task 'hold':  acquire `count` permits, send their requests to a server
//                 that never answers in time, report, then wait to be killed
//   task 'queue': queue `count` acquires at once, report each admission
import { setMaxListeners } from 'node:events';
import { createClient } from 'redis';
import Redis from 'ioredis';
import { Limiter, redisStore } from 'tollgate';

const config = JSON.parse(process.argv[2]);
const say = (o) => process.stdout.write(`${JSON.stringify(o)}\n`);

const client = config.client === 'redis'
  ? createClient({ socket: { host: '127.0.0.1', port: config.redisPort, reconnectStrategy: () => 50 } })
  : new Redis(config.redisPort, '127.0.0.1', { retryStrategy: () => 50 });
client.on('error', () => {}); // the limiter reports failures through its calls
if (config.client === 'redis') await client.connect();

const offset = config.clockOffsetMs ?? 0;
const clock = {
  now: () => Date.now() + offset,
  setTimeout: (f, ms) => setTimeout(f, ms),
  clearTimeout: (h) => clearTimeout(h),
};
const store = redisStore(client, { time: config.time ?? 'redis', queueLeaseMs: config.queueLeaseMs ?? '15s' });
const limiter = Limiter.shared({
  name: config.name, windows: config.windows, store, clock,
  countInFlight: config.countInFlight ?? true, leaseMs: config.leaseMs ?? '1m',
});
limiter.events.addEventListener('reregistered', (e) => say({ event: 'reregistered', requests: e.detail.requests }));

const post = (i) => fetch(`${config.url}/api/v1/run/project-${process.pid}-${i}`, {
  method: 'POST', headers: { authorization: `Bearer ${config.token}` },
});

try {
  // Connected and scripts loaded (on another quota: a call moves a quota's
  // clock), then wait for the parent's go (on stdin) when asked to, so
  // processes start together.
  const warm = Limiter.shared({ name: `${config.name}:warm-up`, windows: config.windows, store, clock });
  await warm.usage();
  await warm.close();
  say({ event: 'ready' });
  if (config.waitForGo) await new Promise((r) => process.stdin.once('data', r));
  if (config.task === 'fetch') {
    const stop = new AbortController();
    setMaxListeners(config.count + 10, stop.signal);
    setTimeout(() => stop.abort(new Error('deadline')), config.deadlineMs ?? 60_000).unref();
    const statuses = [];
    await Promise.all(Array.from({ length: config.count }, async (_, i) => {
      let permit;
      try {
        permit = await limiter.acquire({ signal: stop.signal });
      } catch (error) {
        if (stop.signal.aborted) return;
        throw error;
      }
      const res = await post(i);
      await res.arrayBuffer();
      statuses.push(res.status);
      say({ event: 'sent', status: res.status });
      await permit.complete();
    }));
    say({ event: 'done', statuses });
  } else if (config.task === 'hold') {
    const permits = [];
    for (let i = 0; i < config.count; i++) permits.push(await limiter.acquire());
    for (let i = 0; i < config.count; i++) post(i).catch(() => {});
    say({ event: 'holding', at: permits.map((p) => p.at) });
    await new Promise(() => {}); // until SIGKILL
  } else if (config.task === 'queue') {
    const all = Array.from({ length: config.count }, () => limiter.acquire().then((p) => {
      say({ event: 'admitted', at: p.at });
      return p.complete();
    }, () => {}));
    say({ event: 'queued' });
    await Promise.race([Promise.all(all), new Promise((r) => process.stdin.once('data', r))]);
  }
} catch (error) {
  say({ event: 'error', message: String(error?.stack ?? error) });
  process.exitCode = 1;
} finally {
  process.stdin.destroy(); // a read stdin would keep the process alive
  await limiter.close();
  if (config.client === 'redis') await client.disconnect(); else client.disconnect();
}
