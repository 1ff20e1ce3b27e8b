// The Node entry as .ci/bundle-node.mjs builds it (issue 12, start-up): one
// file of the package loaded at start-up, the rarely used parts loaded on first
// use, and one instance of every module whichever way it is reached (the
// package, js/node.mjs, or a file of js/cjs).
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
const LAZY = ['shared/redis-store.js', 'tabs/store.js', 'hex/client.js', 'cost/response-cache.js', 'cost/headroom.js',
  'cost/file-store.js', 'cost/local-storage-store.js', 'cost/indexed-db-store.js', 'wasm/tollgate_feedback.js'];

/**
 * Runs `body` in a fresh Node process (CommonJS, in the repo), returns what it printed as JSON.
 * `files()`: the files of js/cjs loaded so far with code of their own (not the one-line hand-outs of a bundled module).
 */
function fresh(body) {
  const out = execFileSync(process.execPath, ['-e', `
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
  assert.deepEqual(r.afterFetch, ['node.js', 'wasm/inflate.js', 'wasm/tollgate_feedback.js'],
    'a rateLimitedFetch (its retry planner) loads the feedback wasm\'s bytes, nothing else');
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
        names: ['redisStore', 'tabStore', 'hexClient', 'responseCache', 'checkHeadroom', 'fileStore', 'localStorageStore', 'indexedDbStore'].map((n) => [n, t[n].name]) }));`);
    assert.deepEqual(r.loaded, [
      ['checkHeadroom', ['cost/headroom.js']],
      ['fileStore', ['cost/file-lock.js', 'cost/file-store.js', 'cost/headroom.js', 'cost/store.js']],
      ['localStorageStore', ['cost/file-lock.js', 'cost/file-store.js', 'cost/headroom.js', 'cost/local-storage-store.js', 'cost/store.js']],
      ['parseRateLimitHeaders', ['cost/file-lock.js', 'cost/file-store.js', 'cost/headroom.js', 'cost/local-storage-store.js', 'cost/store.js',
        'wasm/inflate.js', 'wasm/tollgate_feedback.js']],
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

test('the stand-ins of the lazily loaded modules cover each one of their exports', () => {
  const required = require('tollgate');
  for (const file of LAZY.filter((f) => !f.startsWith('wasm/'))) {
    for (const name of Object.keys(require(join(cjs, file))).filter((n) => n !== '__esModule')) {
      assert.equal(typeof required[name], 'function', `${file}: ${name}`);
      assert.equal(required[name].length, 0, `${file}: ${name} is the entry's stand-in, not the module's own function`);
    }
  }
});
