/**
 * `maxConcurrent`: a cap on calls in flight, separate from the windows. A call
 * takes a slot before it queues for the windows and gives it back when its
 * permit completes, so a held slot never idles while the windows are full and
 * admitted calls never wait for a slot (their `at` stays when they go).
 */
import { QueueFullError } from './errors.js';
import type { AcquireOptions } from './limiter.js';
import { normalizePriority } from './options.js';

interface SlotWaiter {
  priority: number;
  resolve: () => void;
  reject: (reason: unknown) => void;
  signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
}

export function normalizeMaxConcurrent(value: unknown, name = 'maxConcurrent'): number {
  if (value === undefined || value === Number.POSITIVE_INFINITY) return Number.POSITIVE_INFINITY;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > 4_294_967_295) {
    throw new TypeError(`\`${name}\` must be an integer from 1 to 4294967295, or Infinity; got ${typeof value === 'string' ? `'${value}'` : String(value)}`);
  }
  return value;
}

/** Slots for calls in flight; waiters by priority, then arrival. */
export class Slots {
  readonly max: number;
  readonly maxWaiters: number;
  #used = 0;
  #queue: SlotWaiter[] = [];

  constructor(max: number, maxWaiters = Number.POSITIVE_INFINITY) {
    this.max = max;
    this.maxWaiters = maxWaiters;
  }

  /** Calls holding a slot. */
  get used(): number {
    return this.#used;
  }

  /** Calls waiting for a slot. */
  get waiting(): number {
    return this.#queue.length;
  }

  /** Takes a slot if one is free and no one waits ahead. */
  tryTake(): boolean {
    if (this.#used >= this.max || this.#queue.length > 0) return false;
    this.#used += 1;
    return true;
  }

  /** Resolves when the caller holds a slot; `maxWaiters` counts everyone queued on the limiter. */
  take(priority: number, signal: AbortSignal | undefined, queuedElsewhere = 0): Promise<void> {
    const { maxWaiters } = this;
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (this.tryTake()) return Promise.resolve();
    if (this.#queue.length + queuedElsewhere >= maxWaiters) {
      return Promise.reject(new QueueFullError(`the limiter's queue already holds ${maxWaiters} waiters (\`maxWaiters\`)`));
    }
    return new Promise<void>((resolve, reject) => {
      const waiter: SlotWaiter = { priority, resolve, reject, signal, onAbort: undefined };
      if (signal) {
        waiter.onAbort = () => {
          const i = this.#queue.indexOf(waiter);
          if (i >= 0) this.#queue.splice(i, 1);
          reject(signal.reason);
        };
        signal.addEventListener('abort', waiter.onAbort, { once: true });
      }
      // Stable: after every waiter of the same or higher priority.
      let i = this.#queue.length;
      while (i > 0 && this.#queue[i - 1]!.priority < priority) i--;
      this.#queue.splice(i, 0, waiter);
    });
  }

  /** A call left the in-flight set (or never got in): hand its slot to the next waiter. */
  release(): void {
    const next = this.#queue.shift();
    if (next === undefined) {
      this.#used = Math.max(0, this.#used - 1);
      return;
    }
    if (next.onAbort) next.signal!.removeEventListener('abort', next.onAbort);
    next.resolve(); // the slot passes on: `used` is unchanged
  }
}

/** What `acquireInSlot` needs of a permit: a shared store's or the local one's. */
interface CompletablePermit {
  readonly at: number;
  readonly cost: number;
  complete(at?: number): unknown;
}

/**
 * `maxConcurrent` for any limiter (the shared stores use it; the count is per
 * process): takes a slot, then acquires; the permit it resolves with gives
 * the slot back on its first `complete()`, and a failed acquire gives it back at once.
 */
export async function acquireInSlot<P extends CompletablePermit>(
  slots: Slots,
  options: AcquireOptions,
  acquire: (options: AcquireOptions) => Promise<P>,
  queuedElsewhere = 0,
): Promise<P> {
  await slots.take(normalizePriority(options.priority ?? 0), options.signal, queuedElsewhere);
  let permit: P;
  try {
    permit = await acquire(options);
  } catch (error) {
    slots.release();
    throw error;
  }
  return holdingSlot(slots, permit);
}

/** `permit`, whose first `complete()` (or `release()`, if it has one) also gives its slot back. */
function holdingSlot<P extends CompletablePermit>(slots: Slots, permit: P): P {
  let held = true;
  const free = () => {
    if (held) {
      held = false;
      slots.release();
    }
  };
  const complete = (at?: number) => {
    free();
    return permit.complete(at);
  };
  const release = (permit as { release?: () => unknown }).release;
  return Object.assign(Object.create(permit) as P, typeof release === 'function'
    ? { complete, release: () => { free(); return release.call(permit); } }
    : { complete });
}

/**
 * `tryAcquire` under `maxConcurrent` for the shared stores: takes a slot without
 * waiting (every slot busy: only a completion in this process frees one, so
 * `retryAt` is Infinity), then asks the windows; a refusal or an error gives the slot back.
 */
export async function tryAcquireInSlot<P extends CompletablePermit>(
  slots: Slots,
  tryWindows: () => Promise<{ ok: true; permit: P } | { ok: false; retryAt: number; waitMs: number }>,
): Promise<{ ok: true; permit: P } | { ok: false; retryAt: number; waitMs: number }> {
  if (!slots.tryTake()) return { ok: false, retryAt: Number.POSITIVE_INFINITY, waitMs: Number.POSITIVE_INFINITY };
  let r: Awaited<ReturnType<typeof tryWindows>>;
  try {
    r = await tryWindows();
  } catch (error) {
    slots.release();
    throw error;
  }
  if (!r.ok) {
    slots.release();
    return r;
  }
  return { ok: true, permit: holdingSlot(slots, r.permit) };
}
