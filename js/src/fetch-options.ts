/**
 * Options of `rateLimitedFetch`: every default and every check in one place.
 */
import {
  type Clock, type Duration, type NormalizedWindow, type WindowOptions,
  normalizeClock, normalizeCost, normalizeMaxWaiters, normalizePriority, normalizeWindows, parseDuration,
} from './options.js';
import { type CompiledMatcher, type UrlPattern, compileMatcher } from './routes.js';
import { normalizeMaxConcurrent } from './concurrency.js';
import type { SharedStore } from './shared/types.js';

/** What a route's `key` and `cost` functions see of a request. */
export interface RouteRequest {
  method: string;
  url: URL;
  headers: Headers;
}

export interface RouteOptions {
  /** A label for events and the dashboard. @default `${method} ${url}` */
  name?: string;
  /** The method(s) this route limits. @default any method */
  method?: string | readonly string[];
  /** `'/api/v1/run/:projectId'` (`:name` one path segment, `*` anything; a full URL pattern also matches the origin), a RegExp on the path, or a function. */
  url: UrlPattern;
  /**
   * The quota, all windows acquired together, e.g. `[{ limit: 20, per: '1m' }, { limit: 60, per: '1h' }]`.
   * Without it the route learns its quota from what the server says (see `rateLimitedFetch`).
   * @default [] (learned)
   */
  windows?: readonly WindowOptions[];
  /** The scope of the quota, e.g. the API token: `(r) => r.headers.get('authorization')`. Hashed before it is stored. @default one scope for the route */
  key?: (request: RouteRequest) => string | null | undefined;
  /** Units a request takes. @default 1 */
  cost?: number | ((request: RouteRequest) => number);
  /** Higher is admitted first. @default 0 */
  priority?: number;
  /** Add an `Idempotency-Key` (a UUID v4, the same on every retry) when the caller has not. @default true for POST and PATCH */
  idempotencyKey?: boolean;
  /**
   * A pool of API keys, one quota each (SecureCodingHub: one key per worker):
   * every attempt is sent with the key whose quota is free soonest, written
   * into `header` as `format(key)`. Replaces `key`.
   */
  keyPool?: KeyPoolOptions;
  /** The most requests of one scope (one key) in flight at once, from admission until the response headers arrive. @default Infinity */
  maxConcurrent?: number;
}

export interface KeyPoolOptions {
  keys: readonly string[];
  /** @default 'authorization' */
  header?: string;
  /** @default (key) => `Bearer ${key}` */
  format?: (key: string) => string;
}

export interface RetryOptions {
  /** Attempts in all, the first included. @default 4 */
  limit?: number;
  /** Backoff base: attempt n waits a random time up to `backoff * 2^(n-1)`; also the first spacing of a scope refused without a word. @default '1s' */
  backoff?: Duration;
  /** The longest backoff. @default '30s' */
  maxBackoff?: Duration;
  /** Give up when a retry would start later than this after the first attempt. @default Infinity */
  maxTotal?: Duration | typeof Infinity;
  /** A random extra wait after a server's Retry-After, so many clients do not return together (SecureCodingHub asks for 5 s). @default 0 */
  retryAfterJitter?: Duration;
  /** A longer Retry-After fails fast with `RateLimitError` (carrying the server's time) instead of sleeping. @default '5m' */
  maxRetryAfter?: Duration;
  /** Statuses retried (others are returned as responses). A status added here is retried as a 500 is. @default [408, 425, 429, 500, 502, 503, 504] */
  statusCodes?: readonly number[];
  /** Methods retried after a 5xx or a network error (any method is retried after a 429, or a 503 with a retry time, which the server did not act on). @default every method but POST and PATCH */
  methods?: readonly string[];
  /** Asked before each retry the rules allow; false (or a promise of false) gives up, as for a status not retried. @default none */
  shouldRetry?: (context: RetryContext) => boolean | Promise<boolean>;
  /**
   * The retry budget shared by all calls (gRPC-style): each retry spends a token, each success earns `tokenRatio`; retries stop while half are spent.
   * A wait the server directs (Retry-After, a reset) spends none, nor does a 429 that says nothing, which the scope paces itself (README "429s that say nothing").
   * @default { maxTokens: 10, tokenRatio: 0.1 }
   */
  budget?: { maxTokens?: number; tokenRatio?: number };
}

