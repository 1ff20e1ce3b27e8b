// A three-node Redis Cluster started by the test (no replicas): every key of a
// quota shares one hash tag, so each call runs on one node; the functions
// library is loaded on every master; the head-of-queue announcements reach
// subscribers on any node.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import Redis from 'ioredis';
import { Limiter, redisStore } from 'tollgate';
import { startRedis } from './redis-server.mjs';

const run = promisify(execFile);
let nodes = [];

before(async () => {
  nodes = await Promise.all([0, 1, 2].map(() => startRedis(['--cluster-enabled', 'yes', '--cluster-node-timeout', '2000'])));
  await run('redis-cli', ['--cluster', 'create', ...nodes.map((n) => `127.0.0.1:${n.port}`), '--cluster-replicas', '0', '--cluster-yes']);
  // Wait until every node agrees the cluster is up.
  for (const n of nodes) {
    for (let i = 0; ; i++) {
      const { stdout } = await run('redis-cli', ['-p', String(n.port), 'cluster', 'info']);
      if (/cluster_state:ok/.test(stdout)) break;
      if (i > 100) throw new Error(`cluster node ${n.port} not ok: ${stdout}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
});
after(async () => { await Promise.all(nodes.map((n) => n.stop())); });

test('a shared limiter works on a three-node Redis Cluster (ioredis Cluster)', async () => {
  const cluster = () => new Redis.Cluster(nodes.map((n) => ({ host: '127.0.0.1', port: n.port })));
  const a = cluster();
  const b = cluster();
  // The fixed window runs on the wall clock: its boundary is put half an hour
  // from now, so no quota's four requests straddle one (an epoch-aligned minute
  // split them now and then, and the count after the boundary was 1).
  const HOUR = 3_600_000;
  const windows = [{ limit: 3, per: '1s' }, { limit: 5, per: '1h', kind: 'fixed', offset: (Date.now() + HOUR / 2) % HOUR }];
  const names = ['hex:one', 'hex:two', 'sch:three', 'quota-4', 'quota-5']; // spread over the slots
  const limiters = [];
  try {
    for (const name of names) {
      const la = Limiter.shared({ name, windows, store: redisStore(a) });
      const lb = Limiter.shared({ name, windows, store: redisStore(b) });
      limiters.push(la, lb);
      const results = [];
      for (let i = 0; i < 4; i++) results.push((await (i % 2 ? lb : la).tryAcquire()).ok);
      assert.deepEqual(results, [true, true, true, false], `${name}: 3 a second across two clients`);
      // A waiter in one client is admitted when the window frees, announced across the cluster.
      const t0 = Date.now();
      const permit = await lb.acquire();
      assert.ok(permit.at >= t0 && Date.now() - t0 < 1_500);
      const [sliding, fixed] = (await la.usage()).map((u) => u.used);
      assert.equal(fixed, 4, 'the hour counts all four');
      assert.ok(sliding >= 1 && sliding <= 3, `the second holds the waiter and what has not expired: ${sliding}`);
    }
    // The library is on every master (all get it when the first call finds it
    // missing), and goes back where it went missing.
    for (const n of a.nodes('master')) assert.equal((await n.function('LIST')).length, 1, `library on ${n.options.port}`);
    await Promise.all(a.nodes('master').map((n) => n.function('FLUSH')));
    for (const l of limiters) assert.equal((await l.usage()).length, 2);
    for (const n of a.nodes('master')) assert.equal((await n.function('LIST')).length, 1, `library back on ${n.options.port}`);
    // The keys of each quota sit on one slot, with an expiry.
    const keys = (await Promise.all(a.nodes('master').map((n) => n.keys('{tollgate:*')))).flat();
    assert.equal(keys.length, names.length);
    for (const key of keys) {
      assert.match(key, /^\{tollgate:[0-9a-f]{32}\}:state$/);
      assert.ok((await a.pttl(key)) > 0, 'every key expires');
    }
  } finally {
    await Promise.all(limiters.map((l) => l.close()));
    a.disconnect();
    b.disconnect();
  }
});
