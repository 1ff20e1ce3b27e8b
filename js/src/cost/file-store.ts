/**
 * `fileStore(path)`: a `Store` in one JSON file, for Node. Every write goes to
 * a temporary file in the same directory, is flushed to disk (fsync), renamed
 * over the old one, and the directory is flushed too: a crash or a power cut
 * leaves the old file or the new one, never half of one nor an empty one.
 * Processes sharing the file take turns through a lock file (see `lock.ts`),
 * reading, changing and writing under it, so no one's write loses another's.
 *
 * A file that is not this store's JSON (garbage, a truncated copy, someone
 * else's file) is never overwritten: every call rejects with a `StoreError`
 * naming it, until a person moves or deletes it. A cache of paid-for results
 * must not silently drop them, nor clobber a file passed by mistake.
 */
import { StoreError } from './errors.js';
import { type NodeFs, withFileLock } from './file-lock.js';
import { type Store, checkKey, checkValue } from './store.js';

interface NodePath {
  resolve(path: string): string;
  dirname(path: string): string;
}

interface NodeModules {
  fs: NodeFs;
  path: NodePath;
}

/** The file's marker: a JSON file without it is not ours. */
const FORMAT = 'tollgate-store';
const VERSION = 1;

/**
 * One queue per file for the whole process: every `fileStore` of the same file
 * reads, changes and writes in turn; the lock file does the same between processes.
 */
const fileQueues = new Map<string, Promise<unknown>>();
let tempCounter = 0;

export function fileStore(path: string): Store {
  if (typeof path !== 'string' || path === '') {
    throw new TypeError(`\`path\` must be a file path such as '.cache/tollgate.json'; got ${String(path)}`);
  }
  const proc = (globalThis as { process?: { versions?: { node?: unknown }; pid?: number } }).process;
  if (typeof proc?.versions?.node !== 'string') {
    throw new TypeError('`fileStore` needs Node.js (node:fs); in a browser use `localStorageStore` or `indexedDbStore`');
  }
  const pid = proc.pid ?? 0;
  let modules: Promise<NodeModules> | undefined;
  // Calls of this store run in call order (a `get` after a `set` sees it).
  let tail: Promise<unknown> = Promise.resolve();

  function run<T>(op: (m: NodeModules, file: string) => Promise<T>): Promise<T> {
    const next = tail.then(async () => {
      modules ??= loadNodeModules();
      const m = await modules;
      const file = m.path.resolve(path);
      return inTurn(file, () => op(m, file));
    });
    tail = next.catch(() => {});
    return next;
  }

  async function update(m: NodeModules, file: string, change: (entries: Map<string, string>) => boolean): Promise<void> {
    await m.fs.mkdir(m.path.dirname(file), { recursive: true });
    // Read, change and write under the lock: another process's write in between would be lost.
    await withFileLock(m.fs, file, pid, () => write(m, file, change));
  }

  async function write(m: NodeModules, file: string, change: (entries: Map<string, string>) => boolean): Promise<void> {
    const entries = await read(m.fs, file);
    if (!change(entries)) return;
    const temp = `${file}.${pid}-${++tempCounter}.tmp`;
    const dir = m.path.dirname(file);
    try {
      const handle = await m.fs.open(temp, 'w');
      try {
        await handle.writeFile(JSON.stringify({ format: FORMAT, version: VERSION, entries: Object.fromEntries(entries) }), 'utf8');
        await handle.sync(); // the data is on disk before the name points at it
      } finally {
        await handle.close();
      }
      await m.fs.rename(temp, file);
    } catch (error) {
      await m.fs.rm(temp, { force: true }).catch(() => {});
      throw error;
    }
    await syncDirectory(m.fs, dir);
  }

  return {
    get: (key) => {
      checkKey(key);
      return run(async (m, file) => (await read(m.fs, file)).get(key));
    },
    set: (key, value) => {
      checkKey(key);
      checkValue(value);
      return run((m, file) => update(m, file, (entries) => {
        if (entries.get(key) === value) return false;
        entries.set(key, value);
        return true;
      }));
    },
    delete: (key) => {
      checkKey(key);
      return run((m, file) => update(m, file, (entries) => entries.delete(key)));
    },
  };
}

/** Makes a rename durable: the directory entry is flushed too (not possible on Windows, where rename is durable enough). */
async function syncDirectory(fs: NodeFs, dir: string): Promise<void> {
  let handle;
  try {
    handle = await fs.open(dir, 'r');
  } catch {
    return;
  }
  try {
    await handle.sync();
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (code !== 'EINVAL' && code !== 'EPERM' && code !== 'EISDIR') throw error;
  } finally {
    await handle.close();
  }
}

function inTurn<T>(file: string, op: () => Promise<T>): Promise<T> {
  const result = (fileQueues.get(file) ?? Promise.resolve()).then(op);
  const settled = result.catch(() => {});
  fileQueues.set(file, settled);
  // The last one out removes the queue, so the map does not grow with every file ever used.
  void settled.then(() => {
    if (fileQueues.get(file) === settled) fileQueues.delete(file);
  });
  return result;
}

/** A missing file is an empty store; anything else that is not ours is a `StoreError`. */
async function read(fs: NodeFs, file: string): Promise<Map<string, string>> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (error) {
    if ((error as { code?: unknown }).code === 'ENOENT') return new Map();
    throw error;
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (error) {
    throw corrupt(file, 'is not JSON', error);
  }
  const d = data as { format?: unknown; version?: unknown; entries?: unknown };
  if (typeof d !== 'object' || d === null || d.format !== FORMAT) throw corrupt(file, `is not a ${FORMAT} file`);
  if (d.version !== VERSION) throw corrupt(file, `has version ${String(d.version)}; this tollgate reads version ${VERSION}`);
  if (typeof d.entries !== 'object' || d.entries === null || Array.isArray(d.entries)) throw corrupt(file, 'has no `entries` object');
  // A Map, not an object: a key such as '__proto__' must stay a key.
  const entries = new Map<string, string>();
  for (const [key, value] of Object.entries(d.entries)) {
    if (typeof value !== 'string') throw corrupt(file, `has a value that is not a string under ${JSON.stringify(key)}`);
    entries.set(key, value);
  }
  return entries;
}

function corrupt(file: string, what: string, cause?: unknown): StoreError {
  return new StoreError(`${file} ${what}; it was left untouched: move or delete it to start afresh`, file, cause);
}

/**
 * `node:fs` is loaded only when a file store is first used, and through a
 * specifier bundlers do not follow, so browser builds that never call
 * `fileStore` do not try to resolve it.
 */
async function loadNodeModules(): Promise<NodeModules> {
  const load = (specifier: string): Promise<unknown> => import(/* webpackIgnore: true */ /* @vite-ignore */ specifier);
  const [fs, path] = await Promise.all([load('node:fs/promises'), load('node:path')]);
  return { fs: fs as NodeFs, path: path as NodePath };
}