/** What `retry.shouldRetry` sees. */
export interface RetryContext {
  request: Request;
  /** The failed attempt's response, if one arrived. */
  response: Response | undefined;
  /** The network error, if no response arrived. */
  error: unknown;
  /** The attempt that failed (1 for the first). */
  attempt: number;
  /** When the retry would start, ms since the epoch. */
  retryAt: number;
}

export interface RateLimitedFetchOptions {
  /**
   * The limited routes; other requests pass straight through (unless `learnUnmatched`).
   * Without routes, every request is limited per origin by what its server says.
   * @default [] (learn every origin)
   */
  routes?: readonly RouteOptions[];
  /**
   * With `routes`: also limit requests no route matches, per origin, by what
   * their servers say (429/503 gate, learned windows, retries). @default false
   */
  learnUnmatched?: boolean;
  /** Retry behaviour; `false` for none. @default {} (the defaults of `RetryOptions`) */
  retry?: RetryOptions | false;
  /** Each call's longest total time, waits included; a wait that would end later fails with `DeadlineError`. @default none */
  deadline?: Duration;
  /** The most requests waiting per scope. @default Infinity */
  maxWaiters?: number;
  /** @default systemClock */
  clock?: Clock;
  /** Random numbers in [0, 1) for jitter. @default Math.random */
  random?: () => number;
  /**
   * The secret under which scope keys (tokens, IPs) are hashed (HMAC-SHA-256)
   * into the labels that snapshots, events and stores see. Give the same one
   * to every process that must agree on a scope's label. At least 16 bytes.
   * @default 32 random bytes per wrapper
   */
  keySecret?: string | Uint8Array;
  /**
   * A shared store (`redisStore(client)`, `tabStore()`): every scope's quota
   * lives there, so every process (or tab) with the same routes shares each
   * route/key quota, its 429 pauses and what the server's headers say. See
   * README "Sharing a quota". @default none (each wrapper counts alone)
   */
  store?: SharedStore;
  /**
   * With `store`: how long a request in flight holds its units at most. A
   * process that dies mid-request never completes its permits; after the
   * lease its units count as sent at the lease's end, the latest moment they
   * can have reached the server. Longer than any response can take (on the
   * wrapper's `clock`). @default '1m'
   */
  leaseMs?: Duration;
}

/** Per-call options, as `init.tollgate`. */
export interface CallOptions {
  /** Overrides the wrapper's `deadline` for this call. */
  deadline?: Duration;
  /** Overrides the route's priority. */
  priority?: number;
}

export interface NormalizedRoute {
  name: string;
  matcher: CompiledMatcher;
  windows: NormalizedWindow[];
  key: ((request: RouteRequest) => string | null | undefined) | undefined;
  cost: (request: RouteRequest) => number;
  priority: number;
  idempotencyKey: boolean | undefined;
  pool: { keys: string[]; header: string; format: (key: string) => string } | undefined;
  maxConcurrent: number;
  /** Whether a window is `fixed` (its calendar follows the server's Date): decided once, not per response. */
  hasFixedWindow: boolean;
  /** The id of the route's key-less scope (`name` + NUL); a keyed scope's id is this plus the hashed key. Made once, so a call hashes no new string. */
  scopeId: string;
}

export interface NormalizedRetry {
  limit: number;
  backoffMs: number;
  maxBackoffMs: number;
  maxTotalMs: number;
  retryAfterJitterMs: number;
  maxRetryAfterMs: number;
  budgetMaxTokens: number;
  budgetTokenRatio: number;
  statusCodes: ReadonlySet<number>;
  /** Undefined: every method but POST and PATCH. */
  methods: ReadonlySet<string> | undefined;
  shouldRetry: ((context: RetryContext) => boolean | Promise<boolean>) | undefined;
}

