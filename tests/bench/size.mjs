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
const wasm = readFileSync(join(root, 'pkg/web/tollgate_bg.wasm'));
const jsFiles = [join(root, 'pkg/web/tollgate.js'), ...readdirSync(join(root, 'js/dist'), { recursive: true }).filter((f) => f.endsWith('.js')).map((f) => join(root, 'js/dist', f))];
const jsRaw = Buffer.concat(jsFiles.map((f) => readFileSync(f)));
let js;
let full;
let minified = true;
try {
  log('esbuild js/dist/browser.js');
  js = esbuild(['--sourcefile=app.mjs'], "export { Limiter, rateLimitedFetch } from './js/dist/browser.js';");
  full = esbuild([join(root, 'js/dist/browser.js')]);
} catch (error) {
  minified = false;
  js = full = jsRaw;
  out(`esbuild unavailable (${error.message}): the JS below is the unminified files concatenated.\n`);
}

const total = gz(wasm) + gz(js);
const rows = [
  ['wasm `pkg/web/tollgate_bg.wasm` (wasm-opt -Oz)', kb(wasm.length), kb(gz(wasm)), '—'],
  [`JS for \`{ Limiter, rateLimitedFetch }\`: glue + js/dist, ${minified ? 'tree-shaken and minified (esbuild)' : 'unminified'}`, kb(js.length), kb(gz(js)), '—'],
  ['**tollgate total** (wasm + that JS)', kb(wasm.length + js.length), `**${kb(total)}**`, '1.00×'],
  [`the whole entry's JS (every export)${minified ? ', minified' : ''}; all JS files unminified`, `${kb(full.length)}; ${kb(jsRaw.length)}`, `${kb(gz(full))}; ${kb(gz(jsRaw))}`, '—'],
];
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
out(`\nTarget: tollgate total ≤ 12 KB gzipped: ${target('browser entry ≤ 12 KB gzipped (wasm + JS)', `${kb(total)} (wasm ${kb(gz(wasm))}, JS ${kb(gz(js))}${minified ? '' : ', unminified'})`, total <= TARGET)} ` +
  `(${kb(total)}; the wasm is ${Math.round((100 * gz(wasm)) / total)}% of it).\n`);
