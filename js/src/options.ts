/**
 * All option defaults and validation live here. A bad option is a `TypeError`
 * that names the option in backticks and says what is allowed.
 */

/** Milliseconds, or a string such as `'500ms'`, `'30s'`, `'1m'`, `'1h'`, `'1d'`. */
export type Duration = number | `${number}${'ms' | 's' | 'm' | 'h' | 'd'}`;

export type WindowKind = 'sliding' | 'fixed' | 'bucket';

/** One "limit per period" rule. */
export interface WindowOptions {
  /** Units allowed per period: an integer from 1 to 4294967295. */
  limit: number;
  /** The period: whole milliseconds (1 ms to about 34 years), or a string such as `'1m'`. */
  per: Duration;
  /**
   * How the window counts. `'sliding'`: never more than `limit` in any interval of
   * `per` (safe against every server). `'fixed'`: buckets aligned to the Unix
   * epoch plus `offset` (UTC calendar minutes, hours, days). `'bucket'`: a token
   * bucket that starts full (admits up to 2 x limit - 1 in the first period).
   * @default 'sliding'
   */
  kind?: WindowKind;
  /** For `'fixed'` windows: where buckets start, after the Unix epoch. @default 0 */
  offset?: Duration;
}

/** Where time comes from. Every method is looked up when used, so fake timers work. */
export interface Clock {
  /** Now, in ms since the Unix epoch. */
  now(): number;
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** Reads `Date.now` and the global timers at call time (so fake-timer libraries drive it). */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (callback, ms) => globalThis.setTimeout(callback, ms),
  clearTimeout: (handle) => globalThis.clearTimeout(handle as ReturnType<typeof setTimeout>),
};

export interface LimiterOptions {
  /** The windows, all acquired together: a request is admitted only when every one allows it. */
  windows: readonly WindowOptions[];
  /** The most requests that may wait; one more rejects with `QueueFullError`. @default Infinity */
  maxWaiters?: number;
  /** @default systemClock (`Date.now` and the global `setTimeout`) */
  clock?: Clock;
  /**
   * Count each admitted request as in flight, at the current time, in every
   * sliding and fixed window until `permit.complete()` says its response
   * arrived: a request may reach the server at any moment until then. Turn it
   * on only when every permit is completed (as `rateLimitedFetch` does); a
   * permit never completed holds its units for good.
   * @default false
   */
  countInFlight?: boolean;
  /**
   * The most calls in flight at once: a permit holds one of these slots from
   * admission until `permit.complete()` (`schedule` and `wrap`: until the
   * function settles). Calls beyond it wait, by priority, before they queue for
   * the windows. With it, complete every permit, or its slot stays taken.
   * @default Infinity
   */
  maxConcurrent?: number;
}

export interface NormalizedWindow {
  kind: WindowKind;
  limit: number;
  perMs: number;
  offsetMs: number;
}

export interface NormalizedOptions {
  windows: NormalizedWindow[];
  /** `[kind, limit, perMs, offsetMs]` per window, as the core takes them. */
  flat: Float64Array;
  maxWaiters: number;
  clock: Clock;
  countInFlight: boolean;
}

const UNIT_MS = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
const KINDS: readonly WindowKind[] = ['sliding', 'fixed', 'bucket'];
const MAX_LIMIT = 4_294_967_295;
const MAX_PERIOD_MS = 2 ** 40;

/** Reads a duration as whole milliseconds; `name` is the option's path for the error. */
export function parseDuration(value: unknown, name = 'duration'): number {
  let ms = value;
  if (typeof value === 'string') {
    const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)\s*$/.exec(value);
    ms = m ? Number(m[1]) * UNIT_MS[m[2] as keyof typeof UNIT_MS] : Number.NaN;
  }
  if (typeof ms !== 'number' || !Number.isInteger(ms) || ms < 0) {
    throw new TypeError(
      `\`${name}\` must be whole milliseconds or a string such as '500ms', '30s', '1m', '1h', '1d'; got ${show(value)}`,
    );
  }
  return ms;
}

/** A value as an error message shows it; never throws (a revoked Proxy, a Symbol, a null-prototype object). */
export function show(value: unknown): string {
  if (typeof value === 'string') return `'${value.length > 40 ? `${value.slice(0, 40)}...` : value}'`;
  if (typeof value === 'bigint') return `${value}n`;
  try {
    return typeof value === 'object' && value !== null ? Object.prototype.toString.call(value) : String(value);
  } catch {
    return typeof value;
  }
}

