// Fairness across processes, with both clients: 4 processes (2 on ioredis, 2
// on node-redis) each queue 100 requests at the same moment; each must get
// 25 % +- 5 % of the first 100 admissions (served by priority, then in rounds
// across processes), and admissions follow the quota exactly.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import Redis from 'ioredis';
import { Limiter, redisStore } from 'tollgate';
import { mostInAnyWindow } from '../js/windows.mjs';
import { startRedis } from './redis-server.mjs';
import { startWorker } from './workers.mjs';

let redis;
before(async () => { redis = await startRedis(); });
after(async () => { await redis?.stop(); });

test('4 processes queueing 100 each at once share the first 100 admissions evenly (ioredis and node-redis)', async () => {
  const windows = [{ limit: 10, per: '100ms' }];
  const name = 'fair';
  const workers = ['ioredis', 'redis', 'ioredis', 'redis'].map((client) =>
    startWorker({ redisPort: redis.port, client, name, windows, task: 'queue', count: 100, countInFlight: false, waitForGo: true }));
  const client = new Redis(redis.port, '127.0.0.1');
  const gate = Limiter.shared({ name, windows, store: redisStore(client) });
  try {
    await Promise.all(workers.map((w) => w.next((m) => m.event === 'ready')));
    // Nothing is admitted until all 400 are queued: they arrive "at once".
    await gate.pauseUntil(Date.now() + 1_500);
    for (const w of workers) w.go();
    await Promise.all(workers.map((w) => w.next((m) => m.event === 'queued')));
    const admissions = () => workers.flatMap((w, i) => w.messages.filter((m) => m.event === 'admitted').map((m) => ({ i, at: m.at })));
    const deadline = Date.now() + 20_000;
    while (admissions().length < 110 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    const first = admissions().sort((a, b) => a.at - b.at).slice(0, 100);
    assert.equal(first.length, 100, '100 admitted');
    const shares = [0, 1, 2, 3].map((i) => first.filter((a) => a.i === i).length);
    for (const share of shares) assert.ok(share >= 20 && share <= 30, `each process gets 25 % +- 5 %: ${shares}`);
    // Fair, and still within the quota (each process reports on its own clock: allow 5 ms).
    assert.ok(mostInAnyWindow(first.map((a) => a.at), 95) <= 10, 'never more than 10 in 100 ms');
  } finally {
    for (const w of workers) w.child.stdin.write('stop\n');
    await Promise.all(workers.map((w) => w.exited));
    await gate.close();
    client.disconnect();
  }
});