export interface NormalizedFetchOptions {
  routes: NormalizedRoute[];
  /** The per-origin learning route for requests no route matches, if any. */
  fallback: NormalizedRoute | undefined;
  retry: NormalizedRetry;
  deadlineMs: number | undefined;
  maxWaiters: number;
  clock: Clock;
  random: () => number;
}

function normalizeRoute(r: RouteOptions, i: number): NormalizedRoute {
  const at = `routes[${i}]`;
  if (typeof r !== 'object' || r === null) throw new TypeError(`\`${at}\` must be an object like { method: 'POST', url: '/api/v1/run/:id', windows: [...] }`);
  let windows: NormalizedWindow[] = [];
  try {
    if (r.windows !== undefined && !(Array.isArray(r.windows) && r.windows.length === 0)) windows = normalizeWindows(r.windows);
  } catch (error) {
    throw new TypeError(`\`${at}\`: ${(error as Error).message.replace(/^`windows/, '`windows')}`);
  }
  if (r.key !== undefined && typeof r.key !== 'function') throw new TypeError(`\`${at}.key\` must be a function of the request`);
  if (r.key !== undefined && r.keyPool !== undefined) throw new TypeError(`\`${at}\`: give \`key\` or \`keyPool\`, not both`);
  if (r.idempotencyKey !== undefined && typeof r.idempotencyKey !== 'boolean') throw new TypeError(`\`${at}.idempotencyKey\` must be true or false`);
  const cost = r.cost;
  if (cost !== undefined && typeof cost !== 'function') normalizeCost(cost);
  const methods = r.method === undefined ? '*' : [r.method].flat().join(',');
  const name = r.name ?? `${methods} ${typeof r.url === 'string' ? r.url : r.url instanceof RegExp ? String(r.url) : 'custom'}`;
  return {
    name,
    matcher: compileMatcher(r.method, r.url, at),
    windows,
    key: r.key,
    cost: typeof cost === 'function' ? (req) => normalizeCost(cost(req)) : () => (cost as number | undefined) ?? 1,
    priority: normalizePriority(r.priority ?? 0),
    idempotencyKey: r.idempotencyKey,
    pool: r.keyPool === undefined ? undefined : normalizePool(r.keyPool, `${at}.keyPool`),
    maxConcurrent: normalizeMaxConcurrent(r.maxConcurrent, `${at}.maxConcurrent`),
    hasFixedWindow: windows.some((x) => x.kind === 'fixed'),
    scopeId: `${name}\u0000`,
  };
}

function normalizePool(pool: KeyPoolOptions, at: string): NonNullable<NormalizedRoute['pool']> {
  if (typeof pool !== 'object' || pool === null || !Array.isArray(pool.keys) || pool.keys.length === 0 ||
    !pool.keys.every((k) => typeof k === 'string' && k !== '')) {
    throw new TypeError(`\`${at}.keys\` must be a non-empty array of non-empty strings`);
  }
  const header = pool.header ?? 'authorization';
  if (typeof header !== 'string' || !/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(header)) throw new TypeError(`\`${at}.header\` must be a header name`);
  const format = pool.format ?? ((key: string) => `Bearer ${key}`);
  if (typeof format !== 'function') throw new TypeError(`\`${at}.format\` must be a function of the key`);
  return { keys: [...new Set(pool.keys)], header, format };
}

