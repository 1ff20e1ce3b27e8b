// The Node entry as .ci/bundle-node.mjs builds it (issue 12, start-up): one
// file of the package loaded at start-up (js/node.mjs for `import`, with no
// CommonJS file; js/cjs/node.js for `require`), the rarely used parts loaded
// on first use (rateLimitedFetch's modules as one file, js/cjs/chunks/fetch.js),
// and one instance of every module whichever way it is reached
// first (the package by `import` or `require`, or a file of js/cjs).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import * as imported from 'tollgate';

const require = createRequire(import.meta.url);
const root = fileURLToPath(new URL('../..', import.meta.url));
const cjs = join(root, 'js', 'cjs');
/** The modules the entry loads on first use (LAZY in .ci/bundle-node.mjs) whose functions the package exports. */
const LAZY = ['fetch.js', 'feedback.js', 'shared/options.js', 'tabs/open.js', 'shared/redis-store.js', 'tabs/store.js', 'hex/client.js',
  'cost/response-cache.js', 'cost/headroom.js', 'cost/file-store.js', 'cost/local-storage-store.js', 'cost/indexed-db-store.js'];

/**
 * Runs `body` in a fresh Node process (CommonJS, in the repo), returns what it printed as JSON.
 * `files()`: the files of js/cjs loaded so far with code of their own (not the one-line hand-outs of a bundled module).
 */
function fresh(body, { esm = false } = {}) {
  const out = execFileSync(process.execPath, [...(esm ? ['--input-type=module'] : []), '-e', `
    ${esm ? "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);" : ''}
    const files = () => Object.keys(require.cache).filter((f) => f.startsWith(${JSON.stringify(cjs)}))
      .filter((f) => !require('node:fs').readFileSync(f, 'utf8').includes('by .ci/bundle-node.mjs: this file hands out'))
      .map((f) => f.slice(${cjs.length + 1}).split('\\\\').join('/')).sort();
    ${body}`], { cwd: root, encoding: 'utf8' });
  return JSON.parse(out);
}

test('start-up loads one file of the package; a first decision loads nothing more', () => {
  const r = fresh(`
    const t = require('tollgate');
    const atStart = files();
    const limiter = new t.Limiter({ windows: [{ limit: 2, per: '1m' }] });
    const ok = limiter.tryAcquire().ok;
    const afterDecision = files();
    t.rateLimitedFetch(fetch, { routes: [{ url: '/x', windows: [{ limit: 1, per: '1s' }] }] });
    console.log(JSON.stringify({ atStart, ok, afterDecision, afterFetch: files() }));`);
  assert.deepEqual(r.atStart, ['node.js']);
  assert.equal(r.ok, true);
  assert.deepEqual(r.afterDecision, ['node.js'], 'a Limiter needs no other file');
  assert.deepEqual(r.afterFetch, ['chunks/fetch.js', 'node.js', 'wasm/tollgate_feedback.js'],
    'a rateLimitedFetch loads one file of its modules (routes, feedback, retries...) and the feedback wasm\'s bytes, nothing else');
});

test('import loads js/node.mjs alone, no CommonJS file, until a lazily loaded part is called', () => {
  const r = fresh(`
    const t = await import('tollgate');
    const limiter = new t.Limiter({ windows: [{ limit: 2, per: '1m' }] });
    const ok = limiter.tryAcquire().ok;
    const afterDecision = files();
    // Lazily loaded through a require made on first use: its errors are the package's classes.
    let error;
    try { t.Limiter.restore({ version: 99 }); } catch (e) { error = e instanceof t.SnapshotError && e instanceof t.TollgateError; }
    const afterRestore = files();
    const headers = t.parseRateLimitHeaders(new Headers({ 'ratelimit-limit': '10', 'ratelimit-remaining': '4', 'ratelimit-reset': '30' }), 1000);
    console.log(JSON.stringify({ ok, afterDecision, error, afterRestore, remaining: headers.windows[0]?.remaining, afterHeaders: files() }));`,
  { esm: true });
  assert.equal(r.ok, true);
  assert.deepEqual(r.afterDecision, [], 'the ES module entry needs no CommonJS file for a decision');
  assert.equal(r.error, true, 'a lazily loaded module throws the classes the ES module entry exports');
  assert.deepEqual(r.afterRestore, ['snapshot.js'], 'snapshot.js alone: its imports of bundled modules are handed out from the ES module entry, not js/cjs/node.js');
  assert.equal(r.remaining, 4);
  assert.deepEqual(r.afterHeaders, ['chunks/fetch.js', 'snapshot.js', 'wasm/tollgate_feedback.js']);
});

