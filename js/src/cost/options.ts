/**
 * Options of the cost-control tools (`RunCache`, `UsageMonitor`,
 * `responseCache`, `checkHeadroom`): every default and every check in one
 * place. A bad option is a `TypeError` naming it in backticks.
 */
import { type Clock, type Duration, normalizeClock, parseDuration } from '../options.js';
import type { Store } from './store.js';

export interface RunCacheOptions {
  /** Results kept in memory; one more drops the least recently used. An integer >= 1, or Infinity. @default 1000 */
  maxEntries?: number;
  /**
   * How long a result is served after its run finished, however unchanged the
   * hash: a safety net for a hash that misses a change. Infinity: only a new
   * hash or `invalidate()` ends it.
   * @default '1d'
   */
  ttl?: Duration | typeof Infinity;
  /**
   * Where results are kept too, so a restarted process does not run again:
   * `fileStore(path)`, `localStorageStore()`, `indexedDbStore()` or your own.
   * Results must then be JSON-safe. Give each RunCache a store of its own: a
   * second RunCache on the same store sees the other's `invalidate()` only
   * after a restart.
   * @default none (memory only)
   */
  store?: Store;
  /** @default systemClock */
  clock?: Clock;
}

export interface RunIfChangedOptions<T> {
  /** The hash of the project's source data, e.g. Hex's `sourceDataHash`: the run is skipped while it is unchanged. */
  sourceHash: string;
  /** Triggers the run and resolves with its result. */
  run: () => Promise<T> | T;
}

export interface UsageMonitorOptions {
  /** Runs allowed in any rolling 7 days (hex-cost-tuning's "max runs per week"). @default 500 */
  weeklyBudget?: number;
  /** Fractions of `weeklyBudget` at which `alert` fires, each time usage rises to one. @default [0.8] */
  thresholds?: readonly number[];
  /** @default systemClock */
  clock?: Clock;
}

export interface ReportOptions {
  /** A project with more runs than this in the rolling week is `flagged` for a schedule review. @default 20 */
  overRunsPerWeek?: number;
}

export interface ResponseCacheOptions {
  /** How long a 200 is served without a request; less when the server's `Cache-Control: max-age` says so. @default '1m' */
  ttl?: Duration;
  /** Responses kept; one more drops the least recently used. An integer >= 1. @default 100 */
  maxEntries?: number;
  /** @default systemClock */
  clock?: Clock;
}

export interface HeadroomOptions {
  /** The batch to check: n requests. @default 1 */
  n?: number;
  /** Aborts the `GET /rate-limit` request. */
  signal?: AbortSignal;
  /** The limiter's clock (for `waitMs`). @default systemClock */
  clock?: Clock;
}

export interface NormalizedRunCacheOptions {
  maxEntries: number;
  ttlMs: number;
  store: Store | undefined;
  clock: Clock;
}

export interface NormalizedUsageMonitorOptions {
  weeklyBudget: number;
  /** Ascending, without duplicates. */
  thresholds: number[];
  clock: Clock;
}

export interface NormalizedResponseCacheOptions {
  ttlMs: number;
  maxEntries: number;
  clock: Clock;
}

export interface NormalizedHeadroomOptions {
  n: number;
  signal: AbortSignal | undefined;
  clock: Clock;
}

const MAX_COUNT = 4_294_967_295;

function show(value: unknown): string {
  return typeof value === 'string' ? `'${value}'` : Array.isArray(value) ? `[${value.map(show).join(', ')}]` : String(value);
}

function object<T>(options: T | undefined, what: string): Partial<T> {
  if (options === undefined) return {};
  if (typeof options !== 'object' || options === null) throw new TypeError(`${what} options must be an object; got ${show(options)}`);
  return options;
}

function count(value: unknown, name: string, { infinite }: { infinite: boolean }): number {
  if (infinite && value === Number.POSITIVE_INFINITY) return value;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > MAX_COUNT) {
    throw new TypeError(`\`${name}\` must be an integer from 1 to ${MAX_COUNT}${infinite ? ' or Infinity' : ''}; got ${show(value)}`);
  }
  return value;
}

