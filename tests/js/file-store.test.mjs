// fileStore shared by processes: two real child processes write to one file at
// once and neither loses the other's entries; a lock left by a dead process or
// a stalled one is recovered.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, utimes, writeFile, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileStore } from 'tollgate';

const root = new URL('../..', import.meta.url);

/** A child process that sets `n` keys `${prefix}-${i}` in `file`, as fast as it can. */
function writer(file, prefix, n) {
  const script = `
    import { fileStore } from 'tollgate';
    const store = fileStore(${JSON.stringify(file)});
    await Promise.all(Array.from({ length: ${n} }, (_, i) => store.set(${JSON.stringify(prefix)} + '-' + i, String(i))));
  `;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { cwd: root, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d) => { stderr += d; });
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`writer ${prefix} exited ${code}: ${stderr}`))));
  });
}

async function tempDir(t) {
  const dir = await mkdtemp(join(tmpdir(), 'tollgate-filestore-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

test('two processes writing one file at once lose none of each other\'s entries', async (t) => {
  const file = join(await tempDir(t), 'cache.json');
  await Promise.all([writer(file, 'a', 60), writer(file, 'b', 60)]);
  const { entries } = JSON.parse(await readFile(file, 'utf8'));
  const keys = Object.keys(entries);
  assert.equal(keys.filter((k) => k.startsWith('a-')).length, 60);
  assert.equal(keys.filter((k) => k.startsWith('b-')).length, 60);
  const left = (await readdir(join(file, '..'))).filter((f) => f !== 'cache.json');
  assert.deepEqual(left, [], 'no lock or temporary file is left behind');
});

test('a lock left by a process that died is broken at once', async (t) => {
  const file = join(await tempDir(t), 'cache.json');
  // A real pid that is no longer running.
  const dead = spawn(process.execPath, ['-e', '']);
  const pid = dead.pid;
  await new Promise((resolve) => dead.on('close', resolve));
  await writeFile(`${file}.lock`, `${pid}:gone`);
  const store = fileStore(file);
  const started = Date.now();
  await store.set('k', 'v');
  assert.ok(Date.now() - started < 5_000);
  assert.equal(await store.get('k'), 'v');
});

test('a lock held for longer than any write (a stalled owner) is broken; a fresh one is waited for', async (t) => {
  const file = join(await tempDir(t), 'cache.json');
  // Held by this very process (alive), but 60 s old.
  await writeFile(`${file}.lock`, `${process.pid}:stalled`);
  const old = new Date(Date.now() - 60_000);
  await utimes(`${file}.lock`, old, old);
  await fileStore(file).set('k', 'v');
  assert.equal(await fileStore(file).get('k'), 'v');

  // A fresh lock of a live owner: the write waits until it is released.
  await writeFile(`${file}.lock`, `${process.pid}:busy`);
  let done = false;
  const write = fileStore(file).set('k2', 'v2').then(() => { done = true; });
  await new Promise((resolve) => setTimeout(resolve, 300));
  assert.equal(done, false, 'waits while the lock is held');
  await rm(`${file}.lock`);
  await write;
  assert.equal(await fileStore(file).get('k2'), 'v2');
});

test('a write reaches the disk before it replaces the file: fsync the temp file, rename, fsync the directory', async (t) => {
  // The system calls of a real child process, as strace (installed by .ci/setup.sh) records them.
  const dir = await tempDir(t);
  const file = join(dir, 'cache.json');
  const trace = join(dir, 'trace');
  const script = `import { fileStore } from 'tollgate'; await fileStore(${JSON.stringify(file)}).set('k', 'v');`;
  const code = await new Promise((resolve, reject) => {
    const child = spawn('strace', ['-f', '-qq', '-e', 'trace=openat,fsync,fdatasync,rename,renameat,renameat2,close', '-o', trace,
      process.execPath, '--input-type=module', '-e', script], { cwd: root, stdio: 'ignore' });
    child.on('error', reject);
    child.on('close', resolve);
  });
  assert.equal(code, 0);
  const calls = (await readFile(trace, 'utf8')).split('\n').map((line) => line.replace(/^\d+\s+/, ''));
  const fdOf = (i) => Number(/= (\d+)$/.exec(calls[i])[1]);
  const openTemp = calls.findIndex((c) => c.startsWith('openat(') && c.includes(`${file}.`) && c.includes('.tmp"') && c.includes('O_CREAT'));
  const rename = calls.findIndex((c) => /^rename(at2?)?\(/.test(c) && c.includes('.tmp"') && c.includes(`"${file}"`));
  assert.ok(openTemp >= 0 && rename > openTemp, calls.join('\n'));
  const tempFd = fdOf(openTemp);
  const synced = calls.slice(openTemp, rename).some((c) => new RegExp(`^f(data)?sync\\(${tempFd}\\)`).test(c));
  assert.ok(synced, 'the temporary file is fsynced before the rename');
  const openDir = calls.findIndex((c, i) => i > rename && c.startsWith('openat(') && c.includes(`"${dir}"`));
  assert.ok(openDir > rename, 'the directory is opened after the rename');
  const dirFd = fdOf(openDir);
  assert.ok(calls.slice(openDir).some((c) => new RegExp(`^fsync\\(${dirFd}\\)`).test(c)), 'and fsynced');
});
