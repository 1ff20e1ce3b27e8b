#!/usr/bin/env node
// Bundles the Node entry (issue 12, start-up). Run by .ci/build.sh after tsc and
// .ci/inline-wasm.mjs.
//
// What start-up costs in Node 20 (measured with tests/bench/startup.mjs, V8's
// --log-function-events and timestamps in throwaway copies): about 35-50 µs a
// KB of JavaScript to compile (V8 pre-parses every function, called or not),
// a resolve, a read and a compile per file, and for `import` of a CommonJS
// file Node's CommonJS loader on top of its ES one (about 3 ms the first
// time; `createRequire` alone about 1 ms). So:
//   js/cjs/node.js and js/node.mjs   hold one content: esbuild's bundle of
//       js/src/node.ts with the modules it needs at once (scope-hoisted: no
//       wrapper per module), the Limiter and the classes and objects the
//       package exports, and none of the rest: each module in LAZY (and so
//       whatever only they import: rateLimitedFetch and the header parsing,
//       the Redis and tab stores, the Hex client, the cost tools, snapshots...)
//       is replaced by stand-ins of its functions that `require` tsc's file of
//       it on the first call. The bundle runs as one function (parenthesized,
//       so V8 compiles it at once) returning the exports as one frozen object
//       of values (no getter per export to compile and call).
//       js/node.mjs is `import`'s entry, an ES module of its own (no CommonJS
//       loader at start-up); it carries the limiter's wasm as base64 (an ES
//       module would need `createRequire` or the `node:fs` namespace to read a
//       file, each slower than decoding) and makes its `require`, for the
//       lazily loaded files, on first use. Whichever of the two files is loaded
//       first runs the bundle and leaves its exports under a symbol of
//       globalThis named after the build's content (no path to compute: reading
//       `import.meta` costs 0.2 ms); the other one, if loaded later, hands
//       those out instead of running its own copy: one wasm instance and one
//       set of classes for `import` and `require` (`instanceof` agrees).
//   js/cjs/chunks/<group>.js   bundles a group of LAZY modules (GROUPS) with
//       what only they import, loaded together on first use: rateLimitedFetch
//       needs a dozen modules, and each file costs Node a resolve, a read and
//       a compile of its own.
//   js/cjs/<module>.js   of every module inside a bundle becomes a one-line
//       file handing out the entry's instance of it (found under that symbol,
//       or by requiring js/cjs/node.js), so that the lazily loaded files (tsc's
//       own) and anyone requiring a file of js/cjs share one wasm instance and
//       one set of classes with the entry.
// BUNDLE_NODE_ANALYZE=1 lists the bytes each module adds to the bundle.
// Deterministic, and no path of this machine ends up in the output.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const require = createRequire(import.meta.url);
const esbuild = require('esbuild');
const src = join(root, 'js', 'src');
const cjs = join(root, 'js', 'cjs');
const entry = join(cjs, 'node.js');
const esmEntry = join(root, 'js', 'node.mjs');
const MODULES = 'tollgate.modules'; // Symbol.for(MODULES): the bundle's modules, by path in js/cjs
const STAND_IN = './stand-in'; // the one module of the lazy modules' stand-ins' maker
const CORE_BYTES = 'wasm/node_core'; // js/src/node.ts's import of the limiter's bytes (js/src/wasm/node_core.d.ts)

/** An import inside a stand-in module (both plugins make them): the stand-ins' maker, or the real module, left to load at run time. */
const fromStandIn = (args) => (args.path === STAND_IN ? { path: STAND_IN, namespace: 'tollgate-lazy' } : { path: args.path, external: true });
/** A relative import as the id of its js/src module (`shared/scope`). */
const srcId = (args) => posix(relative(src, join(args.resolveDir, args.path))).replace(/\.(js|ts)$/, '');