function normalizeWindow(w: WindowOptions, i: number): NormalizedWindow {
  const at = `windows[${i}]`;
  if (typeof w !== 'object' || w === null) throw new TypeError(`\`${at}\` must be an object like { limit: 20, per: '1m' }`);
  const kind = w.kind ?? 'sliding';
  if (!KINDS.includes(kind)) throw new TypeError(`\`${at}.kind\` must be 'sliding', 'fixed' or 'bucket'; got ${show(kind)}`);
  if (!Number.isInteger(w.limit) || w.limit < 1 || w.limit > MAX_LIMIT) {
    throw new TypeError(`\`${at}.limit\` must be an integer from 1 to ${MAX_LIMIT}; got ${show(w.limit)}`);
  }
  const perMs = parseDuration(w.per, `${at}.per`);
  if (perMs < 1 || perMs > MAX_PERIOD_MS) {
    throw new TypeError(`\`${at}.per\` must be from 1 ms to ${MAX_PERIOD_MS} ms; got ${show(w.per)}`);
  }
  if (w.offset !== undefined && kind !== 'fixed') throw new TypeError(`\`${at}.offset\` applies only to kind 'fixed'`);
  const offsetMs = w.offset === undefined ? 0 : parseDuration(w.offset, `${at}.offset`) % perMs;
  return { kind, limit: w.limit, perMs, offsetMs };
}

export function flatten(windows: readonly NormalizedWindow[]): Float64Array {
  const flat = new Float64Array(windows.length * 4);
  windows.forEach((w, i) => flat.set([KINDS.indexOf(w.kind), w.limit, w.perMs, w.offsetMs], i * 4));
  return flat;
}

export function normalizeWindows(windows: unknown): NormalizedWindow[] {
  if (!Array.isArray(windows) || windows.length === 0) {
    throw new TypeError("`windows` must be a non-empty array, e.g. [{ limit: 20, per: '1m' }, { limit: 60, per: '1h' }]");
  }
  return windows.map(normalizeWindow);
}

export function normalizeClock(clock: unknown): Clock {
  if (clock === undefined) return systemClock;
  const c = clock as Clock;
  if (typeof c !== 'object' || c === null || typeof c.now !== 'function' || typeof c.setTimeout !== 'function' ||
    typeof c.clearTimeout !== 'function') {
    throw new TypeError('`clock` must have `now()`, `setTimeout(callback, ms)` and `clearTimeout(handle)`');
  }
  return c;
}

export function normalizeMaxWaiters(maxWaiters: unknown): number {
  if (maxWaiters === undefined || maxWaiters === Number.POSITIVE_INFINITY) return Number.POSITIVE_INFINITY;
  if (typeof maxWaiters !== 'number' || !Number.isInteger(maxWaiters) || maxWaiters < 0) {
    throw new TypeError(`\`maxWaiters\` must be an integer >= 0 or Infinity; got ${show(maxWaiters)}`);
  }
  return maxWaiters;
}

export function normalizeLimiterOptions(options: LimiterOptions): NormalizedOptions {
  if (typeof options !== 'object' || options === null) throw new TypeError('Limiter options must be an object with `windows`');
  const windows = normalizeWindows(options.windows);
  return {
    windows,
    flat: flatten(windows),
    maxWaiters: normalizeMaxWaiters(options.maxWaiters),
    clock: normalizeClock(options.clock),
    countInFlight: normalizeFlag(options.countInFlight, 'countInFlight'),
  };
}

export function normalizeFlag(value: unknown, name: string): boolean {
  if (value === undefined) return false;
  if (typeof value !== 'boolean') throw new TypeError(`\`${name}\` must be true or false; got ${show(value)}`);
  return value;
}

/** Reads a per-call cost: an integer >= 1. */
export function normalizeCost(cost: unknown): number {
  if (!Number.isInteger(cost) || (cost as number) < 1 || (cost as number) > MAX_LIMIT) {
    throw new TypeError(`\`cost\` must be an integer from 1 to ${MAX_LIMIT}; got ${show(cost)}`);
  }
  return cost as number;
}

export function normalizePriority(priority: unknown): number {
  if (!Number.isInteger(priority) || Math.abs(priority as number) > 2_147_483_647) {
    throw new TypeError(`\`priority\` must be an integer from -2147483647 to 2147483647; got ${show(priority)}`);
  }
  return priority as number;
}
