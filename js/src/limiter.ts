/**
 * The `Limiter`: the wasm core's decisions plus exactly one timer. The core
 * holds the windows and the wait queue and says who is admitted next and when;
 * this class only keeps the promises and arms the timer for that time.
 */

import { Slots, normalizeMaxConcurrent } from './concurrency.js';
import { boundary, call, DISPOSED, finalizer, lastError, rewind, scratch, scratchOut, wasm } from './core.js';
import { SnapshotError, TollgateError } from './errors.js';
import { type LimiterEventMap, type LimiterEvents, subscribedChannel } from './events.js';
import { fromFlat, type SnapshotData, toFlat } from './snapshot.js';
import {
  type Clock,
  type LimiterOptions,
  type NormalizedWindow,
  type WindowKind,
  flatten,
  normalizeClock,
  normalizeCost,
  normalizeFlag,
  normalizeLimiterOptions,
  normalizeMaxWaiters,
  normalizePriority,
  normalizeWindows,
  parseDuration,
} from './options.js';
import { openShared } from './shared/options.js';
import type { SharedLimiter, SharedLimiterOptions } from './shared/types.js';
import { type ScheduleOptions, type WrapOptions, scheduleWith, wrapWith } from './schedule.js';

/**
 * How far past the limiter's clock `permit.complete(at)` may put `at`, in ms:
 * room for a timestamp taken from another clock source a little ahead of this
 * one; anything later (microseconds by mistake, a time an hour ahead) is a
 * `TypeError`, so a slip of units cannot stall the limiter.
 */
export const COMPLETE_TOLERANCE_MS = 1_000;

/** An admitted request's hold on the windows. Completed or released exactly once. */
export class Permit {
  #limiter: Limiter | undefined;
  /** When the windows counted the request, ms since the Unix epoch. */
  readonly at: number;
  /** Units taken from every window. */
  readonly cost: number;

  /** @internal */
  constructor(limiter: Limiter, at: number, cost: number) {
    this.#limiter = limiter;
    this.at = at;
    this.cost = cost;
  }

  /**
   * The response arrived: count the request at `at` (default: now), the latest
   * a server could have seen it. `at` may not be later than the limiter's clock
   * plus `COMPLETE_TOLERANCE_MS` (a `TypeError`). A call that throws changes
   * nothing and may be retried; after one that succeeds, later calls do nothing.
   */
  complete(at?: number): void {
    const limiter = this.#limiter;
    if (limiter === undefined) return;
    limiter._complete(this, at);
    // Counted: from here on nothing may leave the permit open to a second count.
    this.#limiter = undefined;
    limiter._wake();
  }

  /**
   * The request was never sent (its caller gave up first): give its units
   * back, as far as the windows can still tell they are this permit's (see
   * the core's `Limiter::release`). Instead of `complete()`; once.
   */
  release(): void {
    const limiter = this.#limiter;
    if (limiter === undefined) return;
    limiter._release(this);
    this.#limiter = undefined;
    limiter._wake();
  }

  /** Whether `complete()` or `release()` has been called successfully. */
  get settled(): boolean {
    return this.#limiter === undefined;
  }
}

export type TryAcquireResult =
  | { ok: true; permit: Permit }
  | {
    ok: false;
    /** Come back at, ms since the epoch; Infinity when only a request in flight completing can make room. */
    retryAt: number;
    /** `retryAt - now`. */
    waitMs: number;
  };

export interface AcquireOptions {
  /** Units this request takes from every window. @default 1 */
  cost?: number;
  /** Higher goes first; equal priorities in arrival order. @default 0 */
  priority?: number;
  /** Aborting removes the waiter and rejects with `signal.reason`. */
  signal?: AbortSignal;
}

export interface ReconcileOptions {
  /** Units the server says are left in the window. */
  remaining: number;
  /** When the server's window resets, ms since the epoch. @default a full period from now */
  resetAt?: number;
}

export interface WindowUsage {
  kind: WindowKind;
  limit: number;
  perMs: number;
  /** Units counted now (requests in flight included). */
  used: number;
  remaining: number;
  /** When this window alone has room for one more, ms since the epoch (now if it has; Infinity if only a completion can make room). */
  nextFreeAt: number;
}

