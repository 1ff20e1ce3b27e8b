// esbuild, webpack 5, Rollup, Vite and `bun build` each bundle a tiny app that imports
// 'tollgate' (tests/bundlers/app), with no configuration beyond naming the entry
// (Rollup: its node-resolve plugin, without which it resolves no npm package).
// Each bundle then runs in Chromium and decides: a Limiter admits, refuses with
// the exact wait and names an error, and rateLimitedFetch sends three requests to
// a local server and holds the fourth.
//
// The package's `module`/`browser`/`default` export is the inline entry
// (js/src/inline.ts), so no bundler has to emit a .wasm file or keep a top-level
// await; the pages must not request one either. Also bundles made for Node
// (esbuild --platform=node, webpack target node) must run with no node_modules
// beside them. The builds run at once, in this process.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFileSync, cpSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { launch } from '../browser/chromium.mjs';
import { startStaticServer } from '../browser/static.mjs';
import { checkScenario } from './check.mjs';

const repo = fileURLToPath(new URL('../..', import.meta.url));
const app = fileURLToPath(new URL('./app', import.meta.url));

/** Each bundler as its users call it; returns the directory to serve. */
const BUNDLERS = {
  // `esbuild main.js --bundle`: the browser platform, an IIFE (no top-level await allowed).
  async esbuild(dir) {
    const esbuild = await import('esbuild');
    await esbuild.build({ entryPoints: [join(dir, 'main.js')], bundle: true, outfile: join(dir, 'out/app.js'), logLevel: 'silent' });
    return page(dir, '<script src="app.js"></script>');
  },
  // webpack's defaults: `webpack` with ./src/index.js renamed; production mode.
  async webpack(dir) {
    const { default: webpack } = await import('webpack');
    const stats = await new Promise((ok, fail) => webpack({
      mode: 'production', context: dir, entry: './main.js', output: { path: join(dir, 'out'), filename: 'app.js' },
    }, (err, s) => (err ? fail(err) : ok(s))));
    assert.ok(!stats.hasErrors(), `webpack: ${stats.toString('errors-only')}`);
    return page(dir, '<script src="app.js"></script>');
  },
  // `rollup -p node-resolve main.js -d out`: ES module output.
  async rollup(dir) {
    const { rollup } = await import('rollup');
    const { nodeResolve } = await import('@rollup/plugin-node-resolve');
    const bundle = await rollup({ input: join(dir, 'main.js'), plugins: [nodeResolve()], onwarn: (w) => { throw new Error(`rollup: ${w.message}`); } });
    await bundle.write({ dir: join(dir, 'out'), format: 'es', entryFileNames: 'app.js' });
    await bundle.close();
    return page(dir, '<script type="module" src="app.js"></script>');
  },
  // `bun build main.js --target=browser` (Bun from its npm package).
  async 'bun build'(dir) {
    const r = await new Promise((ok) => execFile(join(repo, 'node_modules/.bin/bun'), ['build', 'main.js', '--target=browser', '--outfile=out/app.js'],
      { cwd: dir, timeout: 60_000 }, (error, stdout, stderr) => ok({ error, output: `${stdout}${stderr}` })));
    assert.equal(r.error, null, `bun build failed: ${r.output}`);
    return page(dir, '<script type="module" src="app.js"></script>');
  },
  // No bundler: the browser loads the ES modules as they are installed, with an
  // import map naming the inline entry (what the README's plain `<script type="module">` does).
  async 'no bundler (import map)'(dir) {
    symlinkSync(join(dir, 'node_modules/tollgate'), join(dir, 'out/tollgate'), 'dir');
    for (const f of ['main.js', 'scenario.js']) cpSync(join(dir, f), join(dir, 'out', f));
    return page(dir, '<script type="importmap">{ "imports": { "tollgate": "./tollgate/js/dist/inline.js" } }</script>'
      + '<script type="module" src="main.js"></script>');
  },
  // `vite build` of index.html.
  async vite(dir) {
    const { build } = await import('vite');
    await build({ root: dir, configFile: false, logLevel: 'silent', build: { outDir: join(dir, 'out') } });
    return join(dir, 'out');
  },
  // The opt-in `tollgate/web` entry in Vite: the wasm as its own asset, fetched
  // and compiled while it streams, behind a top-level await.
  async 'vite, tollgate/web'(dir) {
    const main = join(dir, 'main.js');
    const source = readFileSync(main, 'utf8');
    const web = source.replace("import * as tollgate from 'tollgate';", "import * as tollgate from 'tollgate/web';");
    assert.notEqual(web, source, 'main.js imports tollgate as expected');
    writeFileSync(main, web);
    return BUNDLERS.vite(dir);
  },
};

