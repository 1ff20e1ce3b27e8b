/**
 * Options of the Hex run client, `waitForRun` and `runBatch`: every default and
 * every check in one place. A bad option is a `TypeError` naming it in backticks.
 */
import type { RetryOptions } from '../fetch-options.js';
import { type Clock, type Duration, normalizeClock, normalizeFlag, parseDuration } from '../options.js';

import type { FetchLike } from '../fetch.js';
import type { SharedStore } from '../shared/types.js';

export type { FetchLike };

export interface HexClientOptions {
  /**
   * Where Hex is: `'https://app.hex.tech'`, or a single-tenant workspace's
   * origin. A trailing `/api/v1` is accepted too.
   */
  baseUrl: string | URL;
  /** The API token, sent as `Authorization: Bearer <token>`. Also the scope of the trigger quota. */
  token: string;
  /** @default globalThis.fetch */
  fetch?: FetchLike;
  /** Time for the limiter, the polls and the timeouts. @default systemClock */
  clock?: Clock;
  /** Run triggers a minute for this token (support can grant more). @default 20 */
  perMinute?: number;
  /** Run triggers an hour for this token. @default 60 */
  perHour?: number;
  /** Retries of refused triggers, as `rateLimitedFetch`'s `retry`. @default {} (its defaults) */
  retry?: RetryOptions | false;
  /** The secret the token is hashed under in events and scopes, as `rateLimitedFetch`'s `keySecret`. @default random */
  keySecret?: string | Uint8Array;
  /** A shared store (`redisStore(client)`): every process with the same token shares its quota, as `rateLimitedFetch`'s `store`. @default none */
  store?: SharedStore;
}

export interface RunProjectOptions {
  signal?: AbortSignal;
  /** Your own key, e.g. to make a trigger idempotent across restarts. @default a new UUID per call, the same on every retry */
  idempotencyKey?: string;
  /** More RunProject body fields, e.g. `{ updatePublishedResults: true }`. @default {} */
  body?: Record<string, unknown>;
}

export interface WaitForRunOptions {
  /** Between polls while the run is young. @default '5s' */
  interval?: Duration;
  /** From this long after waiting began, each interval is 1.5 times the last, up to `maxInterval`. @default '5m' */
  backoffAfter?: Duration;
  /** The longest interval (never below `interval`). @default '1m' */
  maxInterval?: Duration;
  /** Then the run is cancelled and the wait rejects with `RunTimeoutError`; `Infinity` waits for ever. @default '30m' */
  timeout?: Duration | typeof Infinity;
  /** Aborting rejects with `signal.reason`; the run itself is left alone. */
  signal?: AbortSignal;
}

export interface BatchProject {
  id: string;
  /** The run's `inputParams`. @default {} */
  params?: Record<string, unknown>;
}

export interface BatchProgress {
  /** Runs triggered so far (or found already running). */
  started: number;
  /** Projects with a result, whatever it is (`failed` ones included). */
  finished: number;
  /** Of the finished, those whose result is not 'COMPLETED'. */
  failed: number;
  total: number;
  /** When the batch is expected to finish, ms since the epoch (see `runBatch`). */
  etaAt: number;
  /** `etaAt` is after the `deadline` (false without one). */
  late: boolean;
}

export interface RunBatchOptions {
  /** Projects in progress at once, waiting for their trigger or running. @default 3 */
  concurrency?: number;
  /** When the batch should be done: a `Date` or ms since the epoch. @default none */
  deadline?: Date | number;
  /** Reject up front with `BatchDeadlineError`, sending nothing, when the ETA is after `deadline`. @default false */
  refuseIfLate?: boolean;
  /** How long a run takes, for the ETA until runs of this batch have finished (then their median is used). @default 0 */
  expectedRunDuration?: Duration;
  /** How each run is polled: `waitForRun`'s options. @default {} */
  wait?: Omit<WaitForRunOptions, 'signal'>;
  /** Called at the start and whenever a project starts or finishes. An exception it throws is reported, not thrown into the batch. */
  onProgress?: (progress: BatchProgress) => void;
  /** Aborting rejects with `signal.reason`; runs already triggered keep running in Hex. */
  signal?: AbortSignal;
}

export interface NormalizedClientOptions {
  /** e.g. 'https://app.hex.tech/api/v1', no trailing slash. */
  apiBase: string;
  token: string;
  fetch: FetchLike;
  clock: Clock;
  perMinute: number;
  perHour: number;
  retry: RetryOptions | false | undefined;
}

export interface NormalizedWaitOptions {
  intervalMs: number;
  backoffAfterMs: number;
  maxIntervalMs: number;
  timeoutMs: number;
  signal: AbortSignal | undefined;
}

export interface NormalizedBatchOptions {
  projects: Array<{ id: string; params: Record<string, unknown> }>;
  concurrency: number;
  deadline: number | undefined;
  refuseIfLate: boolean;
  expectedRunMs: number;
  wait: Omit<WaitForRunOptions, 'signal'>;
  onProgress: ((progress: BatchProgress) => void) | undefined;
  signal: AbortSignal | undefined;
}

