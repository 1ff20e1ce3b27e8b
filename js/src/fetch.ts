/**
 * `rateLimitedFetch(fetch, options)`: a function with fetch's signature that
 * acquires before every matched request, counts it when its response arrives,
 * listens to what the server says about its limits, and retries as the core
 * decides. Unmatched requests go straight to `fetch`.
 */
import { core, type CoreRetryPlanner } from './core.js';
import { DeadlineError, RateLimitError, RetryError } from './errors.js';
import { type FetchEventBase, type FetchEventMap, type FetchEvents, subscribedChannel } from './events.js';
import { ServerClock, comeBackAt, readFeedback, reconcileWith } from './feedback.js';
import {
  type CallOptions, type NormalizedFetchOptions, type NormalizedRoute, type RateLimitedFetchOptions, type RouteRequest,
  normalizeFetchOptions,
} from './fetch-options.js';
import { Limiter } from './limiter.js';
import { normalizePriority, parseDuration } from './options.js';
import { keyHasher } from './routes.js';
import { SharedScopeLimiter, isPromise, normalizeStore } from './shared/scope.js';
import type { SharedStore } from './shared/types.js';
import { sleepUntil, withDeadline } from './wait.js';

/** Any fetch: the global one, undici's, a browser's, or a wrapper with the same shape. */
export type FetchLike = (input: any, init?: any) => Promise<Response>;

/** One quota: a route and a (hashed) key. */
export interface Scope {
  /** The route's name. */
  route: string;
  /** The hashed key, or '' for a route without `key`. */
  key: string;
  /** The in-process limiter; with `store`, the shared one (`SharedScopeLimiter`, whose decisions are async). */
  limiter: Limiter | SharedScopeLimiter;
}

export type LimitedInit = RequestInit & { tollgate?: CallOptions };

export interface RateLimitedFetch {
  (input: string | URL | Request, init?: LimitedInit): Promise<Response>;
  /**
   * `queued`, `admitted`, `throttled`, `retry`, `paused`, `reconciled`, `aligned`, `gave-up`:
   * CustomEvents whose `detail` has `route`, `key`, `at` and more (`FetchEventMap`), also
   * published on Node's diagnostics channels `tollgate:fetch:<type>`.
   */
  readonly events: FetchEvents;
  /** The scopes in use. Idle ones (empty windows, no one waiting or in flight) are dropped as new ones come. */
  scopes(): Scope[];
  /**
   * The scope a request would go through (created if new), without sending it;
   * `undefined` for a request no route limits. E.g. to `plan` a batch or to
   * `checkHeadroom` before the first call.
   */
  scopeFor(input: string | URL | Request, init?: LimitedInit): Scope | undefined;
}

/**
 * An EventTarget that knows whether anyone ever listened, so that calls nobody
 * observes build no events. (It never forgets a listener: being observed once
 * is enough to keep dispatching.)
 */
class Events extends EventTarget {
  observed = false;
  override addEventListener(type: string, listener: EventListenerOrEventListenerObject | null, options?: AddEventListenerOptions | boolean): void {
    if (listener !== null) this.observed = true;
    super.addEventListener(type, listener, options);
  }
}

/** Per scope: what its responses' Date headers say about the server's clock. */
const serverClocks = new WeakMap<object, ServerClock>();

/** Codes of the core's give-up reasons (`src/retry.rs`). */
const NOT_RETRYABLE = -1;
const RETRY_AFTER_TOO_LONG = -4;
const NOT_IDEMPOTENT = -5;

const NON_IDEMPOTENT = new Set(['POST', 'PATCH']);

