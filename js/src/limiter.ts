/**
 * The `Limiter`: the wasm core's decisions plus exactly one timer. The core
 * holds the windows and the wait queue and says who is admitted next and when;
 * this class only keeps the promises and arms the timer for that time.
 */

import { Slots, normalizeMaxConcurrent } from './concurrency.js';
import { core, type CoreLimiter } from './core.js';
import { fromCore } from './errors.js';
import { type LimiterEventMap, type LimiterEvents, subscribedChannel } from './events.js';
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
import { type ScheduleOptions, type WrapOptions, scheduleWith, wrapWith } from './schedule.js';

/** An admitted request's hold on the windows. */
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
   * a server could have seen it. Later calls do nothing.
   */
  complete(at?: number): void {
    const limiter = this.#limiter;
    if (limiter === undefined) return;
    this.#limiter = undefined;
    limiter._complete(this, at);
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

interface Waiter {
  cost: number;
  resolve: (permit: Permit) => void;
  reject: (reason: unknown) => void;
  signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
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
 */
export class Limiter {
  #core: CoreLimiter;
  #clock: Clock;
  #windows: NormalizedWindow[];
  #waiters = new Map<number, Waiter>();
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
      ({ core: this.#core, clock: this.#clock, windows: this.#windows } = restoring);
      restoring = undefined;
      return;
    }
    const o = normalizeLimiterOptions(options);
    this.#clock = o.clock;
    this.#windows = o.windows;
    this.#core = call(() => new (core().LimiterCore)(o.flat, o.maxWaiters, o.countInFlight));
    this.#slots = slotsFor(options.maxConcurrent, o.maxWaiters);
  }

  /** A limiter in the state of `snapshot`. `options.windows`, if given, must be the snapshot's. */
  static restore(snapshot: unknown, options: RestoreOptions = {}): Limiter {
    const windows = options.windows === undefined ? undefined : normalizeWindows(options.windows);
    const maxWaiters = normalizeMaxWaiters(options.maxWaiters);
    const clock = normalizeClock(options.clock);
    const countInFlight = normalizeFlag(options.countInFlight, 'countInFlight');
    const flat = windows ? flatten(windows) : new Float64Array(0);
    const restored = call(() => core().LimiterCore.restore(snapshot, flat, maxWaiters, countInFlight));
    restoring = { core: restored, clock, windows: windows ?? windowsOf(snapshot) };
    const limiter = new Limiter(undefined as unknown as LimiterOptions);
    limiter.#slots = slotsFor(options.maxConcurrent, maxWaiters);
    return limiter;
  }

  /** Admits now if every window allows it and no one waits ahead; never waits. */
  tryAcquire(cost = 1): TryAcquireResult {
    if (cost !== 1) normalizeCost(cost);
    // Every slot taken: only a completion can make room.
    if (this.#slots?.tryTake() === false) return { ok: false, retryAt: Number.POSITIVE_INFINITY, waitMs: Number.POSITIVE_INFINITY };
    const now = this.#clock.now();
    const r = this.#core.tryAcquire(now, cost);
    if (r <= 0) return { ok: true, permit: new Permit(this, -r, cost) };
    this.#slots?.release();
    if (r !== r) throw fromCore(this.#core.takeError()); // NaN
    return { ok: false, retryAt: r, waitMs: r - now };
  }

  /**
   * Resolves with a permit exactly when the request is admitted. With
   * `maxConcurrent`, the permit holds a slot until `complete()`.
   */
  acquire(options: AcquireOptions = {}): Promise<Permit> {
    const slots = this.#slots;
    if (slots === undefined) return this.#acquire(options);
    let priority: number;
    try {
      normalizeCost(options.cost ?? 1);
      priority = normalizePriority(options.priority ?? 0);
    } catch (error) {
      return Promise.reject(error);
    }
    return slots.take(priority, options.signal, this.#waiters.size).then(() => this.#acquire(options).catch((error: unknown) => {
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

  #acquire(options: AcquireOptions): Promise<Permit> {
    const { signal } = options;
    if (signal?.aborted) return Promise.reject(signal.reason);
    let cost: number;
    let priority: number;
    let id: number;
    try {
      cost = normalizeCost(options.cost ?? 1);
      priority = normalizePriority(options.priority ?? 0);
      if (this.#waiters.size === 0) {
        const r = this.#core.tryAcquire(this.#clock.now(), cost);
        if (r <= 0) return Promise.resolve(new Permit(this, -r, cost));
        if (r !== r) throw fromCore(this.#core.takeError()); // NaN
      }
      id = call(() => this.#core.enqueue(cost, priority));
    } catch (error) {
      return Promise.reject(error);
    }
    return new Promise<Permit>((resolve, reject) => {
      const waiter: Waiter = { cost, resolve, reject, signal, onAbort: undefined };
      if (signal) {
        waiter.onAbort = () => this.#abort(id, signal.reason);
        signal.addEventListener('abort', waiter.onAbort, { once: true });
      }
      this.#waiters.set(id, waiter);
      this.#emit('queued', { cost, priority, waiting: this.#waiters.size });
      this.#pump();
    });
  }

  /** Admits nothing before `until` (ms since the epoch), e.g. for a Retry-After. */
  pauseUntil(until: number): void {
    call(() => this.#core.pauseUntil(until));
    this.#emit('paused', { until: this.#core.pausedUntilMs() });
    // Pauses only postpone: an armed timer fires early and re-arms, no need to re-pump.
  }

  /** Nothing is admitted before this time (0 when never paused). */
  get pausedUntil(): number {
    return this.#core.pausedUntilMs();
  }

  /**
   * The server reports fewer units left in window `window` than we count (it may
   * be shared with other clients): adopt its view. Returns whether that changed anything.
   */
  reconcile(window: number, { remaining, resetAt }: ReconcileOptions): boolean {
    if (!Number.isInteger(window) || window < 0 || window >= this.#windows.length) {
      throw new TypeError(`\`window\` must be an index from 0 to ${this.#windows.length - 1}; got ${String(window)}`);
    }
    if (!Number.isInteger(remaining) || remaining < 0) {
      throw new TypeError(`\`remaining\` must be an integer >= 0; got ${String(remaining)}`);
    }
    const reset = resetAt === undefined ? -1 : parseDuration(resetAt, 'resetAt');
    const changed = call(() => this.#core.reconcile(window, remaining, reset, this.#clock.now()));
    if (changed) this.#emit('reconciled', { window, remaining, resetAt });
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
    if (!Number.isFinite(offsetMs)) throw new TypeError(`\`offsetMs\` must be a finite number of ms; got ${String(offsetMs)}`);
    if (!(uncertaintyMs >= 0 && uncertaintyMs <= 3_600_000)) {
      throw new TypeError(`\`uncertaintyMs\` must be from 0 to 3600000; got ${String(uncertaintyMs)}`);
    }
    return this.#core.alignToServer(Math.round(offsetMs), Math.round(uncertaintyMs));
  }

  /** How many requests wait (for the windows or for a `maxConcurrent` slot). */
  get waiting(): number {
    return this.#waiters.size + (this.#slots?.waiting ?? 0);
  }

  /** Units admitted and not yet completed (0 unless `countInFlight`). */
  get inFlight(): number {
    return this.#core.inFlight();
  }

  /** Each window's configuration and current use. */
  usage(): WindowUsage[] {
    const now = this.#clock.now();
    call(() => this.#core.advance(now));
    return this.#windows.map((w, i) => {
      const used = this.#core.used(i);
      const nextFreeAt = this.#core.windowEarliest(i);
      return { kind: w.kind, limit: w.limit, perMs: w.perMs, used, remaining: Math.max(0, w.limit - used), nextFreeAt };
    });
  }

  /** When `cost` would fit under every window and the pause, ignoring the queue. */
  earliest(cost = 1): number {
    normalizeCost(cost);
    const now = this.#clock.now();
    call(() => this.#core.advance(now));
    return call(() => this.#core.earliest(cost));
  }

  /**
   * When each of the next `n` requests would be admitted (ms since the epoch, in
   * order) if nothing else takes from the windows: queued waiters go first,
   * requests in flight count as completed now. Computed in the core, exact:
   * each time is when `tryAcquire` would first admit that request.
   */
  plan(n: number, { cost = 1 }: { cost?: number } = {}): number[] {
    if (!Number.isInteger(n) || n < 0 || n > 1_000_000) {
      throw new TypeError(`\`n\` must be an integer from 0 to 1000000; got ${String(n)}`);
    }
    normalizeCost(cost);
    return Array.from(call(() => this.#core.plan(this.#clock.now(), n, cost)));
  }

  /** The full state of the windows as plain, JSON-safe data (versioned). */
  snapshot(): unknown {
    return call(() => this.#core.snapshot());
  }

  /** @internal */
  _complete(permit: Permit, at: number | undefined): void {
    // The slot first: a completion the core refuses (a bad `at`) must not hold it for good.
    this.#slots?.release();
    const when = at ?? this.#clock.now();
    call(() => this.#core.complete(permit.at, permit.cost, when));
    // A request that left the in-flight set may make room at once.
    if (this.#waiters.size > 0) this.#pump();
  }

  #abort(id: number, reason: unknown): void {
    const waiter = this.#waiters.get(id);
    if (waiter === undefined) return;
    this.#waiters.delete(id);
    this.#core.cancel(id);
    waiter.reject(reason);
    this.#emit('aborted', { cost: waiter.cost, waiting: this.#waiters.size });
    // The head may have changed: the next wake may be earlier or gone.
    this.#pump();
  }

  /** Lets in every waiter that fits now, then arms the one timer for the next. */
  #pump(): void {
    try {
      const now = this.#clock.now();
      let id: number;
      while ((id = call(() => this.#core.admitNext(now))) !== 0) {
        const waiter = this.#waiters.get(id)!;
        this.#waiters.delete(id);
        if (waiter.onAbort) waiter.signal!.removeEventListener('abort', waiter.onAbort);
        waiter.resolve(new Permit(this, this.#core.clockMs(), waiter.cost));
        this.#emit('admitted', { cost: waiter.cost, waiting: this.#waiters.size });
      }
      this.#arm(now);
    } catch (error) {
      // A clock that returns garbage must not strand anyone: fail every waiter.
      this.#disarm();
      for (const [id, waiter] of this.#waiters) {
        this.#core.cancel(id);
        waiter.reject(error);
      }
      this.#waiters.clear();
    }
  }

  #arm(now: number): void {
    const wake = this.#core.nextWakeMs();
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

function call<T>(f: () => T): T {
  try {
    return f();
  } catch (error) {
    throw fromCore(error);
  }
}

/** Set by `Limiter.restore` for the one constructor call it makes. */
let restoring: { core: CoreLimiter; clock: Clock; windows: NormalizedWindow[] } | undefined;

function windowsOf(snapshot: unknown): NormalizedWindow[] {
  const windows = (snapshot as { windows: Array<{ limit: number; perMs: number; offsetMs: number; state: object }> }).windows;
  return windows.map((w) => ({
    kind: Object.keys(w.state)[0] as WindowKind,
    limit: w.limit,
    perMs: w.perMs,
    offsetMs: w.offsetMs,
  }));
}
