/**
 * `rateLimitedFetch(fetch, options)`: a function with fetch's signature that
 * acquires before every matched request, counts it when its response arrives,
 * listens to what the server says about its limits, and retries as the core
 * decides. Unmatched requests go straight to `fetch`.
 */
import type { CoreRetryPlanner } from './core.js';
import { giveUpReason, RetryPlanner } from './wasm/feedback.js';
import { type CallContext, DeadlineError, RateLimitError, RetryError } from './errors.js';
import { type FetchEventBase, type FetchEventMap, type FetchEvents, channelOf, subscribedChannel } from './events.js';
import { ServerClock, boundFeedback, comeBackAt, readFeedback, reconcileWith } from './feedback.js';
import {
  type CallOptions, type NormalizedFetchOptions, type NormalizedRoute, type RateLimitedFetchOptions, type RouteRequest,
  normalizeFetchOptions,
} from './fetch-options.js';
import { Limiter, Permit } from './limiter.js';
import type { Feedback } from './core.js';
import { normalizePriority, parseDuration } from './options.js';
import { isRequestLike } from './request-like.js';
import { ACCEPTED_KEPT, Blind, SlowStart, acceptedSince, recordAccepted } from './refusal.js';
import { keyHasher } from './routes.js';
import { SharedScopeLimiter, type SharedScopePermit, isPromise, normalizeLeaseMs, normalizeStore } from './shared/scope.js';
import type { SharedStore } from './shared/types.js';
import { UNBOUNDED, sleepUntil, withDeadline } from './wait.js';

/** Any fetch: the global one, undici's, a browser's, or a wrapper with the same shape. */
export type FetchLike = (input: any, init?: any) => Promise<Response>;

/** A window of a scope: configured, or learned from the server's headers. */
export interface ScopeWindow {
  limit: number;
  perMs: number;
  kind: 'sliding' | 'fixed' | 'bucket';
}

/** One quota: a route and a (hashed) key. */
export interface Scope {
  /** The route's name. */
  route: string;
  /** The hashed key, or '' for a route without `key`. */
  key: string;
  /**
   * The limiter in use: the configured windows, tightened and completed by the learned ones. It is replaced when they change.
   * With `store`, the shared one (`SharedScopeLimiter`: async decisions, the configured windows only).
   */
  limiter: Limiter | SharedScopeLimiter;
  /** The windows the route was configured with (none for a learning route). */
  readonly configured: readonly ScopeWindow[];
  /** The windows the server stated (its policy: limit per window), by window length; the latest statement of each. */
  readonly learned: readonly ScopeWindow[];
}

/** A scope's mutable side: what the server said, and waiters to move when the limiter is replaced. */
interface ScopeState extends Scope {
  learned: ScopeWindow[];
  /** The waiters of `limiter`: called (their wait aborted with `REPLACED`) when it is replaced, so that they queue on the new one. */
  movers: Set<() => void>;
  /** A learning scope before its server has said anything: requests go in doubling rounds (see `SlowStart`). */
  start: SlowStart | undefined;
  /** The route's `maxConcurrent`, for a replacement limiter. */
  maxConcurrent: number;
  /** When responses were accepted (the latest `ACCEPTED_KEPT`): what a refusal without a word is measured against. */
  accepted: number[];
  /** Counts the scope's adaptations to such refusals; a request sent before the latest was sent under a rule since dropped. */
  generation: number;
  /** Refused without a word and no window to hold to: one request at a time (see `Blind`). */
  blind: Blind | undefined;
  /** A shared scope refused without a word: the last pause it set in the store, ms (0: none yet; see `sharedSilentRefusal`). */
  silentPauseMs: number;
  /** Per limit stated without a length: the lengths its windows so far allow (see `windowFromReset`). */
  resetSpans?: Map<number, { lo: number; hi: number }>;
  /** In-process requests admitted and not yet answered, to count on a replacement limiter (see `replaceLimiter`). */
  flights: Flights;
  /** The refusal in force, for the limiter it was set on (see `refusalOf`). */
  refusal: { limiter: object; until: number; retryAt: number } | undefined;
}

/** A request in flight: its permit, and its stand-in on the scope's limiter when that was replaced meanwhile. */
interface Flight {
  cost: number;
  shadow: Permit | undefined;
  /** Its neighbours in its scope's `Flights` (`prev` is the flight itself once it left). */
  prev: Flight | undefined;
  next: Flight | undefined;
}

/**
 * A scope's requests in flight, oldest first: a list linked through the
 * flights themselves. (A Set that gains and loses an entry on every request
 * rebuilds its small table every few requests: in a profile, the costliest line of a matched call.)
 * @internal Exported for tests/js/fetch-hot-path.test.mjs.
 */
export class Flights {
  first: Flight | undefined;
  last: Flight | undefined;

  add(cost: number): Flight {
    const flight: Flight = { cost, shadow: undefined, prev: this.last, next: undefined };
    if (this.last === undefined) this.first = flight;
    else this.last.next = flight;
    this.last = flight;
    return flight;
  }

  /** Takes `flight` out of the list; again: nothing. */
  delete(flight: Flight): void {
    if (flight.prev === flight) return;
    if (flight.prev === undefined) this.first = flight.next;
    else flight.prev.next = flight.next;
    if (flight.next === undefined) this.last = flight.prev;
    else flight.next.prev = flight.prev;
    flight.prev = flight;
    flight.next = undefined;
  }
}

