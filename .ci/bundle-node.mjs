#!/usr/bin/env node
// Bundles the Node entry (issue 12, start-up). Run by .ci/build.sh after tsc and
// .ci/inline-wasm.mjs.
//
// tsc's CommonJS output (js/cjs, one file a module) costs Node a resolve, a
// read and a compile per file, 50 of them, and `import` of a CommonJS file
// costs a scan of it for its export names. So:
//   js/cjs/node.js   becomes one file: esbuild's bundle of js/src/node.ts with
//       the modules it loads at once (scope-hoisted: no wrapper per module), and
//       none of the rarely used parts: each module in LAZY (the Redis and tab
//       stores, the Hex client, the cost tools, the feedback wasm's bytes) is
//       replaced by stand-ins of its functions that `require` tsc's file of it
//       on the first call.
//   js/cjs/<module>.js   of every module inside the bundle becomes a one-line
//       file handing out the bundle's instance of it, so that the lazily loaded
//       files (tsc's own) and anyone requiring a file of js/cjs share one wasm
//       instance and one set of classes with the entry.
//   js/node.mjs   `import`'s entry: requires js/cjs/node.js (one instance for
//       `import` and `require`, so `instanceof` agrees) and names its exports
//       (written here from the bundle's exports, so Node need not scan for them).
// Deterministic, and no path of this machine ends up in the output.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const require = createRequire(import.meta.url);
const esbuild = require('esbuild');
const src = join(root, 'js', 'src');
const cjs = join(root, 'js', 'cjs');
const entry = join(cjs, 'node.js');
const MODULES = 'tollgate.modules'; // Symbol.for(MODULES): the bundle's modules, by path in js/cjs

