/**
 * `rateLimitedFetch(fetch, { routes, store })`: a scope (a route and a key)
 * whose quota lives in a shared store, so that every process with the same
 * routes and the same store shares it. `SharedScopeLimiter` gives fetch.ts the
 * part of the `Limiter` API it uses, over a `SharedLimiter`: the decisions
 * (tryAcquire, acquire, complete, pauseUntil, reconcile) return promises, the
 * bookkeeping fetch.ts reads synchronously (`waiting`, `inFlight`,
 * `pausedUntil`, `earliest`) is this process's knowledge. fetch.ts awaits a
 * decision only when it is a promise, so a wrapper without a store keeps the
 * in-process limiter's synchronous fast path.
 */
import type { Feedback } from '../core.js';
import { matchWindow } from '../feedback.js';
import type { AcquireOptions, ReconcileOptions, WindowUsage } from '../limiter.js';
import { type Clock, type Duration, type NormalizedWindow, parseDuration } from '../options.js';
import { openShared } from './options.js';
import type { SharedLimiter, SharedPermit, SharedStore } from './types.js';

/** `store`, checked: a shared store such as `redisStore(client)`, or undefined. */
export function normalizeStore(store: unknown): SharedStore | undefined {
  if (store === undefined) return undefined;
  if (typeof store !== 'object' || store === null || typeof (store as SharedStore).open !== 'function') {
    throw new TypeError(`\`store\` must be a shared store such as \`redisStore(client)\` or \`tabStore()\`; got ${store === null ? 'null' : typeof store}`);
  }
  return store as SharedStore;
}

/** `leaseMs`, checked: only with a `store`, at least 1 ms. */
export function normalizeLeaseMs(leaseMs: unknown, store: SharedStore | undefined): number | undefined {
  if (leaseMs === undefined) return undefined;
  if (store === undefined) throw new TypeError('`leaseMs` applies to requests in flight through a `store`; give `store` too, or leave `leaseMs` out');
  const ms = parseDuration(leaseMs as Duration, 'leaseMs');
  if (ms < 1) throw new TypeError(`\`leaseMs\` must be at least 1 ms; got ${String(leaseMs)}`);
  return ms;
}

/**
 * The shared quota's name for a route and a raw key. Every process derives the
 * same name from the same route and token (the wrapper's key HMAC uses a
 * random secret by default, so it cannot be used here); `Limiter.shared`
 * hashes it (SHA-256, and the store's own secret if it has one) before
 * anything reaches the store, so the token itself is never stored.
 */
export function scopeName(route: string, rawKey: string): string {
  return `tollgate:fetch\u0000${route}\u0000${rawKey}`;
}

/** A permit of a shared scope: `complete` resolves even if the store failed (see below). */
export interface SharedScopePermit {
  readonly at: number;
  readonly cost: number;
  complete(at?: number): Promise<void>;
  /**
   * Cancelled before sending: the store gives its units back (the Redis
   * store atomically, in one script). If the store fails, the lease counts
   * it as sent when it ends: overcounted for a while, never undercounted.
   */
  release(): Promise<void>;
}

export type SharedScopeTry = { ok: true; permit: SharedScopePermit } | { ok: false; retryAt: number; waitMs: number };

export interface SharedScopeOptions {
  store: SharedStore;
  route: string;
  rawKey: string;
  windows: readonly NormalizedWindow[];
  clock: Clock;
  maxWaiters: number;
  maxConcurrent: number;
  /** ms; undefined: the shared limiter's default. */
  leaseMs: number | undefined;
}

/** A scope's limiter when the wrapper has a `store`: the shared limiter, and what this process knows of it. */
export class SharedScopeLimiter {
  /** The shared limiter itself (`usage()`, `plan()`, `events`, ...). */
  readonly shared: SharedLimiter;
  readonly #windows: readonly NormalizedWindow[];
  readonly #clock: Clock;
  #waiting = 0;
  #inFlight = 0;
  #pausedUntil = 0;
  #retryAt = 0;