/**
 * Loaded on the first call of one of their functions (modules of js/src). The
 * bundle gets a stand-in for each plain function a module exports; importing
 * anything else of one (a class, a constant) from a bundled module fails the
 * build (esbuild: no matching export), so a module whose class the package
 * exports cannot be here.
 */
const LAZY = [
  'fetch', // rateLimitedFetch, and with it the routes, refusals, waits and retries
  'feedback', // parseRateLimitHeaders: the feedback wasm
  'routes', // the presets' URL matchers and key hashing
  'shared/scope', // the presets' shared stores
  'shared/options', // Limiter.shared, normalizeSharedOptions
  'snapshot', // Limiter#snapshot, Limiter.restore
  'tabs/open', // openShared
  'shared/redis-store', // redisStore: the Redis client and its Lua scripts
  'tabs/store', // tabStore: browser tabs only
  'hex/client', // hexClient: the Hex API client
  'cost/options', // RunCache's and UsageMonitor's option checks
  'cost/response-cache',
  'cost/headroom',
  'cost/file-store',
  'cost/local-storage-store',
  'cost/indexed-db-store',
  'wasm/tollgate_feedback', // the feedback wasm's bytes (js/cjs/wasm/tollgate_feedback.js, from .ci/inline-wasm.mjs)
];
const posix = (p) => p.split(sep).join('/');

const BANNER = '// The Node entry, bundled by .ci/bundle-node.mjs from js/src (see there for what it holds).';
if (readFileSync(entry, 'utf8').startsWith(BANNER)) {
  throw new Error('bundle-node: js/cjs/node.js is the bundle already; run `npx tsc -p js/tsconfig.cjs.json` first (bash .ci/build.sh does)');
}

const isPlainFunction = (value) => typeof value === 'function' && !/^class\b/.test(Function.prototype.toString.call(value));
// Each lazy module's functions, from tsc's files (read before anything is rewritten).
const lazy = new Map(LAZY.map((id) => {
  const mod = require(join(cjs, `${id}.js`));
  return [id, Object.keys(mod).filter((k) => k !== '__esModule' && isPlainFunction(mod[k])).sort()];
}));

/** Each module's export names (tsc's file of it; read before anything is rewritten). */
const exportsOf = (id) => Object.keys(require(join(cjs, `${id}.js`))).filter((k) => k !== '__esModule').sort();

/** The limiter's bytes, as each file gets them (see the top of this file). */
const coreBase64 = readFileSync(join(root, 'pkg/node/tollgate_core.wasm')).toString('base64');
const CORE_BASE64 = 'tollgateCoreBase64'; // js/node.mjs's constant of the bytes (see `writeFileSync(esmEntry, ...)`)
const coreBytes = {
  cjs: "export default () => require('node:fs').readFileSync(require('node:path').join(__dirname, '../../pkg/node/tollgate_core.wasm'));",
  esm: `export default () => Buffer.from(${CORE_BASE64}, 'base64');`,
};
const HAND_OUT = '__tollgateHandOut'; // the bundle's export handing out its modules (under Symbol.for(MODULES) in the entry's exports)

/** The bundled modules' `export let` names: handed out through getters (live bindings), every other export as a value. */
const liveOf = (id) => new Set([...readFileSync(join(src, `${id}.ts`), 'utf8').matchAll(/^export let (\w+)/gm)].map((m) => m[1]));