/**
 * A queued call. Most wait with cost 1 and no signal: for those the queue
 * keeps only the promise's resolve function (no record, no closure of ours);
 * they are rejected by resolving them with a rejected promise.
 */
type Waiter = ((permit: Permit) => void) | FullWaiter;

interface FullWaiter {
  cost: number;
  resolve: (permit: Permit) => void;
  reject: (reason: unknown) => void;
  signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
}

const ignore = (): void => {};
const costOf = (w: Waiter): number => (typeof w === 'function' ? 1 : w.cost);

/** Rejects a waiter and drops its abort listener. */
function rejectWaiter(w: Waiter, reason: unknown): void {
  if (typeof w === 'function') {
    // Handled here, so that it is never reported as unhandled when the waiter's
    // promise had already settled (an orphan's): the caller sees the waiter's.
    const rejected = Promise.reject(reason);
    rejected.catch(ignore);
    return w(rejected as unknown as Permit);
  }
  if (w.onAbort) offAbort(w.signal!, w.onAbort);
  w.reject(reason);
}

/** Restore options: the windows are optional (the snapshot has them). */
export type RestoreOptions = Omit<LimiterOptions, 'windows'> & { windows?: LimiterOptions['windows'] };

const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * A multi-window rate limiter.
 *
 * ```js
 * const hex = new Limiter({ windows: [{ limit: 20, per: '1m' }, { limit: 60, per: '1h' }] });
 * const permit = await hex.acquire({ signal });
 * const res = await fetch(url, { method: 'POST' });
 * permit.complete();
 * ```
 *
 * The windows live in wasm memory: `dispose()` (or `using`) frees them at once;
 * a limiter dropped without it is freed when garbage-collected.
 */
export class Limiter {
  /** The handle of this limiter in the wasm module. */
  #h: number;
  #clock: Clock;
  #windows: NormalizedWindow[];
  #waiters = new Map<number, Waiter>();
  /** Waiters whose callers already got an error (see `acquire`): to be cancelled, never admitted. */
  #orphans: number[] = [];
  #timer: unknown = undefined;
  #timerAt = -1;
  #events: EventTarget | undefined;
  /** `maxConcurrent`'s slots; undefined when unlimited. */
  #slots: Slots | undefined;

