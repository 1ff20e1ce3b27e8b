// How a decision is executed on Redis: as a function of the library
// (FUNCTION LOAD once, FCALL per call), loaded again when the server lost it;
// as scripts (EVALSHA) where Redis has no functions or refuses them; and the
// library's memory of a busy quota's refusal, which must end when the state
// changes on its own. Real redis-servers, started here.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import Redis from 'ioredis';
import { createClient } from 'redis';
import { Limiter, redisStore } from 'tollgate';
import { fakeClock } from '../js/fake-clock.mjs';
import { startRedis } from './redis-server.mjs';

const stats = async (client) => {
  const text = await client.info('commandstats');
  const calls = (name) => Number(new RegExp(`cmdstat_${name}:calls=(\\d+)`).exec(text)?.[1] ?? 0);
  const field = (name, f) => Number(new RegExp(`cmdstat_${name}:calls=\\d+,.*?${f}=(\\d+)`).exec(text)?.[1] ?? 0);
  return {
    fcall: calls('fcall'), fcallFailed: field('fcall', 'failed_calls'), fcallRejected: field('fcall', 'rejected_calls'),
    load: calls('function\\|load'), evalsha: calls('evalsha'), eval: calls('eval'),
  };
};

let server;
let client;
before(async () => {
  server = await startRedis();
  client = new Redis(server.port, '127.0.0.1', { retryStrategy: () => 50 });
  client.on('error', () => {});
});
after(async () => {
  client?.disconnect();
  await server?.stop();
});