/** The module of stand-ins for the LAZY module `id`, for a bundle in the folder `from` (of js/cjs). */
function standInModule(id, from) {
  if (id === STAND_IN) {
    return {
      contents: [
        '/** A function named `name` that calls `load()[name]`: the module is loaded on its first call. */',
        // A method keeps the function's name (a computed one too) and cannot be called with `new`;
        // one function for every stand-in, where one each would cost V8 a pre-parse each.
        'export const standIn = (load, name) => ({ [name]() { return load()[name].apply(this, arguments); } })[name];',
      ].join('\n'),
      loader: 'js',
    };
  }
  const file = posix(relative(from, join(cjs, `${id}.js`)));
  return {
    contents: [
      `import { standIn } from ${JSON.stringify(STAND_IN)};`,
      'let loaded;',
      `const load = () => loaded ??= require(${JSON.stringify(file.startsWith('.') ? file : `./${file}`)});`,
      ...lazy.get(id).map((n) => `${n === 'default' ? 'export default' : `export const ${n} =`} standIn(load, ${JSON.stringify(n)});`),
    ].join('\n'),
    loader: 'js',
    resolveDir: from,
  };
}

/**
 * Source lines defining `handOut(file)`: the exports of the module `file` (a
 * path in js/cjs) of `modules` (ids of js/src modules inside the bundle), one
 * frozen object made when first asked for (imports by name cost nothing at
 * start-up; a namespace object per module would).
 */
function handOutSource(modules) {
  const names = new Map(modules.map((m) => [m, exportsOf(m)]));
  return [
    ...modules.map((m, i) => `import { ${names.get(m).map((n) => `${n} as m${i}_${n}`).join(', ')} } from './${m}.ts';`),
    'const makers = {',
    ...modules.map((m, i) => {
      const live = liveOf(m);
      return `  ${JSON.stringify(`${m}.js`)}: () => ({ ` +
        `${names.get(m).map((n) => (live.has(n) ? `get ${n}() { return m${i}_${n}; }` : `${n}: m${i}_${n}`)).join(', ')} }),`;
    }),
    '};',
    'const made = new Map();',
    "const handOut = (file) => made.get(file) ?? made.set(file, Object.freeze(Object.defineProperty(makers[file](), '__esModule', { value: true }))).get(file);",
  ];
}

/**
 * The bundle for `kind` (cjs or esm: only the limiter's bytes differ), as an
 * ES module (its exports become one object in `write`); `modules`: the ids of
 * the js/src modules inside it, whose exports `HAND_OUT(file)` hands out, each
 * made into an object when first asked for.
 */
function bundle(modules, kind) {
  return esbuild.build({
    absWorkingDir: root,
    stdin: {
      contents: [
        "export * from './node.ts';",
        ...handOutSource(modules),
        `export { handOut as ${HAND_OUT} };`,
      ].join('\n'),
      resolveDir: src,
      sourcefile: 'node-entry.js',
      loader: 'ts',
    },
    tsconfig: join(root, 'js', 'tsconfig.cjs.json'),
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'es2022', // tsc's target (js/tsconfig.base.json)
    write: false,
    metafile: true,
    // package.json's `sideEffects` names the built entries, not js/src/node.ts: without this its wasm set-up would be dropped.
    ignoreAnnotations: true,
    logLevel: 'warning',
    plugins: [{
      name: 'tollgate-lazy',
      setup(build) {
        build.onResolve({ filter: /^\.\.?\// }, (args) => {
          if (args.namespace === 'tollgate-lazy') return fromStandIn(args);
          const id = srcId(args);
          if (id === CORE_BYTES) return { path: id, namespace: 'tollgate-core-bytes' };
          return lazy.has(id) ? { path: id, namespace: 'tollgate-lazy' } : undefined;
        });
        build.onLoad({ filter: /.*/, namespace: 'tollgate-core-bytes' }, () => ({ contents: coreBytes[kind], loader: 'js' }));
        build.onLoad({ filter: /.*/, namespace: 'tollgate-lazy' }, ({ path: id }) => standInModule(id, cjs));
      },
    }],
  });
}

const inside = (result) => Object.keys(result.metafile.inputs)
  .filter((p) => p.startsWith('js/src/') && p.endsWith('.ts'))
  .map((p) => p.slice('js/src/'.length, -'.ts'.length))
  .filter((id) => id !== 'node')
  .sort();