export function rateLimitedFetch(fetch: FetchLike, options: RateLimitedFetchOptions): RateLimitedFetch {
  if (typeof fetch !== 'function') throw new TypeError('`fetch` must be a fetch function, e.g. globalThis.fetch');
  const o = normalizeFetchOptions(options);
  const store = normalizeStore(options.store);
  const r = o.retry;
  const planner = new (core().RetryPlanner)(r.limit, r.backoffMs, r.maxBackoffMs, r.maxTotalMs, r.retryAfterJitterMs,
    r.maxRetryAfterMs, r.budgetMaxTokens, r.budgetTokenRatio);
  const events = new Events();
  const scopes = new Map<string, Scope>();

  const wrapper: Wrapper = { fetch, o, planner, events, scopes, sweepAt: SWEEP_FROM, hashKey: keyHasher(options.keySecret), store };
  const routeOf = (input: string | URL | Request, init: LimitedInit | undefined) => {
    const method = (init?.method ?? (input instanceof Request ? input.method : 'GET')).toUpperCase();
    const url = urlOf(input);
    const route = url && o.routes.find((rt) => (rt.matcher.methods === undefined || rt.matcher.methods.has(method)) && rt.matcher.test(url));
    return route ? { route, method, url: url! } : undefined;
  };
  const limited = ((input: string | URL | Request, init?: LimitedInit): Promise<Response> => {
    const found = routeOf(input, init);
    if (!found) return fetch(input, init);
    return call(wrapper, found.route, found.method, found.url, input, init);
  }) as RateLimitedFetch;
  Object.defineProperty(limited, 'events', { value: events });
  Object.defineProperty(limited, 'scopes', { value: () => [...scopes.values()] });
  Object.defineProperty(limited, 'scopeFor', {
    value: (input: string | URL | Request, init?: LimitedInit) => {
      const found = routeOf(input, init);
      if (!found) return undefined;
      const headers = new Headers(init?.headers ?? (input instanceof Request ? input.headers : undefined));
      const info: RouteRequest = { method: found.method, url: found.url, headers };
      return pickScope(wrapper, found.route, info, found.route.cost(info));
    },
  });
  return limited;
}

interface Wrapper {
  fetch: FetchLike;
  o: NormalizedFetchOptions;
  planner: CoreRetryPlanner;
  events: Events;
  scopes: Map<string, Scope>;
  /** The map size at which idle scopes are next swept out. */
  sweepAt: number;
  /** Scope key to its label (HMAC under the wrapper's secret). */
  hashKey: (key: string) => string;
  /** With `store`: every scope's quota lives there (js/src/shared/scope.ts). */
  store: SharedStore | undefined;
}

function urlOf(input: string | URL | Request): URL | undefined {
  const href = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
  try {
    return new URL(href, (globalThis as { location?: { href: string } }).location?.href);
  } catch {
    return undefined; // fetch itself reports the bad URL
  }
}

/**
 * The scope of this attempt. With a key pool: the key whose quota admits
 * `cost` soonest (then the shortest queue), written into the request headers.
 */
function pickScope(w: Wrapper, route: NormalizedRoute, info: RouteRequest, cost: number): Scope {
  if (route.pool === undefined) return scopeFor(w, route, route.key?.(info));
  let best: Scope | undefined;
  let bestKey = '';
  let bestAt = Infinity;
  for (const key of route.pool.keys) {
    const scope = scopeFor(w, route, key);
    const at = scope.limiter.waiting > 0 ? Math.max(scope.limiter.earliest(cost), w.o.clock.now() + 1) : scope.limiter.earliest(cost);
    if (best === undefined || at < bestAt || (at === bestAt && scope.limiter.waiting < best.limiter.waiting)) {
      best = scope;
      bestKey = key;
      bestAt = at;
    }
  }
  info.headers.set(route.pool.header, route.pool.format(bestKey));
  return best!;
}

function scopeFor(w: Wrapper, route: NormalizedRoute, raw: string | null | undefined): Scope {
  const key = raw == null || raw === '' ? '' : w.hashKey(String(raw));
  const id = `${route.name}\u0000${key}`;
  let scope = w.scopes.get(id);
  if (scope === undefined) {
    if (w.scopes.size >= w.sweepAt) sweep(w);
    // Every permit is completed below, so requests in flight can be counted.
    const limiter = w.store !== undefined
      ? new SharedScopeLimiter({ store: w.store, route: route.name, rawKey: raw == null ? '' : String(raw), windows: route.windows, clock: w.o.clock, maxWaiters: w.o.maxWaiters, maxConcurrent: route.maxConcurrent })
      : new Limiter({ windows: route.windows.map((x) => ({ limit: x.limit, per: x.perMs, kind: x.kind, ...(x.kind === 'fixed' ? { offset: x.offsetMs } : {}) })), clock: w.o.clock, maxWaiters: w.o.maxWaiters, countInFlight: true, maxConcurrent: route.maxConcurrent });
    scope = { route: route.name, key, limiter };
    w.scopes.set(id, scope);
  }
  return scope;
}

