// Shared by the benchmark files: machine line, medians, Markdown tables, timing.
//
// Convention: a benchmark writes its results (Markdown) to stdout and its progress to stderr;
// run.mjs shows both and copies stdout into RESULTS.md.
import { appendFileSync } from 'node:fs';
import os from 'node:os';

export function machine() {
  const cpus = os.cpus();
  return `${cpus[0]?.model ?? 'unknown CPU'}, ${cpus.length} cores, ${Math.round(os.totalmem() / 2 ** 30)} GiB; ` +
    `${os.type()} ${os.release()} ${os.arch()}; Node ${process.version}`;
}

/** Prints the machine line when a file is run on its own (run.mjs prints it once). */
export function header(title) {
  if (!process.env.TOLLGATE_BENCH_CHILD) out(`Machine: ${machine()}\n`);
  out(`## ${title}\n`);
}

export const out = (s = '') => process.stdout.write(`${s}\n`);
export const log = (s) => process.stderr.write(`  … ${s}\n`);

export function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** A Markdown table; right-aligns columns whose cells are all numeric-looking. */
export function table(head, rows) {
  const numeric = head.map((_, i) => rows.every((r) => /^[-+~≈]?[\d.,]+\s*[%×a-zµKMBG/]*$/.test(String(r[i] ?? '').trim()) || r[i] === '—'));
  const line = (cells) => `| ${cells.map((c) => String(c ?? '')).join(' | ')} |`;
  return [line(head), `|${head.map((_, i) => (numeric[i] && i > 0 ? '---:' : '---')).join('|')}|`, ...rows.map(line)].join('\n');
}

export const fmt = (x, digits = 0) => (Number.isFinite(x) ? x.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits }) : String(x));
export const ratio = (a, b) => (Number.isFinite(a / b) ? `${(a / b).toFixed(a / b >= 10 ? 1 : 2)}×` : 'n/a');
export const passFail = (ok) => (ok ? 'PASS' : 'FAIL');

export function gc() {
  if (typeof globalThis.gc !== 'function') throw new Error('run with node --expose-gc');
  for (let i = 0; i < 4; i++) globalThis.gc();
}

/** heapUsed + external after gc, in bytes. */
export function memory() {
  gc();
  const m = process.memoryUsage();
  return m.heapUsed + m.external;
}

export const mb = (bytes) => `${(bytes / 2 ** 20).toFixed(1)} MB`;

/** Records a target of issue 6 for run.mjs's summary (a JSON line in $TOLLGATE_BENCH_TARGETS). */
export function target(what, measured, pass) {
  const file = process.env.TOLLGATE_BENCH_TARGETS;
  if (file) appendFileSync(file, `${JSON.stringify({ what, measured, pass })}\n`);
  return passFail(pass);
}
