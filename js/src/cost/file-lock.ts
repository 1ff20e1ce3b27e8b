/**
 * A lock file next to a `fileStore`'s file, so processes sharing it take
 * turns: created with O_EXCL (`'wx'`), it holds its owner's pid and a random
 * token. A lock whose owner has died (its pid is gone) or that is older than
 * `STALE_MS` (an owner frozen or on another machine) is broken: renamed away
 * (only one breaker wins a rename) and checked to be the one judged stale.
 */
import { StoreError } from './errors.js';

interface FileHandle {
  writeFile(data: string, encoding: 'utf8'): Promise<void>;
  sync(): Promise<void>;
  close(): Promise<void>;
}

export interface NodeFs {
  open(path: string, flags: string): Promise<FileHandle>;
  readFile(path: string, encoding: 'utf8'): Promise<string>;
  rename(from: string, to: string): Promise<void>;
  rm(path: string, options: { force: boolean }): Promise<void>;
  mkdir(path: string, options: { recursive: true }): Promise<unknown>;
  stat(path: string): Promise<{ mtimeMs: number }>;
}

/** Far longer than any read-change-write of a store file (milliseconds). */
const STALE_MS = 10_000;
/** How long a writer waits for the lock before it gives up with a `StoreError`. */
const WAIT_MS = 30_000;

export async function withFileLock<T>(fs: NodeFs, file: string, pid: number, op: () => Promise<T>): Promise<T> {
  const lock = `${file}.lock`;
  const token = `${pid}:${Math.random().toString(36).slice(2)}`;
  const started = Date.now();
  for (let attempt = 0; ; attempt++) {
    if (await tryCreate(fs, lock, token)) break;
    await breakIfStale(fs, lock);
    if (Date.now() - started > WAIT_MS) {
      throw new StoreError(`${file}: another process has held ${lock} for over ${WAIT_MS / 1000} s; delete it if no tollgate process uses the file`, file);
    }
    // Short, growing, jittered waits: writers are quick, and two must not retry in step.
    await new Promise((resolve) => setTimeout(resolve, Math.min(50, 2 + attempt * 2) * (0.5 + Math.random())));
  }
  try {
    return await op();
  } finally {
    // Remove only our own lock (a breaker may have taken it if we stalled for STALE_MS).
    if ((await readLock(fs, lock)) === token) await fs.rm(lock, { force: true });
  }
}

async function tryCreate(fs: NodeFs, lock: string, token: string): Promise<boolean> {
  let handle: FileHandle;
  try {
    handle = await fs.open(lock, 'wx');
  } catch (error) {
    if ((error as { code?: unknown }).code === 'EEXIST') return false;
    throw error;
  }
  try {
    await handle.writeFile(token, 'utf8');
  } finally {
    await handle.close();
  }
  return true;
}

async function readLock(fs: NodeFs, lock: string): Promise<string | undefined> {
  try {
    return await fs.readFile(lock, 'utf8');
  } catch {
    return undefined;
  }
}

async function breakIfStale(fs: NodeFs, lock: string): Promise<void> {
  const token = await readLock(fs, lock);
  if (token === undefined) return; // released meanwhile
  let age: number;
  try {
    age = Date.now() - (await fs.stat(lock)).mtimeMs;
  } catch {
    return;
  }
  // An empty token: the owner died between creating and writing it (or is writing it now).
  const owner = Number(token.split(':')[0]);
  const dead = token === '' ? age > 1_000 : !alive(owner);
  if (!dead && age <= STALE_MS) return;
  const aside = `${lock}.${Math.random().toString(36).slice(2)}.stale`;
  try {
    await fs.rename(lock, aside);
  } catch {
    return; // someone else broke it first
  }
  const moved = await readLock(fs, aside);
  if (moved !== token) {
    // We took a fresh lock that replaced the stale one: give it back if its place is still free.
    const handle = await fs.open(lock, 'wx').catch(() => undefined);
    if (handle) {
      await handle.writeFile(moved ?? '', 'utf8').finally(() => handle.close());
    }
  }
  await fs.rm(aside, { force: true });
}

function alive(pid: number): boolean {
  if (!Number.isSafeInteger(pid) || pid <= 0) return false;
  const proc = (globalThis as { process?: { kill(pid: number, signal: number): void } }).process;
  try {
    proc?.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as { code?: unknown }).code === 'EPERM'; // exists, owned by someone else
  }
}
