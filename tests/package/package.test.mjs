// The packaging test: what `npm pack` ships, installed where users put it.
//
// `npm pack` the built repo into a temporary directory, install the tarball
// (offline: tollgate has no dependencies) into three fresh projects, Node CommonJS
// (`require`), Node ESM (`import`) and TypeScript with `strict` (type-checked with
// the repo's own tsc and @types/node, then compiled and run), and in each run a
// rate-limited fetch against a local HTTP server on 127.0.0.1: a route of 2 per
// second, three requests at once, the third let through a second after the first
// (real time, about 1 s per project, the three projects at once), and every error
// named. Also: the tarball's file list, the package.json fields the exports
// depend on, one class for `require` and `import` in one process, and the
// browser entry loading its wasm from the installed files; CommonJS TypeScript
// projects get CommonJS declarations; bundlers keep the entries that load the wasm.
//
// Needs the build (js/dist, js/cjs, pkg/): `npm run build`. Set
// TOLLGATE_KEEP_TMP=1 to keep the temporary projects for a look.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join, relative, sep } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const repoTsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
const repoTypes = join(root, 'node_modules', '@types');

/** The built files the tarball is made of; without them `npm pack` would ship a broken package. */
const BUILT = [
  'js/node.mjs',
  'js/dist/index.js', 'js/dist/index.d.ts', 'js/dist/browser.js', 'js/dist/browser.d.ts',
  'js/cjs/node.js', 'js/cjs/index.js', 'js/cjs/package.json',
  'js/dist/wasm/tollgate_core.js', 'js/dist/wasm/tollgate_feedback.js', 'js/cjs/wasm/tollgate_feedback.js',
  'pkg/node/tollgate_core.wasm', 'pkg/web/tollgate_core.wasm', 'pkg/web/tollgate_feedback.wasm',
];

/** Every path the tarball may hold (relative to the package root), and nothing else. */
const ALLOWED = [
  /^package\.json$/,
  /^README(\.md)?$/i,
  /^(LICEN[CS]E|COPYING|NOTICE)([-.][\w.-]+)?$/i, // LICENSE, LICENSE-MIT, LICENSE-APACHE, LICENSE.txt
  /^js\/node\.mjs$/,
  /^js\/dist\/([\w.-]+\/)*[\w.-]+\.(js|d\.ts)$/,
  /^js\/cjs\/([\w.-]+\/)*[\w.-]+\.(js|d\.ts)$/,
  /^js\/cjs\/package\.json$/,
  /^pkg\/node\/tollgate_core\.wasm$/,
  /^pkg\/web\/(tollgate_core|tollgate_feedback)\.wasm$/,
  // `tollgate demo` runs the Hex-like server of the tests, so it ships (without its tests).
  /^tests\/servers\/(hex|http|quota|clock)\.mjs$/,
];

/** The tarball stays small: a regression guard (it is about 150 KB packed). */
const MAX_PACKED_BYTES = 512 * 1024;

let tmp; // the temporary directory of the tarball and the projects
let pack; // npm pack --json's entry: { filename, size, unpackedSize, files: [{ path, size }] }
let tarball; // absolute path of the .tgz
let server; // { base, hits: Map<project, [{ path, method, at, idempotencyKey }]>, close() }
const projects = {}; // name -> directory with tollgate installed

before(async () => {
  const missing = BUILT.filter((f) => !existsSync(join(root, f)));
  if (missing.length > 0) {
    throw new Error(`the build is missing ${missing.join(', ')}: run \`npm run build\` first (npm pack ships the built files)`);
  }
  assert.ok(existsSync(repoTsc), `TypeScript is missing (${repoTsc}): run \`npm ci\` first`);

  tmp = await mkdtemp(join(tmpdir(), 'tollgate-package-'));
  const packed = await run('npm', ['pack', '--pack-destination', tmp, '--json', '--ignore-scripts'], { cwd: root, env: npmEnv() });
  assert.equal(packed.code, 0, `npm pack failed:\n${packed.output}`);
  [pack] = JSON.parse(packed.stdout);
  tarball = join(tmp, pack.filename);
  assert.ok(existsSync(tarball), `npm pack reported ${pack.filename} but ${tarball} does not exist`);

  // Three fresh projects, installed at once. --offline: no network at all (the
  // tarball has no dependencies); --prefix: never the repo, even under `npm test`.
  const kinds = { cjs: 'commonjs', esm: 'module', ts: 'module', tscjs: 'commonjs' };
  await Promise.all(Object.entries(kinds).map(async ([name, type]) => {
    const dir = join(tmp, name);
    await mkdir(dir);
    await writeJson(join(dir, 'package.json'), { name: `tollgate-consumer-${name}`, version: '1.0.0', private: true, type });
    const installed = await run('npm', ['install', tarball, '--prefix', dir, '--offline', '--ignore-scripts', '--no-audit', '--no-fund',
      '--no-update-notifier'], { cwd: dir, env: npmEnv() });
    assert.equal(installed.code, 0, `npm install of the tarball into a fresh ${name} project failed:\n${installed.output}`);
    assert.ok(existsSync(join(dir, 'node_modules', 'tollgate', 'package.json')), `tollgate is not in ${dir}/node_modules`);
    projects[name] = dir;
  }));

  server = await startServer();
});

