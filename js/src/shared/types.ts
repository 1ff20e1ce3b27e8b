/**
 * The contract between `Limiter.shared(options)` and the stores that hold a
 * quota shared by many limiters: `redisStore(client)` (processes and machines)
 * and `tabStore()` (the tabs of one origin). `Limiter.shared` validates the
 * options once (see `normalizeSharedOptions`) and hands them to `store.open`;
 * each store returns a `SharedLimiter`, the `Limiter` API made asynchronous
 * where a decision needs the store.
 */
import type { LimiterEvents } from '../events.js';
import type { AcquireOptions, ReconcileOptions, WindowUsage } from '../limiter.js';
import type { ScheduleOptions, WrapOptions } from '../schedule.js';
import type { Clock, Duration, NormalizedWindow, WindowOptions } from '../options.js';

export interface SharedLimiterOptions {
  /** Identifies the quota, e.g. `'hex:' + token`. Hashed before it is stored or shown. */
  name: string;
  /** The windows, all acquired together, as for `new Limiter`. */
  windows: readonly WindowOptions[];
  /** Where the quota lives: `redisStore(client)` or `tabStore()`. */
  store: SharedStore;
  /** Count admitted requests as in flight until `permit.complete()`. @default false */
  countInFlight?: boolean;
  /**
   * The longest a request may stay in flight: a permit of a process (or tab)
   * that died is counted as sent at `at + leaseMs`, the latest moment it can
   * have reached the server, and no longer held. @default '1m'
   */
  leaseMs?: Duration;
  /** The most requests that may wait in this process. @default Infinity */
  maxWaiters?: number;
  /**
   * The most calls of this process in flight at once (a per-process cap, not a
   * shared one). Stores apply it with `acquireInSlot` (js/src/concurrency.ts).
   * @default Infinity
   */
  maxConcurrent?: number;
  /** @default systemClock */
  clock?: Clock;
}

/**
 * What a store's `open` receives: every field validated and defaulted. The
 * store keys the quota by `quotaKey(name)` (SHA-256 of the name), the only
 * form of the name that may reach it: hashed there, not by `Limiter.shared`,
 * so that apps that share no quota carry no SHA-256.
 */
export interface NormalizedSharedOptions {
  /** The name as given (for messages only; never stored). */
  name: string;
  windows: NormalizedWindow[];
  countInFlight: boolean;
  leaseMs: number;
  maxWaiters: number;
  /** Optional until every normalizer sets it (`normalizeMaxConcurrent`); absent means Infinity. */
  maxConcurrent?: number;
  clock: Clock;
}

export interface SharedStore {
  /** `'redis'`, `'tab'`, ... (for messages and events). */
  readonly kind: string;
  /** Called by `Limiter.shared` with validated options. */
  open(options: NormalizedSharedOptions): SharedLimiter;
}

/** An admitted request's hold on a shared quota. */
export interface SharedPermit {
  /** When the windows counted it, ms since the Unix epoch (the store's clock, mapped onto ours). */
  readonly at: number;
  readonly cost: number;
  /** The response arrived (at `at`, default now): count it then; with countInFlight, leave the in-flight set. */
  complete(at?: number): Promise<void>;
  /**
   * The request was never sent (cancelled after admission): its units go
   * back, as `Permit.release()` does in process (the core's
   * `Limiter::release`; the Redis store does it in one script). Instead of
   * `complete()`; once. The tab store counts it as sent.
   */
  release(): Promise<void>;
}

export type SharedTryAcquireResult =
  | { ok: true; permit: SharedPermit }
  | { ok: false; retryAt: number; waitMs: number };

/** The `Limiter` API over a shared quota. */
export interface SharedLimiter {
  /** The hashed name. */
  readonly key: string;
  /**
   * `queued`, `admitted`, `aborted`, `paused`, `reconciled` with the `Limiter`'s
   * `detail`s (`LimiterEventMap`), plus store-specific ones (e.g. `fallback`),
   * which listeners name as a plain string and get as a plain `Event`.
   */
  readonly events: LimiterEvents;
  tryAcquire(cost?: number): Promise<SharedTryAcquireResult>;
  acquire(options?: AcquireOptions): Promise<SharedPermit>;
  /**
   * Runs `fn` once admitted and completes the permit when it settles.
   * Implement as `scheduleWith(this, fn, options)` (js/src/schedule.ts).
   */
  schedule<T>(fn: () => T | PromiseLike<T>, options?: ScheduleOptions): Promise<Awaited<T>>;
  /** `fn` limited. Implement as `wrapWith(this, fn, options)` (js/src/schedule.ts). */
  wrap<A extends unknown[], R, This = unknown>(fn: (this: This, ...args: A) => R, options?: WrapOptions): (this: This, ...args: A) => Promise<Awaited<R>>;
  pauseUntil(at: number): Promise<void>;
  reconcile(window: number, options: ReconcileOptions): Promise<boolean>;
  usage(): Promise<WindowUsage[]>;
  plan(n: number, options?: { cost?: number }): Promise<number[]>;
  /** Rejects this process's waiters and releases the store's resources (subscriptions, timers). */
  close(): Promise<void>;
}
