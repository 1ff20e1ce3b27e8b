// A restart with requests in flight does not double-spend (issue 11, defect 6).
// A real child process admits a window's worth of Hex run triggers, saves its
// snapshot while some are still on their way to the server, and stops once
// they are answered; a new process restores the snapshot and sends a backlog
// at once. The strict Hex test server (sliding logs judged at arrival) must
// answer no 429. Time is accelerated 60× and shared by the processes (a
// minute passes in a real second), so the run takes a few seconds.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { startHexServer } from '../servers/index.mjs';


/** Starts a worker; `output` resolves with what it printed, `go()` writes it a line. */
function start(job) {
  const child = spawn(process.execPath, [worker, JSON.stringify(job)], { stdio: ['pipe', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (chunk) => { out += chunk; });
  const output = new Promise((resolve, reject) => child.on('close', (code) => (
    code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`${job.role} worker exited with ${code}`)))));
  return { output, go: () => child.stdin.end('go\n') };
}
const worker = fileURLToPath(new URL('./restart-worker.mjs', import.meta.url));
const speed = 60;
const windows = [{ limit: 10, per: '1m' }, { limit: 100, per: '1h' }];

async function restartDrill(restoreAs) {
  const clock = { originMs: Date.UTC(2026, 11, 5, 10, 0, 0), realOrigin: performance.timeOrigin + performance.now(), speed };
  const now = () => Math.floor(clock.originMs + (performance.timeOrigin + performance.now() - clock.realOrigin) * speed);
  const server = await startHexServer({ clock: { now }, perMinute: 10, perHour: 100 });
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-restart-'));
  try {
    const common = { url: server.url, clock, windows, snapshotPath: join(dir, 'limiter.json') };
    // 6 answered, then 4 admitted whose sending takes 250 ms of real time (15 s of quota time).
    const next = start({ ...common, role: 'second', sent: 15, restoreAs });
    const first = await start({ ...common, role: 'first', sent: 6, inFlight: 4, sendDelayMs: 250 }).output;
    next.go();
    const second = await next.output;
    return { first, second, stats: server.stats(), log: server.log };
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await server.close();
  }
}

test('restarted mid-window with requests in flight: the strict server answers no 429', async () => {
  const { first, second, stats } = await restartDrill('as-saved');
  assert.equal(first.snapshot.inFlight, 4, 'the snapshot was taken with 4 requests in flight');
  assert.ok(first.snapshot.clockMs >= first.admittedAt, 'snapshot() read the clock, after the last admission');
  assert.deepEqual(first.statuses, Array(10).fill(201));
  assert.deepEqual(second.statuses, Array(15).fill(201));
  assert.equal(stats.refused, 0);
  assert.equal(stats.accepted, 25);
});

test('control: the same restart with in-flight requests saved as sent at admission draws 429s', async () => {
  // Shows that the drill above can fail: this is the snapshot the defect wrote.
  const { second, stats } = await restartDrill('sent-at-admission');
  assert.ok(stats.refused > 0, `expected 429s, the server saw ${JSON.stringify(stats)}`);
  assert.ok(second.statuses.includes(429));
});