/** The abort reason given to the waiters of a replaced limiter. */
const REPLACED = Symbol('tollgate.limiter-replaced');

/** A learning scope's limiter before the server has said anything: admits everything (its `SlowStart` and the 429 gate still work). */
const OPEN: ScopeWindow = { limit: 4_294_967_295, perMs: 1, kind: 'bucket' };

export type LimitedInit = RequestInit & { tollgate?: CallOptions };

export interface RateLimitedFetch {
  (input: string | URL | Request, init?: LimitedInit): Promise<Response>;
  /**
   * `queued`, `admitted`, `throttled`, `retry`, `paused`, `refused`, `reconciled`, `adapted`, `aligned`, `gave-up`:
   * CustomEvents whose `detail` has `route`, `key`, `at` and more (`FetchEventMap`), also
   * published on Node's diagnostics channels `tollgate:fetch:<type>`.
   */
  readonly events: FetchEvents;
  /** The scopes in use. Idle ones (empty windows, no one waiting or in flight) are dropped as new ones come, and by any call once a minute has passed. */
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

/**
 * A scope's refusal: the server asked for a wait longer than `retry.maxRetryAfter`
 * (`retryAt`). Until `until` (that time, but at most `maxRetryAfter` from
 * when it was said, so that an absurd time expires) every call in the scope
 * fails at once with `RateLimitError`, instead of waiting in a paused scope.
 * It holds for the limiter it was set on (a replacement starts without one).
 * (A field of the scope, not a WeakMap by limiter: every call reads it.)
 */
function refusalOf(scope: ScopeState): { until: number; retryAt: number } | undefined {
  const refusal = scope.refusal;
  return refusal !== undefined && refusal.limiter === scope.limiter ? refusal : undefined;
}

/** An ISO date, or the number of ms when it is past what Date can show (never a RangeError). */
function iso(ms: number): string {
  return Math.abs(ms) <= 8.64e15 ? new Date(ms).toISOString() : `${ms} ms after the epoch`;
}

/** Codes of the core's give-up reasons (`src/retry.rs`). */
const NOT_RETRYABLE = -1;
const RETRY_AFTER_TOO_LONG = -4;
const NOT_IDEMPOTENT = -5;

/** POST and PATCH (compared, not looked up in a set: every call asks). */
const nonIdempotent = (method: string): boolean => method === 'POST' || method === 'PATCH';

/** The statuses the core retries (`src/retry.rs`). */
const CORE_RETRYABLE = new Set([408, 425, 429, 500, 502, 503, 504]);

export function rateLimitedFetch(given: FetchLike, options: RateLimitedFetchOptions = {}): RateLimitedFetch {
  if (typeof given !== 'function') throw new TypeError('`fetch` must be a fetch function, e.g. globalThis.fetch');
  const fetch = callable(given);
  const o = normalizeFetchOptions(options);
  const store = normalizeStore(options.store);
  const leaseMs = normalizeLeaseMs(options.leaseMs, store);
  const r = o.retry;
  const planner = new RetryPlanner(r.limit, r.backoffMs, r.maxBackoffMs, r.maxTotalMs, r.retryAfterJitterMs,
    r.maxRetryAfterMs, r.budgetMaxTokens, r.budgetTokenRatio);
  const events = new Events();
  const scopes = new Map<string, ScopeState>();

  const wrapper: Wrapper = {
    fetch, o, planner, events, scopes, sweepAt: SWEEP_FROM, sweepTime: 0, hashKey: keyHasher(options.keySecret), store, leaseMs,
    admitted: channelOf('fetch', 'admitted'),
    retriedBelow500: [...r.statusCodes].some((code) => code < 500 && code !== 408 && code !== 425 && code !== 429),
  };
  // (A loop, not `find`: no closure is made for every request.)
  const routeOf = (method: string, url: URL | undefined): NormalizedRoute | undefined => {
    if (url === undefined) return undefined;
    for (const rt of o.routes) if ((rt.matcher.methods === undefined || rt.matcher.methods.has(method)) && rt.matcher.test(url)) return rt;
    return o.fallback;
  };
  const limited = ((input: string | URL | Request, init?: LimitedInit): Promise<Response> => {
    const method = methodOf(input, init);
    const url = urlOf(input);
    const route = routeOf(method, url);
    if (route === undefined) return fetch(input, init);
    return call(wrapper, route, method, url!, input, init);
  }) as RateLimitedFetch;
  Object.defineProperty(limited, 'events', { value: events });
  Object.defineProperty(limited, 'scopes', { value: () => [...scopes.values()] });
  Object.defineProperty(limited, 'scopeFor', {
    value: (input: string | URL | Request, init?: LimitedInit) => {
      const method = methodOf(input, init);
      const url = urlOf(input);
      const route = routeOf(method, url);
      if (route === undefined) return undefined;
      const headers = new Headers(init?.headers ?? (isRequestLike(input) ? input.headers : undefined));
      const info: RouteRequest = { method, url: url!, headers };
      return pickScope(wrapper, route, info, route.cost(info));
    },
  });
  return limited;
}

/**
 * The given fetch as a plain function. The global fetch of browsers and
 * Cloudflare Workers throws "Illegal invocation" unless its `this` is the
 * global object, so that one is called on it; any other function is called
 * unbound, as a caller of fetch would.
 */
function callable(fetch: FetchLike): FetchLike {
  const global = globalThis.fetch;
  return fetch === global ? (input, init) => global.call(globalThis, input, init) : (input, init) => fetch(input, init);
}

interface Wrapper {
  fetch: FetchLike;
  o: NormalizedFetchOptions;
  planner: CoreRetryPlanner;
  events: Events;
  scopes: Map<string, ScopeState>;
  /** The map size at which idle scopes are next swept out. */
  sweepAt: number;
  /** The time after which the next call sweeps them out anyway. */
  sweepTime: number;
  /** Scope key to its label (HMAC under the wrapper's secret). */
  hashKey: (key: string) => string;
  /** With `store`: every scope's quota lives there (js/src/shared/scope.ts). */
  store: SharedStore | undefined;
  /** With `store`: how long a request in flight holds its units at most. */
  leaseMs: number | undefined;
  /** The `admitted` channel, kept: every admission asks whether it has subscribers. */
  admitted: ReturnType<typeof channelOf>;
  /** Whether `retry.statusCodes` has a status below 500 besides 408, 425 and 429 (if not, a success need not look it up). */
  retriedBelow500: boolean;
}

function methodOf(input: string | URL | Request, init: LimitedInit | undefined): string {
  return (init?.method ?? (isRequestLike(input) ? input.method : 'GET')).toUpperCase();
}

function urlOf(input: string | URL | Request): URL | undefined {
  const href = isRequestLike(input) ? input.url : String(input); // a URL of any realm stringifies to its href
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
function pickScope(w: Wrapper, route: NormalizedRoute, info: RouteRequest, cost: number): ScopeState {
  if (route.pool === undefined) return scopeFor(w, route, route.key?.(info));
  let best: ScopeState | undefined;
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

function scopeFor(w: Wrapper, route: NormalizedRoute, raw: string | null | undefined): ScopeState {
  const key = raw == null || raw === '' ? '' : w.hashKey(String(raw));
  const id = key === '' ? route.scopeId : route.scopeId + key;
  // Idle scopes also go once SWEEP_EVERY_MS has passed, whatever key comes (not only a new one).
  const now = w.scopes.size >= SWEEP_FROM_TIME ? w.o.clock.now() : 0;
  if (now >= w.sweepTime) sweep(w);
  let scope = w.scopes.get(id);
  if (scope === undefined) {
    if (w.scopes.size >= w.sweepAt) sweep(w);
    const configured = route.windows.map((x) => ({ limit: x.limit, perMs: x.perMs, kind: x.kind, offsetMs: x.offsetMs }));
    // With a store, a route with windows shares them; a learning route (no windows) stays in-process.
    const limiter = w.store !== undefined && configured.length > 0
      ? new SharedScopeLimiter({ store: w.store, route: route.name, rawKey: raw == null ? '' : String(raw), windows: route.windows, clock: w.o.clock, maxWaiters: w.o.maxWaiters, maxConcurrent: route.maxConcurrent, leaseMs: w.leaseMs })
      : newLimiter(w, configured.length > 0 ? configured : [OPEN], route.maxConcurrent);
    scope = {
      route: route.name, key, limiter, configured, learned: [], movers: new Set(), maxConcurrent: route.maxConcurrent,
      start: configured.length === 0 ? new SlowStart() : undefined,
      accepted: [], generation: 0, blind: undefined, silentPauseMs: 0, flights: new Flights(), refusal: undefined,
    };
    w.scopes.set(id, scope);
  }
  return scope;
}

function newLimiter(w: Wrapper, windows: ReadonlyArray<ScopeWindow & { offsetMs?: number }>, maxConcurrent: number): Limiter {
  // Every permit is completed below, so requests in flight can be counted.
  return new Limiter({
    windows: windows.map((x) => ({ limit: x.limit, per: x.perMs, kind: x.kind, ...(x.kind === 'fixed' ? { offset: x.offsetMs ?? 0 } : {}) })),
    clock: w.o.clock, maxWaiters: w.o.maxWaiters, countInFlight: true, maxConcurrent,
  });
}

/**
 * The windows a scope enforces: each configured window, with the server's
 * limit where the server states a lower one for the same length, then each
 * learned window whose length the configuration lacks (as a sliding window:
 * never more than the limit in any such interval, which no fixed or sliding
 * server window of that rule refuses).
 */
function effectiveWindows(scope: ScopeState): Array<ScopeWindow & { offsetMs?: number }> {
  const out: Array<ScopeWindow & { offsetMs?: number }> = scope.configured.map((c) => {
    const server = scope.learned.find((l) => l.perMs === c.perMs);
    return server !== undefined && server.limit < c.limit ? { ...c, limit: server.limit } : c;
  });
  for (const l of scope.learned) if (!scope.configured.some((c) => c.perMs === l.perMs)) out.push(l);
  return out.length > 0 ? out : [OPEN];
}

const sameWindows = (a: readonly ScopeWindow[], b: readonly ScopeWindow[]) =>
  a.length === b.length && a.every((x, i) => x.limit === b[i]!.limit && x.perMs === b[i]!.perMs && x.kind === b[i]!.kind);

/**
 * Learns the server's stated windows from `feedback`; when the windows to
 * enforce change, replaces the scope's limiter (its waiters move to the new
 * one, the server's counts are adopted there) and emits `adapted`.
 */
function learn(w: Wrapper, scope: ScopeState, feedback: Feedback, now: number, sentAt: number): void {
  let changed = false;
  for (const sw of feedback.windows) {
    let perMs = sw.windowMs;
    // No stated length (@fastify/rate-limit's headers, express-rate-limit's
    // legacy ones): the first request of a window sees the whole window ahead
    // of it (see `windowFromReset`).
    let replaces: number | undefined;
    if (perMs === undefined && sw.limit !== undefined && sw.remaining === sw.limit - 1 && sw.resetAtMs !== undefined) {
      [perMs, replaces] = windowFromReset(scope, sw.limit, sw.resetAtMs, sentAt, now);
      sw.windowMs = perMs;
    }
    // Whatever the server counted by now is free by a window from now: a
    // reset in whole seconds, rounded up (an epoch X-RateLimit-Reset), is up
    // to a second later than that.
    if (sw.windowMs !== undefined && sw.resetAtMs !== undefined) sw.resetAtMs = Math.min(sw.resetAtMs, now + sw.windowMs);
    if (sw.limit === undefined || sw.limit < 1 || sw.limit > OPEN.limit || perMs === undefined || perMs > 2 ** 40) continue;
    // A length narrowed by a later window: that window, corrected (not a second one beside it).
    const stale = replaces === undefined || replaces === perMs ? -1 : scope.learned.findIndex((l) => l.perMs === replaces && l.limit === sw.limit);
    if (stale >= 0) {
      scope.learned.splice(stale, 1);
      changed = true;
    }
    const known = scope.learned.find((l) => l.perMs === perMs);
    if (known?.limit === sw.limit) continue;
    if (known !== undefined) known.limit = sw.limit;
    else scope.learned.push({ limit: sw.limit, perMs, kind: 'sliding' });
    changed = true;
  }
  if (!changed) return;
  if (replaceLimiter(w, scope, now, feedback)) {
    // The server states its windows now: the limiter paces the scope.
    endStart(scope);
    scope.blind?.open();
    scope.blind = undefined;
  }
}

/**
 * The length of a window its server states only by a limit and a reset in
 * whole seconds, rounded up (a delta, or an epoch second), as seen by the
 * window's first request, sent at `sentAt` and answered at `now`. The server
 * started the window between the two, and its reset is less than a second
 * after that start plus the length: so a length of whole seconds is one in
 * (reset - now - 1 s, reset - sentAt]. Most often that is one length; two when
 * the round trip and the rounding straddle a second (an epoch reset rounded up
 * by 0.9 s, a request 0.2 s on its way: 10 s or 11 s). Of those: a configured
 * length (the rule the route was configured for); else the longest one
 * consistent with every window of that limit seen so far (never shorter than
 * the server's, so never early), narrowed by each new window. (Always the
 * longest of one window's lengths cost up to a second a window, 10 %.)
 * Returns the length, and the one it narrows (the same limit learned before).
 */
function windowFromReset(scope: ScopeState, limit: number, resetAt: number, sentAt: number, now: number): [number, number | undefined] {
  const hi = Math.max(1_000, Math.floor((resetAt - sentAt) / 1_000) * 1_000);
  const lo = Math.min(hi, Math.max(1_000, Math.floor((resetAt - now) / 1_000) * 1_000));
  let configured = 0;
  for (const c of scope.configured) if (c.perMs >= lo && c.perMs <= hi && c.perMs % 1_000 === 0) configured = Math.max(configured, c.perMs);
  if (configured > 0) return [configured, undefined];
  const spans = (scope.resetSpans ??= new Map());
  const seen = spans.get(limit);
  const span = seen !== undefined && seen.lo <= hi && lo <= seen.hi
    ? { lo: Math.max(lo, seen.lo), hi: Math.min(hi, seen.hi) }
    : { lo, hi }; // the first, or the server's rule changed
  spans.set(limit, span);
  return [span.hi, seen?.hi];
}

/** A learning scope's slow start is over (its server stated windows, or refused without a word). */
function endStart(scope: ScopeState): void {
  scope.start?.open();
  scope.start = undefined;
}

/**
 * Replaces the scope's limiter when the windows to enforce (configured and
 * learned) differ from its own; its waiters move to the new one, its counts
 * (and `feedback`'s) are adopted there. Emits `adapted`; returns whether it replaced.
 */
function replaceLimiter(w: Wrapper, scope: ScopeState, now: number, feedback: Feedback | undefined): boolean {
  if (!(scope.limiter instanceof Limiter)) return false;
  const before = scope.limiter.usage().map(({ limit, perMs, kind }) => ({ limit, perMs, kind }));
  const windows = effectiveWindows(scope);
  if (sameWindows(before, windows)) return false;
  const old = scope.limiter;
  const counted = old.usage();
  const flying = old.inFlight;
  scope.limiter = newLimiter(w, windows, scope.maxConcurrent);
  const pause = old.pausedUntil;
  if (pause > now) scope.limiter.pauseUntil(pause);
  // What the old limiter counted as landed holds in the new one's windows of
  // the same length for a period from now. Requests still in flight may reach
  // the server later than now: each is counted in flight on the new limiter
  // too (a stand-in permit, completed when the request's response arrives),
  // as far as the new limits hold them; beyond that, the server refuses them.
  windows.forEach((x, i) => {
    const used = Math.max(0, (counted.find((c) => c.perMs === x.perMs)?.used ?? 0) - flying);
    if (used > 0) scope.limiter.reconcile(i, { remaining: Math.max(0, x.limit - used) });
  });
  for (let flight = scope.flights.first; flight !== undefined; flight = flight.next) {
    const stand = scope.limiter.tryAcquire(flight.cost);
    flight.shadow = stand.ok ? stand.permit : undefined;
  }
  if (feedback !== undefined) reconcileWith(scope.limiter, feedback);
  // In queue order, as they were added.
  for (const move of [...scope.movers]) move();
  emit(w, 'adapted', scope, { from: before.filter((x) => x !== OPEN && x.limit !== OPEN.limit), to: windows.filter((x) => x !== OPEN), learned: [...scope.learned] });
  return true;
}

/**
 * A 429 with no Retry-After, no reset and no window, to a request sent under
 * generation `sentGeneration` of the scope's rule. Returns true when the
 * refusal is the scope's to absorb (the call retries at once through the
 * scope, its attempt uncounted and no budget spent), false when the call's
 * retry rules decide (with `scope.blind.nextAt` as the time to come back).
 *
 * 1. Sent before the scope's latest adaptation: that rule is gone; absorbed.
 * 2. Each window the scope enforces: the server accepted `n` (at least 1)
 *    responses in its last period and then refused, so it allows `n` per that
 *    period. Where that is below the window's limit, the scope learns it (as
 *    the window's kind) and its limiter is replaced: absorbed.
 * 3. No window to lower (none known, or all at what was accepted): the scope
 *    goes one request at a time (`Blind`; a slow start ends), the first a backoff (`retry.backoff`) from now: absorbed.
 * 4. Already so: the spacing doubles; the call's retry rules decide.
 */
function adaptToRefusal(w: Wrapper, scope: ScopeState, sentGeneration: number, now: number): boolean {
  if (sentGeneration < scope.generation) return true;
  if (!(scope.limiter instanceof Limiter)) return false;
  let lowered = false;
  for (const x of scope.limiter.usage()) {
    if (x.limit === OPEN.limit) continue;
    const n = acceptedSince(scope.accepted, now - x.perMs);
    // Nothing accepted in the period says nothing of the server's limit; nor
    // does a count at the cap of what is kept.
    if (n < 1 || n >= x.limit || n >= ACCEPTED_KEPT) continue;
    const known = scope.learned.find((l) => l.perMs === x.perMs);
    if (known !== undefined) known.limit = n;
    else scope.learned.push({ limit: n, perMs: x.perMs, kind: x.kind });
    lowered = true;
  }
  if (lowered && replaceLimiter(w, scope, now, undefined)) {
    scope.generation++;
    return true;
  }
  if (scope.blind === undefined) {
    endStart(scope);
    scope.blind = new Blind(now, w.o.retry.backoffMs, w.o.retry.maxBackoffMs);
    scope.generation++;
    return true;
  }
  scope.blind.refused(now);
  return false;
}

/**
 * A shared scope's answer to a 429 that says nothing, to a request sent under
 * its current rule (one sent before its latest pause is absorbed by
 * `adaptToRefusal`'s first rule). Its windows are the configured ones (what a
 * process learns is not shared), so none can be lowered: the store's gate is
 * the backoff, closed for every process (those not yet refused would
 * otherwise send their backlogs into it). The first pause is `retry.backoff`;
 * each refusal under the rule a pause set doubles it (up to
 * `retry.maxBackoff`); an acceptance cuts it by a tenth (not below
 * `retry.backoff`). Returns true when the refusal is absorbed (the call
 * retries through the gate, its attempt uncounted, no budget spent): every
 * process waits at the gate, so none can storm the server. Once the pause is
 * at `retry.maxBackoff` the server refuses even after the longest wait: the
 * call's retry rules decide, so a server that refuses everything still ends
 * calls.
 */
async function sharedSilentRefusal(w: Wrapper, scope: ScopeState, shared: SharedScopeLimiter, now: number): Promise<boolean> {
  const { backoffMs, maxBackoffMs } = w.o.retry;
  const longest = Math.max(1, maxBackoffMs);
  const absorbed = scope.silentPauseMs < longest;
  scope.silentPauseMs = scope.silentPauseMs === 0 ? Math.min(Math.max(1, backoffMs), longest) : Math.min(scope.silentPauseMs * 2, longest);
  scope.generation++;
  const until = now + scope.silentPauseMs;
  await shared.pauseUntil(until);
  emit(w, 'paused', scope, { until, status: 429, reason: 'backoff' });
  return absorbed;
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
  w.sweepTime = now + SWEEP_EVERY_MS;
}

/** Scopes kept before sweeping by time; and how often, at most, it runs. */
const SWEEP_FROM_TIME = 64;
const SWEEP_EVERY_MS = 60_000;

/** Scopes kept before the first sweep. */
const SWEEP_FROM = 1_024;

/** The status of a response, 0 for none. */
function statusOf(response: Response | undefined): number {
  return response ? response.status : 0;
}

/**
 * A call's request as route functions see it. Its `headers` are made on first
 * read (by a key or cost function, an Idempotency-Key, a key pool): a call with
 * none hands fetch no headers of ours to copy, as a raw call would. (A class:
 * an object literal with a getter is built by a slow path, about 1.5 µs a call.)
 */
class CallRequest implements RouteRequest {
  #given: HeadersInit | undefined;
  #made: Headers | undefined;
  constructor(public method: string, public url: URL, given: HeadersInit | undefined) {
    this.#given = given;
  }

  get headers(): Headers {
    return (this.#made ??= new Headers(this.#given));
  }

  /** The headers if anything has read them. */
  get made(): Headers | undefined {
    return this.#made;
  }
}

/** `context(attempts)`: the call's, for the error (passed as it is: no closure is made per attempt). */
function throwIfRefused(scope: ScopeState, now: number, method: string, url: URL, context: (attempts: number) => CallContext, attempts: number): void {
  const refusal = refusalOf(scope);
  if (refusal === undefined || now >= refusal.until) return;
  throw new RateLimitError(`${method} ${url.href}: the server asked to wait until ${iso(refusal.retryAt)}, longer than \`retry.maxRetryAfter\` allows`,
    { ...context(attempts), retryAt: refusal.retryAt });
}

/** Starts (or lengthens) a scope's refusal: see `refusalOf`. */
function refuse(w: Wrapper, scope: ScopeState, now: number, retryAt: number, statusCode: number): void {
  const until = Math.min(retryAt, now + w.o.retry.maxRetryAfterMs);
  const last = refusalOf(scope);
  if (last !== undefined && last.until >= until) return;
  scope.refusal = { limiter: scope.limiter, until, retryAt };
  emit(w, 'refused', scope, { until, retryAt, status: statusCode });
}

/** Acquires from the scope's limiter, moving to its replacement if it is replaced meanwhile. */
async function acquireFrom(scope: ScopeState, cost: number, priority: number, signal: AbortSignal | undefined): Promise<Permit | SharedScopePermit> {
  for (;;) {
    const controller = new AbortController();
    const move = () => controller.abort(REPLACED);
    const onAbort = () => controller.abort(signal!.reason);
    if (signal?.aborted) throw signal.reason;
    signal?.addEventListener('abort', onAbort, { once: true });
    scope.movers.add(move);
    try {
      return await scope.limiter.acquire({ cost, priority, signal: controller.signal });
    } catch (error) {
      if (error !== REPLACED || signal?.aborted) throw error;
    } finally {
      scope.movers.delete(move);
      signal?.removeEventListener('abort', onAbort);
    }
  }
}

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
  const r = w.o.retry;
  const given = init?.headers ?? (isRequestLike(input) ? input.headers : undefined);
  const info = new CallRequest(method, url, given);
  const cost = route.cost(info);
  let scope = pickScope(w, route, info, cost);
  const priority = init?.tollgate?.priority === undefined ? route.priority : normalizePriority(init.tollgate.priority);
  const wantsKey = route.idempotencyKey ?? nonIdempotent(method);
  if (wantsKey && !info.headers.has('idempotency-key')) info.headers.set('Idempotency-Key', crypto.randomUUID());
  const hasKey = (given !== undefined || info.made !== undefined) && info.headers.has('idempotency-key');
  const canReplay = replayable(input, init);
  // An unread copy of a Request's body, cloned again for every attempt.
  const original = isRequestLike(input) ? input.clone() : undefined;
  const userSignal = init?.signal ?? (isRequestLike(input) ? input.signal : undefined) ?? undefined;
  const deadlineOption = init?.tollgate?.deadline;
  const deadlineMs = deadlineOption === undefined ? w.o.deadlineMs : parseDuration(deadlineOption, 'tollgate.deadline');
  const started = clock.now();
  const deadlineAt = deadlineMs === undefined ? undefined : started + deadlineMs;
  const context = (attempts: number, response?: Response, cause?: unknown) => ({ request: new Request(url, { method }), response, attempts, cause });
  // (Most calls have neither: no closure is made for them.)
  const waits = userSignal === undefined && deadlineAt === undefined ? UNBOUNDED : withDeadline(clock, userSignal, deadlineAt, () => new DeadlineError(
    `${method} ${url.href}: the deadline of ${deadlineMs} ms passed while waiting`, context(0)));

  /** Attempts refused under a rule the scope has since dropped: not the call's to count (see `adaptToRefusal`). */
  let uncounted = 0;
  try {
    for (let attempt = 1; ; attempt++) {
      if (attempt > 1 && route.pool !== undefined) scope = pickScope(w, route, info, cost);
      // A learning scope that knows nothing of its server yet sends one
      // request first, then doubling rounds, so that a backlog does not meet
      // the server unlimited (see `SlowStart`). A slot taken is given back once.
      // (`slot` and `turn` are given back inline: closures doing it would be made for every attempt.)
      let slot = scope.start;
      if (slot !== undefined) {
        const wait = slot.take(waits.signal);
        if (wait !== undefined) await wait;
      }
      // Refused without a word and no window to hold to: one request at a time (see `Blind`).
      let turn = scope.blind;
      if (turn !== undefined) {
        try {
          await turn.take(clock, waits.signal);
        } catch (error) {
          slot?.done(false);
          throw error;
        }
      }
      try {
        // The first attempt queues when the call starts, unless a slot or a turn was awaited (one clock read less).
        const queuedAt = attempt === 1 && slot === undefined && turn === undefined ? started : clock.now();
        throwIfRefused(scope, queuedAt, method, url, context, attempt - 1);
        const tried = scope.limiter.tryAcquire(cost);
        // Only a shared scope's decision is a promise: the in-process one stays synchronous.
        const quick = isPromise(tried) ? await tried : tried;
        // A wait known to end after the deadline fails now, not at the deadline.
        if (!quick.ok && deadlineAt !== undefined && quick.retryAt > deadlineAt) {
          throw new DeadlineError(`${method} ${url.href}: admission is ${quick.retryAt === Infinity ? 'not yet known' : `at ${iso(quick.retryAt)}`}, after the deadline of ${deadlineMs} ms`,
            { ...context(attempt - 1), retryAt: quick.retryAt });
        }
        if (!quick.ok) emit(w, 'queued', scope, { retryAt: quick.retryAt, waiting: scope.limiter.waiting + 1 });
        const permit = quick.ok ? quick.permit : await acquireFrom(scope, cost, priority, waits.signal);
        const flownIn = scope;
        const flight = permit instanceof Permit ? flownIn.flights.add(cost) : undefined;
        // Cancelled after admission, before sending: nothing reached the server, the units go back.
        if (userSignal?.aborted) {
          if (flight !== undefined) flownIn.flights.delete(flight);
          flight?.shadow?.release();
          const released = permit.release();
          if (isPromise(released)) await released; // a shared scope's units are back before the call rejects
          throw userSignal.reason;
        }
        if (!quick.ok) {
          // A refusal that began while this call waited fails it too, unsent.
          try {
            throwIfRefused(scope, clock.now(), method, url, context, attempt - 1);
          } catch (error) {
            if (flight !== undefined) flownIn.flights.delete(flight);
            flight?.shadow?.release();
            permit.complete();
            throw error;
          }
        }
        // Only when someone listens: a call no one watches builds no event.
        if (w.events.observed || w.admitted?.hasSubscribers === true) emit(w, 'admitted', scope, { attempt, waitedMs: clock.now() - queuedAt, queued: !quick.ok });
        // The rule this request is sent under (see `adaptToRefusal`).
        const sentGeneration = scope.generation;

        let response: Response | undefined;
        let failure: unknown;
        try {
          const headers = info.made;
          // A plain `fetch(url)` whose headers no one touched goes on as it came, with no init: an
          // init, even of undefined members, sends undici down its longer path (one for a
          // non-empty init) on every request.
          const attemptInit: RequestInit | undefined = init === undefined
            ? headers === undefined && original === undefined ? undefined : { headers, signal: userSignal }
            : { ...init, headers, signal: userSignal };
          // (`delete` only where there is something to delete: it makes the object a slow dictionary.)
          if (init?.tollgate !== undefined) delete (attemptInit as LimitedInit).tollgate;
          response = await w.fetch(original ? original.clone() : input, attemptInit);
        } catch (error) {
          failure = error;
        } finally {
          if (flight !== undefined) {
            flownIn.flights.delete(flight);
            flight.shadow?.complete();
          }
          const done = permit.complete(); // when the response (or the error) arrived
          if (isPromise(done)) await done;
        }
        if (userSignal?.aborted) throw userSignal.reason;

        const now = clock.now();
        const feedback = response ? readFeedback(response.headers, now, permit.at) : null;
        if (feedback) {
          const refuseUntil = boundFeedback(feedback, now, w.o.retry.maxRetryAfterMs);
          if (refuseUntil !== undefined) refuse(w, scope, now, refuseUntil, statusOf(response));
          // A shared scope keeps its configured windows: what it learns is not applied (README "Sharing a quota").
          const shared = scope.limiter instanceof SharedScopeLimiter ? scope.limiter : undefined;
          if (shared === undefined) learn(w, scope, feedback, now, permit.at);
          const changed = shared !== undefined ? await shared.reconcileWith(feedback) : reconcileWith(scope.limiter as Limiter, feedback);
          if (changed.length > 0) emit(w, 'reconciled', scope, { windows: changed, feedback });
        }
        // Calendar windows count on the server's clock: follow its Date.
        if (response && route.hasFixedWindow) {
          let server = serverClocks.get(scope.limiter);
          if (server === undefined) serverClocks.set(scope.limiter, (server = new ServerClock()));
          const align = server.observe(response.headers, permit.at, now, feedback);
          if (align && scope.limiter.alignToServer(align[0], align[1])) {
            emit(w, 'aligned', scope, { serverOffsetMs: align[0], uncertaintyMs: align[1] });
          }
        }
        const status = response ? response.status : 0;
        const refused = status === 429 || (status === 503 && comeBackAt(feedback) !== undefined);
        if (response && status < 500 && status !== 429 && status !== 408 && status !== 425 && !(w.retriedBelow500 && r.statusCodes.has(status))) {
          w.planner.onSuccess();
          if (scope.limiter instanceof Limiter) recordAccepted(scope.accepted, now);
          if (turn !== undefined && turn === scope.blind) turn.accepted(now);
          if (scope.silentPauseMs > 0) scope.silentPauseMs = Math.max(w.o.retry.backoffMs, Math.ceil(scope.silentPauseMs * 0.9));
          slot?.done(true);
          slot = undefined;
          return response;
        }
        const stated = comeBackAt(feedback);
        // A 429 that says nothing (no Retry-After, even a garbled one; no reset;
        // no refusal of the scope in force): the scope adapts (see
        // `adaptToRefusal`). Only where a retry is allowed at all (not with
        // `retry: false`, nor past `retry.maxTotal`, nor when `shouldRetry` says no).
        const silent = status === 429 && stated === undefined && !response!.headers.has('retry-after') && !((refusalOf(scope)?.until ?? 0) > now);
        const sharedScope = scope.limiter instanceof SharedScopeLimiter ? scope.limiter : undefined;
        if (silent && r.limit > 1 && r.statusCodes.has(429) && canReplay
          && (r.maxTotalMs === Infinity || now - started <= r.maxTotalMs)
          && (sharedScope !== undefined && sentGeneration >= scope.generation
            ? await sharedSilentRefusal(w, scope, sharedScope, now)
            : adaptToRefusal(w, scope, sentGeneration, now))) {
          emit(w, 'throttled', scope, { status, attempt, retryAt: undefined });
          if (r.shouldRetry !== undefined && !(await r.shouldRetry({ request: new Request(url, { method }), response, error: failure, attempt, retryAt: now }))) {
            emit(w, 'gave-up', scope, { attempt, status, reason: giveUpReason(NOT_RETRYABLE) });
            return response!;
          }
          emit(w, 'retry', scope, { attempt, status, retryAt: now, waitMs: 0 });
          await response?.body?.cancel().catch(() => {});
          uncounted++;
          continue;
        }
        // Blind, the scope's gate says when: a wait the client directs, no budget spent.
        const serverAt = stated ?? (silent && scope.blind !== undefined ? scope.blind.nextAt : undefined);
        // A status outside `retry.statusCodes` is not retried; one added to them is retried as a 500 is.
        const asStatus = response === undefined ? 0 : !r.statusCodes.has(status) ? status : CORE_RETRYABLE.has(status) ? status : 500;
        let decision = response !== undefined && !r.statusCodes.has(status) ? NOT_RETRYABLE
          : w.planner.decide(attempt - uncounted, asStatus, r.methods === undefined ? !nonIdempotent(method) : r.methods.has(method), hasKey, serverAt ?? -1, now, started, w.o.random());
        if (decision >= 0 && !canReplay) decision = NOT_IDEMPOTENT;
        if (decision >= 0 && r.shouldRetry !== undefined &&
          !(await r.shouldRetry({ request: new Request(url, { method }), response, error: failure, attempt, retryAt: decision }))) {
          decision = NOT_RETRYABLE;
        }
        if (refused && serverAt !== undefined && serverAt - now > w.o.retry.maxRetryAfterMs) {
          // Too long to wait: the calls that would wait for it fail instead (see `refusalOf`).
          refuse(w, scope, now, serverAt, status);
        } else if (refused) {
          // Close the gate for the whole scope: queued requests wait too instead of stampeding.
          const until = serverAt ?? (decision >= 0 ? decision : undefined);
          if (until !== undefined && until > now) {
            const paused = scope.limiter.pauseUntil(until);
            if (isPromise(paused)) await paused; // a shared scope: every process waits
            emit(w, 'paused', scope, { until, status, reason: stated !== undefined ? 'server' : 'backoff' });
          }
        }
        if (refused) emit(w, 'throttled', scope, { status, attempt, retryAt: serverAt });
        if (decision < 0) {
          const reason = giveUpReason(decision) + (decision === NOT_IDEMPOTENT && !canReplay ? ' (the request body is a stream and cannot be replayed)' : '');
          emit(w, 'gave-up', scope, { attempt, status, reason });
          if (decision === NOT_RETRYABLE || (decision === NOT_IDEMPOTENT && canReplay)) {
            if (response) return response; // fetch's own behaviour: a response is a response
            throw failure;
          }
          const what = `${method} ${url.href} failed after ${attempt} attempt${attempt > 1 ? 's' : ''}: ${reason}`;
          if (refused || decision === RETRY_AFTER_TOO_LONG) {
            throw new RateLimitError(`${what}; the server asked to come back${serverAt === undefined ? ' later' : ` at ${iso(serverAt)}`}`,
              { ...context(attempt, response, failure), retryAt: serverAt });
          }
          throw new RetryError(`${what}; last ${response ? `status ${status}` : 'a network error'}`, context(attempt, response, failure));
        }
        if (deadlineAt !== undefined && decision > deadlineAt) {
          throw new DeadlineError(`${method} ${url.href}: the next attempt (in ${decision - now} ms) would start after the deadline`, { ...context(attempt, response, failure), retryAt: decision });
        }
        emit(w, 'retry', scope, { attempt, status, retryAt: decision, waitMs: decision - now });
        await response?.body?.cancel().catch(() => {});
        // The turn ends once the response has set the next one's time.
        turn?.release();
        turn = undefined;
        await sleepUntil(clock, decision, waits.signal);
      } finally {
        turn?.release();
        slot?.done(false);
      }
    }
  } finally {
    waits.dispose();
  }
}