/**
 * Drops idle scopes: no one waiting or in flight, no pause, every window empty
 * (and no server clock learned). Such a limiter decides exactly as a new one
 * would, so nothing is forgotten. Runs when the map doubles: O(1) a scope.
 */
function sweep(w: Wrapper): void {
  const now = w.o.clock.now();
  for (const [id, { limiter }] of w.scopes) {
    if (limiter instanceof SharedScopeLimiter) {
      // The quota is in the store: a handle nothing of this process uses can go.
      if (limiter.idle()) {
        w.scopes.delete(id);
        limiter.close().catch(() => {});
      }
      continue;
    }
    if (limiter.waiting > 0 || limiter.inFlight > 0 || limiter.pausedUntil > now) continue;
    if ((serverClocks.get(limiter)?.offset ?? 0) !== 0) continue;
    if (limiter.usage().every((u) => u.used === 0)) w.scopes.delete(id);
  }
  w.sweepAt = Math.max(SWEEP_FROM, 2 * w.scopes.size);
}

/** Scopes kept before the first sweep. */
const SWEEP_FROM = 1_024;

function emit<K extends keyof FetchEventMap>(w: Wrapper, type: K, scope: Scope, detail: Omit<FetchEventMap[K], keyof FetchEventBase>): void {
  const channel = subscribedChannel('fetch', type);
  if (!w.events.observed && channel === undefined) return;
  const full = { route: scope.route, key: scope.key, at: w.o.clock.now(), ...detail };
  if (w.events.observed) w.events.dispatchEvent(new CustomEvent(type, { detail: full }));
  channel?.publish(full);
}

/** A body fetch can send again on a retry; a stream can be read only once. */
function replayable(input: string | URL | Request, init: LimitedInit | undefined): boolean {
  const body = init?.body;
  if (body != null) return !(typeof ReadableStream !== 'undefined' && body instanceof ReadableStream) && !isAsyncIterable(body);
  return true; // a Request's own body is replayed from a clone
}

function isAsyncIterable(x: unknown): boolean {
  return typeof x === 'object' && x !== null && Symbol.asyncIterator in x;
}

