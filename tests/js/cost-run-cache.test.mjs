// RunCache.runIfChanged and the stores it persists to. Time is a fake clock;
// files live in a fresh temp directory; localStorage is a minimal in-memory
// Storage set on globalThis (the real browser test comes separately).
import assert from 'node:assert/strict';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fakeClock, flush } from './fake-clock.mjs';

const require = createRequire(import.meta.url);
const { RunCache } = require('../../js/cjs/cost/run-cache.js');
const { fileStore } = require('../../js/cjs/cost/file-store.js');
const { localStorageStore } = require('../../js/cjs/cost/local-storage-store.js');
const { indexedDbStore } = require('../../js/cjs/cost/indexed-db-store.js');
const { StoreError, isStoreError } = require('../../js/cjs/cost/errors.js');

const T0 = Date.UTC(2026, 10, 23, 9, 0, 0);
const DAY = 86_400_000;

/** A run function that counts its calls and resolves when told to (or at once). */
function runner(result = (i) => ({ rows: i })) {
  const calls = [];
  const run = () => {
    const i = calls.length + 1;
    let settle;
    const p = new Promise((resolve, reject) => { settle = { resolve, reject }; });
    calls.push({ i, ...settle });
    if (!run.manual) settle.resolve(result(i));
    return p;
  };
  run.calls = calls;
  run.manual = false;
  return run;
}

