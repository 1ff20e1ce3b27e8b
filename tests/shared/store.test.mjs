// redisStore on a real redis-server: option errors, keys and expiry, a bounded
// log, Redis unreachable (StoreError, never a hang), the local fallback.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import Redis from 'ioredis';
import { Limiter, StoreError, isStoreError, redisStore } from 'tollgate';
import { freePort, startRedis } from './redis-server.mjs';

let redis;
let client;
before(async () => {
  redis = await startRedis();
  client = new Redis(redis.port, '127.0.0.1');
});
after(async () => {
  client?.disconnect();
  await redis?.stop();
});

test('bad options are TypeErrors naming the option', () => {
  const store = redisStore(client);
  const windows = [{ limit: 1, per: '1s' }];
  assert.throws(() => redisStore({}), /ioredis client .* node-redis/);
  assert.throws(() => redisStore(client, { time: 'local' }), /`time` must be 'redis' or 'client'/);
  assert.throws(() => redisStore(client, { prefix: 'a{b}' }), /`prefix`/);
  assert.throws(() => redisStore(client, { fallback: { share: 0 } }), /`fallback.share`/);
  assert.throws(() => redisStore(client, { timeoutMs: -1 }), /`timeoutMs`/);
  assert.throws(() => Limiter.shared({ windows, store }), /`name` must be a non-empty string/);
  assert.throws(() => Limiter.shared({ name: 'x', windows, store: {} }), /`store` must be a shared store/);
  assert.throws(() => Limiter.shared({ name: 'x', windows: [], store }), /`windows` must be a non-empty array/);
  assert.throws(() => Limiter.shared({ name: 'x', windows, store, leaseMs: 'soon' }), /`leaseMs`/);
  assert.throws(() => Limiter.shared({ name: 'x', windows: [{ kind: 'bucket', limit: 4_000_000_000, per: '1d' }], store }), /limit x per <= 2\^52/);
});

test('a quota is one key under its hash tag, with an expiry, the name hashed (SHA-256, or HMAC with a secret)', async () => {
  const a = Limiter.shared({ name: 'hex:secret-token', windows: [{ limit: 5, per: '1m' }, { limit: 9, per: '1h' }], store: redisStore(client) });
  const b = Limiter.shared({ name: 'hex:secret-token', windows: [{ limit: 5, per: '1m' }, { limit: 9, per: '1h' }], store: redisStore(client, { secret: 's3' }) });
  try {
    assert.equal((await a.tryAcquire()).ok, true);
    assert.equal((await b.tryAcquire()).ok, true);
    const keys = (await client.keys('*')).sort();
    assert.deepEqual(keys, [`{tollgate:${a.key.slice(0, 32)}}:state`, `{tollgate:${b.key.slice(0, 32)}}:state`].sort());
    assert.notEqual(a.key, b.key);
    assert.ok(keys.every((k) => !k.includes('secret-token')), 'the name never reaches Redis');
    const ttl = await client.pttl(keys[0]);
    assert.ok(ttl > 3_600_000 && ttl <= 3_600_000 + 61_000, `expires after the longest window plus a minute: ${ttl}`);
  } finally {
    await a.close();
    await b.close();
  }
});

test('another process configuring the same name with other windows gets a StoreError', async () => {
  const a = Limiter.shared({ name: 'conflict', windows: [{ limit: 5, per: '1m' }], store: redisStore(client) });
  const b = Limiter.shared({ name: 'conflict', windows: [{ limit: 6, per: '1m' }], store: redisStore(client) });
  try {
    await a.tryAcquire();
    await assert.rejects(b.tryAcquire(), (e) => isStoreError(e) && /other windows/.test(e.message));
  } finally {
    await a.close();
    await b.close();
  }
});

