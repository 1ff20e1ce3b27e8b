// One worker of `npm start -- --redis <url> --workers N`: a child process
// (started by workers.mjs with child_process.fork) running the dashboard's
// pipeline (pipeline.mjs) against the dashboard's seed-like servers, with every
// quota in Redis (`redisStore`), shared with the other workers. It reports its
// state to the dashboard over the IPC channel every 250 ms, and stops when told
// to, or when that channel closes (the dashboard died: no orphan worker).
//
// Configured by its first IPC message, { type: 'start', config: { index, redis, redisLabel, prefix,
// keySecret, clock: { startMs, realStartMs, speed }, urls: { hex, hexagraph, sch } } } (not by
// arguments: `ps` shows those to everyone, and a Redis URL may carry a password).
import Redis from 'ioredis';
import * as tollgate from 'tollgate';
import { createPipeline } from './pipeline.mjs';
import { quotaTimers, sharedAcceleratedClock } from './shared-clock.mjs';

const TICK_MS = 250;
const config = await new Promise((resolve) => {
  const gone = () => process.exit(0); // the dashboard is gone before it said anything
  process.once('disconnect', gone);
  process.once('message', (m) => {
    process.off('disconnect', gone);
    resolve(m.config);
  });
});
const { speed } = config.clock;
const clock = sharedAcceleratedClock(config.clock);
const timers = quotaTimers(clock, speed);
const send = (message) => {
  if (process.connected) process.send(message);
};

// One connection per worker. A lost Redis is retried (a restarted server comes
// back); each command fails after a few tries, so nothing waits forever.
const client = new Redis(config.redis, { maxRetriesPerRequest: 2, connectTimeout: 3_000, retryStrategy: (attempt) => Math.min(1_000, attempt * 100) });
client.on('error', () => {}); // each failed command reports itself; this would only repeat it

let pipeline;
let ticker;
let stopping = false;
async function stop(code = 0) {
  if (stopping) return;
  stopping = true;
  clearInterval(ticker);
  const force = setTimeout(() => process.exit(code), 2_000); // a stuck close must not keep the process
  await pipeline?.stop().catch(() => {});
  client.disconnect();
  clearTimeout(force);
  process.exit(code);
}
process.on('disconnect', () => stop(0)); // the dashboard is gone
process.on('message', (m) => {
  if (m?.type === 'stop') stop(0);
});
process.on('SIGINT', () => {}); // Ctrl-C reaches the whole group: the dashboard stops its workers itself
process.on('SIGTERM', () => stop(0));

try {
  await client.ping();
} catch (error) {
  send({ type: 'error', message: `Redis at ${config.redisLabel} does not answer: ${error?.message ?? error}` });
  await stop(1);
}

// Quota time is the accelerated clock, so the store decides on it ('client'),
// not on Redis TIME (real time). The queue lease is on that clock too: scaled,
// it stays 5 real seconds, so a busy machine does not drop a live worker's waiters.
const redisStore = tollgate.redisStore(client, { prefix: config.prefix, time: 'client', queueLeaseMs: 5_000 * speed });
// A request in flight is held for `leaseMs` of quota time (a minute by default), then counted
// as sent at the lease's end. At x600 a quota minute is 100 real ms, less than a request can take
// on a busy machine before it even reaches the server: it would then be counted before it arrives
// and freed too early. Held 10 real seconds instead.
const leaseMs = 10_000 * speed;
const runs = [];
pipeline = createPipeline({
  timers, speed, store: redisStore, leaseMs, keySecret: config.keySecret,
  hex: { url: config.urls.hex }, hexagraph: { url: config.urls.hexagraph }, sch: { url: config.urls.sch },
  onRun: (projectId) => runs.push({ projectId, at: clock.now() }),
});

let busy = false;
ticker = setInterval(async () => {
  if (busy || stopping) return; // a slow Redis: skip a tick rather than pile them up
  busy = true;
  try {
    const { usage: _own, ...state } = await pipeline.tickShared();
    send({ type: 'tick', state, runs: runs.splice(0) });
  } finally {
    busy = false;
  }
}, TICK_MS);
send({ type: 'ready', pid: process.pid });
