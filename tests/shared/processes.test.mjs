// Real child processes sharing one quota through a real redis-server, against
// the strict Hex-like test server (its clock runs 60x faster, so its minute
// passes in a real second and the workers' windows are scaled alike: 20 per
// second, 60 per minute). The server's own log is the judge.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import Redis from 'ioredis';
import { Limiter, redisStore } from 'tollgate';
import { startHexServer } from '../servers/hex.mjs';
import { mostInAnyWindow } from '../js/windows.mjs';
import { startRedis } from './redis-server.mjs';
import { finished, startWorker } from './workers.mjs';

const SPEED = 60;
function fastClock() {
  const realStart = Date.now();
  return { now: () => Math.floor(realStart + (Date.now() - realStart) * SPEED) };
}
const accepted = (log) => log.filter((e) => e.status >= 200 && e.status < 300);

let redis;
before(async () => { redis = await startRedis(); });
after(async () => { await redis?.stop(); });

test('4 processes sharing the Hex quota draw no 429 and the server never sees more than 20 a minute or 60 an hour', async () => {
  const hex = await startHexServer({ clock: fastClock() });
  try {
    const config = {
      redisPort: redis.port, url: hex.url, token: 'tok-shared', name: 'hex:tok-shared', task: 'fetch',
      windows: [{ limit: 20, per: '1s' }, { limit: 60, per: '60s' }], count: 15, waitForGo: true,
    };
    const workers = Array.from({ length: 4 }, () => startWorker(config));
    await Promise.all(workers.map((w) => w.next((m) => m.event === 'ready')));
    for (const w of workers) w.go();
    const reports = await Promise.all(workers.map(finished));
    const log = hex.log.filter((e) => e.method === 'POST');
    assert.equal(log.filter((e) => e.status === 429).length, 0, 'no request refused');
    const times = accepted(log).map((e) => e.at);
    // All 60 of the hour were used (the ideal goodput), in three minutes of the server's clock.
    assert.equal(times.length, 60);
    assert.ok(mostInAnyWindow(times, 60_000) <= 20, `at most 20 in any minute; saw ${mostInAnyWindow(times, 60_000)}`);
    assert.ok(reports.every((r) => r.statuses.length > 0), 'every worker got a share');
  } finally {
    await hex.close();
  }
});

test('a worker killed with SIGKILL mid-request holds its units only until its lease ends', async () => {
  const hex = await startHexServer({ latencyMs: () => 10_000 });
  const client = new Redis(redis.port, '127.0.0.1');
  const windows = [{ limit: 2, per: '2s' }];
  const leaseMs = 1_000;
  const limiter = Limiter.shared({ name: 'kill', windows, store: redisStore(client), countInFlight: true, leaseMs });
  try {
    const worker = startWorker({ redisPort: redis.port, url: hex.url, token: 't', name: 'kill', windows, leaseMs, task: 'hold', count: 2 });
    const { at } = await worker.next((m) => m.event === 'holding');
    await worker.kill('SIGKILL');
    // Its two requests may still reach the server until the lease ends: nothing fits.
    const during = await limiter.tryAcquire();
    assert.equal(during.ok, false);
    // (Each process maps Redis time onto its clock with its own measured offset: a few ms apart.)
    assert.ok(Math.abs(during.retryAt - (at[0] + leaseMs)) <= 50, `look again when the lease ends: ${during.retryAt - at[0]} ms after`);
    // After the lease they count as sent at its end: free a full period later, not forever.
    await new Promise((r) => setTimeout(r, Math.max(0, at[1] + leaseMs + 20 - Date.now())));
    const after = await limiter.tryAcquire();
    assert.equal(after.ok, false);
    assert.ok(Math.abs(after.retryAt - (at[0] + leaseMs + 2_000)) <= 50, `free 2 s after the lease: ${after.retryAt - at[0]} ms after`);
    await new Promise((r) => setTimeout(r, Math.max(0, after.retryAt + 5 - Date.now())));
    const later = await limiter.tryAcquire();
    assert.equal(later.ok, true, 'the dead worker no longer holds the quota');
    await later.permit.complete();
  } finally {
    await limiter.close();
    client.disconnect();
    await hex.close();
  }
});

test('two processes whose clocks differ by 2 s never over-admit together (Redis TIME is the one clock)', async () => {
  const run = async (time, attempt = 0) => {
    const hex = await startHexServer({ clock: fastClock(), perMinute: 5, perHour: 1_000 });
    try {
      const base = { redisPort: redis.port, url: hex.url, token: 'tok-skew', name: `skew:${time}:${attempt}`, task: 'fetch', time,
        windows: [{ limit: 5, per: '1s' }], count: 5, waitForGo: true };
      const behind = startWorker({ ...base, clockOffsetMs: 0 });
      const ahead = startWorker({ ...base, clockOffsetMs: 2_000 });
      await Promise.all([behind, ahead].map((w) => w.next((m) => m.event === 'ready')));
      // The one behind fills the window; then the one 2 s ahead asks at once.
      behind.go();
      await finished(behind);
      ahead.go();
      await finished(ahead);
      const log = hex.log.filter((e) => e.method === 'POST');
      assert.equal(accepted(log).length + log.filter((e) => e.status === 429).length, 10);
      return log.filter((e) => e.status === 429).length;
    } finally {
      await hex.close();
    }
  };
  assert.equal(await run('redis'), 0, 'Redis time: the process ahead waits its turn');
  // The control: deciding on the callers' clocks, the process 2 s ahead sees the
  // other's slots as expired and over-runs the server. This is what `time: 'redis'` prevents.
  // It over-runs only if it sends within the server's 1 s window after the other: on a
  // machine loaded enough to start it later, the server has forgiven it, so up to 3 tries.
  let refused = 0;
  for (let attempt = 0; attempt < 3 && refused === 0; attempt++) refused = await run('client', attempt);
  assert.ok(refused > 0, 'client time with skewed clocks over-admits (the test can fail)');
});

test('Redis killed and restarted mid-run: no call lost, nothing over-admitted (each process re-registers)', async () => {
  const hex = await startHexServer({ clock: fastClock(), perMinute: 5, perHour: 1_000 });
  try {
    const config = { redisPort: redis.port, url: hex.url, token: 'tok-restart', name: 'restart', task: 'fetch',
      windows: [{ limit: 5, per: '1s' }], count: 10, deadlineMs: 20_000, queueLeaseMs: '3s' };
    const workers = [startWorker(config), startWorker(config)];
    // Once the first window is full, lose Redis and its data.
    await Promise.all(workers.map((w) => w.next((m) => m.event === 'sent')));
    await new Promise((r) => setTimeout(r, 100));
    await redis.kill();
    await new Promise((r) => setTimeout(r, 300));
    await redis.restart();
    const reports = await Promise.all(workers.map(finished));
    const statuses = reports.flatMap((r) => r.statuses);
    assert.equal(statuses.length, 20, 'every call made');
    assert.ok(statuses.every((s) => s === 201 || s === 200), `all accepted: ${statuses}`);
    const times = accepted(hex.log).map((e) => e.at);
    assert.ok(mostInAnyWindow(times, 60_000) <= 5);
    assert.ok(workers.some((w) => w.messages.some((m) => m.event === 'reregistered')), 'the loss was noticed');
  } finally {
    await hex.close();
  }
});