export function normalizeClientOptions(options: HexClientOptions): NormalizedClientOptions {
  if (typeof options !== 'object' || options === null) throw new TypeError('hexClient options must be an object with `baseUrl` and `token`');
  let url: URL | undefined;
  try {
    url = new URL(String(options.baseUrl));
  } catch {
    url = undefined;
  }
  if (url === undefined || !/^https?:$/.test(url.protocol) || options.baseUrl === undefined) {
    throw new TypeError(`\`baseUrl\` must be an http(s) URL such as 'https://app.hex.tech'; got ${show(options.baseUrl)}`);
  }
  const path = url.pathname.replace(/\/+$/, '').replace(/\/api\/v1$/, '');
  if (typeof options.token !== 'string' || options.token.trim() === '' || /[\r\n]/.test(options.token)) {
    throw new TypeError('`token` must be a non-empty string (the Hex API token)');
  }
  const fetch = options.fetch ?? (globalThis as { fetch?: FetchLike }).fetch;
  if (typeof fetch !== 'function') throw new TypeError('`fetch` must be a fetch function, e.g. globalThis.fetch');
  if (options.retry !== undefined && options.retry !== false && (typeof options.retry !== 'object' || options.retry === null)) {
    throw new TypeError('`retry` must be an object or false');
  }
  return {
    apiBase: `${url.origin}${path}/api/v1`,
    token: options.token.trim(),
    // Called as a plain function: a browser's fetch throws when `this` is not the window.
    fetch: (input, init) => fetch(input, init),
    clock: normalizeClock(options.clock),
    perMinute: positiveInteger(options.perMinute ?? 20, 'perMinute'),
    perHour: positiveInteger(options.perHour ?? 60, 'perHour'),
    retry: options.retry,
  };
}

export function normalizeWaitOptions(options: WaitForRunOptions = {}): NormalizedWaitOptions {
  if (typeof options !== 'object' || options === null) throw new TypeError('waitForRun options must be an object');
  const intervalMs = parseDuration(options.interval ?? 5_000, 'interval');
  if (intervalMs < 1) throw new TypeError('`interval` must be at least 1 ms');
  const timeout = options.timeout ?? 1_800_000;
  const timeoutMs = timeout === Infinity ? Infinity : parseDuration(timeout, 'timeout');
  if (timeoutMs < 1) throw new TypeError('`timeout` must be at least 1 ms, or Infinity');
  return {
    intervalMs,
    backoffAfterMs: parseDuration(options.backoffAfter ?? 300_000, 'backoffAfter'),
    maxIntervalMs: Math.max(intervalMs, parseDuration(options.maxInterval ?? 60_000, 'maxInterval')),
    timeoutMs,
    signal: normalizeSignal(options.signal),
  };
}

export function normalizeBatchOptions(projects: readonly BatchProject[], options: RunBatchOptions = {}): NormalizedBatchOptions {
  if (!Array.isArray(projects)) throw new TypeError('`projects` must be an array of { id, params }');
  const list = projects.map((p, i) => {
    if (typeof p !== 'object' || p === null || typeof p.id !== 'string' || p.id === '') {
      throw new TypeError(`\`projects[${i}].id\` must be a non-empty string`);
    }
    if (p.params !== undefined && (typeof p.params !== 'object' || p.params === null)) {
      throw new TypeError(`\`projects[${i}].params\` must be an object`);
    }
    return { id: p.id, params: p.params ?? {} };
  });
  if (typeof options !== 'object' || options === null) throw new TypeError('runBatch options must be an object');
  const concurrency = options.concurrency ?? 3;
  if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 1000) {
    throw new TypeError(`\`concurrency\` must be an integer from 1 to 1000; got ${show(concurrency)}`);
  }
  const deadline = options.deadline instanceof Date ? options.deadline.getTime() : options.deadline;
  if (deadline !== undefined && (typeof deadline !== 'number' || !Number.isFinite(deadline))) {
    throw new TypeError(`\`deadline\` must be a Date or ms since the epoch; got ${show(options.deadline)}`);
  }
  const refuseIfLate = normalizeFlag(options.refuseIfLate, 'refuseIfLate');
  if (refuseIfLate && deadline === undefined) throw new TypeError('`refuseIfLate` needs a `deadline`');
  if (options.onProgress !== undefined && typeof options.onProgress !== 'function') {
    throw new TypeError('`onProgress` must be a function of the progress');
  }
  const wait = options.wait ?? {};
  normalizeWaitOptions(wait); // fail now, not on the first run
  return {
    projects: list,
    concurrency,
    deadline,
    refuseIfLate,
    expectedRunMs: parseDuration(options.expectedRunDuration ?? 0, 'expectedRunDuration'),
    wait,
    onProgress: options.onProgress,
    signal: normalizeSignal(options.signal),
  };
}

export function normalizeId(id: unknown, name: string): string {
  if (typeof id !== 'string' || id === '') throw new TypeError(`\`${name}\` must be a non-empty string; got ${show(id)}`);
  return id;
}

function normalizeSignal(signal: unknown): AbortSignal | undefined {
  if (signal === undefined) return undefined;
  if (typeof signal !== 'object' || signal === null || typeof (signal as AbortSignal).aborted !== 'boolean') {
    throw new TypeError('`signal` must be an AbortSignal');
  }
  return signal as AbortSignal;
}

function positiveInteger(value: unknown, name: string): number {
  if (!Number.isInteger(value) || (value as number) < 1 || (value as number) > 4_294_967_295) {
    throw new TypeError(`\`${name}\` must be an integer from 1 to 4294967295; got ${show(value)}`);
  }
  return value as number;
}

function show(value: unknown): string {
  return typeof value === 'string' ? `'${value}'` : String(value);
}