const modules = inside(await bundle([], 'cjs'));
const built = { cjs: await bundle(modules, 'cjs'), esm: await bundle(modules, 'esm') };
for (const result of Object.values(built)) {
  if (inside(result).join() !== modules.join()) throw new Error('bundle-node: handing out the modules changed what the bundle holds');
}
for (const m of modules) {
  if (!existsSync(join(cjs, `${m}.js`))) throw new Error(`bundle-node: js/cjs/${m}.js is missing (tsc's output)`);
}

/**
 * The bundle of `kind` as a function body: esbuild's closing `export { ... }`
 * becomes the return of the entry's exports, one frozen object of values (no
 * getter to call per export), with the modules' hand-out under a symbol.
 */
function body(kind) {
  const text = built[kind].outputFiles[0].text;
  const list = /\nexport \{\n([^}]*)\n\};\n$/.exec(text);
  if (!list) throw new Error('bundle-node: esbuild\'s output does not end in one `export { ... }`');
  const exported = list[1].split(',').map((e) => e.trim()).filter(Boolean).map((e) => {
    const [local, name = local] = e.split(/\s+as\s+/);
    return [name, local];
  });
  const hand = exported.find(([name]) => name === HAND_OUT);
  const names = exported.filter(([name]) => name !== HAND_OUT).sort(([a], [b]) => (a < b ? -1 : 1));
  if (!hand || names.some(([name]) => !/^[A-Za-z_$][\w$]*$/.test(name))) throw new Error(`bundle-node: unexpected exports ${list[1]}`);
  if (kind === 'esm' && /\b__dirname\b/.test(text)) throw new Error('bundle-node: the ES module entry uses __dirname');
  return {
    names: names.map(([name]) => name),
    text: [
      text.slice(0, list.index),
      `return Object.freeze(Object.defineProperties({ ${names.map(([name, local]) => (name === local ? name : `${name}: ${local}`)).join(', ')} }, {`,
      `  __esModule: { value: true }, [Symbol.for(${JSON.stringify(MODULES)})]: { value: ${hand[1]} },`,
      '}));',
    ].join('\n'),
  };
}
const bodies = { cjs: body('cjs'), esm: body('esm') };
if (bodies.cjs.names.join() !== bodies.esm.names.join()) throw new Error('bundle-node: the two bundles export different names');

// The bundle runs inside a function of `require`, parenthesized: V8 compiles
// such a function at once instead of pre-parsing it first.
const run = (kind) => ['(function (require) {', bodies[kind].text, '})(require)'].join('\n');
// The one instance's symbol: named after this build's content, so that both
// files of one build (in one folder, or copies of it) share an instance, and
// neither needs its own path for it at start-up (`import.meta` costs 0.2 ms).
const hash = createHash('sha256').update(bodies.cjs.text).update(bodies.esm.text).update(coreBase64).digest('hex').slice(0, 16);
const KEY = `Symbol.for(${JSON.stringify(`tollgate ${hash}`)})`;
const share = [
  `const key = ${KEY};`,
  '/** Leaves the exports for the other file of the entry (not enumerable, not writable). */',
  'const share = (exports) => {',
  '  // A frozen globalThis (SES lockdown) refuses: then `import` and `require` each get an instance of their own.',
  '  try { Object.defineProperty(globalThis, key, { value: exports }); } catch {}',
  '  return exports;',
  '};',
];

/**
 * Loaded together: a group of LAZY modules and whatever only they import go
 * into one file of js/cjs, loaded on the first call of one of their functions
 * (through the stand-ins above: each module's own file then hands out the
 * chunk's instance of it). One file instead of a dozen: Node resolves, reads
 * and compiles each file on its own.
 */
const GROUPS = {
  'chunks/fetch': ['fetch', 'feedback', 'routes', 'shared/scope', 'shared/options'], // rateLimitedFetch and what it needs
};