async function call(w: Wrapper, route: NormalizedRoute, method: string, url: URL, input: string | URL | Request, init: LimitedInit | undefined): Promise<Response> {
  const { clock } = w.o;
  const headers = new Headers(init?.headers ?? (input instanceof Request ? input.headers : undefined));
  const info: RouteRequest = { method, url, headers };
  const cost = route.cost(info);
  let scope = pickScope(w, route, info, cost);
  const priority = init?.tollgate?.priority === undefined ? route.priority : normalizePriority(init.tollgate.priority);
  const wantsKey = route.idempotencyKey ?? NON_IDEMPOTENT.has(method);
  if (wantsKey && !headers.has('idempotency-key')) headers.set('Idempotency-Key', crypto.randomUUID());
  const hasKey = headers.has('idempotency-key');
  const canReplay = replayable(input, init);
  // An unread copy of a Request's body, cloned again for every attempt.
  const original = input instanceof Request ? input.clone() : undefined;
  const userSignal = init?.signal ?? (input instanceof Request ? input.signal : undefined) ?? undefined;
  const deadlineOption = init?.tollgate?.deadline;
  const deadlineMs = deadlineOption === undefined ? w.o.deadlineMs : parseDuration(deadlineOption, 'tollgate.deadline');
  const started = clock.now();
  const deadlineAt = deadlineMs === undefined ? undefined : started + deadlineMs;
  const context = (attempts: number, response?: Response, cause?: unknown) => ({ request: new Request(url, { method }), response, attempts, cause });
  const waits = withDeadline(clock, userSignal ?? undefined, deadlineAt, () => new DeadlineError(
    `${method} ${url.href}: the deadline of ${deadlineMs} ms passed while waiting`, context(0)));

  try {
    for (let attempt = 1; ; attempt++) {
      if (attempt > 1 && route.pool !== undefined) scope = pickScope(w, route, info, cost);
      const queuedAt = clock.now();
      const tried = scope.limiter.tryAcquire(cost);
      // Only a shared scope's decision is a promise: the in-process one stays synchronous.
      const quick = isPromise(tried) ? await tried : tried;
      if (!quick.ok) emit(w, 'queued', scope, { retryAt: quick.retryAt, waiting: scope.limiter.waiting + 1 });
      const permit = quick.ok ? quick.permit : await scope.limiter.acquire({ cost, priority, signal: waits.signal });
      emit(w, 'admitted', scope, { attempt, waitedMs: clock.now() - queuedAt, queued: !quick.ok });

      let response: Response | undefined;
      let failure: unknown;
      try {
        const attemptInit: RequestInit = { ...init, headers, signal: userSignal };
        delete (attemptInit as LimitedInit).tollgate;
        response = await w.fetch(original ? original.clone() : input, attemptInit);
      } catch (error) {
        failure = error;
      } finally {
        const done = permit.complete(); // when the response (or the error) arrived
        if (isPromise(done)) await done;
      }
      if (userSignal?.aborted) throw userSignal.reason;

      const now = clock.now();
      const feedback = response ? readFeedback(response.headers, now) : null;
      if (feedback) {
        const changed = scope.limiter instanceof SharedScopeLimiter ? await scope.limiter.reconcileWith(feedback) : reconcileWith(scope.limiter, feedback);
        if (changed.length > 0) emit(w, 'reconciled', scope, { windows: changed, feedback });
      }
      // Calendar windows count on the server's clock: follow its Date.
      if (response && route.windows.some((x) => x.kind === 'fixed')) {
        let server = serverClocks.get(scope.limiter);
        if (server === undefined) serverClocks.set(scope.limiter, (server = new ServerClock()));
        const align = server.observe(response.headers, permit.at, now, feedback);
        if (align && scope.limiter.alignToServer(align[0], align[1])) {
          emit(w, 'aligned', scope, { serverOffsetMs: align[0], uncertaintyMs: align[1] });
        }
      }
      const status = response ? response.status : 0;
      const refused = status === 429 || (status === 503 && comeBackAt(feedback) !== undefined);
      if (response && status < 500 && status !== 429 && status !== 408 && status !== 425) {
        w.planner.onSuccess();
        return response;
      }
      const serverAt = comeBackAt(feedback);
      let decision = w.planner.decide(attempt, status, !NON_IDEMPOTENT.has(method), hasKey, serverAt ?? -1, now, started, w.o.random());
      if (decision >= 0 && !canReplay) decision = NOT_IDEMPOTENT;
      if (refused) {
        // Close the gate for the whole scope: queued requests wait too instead of stampeding.
        const until = serverAt ?? (decision >= 0 ? decision : undefined);
        if (until !== undefined && until > now) {
          const paused = scope.limiter.pauseUntil(until);
          if (isPromise(paused)) await paused; // a shared scope: every process waits
          emit(w, 'paused', scope, { until, status, reason: serverAt !== undefined ? 'server' : 'backoff' });
        }
        emit(w, 'throttled', scope, { status, attempt, retryAt: serverAt });
      }
      if (decision < 0) {
        const reason = core().giveUpReason(decision) + (decision === NOT_IDEMPOTENT && !canReplay ? ' (the request body is a stream and cannot be replayed)' : '');
        emit(w, 'gave-up', scope, { attempt, status, reason });
        if (decision === NOT_RETRYABLE || (decision === NOT_IDEMPOTENT && canReplay)) {
          if (response) return response; // fetch's own behaviour: a response is a response
          throw failure;
        }
        const what = `${method} ${url.href} failed after ${attempt} attempt${attempt > 1 ? 's' : ''}: ${reason}`;
        if (refused || decision === RETRY_AFTER_TOO_LONG) {
          throw new RateLimitError(`${what}; the server asked to come back${serverAt === undefined ? ' later' : ` at ${new Date(serverAt).toISOString()}`}`,
            { ...context(attempt, response, failure), retryAt: serverAt });
        }
        throw new RetryError(`${what}; last ${response ? `status ${status}` : 'a network error'}`, context(attempt, response, failure));
      }
      if (deadlineAt !== undefined && decision > deadlineAt) {
        throw new DeadlineError(`${method} ${url.href}: the next attempt (in ${decision - now} ms) would start after the deadline`, context(attempt, response, failure));
      }
      emit(w, 'retry', scope, { attempt, status, retryAt: decision, waitMs: decision - now });
      await response?.body?.cancel().catch(() => {});
      await sleepUntil(clock, decision, waits.signal);
    }
  } finally {
    waits.dispose();
  }
}
