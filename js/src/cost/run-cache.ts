/**
 * `RunCache`: hex-cost-tuning's `runIfChanged`, done right. A Hex run costs
 * compute, so a project whose source data hash has not changed is not run
 * again: its last result is served. Calls for the same project and hash that
 * overlap share one run (single flight); the memory is bounded (least recently
 * used out), entries expire, and `invalidate()` forgets on demand. With a
 * `store`, results survive restarts.
 *
 * The store only saves money: a store that fails (a full disk, a corrupt
 * file) never fails a call. The result is still returned and kept in memory,
 * and the failure is dispatched as a `store-error` event.
 */
import { StoreError } from './errors.js';
import { ExpiringLru } from './lru.js';
import {
  type NormalizedRunCacheOptions, type RunCacheOptions, type RunIfChangedOptions,
  normalizeProjectId, normalizeRunCacheOptions, normalizeRunCall,
} from './options.js';

/** `detail` of a `store-error` event. */
export interface StoreErrorDetail {
  error: unknown;
  operation: 'get' | 'set';
  projectId: string;
}

interface Entry<T> {
  /** Of the store's entries only: see GENERATION_KEY. */
  generation?: number;
  sourceHash: string;
  result: T;
  /** When the run finished, ms since the epoch: the TTL counts from here. */
  storedAt: number;
}

interface Flight<T> {
  projectId: string;
  seq: number;
  /** Set by `invalidate()`: a saved result it is reading is not served. */
  cancelled: boolean;
  promise: Promise<T>;
}

/**
 * Store keys: one entry per project, and the generation: `invalidate()` of
 * everything counts it up, and an entry saved in an older one is cleared. (The
 * store cannot list its keys, and entries saved by earlier processes must be
 * cleared too.)
 */
const ENTRY_PREFIX = 'run:';
const GENERATION_KEY = 'generation';
const ENTRY_VERSION = 1;

/**
 * ```js
 * const runs = new RunCache({ store: fileStore('.cache/hex-runs.json') });
 * const result = await runs.runIfChanged(projectId, {
 *   sourceHash: status.sourceDataHash,
 *   run: () => hex.runProject(projectId),
 * });
 * ```
 */
export class RunCache<T = unknown> extends EventTarget {
  readonly #o: NormalizedRunCacheOptions;
  readonly #memory: ExpiringLru<string, Entry<T>>;
  /** In flight, by project and hash. */
  readonly #flights = new Map<string, Flight<T>>();
  /** Per project, the latest flight started: only its result is kept, so an older run finishing late cannot overwrite a newer one. */
  readonly #latest = new Map<string, number>();
  #seq = 0;
  /** Saved entries of an older generation were cleared by `invalidate()`, here or in an earlier process. */
  #generation = 0;
  #generationLoaded: Promise<void> | undefined;

  constructor(options: RunCacheOptions = {}) {
    super();
    this.#o = normalizeRunCacheOptions(options);
    this.#memory = new ExpiringLru(this.#o.maxEntries);
  }