async function tempDir(t) {
  const dir = await mkdtemp(join(tmpdir(), 'tollgate-cost-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

test('an unchanged source hash serves the cached result without running; a new hash runs', async () => {
  const cache = new RunCache({ clock: fakeClock(T0) });
  const run = runner();
  assert.deepEqual(await cache.runIfChanged('p1', { sourceHash: 'h1', run }), { rows: 1 });
  assert.deepEqual(await cache.runIfChanged('p1', { sourceHash: 'h1', run }), { rows: 1 });
  assert.equal(run.calls.length, 1, 'the second call did not run');
  assert.deepEqual(await cache.runIfChanged('p1', { sourceHash: 'h2', run }), { rows: 2 });
  assert.deepEqual(await cache.runIfChanged('p2', { sourceHash: 'h2', run }), { rows: 3 }, 'projects are separate');
  assert.deepEqual(await cache.runIfChanged('p1', { sourceHash: 'h2', run }), { rows: 2 });
  assert.equal(run.calls.length, 3);
});

test('overlapping calls for the same project and hash share one run; another hash runs on its own', async () => {
  const cache = new RunCache({ clock: fakeClock(T0) });
  const run = runner();
  run.manual = true;
  const a = cache.runIfChanged('p1', { sourceHash: 'h1', run });
  const b = cache.runIfChanged('p1', { sourceHash: 'h1', run });
  const c = cache.runIfChanged('p1', { sourceHash: 'h2', run });
  await flush();
  assert.equal(run.calls.length, 2, 'one run for h1, one for h2');
  run.calls[0].resolve('for h1');
  run.calls[1].resolve('for h2');
  assert.deepEqual(await Promise.all([a, b, c]), ['for h1', 'for h1', 'for h2']);
  // The later call (h2) wins the cache: h2 is served, h1 runs again.
  run.manual = false;
  assert.equal(await cache.runIfChanged('p1', { sourceHash: 'h2', run }), 'for h2');
  assert.equal(run.calls.length, 2);
});

test('an older run that finishes last does not overwrite the newer result', async () => {
  const cache = new RunCache({ clock: fakeClock(T0) });
  const run = runner();
  run.manual = true;
  const old = cache.runIfChanged('p1', { sourceHash: 'old', run });
  const fresh = cache.runIfChanged('p1', { sourceHash: 'new', run });
  await flush();
  run.calls[1].resolve('new result');
  await fresh;
  run.calls[0].resolve('old result');
  assert.equal(await old, 'old result', 'its caller still gets it');
  run.manual = false;
  assert.equal(await cache.runIfChanged('p1', { sourceHash: 'new', run }), 'new result');
  assert.equal(run.calls.length, 2);
});

test('a failed run is not cached: every caller rejects with its own error, and the next call runs again', async () => {
  const cache = new RunCache({ clock: fakeClock(T0) });
  const run = runner();
  run.manual = true;
  const boom = new Error('Hex answered 500');
  const a = cache.runIfChanged('p1', { sourceHash: 'h1', run });
  const b = cache.runIfChanged('p1', { sourceHash: 'h1', run });
  await flush();
  run.calls[0].reject(boom);
  await assert.rejects(a, (e) => e === boom);
  await assert.rejects(b, (e) => e === boom);
  run.manual = false;
  assert.deepEqual(await cache.runIfChanged('p1', { sourceHash: 'h1', run }), { rows: 2 });
  assert.equal(run.calls.length, 2);
  // A run that throws synchronously rejects too (no throw out of runIfChanged).
  const sync = new TypeError('bad input');
  await assert.rejects(cache.runIfChanged('p2', { sourceHash: 'h', run: () => { throw sync; } }), (e) => e === sync);
});

test('entries expire after `ttl` (default one day), counted from when the run finished', async () => {
  const clock = fakeClock(T0);
  const cache = new RunCache({ clock });
  const run = runner();
  await cache.runIfChanged('p1', { sourceHash: 'h1', run });
  clock.set(T0 + DAY - 1);
  await cache.runIfChanged('p1', { sourceHash: 'h1', run });
  assert.equal(run.calls.length, 1, 'still fresh 1 ms before a day');
  clock.set(T0 + DAY);
  assert.deepEqual(await cache.runIfChanged('p1', { sourceHash: 'h1', run }), { rows: 2 }, 'expired at exactly a day');

  const short = new RunCache({ clock, ttl: '10m' });
  await short.runIfChanged('p1', { sourceHash: 'h1', run });
  clock.set(clock.now() + 600_000);
  await short.runIfChanged('p1', { sourceHash: 'h1', run });
  assert.equal(run.calls.length, 4);
  const forever = new RunCache({ clock, ttl: Infinity });
  await forever.runIfChanged('p1', { sourceHash: 'h1', run });
  clock.set(clock.now() + 3650 * DAY);
  await forever.runIfChanged('p1', { sourceHash: 'h1', run });
  assert.equal(run.calls.length, 5);
});

test('the memory holds `maxEntries` projects, the least recently used leaving first', async () => {
  const cache = new RunCache({ clock: fakeClock(T0), maxEntries: 2 });
  const run = runner();
  const get = (id) => cache.runIfChanged(id, { sourceHash: 'h', run });
  await get('a');
  await get('b');
  await get('a'); // a is now the most recently used
  await get('c'); // evicts b
  assert.equal(run.calls.length, 3);
  await get('a');
  await get('c');
  assert.equal(run.calls.length, 3, 'a and c kept');
  await get('b');
  assert.equal(run.calls.length, 4, 'b was evicted');
});

test('invalidate(projectId) forgets one project, invalidate() all; a run in flight is not kept', async () => {
  const cache = new RunCache({ clock: fakeClock(T0) });
  const run = runner();
  const get = (id) => cache.runIfChanged(id, { sourceHash: 'h', run });
  await get('a');
  await get('b');
  await cache.invalidate('a');
  await get('a');
  await get('b');
  assert.equal(run.calls.length, 3, 'only a ran again');
  await cache.invalidate();
  await get('a');
  await get('b');
  assert.equal(run.calls.length, 5);

  run.manual = true;
  const inFlight = get('c');
  await flush();
  await cache.invalidate('c');
  const after = get('c'); // does not join the invalidated run
  await flush();
  assert.equal(run.calls.length, 7);
  run.calls[5].resolve('before');
  run.calls[6].resolve('after');
  assert.equal(await inFlight, 'before');
  assert.equal(await after, 'after');
  run.manual = false;
  assert.equal(await get('c'), 'after');
  assert.equal(run.calls.length, 7);
});

test('invalidate() while a saved result is being read: the old result is not served, the project runs', async () => {
  const saved = new Map();
  let release;
  const slow = {
    // Read, then slow to answer: the delete of invalidate() lands after the read.
    get: async (key) => {
      const value = saved.get(key);
      if (key.startsWith('run:')) await new Promise((resolve) => { release = resolve; });
      return value;
    },
    set: async (key, value) => { saved.set(key, value); },
    delete: async (key) => { saved.delete(key); },
  };
  const clock = fakeClock(T0);
  const run = runner();
  release = () => {};
  const first = new RunCache({ clock, store: { ...slow, get: async (key) => saved.get(key) } });
  await first.runIfChanged('p1', { sourceHash: 'h', run });
  const second = new RunCache({ clock, store: slow });
  const pending = second.runIfChanged('p1', { sourceHash: 'h', run });
  await flush();
  const invalidated = second.invalidate('p1');
  release();
  await invalidated;
  assert.deepEqual(await pending, { rows: 2 });
  assert.equal(run.calls.length, 2);
});

test('bad options and arguments are TypeErrors naming them', async () => {
  assert.throws(() => new RunCache({ maxEntries: 0 }), (e) => e instanceof TypeError && e.message.includes('`maxEntries`'));
  assert.throws(() => new RunCache({ ttl: 'soon' }), (e) => e instanceof TypeError && e.message.includes('`ttl`'));
  assert.throws(() => new RunCache({ ttl: 0 }), (e) => e instanceof TypeError && e.message.includes('`ttl`'));
  assert.throws(() => new RunCache({ store: {} }), (e) => e instanceof TypeError && e.message.includes('`store`'));
  assert.throws(() => new RunCache({ clock: {} }), (e) => e instanceof TypeError && e.message.includes('`clock`'));
  const cache = new RunCache();
  await assert.rejects(cache.runIfChanged('', { sourceHash: 'h', run: () => 1 }), /`projectId`/);
  await assert.rejects(cache.runIfChanged('p', { sourceHash: 42, run: () => 1 }), /`sourceHash`/);
  await assert.rejects(cache.runIfChanged('p', { sourceHash: 'h' }), /`run`/);
  assert.throws(() => fileStore(''), /`path`/);
});

test('fileStore: results survive a restart; the TTL and invalidate() do too', async (t) => {
  const file = join(await tempDir(t), 'nested', 'runs.json');
  const clock = fakeClock(T0);
  const run = runner();
  const first = new RunCache({ clock, store: fileStore(file) });
  await first.runIfChanged('p1', { sourceHash: 'h1', run });
  await first.runIfChanged('p2', { sourceHash: 'h1', run });
  assert.equal(run.calls.length, 2);

  // A new process: a new cache on the same file.
  const second = new RunCache({ clock, store: fileStore(file) });
  assert.deepEqual(await second.runIfChanged('p1', { sourceHash: 'h1', run }), { rows: 1 });
  assert.equal(run.calls.length, 1 + 1, 'served from the file');
  assert.deepEqual(await second.runIfChanged('p1', { sourceHash: 'h2', run }), { rows: 3 }, 'a new hash runs');

  clock.set(T0 + DAY);
  const third = new RunCache({ clock, store: fileStore(file) });
  await third.runIfChanged('p2', { sourceHash: 'h1', run });
  assert.equal(run.calls.length, 4, 'expired in the file too');

  clock.set(T0 + DAY + 1_000);
  await third.invalidate();
  const fourth = new RunCache({ clock, store: fileStore(file) });
  await fourth.runIfChanged('p2', { sourceHash: 'h1', run });
  assert.equal(run.calls.length, 5, 'invalidate() reached a result saved before it, fresh as it was');
  clock.set(T0 + DAY + 2_000);
  await new RunCache({ clock, store: fileStore(file) }).runIfChanged('p2', { sourceHash: 'h1', run });
  assert.equal(run.calls.length, 5, 'a result saved after invalidate() is served');
  await fourth.invalidate('p2');
  const fifth = new RunCache({ clock, store: fileStore(file) });
  await fifth.runIfChanged('p2', { sourceHash: 'h1', run });
  assert.equal(run.calls.length, 6, 'invalidate(projectId) deleted it from the file');

  // Written atomically: only the file itself, no temporary files left behind.
  assert.deepEqual(await readdir(join(file, '..')), ['runs.json']);
  const saved = JSON.parse(await readFile(file, 'utf8'));
  assert.equal(saved.format, 'tollgate-store');
});

test('fileStore: a file that cannot be read rejects with the system error; a missing one is empty', async (t) => {
  const dir = await tempDir(t);
  await assert.rejects(fileStore(dir).get('k'), { code: 'EISDIR' });
  assert.equal(await fileStore(join(dir, 'absent.json')).get('k'), undefined);
});

test('fileStore: concurrent writes from two stores of one file lose nothing', async (t) => {
  const file = join(await tempDir(t), 'kv.json');
  const a = fileStore(file);
  const b = fileStore(file);
  await Promise.all(Array.from({ length: 40 }, (_, i) => (i % 2 ? a : b).set(`k${i}`, `v${i}`)));
  await a.delete('k0');
  await a.delete('never there');
  for (let i = 1; i < 40; i++) assert.equal(await b.get(`k${i}`), `v${i}`);
  assert.equal(await b.get('k0'), undefined);
  await a.set('__proto__', 'a key like any other');
  assert.equal(await fileStore(file).get('__proto__'), 'a key like any other');
});

test('fileStore: a corrupt file is a StoreError and is never overwritten; RunCache still runs and reports it', async (t) => {
  const dir = await tempDir(t);
  const cases = ['{"format":"tollgate-st', '{"name":"someone else\'s file"}', '{"format":"tollgate-store","version":9,"entries":{}}',
    '{"format":"tollgate-store","version":1,"entries":{"k":1}}'];
  for (const [i, text] of cases.entries()) {
    const file = join(dir, `bad${i}.json`);
    await writeFile(file, text);
    const store = fileStore(file);
    await assert.rejects(store.get('k'), (e) => e instanceof StoreError && isStoreError(e) && e.location === file && e.message.includes(file));
    await assert.rejects(store.set('k', 'v'), StoreError);
    assert.equal(await readFile(file, 'utf8'), text, 'left untouched');
  }

  const file = join(dir, 'bad0.json');
  const cache = new RunCache({ clock: fakeClock(T0), store: fileStore(file) });
  const reported = [];
  cache.addEventListener('store-error', (e) => reported.push(e.detail));
  const run = runner();
  assert.deepEqual(await cache.runIfChanged('p1', { sourceHash: 'h', run }), { rows: 1 });
  assert.deepEqual(reported.map((d) => [d.operation, d.projectId, d.error.name]), [['get', 'p1', 'StoreError'], ['set', 'p1', 'StoreError']]);
  assert.deepEqual(await cache.runIfChanged('p1', { sourceHash: 'h', run }), { rows: 1 }, 'kept in memory');
  assert.equal(run.calls.length, 1);
});

test('a result that is not JSON-safe is returned and kept in memory, and reported', async (t) => {
  const file = join(await tempDir(t), 'runs.json');
  const cache = new RunCache({ clock: fakeClock(T0), store: fileStore(file) });
  const reported = [];
  cache.addEventListener('store-error', (e) => reported.push(e.detail));
  const result = { total: 10n };
  assert.equal(await cache.runIfChanged('p1', { sourceHash: 'h', run: () => result }), result);
  assert.equal(reported.length, 1);
  assert.ok(isStoreError(reported[0].error) && reported[0].error.cause instanceof TypeError);
});

/** The part of the Web Storage API localStorageStore uses, backed by a Map. */
function memoryStorage() {
  const data = new Map();
  return {
    data,
    getItem: (k) => (data.has(k) ? data.get(k) : null),
    setItem: (k, v) => data.set(k, String(v)),
    removeItem: (k) => data.delete(k),
  };
}

test('localStorageStore: prefixed keys in localStorage; RunCache results survive a reload', async (t) => {
  const storage = memoryStorage();
  globalThis.localStorage = storage;
  t.after(() => delete globalThis.localStorage);
  const a = localStorageStore('app-a:');
  const b = localStorageStore('app-b:');
  await a.set('k', 'from a');
  await b.set('k', 'from b');
  assert.equal(await a.get('k'), 'from a');
  assert.equal(await b.get('k'), 'from b');
  assert.equal(await a.get('missing'), undefined);
  await a.delete('k');
  assert.equal(await a.get('k'), undefined);
  assert.deepEqual([...storage.data.keys()], ['app-b:k']);
  await assert.rejects(a.set('k', 42), /`value`/);

  const run = runner();
  const clock = fakeClock(T0);
  await new RunCache({ clock, store: localStorageStore() }).runIfChanged('p1', { sourceHash: 'h', run });
  assert.ok(storage.data.has('tollgate:run:p1'), 'the default prefix');
  await new RunCache({ clock, store: localStorageStore() }).runIfChanged('p1', { sourceHash: 'h', run });
  assert.equal(run.calls.length, 1);
});

test('localStorageStore and indexedDbStore: a clear TypeError where the global is missing', () => {
  assert.equal(globalThis.localStorage, undefined);
  assert.equal(globalThis.indexedDB, undefined);
  assert.throws(() => localStorageStore(), (e) => e instanceof TypeError && e.message.includes('`localStorage` is not available'));
  assert.throws(() => indexedDbStore(), (e) => e instanceof TypeError && e.message.includes('`indexedDB` is not available'));
  Object.defineProperty(globalThis, 'localStorage', { configurable: true, get() { throw new Error('SecurityError: denied'); } });
  try {
    assert.throws(() => localStorageStore(), (e) => e instanceof TypeError && /not accessible here: SecurityError/.test(e.message));
  } finally {
    delete globalThis.localStorage;
  }
});

/**
 * Just enough of IndexedDB for indexedDbStore, with its asynchrony: requests
 * succeed, then their transaction completes, each in a later task. The real
 * browser test comes separately; this checks the store's own wiring.
 */
function memoryIndexedDb() {
  const databases = new Map();
  const later = (f) => setTimeout(f, 0);
  return {
    databases,
    open(name, version) {
      const request = {};
      later(() => {
        let db = databases.get(name);
        const upgrade = db === undefined;
        if (upgrade) databases.set(name, (db = { version, stores: new Map() }));
        const handle = {
          objectStoreNames: { contains: (s) => db.stores.has(s) },
          createObjectStore: (s) => db.stores.set(s, new Map()),
          close() {},
          transaction(storeName, mode) {
            const data = db.stores.get(storeName);
            const tx = { objectStore: () => store };
            const op = (f) => {
              const req = {};
              later(() => {
                req.result = f();
                later(() => tx.oncomplete?.());
              });
              return req;
            };
            const writable = () => { if (mode !== 'readwrite') throw new Error('ReadOnlyError'); };
            const store = {
              get: (k) => op(() => data.get(k)),
              put: (v, k) => { writable(); return op(() => { data.set(k, v); return k; }); },
              delete: (k) => { writable(); return op(() => { data.delete(k); }); },
            };
            return tx;
          },
        };
        request.result = handle;
        if (upgrade) request.onupgradeneeded?.();
        request.onsuccess?.();
      });
      return request;
    },
  };
}

test('indexedDbStore: opens once, creates its object store, reads and writes through transactions', async (t) => {
  const idb = memoryIndexedDb();
  globalThis.indexedDB = idb;
  t.after(() => delete globalThis.indexedDB);
  const store = indexedDbStore('tollgate-test');
  assert.equal(await store.get('k'), undefined);
  await store.set('k', 'v');
  assert.equal(idb.databases.get('tollgate-test').stores.get('entries').get('k'), 'v', 'committed before set resolved');
  assert.equal(await store.get('k'), 'v');
  await store.delete('k');
  assert.equal(await store.get('k'), undefined);
  await assert.rejects(store.set('k', {}), /`value`/);

  const run = runner();
  const clock = fakeClock(T0);
  await new RunCache({ clock, store: indexedDbStore() }).runIfChanged('p1', { sourceHash: 'h', run });
  await new RunCache({ clock, store: indexedDbStore() }).runIfChanged('p1', { sourceHash: 'h', run });
  assert.equal(run.calls.length, 1, 'served from the database after a reload');
});

test('a store that fails does not fail the call: it runs, keeps the result in memory and reports', async () => {
  const failing = { get: async () => { throw new Error('disk on fire'); }, set: async () => {}, delete: async () => {} };
  const cache = new RunCache({ clock: fakeClock(T0), store: failing });
  const reported = [];
  cache.addEventListener('store-error', (e) => reported.push([e.detail.operation, e.detail.error.message]));
  const run = runner();
  assert.deepEqual(await cache.runIfChanged('p1', { sourceHash: 'h', run }), { rows: 1 });
  // The save reads the store's generation first, which fails too: nothing is written over what could not be read.
  assert.deepEqual(reported, [['get', 'disk on fire'], ['set', 'disk on fire']]);
  assert.deepEqual(await cache.runIfChanged('p1', { sourceHash: 'h', run }), { rows: 1 });
  assert.equal(run.calls.length, 1);
  const writeFails = { get: async () => undefined, set: async () => { throw new Error('disk full'); }, delete: async () => {} };
  const other = new RunCache({ clock: fakeClock(T0), store: writeFails });
  await assert.rejects(other.invalidate(), /disk full/, 'an explicit invalidate() does report by rejecting');
});