/** The chunk `file` (a path in js/cjs, no .js) of the group `roots`; `inner`: its modules, handed out under Symbol.for(MODULES). */
function chunk(file, roots, inner) {
  const dir = dirname(join(cjs, file));
  return esbuild.build({
    absWorkingDir: root,
    stdin: {
      contents: [
        ...roots.map((r) => `import './${r}.ts';`),
        ...handOutSource(inner),
        `Object.defineProperty(module.exports, Symbol.for(${JSON.stringify(MODULES)}), { value: handOut });`,
      ].join('\n'),
      resolveDir: src,
      sourcefile: `${file}-entry.js`,
      loader: 'ts',
    },
    tsconfig: join(root, 'js', 'tsconfig.cjs.json'),
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'es2022',
    write: false,
    metafile: true,
    ignoreAnnotations: true,
    logLevel: 'warning',
    logOverride: { 'commonjs-variable-in-esm': 'silent' }, // `module.exports` above, on purpose
    banner: { js: `// Modules of js/src loaded together on first use, bundled by .ci/bundle-node.mjs (see GROUPS there).` },
    plugins: [{
      name: 'tollgate-chunk',
      setup(build) {
        build.onResolve({ filter: /^\.\.?\// }, (args) => {
          if (args.namespace === 'tollgate-lazy') return fromStandIn(args);
          const id = srcId(args);
          if (roots.includes(id)) return undefined;
          // The entry's modules stay outside (their hand-out files); the other lazy ones get stand-ins, as in the entry.
          if (lazy.has(id)) return { path: id, namespace: 'tollgate-lazy' };
          if (!modules.includes(id)) return undefined;
          const to = posix(relative(dir, join(cjs, `${id}.js`)));
          return { path: to.startsWith('.') ? to : `./${to}`, external: true };
        });
        build.onLoad({ filter: /.*/, namespace: 'tollgate-lazy' }, ({ path: id }) => standInModule(id, dir));
      },
    }],
  });
}
const chunks = [];
for (const [file, roots] of Object.entries(GROUPS)) {
  if (!roots.every((r) => lazy.has(r))) throw new Error(`bundle-node: GROUPS['${file}'] names a module that is not in LAZY`);
  const inner = inside(await chunk(file, roots, []));
  const result = await chunk(file, roots, inner);
  if (inside(result).join() !== inner.join()) throw new Error(`bundle-node: handing out the modules changed what ${file} holds`);
  const twice = inner.filter((m) => modules.includes(m) || chunks.some((c) => c.inner.includes(m)));
  if (twice.length) throw new Error(`bundle-node: ${twice.join(', ')} would be in ${file} and in another bundle`);
  chunks.push({ file, inner, text: result.outputFiles[0].text });
}

