// Size of the browser entry as a user ships it, bundled with esbuild (the devDependency),
// minified, then gzipped (level 9); KB = 1,024 bytes. Two ways to load tollgate in a browser:
//   `tollgate/web` (js/dist/browser.js): the limiter module is its own file (pkg/web/tollgate_core.wasm,
//     fetched and compiled while it streams); the goals are checked on this one, JS + that file.
//   `tollgate` (js/dist/inline.js, the `browser` condition): every wasm byte inside the JS, as base64.
// Either way the feedback module (header parsing and retries) is inline in js/dist/wasm/tollgate_feedback.js
// and only what uses rateLimitedFetch or parseRateLimitHeaders carries it: each bundle's esbuild
// metafile says which wasm it holds. The installed peers are bundled the same way in the same run;
// bottleneck's and ky's published sizes (from the issue) are constants.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { header, log, out, table, target } from './lib.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const gz = (buf) => gzipSync(buf, { level: 9 }).length;
const kb = (n) => `${(n / 1024).toFixed(1)} KB`;
const PUBLISHED = [['bottleneck (published, from the issue)', 14.7 * 1024], ['ky (published, from the issue)', 8.7 * 1024]];
const { build } = await import('esbuild');

/** The bundle of `contents` (an ES module at the repo root) and what it kept, file by file. */
export async function bundle(contents) {
  const r = await build({
    stdin: { contents, resolveDir: root, sourcefile: 'app.mjs' },
    bundle: true, minify: true, format: 'esm', platform: 'browser', write: false, metafile: true, logLevel: 'error',
  });
  const kept = Object.entries(Object.values(r.metafile.outputs)[0].inputs)
    .filter(([, v]) => v.bytesInOutput > 0).map(([file, v]) => [file, v.bytesInOutput]);
  return { bytes: r.outputFiles[0].contents, kept: new Map(kept) };
}

header('Size of the browser entry');
const coreWasm = readFileSync(join(root, 'pkg/web/tollgate_core.wasm'));
const feedbackWasm = readFileSync(join(root, 'pkg/web/tollgate_feedback.wasm'));
const IMPORTS = [
  ['`{ Limiter }`', '{ Limiter }', 12],
  ['`{ Limiter, rateLimitedFetch }`', '{ Limiter, rateLimitedFetch }', 20],
  ['the whole entry', '*', 25],
];
const carries = (b) => (b.kept.has('js/dist/wasm/tollgate_feedback.js') ? 'limiter + feedback' : 'limiter only');

const rows = [
  ['wasm: the limiter `pkg/web/tollgate_core.wasm` (src/wasm.rs)', kb(coreWasm.length), kb(gz(coreWasm)), '—'],
  ['wasm: feedback and retries `pkg/web/tollgate_feedback.wasm` (src/wasm_feedback.rs)', kb(feedbackWasm.length), kb(gz(feedbackWasm)), '—'],
];
const web = [];
const inline = [];
for (const [name, names] of IMPORTS) {
  log(`esbuild ${name}`);
  const exp = (entry) => `export ${names === '*' ? '*' : names} from './js/dist/${entry}.js';`;
  web.push(await bundle(exp('browser')));
  inline.push(await bundle(exp('inline')));
}
IMPORTS.forEach(([name], i) => {
  const b = web[i];
  rows.push([`\`tollgate/web\`, JS for ${name} (wasm inside: ${b.kept.has('js/dist/wasm/tollgate_feedback.js') ? 'feedback' : 'none'})`, kb(b.bytes.length), kb(gz(b.bytes)), '—']);
});
const webTotal = (i) => gz(coreWasm) + gz(web[i].bytes);
IMPORTS.forEach(([name, , limitKb], i) => {
  rows.push([`**tollgate/web total for ${name}** (limiter wasm file + that JS; goal ≤ ${limitKb} KB)`,
    kb(coreWasm.length + web[i].bytes.length), `**${kb(webTotal(i))}**`, i === 0 ? '1.00×' : '—']);
});
IMPORTS.forEach(([name], i) => {
  const b = inline[i];
  rows.push([`\`tollgate\` (inline entry) for ${name}: JS with the wasm as base64 (${carries(b)})`, kb(b.bytes.length), `**${kb(gz(b.bytes))}**`, '—']);
});
const total = webTotal(0);
for (const [name, size] of PUBLISHED) rows.push([name, '—', kb(size), `${(total / size).toFixed(2)}×`]);
// The installed peers, bundled for the browser in this run.
const PEERS = [
  ['bottleneck', "export { default } from 'bottleneck';"],
  ['p-throttle', "export { default } from 'p-throttle';"],
  ['p-queue', "export { default } from 'p-queue';"],
  ['limiter', "export { RateLimiter, TokenBucket } from 'limiter';"],
  ['rate-limiter-flexible (RateLimiterMemory + RateLimiterQueue)', "import rlf from 'rate-limiter-flexible'; export const { RateLimiterMemory, RateLimiterQueue } = rlf;"],
];
for (const [name, entry] of PEERS) {
  try {
    log(`esbuild ${name}`);
    const b = (await bundle(entry)).bytes;
    rows.push([`${name} (installed, bundled here)`, kb(b.length), kb(gz(b)), `${(total / gz(b)).toFixed(2)}×`]);
  } catch (error) {
    rows.push([`${name} (installed)`, 'n/a', 'n/a', `n/a: esbuild failed: ${error.message.slice(0, 80)}`]);
  }
}
out(table(['what', 'raw', 'gzip -9', 'tollgate/web `{ Limiter }` / this'], rows));
out('');
IMPORTS.forEach(([name, , limitKb], i) => {
  const sum = webTotal(i);
  out(`Goal: ${name} ≤ ${limitKb} KB gzipped: ${target(`browser entry ${name} ≤ ${limitKb} KB gzipped (wasm + JS)`,
    `${kb(sum)} (wasm ${kb(gz(coreWasm))}, JS ${kb(gz(web[i].bytes))}; inline entry ${kb(gz(inline[i].bytes))})`, sum <= limitKb * 1024)}.`);
});
// What esbuild keeps for `{ Limiter }` (minified bytes by file, before gzip): where the JS goes.
const keptJs = [...web[0].kept].filter(([f]) => !f.startsWith('js/dist/wasm/tollgate_')).sort((a, b) => b[1] - a[1]);
out(`\nJS kept for \`{ Limiter }\` (minified bytes): ${keptJs.map(([f, n]) => `${f.replace('js/dist/', '')} ${n}`).join(', ')}.`);
const biggest = [...web[2].kept].sort((a, b) => b[1] - a[1]).slice(0, 5);
out(`\nLargest files kept for the whole entry (minified bytes): ${biggest.map(([f, n]) => `${f.replace('js/dist/', '')} ${n}`).join(', ')}.`);
out(`\nOnly a bundle that reaches rateLimitedFetch or parseRateLimitHeaders carries the feedback module (${kb(gz(feedbackWasm))} gzipped, more as base64).`);