/** The bundles that load the wasm as a file of their own; all others carry it inside. */
const WASM_AS_FILE = new Set(['vite, tollgate/web']);

/** An index.html beside the bundle; returns the directory to serve. */
function page(dir, script) {
  writeFileSync(join(dir, 'out/index.html'), `<!doctype html><meta charset="utf-8"><title>bundle</title>${script}\n`);
  return join(dir, 'out');
}

/** Every file under dir, relative. */
function files(dir, prefix = '') {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory()
    ? files(join(dir, e.name), `${prefix}${e.name}/`) : [`${prefix}${e.name}`]));
}

let browser;
const temps = [];
before(async () => { browser = await launch(); });
after(async () => {
  await browser?.close();
  for (const t of temps) rmSync(t, { recursive: true, force: true });
});

// The browser and the Node bundles at once: bundling is mostly waiting on one core each.
describe('bundlers', { concurrency: true }, () => {
describe('an app importing tollgate, bundled with no configuration, decides in Chromium', { concurrency: true }, () => {
  for (const [name, bundle] of Object.entries(BUNDLERS)) {
    test(name, { timeout: 90_000 }, async (t) => {
      // The app in a fresh directory, with node_modules/tollgate linked to this
      // repo, as an npm `file:` dependency would be.
      const dir = mkdtempSync(join(tmpdir(), `tollgate-${name.replace(/\W+/g, '-')}-`));
      temps.push(dir);
      cpSync(app, dir, { recursive: true });
      mkdirSync(join(dir, 'node_modules'));
      symlinkSync(repo, join(dir, 'node_modules/tollgate'), 'dir');
      mkdirSync(join(dir, 'out'));

      const out = await bundle(dir);
      const built = files(out).filter((f) => f !== 'tollgate'); // the no-bundler case's link to the package
      t.diagnostic(`${name}: ${built.join(', ')}`);
      const wasmFiles = built.filter((f) => f.endsWith('.wasm'));
      if (WASM_AS_FILE.has(name)) assert.ok(wasmFiles.length > 0, `${name}: the wasm is emitted as an asset: ${built}`);
      else assert.deepEqual(wasmFiles, [], `${name} emitted a .wasm file: the inline entry's glue still names one`);
      const js = built.filter((f) => f.endsWith('.js')).map((f) => readFileSync(join(out, f), 'utf8')).join('\n');
      // The Node glue reads its wasm from disk beside itself; a browser bundle must not carry it.
      assert.ok(!/readFileSync|__dirname/.test(js), `${name}: the Node entry (pkg/node) slipped into the browser bundle`);

      let served = 0;
      const site = await startStaticServer({
        root: out,
        routes: {
          '/api/ping': (req, res) => { served++; res.writeHead(200, { 'content-type': 'text/plain' }).end(`pong ${served}`); },
          '/favicon.ico': (req, res) => res.writeHead(204).end(), // else a 404 in the console
        },
      });
      t.after(() => site.close());
      const tab = await browser.newPage();
      t.after(() => tab.close());
      const errors = [];
      const wasmRequests = [];
      tab.on('pageerror', (e) => errors.push(e.message));
      tab.on('console', (m) => { if (m.type() === 'error' || m.type() === 'warning') errors.push(m.text()); });
      tab.on('request', (r) => { if (/\.wasm(\?|$)/.test(r.url())) wasmRequests.push(r.url()); });
      await tab.goto(`${site.url}/`);
      // The app's result, or the first page error (a bundle that fails before the app runs sets no result).
      const result = await Promise.race([
        tab.waitForFunction(() => window.result, null, { timeout: 20_000 }).then((h) => h.jsonValue()),
        tab.waitForEvent('pageerror', { timeout: 20_000 }).then((e) => ({ error: e.message })),
      ]);

      assert.equal(result.error, undefined, `the bundle failed in the page: ${result.error}`);
      assert.deepEqual(errors, [], 'no page errors or console errors/warnings');
      if (WASM_AS_FILE.has(name)) assert.equal(wasmRequests.length, wasmFiles.length, `${name}: the page fetches each wasm asset once: ${wasmRequests}`);
      else assert.deepEqual(wasmRequests, [], 'the wasm comes inside the bundle, not as a request');
      checkScenario(result, served);
    });
  }
});

/** Bundles for Node (a server or a function): the wasm must come inside, not be read from beside the package. */
const NODE_BUNDLERS = {
  // `esbuild server.js --bundle --platform=node`: CommonJS.
  async esbuild(dir) {
    const esbuild = await import('esbuild');
    await esbuild.build({ entryPoints: [join(dir, 'server.js')], bundle: true, platform: 'node', outfile: join(dir, 'out/app.cjs'), logLevel: 'silent' });
  },
  // webpack's defaults with `target: 'node'`.
  async webpack(dir) {
    const { default: webpack } = await import('webpack');
    const stats = await new Promise((ok, fail) => webpack({
      mode: 'production', target: 'node', context: dir, entry: './server.js', output: { path: join(dir, 'out'), filename: 'app.cjs' },
    }, (err, s) => (err ? fail(err) : ok(s))));
    assert.ok(!stats.hasErrors(), `webpack: ${stats.toString('errors-only')}`);
  },
};

describe('bundlers for Node: the bundle runs on its own, away from node_modules', { concurrency: true }, () => {
  for (const [name, bundle] of Object.entries(NODE_BUNDLERS)) {
    test(`${name} (platform node)`, { timeout: 90_000 }, async (t) => {
      const dir = mkdtempSync(join(tmpdir(), `tollgate-${name}-node-`));
      temps.push(dir);
      cpSync(app, dir, { recursive: true });
      mkdirSync(join(dir, 'node_modules'));
      symlinkSync(repo, join(dir, 'node_modules/tollgate'), 'dir');
      await bundle(dir);
      // Deployed alone, as a function or a container would have it.
      const deployed = join(dir, 'deployed');
      mkdirSync(deployed);
      copyFileSync(join(dir, 'out/app.cjs'), join(deployed, 'app.cjs'));

      let served = 0;
      const server = http.createServer((req, res) => {
        if (req.url !== '/api/ping') return res.writeHead(404).end();
        served++;
        res.writeHead(200, { 'content-type': 'text/plain' }).end(`pong ${served}`);
      });
      await new Promise((ok) => server.listen(0, '127.0.0.1', ok));
      t.after(() => new Promise((ok) => { server.closeAllConnections(); server.close(ok); }));
      const run = await new Promise((ok) => execFile(process.execPath, ['app.cjs', `http://127.0.0.1:${server.address().port}`],
        { cwd: deployed, timeout: 30_000 }, (error, stdout, stderr) => ok({ error, stdout, stderr })));
      assert.equal(run.error, null, `the ${name} bundle failed on its own:\n${run.stderr}`);
      checkScenario(JSON.parse(run.stdout.trim().split('\n').at(-1)), served);
    });
  }
});
});