  /**
   * The cached result of `projectId` if it was produced for `sourceHash` and has
   * not expired; otherwise `run()`'s. A `run()` that fails is not cached: the
   * call rejects with its error (as does every call that joined it).
   * The result is shared between callers: do not mutate it.
   */
  runIfChanged(projectId: string, options: RunIfChangedOptions<T>): Promise<T> {
    let sourceHash: string;
    let run: () => Promise<T> | T;
    try {
      normalizeProjectId(projectId);
      ({ sourceHash, run } = normalizeRunCall(options));
    } catch (error) {
      return Promise.reject(error);
    }
    const hit = this.#memory.get(projectId, this.#o.clock.now());
    if (hit !== undefined && hit.sourceHash === sourceHash) return Promise.resolve(hit.result);

    const key = JSON.stringify([projectId, sourceHash]);
    const joined = this.#flights.get(key);
    if (joined !== undefined) return joined.promise;
    const flight = { projectId, seq: ++this.#seq, cancelled: false } as Flight<T>;
    this.#latest.set(projectId, flight.seq);
    flight.promise = this.#fly(flight, sourceHash, run);
    this.#flights.set(key, flight);
    const done = () => {
      if (this.#flights.get(key) === flight) this.#flights.delete(key);
      if (this.#latest.get(projectId) === flight.seq) this.#latest.delete(projectId);
    };
    flight.promise.then(done, done);
    return flight.promise;
  }

  /**
   * Forgets the result of `projectId`, or of every project, in memory and in the
   * store. Runs in flight still resolve their callers, but their results are not
   * kept, and later calls do not join them. Rejects if the store fails.
   */
  async invalidate(projectId?: string): Promise<void> {
    if (projectId !== undefined) normalizeProjectId(projectId);
    for (const [key, flight] of this.#flights) {
      if (projectId === undefined || flight.projectId === projectId) {
        flight.cancelled = true;
        this.#flights.delete(key);
      }
    }
    const { store } = this.#o;
    if (projectId !== undefined) {
      this.#memory.delete(projectId);
      this.#latest.delete(projectId);
      await store?.delete(ENTRY_PREFIX + projectId);
      return;
    }
    this.#memory.clear();
    this.#latest.clear();
    if (store === undefined) return;
    await this.#loadGeneration();
    await store.set(GENERATION_KEY, String(++this.#generation));
  }

  async #fly(flight: Flight<T>, sourceHash: string, run: () => Promise<T> | T): Promise<T> {
    const { store, clock, ttlMs } = this.#o;
    if (store !== undefined) {
      const saved = await this.#load(flight.projectId);
      if (saved !== undefined && saved.sourceHash === sourceHash && saved.storedAt + ttlMs > clock.now() && !flight.cancelled) {
        if (this.#keeps(flight)) this.#memory.set(flight.projectId, saved, saved.storedAt + ttlMs);
        return saved.result;
      }
    }
    const result = await run();
    if (this.#keeps(flight)) {
      const entry = { sourceHash, result, storedAt: clock.now() };
      this.#memory.set(flight.projectId, entry, entry.storedAt + ttlMs);
      if (store !== undefined) await this.#save(flight.projectId, entry);
    }
    return result;
  }

  #keeps(flight: Flight<T>): boolean {
    // `invalidate()` forgets the latest flights too, so a cancelled flight never passes.
    return this.#latest.get(flight.projectId) === flight.seq;
  }

  /** The saved entry, or undefined when there is none or it cannot be used (reported). */
  async #load(projectId: string): Promise<Entry<T> | undefined> {
    const store = this.#o.store!;
    const key = ENTRY_PREFIX + projectId;
    let text: string | undefined;
    try {
      [text] = await Promise.all([store.get(key), this.#loadGeneration()]);
    } catch (error) {
      this.#report(error, 'get', projectId);
      return undefined;
    }
    if (text === undefined) return undefined;
    const entry = parseEntry<T>(text);
    if (entry === undefined) {
      this.#report(new StoreError(`the saved result of '${projectId}' is not a RunCache entry; it will be replaced`, key), 'get', projectId);
      return undefined;
    }
    return entry.generation >= this.#generation ? entry : undefined;
  }

  #loadGeneration(): Promise<void> {
    this.#generationLoaded ??= this.#o.store!.get(GENERATION_KEY).then((value) => {
      const generation = Number(value);
      if (value !== undefined && Number.isSafeInteger(generation)) this.#generation = Math.max(this.#generation, generation);
    });
    // A failed read is tried again by the next load.
    this.#generationLoaded.catch(() => { this.#generationLoaded = undefined; });
    return this.#generationLoaded;
  }

  async #save(projectId: string, entry: Entry<T>): Promise<void> {
    const key = ENTRY_PREFIX + projectId;
    try {
      await this.#loadGeneration();
    } catch (error) {
      this.#report(error, 'set', projectId);
      return;
    }
    let text: string;
    try {
      text = JSON.stringify({ version: ENTRY_VERSION, generation: this.#generation, sourceHash: entry.sourceHash, storedAt: entry.storedAt, result: entry.result });
    } catch (error) {
      this.#report(new StoreError(`the result of '${projectId}' cannot be saved: it is not JSON-safe`, key, error), 'set', projectId);
      return;
    }
    try {
      await this.#o.store!.set(key, text);
    } catch (error) {
      this.#report(error, 'set', projectId);
    }
  }

  #report(error: unknown, operation: 'get' | 'set', projectId: string): void {
    const detail: StoreErrorDetail = { error, operation, projectId };
    this.dispatchEvent(new CustomEvent('store-error', { detail }));
  }
}

function parseEntry<T>(text: string): (Entry<T> & { generation: number }) | undefined {
  let data: { version?: unknown; generation?: unknown; sourceHash?: unknown; storedAt?: unknown; result?: unknown };
  try {
    data = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof data !== 'object' || data === null || data.version !== ENTRY_VERSION || typeof data.sourceHash !== 'string' ||
    typeof data.storedAt !== 'number' || !Number.isFinite(data.storedAt) || !Number.isSafeInteger(data.generation)) return undefined;
  return { generation: data.generation as number, sourceHash: data.sourceHash, storedAt: data.storedAt, result: data.result as T };
}