test('each rarely used part is loaded on its first call, through a stand-in that passes arguments, this and errors through', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-entry-'));
  try {
    const r = fresh(`
      const t = require('tollgate');
      const loaded = [];
      const seen = (what) => loaded.push([what, files().filter((f) => f !== 'node.js')]);
      t.checkHeadroom(42).catch(() => {}); seen('checkHeadroom');
      let error; try { t.fileStore(''); } catch (e) { error = e instanceof TypeError && /\`path\`/.test(e.message); }
      const store = t.fileStore(${JSON.stringify(join(dir, 'runs.json'))}); seen('fileStore');
      let error2; try { t.localStorageStore(); } catch (e) { error2 = e instanceof TypeError && /localStorage/.test(e.message); } seen('localStorageStore');
      const parsed = t.parseRateLimitHeaders(new Headers({ 'ratelimit-limit': '10', 'ratelimit-remaining': '4', 'ratelimit-reset': '30' }), 1000); seen('parseRateLimitHeaders');
      console.log(JSON.stringify({ loaded, error, error2, store: typeof store.get, remaining: parsed.windows[0]?.remaining,
        names: ['rateLimitedFetch', 'parseRateLimitHeaders', 'normalizeSharedOptions', 'openShared', 'redisStore', 'tabStore', 'hexClient',
          'responseCache', 'checkHeadroom', 'fileStore', 'localStorageStore', 'indexedDbStore'].map((n) => [n, t[n].name]) }));`);
    assert.deepEqual(r.loaded, [
      ['checkHeadroom', ['cost/headroom.js', 'cost/options.js']],
      ['fileStore', ['cost/file-lock.js', 'cost/file-store.js', 'cost/headroom.js', 'cost/options.js', 'cost/store.js']],
      ['localStorageStore', ['cost/file-lock.js', 'cost/file-store.js', 'cost/headroom.js', 'cost/local-storage-store.js', 'cost/options.js', 'cost/store.js']],
      ['parseRateLimitHeaders', ['chunks/fetch.js', 'cost/file-lock.js', 'cost/file-store.js', 'cost/headroom.js', 'cost/local-storage-store.js',
        'cost/options.js', 'cost/store.js', 'wasm/tollgate_feedback.js']],
    ], 'only the part called is loaded (with what it imports that the entry does not hold)');
    assert.equal(r.error, true, 'an error of the real function comes out of the stand-in');
    assert.equal(r.error2, true);
    assert.equal(r.store, 'function');
    assert.equal(r.remaining, 4);
    for (const [name, fnName] of r.names) assert.equal(fnName, name, 'a stand-in keeps its function name');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('import, require and every file of js/cjs give one instance of each module', () => {
  const required = require('tollgate');
  assert.deepEqual(Object.keys(imported).sort(), Object.keys(required).sort(), 'js/node.mjs names every export of the CommonJS entry');
  for (const name of Object.keys(required)) assert.equal(imported[name], required[name], name);
  // A bundled module's own file hands out the bundle's instance: the same classes and the same wasm.
  assert.equal(require(join(cjs, 'limiter.js')).Limiter, required.Limiter);
  assert.equal(require(join(cjs, 'errors.js')).TollgateError, required.TollgateError);
  assert.equal(require(join(cjs, 'cost/run-cache.js')).RunCache, required.RunCache);
  const { wasm } = require(join(cjs, 'core.js'));
  const before = wasm.memory.buffer.byteLength;
  assert.ok(before > 0 && typeof wasm.tg_try_acquire === 'function', 'the entry set the core up');
  // A lazily loaded file imports the bundled modules through those files: a Hex client's errors are the package's.
  const { hexClient } = require(join(cjs, 'hex/client.js'));
  assert.throws(() => hexClient({}), (e) => e instanceof TypeError && /`baseUrl`/.test(e.message));
  const { HexApiError } = require(join(cjs, 'hex/errors.js'));
  assert.equal(HexApiError, required.HexApiError);
  assert.ok(new HexApiError('x', { status: 500 }) instanceof required.TollgateError);
});

test('require first, then import: the ES module entry hands out the CommonJS one\'s instance', () => {
  const r = fresh(`
    const required = require('tollgate');
    import('tollgate').then((imported) => {
      const names = Object.keys(required).sort();
      const same = names.filter((n) => imported[n] === required[n]);
      const limiter = new imported.Limiter({ windows: [{ limit: 1, per: '1m' }] });
      const first = limiter.tryAcquire().ok, second = limiter.tryAcquire().ok;
      console.log(JSON.stringify({ names, same, importedNames: Object.keys(imported).sort(), instance: limiter instanceof required.Limiter, first, second }));
    });`);
  assert.deepEqual(r.same, r.names, 'every export is the CommonJS entry\'s');
  assert.deepEqual(r.importedNames, r.names);
  assert.equal(r.instance, true);
  assert.deepEqual([r.first, r.second], [true, false], 'one wasm instance behind both');
});

test('the entry\'s exports are one frozen object of values, the same for import and require', () => {
  const required = require('tollgate');
  assert.ok(Object.isFrozen(required));
  for (const name of Object.keys(required)) {
    const d = Object.getOwnPropertyDescriptor(required, name);
    assert.ok('value' in d && d.enumerable && !d.writable, `${name}: a read-only value, not a getter`);
  }
  assert.equal(required.__esModule, true);
  assert.ok(!Object.keys(required).includes('__esModule'));
});

test('the stand-ins of the lazily loaded modules cover each of their functions the package exports', () => {
  const required = require('tollgate');
  let covered = 0;
  for (const file of LAZY) {
    const mod = require(join(cjs, file));
    for (const name of Object.keys(mod).filter((n) => n !== '__esModule' && n in required)) {
      assert.equal(typeof required[name], 'function', `${file}: ${name}`);
      assert.notEqual(required[name], mod[name], `${file}: ${name} is the entry's stand-in, not the module's own function`);
      assert.equal(required[name].length, 0, `${file}: ${name} is the entry's stand-in`);
      covered++;
    }
  }
  assert.ok(covered >= LAZY.length, 'each module in the list gives the package at least one function');
});

test('with a globalThis that takes no new property (SES-style lockdown), both entries still load, each with its own instance', () => {
  const r = fresh(`
    Object.preventExtensions(globalThis);
    const required = require('tollgate');
    import('tollgate').then((imported) => {
      const decide = (t) => new t.Limiter({ windows: [{ limit: 1, per: '1s' }] }).tryAcquire().ok;
      console.log(JSON.stringify({ required: decide(required), imported: decide(imported), same: imported.Limiter === required.Limiter }));
    });`);
  assert.deepEqual(r, { required: true, imported: true, same: false });
});
