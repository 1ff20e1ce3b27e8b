// Start-up in Node (issue 12): how long `import()` of each package takes in a
// fresh process, and the time from the start of that import to the first
// decision (tollgate: `new Limiter(...)` and `tryAcquire()`; bottleneck: a
// `schedule()` that ran; p-throttle: a throttled call that ran). Each sample is
// a new Node process (nothing cached in memory, the files in the OS cache
// after the warm-up), the packages interleaved round by round. Node's own
// floor is measured alongside: the same `import()` of a package whose module
// is empty (made in a temporary folder).
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fmt, header, log, median, out, table, target } from './lib.mjs';

const ROUNDS = Number(process.env.TOLLGATE_BENCH_STARTUP_ROUNDS ?? 15);
const repo = fileURLToPath(new URL('../..', import.meta.url));

// Each script prints two numbers: ms for the import, ms to the first decision.
const PACKAGES = {
  tollgate: `
    const t0 = performance.now();
    const { Limiter } = await import('tollgate');
    const t1 = performance.now();
    const limiter = new Limiter({ windows: [{ limit: 20, per: '1m' }, { limit: 60, per: '1h' }] });
    if (!limiter.tryAcquire().ok) throw new Error('not admitted');
    const t2 = performance.now();
    console.log(t1 - t0, t2 - t0);`,
  bottleneck: `
    const t0 = performance.now();
    const { default: Bottleneck } = await import('bottleneck');
    const t1 = performance.now();
    const limiter = new Bottleneck({ reservoir: 20, minTime: 0 });
    await limiter.schedule(async () => 1);
    const t2 = performance.now();
    console.log(t1 - t0, t2 - t0);
    await limiter.disconnect();`,
  'p-throttle': `
    const t0 = performance.now();
    const { default: pThrottle } = await import('p-throttle');
    const t1 = performance.now();
    const throttled = pThrottle({ limit: 20, interval: 60_000, strict: true })(() => 1);
    await throttled();
    const t2 = performance.now();
    console.log(t1 - t0, t2 - t0);`,
};

// Node alone: a package of one empty ES module, imported by name as the others are.
const floorDir = mkdtempSync(join(tmpdir(), 'tollgate-startup-'));
mkdirSync(join(floorDir, 'node_modules', 'empty'), { recursive: true });
writeFileSync(join(floorDir, 'package.json'), '{ "private": true }\n'); // as the repo has one: the same package scope lookup
writeFileSync(join(floorDir, 'node_modules', 'empty', 'package.json'), '{ "name": "empty", "type": "module", "exports": "./index.js" }\n');
writeFileSync(join(floorDir, 'node_modules', 'empty', 'index.js'), 'export default 1;\n');
process.on('exit', () => rmSync(floorDir, { recursive: true, force: true }));
const FLOOR = 'Node alone (an empty module)';
PACKAGES[FLOOR] = `
    const t0 = performance.now();
    await import('empty');
    const t1 = performance.now();
    console.log(t1 - t0, t1 - t0);`;

function sample(name) {
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', PACKAGES[name]], { cwd: name === FLOOR ? floorDir : repo, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${name}: ${r.stderr}`);
  const [importMs, firstMs] = r.stdout.trim().split(/\s+/).map(Number);
  if (!Number.isFinite(importMs) || !Number.isFinite(firstMs)) throw new Error(`${name}: printed ${r.stdout}`);
  return { importMs, firstMs };
}

header('Start-up in Node: `import()` and the first decision');
const names = Object.keys(PACKAGES);
for (const name of names) sample(name); // warm-up: the files into the OS cache
const samples = Object.fromEntries(names.map((n) => [n, []]));
for (let round = 0; round < ROUNDS; round++) {
  log(`round ${round + 1} of ${ROUNDS}`);
  for (const name of names) samples[name].push(sample(name));
}
const med = Object.fromEntries(names.map((n) => [n, {
  importMs: median(samples[n].map((s) => s.importMs)),
  firstMs: median(samples[n].map((s) => s.firstMs)),
}]));

out(`Median of ${ROUNDS} fresh Node processes per package, interleaved; times from the start of \`import()\`.\n`);
out(table(['package', '`import()` ms', 'first decision ms (import included)', 'tollgate import ÷ this'],
  names.map((n) => [n, fmt(med[n].importMs, 1), n === FLOOR ? '—' : fmt(med[n].firstMs, 1),
    n === 'tollgate' ? '1.00×' : `${(med.tollgate.importMs / med[n].importMs).toFixed(2)}×`])));
out('');
const t = med.tollgate;
out(`Goal: \`import()\` no slower than bottleneck's: ${target('start-up: `import()` no slower than bottleneck\'s',
  `${fmt(t.importMs, 1)} ms vs ${fmt(med.bottleneck.importMs, 1)} ms`, t.importMs <= med.bottleneck.importMs)}.`);
out(`Goal: first decision no later than p-throttle's + 1 ms: ${target('start-up: first decision ≤ p-throttle\'s + 1 ms',
  `${fmt(t.firstMs, 1)} ms vs ${fmt(med['p-throttle'].firstMs, 1)} ms`, t.firstMs <= med['p-throttle'].firstMs + 1)}.`);
const floor = med[FLOOR].importMs;
const above = (n) => `${med[n].firstMs < floor ? '−' : '+'}${fmt(Math.abs(med[n].firstMs - floor), 1)} ms`;
out(`Above Node's floor (${fmt(floor, 1)} ms for an empty module): tollgate's first decision ${above('tollgate')}, ` +
  `p-throttle's ${above('p-throttle')}, bottleneck's ${above('bottleneck')}.`);
out('');