function positiveDuration(value: unknown, name: string): number {
  const ms = parseDuration(value, name);
  if (ms < 1) throw new TypeError(`\`${name}\` must be at least 1 ms; got ${show(value)}`);
  return ms;
}

function checkStore(store: unknown): Store | undefined {
  if (store === undefined) return undefined;
  const s = store as Store;
  if (typeof s !== 'object' || s === null || typeof s.get !== 'function' || typeof s.set !== 'function' || typeof s.delete !== 'function') {
    throw new TypeError('`store` must have `get(key)`, `set(key, value)` and `delete(key)`, e.g. fileStore(path)');
  }
  return s;
}

export function normalizeRunCacheOptions(options: RunCacheOptions | undefined): NormalizedRunCacheOptions {
  const o = object(options, 'RunCache');
  return {
    maxEntries: count(o.maxEntries ?? 1000, 'maxEntries', { infinite: true }),
    ttlMs: o.ttl === Number.POSITIVE_INFINITY ? o.ttl : positiveDuration(o.ttl ?? '1d', 'ttl'),
    store: checkStore(o.store),
    clock: normalizeClock(o.clock),
  };
}

export function normalizeProjectId(projectId: unknown): string {
  if (typeof projectId !== 'string' || projectId === '') throw new TypeError(`\`projectId\` must be a non-empty string; got ${show(projectId)}`);
  return projectId;
}

export function normalizeRunCall<T>(options: RunIfChangedOptions<T>): RunIfChangedOptions<T> {
  if (typeof options !== 'object' || options === null) throw new TypeError('runIfChanged needs `{ sourceHash, run }`');
  if (typeof options.sourceHash !== 'string' || options.sourceHash === '') {
    throw new TypeError(`\`sourceHash\` must be a non-empty string; got ${show(options.sourceHash)}`);
  }
  if (typeof options.run !== 'function') throw new TypeError('`run` must be a function that triggers the run');
  return { sourceHash: options.sourceHash, run: options.run };
}

export function normalizeUsageMonitorOptions(options: UsageMonitorOptions | undefined): NormalizedUsageMonitorOptions {
  const o = object(options, 'UsageMonitor');
  const thresholds = o.thresholds ?? [0.8];
  if (!Array.isArray(thresholds) || !thresholds.every((t) => typeof t === 'number' && Number.isFinite(t) && t > 0)) {
    throw new TypeError(`\`thresholds\` must be an array of fractions of the budget above 0, e.g. [0.5, 0.8, 1]; got ${show(thresholds)}`);
  }
  return {
    weeklyBudget: count(o.weeklyBudget ?? 500, 'weeklyBudget', { infinite: false }),
    thresholds: [...new Set(thresholds)].sort((a, b) => a - b),
    clock: normalizeClock(o.clock),
  };
}

export function normalizeReportOptions(options: ReportOptions | undefined): Required<ReportOptions> {
  const o = object(options, 'report');
  const over = o.overRunsPerWeek ?? 20;
  if (typeof over !== 'number' || !Number.isInteger(over) || over < 0) {
    throw new TypeError(`\`overRunsPerWeek\` must be an integer >= 0; got ${show(over)}`);
  }
  return { overRunsPerWeek: over };
}

export function normalizeResponseCacheOptions(options: ResponseCacheOptions | undefined): NormalizedResponseCacheOptions {
  const o = object(options, 'responseCache');
  return {
    ttlMs: positiveDuration(o.ttl ?? '1m', 'ttl'),
    maxEntries: count(o.maxEntries ?? 100, 'maxEntries', { infinite: false }),
    clock: normalizeClock(o.clock),
  };
}

export function normalizeHeadroomOptions(options: HeadroomOptions | undefined): NormalizedHeadroomOptions {
  const o = object(options, 'checkHeadroom');
  const signal = o.signal;
  if (signal !== undefined && !(typeof signal === 'object' && signal !== null && typeof signal.addEventListener === 'function')) {
    throw new TypeError('`signal` must be an AbortSignal');
  }
  return { n: count(o.n ?? 1, 'n', { infinite: false }), signal, clock: normalizeClock(o.clock) };
}