test('each operation is one FCALL of a library loaded once; lost (FUNCTION FLUSH, a restart), it is loaded again, once for the calls that found it missing', async () => {
  const limiter = Limiter.shared({ name: 'fn', windows: [{ limit: 3, per: '1h' }], store: redisStore(client) });
  try {
    assert.equal((await limiter.tryAcquire()).ok, true);
    const [library] = await client.function('LIST');
    const name = library[library.indexOf('library_name') + 1];
    assert.match(name, /^tollgate_[0-9a-f]{16}$/);
    const functions = library[library.indexOf('functions') + 1].map((f) => f[f.indexOf('name') + 1]).sort();
    assert.deepEqual(functions, ['acquire', 'cancel', 'complete', 'pause', 'plan', 'reconcile', 'register', 'release', 'usage'].map((op) => `${name}_${op}`));
    await client.config('RESETSTAT');
    assert.equal((await limiter.tryAcquire()).ok, true);
    assert.deepEqual(await stats(client), { fcall: 1, fcallFailed: 0, fcallRejected: 0, load: 0, evalsha: 0, eval: 0 }, 'one FCALL, nothing loaded again');

    await client.function('FLUSH');
    await client.config('RESETSTAT');
    const [third, fourth] = await Promise.all([limiter.tryAcquire(), limiter.tryAcquire()]);
    assert.deepEqual([third.ok, fourth.ok], [true, false], 'the quota held on: 3 an hour');
    const s = await stats(client);
    assert.equal(s.load, 1, 'loaded again once');
    assert.equal(s.evalsha + s.eval, 0, 'still functions, not scripts');

    // A restart without persistence loses the library and the quota: the
    // library is loaded again, and this process counts its 3 again.
    await server.restart();
    const deadline = Date.now() + 5_000;
    let usage;
    while (Date.now() < deadline) {
      try {
        usage = await limiter.usage();
        break;
      } catch {
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    assert.deepEqual(usage.map((u) => u.used), [3]);
    assert.equal((await client.function('LIST')).length, 1, 'the library is back');
  } finally {
    await limiter.close();
  }
});

test('calls that find the quota lost together count this process\'s admissions there once, not once each', async () => {
  const limiter = Limiter.shared({ name: 'lost-together', windows: [{ limit: 5, per: '1h' }], store: redisStore(client) });
  try {
    for (let i = 0; i < 3; i++) assert.equal((await limiter.tryAcquire()).ok, true);
    // Redis loses the quota's state (a restart without persistence, an eviction). The earlier
    // tests' limiters are closed: only this one's state matters.
    for (const key of await client.keys('*:state')) await client.del(key);
    // Three calls under way together: the first makes the new generation and comes back "lost",
    // the other two were sent with the old one and come back "lost" too; its announcement follows.
    const usages = await Promise.all([limiter.usage(), limiter.usage(), limiter.usage()]);
    assert.deepEqual(usages.map((u) => u.map((w) => w.used)), [[3], [3], [3]]);
    await new Promise((r) => setTimeout(r, 100)); // the announcement, had it counted them again
    assert.deepEqual((await limiter.usage()).map((w) => w.used), [3]);
  } finally {
    await limiter.close();
  }
});

/** Three decisions on a quota of 2: the same on scripts as on functions. */
async function decideThree(redisClient, name) {
  const limiter = Limiter.shared({ name, windows: [{ limit: 2, per: '1h' }], store: redisStore(redisClient) });
  try {
    const results = [];
    for (let i = 0; i < 3; i++) results.push((await limiter.tryAcquire()).ok);
    assert.deepEqual(results, [true, true, false]);
    assert.deepEqual((await limiter.usage()).map((u) => u.used), [2]);
  } finally {
    await limiter.close();
  }
}

test('Redis without functions (FUNCTION or FCALL renamed away, as on Redis 6 or a managed Redis): scripts by SHA, told once', async () => {
  for (const renamed of ['FUNCTION', 'FCALL']) {
    const old = await startRedis(['--rename-command', renamed, '']);
    const io = new Redis(old.port, '127.0.0.1');
    const nr = await createClient({ url: `redis://127.0.0.1:${old.port}` }).connect();
    try {
      await decideThree(io, `io-${renamed}`);
      await decideThree(nr, `nr-${renamed}`);
      const s = await stats(io);
      assert.equal(s.evalsha, 8, `${renamed} renamed: every call (3 decisions and usage() per client) by EVALSHA`);
      // FCALL renamed: never answered. FUNCTION renamed: each client's first FCALL
      // finds no function, its FUNCTION LOAD is refused, and it asks no more.
      assert.equal(s.fcall, renamed === 'FCALL' ? 0 : 2, `${renamed} renamed: FCALL tried once per client`);
    } finally {
      io.disconnect();
      await nr.quit();
      await old.stop();
    }
  }
});

test('an ACL user without FUNCTION and FCALL (NOPERM): scripts by SHA', async () => {
  await client.acl('SETUSER', 'scripts-only', 'on', '>pw', '~*', '&*', '+@all', '-function', '-fcall');
  const io = new Redis({ port: server.port, host: '127.0.0.1', username: 'scripts-only', password: 'pw' });
  try {
    await client.config('RESETSTAT');
    await decideThree(io, 'acl');
    const s = await stats(client);
    assert.equal(s.evalsha, 4, 'every call (3 decisions and usage()) by EVALSHA');
    assert.equal(s.fcallRejected, 1, 'FCALL tried once (refused: NOPERM)');
  } finally {
    io.disconnect();
  }
});

test('a refusal the library remembers ends at its retry time, and sooner when a lease ends (units in flight then count as sent, and the retry time moves)', async () => {
  const clock = fakeClock(1_795_441_320_000);
  const t0 = clock.now();
  const limiter = Limiter.shared({
    name: 'lease-end', windows: [{ limit: 2, per: '10s' }], countInFlight: true, leaseMs: 1_000, clock,
    store: redisStore(client, { time: 'client' }),
  });
  try {
    assert.equal((await limiter.tryAcquire()).ok, true);
    assert.equal((await limiter.tryAcquire()).ok, true);
    // Both in flight: only their completion, or their lease's end, makes room.
    for (const at of [100, 200, 900]) {
      await clock.advanceTo(t0 + at);
      const r = await limiter.tryAcquire();
      assert.equal(r.ok, false);
      assert.equal(r.retryAt, t0 + 1_000, `at +${at} ms: the lease's end`);
    }
    // The leases ended at +1 s: both count as sent then, for the 10 s window.
    await clock.advanceTo(t0 + 1_500);
    const r = await limiter.tryAcquire();
    assert.equal(r.ok, false);
    assert.equal(r.retryAt, t0 + 11_000);
    await clock.advanceTo(t0 + 10_999);
    assert.equal((await limiter.tryAcquire()).retryAt, t0 + 11_000, 'the same refusal, a millisecond before');
    // ...and none at its retry time.
    await clock.advanceTo(t0 + 11_000);
    assert.equal((await limiter.tryAcquire()).ok, true);
  } finally {
    await limiter.close();
  }
});