  constructor(o: SharedScopeOptions) {
    this.#windows = o.windows;
    this.#clock = o.clock;
    this.shared = openShared({
      name: scopeName(o.route, o.rawKey),
      windows: o.windows.map((x) => ({ limit: x.limit, per: x.perMs, kind: x.kind, ...(x.kind === 'fixed' ? { offset: x.offsetMs } : {}) })),
      store: o.store,
      // Every permit is completed by fetch.ts, so requests in flight can be counted.
      countInFlight: true,
      ...(o.leaseMs === undefined ? {} : { leaseMs: o.leaseMs }),
      clock: o.clock,
      maxWaiters: o.maxWaiters,
      maxConcurrent: o.maxConcurrent,
    });
  }

  /** This process's calls waiting. */
  get waiting(): number {
    return this.#waiting;
  }

  /** This process's calls in flight. */
  get inFlight(): number {
    return this.#inFlight;
  }

  /** The latest pause this process set or was told of by a refusal (others' pauses live in the store). */
  get pausedUntil(): number {
    return this.#pausedUntil;
  }

  /**
   * An estimate without a round trip (a key pool picks by it): the latest
   * `retryAt` the store gave this process, or now. The store decides.
   */
  earliest(_cost = 1): number {
    return Math.max(this.#clock.now(), this.#retryAt, this.#pausedUntil);
  }

  async tryAcquire(cost = 1): Promise<SharedScopeTry> {
    const r = await this.shared.tryAcquire(cost);
    if (!r.ok) {
      this.#retryAt = r.retryAt;
      return r;
    }
    return { ok: true, permit: this.#track(r.permit) };
  }

  async acquire(options: AcquireOptions = {}): Promise<SharedScopePermit> {
    this.#waiting++;
    try {
      return this.#track(await this.shared.acquire(options));
    } finally {
      this.#waiting--;
    }
  }

  #track(permit: SharedPermit): SharedScopePermit {
    this.#inFlight++;
    let done = false;
    const complete = async (at?: number) => {
        if (done) return;
        done = true;
        this.#inFlight--;
        // The response already arrived: a store that cannot record it now
        // must not cost the caller the response. The lease (`leaseMs`) then
        // counts the request as sent at the latest moment it can have been,
        // so the quota is overcounted for a while, never undercounted.
        await permit.complete(at).catch(() => {});
    };
    const release = async () => {
      if (done) return;
      done = true;
      this.#inFlight--;
      await permit.release().catch(() => {});
    };
    return { at: permit.at, cost: permit.cost, complete, release };
  }

  /** Closes the gate in the store: every process's calls in this scope wait. */
  async pauseUntil(at: number): Promise<void> {
    if (at > this.#pausedUntil) this.#pausedUntil = at;
    await this.shared.pauseUntil(at);
  }

  reconcile(window: number, options: ReconcileOptions): Promise<boolean> {
    return this.shared.reconcile(window, options);
  }

  usage(): Promise<WindowUsage[]> {
    return this.shared.usage();
  }

  plan(n: number, options?: { cost?: number }): Promise<number[]> {
    return this.shared.plan(n, options);
  }

  /**
   * Calendar windows of a shared scope count on the store's clock (one clock
   * for every process), not on what one process's responses say of the
   * server's: nothing to align here.
   */
  alignToServer(_offsetMs: number, _uncertaintyMs?: number): boolean {
    return false;
  }

  /**
   * Adopts the server's remaining counts in the store, matched to the scope's
   * windows as `reconcileWith` (feedback.ts) matches them: same period, else
   * same limit, else the only window. Returns the indexes that changed.
   */
  async reconcileWith(feedback: Feedback): Promise<number[]> {
    const ours = this.#windows;
    const changed: number[] = [];
    for (const w of feedback.windows) {
      if (w.remaining === undefined) continue;
      const i = matchWindow(ours, w);
      if (i < 0) continue;
      if (await this.shared.reconcile(i, { remaining: w.remaining, resetAt: w.resetAtMs })) changed.push(i);
    }
    return changed;
  }

  /** Nothing of this process waits or is in flight: the local handle can go (the quota stays in the store). */
  idle(): boolean {
    return this.#waiting === 0 && this.#inFlight === 0;
  }

  close(): Promise<void> {
    return this.shared.close();
  }
}

/** A decision of either limiter: a value (in-process) or a promise (shared). */
export function isPromise<T>(x: T): x is Extract<T, Promise<unknown>> {
  return x instanceof Promise;
}
