// Starts worker.mjs child processes and collects what they report.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const WORKER = fileURLToPath(new URL('./worker.mjs', import.meta.url));
const alive = new Set();
process.on('exit', () => { for (const c of alive) c.kill('SIGKILL'); });

/** `config.script`: another worker script in this directory (default worker.mjs); `config.scriptPath`: one anywhere. */
export function startWorker(config) {
  const script = config.scriptPath ?? (config.script ? fileURLToPath(new URL(`./${config.script}`, import.meta.url)) : WORKER);
  const child = spawn(process.execPath, [script, JSON.stringify(config)], { stdio: ['pipe', 'pipe', 'pipe'] });
  alive.add(child);
  const messages = [];
  const waiting = [];
  let stderr = '';
  let buffered = '';
  child.stderr.on('data', (d) => { stderr += d; });
  child.stdout.on('data', (d) => {
    buffered += d;
    let nl;
    while ((nl = buffered.indexOf('\n')) >= 0) {
      const line = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      const m = JSON.parse(line);
      messages.push(m);
      for (const w of [...waiting]) if (w.test(m)) { waiting.splice(waiting.indexOf(w), 1); w.resolve(m); }
    }
  });
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => { alive.delete(child); resolve({ code, signal }); }));
  return {
    child,
    messages,
    get stderr() { return stderr; },
    exited,
    /** The first message (already seen or coming) that `test` accepts. */
    next(test, ms = 30_000) {
      const seen = messages.find(test);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`worker ${child.pid} sent no such message in ${ms} ms; stderr: ${stderr}`)), ms);
        waiting.push({ test, resolve: (m) => { clearTimeout(timer); resolve(m); } });
        exited.then(() => setTimeout(() => reject(new Error(`worker ${child.pid} exited; stderr: ${stderr}`)), 50));
      });
    },
    go() { child.stdin.write('go\n'); },
    kill(signal = 'SIGKILL') { child.kill(signal); return exited; },
  };
}

/** Waits for a worker's `done` report (or its error), and its exit. */
export async function finished(worker) {
  const m = await worker.next((x) => x.event === 'done' || x.event === 'error', 60_000);
  if (m.event === 'error') throw new Error(`worker failed: ${m.message}`);
  await worker.exited;
  return m;
}
