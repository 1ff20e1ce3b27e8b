// Deno, Bun and Cloudflare Workers (workerd, through miniflare) each import
// 'tollgate' the way they resolve packages (their own export condition: `deno`,
// `bun`, `workerd`) and run the scenario of tests/bundlers/app/scenario.js: a
// Limiter admits, refuses with the exact wait and names an error;
// rateLimitedFetch sends three requests to a local server on 127.0.0.1 and
// holds the fourth. The runtimes come from their npm packages (devDependencies).
//
// Deno runs with no permission but the network to 127.0.0.1: the entry it gets
// carries its wasm inside, so it reads no file. The Worker is bundled as
// wrangler does it (esbuild with the conditions workerd, worker, browser; .wasm
// imports as modules) and its fetch reaches the local server.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { checkScenario } from '../bundlers/check.mjs';

const repo = fileURLToPath(new URL('../..', import.meta.url));
const here = fileURLToPath(new URL('.', import.meta.url));
const bin = (name) => join(repo, 'node_modules/.bin', name);

let dir; // a project with node_modules/tollgate linked to this repo, as a `file:` dependency
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'tollgate-runtimes-'));
  writeFileSync(join(dir, 'package.json'), '{ "private": true, "type": "module" }\n');
  for (const f of ['app.mjs', 'worker.mjs']) copyFileSync(join(here, f), join(dir, f));
  copyFileSync(join(repo, 'tests/bundlers/app/scenario.js'), join(dir, 'scenario.js'));
  mkdirSync(join(dir, 'node_modules'));
  symlinkSync(repo, join(dir, 'node_modules/tollgate'), 'dir');
});
after(() => { if (dir) rmSync(dir, { recursive: true, force: true }); });

/** A server on 127.0.0.1 answering /api/ping with a counter; one per runtime. */
async function pingServer(t) {
  const server = { hits: 0 };
  const s = http.createServer((req, res) => {
    if (req.url !== '/api/ping') return res.writeHead(404).end();
    server.hits++;
    res.writeHead(200, { 'content-type': 'text/plain' }).end(`pong ${server.hits}`);
  });
  await new Promise((ok) => s.listen(0, '127.0.0.1', ok));
  t.after(() => new Promise((ok) => { s.closeAllConnections(); s.close(ok); }));
  server.base = `http://127.0.0.1:${s.address().port}`;
  return server;
}

function run(file, args, options = {}) {
  return new Promise((resolve) => {
    execFile(file, args, { cwd: dir, timeout: 60_000, env: { ...process.env, NO_COLOR: '1' }, ...options }, (error, stdout, stderr) => {
      resolve({ code: error ? (error.code ?? 1) : 0, stdout, stderr });
    });
  });
}

/** The program's one line of JSON, or a failure that shows what it printed. */
function parse(name, r) {
  assert.equal(r.code, 0, `${name} exited ${r.code}:\n${r.stderr}\n${r.stdout}`);
  try {
    return JSON.parse(r.stdout.trim().split('\n').at(-1));
  } catch {
    assert.fail(`${name} printed no JSON:\n${r.stdout}\n${r.stderr}`);
  }
}

describe('runtimes: Limiter and rateLimitedFetch against a local server', { concurrency: true }, () => {
  test('Deno: the `deno` condition (the inline entry), with no read permission', { timeout: 90_000 }, async (t) => {
    const server = await pingServer(t);
    const r = await run(bin('deno'), ['run', '--no-prompt', '--allow-net=127.0.0.1', 'app.mjs', server.base],
      { env: { ...process.env, NO_COLOR: '1', DENO_NO_UPDATE_CHECK: '1' } });
    const result = parse('deno', r);
    assert.match(result.resolved, /\/js\/dist\/inline\.js$/, 'Deno resolves tollgate to the inline entry');
    checkScenario(result, server.hits);
  });

  test('Bun: the `bun` condition (the inline entry), import and require sharing one instance', { timeout: 90_000 }, async (t) => {
    const server = await pingServer(t);
    const result = parse('bun', await run(bin('bun'), ['app.mjs', server.base]));
    assert.match(result.resolved, /\/js\/dist\/inline\.js$/, 'Bun resolves tollgate to the inline entry');
    assert.equal(result.sameForRequire, true, 'require("tollgate") in Bun is the same module as the import');
    checkScenario(result, server.hits);
  });

  test('Cloudflare Workers (workerd via miniflare): the `workerd` condition, the wasm as a compiled module', { timeout: 90_000 }, async (t) => {
    const server = await pingServer(t);
    const { build } = await import('esbuild');
    const out = join(dir, 'worker-out');
    // wrangler's bundling: these conditions, ES module output, .wasm files kept as modules.
    const built = await build({
      entryPoints: [join(dir, 'worker.mjs')], bundle: true, format: 'esm', outdir: out, metafile: true, logLevel: 'silent',
      conditions: ['workerd', 'worker', 'browser'], loader: { '.wasm': 'copy' },
    });
    const inputs = Object.keys(built.metafile.inputs);
    assert.ok(inputs.some((f) => f.endsWith('js/dist/workerd.js')), `the bundle uses the workerd entry: ${inputs.filter((f) => f.includes('js/dist'))}`);

    const { Miniflare } = await import('miniflare');
    const files = readdirSync(out).sort((a, b) => Number(b === 'worker.js') - Number(a === 'worker.js')); // the main module first
    const mf = new Miniflare({
      modulesRoot: out,
      modules: files.map((f) => ({ type: f.endsWith('.wasm') ? 'CompiledWasm' : 'ESModule', path: join(out, f) })),
      compatibilityDate: '2025-01-01',
      bindings: { BASE: server.base },
    });
    t.after(() => mf.dispose());
    const result = await (await mf.dispatchFetch('http://worker.test/')).json();
    checkScenario(result, server.hits);
    // The isolate's wrapper, made at module scope around the unbound global fetch, sent its own
    // request (the server answers 404 to it) under one scope whose key is a hashed label.
    assert.equal(result.sharedStatus, 404);
    assert.equal(result.sharedKeys.length, 1);
    assert.match(result.sharedKeys[0], /^[0-9a-f]{32}$/, 'the token is shown only as its HMAC label');
  });
});