/** Loaded on the first call of one of their functions (modules of js/src); each may export functions only. */
const LAZY = [
  'shared/redis-store', // redisStore: the Redis client and its Lua scripts
  'tabs/store', // tabStore: browser tabs only
  'hex/client', // hexClient: the Hex API client
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

// Each lazy module's exports, from tsc's files (read before anything is rewritten).
const lazy = new Map(LAZY.map((id) => {
  const mod = require(join(cjs, `${id}.js`));
  const names = Object.keys(mod).filter((k) => k !== '__esModule').sort();
  for (const name of names) {
    const value = mod[name];
    if (typeof value !== 'function' || /^class\b/.test(Function.prototype.toString.call(value))) {
      throw new Error(`bundle-node: js/src/${id} exports \`${name}\`, which is not a plain function; a lazily loaded module may ` +
        'only export functions (the entry hands out stand-ins that load it on the first call): take it off LAZY in .ci/bundle-node.mjs');
    }
  }
  return [id, names];
}));

/** Each module's export names (tsc's file of it; read before anything is rewritten). */
const exportsOf = (id) => Object.keys(require(join(cjs, `${id}.js`))).filter((k) => k !== '__esModule').sort();

/**
 * The bundle; `modules`: the ids of the js/src modules inside it, handed out under
 * Symbol.for(MODULES). Each is made into an object of getters when first asked for
 * (imports by name cost nothing at start-up; a namespace object per module would).
 */
function bundle(modules) {
  const names = new Map(modules.map((m) => [m, exportsOf(m)]));
  return esbuild.build({
    absWorkingDir: root,
    stdin: {
      contents: [
        "export * from './node.ts';",
        ...modules.map((m, i) => `import { ${names.get(m).map((n) => `${n} as m${i}_${n}`).join(', ')} } from './${m}.ts';`),
        'const made = new Map();',
        "const handOut = (id, make) => made.get(id) ?? made.set(id, Object.freeze(Object.defineProperty(make(), '__esModule', { value: true }))).get(id);",
        `Object.defineProperty(module.exports, Symbol.for(${JSON.stringify(MODULES)}), { value: Object.freeze({`,
        ...modules.map((m, i) => `  get ${JSON.stringify(`${m}.js`)}() { return handOut(${JSON.stringify(m)}, () => ({ ` +
          `${names.get(m).map((n) => `get ${n}() { return m${i}_${n}; }`).join(', ')} })); },`),
        '}) });',
      ].join('\n'),
      resolveDir: src,
      sourcefile: 'node-entry.js',
      loader: 'ts',
    },
    tsconfig: join(root, 'js', 'tsconfig.cjs.json'),
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'es2022', // tsc's target (js/tsconfig.base.json)
    write: false,
    metafile: true,
    // package.json's `sideEffects` names the built entries, not js/src/node.ts: without this its wasm set-up would be dropped.
    ignoreAnnotations: true,
    logLevel: 'warning',
    logOverride: { 'commonjs-variable-in-esm': 'silent' }, // `module.exports` above, on purpose
    banner: { js: BANNER },
    plugins: [{
      name: 'tollgate-lazy',
      setup(build) {
        build.onResolve({ filter: /^\.\.?\// }, (args) => {
          if (args.namespace === 'tollgate-lazy') return { path: args.path, external: true };
          const id = posix(relative(src, join(args.resolveDir, args.path))).replace(/\.(js|ts)$/, '');
          return lazy.has(id) ? { path: id, namespace: 'tollgate-lazy' } : undefined;
        });
        build.onLoad({ filter: /.*/, namespace: 'tollgate-lazy' }, ({ path: id }) => ({
          contents: [
            'let loaded;',
            `const load = () => loaded ??= require(${JSON.stringify(`./${id}.js`)});`,
            // A method's shorthand keeps the function's name (`default` too) and cannot be called with `new`.
            ...lazy.get(id).map((n) => `${n === 'default' ? 'export default' : `export const ${n} =`} ` +
              `{ ${n}() { return load().${n}.apply(this, arguments); } }.${n};`),
          ].join('\n'),
          loader: 'js',
          resolveDir: cjs,
        }));
      },
    }],
  });
}

const inside = (result) => Object.keys(result.metafile.inputs)
  .filter((p) => p.startsWith('js/src/') && p.endsWith('.ts'))
  .map((p) => p.slice('js/src/'.length, -'.ts'.length))
  .filter((id) => id !== 'node')
  .sort();
const modules = inside(await bundle([]));
const result = await bundle(modules);
if (inside(result).join() !== modules.join()) throw new Error('bundle-node: handing out the modules changed what the bundle holds');
for (const m of modules) {
  if (!existsSync(join(cjs, `${m}.js`))) throw new Error(`bundle-node: js/cjs/${m}.js is missing (tsc's output)`);
}

// Everything is read: now rewrite js/cjs.
writeFileSync(entry, result.outputFiles[0].contents);
for (const m of modules) {
  const up = posix(relative(dirname(join(cjs, m)), entry));
  const toEntry = up.startsWith('.') ? up : `./${up}`;
  writeFileSync(join(cjs, `${m}.js`), [
    '"use strict";',
    `// Bundled into ${toEntry} by .ci/bundle-node.mjs: this file hands out the bundle's instance of the module.`,
    `module.exports = require(${JSON.stringify(toEntry)})[Symbol.for(${JSON.stringify(MODULES)})][${JSON.stringify(`${m}.js`)}];`,
    '',
  ].join('\n'));
}

// `import`'s entry, naming the bundle's exports (read in a fresh process: the entry loads the wasm).
const check = `const t = require(${JSON.stringify(entry)});
if (!t[Symbol.for(${JSON.stringify(MODULES)})]) throw new Error('the bundle does not hand out its modules');
process.stdout.write(JSON.stringify(Object.keys(t)));`;
const names = JSON.parse(execFileSync(process.execPath, ['-e', check], { encoding: 'utf8' }));
if (names.length === 0 || !names.every((n) => /^[A-Za-z_$][\w$]*$/.test(n))) throw new Error(`bundle-node: unexpected export names ${names}`);
writeFileSync(join(root, 'js', 'node.mjs'), [
  '// Generated by .ci/bundle-node.mjs; do not edit.',
  "// Node's ESM entry requires the CommonJS one, so `import` and `require` share one",
  '// wasm instance and one set of classes (`instanceof` agrees). Its exports are',
  '// named here, so that Node need not scan the CommonJS file for them.',
  "import { createRequire } from 'node:module';",
  '',
  "const tollgate = createRequire(import.meta.url)('./cjs/node.js');",
  'export const {',
  ...names.map((n) => `  ${n},`),
  '} = tollgate;',
  '',
].join('\n'));

const kb = (n) => `${(n / 1024).toFixed(1)} KB`;
console.log(`bundle-node: js/cjs/node.js ${kb(result.outputFiles[0].contents.length)} (${modules.length + 1} modules); ` +
  `loaded on first use: ${LAZY.join(', ')} and what they import`);
