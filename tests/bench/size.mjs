// Size of the browser entry as a user ships it: the wasm (already `wasm-opt -Oz` by the build) and
// the JS (wasm-bindgen glue pkg/web/tollgate.js + js/dist), bundled from js/dist/browser.js and
// minified with esbuild, then gzipped (level 9): once for an app that imports only `Limiter` and
// `rateLimitedFetch` (tree-shaken: what the target is checked on), once for the whole entry. esbuild is not a dependency: it is fetched with
// `npx --yes esbuild@0.24`; when that fails (offline), the JS is reported unminified, and said so.
// The installed peers are bundled the same way in the same run; bottleneck's and ky's published
// sizes (from the issue) are constants. KB = 1,024 bytes.
import { spawnSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { header, log, out, table, target } from './lib.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const gz = (buf) => gzipSync(buf, { level: 9 }).length;
const kb = (n) => `${(n / 1024).toFixed(1)} KB`;
const TARGET = 12 * 1024;
const PUBLISHED = [['bottleneck (published, from the issue)', 14.7 * 1024], ['ky (published, from the issue)', 8.7 * 1024]];

function esbuild(args, stdin) {
  const r = spawnSync('npx', ['--yes', 'esbuild@0.24', '--bundle', '--minify', '--format=esm', '--platform=browser', '--log-level=error', ...args],
    { cwd: root, input: stdin, maxBuffer: 64 << 20, timeout: 180_000 });
  if (r.status !== 0) throw new Error(String(r.stderr || r.error || `exit ${r.status}`).trim().split('\n')[0]);
  return r.stdout;
}

header('Size of the browser entry');
// Two wasm modules (both fetched by the browser entry today): the limiter (no_std, no
// wasm-bindgen) and the feedback module (header parsing and retries, wasm-bindgen).
const coreWasm = readFileSync(join(root, 'pkg/web/tollgate_core.wasm'));
const feedbackWasm = readFileSync(join(root, 'pkg/web/tollgate_bg.wasm'));
const wasm = Buffer.concat([coreWasm, feedbackWasm]);
const wasmGz = gz(coreWasm) + gz(feedbackWasm);
const jsFiles = [join(root, 'pkg/web/tollgate.js'), ...readdirSync(join(root, 'js/dist'), { recursive: true }).filter((f) => f.endsWith('.js')).map((f) => join(root, 'js/dist', f))];
const jsRaw = Buffer.concat(jsFiles.map((f) => readFileSync(f)));
const IMPORTS = [
  ['`{ Limiter }`', "export { Limiter } from './js/dist/browser.js';", 12],
  ['`{ Limiter, rateLimitedFetch }`', "export { Limiter, rateLimitedFetch } from './js/dist/browser.js';", 20],
  ['the whole entry', "export * from './js/dist/browser.js';", 25],
];
let minified = true;
const bundles = [];
try {
  for (const [name, entry] of IMPORTS) {
    log(`esbuild ${name}`);
    bundles.push(esbuild(['--sourcefile=app.mjs'], entry));
  }
} catch (error) {
  minified = false;
  bundles.length = 0;
  for (const _ of IMPORTS) bundles.push(jsRaw);
  out(`esbuild unavailable (${error.message}): the JS below is the unminified files concatenated.\n`);
}
const total = wasmGz + gz(bundles[1]);
const rows = [
  ['wasm: the limiter `pkg/web/tollgate_core.wasm` (no_std, wasm-opt -Oz)', kb(coreWasm.length), kb(gz(coreWasm)), '—'],
  ['wasm: feedback and retries `pkg/web/tollgate_bg.wasm` (wasm-bindgen)', kb(feedbackWasm.length), kb(gz(feedbackWasm)), '—'],
];
IMPORTS.forEach(([name], i) => {
  rows.push([`JS for ${name}${minified ? ', tree-shaken and minified (esbuild)' : ', unminified'}`, kb(bundles[i].length), kb(gz(bundles[i])), '—']);
});
IMPORTS.forEach(([name, , limitKb], i) => {
  const sum = wasmGz + gz(bundles[i]);
  rows.push([`**tollgate total for ${name}** (both wasm + that JS; goal ≤ ${limitKb} KB)`, kb(wasm.length + bundles[i].length), `**${kb(sum)}**`, i === 1 ? '1.00×' : '—']);
});
for (const [name, size] of PUBLISHED) rows.push([name, '—', kb(size), `${(total / size).toFixed(2)}×`]);
// The installed peers, bundled for the browser in this run.
const PEERS = [
  ['bottleneck', "export { default } from 'bottleneck';"],
  ['p-throttle', "export { default } from 'p-throttle';"],
  ['p-queue', "export { default } from 'p-queue';"],
  ['limiter', "export { RateLimiter, TokenBucket } from 'limiter';"],
  ['rate-limiter-flexible (RateLimiterMemory + RateLimiterQueue)', "import rlf from 'rate-limiter-flexible'; export const { RateLimiterMemory, RateLimiterQueue } = rlf;"],
];
if (minified) {
  for (const [name, entry] of PEERS) {
    try {
      log(`esbuild ${name}`);
      const b = esbuild(['--sourcefile=entry.mjs'], entry);
      rows.push([`${name} (installed, bundled here)`, kb(b.length), kb(gz(b)), `${(total / gz(b)).toFixed(2)}×`]);
    } catch (error) {
      rows.push([`${name} (installed)`, 'n/a', 'n/a', `n/a: esbuild failed: ${error.message.slice(0, 80)}`]);
    }
  }
}
out(table(['what', 'raw', 'gzip -9', 'tollgate total / this'], rows));
out('');
IMPORTS.forEach(([name, , limitKb], i) => {
  const sum = wasmGz + gz(bundles[i]);
  out(`Goal: ${name} ≤ ${limitKb} KB gzipped: ${target(`browser entry ${name} ≤ ${limitKb} KB gzipped (wasm + JS)`, `${kb(sum)} (wasm ${kb(wasmGz)}, JS ${kb(gz(bundles[i]))}${minified ? '' : ', unminified'})`, sum <= limitKb * 1024)}.`);
});
out(`\nThe browser entry loads both wasm modules at import, so each import pays for both: \`{ Limiter }\` alone would need only the limiter's ${kb(gz(coreWasm))}.`);
