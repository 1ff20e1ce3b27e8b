/**
 * The small interface the hand-written JS needs from the wasm core. Each
 * runtime's entry point (node.ts, browser.ts) loads its own wasm-bindgen glue
 * and hands it over with `useCore`; nothing else imports the glue.
 */

/** One limiter in the core. Times are ms since the Unix epoch. */
export interface CoreLimiter {
  /** Admitted: `-atMs` (<= 0). Refused: `retryAtMs` (> 0). NaN: an error, thrown by `takeError()`. */
  tryAcquire(nowMs: number, cost: number): number;
  takeError(): unknown;
  enqueue(cost: number, priority: number): number;
  /** The admitted waiter's id, or 0. */
  admitNext(nowMs: number): number;
  /** -1 when no one waits; Infinity when only a completion can make room. */
  nextWakeMs(): number;
  inFlight(): number;
  advance(nowMs: number): void;
  alignToServer(offsetMs: number, uncertaintyMs: number): boolean;
  windowEarliest(window: number): number;
  cancel(id: number): boolean;
  waiters(): number;
  complete(permitAtMs: number, cost: number, atMs: number): void;
  pauseUntil(untilMs: number): void;
  pausedUntilMs(): number;
  reconcile(window: number, remaining: number, resetAtMs: number, nowMs: number): boolean;
  used(window: number): number;
  earliest(cost: number): number;
  plan(nowMs: number, n: number, cost: number): Float64Array;
  clockMs(): number;
  snapshot(): unknown;
  free(): void;
}

/** What a response said about the server's limits (times on the client clock). */
export interface Feedback {
  retryAtMs?: number;
  serverOffsetMs?: number;
  windows: ServerWindow[];
}

export interface ServerWindow {
  name?: string;
  limit?: number;
  remaining?: number;
  resetAtMs?: number;
  windowMs?: number;
}

/** The core's retry decision, with the wrapper's shared retry budget. */
export interface CoreRetryPlanner {
  /** The retry time (>= 0), or a give-up code (< 0). status 0: network error before any response. */
  decide(attempt: number, status: number, idempotent: boolean, hasKey: boolean, retryAtMs: number, nowMs: number,
    startedMs: number, random: number): number;
  onSuccess(): void;
}

export interface CoreModule {
  /** `headers`: `name: value` lines (lower-case names) separated by `\n`. */
  parseFeedback(headers: string, nowMs: number): Feedback | null;
  giveUpReason(code: number): string;
  RetryPlanner: new (maxAttempts: number, baseMs: number, capMs: number, maxTotalMs: number, retryAfterJitterMs: number,
    maxRetryAfterMs: number, budgetMaxTokens: number, budgetTokenRatio: number) => CoreRetryPlanner;
  LimiterCore: {
    new (windows: Float64Array, maxWaiters: number, countInFlight: boolean): CoreLimiter;
    restore(snapshot: unknown, windows: Float64Array, maxWaiters: number, countInFlight: boolean): CoreLimiter;
  };
}

let api: CoreModule | undefined;

export function useCore(module: CoreModule): void {
  api = module;
}

export function core(): CoreModule {
  if (api === undefined) throw new Error('tollgate: the wasm core is not loaded; import the package entry point, not an inner file');
  return api;
}