  /**
   * `queued`, `admitted` (from the queue), `aborted`, `paused`, `reconciled`:
   * CustomEvents whose `detail` has `at` and more (`LimiterEventMap`), also
   * published on Node's diagnostics channels `tollgate:limiter:<type>`. Created
   * on first use, and nothing is built unobserved, so an unobserved limiter pays nothing.
   */
  get events(): LimiterEvents {
    return (this.#events ??= new EventTarget()) as LimiterEvents;
  }

  #emit<K extends keyof LimiterEventMap>(type: K, detail: Omit<LimiterEventMap[K], 'at'>): void {
    const channel = subscribedChannel('limiter', type);
    if (this.#events === undefined && channel === undefined) return;
    const full = { at: this.#clock.now(), ...detail };
    this.#events?.dispatchEvent(new CustomEvent(type, { detail: full }));
    channel?.publish(full);
  }

  constructor(options: LimiterOptions) {
    if (restoring !== undefined) {
      ({ h: this.#h, clock: this.#clock, windows: this.#windows } = restoring);
      restoring = undefined;
    } else {
      const o = normalizeLimiterOptions(options);
      this.#clock = o.clock;
      this.#windows = o.windows;
      scratch(o.flat.length).set(o.flat);
      this.#h = call((x) => x.tg_new(o.windows.length, o.maxWaiters, o.countInFlight ? 1 : 0));
      this.#slots = slotsFor(options.maxConcurrent, o.maxWaiters);
    }
    finalizer.register(this, this.#h, this);
  }

  /**
   * A limiter in the state of `snapshot`. `options.windows`, if given, must be the
   * snapshot's. A snapshot of the wrong shape, out of range or inconsistent is a
   * `SnapshotError` (see README, "Bad input").
   */
  static restore(snapshot: unknown, options: RestoreOptions = {}): Limiter {
    if (typeof options !== 'object' || options === null) throw new TypeError('`options` must be an object');
    const windows = options.windows === undefined ? undefined : normalizeWindows(options.windows);
    const maxWaiters = normalizeMaxWaiters(options.maxWaiters);
    const clock = normalizeClock(options.clock);
    const countInFlight = normalizeFlag(options.countInFlight, 'countInFlight');
    const read = toFlat(snapshot);
    const specs = windows ? flatten(windows) : new Float64Array(0);
    const buffer = scratch(read.flat.length + specs.length);
    buffer.set(read.flat);
    buffer.set(specs, read.flat.length);
    let h: number;
    try {
      h = call((x) => x.tg_restore(read.flat.length, windows ? windows.length : 0, maxWaiters, countInFlight ? 1 : 0));
    } catch (error) {
      // A window the snapshot describes that no limiter could have (limit 0, period 0): the snapshot is corrupt.
      if (error instanceof TypeError) throw new SnapshotError(`corrupt snapshot: ${error.message}`, { cause: error });
      throw error;
    }
    restoring = { h, clock, windows: windows ?? read.windows };
    const limiter = new Limiter(undefined as unknown as LimiterOptions);
    limiter.#slots = slotsFor(options.maxConcurrent, maxWaiters);
    return limiter;
  }

  /**
   * A limiter over a quota shared with other processes or tabs through
   * `options.store` (`redisStore(client)`, `tabStore()`): the same API, made
   * asynchronous. See the README's "Sharing a quota".
   */
  static shared(options: SharedLimiterOptions): SharedLimiter {
    return openShared(options);
  }

  /** Reads the clock: a number of ms, else a `TypeError` naming the clock. */
  #now(): number {
    const now = this.#clock.now();
    if (typeof now !== 'number') throw badClock(now);
    return now;
  }

  /** Admits now if every window allows it and no one waits ahead; never waits. */
  tryAcquire(cost = 1): TryAcquireResult {
    if (cost !== 1) normalizeCost(cost);
    // Every slot taken: only a completion can make room.
    if (this.#slots?.tryTake() === false) return { ok: false, retryAt: Number.POSITIVE_INFINITY, waitMs: Number.POSITIVE_INFINITY };
    let now: number;
    try {
      now = this.#now();
    } catch (error) {
      this.#slots?.release();
      throw error;
    }
    if (boundary.unwound) rewind();
    // Made before the call: once the core has admitted, nothing that could
    // throw (a call, with the stack nearly exhausted) may stand between the
    // admission and the caller.
    const permit = new Permit(this, 0, cost);
    let r: number;
    try {
      r = wasm.tg_try_acquire(this.#h, now, cost);
    } catch (error) {
      boundary.unwound = true; // no call here: the stack may be exhausted (see core.ts)
      this.#slots?.release();
      throw error;
    }
    if (r <= 0) {
      (permit as { at: number }).at = -r;
      return { ok: true, permit };
    }
    this.#slots?.release();
    if (r !== r) throw lastError(); // NaN
    return { ok: false, retryAt: r, waitMs: r - now };
  }

  /**
   * Resolves with a permit exactly when the request is admitted. With
   * `maxConcurrent`, the permit holds a slot until `complete()`.
   */
  acquire(options?: AcquireOptions): Promise<Permit> {
    const slots = this.#slots;
    if (slots === undefined) return this.#acquire(options);
    let priority: number;
    try {
      if (typeof options !== 'object' && options !== undefined) return this.#acquire(options);
      if (options === null) return this.#acquire(options);
      normalizeCost(options?.cost ?? 1);
      priority = normalizePriority(options?.priority ?? 0);
      if (options?.signal !== undefined) checkSignal(options.signal);
    } catch (error) {
      return Promise.reject(error);
    }
    return slots.take(priority, options?.signal, this.#waiters.size).then(() => this.#acquire(options).catch((error: unknown) => {
      slots.release(); // refused or aborted while queued for the windows: the slot was never used
      throw error;
    }));
  }

  /**
   * Runs `fn` once admitted (`cost`, `priority` and `signal` as for `acquire`)
   * and completes the permit when `fn`'s promise settles; resolves or rejects
   * as `fn` does.
   */
  schedule<T>(fn: () => T | PromiseLike<T>, options?: ScheduleOptions): Promise<Awaited<T>> {
    return scheduleWith(this, fn, options);
  }

  /** `fn` limited: every call is `schedule`d; `this`, arguments and result pass through. */
  wrap<A extends unknown[], R, This = unknown>(fn: (this: This, ...args: A) => R, options?: WrapOptions): (this: This, ...args: A) => Promise<Awaited<R>> {
    return wrapWith(this, fn, options);
  }

  #acquire(options: AcquireOptions | undefined): Promise<Permit> {
    let cost = 1;
    let priority = 0;
    let signal: AbortSignal | undefined;
    let id: number;
    try {
      if (options !== undefined) {
        if (typeof options !== 'object' || options === null) {
          throw new TypeError(`\`options\` must be an object such as { cost: 1, priority: 0, signal }; got ${String(options)}`);
        }
        ({ signal } = options);
        if (options.cost !== undefined) cost = normalizeCost(options.cost);
        if (options.priority !== undefined) priority = normalizePriority(options.priority);
        if (signal !== undefined) {
          checkSignal(signal);
          if (signal.aborted) return Promise.reject(signal.reason);
        }
      }
      if (this.#waiters.size === 0) {
        const now = this.#now();
        if (boundary.unwound) rewind();
        const permit = new Permit(this, 0, cost); // before the call, as in tryAcquire
        let r: number;
        try {
          r = wasm.tg_try_acquire(this.#h, now, cost);
        } catch (error) {
          boundary.unwound = true;
          throw error;
        }
        if (r <= 0) {
          (permit as { at: number }).at = -r;
          return Promise.resolve(permit);
        }
        if (r !== r) throw lastError(); // NaN
      }
      id = call((x) => x.tg_enqueue(this.#h, cost, priority));
    } catch (error) {
      return Promise.reject(error);
    }
    return new Promise<Permit>((resolve, reject) => {
      try {
        if (cost === 1 && signal === undefined) {
          this.#waiters.set(id, resolve);
        } else {
          const waiter: FullWaiter = { cost, resolve, reject, signal, onAbort: undefined };
          this.#waiters.set(id, waiter);
          if (signal) {
            const s = signal;
            waiter.onAbort = () => this.#abort(id, s.reason);
            onAbort(s, waiter.onAbort);
          }
        }
        this.#emit('queued', { cost, priority, waiting: this.#waiters.size });
        this.#pump();
      } catch (error) {
        // The stack ran out while the waiter was being set up, and the caller
        // gets this error: note the waiter so that the next pump takes it out
        // of the queue instead of admitting it (one push: the stack is gone).
        this.#orphans.push(id);
        throw error;
      }
    });
  }

  /** Admits nothing before `until` (ms since the epoch), e.g. for a Retry-After. */
  pauseUntil(until: number): void {
    if (typeof until !== 'number') throw new TypeError(`\`until\` must be a number of ms since the epoch; got ${show(until)}`);
    call((x) => x.tg_pause_until(this.#h, until));
    this.#emit('paused', { until: this.pausedUntil });
    // Pauses only postpone: an armed timer fires early and re-arms, no need to re-pump.
  }

  /** Nothing is admitted before this time (0 when never paused). */
  get pausedUntil(): number {
    return call((x) => x.tg_paused_until(this.#h));
  }

  /**
   * The server reports fewer units left in window `window` than we count (it may
   * be shared with other clients): adopt its view. Returns whether that changed anything.
   */
  reconcile(window: number, report: ReconcileOptions): boolean {
    if (!Number.isInteger(window) || window < 0 || window >= this.#windows.length) {
      throw new TypeError(`\`window\` must be an index from 0 to ${this.#windows.length - 1}; got ${show(window)}`);
    }
    if (typeof report !== 'object' || report === null) {
      throw new TypeError(`\`reconcile(window, { remaining, resetAt })\` needs the server's report as an object; got ${show(report)}`);
    }
    const { remaining, resetAt } = report;
    if (!Number.isSafeInteger(remaining) || remaining < 0) {
      throw new TypeError(`\`remaining\` must be an integer >= 0; got ${show(remaining)}`);
    }
    const reset = resetAt === undefined ? -1 : parseDuration(resetAt, 'resetAt');
    const now = this.#now();
    const changed = call((x) => x.tg_reconcile(this.#h, window, remaining, reset, now)) === 1;
    if (changed) this.#emit('reconciled', { window, remaining, resetAt });
    // A server's reset can bring the head's time forward (a fixed window moved
    // to the server's boundaries): re-arm the timer, or the waiter sleeps past it.
    if (changed && this.#waiters.size > 0) this.#pump();
    return changed;
  }

  /**
   * The server's clock runs `offsetMs` ahead of ours (negative: behind), give
   * or take `uncertaintyMs`: fixed windows move their buckets to its calendar
   * (what they counted stays in the bucket now current) and count what they
   * admit within `uncertaintyMs` of a boundary in both buckets.
   * `rateLimitedFetch` calls this from the servers' `Date` headers.
   * Returns whether any window moved.
   */
  alignToServer(offsetMs: number, uncertaintyMs = 0): boolean {
    if (typeof offsetMs !== 'number' || !Number.isFinite(offsetMs)) {
      throw new TypeError(`\`offsetMs\` must be a finite number of ms; got ${show(offsetMs)}`);
    }
    if (typeof uncertaintyMs !== 'number' || !(uncertaintyMs >= 0 && uncertaintyMs <= 3_600_000)) {
      throw new TypeError(`\`uncertaintyMs\` must be from 0 to 3600000; got ${show(uncertaintyMs)}`);
    }
    return call((x) => x.tg_align(this.#h, Math.round(offsetMs), Math.round(uncertaintyMs))) === 1;
  }

  /** How many requests wait. */
  get waiting(): number {
    if (this.#orphans.length > 0) this.#dropOrphans();
    return this.#waiters.size + (this.#slots?.waiting ?? 0);
  }

  /** Units admitted and not yet completed (0 unless `countInFlight`). */
  get inFlight(): number {
    return call((x) => x.tg_in_flight(this.#h));
  }

  /** Each window's configuration and current use. */
  usage(): WindowUsage[] {
    const now = this.#now();
    call((x) => x.tg_advance(this.#h, now));
    return this.#windows.map((w, i) => {
      const used = call((x) => x.tg_used(this.#h, i));
      const nextFreeAt = call((x) => x.tg_window_earliest(this.#h, i));
      return { kind: w.kind, limit: w.limit, perMs: w.perMs, used, remaining: Math.max(0, w.limit - used), nextFreeAt };
    });
  }

  /** When `cost` would fit under every window and the pause, ignoring the queue. */
  earliest(cost = 1): number {
    normalizeCost(cost);
    const now = this.#now();
    call((x) => x.tg_advance(this.#h, now));
    return call((x) => x.tg_earliest(this.#h, cost));
  }

  /**
   * When each of the next `n` requests would be admitted (ms since the epoch, in
   * order) if nothing else takes from the windows: queued waiters go first,
   * requests in flight count as completed now. Computed in the core, exact:
   * each time is when `tryAcquire` would first admit that request.
   */
  plan(n: number, options: { cost?: number } = {}): number[] {
    if (!Number.isInteger(n) || n < 0 || n > 1_000_000) {
      throw new TypeError(`\`n\` must be an integer from 0 to 1000000; got ${show(n)}`);
    }
    if (typeof options !== 'object' || options === null) throw new TypeError('`options` must be an object such as { cost: 1 }');
    const cost = options.cost ?? 1;
    normalizeCost(cost);
    const now = this.#now();
    const count = call((x) => x.tg_plan(this.#h, now, n, cost));
    return Array.from(scratchOut(count));
  }

  /**
   * The full state of the windows as plain, JSON-safe data (versioned), read at
   * the clock's current time.
   */
  snapshot(): SnapshotData {
    const now = this.#now();
    call((x) => x.tg_advance(this.#h, now));
    const length = call((x) => x.tg_snapshot(this.#h));
    return fromFlat(scratchOut(length));
  }

  /**
   * Frees the wasm side of this limiter at once. Waiters reject with a
   * `TollgateError`; every later call throws one. Also `using limiter = ...`.
   */
  dispose(): void {
    if (this.#h === DISPOSED) return;
    this.#disarm();
    const waiters = [...this.#waiters.values()];
    this.#waiters.clear();
    finalizer.unregister(this);
    const h = this.#h;
    this.#h = DISPOSED;
    try {
      call((x) => (x.tg_free(h), 0));
    } finally {
      for (const w of waiters) rejectWaiter(w, new TollgateError('the limiter was disposed while this call waited'));
    }
  }

  /** @internal */
  _complete(permit: Permit, at: number | undefined): void {
    const now = this.#now();
    let when = now;
    if (at !== undefined) {
      if (typeof at !== 'number' || !(at >= 0) || at > Math.max(now, call((x) => x.tg_clock(this.#h))) + COMPLETE_TOLERANCE_MS) {
        throw new TypeError(`\`at\` must be a time in ms since the epoch, at most ${COMPLETE_TOLERANCE_MS} ms past the clock ` +
          `(${now}); got ${show(at)}`);
      }
      when = at;
    }
    // The module called directly, as in tryAcquire: `call` would take a closure made for every response.
    if (boundary.unwound) rewind();
    let r: number;
    try {
      r = wasm.tg_complete(this.#h, permit.at, permit.cost, when, now);
    } catch (error) {
      boundary.unwound = true; // no call here: the stack may be exhausted (see core.ts)
      throw error;
    }
    if (r !== r) throw lastError(); // NaN
  }

  /** @internal */
  _release(permit: Permit): void {
    call((x) => x.tg_release(this.#h, permit.at, permit.cost));
  }

  /** @internal The permit is settled: its slot is free, and a request that left the in-flight set may make room at once. */
  _wake(): void {
    this.#slots?.release();
    if (this.#waiters.size > 0) this.#pump();
  }

  #abort(id: number, reason: unknown): void {
    const waiter = this.#waiters.get(id);
    if (waiter === undefined) return;
    try {
      call((x) => x.tg_cancel(this.#h, id));
    } catch (error) {
      // The stack ran out (an abort deep in someone's recursion): the core
      // changed nothing; cancel again from a fresh stack, never leave a ghost.
      if (error instanceof RangeError) return void queueMicrotask(() => this.#abort(id, reason));
    }
    this.#waiters.delete(id);
    rejectWaiter(waiter, reason);
    this.#emit('aborted', { cost: costOf(waiter), waiting: this.#waiters.size });
    // The head may have changed: the next wake may be earlier or gone.
    this.#pump();
  }

  /** Lets in every waiter that fits now, then arms the one timer for the next. */
  /** Cancels the waiters whose callers already got an error. */
  #dropOrphans(): void {
    const orphans = this.#orphans;
    this.#orphans = [];
    for (const id of orphans) this.#abort(id, undefined);
  }

  #pump(retried = false): void {
    try {
      if (this.#orphans.length > 0) this.#dropOrphans();
      const now = this.#now();
      let id: number;
      // The permits' time: the core's clock once it has admitted at `now` (the same for the whole loop).
      let at = -1;
      while ((id = call((x) => x.tg_admit_next(this.#h, now))) !== 0) {
        const waiter = this.#waiters.get(id);
        // An id the map never got (the stack ran out between the core and the map): already rejected.
        if (waiter === undefined) continue;
        this.#waiters.delete(id);
        if (at < 0) at = call((x) => x.tg_clock(this.#h));
        if (typeof waiter === 'function') {
          waiter(new Permit(this, at, 1));
        } else {
          if (waiter.signal?.aborted) {
            // Aborted, but its listener never ran (the abort's dispatch was cut short): never admit it.
            this.#waiters.set(id, waiter);
            this.#abort(id, waiter.signal.reason);
            continue;
          }
          if (waiter.onAbort) offAbort(waiter.signal!, waiter.onAbort);
          waiter.resolve(new Permit(this, at, waiter.cost));
        }
        this.#emit('admitted', { cost: costOf(waiter), waiting: this.#waiters.size });
      }
      this.#arm(now);
    } catch (error) {
      // The stack ran out here (a completion deep in a recursion): try again
      // from a fresh stack before giving up on anyone.
      if (error instanceof RangeError && !retried) return void queueMicrotask(() => this.#pump(true));
      // A clock that returns garbage must not strand anyone: fail every waiter.
      this.#disarm();
      for (const [id, waiter] of this.#waiters) {
        try {
          call((x) => x.tg_cancel(this.#h, id));
        } catch {
          // Disposed, or the stack ran out: the waiter is rejected either way.
        }
        rejectWaiter(waiter, error);
      }
      this.#waiters.clear();
    }
  }

  #arm(now: number): void {
    const wake = call((x) => x.tg_next_wake(this.#h));
    // No one waits, or only a completion (which pumps) can make room.
    if (wake < 0 || wake === Number.POSITIVE_INFINITY) return this.#disarm();
    if (this.#timer !== undefined && this.#timerAt === wake) return;
    this.#disarm();
    this.#timerAt = wake;
    const delay = Math.min(Math.max(0, wake - now), MAX_TIMER_MS);
    this.#timer = this.#clock.setTimeout(() => {
      this.#timer = undefined;
      this.#timerAt = -1;
      this.#pump();
    }, delay);
  }

  #disarm(): void {
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#timerAt = -1;
  }
}

function slotsFor(maxConcurrent: unknown, maxWaiters: number): Slots | undefined {
  const max = normalizeMaxConcurrent(maxConcurrent);
  return max === Number.POSITIVE_INFINITY ? undefined : new Slots(max, maxWaiters);
}

/** `using limiter = new Limiter(...)` disposes it at the end of the block, where the runtime has `Symbol.dispose`. */
const disposeSymbol = (Symbol as { dispose?: symbol }).dispose;
if (typeof disposeSymbol === 'symbol') {
  Object.defineProperty(Limiter.prototype, disposeSymbol, {
    value: function dispose(this: Limiter) { this.dispose(); }, writable: true, configurable: true,
  });
}

/** Set by `Limiter.restore` for the one constructor call it makes. */
let restoring: { h: number; clock: Clock; windows: NormalizedWindow[] } | undefined;

function badClock(now: unknown): TypeError {
  return new TypeError(`\`clock.now()\` must return a number of ms since the Unix epoch; got ${show(now)} (${typeof now})`);
}

function show(value: unknown): string {
  if (typeof value === 'bigint') return `${value}n`;
  if (typeof value === 'string') return `'${value.slice(0, 40)}'`;
  if (typeof value === 'symbol') return value.toString();
  try {
    return String(value);
  } catch {
    return Object.prototype.toString.call(value);
  }
}

function checkSignal(signal: unknown): asserts signal is AbortSignal {
  const s = signal as AbortSignal;
  if (typeof s !== 'object' || s === null || typeof s.aborted !== 'boolean' || typeof s.addEventListener !== 'function' ||
    typeof s.removeEventListener !== 'function') {
    throw new TypeError(`\`signal\` must be an AbortSignal; got ${show(signal)}`);
  }
}

/**
 * One 'abort' listener per signal, however many calls share it (Node warns
 * past 10 listeners on one EventTarget); it calls each waiter's own handler.
 */
const aborters = new WeakMap<AbortSignal, { handlers: Set<() => void>; listener: () => void }>();

function onAbort(signal: AbortSignal, handler: () => void): void {
  let entry = aborters.get(signal);
  if (entry === undefined) {
    const handlers = new Set<() => void>();
    const listener = () => {
      aborters.delete(signal);
      for (const h of handlers) {
        try {
          h();
        } catch {
          queueMicrotask(h); // the stack ran out: from a fresh one
        }
      }
    };
    entry = { handlers, listener };
    aborters.set(signal, entry);
    signal.addEventListener('abort', listener, { once: true });
  }
  entry.handlers.add(handler);
}

function offAbort(signal: AbortSignal, handler: () => void): void {
  const entry = aborters.get(signal);
  if (entry === undefined) return;
  entry.handlers.delete(handler);
  if (entry.handlers.size === 0) {
    aborters.delete(signal);
    signal.removeEventListener('abort', entry.listener);
  }
}