test('a sliding log of 1,000 a day stays small however many calls come', async () => {
  const limiter = Limiter.shared({ name: 'daily', windows: [{ limit: 1_000, per: '1d' }], store: redisStore(client) });
  try {
    let admitted = 0;
    for (let i = 0; i < 1_500; i++) if ((await limiter.tryAcquire()).ok) admitted++;
    assert.equal(admitted, 1_000);
    const size = (await client.getBuffer(`{tollgate:${limiter.key.slice(0, 32)}}:state`)).length;
    // One entry per millisecond with admissions, at most 1,000 of them.
    assert.ok(size < 20_000, `state of ${size} bytes`);
  } finally {
    await limiter.close();
  }
});

test('Redis unreachable: calls fail with StoreError within timeoutMs, nothing hangs or goes unhandled', async () => {
  const port = await freePort(); // nothing listens there
  const dead = new Redis(port, '127.0.0.1', { retryStrategy: () => 100, lazyConnect: false });
  dead.on('error', () => {});
  const unhandled = [];
  const onUnhandled = (e) => unhandled.push(e);
  process.on('unhandledRejection', onUnhandled);
  const limiter = Limiter.shared({ name: 'down', windows: [{ limit: 2, per: '1s' }], store: redisStore(dead, { timeoutMs: 300 }) });
  try {
    const t0 = Date.now();
    await assert.rejects(limiter.tryAcquire(), (e) => e instanceof StoreError && /did not answer within 300 ms|Redis failed/.test(e.message));
    await assert.rejects(limiter.acquire(), StoreError);
    await assert.rejects(limiter.usage(), StoreError);
    assert.ok(Date.now() - t0 < 3_000, 'bounded by timeoutMs, not a hang');
    await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(unhandled, []);
  } finally {
    process.off('unhandledRejection', onUnhandled);
    await limiter.close();
    dead.disconnect();
  }
});

