// A Vite 7 build of a tiny app that imports 'tollgate' (tests/browser/vite-app)
// works in the same Chromium: the bundler follows the package's `browser`
// export, keeps the top-level await, emits the wasm as an asset, and the built
// app limits.
//
// Vite comes from the repo's node_modules when it is there at major 7, else it is
// installed once into a cache directory under the system's temp dir (npm; ~10 s).
// The app is copied into a fresh temp dir, with node_modules/tollgate linked to
// this repo, as an npm `file:` dependency would be.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { launch } from './chromium.mjs';
import { startStaticServer } from './static.mjs';

const VITE = '7.3.8';
const repo = fileURLToPath(new URL('../..', import.meta.url));
const app = fileURLToPath(new URL('./vite-app', import.meta.url));

function viteDir() {
  const local = join(repo, 'node_modules/vite');
  if (existsSync(join(local, 'package.json')) && JSON.parse(readFileSync(join(local, 'package.json'), 'utf8')).version.startsWith('7.')) return local;
  const cache = join(tmpdir(), `tollgate-vite-${VITE}`);
  const installed = join(cache, 'node_modules/vite');
  if (!existsSync(join(installed, 'package.json'))) {
    mkdirSync(cache, { recursive: true });
    writeFileSync(join(cache, 'package.json'), '{ "private": true }\n');
    execFileSync('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error', `vite@${VITE}`], { cwd: cache, stdio: 'inherit', timeout: 40_000 });
  }
  return installed;
}

test('a Vite 7 build of an app importing tollgate runs and limits in Chromium', { timeout: 60_000 }, async (t) => {
  const { build } = await import(pathToFileURL(join(viteDir(), 'dist/node/index.js')).href);
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-vite-app-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  cpSync(app, dir, { recursive: true });
  mkdirSync(join(dir, 'node_modules'));
  symlinkSync(repo, join(dir, 'node_modules/tollgate'), 'dir');

  await build({ root: dir, configFile: false, logLevel: 'warn', build: { outDir: join(dir, 'dist') } });
  const assets = readdirSync(join(dir, 'dist/assets'));
  assert.ok(assets.some((f) => f.endsWith('.wasm')), `the wasm is emitted as an asset: ${assets}`);
  const js = assets.filter((f) => f.endsWith('.js')).map((f) => readFileSync(join(dir, 'dist/assets', f), 'utf8')).join('\n');
  assert.doesNotMatch(js, /require\(|node:/, 'no Node entry in the browser bundle');

  let served = 0;
  const browser = await launch(); // first: if it throws, no server is left open to hold the process
  const site = await startStaticServer({
    root: join(dir, 'dist'),
    routes: { '/api/ping': (req, res) => { served++; res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}'); } },
  });
  t.after(async () => {
    await browser.close();
    await site.close();
  });
  const page = await browser.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(`${site.url}/`);
  const result = await Promise.race([
    page.waitForFunction(() => window.result, null, { timeout: 15_000 }).then((h) => h.jsonValue()),
    page.waitForEvent('pageerror', { timeout: 15_000 }).then((e) => ({ error: e.message })),
  ]);
  if (result.error?.includes('wasm core is not loaded')) {
    assert.fail('the bundle dropped the browser entry’s wasm initialisation: package.json `"sideEffects": false` lets the '
      + 'bundler tree-shake js/dist/browser.js’s top-level `await init(); useCore(glue)`; list the entries instead: '
      + '"sideEffects": ["./js/dist/browser.js", "./js/node.mjs", "./js/cjs/node.js"]');
  }
  assert.equal(result.error, undefined);
  assert.deepEqual(errors, []);
  assert.deepEqual(result.admitted, [true, true, false]);
  assert.ok(result.waitMs > 59_000 && result.waitMs <= 60_000, `the third waits for the minute window: ${result.waitMs} ms`);
  assert.equal(result.named, 'InsufficientCapacityError');
  assert.deepEqual(result.statuses, [200, 200, 200]);
  assert.equal(result.nextOk, false);
  assert.ok(result.nextWaitMs > 3_500_000 && result.nextWaitMs <= 3_600_000);
  assert.equal(served, 3);
});