// Everything is read: now rewrite js/cjs.
writeFileSync(entry, [
  BANNER,
  '"use strict";',
  '// The one instance of the package: js/node.mjs\'s, if `import` came first (see .ci/bundle-node.mjs).',
  ...share,
  `module.exports = globalThis[key] ?? share(${run('cjs')});`,
  '',
].join('\n'));
for (const m of modules) {
  const up = posix(relative(dirname(join(cjs, m)), entry));
  const toEntry = up.startsWith('.') ? up : `./${up}`;
  writeFileSync(join(cjs, `${m}.js`), [
    '"use strict";',
    `// Bundled into ${toEntry} by .ci/bundle-node.mjs: this file hands out the bundle's instance of the module`,
    "// (js/node.mjs's, without loading the CommonJS entry, when `import` came first).",
    `module.exports = (globalThis[${KEY}] ?? require(${JSON.stringify(toEntry)}))[Symbol.for(${JSON.stringify(MODULES)})](${JSON.stringify(`${m}.js`)});`,
    '',
  ].join('\n'));
}
for (const { file, inner, text } of chunks) {
  mkdirSync(dirname(join(cjs, `${file}.js`)), { recursive: true });
  writeFileSync(join(cjs, `${file}.js`), text);
  for (const m of inner) {
    const up = posix(relative(dirname(join(cjs, m)), join(cjs, `${file}.js`)));
    writeFileSync(join(cjs, `${m}.js`), [
      '"use strict";',
      `// Bundled into ${up.startsWith('.') ? up : `./${up}`} by .ci/bundle-node.mjs: this file hands out the bundle's instance of the module.`,
      `module.exports = require(${JSON.stringify(up.startsWith('.') ? up : `./${up}`)})[Symbol.for(${JSON.stringify(MODULES)})](${JSON.stringify(`${m}.js`)});`,
      '',
    ].join('\n'));
  }
}
writeFileSync(esmEntry, [
  BANNER.replace('The Node entry', 'The Node entry for `import`'),
  "import { createRequire } from 'node:module';",
  '',
  '// The one instance of the package: js/cjs/node.js\'s, if `require` came first.',
  ...share,
  "/** The limiter's wasm (pkg/node/tollgate_core.wasm). Here, not in the function below: V8 would scan it twice there. */",
  `const ${CORE_BASE64} = '${coreBase64}';`,
  "/** For the lazily loaded parts, tsc's files in js/cjs (made on first use: `createRequire` costs a millisecond). */",
  'let required;',
  "const require = (id) => (required ??= createRequire(new URL('./cjs/node.js', import.meta.url)))(id);",
  `const tollgate = globalThis[key] ?? share(${run('esm')});`,
  '',
  'export const {',
  ...bodies.esm.names.map((n) => `  ${n},`),
  '} = tollgate;',
  '',
].join('\n'));

// Both files load, in a fresh process, and share one instance whichever comes first.
for (const first of ['require', 'import']) {
  const check = `const load = { require: () => require(${JSON.stringify(entry)}), import: () => import(${JSON.stringify(pathToFileURL(esmEntry).href)}) };
(async () => {
  const a = await load[${JSON.stringify(first)}](), b = await load[${JSON.stringify(first === 'require' ? 'import' : 'require')}]();
  const [required, imported] = ${first === 'require' ? '[a, b]' : '[b, a]'};
  if (a.Limiter !== b.Limiter || !new a.Limiter({ windows: [{ limit: 1, per: '1s' }] }).tryAcquire().ok) throw new Error('not one instance');
  if (typeof required[Symbol.for(${JSON.stringify(MODULES)})] !== 'function') throw new Error('the bundle does not hand out its modules');
  if (Object.keys(imported).sort().join() !== Object.keys(required).sort().join()) throw new Error('import and require give different names');
  process.stdout.write(JSON.stringify(Object.keys(required).sort()));
})();`;
  const names = JSON.parse(execFileSync(process.execPath, ['-e', check], { encoding: 'utf8' }));
  if (names.join() !== bodies.esm.names.join()) throw new Error(`bundle-node: ${first} first gives the exports ${names}`);
}

if (process.env.BUNDLE_NODE_ANALYZE) {
  const inputs = Object.values(built.cjs.metafile.outputs)[0].inputs;
  for (const [file, { bytesInOutput }] of Object.entries(inputs).sort((a, b) => b[1].bytesInOutput - a[1].bytesInOutput)) console.log(`${bytesInOutput} ${file}`);
}
const kb = (n) => `${(n / 1024).toFixed(1)} KB`;
const code = (kind) => built[kind].outputFiles[0].contents.length;
console.log(`bundle-node: js/cjs/node.js and js/node.mjs: ${kb(code('cjs'))} of JavaScript (${modules.length + 1} modules; ` +
  `js/node.mjs with the limiter's wasm in base64 besides); loaded on first use: ${LAZY.join(', ')} and what only they import` +
  chunks.map(({ file, inner, text }) => `; js/cjs/${file}.js: ${kb(Buffer.byteLength(text))} (${inner.length} modules)`).join(''));
