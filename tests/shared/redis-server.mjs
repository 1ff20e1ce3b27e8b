// Starts real redis-server processes for the shared-limiter tests: on
// 127.0.0.1, on a free port, without persistence, stopped at the end (also
// when a test fails: every started server is killed on process exit).
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const started = new Set();
process.on('exit', () => {
  for (const child of started) child.kill('SIGKILL');
});

export function requireRedisServer() {
  try {
    execFileSync('redis-server', ['--version'], { stdio: 'ignore' });
  } catch {
    throw new Error('redis-server is not installed: run `bash .ci/setup.sh` (it installs Debian\'s redis-server) or `apt-get install redis-server`');
  }
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

function waitForPort(port, child, ms = 10_000) {
  const deadline = Date.now() + ms;
  return new Promise((resolve, reject) => {
    const attempt = () => {
      if (child.exitCode !== null) return reject(new Error(`redis-server exited with ${child.exitCode}`));
      const sock = connect(port, '127.0.0.1');
      sock.once('connect', () => { sock.end(); resolve(); });
      sock.once('error', () => {
        sock.destroy();
        if (Date.now() > deadline) reject(new Error(`redis-server did not listen on ${port}`));
        else setTimeout(attempt, 20);
      });
    };
    attempt();
  });
}

/** A redis-server on a free port; `stop()` kills it, `restart()` starts it again empty on the same port. */
export async function startRedis(extra = []) {
  requireRedisServer();
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-redis-'));
  let child;
  const launch = async () => {
    child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no',
      '--dir', dir, '--protected-mode', 'no', ...extra], { stdio: 'ignore' });
    started.add(child);
    child.once('exit', () => started.delete(child));
    await waitForPort(port, child);
  };
  await launch();
  const kill = () => new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  });
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    dir,
    kill,
    restart: async () => { await kill(); await launch(); },
    async stop() {
      await kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