test('with `fallback`, Redis down means a local limiter with its share of the quota, then back to Redis counting what it admitted', async () => {
  const own = await startRedis();
  const c = new Redis(own.port, '127.0.0.1', { retryStrategy: () => 50 });
  c.on('error', () => {});
  const store = redisStore(c, { timeoutMs: 300, fallback: { share: 0.5, retryMs: 200 } });
  const limiter = Limiter.shared({ name: 'fallback', windows: [{ limit: 10, per: '1m' }], store });
  const events = [];
  for (const type of ['fallback', 'recovered']) limiter.events.addEventListener(type, (e) => events.push([type, e.detail]));
  try {
    assert.equal((await limiter.tryAcquire()).ok, true);
    await own.kill();
    // Down: the local limiter holds half the quota (5 a minute).
    let local = 0;
    for (let i = 0; i < 8; i++) if ((await limiter.tryAcquire()).ok) local++;
    assert.equal(local, 5);
    assert.equal(events[0]?.[0], 'fallback');
    assert.ok(isStoreError(events[0][1].error));
    await own.restart();
    const deadline = Date.now() + 5_000;
    while (!events.some(([t]) => t === 'recovered') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    assert.ok(events.some(([t]) => t === 'recovered'), 'back on Redis');
    // Redis lost its data in the restart: all this process admitted within the
    // window is counted there again, the 1 before the fall and the 5 admitted locally.
    assert.equal((await limiter.usage())[0].used, 6);
  } finally {
    await limiter.close();
    c.disconnect();
    await own.stop();
  }
});

test('a bucket counting requests in flight: they count as taken now, land at their response, and at the end of their lease', async () => {
  // nginx `limit_req rate=1r/s burst=1`: a bucket of 2 per 2 s (one unit per
  // second), timed from each request's arrival, as the core's Bucket does.
  const { fakeClock } = await import('../js/fake-clock.mjs');
  const clock = fakeClock(1_795_441_320_000);
  const t0 = clock.now();
  const leaseMs = 60_000;
  const windows = [{ kind: 'bucket', limit: 2, per: '2s' }];
  const limiter = Limiter.shared({ name: 'bucket-in-flight', windows, store: redisStore(client, { time: 'client' }), clock, countInFlight: true, leaseMs });
  try {
    const a = await limiter.tryAcquire();
    const b = await limiter.tryAcquire();
    assert.ok(a.ok && b.ok);
    // Both in flight: only a completion (or a lease's end) makes room.
    const full = await limiter.tryAcquire();
    assert.equal(full.ok, false);
    assert.equal(full.retryAt, t0 + leaseMs, 'look again when the oldest lease ends');
    assert.deepEqual((await limiter.usage()).map((u) => u.used), [2]);
    // A's response at +10 ms: A may have reached the server then, its slot
    // frees at +1010 ms (not +1000 ms, as counted from admission).
    await clock.advanceTo(t0 + 10);
    await a.permit.complete();
    const one = await limiter.tryAcquire();
    assert.equal(one.ok, false);
    assert.equal(one.retryAt, t0 + 1_010);
    // B's process died: its lease ends at t0 + leaseMs and B lands then.
    await clock.advanceTo(t0 + leaseMs);
    assert.deepEqual((await limiter.usage()).map((u) => u.used), [1], 'the expired lease counts as sent at its end');
    assert.equal((await limiter.tryAcquire()).ok, true);
    const after = await limiter.tryAcquire();
    assert.equal(after.ok, false);
    assert.equal(after.retryAt, t0 + leaseMs + 1_000);
  } finally {
    await limiter.close();
  }
});

test('maxConcurrent caps this process\'s calls in flight on a shared quota: tryAcquire, acquire and schedule', async () => {
  const hex = Limiter.shared({ name: 'concurrent', windows: [{ limit: 100, per: '1m' }], store: redisStore(client), countInFlight: true, maxConcurrent: 2 });
  try {
    const [a, b] = [await hex.tryAcquire(), await hex.tryAcquire()];
    assert.equal(a.ok && b.ok, true, 'two slots');
    const third = await hex.tryAcquire();
    assert.deepEqual([third.ok, third.retryAt], [false, Number.POSITIVE_INFINITY], 'every slot busy: only a completion frees one');
    const queued = hex.acquire();
    let admitted = false;
    queued.then(() => { admitted = true; });
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(admitted, false, 'acquire waits for a slot');
    await a.permit.complete();
    await a.permit.complete(); // a second completion gives no second slot back
    const c = await queued;
    assert.equal((await hex.tryAcquire()).ok, false, 'the slot went to the waiter, and only one was given back');
    await b.permit.complete();
    assert.equal(await hex.schedule(async () => 'ran'), 'ran');
    await c.complete();
    assert.equal((await hex.usage())[0].used, 4, 'the refused tries took nothing from the window');
  } finally {
    await hex.close();
  }
});

test('permit.release(): a request never sent gives its units (and its maxConcurrent slot) back in Redis, once', async () => {
  const windows = [{ limit: 2, per: '1h' }, { kind: 'fixed', limit: 3, per: '1d' }];
  const a = Limiter.shared({ name: 'release', windows, store: redisStore(client), countInFlight: true, maxConcurrent: 1 });
  const b = Limiter.shared({ name: 'release', windows, store: redisStore(client), countInFlight: true });
  try {
    const p = await a.acquire();
    assert.deepEqual((await b.usage()).map((u) => u.used), [1, 1]);
    await p.release();
    await p.release(); // once
    await p.complete(); // and nothing after it
    assert.deepEqual((await b.usage()).map((u) => u.used), [0, 0], 'another process sees the units back');
    // The slot is free too: the next acquire in this process does not wait for one.
    const q = await a.tryAcquire();
    assert.equal(q.ok, true);
    await q.permit.complete();
    assert.deepEqual((await b.usage()).map((u) => u.used), [1, 1]);
  } finally {
    await a.close();
    await b.close();
  }
});

test('tryAcquire calls made together: the first goes at once, the rest reach Redis as one function call, decided in order, each all or nothing', async () => {
  const server = await startRedis();
  const own = new Redis(server.port, '127.0.0.1');
  const l = Limiter.shared({ name: 'batch', windows: [{ limit: 10, per: '1h' }], store: redisStore(own) });
  try {
    await l.usage(); // the scripts are loaded, the subscription made
    await own.config('RESETSTAT');
    const costs = [3, 3, 5, 3, 1, 1, 2];
    const results = await Promise.all(costs.map((cost) => l.tryAcquire(cost)));
    // In order: 3 + 3 fit, 5 does not (6 + 5 > 10), 3 fits (9), 1 fits (10), then nothing.
    assert.deepEqual(results.map((r) => r.ok), [true, true, false, true, true, false, false]);
    assert.deepEqual((await l.usage()).map((u) => u.used), [10]);
    const calls = Number(/cmdstat_fcall:calls=(\d+)/.exec(await own.info('commandstats'))?.[1]);
    assert.equal(calls, 3, 'one function call for the first decision, one for the 6 made meanwhile, one for usage()');
  } finally {
    await l.close();
    own.disconnect();
    await server.stop();
  }
});

test('a fresh ioredis client whose quotas open one event-loop turn apart: every waiter is served (the subscriber waits for its handshake)', async () => {
  // ioredis sent SUBSCRIBE on the duplicated connection before its ready
  // check, whose INFO was then refused ("Connection in subscriber mode"):
  // calls failed with StoreError and one rejection went unhandled.
  const fresh = new Redis(redis.port, '127.0.0.1');
  const unhandled = [];
  const onUnhandled = (reason) => unhandled.push(reason);
  process.on('unhandledRejection', onUnhandled);
  const limiters = [];
  try {
    const calls = [];
    const store = redisStore(fresh);
    for (let i = 0; i < 5; i++) {
      const limiter = Limiter.shared({ name: `handshake-${i}`, windows: [{ limit: 1, per: '400ms' }], store });
      limiters.push(limiter);
      // The second acquire waits (and subscribes) while the first is in flight.
      for (let k = 0; k < 2; k++) calls.push(limiter.acquire());
      await new Promise((resolve) => setImmediate(resolve));
    }
    const outcomes = await Promise.allSettled(calls);
    assert.deepEqual(outcomes.filter((o) => o.status === 'rejected').map((o) => String(o.reason)), []);
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.deepEqual(unhandled, []);
  } finally {
    process.off('unhandledRejection', onUnhandled);
    for (const limiter of limiters) await limiter.close();
    fresh.disconnect();
  }
});

test('a process whose Redis client quits exits: the subscriber connection closes with it (ioredis and node-redis)', async () => {
  const { execFile } = await import('node:child_process');
  for (const kind of ['ioredis', 'node-redis']) {
    // A waiter subscribes (the second acquire waits for the first's window);
    // then the script quits its client and must end by itself.
    const script = `
      import { Limiter, redisStore } from 'tollgate';
      ${kind === 'ioredis'
    ? `import Redis from 'ioredis'; const client = new Redis(${redis.port}, '127.0.0.1');`
    : `import { createClient } from 'redis'; const client = await createClient({ url: 'redis://127.0.0.1:${redis.port}' }).connect();`}
      const limiter = Limiter.shared({ name: 'exit-${kind}', windows: [{ limit: 1, per: '200ms' }], store: redisStore(client) });
      await limiter.acquire();
      await limiter.acquire();
      await client.quit();
      console.log('quit');`;
    const started = Date.now();
    const { code, stdout } = await new Promise((resolve) => {
      const child = execFile(process.execPath, ['--input-type=module', '-e', script], { cwd: process.cwd(), timeout: 10_000 },
        (error, out) => resolve({ code: error ? (error.killed ? 'killed' : error.code) : 0, stdout: out }));
      child.stdin?.end();
    });
    assert.equal(stdout.trim(), 'quit', kind);
    assert.equal(code, 0, `${kind}: the process ended by itself (exit code ${code})`);
    assert.ok(Date.now() - started < 8_000, kind);
  }
});