after(async () => {
  await server?.close();
  if (tmp && !process.env.TOLLGATE_KEEP_TMP) await rm(tmp, { recursive: true, force: true });
  else if (tmp) console.log(`# kept ${tmp}`);
});

// ---------------------------------------------------------------------------
// What the tarball holds
// ---------------------------------------------------------------------------

test('the tarball holds what users need and nothing else', (t) => {
  const paths = pack.files.map((f) => f.path).sort();
  t.diagnostic(`${pack.filename}: ${paths.length} files, ${pack.size} bytes packed, ${pack.unpackedSize} unpacked`);
  for (const f of [...pack.files].sort((a, b) => a.path.localeCompare(b.path))) t.diagnostic(`  ${String(f.size).padStart(7)}  ${f.path}`);

  // Plus the executables package.json's "bin" names (npm always packs them).
  const bin = binTargets(JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')));
  const stray = paths.filter((p) => !ALLOWED.some((re) => re.test(p)) && !bin.includes(p));
  assert.deepEqual(stray, [], `files users do not need are packed (tighten "files" in package.json): ${stray.join(', ')}`);
  for (const p of paths) {
    assert.ok(!/^(src|tests(?!\/servers\/(hex|http|quota|clock)\.mjs$)|target|scripts|www|node_modules|\.ci|js\/src)\//.test(p), `${p}: sources, tests and build trees are not shipped`);
    assert.ok(!/\.ts$/.test(p) || p.endsWith('.d.ts'), `${p}: TypeScript sources are not shipped (declarations are)`);
  }

  const required = [...BUILT, 'package.json', 'README.md', 'LICENSE-MIT', 'LICENSE-APACHE'];
  const absent = required.filter((f) => !paths.includes(f));
  assert.deepEqual(absent, [], `the tarball lacks ${absent.join(', ')}`);

  // The "files" globs miss nothing the build made (e.g. a new subdirectory of js/src).
  const built = [
    ...walk(join(root, 'js', 'dist')).filter((f) => f.endsWith('.js') || f.endsWith('.d.ts')),
    ...walk(join(root, 'js', 'cjs')).filter((f) => f.endsWith('.js')),
  ].map((f) => relative(root, f).split(sep).join('/'));
  const unpacked = built.filter((f) => !paths.includes(f));
  assert.deepEqual(unpacked, [], `built files left out of the tarball: ${unpacked.join(', ')}`);

  assert.ok(pack.size <= MAX_PACKED_BYTES, `the tarball is ${pack.size} bytes packed; more than ${MAX_PACKED_BYTES} means something big slipped in`);
});

test('package.json: exports map (types, node import/require, browser, default), files, sideEffects, engines', async () => {
  const p = JSON.parse(await readFile(join(projects.esm, 'node_modules', 'tollgate', 'package.json'), 'utf8'));
  const paths = new Set(pack.files.map((f) => f.path));
  const dot = p.exports?.['.'];
  assert.equal(typeof dot, 'object', 'package.json needs an "exports" map with a "." entry');
  const conditions = Object.keys(dot);
  for (const c of ['types', 'node', 'browser', 'default']) assert.ok(conditions.includes(c), `exports["."] lacks the "${c}" condition`);
  assert.equal(conditions[0], 'types', 'exports["."]: "types" must come first (TypeScript takes the first condition that matches)');
  assert.equal(conditions.at(-1), 'default', 'exports["."]: "default" must come last');
  assert.ok(conditions.indexOf('node') < conditions.indexOf('browser'), 'exports["."]: "node" before "browser" (Node matches in order)');
  assert.equal(typeof dot.node, 'object', 'exports["."].node must have "import" and "require"');
  assert.deepEqual(Object.keys(dot.node).sort(), ['import', 'require']);

  // Every target of the map, and main/module/types, is in the tarball.
  const targets = [...strings(p.exports), p.main, p.module, p.types].filter(Boolean);
  for (const target of targets) {
    assert.ok(target.startsWith('./'), `package.json paths start with "./"; got ${target}`);
    assert.ok(paths.has(target.replace(/^\.\//, '')), `${target} (in package.json) is not in the tarball`);
  }
  for (const target of binTargets(p)) assert.ok(paths.has(target), `the "bin" ${target} is not in the tarball`);

  assert.ok(Array.isArray(p.files) && p.files.length > 0, '"files" limits what is packed');
  // A list naming only the entries that load the wasm core (with `false`, bundlers drop them: see the last test).
  const entries = ['./js/node.mjs', './js/cjs/node.js', './js/dist/browser.js', './js/dist/inline.js', './js/dist/workerd.js']
    .flatMap((f) => [f, f.slice(2)]);
  assert.ok(Array.isArray(p.sideEffects) && p.sideEffects.length > 0 && p.sideEffects.every((f) => entries.includes(f)),
    `"sideEffects" must name only the entries that load the wasm; got ${JSON.stringify(p.sideEffects)}`);
  assert.match(p.engines?.node ?? '', /^>=\s*\d+/, '"engines.node" states the oldest Node supported');
  assert.equal(p.type, 'module');
  assert.deepEqual(Object.keys(p.dependencies ?? {}), [], 'tollgate has no runtime dependencies (the offline install relies on it)');
});

// ---------------------------------------------------------------------------
// The package at work in fresh projects
// ---------------------------------------------------------------------------

describe('installed from the tarball', { concurrency: true }, () => {
  test('Node CommonJS: require("tollgate") limits a fetch and names its errors', async () => {
    await writeFile(join(projects.cjs, 'app.js'), `const t = require('tollgate');\n${scenario('cjs')}\nmain(t).then(print, fail);\n${helpers}`);
    checkScenario('cjs', await runNode(projects.cjs, ['app.js']));
  });

  test('Node ESM: import from "tollgate" limits a fetch and names its errors', async () => {
    await writeFile(join(projects.esm, 'app.js'), [
      "import * as t from 'tollgate';",
      "import { Limiter, rateLimitedFetch, isRateLimitError, RetryError } from 'tollgate';",
      'if (Limiter !== t.Limiter || rateLimitedFetch !== t.rateLimitedFetch || isRateLimitError !== t.isRateLimitError || RetryError !== t.RetryError) {',
      "  throw new Error('named imports differ from the namespace');",
      '}',
      scenario('esm'),
      'await main(t).then(print, fail);',
      helpers,
    ].join('\n'));
    checkScenario('esm', await runNode(projects.esm, ['app.js']));
  });

  test('TypeScript (strict): the public API type-checks with tsc --noEmit, then compiles and runs', async () => {
    const dir = projects.ts;
    await writeFile(join(dir, 'app.ts'), TS_APP);
    await writeJson(join(dir, 'tsconfig.json'), {
      compilerOptions: {
        strict: true,
        module: 'nodenext',
        moduleResolution: 'nodenext',
        target: 'es2022',
        lib: ['es2022'], // a Node project: no DOM types, only @types/node (the repo's)
        typeRoots: [repoTypes],
        types: ['node'],
        skipLibCheck: false, // tollgate's .d.ts checked too, as a Node-only project sees them
        skipDefaultLibCheck: true,
        noUncheckedIndexedAccess: true,
        outDir: 'out',
        rootDir: '.',
      },
      files: ['app.ts'],
    });
    const checked = await run(process.execPath, [repoTsc, '--noEmit', '-p', dir], { cwd: dir });
    assert.equal(checked.code, 0, `tsc --noEmit (strict) failed on the public API:\n${checked.output}`);
    const compiled = await run(process.execPath, [repoTsc, '-p', dir, '--skipLibCheck'], { cwd: dir });
    assert.equal(compiled.code, 0, `tsc (emit) failed:\n${compiled.output}`);
    checkScenario('ts', await runNode(dir, [join('out', 'app.js')]));
  });
});

test('require and import in one process share one set of classes (one wasm instance)', async () => {
  const script = [
    "const required = require('tollgate');",
    "import('tollgate').then((imported) => {",
    "  const names = ['Limiter', 'Permit', 'rateLimitedFetch', 'TollgateError', 'RateLimitError', 'RetryError', 'DeadlineError',",
    "    'QueueFullError', 'InsufficientCapacityError', 'SnapshotError', 'isRateLimitError', 'systemClock'];",
    '  const differ = names.filter((n) => required[n] === undefined || required[n] !== imported[n]);',
    "  const l = new imported.Limiter({ windows: [{ limit: 1, per: '1m' }] });",
    '  let err; try { l.tryAcquire(2); } catch (e) { err = e; }',
    '  console.log(JSON.stringify({ differ, sameLimiter: required.Limiter === imported.Limiter,',
    '    instance: l instanceof required.Limiter, error: err instanceof required.InsufficientCapacityError }));',
    '});',
  ].join('\n');
  await writeFile(join(projects.cjs, 'same-class.js'), script);
  const r = await runNode(projects.cjs, ['same-class.js']);
  assert.deepEqual(r, { differ: [], sameLimiter: true, instance: true, error: true },
    "require('tollgate').X === (await import('tollgate')).X for every export");

  // And from the ESM side, with createRequire.
  await writeFile(join(projects.esm, 'same-class.js'), [
    "import { createRequire } from 'node:module';",
    "import * as imported from 'tollgate';",
    "const required = createRequire(import.meta.url)('tollgate');",
    'console.log(JSON.stringify({ sameLimiter: required.Limiter === imported.Limiter, sameFetch: required.rateLimitedFetch === imported.rateLimitedFetch }));',
  ].join('\n'));
  assert.deepEqual(await runNode(projects.esm, ['same-class.js']), { sameLimiter: true, sameFetch: true });
});

test('the browser entry (js/dist/browser.js) loads its wasm from the installed files', async () => {
  // Node's fetch cannot read file: URLs, which is how the browser entry finds its
  // wasm next to itself (new URL(..., import.meta.url)); serve them as a web server would.
  await writeFile(join(projects.esm, 'browser.js'), `
import { readFile } from 'node:fs/promises';
import * as node from 'tollgate';
const realFetch = globalThis.fetch;
const fetched = [];
globalThis.fetch = async (input, init) => {
  const url = new URL(input instanceof Request ? input.url : String(input));
  if (url.protocol !== 'file:') return realFetch(input, init);
  fetched.push(url.pathname.split('/node_modules/')[1]);
  return new Response(await readFile(url), { headers: { 'content-type': 'application/wasm' } });
};
const browser = await import('./node_modules/tollgate/js/dist/browser.js');
const limiter = new browser.Limiter({ windows: [{ limit: 1, per: '1m' }] });
const first = limiter.tryAcquire().ok;
const second = limiter.tryAcquire();
let crossCopy;
try { new node.Limiter({ windows: [{ limit: 1, per: '1m' }], maxWaiters: 0 }).tryAcquire(2); } catch (e) {
  crossCopy = { browserGuard: browser.isInsufficientCapacityError(e), otherClass: e instanceof browser.InsufficientCapacityError };
}
console.log(JSON.stringify({ fetched, first, second: { ok: second.ok, waitMs: second.waitMs }, separate: browser.Limiter !== node.Limiter, crossCopy }));
`);
  const r = await runNode(projects.esm, ['browser.js']);
  assert.deepEqual(r.fetched, ['tollgate/pkg/web/tollgate_core.wasm'],
    'the browser entry fetches the limiter module from pkg/web beside it (the feedback module is inline, compiled on first use)');
  assert.equal(r.first, true);
  assert.equal(r.second.ok, false);
  assert.ok(r.second.waitMs > 59_000 && r.second.waitMs <= 60_000, `waitMs ${r.second.waitMs}`);
  assert.equal(r.separate, true, 'the browser entry is its own copy (own wasm instance)');
  assert.deepEqual(r.crossCopy, { browserGuard: true, otherClass: false }, 'the isX() guards recognise errors from another copy of the package');
});

// Two things package.json must get right for TypeScript CommonJS projects and for bundlers.
test('a CommonJS TypeScript project (module node16) gets CommonJS declarations for require', async () => {
  const dir = projects.tscjs;
  await writeFile(join(dir, 'app.ts'), [
    "import { Limiter, rateLimitedFetch, isRateLimitError } from 'tollgate';",
    "const limiter = new Limiter({ windows: [{ limit: 2, per: '1s' }] });",
    'void limiter; void rateLimitedFetch; void isRateLimitError;',
  ].join('\n'));
  await writeJson(join(dir, 'tsconfig.json'), {
    compilerOptions: { strict: true, module: 'node16', target: 'es2022', lib: ['es2022'], typeRoots: [repoTypes], types: ['node'], noEmit: true, skipLibCheck: true },
    files: ['app.ts'],
  });
  const r = await run(process.execPath, [repoTsc, '-p', dir], { cwd: dir });
  assert.equal(r.code, 0, `a CommonJS TypeScript file importing tollgate fails to compile:\n${r.output}`);
});

test('"sideEffects" names the entries that load the wasm core, so bundlers keep them', async () => {
  const p = JSON.parse(await readFile(join(projects.esm, 'node_modules', 'tollgate', 'package.json'), 'utf8'));
  assert.ok(Array.isArray(p.sideEffects) && p.sideEffects.some((f) => f.replace(/^\.\//, '') === 'js/dist/browser.js'),
    `"sideEffects" is ${JSON.stringify(p.sideEffects)}`);
});

// ---------------------------------------------------------------------------
// The consumer programs
// ---------------------------------------------------------------------------

/**
 * The body shared by the CommonJS and ESM programs (plain JS; `t` is the module).
 * The TypeScript program (TS_APP) does the same with types, and prints the same JSON.
 */
function scenario(entry) {
  return `
async function main(t) {
  const base = process.env.TOLLGATE_TEST_URL; // http://127.0.0.1:PORT/<project>
  const routes = [
    { name: 'limited', url: '/:project/limited/:n', windows: [{ limit: 2, per: '1s' }] },
    { name: 'refuse', url: '/:project/refuse', windows: [{ limit: 10, per: '1s' }] },
    { name: 'fail', method: 'GET', url: '/:project/fail', windows: [{ limit: 10, per: '1s' }] },
  ];
  const limited = t.rateLimitedFetch(fetch, { routes, retry: { limit: 2, backoff: '10ms', maxBackoff: '10ms' } });
  const events = [];
  for (const type of ['queued', 'admitted', 'throttled', 'gave-up']) limited.events.addEventListener(type, (e) => events.push(type + ':' + e.detail.route));
  const out = { entry: '${entry}', startedAt: Date.now() };
  out.limited = await Promise.all([1, 2, 3].map(async (n) => {
    const res = await limited(base + '/limited/' + n);
    return { n, status: res.status, body: await res.text(), doneAt: Date.now() };
  }));
  const free = await limited(base + '/free');
  out.free = { status: free.status, body: await free.text() };
  out.refusedAt = Date.now();
  out.refused = await failure(() => limited(base + '/refuse', { method: 'POST', body: '{}' }), t.RateLimitError, t.isRateLimitError, t);
  out.refusedDoneAt = Date.now();
  out.failed = await failure(() => limited(base + '/fail'), t.RetryError, t.isRetryError, t);
  const one = new t.Limiter({ windows: [{ limit: 1, per: '1m' }], maxWaiters: 0 });
  out.capacity = await failure(async () => one.tryAcquire(2), t.InsufficientCapacityError, t.isInsufficientCapacityError, t);
  one.tryAcquire();
  out.queueFull = await failure(() => one.acquire(), t.QueueFullError, t.isQueueFullError, t);
  out.badOption = await failure(async () => new t.Limiter({ windows: [{ limit: 0, per: '1m' }] }), TypeError, (e) => e instanceof TypeError, t);
  out.events = events;
  out.scopes = limited.scopes().map((s) => s.route).sort();
  return out;
}
`;
}

const helpers = `
async function failure(f, Class, guard, t) {
  try {
    await f();
    return { threw: false };
  } catch (err) {
    return {
      threw: true, name: err.name, guard: guard(err), instanceOfClass: err instanceof Class,
      instanceOfBase: err instanceof t.TollgateError, baseGuard: t.isTollgateError(err),
      retryAt: err.retryAt, attempts: err.attempts, status: err.response ? err.response.status : undefined,
      message: String(err.message),
    };
  }
}
function print(out) { console.log(JSON.stringify(out)); }
function fail(err) { console.error(err); process.exitCode = 1; }
`;

const TS_APP = `
import {
  InsufficientCapacityError, Limiter, QueueFullError, RateLimitError, RetryError, TollgateError,
  isInsufficientCapacityError, isQueueFullError, isRateLimitError, isRetryError, isTollgateError, rateLimitedFetch,
  type RateLimitedFetch, type RouteOptions, type TryAcquireResult, type WindowOptions,
} from 'tollgate';

interface Failure {
  threw: boolean; name?: string; guard?: boolean; instanceOfClass?: boolean; instanceOfBase?: boolean; baseGuard?: boolean;
  retryAt?: number | undefined; attempts?: number | undefined; status?: number | undefined; message?: string;
}

async function failure(f: () => Promise<unknown>, Class: abstract new (...args: never[]) => Error,
  guard: (e: unknown) => boolean): Promise<Failure> {
  try {
    await f();
    return { threw: false };
  } catch (err: unknown) {
    if (!(err instanceof Error)) return { threw: true };
    const out: Failure = {
      threw: true, name: err.name, guard: guard(err), instanceOfClass: err instanceof Class,
      instanceOfBase: err instanceof TollgateError, baseGuard: isTollgateError(err), message: err.message,
    };
    if (isTollgateError(err)) {
      out.attempts = err.attempts;
      out.status = err.response?.status;
    }
    if (isRateLimitError(err)) {
      const retryAt: number | undefined = err.retryAt; // only after the guard
      const name: 'RateLimitError' = err.name;
      out.retryAt = retryAt;
      out.name = name;
    }
    return out;
  }
}

export async function main(): Promise<unknown> {
  const base = process.env['TOLLGATE_TEST_URL'];
  if (base === undefined) throw new Error('TOLLGATE_TEST_URL is not set');
  const second: WindowOptions[] = [{ limit: 10, per: '1s' }];
  const routes: RouteOptions[] = [
    { name: 'limited', url: '/:project/limited/:n', windows: [{ limit: 2, per: '1s' }] },
    { name: 'refuse', url: '/:project/refuse', windows: second },
    { name: 'fail', method: 'GET', url: '/:project/fail', windows: second },
  ];
  const limited: RateLimitedFetch = rateLimitedFetch(fetch, { routes, retry: { limit: 2, backoff: '10ms', maxBackoff: '10ms' } });
  const events: string[] = [];
  for (const type of ['queued', 'admitted', 'throttled', 'gave-up']) {
    limited.events.addEventListener(type, (e) => events.push(type + ':' + (e as CustomEvent<{ route: string }>).detail.route));
  }
  const startedAt = Date.now();
  const results = await Promise.all([1, 2, 3].map(async (n) => {
    const res: Response = await limited(base + '/limited/' + n);
    return { n, status: res.status, body: await res.text(), doneAt: Date.now() };
  }));
  const free = await limited(base + '/free');
  const freeOut = { status: free.status, body: await free.text() };
  const refusedAt = Date.now();
  const refused = await failure(() => limited(base + '/refuse', { method: 'POST', body: '{}' }), RateLimitError, isRateLimitError);
  const refusedDoneAt = Date.now();
  const failed = await failure(() => limited(base + '/fail', { tollgate: { priority: 1 } }), RetryError, isRetryError);

  const one = new Limiter({ windows: [{ limit: 1, per: '1m' }], maxWaiters: 0 });
  const capacity = await failure(async () => one.tryAcquire(2), InsufficientCapacityError, isInsufficientCapacityError);
  const r: TryAcquireResult = one.tryAcquire();
  if (r.ok) r.permit.complete(); else throw new Error('the first tryAcquire should be admitted; retry at ' + r.retryAt);
  const queueFull = await failure(() => one.acquire(), QueueFullError, isQueueFullError);
  const badOption = await failure(async () => new Limiter({ windows: [{ limit: 0, per: '1m' }] }), TypeError, (e) => e instanceof TypeError);
  return {
    entry: 'ts', startedAt, limited: results, free: freeOut, refusedAt, refusedDoneAt, refused, failed, capacity, queueFull, badOption, events,
    scopes: limited.scopes().map((s) => s.route).sort(),
  };
}

/** Never called: mistakes the installed declarations must reject (tsc fails on an unused directive). */
export function mistakes(limiter: Limiter, caught: unknown): void {
  // @ts-expect-error Duration is a number and a unit
  new Limiter({ windows: [{ limit: 20, per: '1 minute' }] });
  // @ts-expect-error the cost is a number
  limiter.tryAcquire('1');
  // @ts-expect-error a route needs a url
  rateLimitedFetch(fetch, { routes: [{ windows: [] }] });
  // @ts-expect-error unknown until narrowed by isRateLimitError
  void caught.retryAt;
}

main().then((out) => console.log(JSON.stringify(out)), (err: unknown) => { console.error(err); process.exitCode = 1; });
`;

/** The assertions every consumer's output must pass; `hits` are what the server saw. */
function checkScenario(project, out) {
  const hits = server.hits.get(project) ?? [];
  const why = `(${project}: ${JSON.stringify(out)})`;
  assert.equal(out.entry, project);

  // Three requests at once on a route of 2 per second: two go at once, the third a second after the first.
  assert.deepEqual(out.limited.map((r) => [r.n, r.status, r.body]), [[1, 200, 'limited 1'], [2, 200, 'limited 2'], [3, 200, 'limited 3']], why);
  const arrived = (n) => {
    const hit = hits.find((h) => h.path === `/${project}/limited/${n}`);
    assert.ok(hit, `the server never saw /${project}/limited/${n}`);
    return hit.at;
  };
  const [a1, a2, a3] = [arrived(1), arrived(2), arrived(3)];
  const first = Math.min(a1, a2);
  assert.ok(Math.max(a1, a2) - first < 400, `the first two requests go at once; they arrived ${Math.abs(a2 - a1)} ms apart ${why}`);
  // A response is counted when it arrives, so the third goes no earlier than a full second after the first was sent.
  assert.ok(a3 - first >= 995, `the third request must wait for the 1 s window; it arrived ${a3 - first} ms after the first ${why}`);
  // (An upper bound well short of two windows: catches a wait of a whole extra window, not a slow machine.)
  assert.ok(a3 - first < 1_950, `the third request waited ${a3 - first} ms; it should go right after the window frees ${why}`);
  assert.ok(out.limited[2].doneAt - out.startedAt >= 995, why);

  // Unmatched requests go straight through.
  assert.deepEqual(out.free, { status: 200, body: 'free' });
  assert.deepEqual(out.scopes, ['fail', 'limited', 'refuse'], 'one scope per route used; the unmatched request made none');

  // 429 with a Retry-After beyond maxRetryAfter (5 min): a RateLimitError at once, with the server's time.
  const refused = out.refused;
  assert.equal(refused.threw, true, `a 429 with Retry-After: 3600 must throw ${why}`);
  assert.equal(refused.name, 'RateLimitError');
  assert.deepEqual([refused.guard, refused.instanceOfClass, refused.instanceOfBase, refused.baseGuard], [true, true, true, true], why);
  assert.equal(refused.status, 429);
  assert.equal(refused.attempts, 1);
  // Retry-After: 3600 is read on the client's clock when the response arrived, within the call.
  assert.ok(refused.retryAt >= out.refusedAt + 3_600_000 && refused.retryAt <= out.refusedDoneAt + 3_600_000,
    `retryAt is the server's Retry-After from the response: ${refused.retryAt - out.refusedAt - 3_600_000} ms after the call began, which took ${out.refusedDoneAt - out.refusedAt} ms ${why}`);
  const refuseHits = hits.filter((h) => h.path === `/${project}/refuse`);
  assert.equal(refuseHits.length, 1, 'no retry after a Retry-After longer than maxRetryAfter');
  assert.match(refuseHits[0].idempotencyKey ?? '', /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
    'a POST carries an Idempotency-Key (UUID v4)');

  // 503 without a retry time, retry.limit 2: retried once, then a RetryError.
  const failed = out.failed;
  assert.equal(failed.name, 'RetryError', why);
  assert.deepEqual([failed.guard, failed.instanceOfClass, failed.instanceOfBase, failed.baseGuard], [true, true, true, true], why);
  assert.equal(failed.status, 503);
  assert.equal(failed.attempts, 2);
  assert.equal(hits.filter((h) => h.path === `/${project}/fail`).length, 2, 'two attempts reached the server');

  // The Limiter's own errors.
  assert.equal(out.capacity.name, 'InsufficientCapacityError', why);
  assert.deepEqual([out.capacity.guard, out.capacity.instanceOfClass, out.capacity.instanceOfBase], [true, true, true], why);
  assert.equal(out.queueFull.name, 'QueueFullError', why);
  assert.deepEqual([out.queueFull.guard, out.queueFull.instanceOfClass, out.queueFull.instanceOfBase], [true, true, true], why);
  assert.equal(out.badOption.name, 'TypeError', why);
  assert.equal(out.badOption.instanceOfBase, false, 'a bad option is a plain TypeError');
  assert.match(out.badOption.message, /`windows\[0\]\.limit`/, 'a bad option names itself');

  // Events fire (CustomEvent and EventTarget are there).
  for (const e of ['admitted:limited', 'queued:limited', 'throttled:refuse', 'gave-up:fail']) {
    assert.ok(out.events.includes(e), `event ${e} missing from ${out.events.join(', ')}`);
  }
}

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

/** The local server: /<project>/limited/<n> and /<project>/free answer 200, /refuse 429 for an hour, /fail 503. */
function startServer() {
  const hits = new Map();
  const sockets = new Set();
  const srv = http.createServer((req, res) => {
    const at = Date.now();
    const path = req.url.split('?')[0];
    const [, project = '', what = ''] = path.split('/');
    if (!hits.has(project)) hits.set(project, []);
    hits.get(project).push({ path, method: req.method, at, idempotencyKey: req.headers['idempotency-key'] });
    req.resume();
    req.on('end', () => {
      const text = (status, body, headers = {}) => {
        res.writeHead(status, { 'content-type': 'text/plain', ...headers });
        res.end(body);
      };
      if (what === 'limited') text(200, `limited ${path.split('/')[3]}`);
      else if (what === 'free') text(200, 'free');
      else if (what === 'refuse') text(429, 'slow down', { 'retry-after': '3600' });
      else if (what === 'fail') text(503, 'down');
      else text(404, 'not found');
    });
  });
  srv.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  return new Promise((resolve, reject) => {
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      srv.unref(); // never what keeps the test process alive
      const { port } = srv.address();
      resolve({
        base: `http://127.0.0.1:${port}`,
        hits,
        close: () => new Promise((done) => {
          for (const s of sockets) s.destroy();
          srv.close(() => done());
        }),
      });
    });
  });
}

/** Runs a consumer program in its project; returns the JSON it printed last. */
async function runNode(cwd, args) {
  const project = Object.entries(projects).find(([, dir]) => dir === cwd)?.[0];
  const env = { ...process.env, TOLLGATE_TEST_URL: `${server.base}/${project}` };
  delete env.NODE_TEST_CONTEXT; // the program is not a test file
  delete env.NODE_OPTIONS;
  const r = await run(process.execPath, args, { cwd, env, timeout: 20_000 });
  assert.equal(r.code, 0, `node ${args.join(' ')} in the ${project} project failed:\n${r.output}`);
  const last = r.stdout.trim().split('\n').at(-1);
  try {
    return JSON.parse(last);
  } catch {
    throw new Error(`node ${args.join(' ')} printed no JSON result:\n${r.output}`);
  }
}

/**
 * npm's environment without what `npm test` exports for the repo (npm_config_local_prefix,
 * npm_config_prefix, npm_package_*, ...), which would make a nested npm act on the repo.
 */
function npmEnv() {
  const keep = new Set(['npm_config_cache', 'npm_config_userconfig', 'npm_config_globalconfig', 'npm_config_registry',
    'npm_config_cafile', 'npm_config_ca', 'npm_config_proxy', 'npm_config_https_proxy', 'npm_config_http_proxy',
    'npm_config_noproxy', 'npm_config_strict_ssl']);
  const env = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!/^npm_/i.test(k) || keep.has(k.toLowerCase())) env[k] = v;
  }
  delete env.NODE_TEST_CONTEXT;
  delete env.NODE_OPTIONS;
  return env;
}

function run(file, args, { cwd, env = process.env, timeout = 60_000 }) {
  return new Promise((resolve) => {
    execFile(file, args, { cwd, env, timeout, maxBuffer: 32 << 20 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
      const extra = error && typeof error.code !== 'number' ? `\n${error.message}` : '';
      resolve({ code, stdout, stderr, output: `${stdout}${stderr}${extra}` });
    });
  });
}

function walk(dir) {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? walk(path) : [path];
  });
}

/** package.json's "bin" files, as paths relative to the package root. */
function binTargets(p) {
  const bin = typeof p.bin === 'string' ? [p.bin] : Object.values(p.bin ?? {});
  return bin.map((f) => f.replace(/^\.\//, ''));
}

function* strings(value) {
  if (typeof value === 'string') yield value;
  else if (value && typeof value === 'object') for (const v of Object.values(value)) yield* strings(v);
}

function writeJson(path, value) {
  return writeFile(path, `${JSON.stringify(value, null, 2)}\n`);
}
