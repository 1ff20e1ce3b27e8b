// The size gains of issue 12, guarded: an app that imports only `Limiter` from 'tollgate',
// bundled for the browser by esbuild (the package resolved as an installed dependency, through
// its `browser` export and `sideEffects`), must not carry the feedback module (header parsing
// and retries: its wasm bytes, its loader), and must stay under the size reached. One that uses
// rateLimitedFetch must carry it (else the check above could not fail). The figures themselves
// are measured by `npm run bench` (tests/bench/size.mjs).
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const repo = fileURLToPath(new URL('../..', import.meta.url));
/**
 * gzip -9 of the minified `{ Limiter }` bundle, both entries: what was reached, plus a little
 * (23.6 KB inline, 7.2 KB of JS for `tollgate/web`, once SHA-256 left the `Limiter.shared` path
 * and the limiter wasm shrank from 17.4 to 14.8 KB; 27.4 / 8.4 KB before: see the README's size).
 */
const MAX_GZ = { tollgate: 24.2 * 1024, 'tollgate/web': 7.5 * 1024 };

let dir;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'tollgate-size-'));
  mkdirSync(join(dir, 'node_modules'));
  symlinkSync(repo, join(dir, 'node_modules/tollgate'), 'dir');
});
after(() => rmSync(dir, { recursive: true, force: true }));

async function bundle(source) {
  const { build } = await import('esbuild');
  writeFileSync(join(dir, 'app.js'), source);
  const r = await build({
    entryPoints: [join(dir, 'app.js')], bundle: true, minify: true, format: 'esm', platform: 'browser',
    write: false, metafile: true, logLevel: 'silent',
  });
  const inputs = Object.entries(Object.values(r.metafile.outputs)[0].inputs).filter(([, v]) => v.bytesInOutput > 0).map(([f]) => f);
  const text = r.outputFiles[0].text;
  return { text, gz: gzipSync(text, { level: 9 }).length, inputs };
}

/** A run of the feedback module's inlined base64 from its middle: found only where its bytes are. */
const feedbackBase64 = () => {
  const b64 = readFileSync(join(repo, 'js/dist/wasm/tollgate_feedback.js'), 'utf8').match(/const base64 = '([^']+)'/)[1];
  return b64.slice(b64.length / 2, b64.length / 2 + 64);
};

for (const entry of ['tollgate', 'tollgate/web']) {
  test(`${entry}: a bundle of { Limiter } carries neither the feedback wasm nor its loader nor SHA-256, and stays under ${MAX_GZ[entry] / 1024} KB gzipped`, async () => {
    const b = await bundle(`import { Limiter } from '${entry}';\nconsole.log(new Limiter({ windows: [{ limit: 1, per: '1s' }] }).tryAcquire().ok);\n`);
    const feedback = b.inputs.filter((f) => /js\/dist\/wasm\/(feedback|tollgate_feedback)\.js$/.test(f));
    assert.deepEqual(feedback, [], 'the feedback module is in the { Limiter } bundle');
    assert.ok(!b.text.includes(feedbackBase64()), 'the feedback wasm bytes are in the { Limiter } bundle');
    // SHA-256 keys shared quotas; each store hashes the name, so an app that shares none carries none.
    assert.deepEqual(b.inputs.filter((f) => f.endsWith('js/dist/hmac.js')), [], 'SHA-256 (hmac.js) is in the { Limiter } bundle');
    if (entry === 'tollgate') assert.ok(b.inputs.some((f) => f.endsWith('js/dist/wasm/tollgate_core.js')), 'the inline entry carries the limiter bytes');
    assert.ok(b.gz <= MAX_GZ[entry], `{ Limiter } from ${entry}: ${b.gz} bytes gzipped, more than ${MAX_GZ[entry]}`);
  });
}

/** The same app bundled by Rollup (node-resolve) and webpack (production), as tests/bundlers/bundlers.test.mjs calls them. */
async function rollupBundle(source) {
  const { rollup } = await import('rollup');
  const { nodeResolve } = await import('@rollup/plugin-node-resolve');
  writeFileSync(join(dir, 'app.js'), source);
  const bundle = await rollup({ input: join(dir, 'app.js'), plugins: [nodeResolve({ browser: true })], logLevel: 'silent' });
  const { output } = await bundle.generate({ format: 'es' });
  await bundle.close();
  return output.map((o) => o.code ?? '').join('\n');
}

async function webpackBundle(source) {
  const { default: webpack } = await import('webpack');
  writeFileSync(join(dir, 'app.js'), source);
  const out = join(dir, 'webpack-out');
  const stats = await new Promise((ok, fail) => webpack({
    mode: 'production', context: dir, entry: './app.js', output: { path: out, filename: 'app.js' },
  }, (err, s) => (err ? fail(err) : ok(s))));
  assert.ok(!stats.hasErrors(), stats.toString('errors-only'));
  return readFileSync(join(out, 'app.js'), 'utf8');
}

test('Rollup and webpack drop the feedback module from { Limiter } too, and keep it for rateLimitedFetch', { timeout: 90_000 }, async () => {
  const needle = feedbackBase64();
  for (const [name, make] of [['rollup', rollupBundle], ['webpack', webpackBundle]]) {
    const limiter = await make("import { Limiter } from 'tollgate';\nconsole.log(new Limiter({ windows: [{ limit: 1, per: '1s' }] }).tryAcquire().ok);\n");
    assert.ok(!limiter.includes(needle), `${name}: the feedback wasm bytes are in the { Limiter } bundle`);
    const fetch = await make("import { rateLimitedFetch } from 'tollgate';\nconsole.log(rateLimitedFetch(fetch));\n");
    assert.ok(fetch.includes(needle), `${name}: the rateLimitedFetch bundle lacks the feedback wasm`);
  }
});

test('a bundle of rateLimitedFetch carries the feedback wasm (so the check above can fail)', async () => {
  const b = await bundle("import { rateLimitedFetch } from 'tollgate';\nconsole.log(rateLimitedFetch(fetch));\n");
  assert.ok(b.text.includes(feedbackBase64()), 'the feedback wasm bytes are in the bundle');
  assert.ok(b.inputs.some((f) => f.endsWith('js/dist/wasm/feedback.js')));
});