function normalizeRetry(retry: RetryOptions | false | undefined): NormalizedRetry {
  if (retry === false) retry = { limit: 1 };
  retry ??= {};
  if (typeof retry !== 'object' || retry === null) throw new TypeError('`retry` must be an object or false');
  const limit = retry.limit ?? 4;
  if (!Number.isInteger(limit) || limit < 1 || limit > 100) throw new TypeError(`\`retry.limit\` must be an integer from 1 to 100; got ${String(limit)}`);
  const budget = retry.budget ?? {};
  const maxTokens = budget.maxTokens ?? 10;
  const tokenRatio = budget.tokenRatio ?? 0.1;
  if (!Number.isInteger(maxTokens) || maxTokens < 1) throw new TypeError(`\`retry.budget.maxTokens\` must be an integer >= 1; got ${String(maxTokens)}`);
  if (!(tokenRatio > 0 && tokenRatio <= maxTokens)) throw new TypeError(`\`retry.budget.tokenRatio\` must be above 0 and at most maxTokens; got ${String(tokenRatio)}`);
  return {
    limit,
    backoffMs: parseDuration(retry.backoff ?? 1_000, 'retry.backoff'),
    maxBackoffMs: parseDuration(retry.maxBackoff ?? 30_000, 'retry.maxBackoff'),
    maxTotalMs: retry.maxTotal === undefined || retry.maxTotal === Infinity ? Infinity : parseDuration(retry.maxTotal, 'retry.maxTotal'),
    retryAfterJitterMs: parseDuration(retry.retryAfterJitter ?? 0, 'retry.retryAfterJitter'),
    maxRetryAfterMs: parseDuration(retry.maxRetryAfter ?? 300_000, 'retry.maxRetryAfter'),
    budgetMaxTokens: maxTokens,
    budgetTokenRatio: tokenRatio,
    statusCodes: normalizeStatusCodes(retry.statusCodes),
    methods: normalizeMethods(retry.methods),
    shouldRetry: normalizeShouldRetry(retry.shouldRetry),
  };
}

/** Every request, one scope per origin, windows learned from the server. */
const LEARN_EVERY_ORIGIN: NormalizedRoute = {
  name: 'learned',
  matcher: { methods: undefined, test: () => true },
  windows: [],
  key: (r) => r.url.origin,
  cost: () => 1,
  priority: 0,
  idempotencyKey: undefined,
  pool: undefined,
  maxConcurrent: Infinity,
  hasFixedWindow: false,
  scopeId: 'learned\u0000',
};

const RETRIED_STATUSES = [408, 425, 429, 500, 502, 503, 504];

function normalizeStatusCodes(codes: unknown): ReadonlySet<number> {
  if (codes === undefined) return new Set(RETRIED_STATUSES);
  if (!Array.isArray(codes) || !codes.every((c) => Number.isInteger(c) && c >= 100 && c <= 599)) {
    throw new TypeError(`\`retry.statusCodes\` must be an array of HTTP statuses (integers from 100 to 599), e.g. [429, 503]; got ${String(codes)}`);
  }
  return new Set(codes as number[]);
}

function normalizeMethods(methods: unknown): ReadonlySet<string> | undefined {
  if (methods === undefined) return undefined;
  if (!Array.isArray(methods) || !methods.every((m) => typeof m === 'string' && /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(m))) {
    throw new TypeError(`\`retry.methods\` must be an array of HTTP method names, e.g. ['GET', 'PUT']; got ${String(methods)}`);
  }
  return new Set((methods as string[]).map((m) => m.toUpperCase()));
}

function normalizeShouldRetry(f: unknown): NormalizedRetry['shouldRetry'] {
  if (f !== undefined && typeof f !== 'function') throw new TypeError('`retry.shouldRetry` must be a function of the retry context returning a boolean');
  return f as NormalizedRetry['shouldRetry'];
}

export function normalizeFetchOptions(options: RateLimitedFetchOptions = {}): NormalizedFetchOptions {
  if (typeof options !== 'object' || options === null || (options.routes !== undefined && !Array.isArray(options.routes))) {
    throw new TypeError('`routes` must be an array of { method, url, windows }, or left out to learn every origin');
  }
  const random = options.random ?? Math.random;
  if (typeof random !== 'function') throw new TypeError('`random` must be a function returning a number in [0, 1)');
  if (options.learnUnmatched !== undefined && typeof options.learnUnmatched !== 'boolean') {
    throw new TypeError('`learnUnmatched` must be true or false');
  }
  const routes = (options.routes ?? []).map(normalizeRoute);
  return {
    routes,
    fallback: options.routes === undefined || options.learnUnmatched === true ? LEARN_EVERY_ORIGIN : undefined,
    retry: normalizeRetry(options.retry),
    deadlineMs: options.deadline === undefined ? undefined : parseDuration(options.deadline, 'deadline'),
    maxWaiters: normalizeMaxWaiters(options.maxWaiters),
    clock: normalizeClock(options.clock),
    random,
  };
}
