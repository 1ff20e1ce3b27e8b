// The public surface of tollgate, type-checked as a strict TypeScript user sees it
// (tests/types/tsconfig.json; run by types.test.mjs). Never executed.
//
// The first half uses the API as README.md documents it and must compile. The
// second half holds mistakes, each marked `@ts-expect-error`: tsc fails if a
// marked line compiles (an unused directive is an error), so every one of them
// proves a type is strict enough to catch that mistake. Each mistake sits on the
// line after its directive, next to a corrected twin that compiles.

import {
  DeadlineError,
  InsufficientCapacityError,
  Limiter,
  Permit,
  QueueFullError,
  RateLimitError,
  RetryError,
  SnapshotError,
  TollgateError,
  isDeadlineError,
  isInsufficientCapacityError,
  isQueueFullError,
  isRateLimitError,
  isRetryError,
  isSnapshotError,
  isTollgateError,
  parseDuration,
  rateLimitedFetch,
  systemClock,
  type AcquireOptions,
  type CallContext,
  type CallOptions,
  type Clock,
  type Duration,
  type Feedback,
  type LimitedInit,
  type LimiterOptions,
  type RateLimitedFetch,
  type RateLimitedFetchOptions,
  type ReconcileOptions,
  type RouteRequest,
  type RestoreOptions,
  type RetryOptions,
  type RouteOptions,
  type Scope,
  type ServerWindow,
  type TryAcquireResult,
  type WindowKind,
  type WindowOptions,
  type WindowUsage,
  type FetchEventMap,
  type FetchEvents,
  type LimiterEventMap,
  type LimiterEvents,
  type ScheduleOptions,
  type WrapOptions,
} from 'tollgate';
import { presets, hexClient, redisStore, type RedisStoreOptions, type SharedLimiter, type SharedPermit, type SharedScopeLimiter } from 'tollgate';

/** `true` only when X and Y are the same type (not merely assignable). */
type Equal<X, Y> = (<T>() => T extends X ? 1 : 2) extends (<T>() => T extends Y ? 1 : 2) ? true : false;
declare function expectTrue<T extends true>(): void;
/** Compiles when `value` is assignable to T. */
declare function expectType<T>(value: T): void;

declare const signal: AbortSignal;
declare const HEX: string;
declare const caught: unknown;

// ---------------------------------------------------------------------------
// Limiter, as documented
// ---------------------------------------------------------------------------

export async function limiterAsDocumented(): Promise<void> {
  const hexRuns = new Limiter({ windows: [{ limit: 20, per: '1m' }, { limit: 60, per: '1h' }] });

  const permit = await hexRuns.acquire({ signal });
  expectTrue<Equal<ReturnType<Limiter['acquire']>, Promise<Permit>>>();
  expectTrue<Equal<typeof permit.at, number>>();
  expectTrue<Equal<typeof permit.cost, number>>();
  expectTrue<Equal<ReturnType<Permit['complete']>, void>>();
  permit.complete();
  permit.complete(Date.now());

  const r = hexRuns.tryAcquire();
  expectTrue<Equal<typeof r, TryAcquireResult>>();
  if (r.ok) {
    expectTrue<Equal<typeof r.permit, Permit>>();
    r.permit.complete();
  } else {
    expectTrue<Equal<typeof r.retryAt, number>>();
    expectTrue<Equal<typeof r.waitMs, number>>();
    console.log(`come back in ${r.waitMs} ms (at ${new Date(r.retryAt).toISOString()})`);
  }
  hexRuns.tryAcquire(3);

  // Every option of `Limiter` and of `acquire`.
  const all: LimiterOptions = {
    windows: [
      { limit: 60, per: '1m', kind: 'fixed', offset: '30s' },
      { limit: 1000, per: 3_600_000, kind: 'sliding' },
      { limit: 10, per: '500ms', kind: 'bucket' },
      { limit: 1, per: '1d' },
      { limit: 5, per: '1.5m' },
    ],
    maxWaiters: Infinity,
    clock: systemClock,
    countInFlight: true,
  };
  const limiter = new Limiter(all);
  const acquireOptions: AcquireOptions = { cost: 2, priority: -1, signal: AbortSignal.timeout(1000) };
  await limiter.acquire(acquireOptions);
  await limiter.acquire();

  // A clock of one's own (fake timers, a virtual clock).
  const clock: Clock = {
    now: () => 1_795_441_320_000,
    setTimeout: (callback, ms) => setTimeout(callback, ms),
    clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
  };
  new Limiter({ windows: [{ limit: 1, per: 1 }], clock, maxWaiters: 0 });

  // Windows built apart from the call: `as const` or `satisfies` keeps the literal types.
  const hexWindows = [{ limit: 20, per: '1m' }, { limit: 60, per: '1h' }] as const;
  new Limiter({ windows: hexWindows });
  const schWindows = [{ limit: 60, per: '1m', kind: 'fixed' }, { limit: 1000, per: '1h' }] satisfies WindowOptions[];
  new Limiter({ windows: schWindows });
  const durations: Duration[] = [0, 500, '500ms', '30s', '1m', '1h', '1d', '2.5h'];
  const kinds: WindowKind[] = ['sliding', 'fixed', 'bucket'];
  void durations;
  void kinds;

  // The other members.
  limiter.pauseUntil(Date.now() + 5_000);
  expectTrue<Equal<typeof limiter.pausedUntil, number>>();
  const reconcile: ReconcileOptions = { remaining: 3, resetAt: Date.now() + 60_000 };
  expectTrue<Equal<ReturnType<Limiter['reconcile']>, boolean>>();
  limiter.reconcile(0, reconcile);
  limiter.reconcile(1, { remaining: 0 });
  const usage: WindowUsage[] = limiter.usage();
  for (const u of usage) {
    expectTrue<Equal<typeof u.kind, WindowKind>>();
    expectType<number>(u.limit + u.perMs + u.used + u.remaining);
  }
  expectTrue<Equal<ReturnType<Limiter['earliest']>, number>>();
  limiter.earliest();
  limiter.earliest(5);
  expectType<number>(limiter.waiting + limiter.inFlight);

  // Snapshots: plain data out, a Limiter back.
  const saved = JSON.stringify(limiter.snapshot());
  const restoreOptions: RestoreOptions = { clock, maxWaiters: 10, countInFlight: true };
  expectTrue<Equal<ReturnType<typeof Limiter.restore>, Limiter>>();
  Limiter.restore(JSON.parse(saved), restoreOptions);
  Limiter.restore(JSON.parse(saved), { windows: all.windows });
  Limiter.restore(JSON.parse(saved));

  expectTrue<Equal<ReturnType<typeof parseDuration>, number>>();
  parseDuration('1m', 'per');
}

// ---------------------------------------------------------------------------
// rateLimitedFetch, as documented
// ---------------------------------------------------------------------------

// The README's routes for the three seed APIs.
const hexRoute: RouteOptions = {
  name: 'hex run', method: 'POST', url: '/api/v1/run/:projectId',
  windows: [{ limit: 20, per: '1m' }, { limit: 60, per: '1h' }],
  key: (r) => r.headers.get('authorization'),
};
const hexagraphRoute: RouteOptions = {
  name: 'hexagraph', url: 'https://hexagraph-core.onrender.com/*',
  windows: [{ limit: 30, per: '1m' }, { limit: 1000, per: '1d' }],
};
const schRoute: RouteOptions = {
  name: 'sch', url: '/api/*',
  windows: [{ limit: 60, per: '1m', kind: 'fixed' }, { limit: 1000, per: '1h' }],
  key: (r) => r.headers.get('authorization'),
};

export async function fetchAsDocumented(): Promise<void> {
  const routes = [hexRoute, hexagraphRoute, schRoute];
  const limited = rateLimitedFetch(globalThis.fetch, { routes, retry: { retryAfterJitter: '5s' } });
  expectTrue<Equal<typeof limited, RateLimitedFetch>>();

  // Same call shapes as fetch, same result.
  const res = await limited(`${HEX}/api/v1/run/42`, { method: 'POST', headers: { authorization: 'Bearer t' }, body: '{}', signal });
  expectTrue<Equal<typeof res, Response>>();
  await limited(new URL('https://hexagraph-core.onrender.com/graphql'));
  await limited(new Request('https://example.test/api/x', { method: 'PATCH' }));
  const init: LimitedInit = { method: 'GET', tollgate: { deadline: '10s', priority: 5 } };
  const callOptions: CallOptions = { deadline: 2_000 };
  await limited('/api/y', init);
  await limited('/api/y', { tollgate: callOptions });

  // "a function with fetch's signature": it can stand in for fetch.
  const asFetch: typeof fetch = limited;
  void asFetch;

  // Events and scopes.
  limited.events.addEventListener('throttled', (event) => {
    const { detail } = event as CustomEvent<{ route: string; key: string; at: number }>;
    console.log(detail.route, detail.key, detail.at);
  });
  const scopes: Scope[] = limited.scopes();
  for (const scope of scopes) {
    // With `store`, a scope's limiter is the shared one (async decisions).
    expectTrue<Equal<typeof scope.limiter, Limiter | SharedScopeLimiter>>();
    expectType<string>(scope.route + scope.key);
    if (scope.limiter instanceof Limiter) scope.limiter.usage();
    else void scope.limiter.shared.usage();
  }

  // Every option of the wrapper and of a route.
  const retry: RetryOptions = {
    limit: 4, backoff: '1s', maxBackoff: '30s', maxTotal: Infinity, retryAfterJitter: 0, maxRetryAfter: '5m',
    budget: { maxTokens: 10, tokenRatio: 0.1 },
  };
  const options: RateLimitedFetchOptions = {
    routes: [
      {
        name: 'reads', method: ['GET', 'HEAD'], url: /^\/v2\/items\/\d+$/,
        windows: [{ limit: 100, per: '1m' }], cost: 1, priority: 1, idempotencyKey: false,
      },
      {
        url: (u) => u.hostname === 'api.example.test' && u.pathname.startsWith('/bulk'),
        windows: [{ limit: 10, per: 1_000, kind: 'bucket' }],
        cost: (r: RouteRequest) => (r.method === 'POST' ? 5 : 1),
        key: (r) => r.url.searchParams.get('tenant') ?? undefined,
        idempotencyKey: true,
      },
    ],
    retry,
    deadline: '2m',
    maxWaiters: 1_000,
    clock: systemClock,
    random: Math.random,
  };
  rateLimitedFetch(fetch, options);
  rateLimitedFetch(fetch, { routes: [], retry: false });
  rateLimitedFetch(async (input: RequestInfo | URL, requestInit?: RequestInit) => fetch(input, requestInit), { routes });
}

// ---------------------------------------------------------------------------
// Errors: classes, names and the guards that narrow `unknown`
// ---------------------------------------------------------------------------

export async function errorsAsDocumented(limited: RateLimitedFetch): Promise<void> {
  try {
    await limited('/api/v1/run/1', { method: 'POST' });
  } catch (err) {
    expectTrue<Equal<typeof err, unknown>>();
    if (isRateLimitError(err)) {
      expectTrue<Equal<typeof err, RateLimitError>>();
      expectTrue<Equal<typeof err.retryAt, number | undefined>>();
      expectTrue<Equal<typeof err.name, 'RateLimitError'>>();
      expectTrue<Equal<typeof err.request, Request | undefined>>();
      expectTrue<Equal<typeof err.response, Response | undefined>>();
      expectTrue<Equal<typeof err.attempts, number | undefined>>();
      if (err.retryAt !== undefined) console.log(new Date(err.retryAt));
    } else if (isRetryError(err)) {
      expectTrue<Equal<typeof err.name, 'RetryError'>>();
      expectType<unknown>(err.cause);
    } else if (isDeadlineError(err)) {
      expectTrue<Equal<typeof err.name, 'DeadlineError'>>();
    } else if (isQueueFullError(err)) {
      expectTrue<Equal<typeof err.name, 'QueueFullError'>>();
    } else if (isInsufficientCapacityError(err)) {
      expectTrue<Equal<typeof err.name, 'InsufficientCapacityError'>>();
    } else if (isSnapshotError(err)) {
      expectTrue<Equal<typeof err.name, 'SnapshotError'>>();
    } else if (isTollgateError(err)) {
      expectTrue<Equal<typeof err, TollgateError>>();
      expectType<Error>(err);
    }
  }

  // `instanceof` narrows as well, and a union of them is discriminated by `name`.
  if (caught instanceof RateLimitError) expectTrue<Equal<typeof caught.retryAt, number | undefined>>();
  const e = caught as RateLimitError | RetryError | DeadlineError | QueueFullError | InsufficientCapacityError | SnapshotError;
  switch (e.name) {
    case 'RateLimitError': expectTrue<Equal<typeof e, RateLimitError>>(); break;
    case 'DeadlineError': expectTrue<Equal<typeof e, DeadlineError>>(); break;
    default: break;
  }
  // Every subclass is a TollgateError and an Error.
  const errors: TollgateError[] = [
    new RateLimitError('refused', { retryAt: Date.now() + 1000, attempts: 4 }),
    new RetryError('failed'), new DeadlineError('late'), new QueueFullError('full'),
    new InsufficientCapacityError('too big'), new SnapshotError('corrupt'),
  ];
  const context: CallContext = { attempts: 1, cause: new Error('reset') };
  new TollgateError('x', context);
  void errors;

  // What the header parser reports (exported types).
  const windows: ServerWindow[] = [{ name: 'minute', limit: 20, remaining: 3, resetAtMs: 0, windowMs: 60_000 }];
  const feedback: Feedback = { retryAtMs: 0, windows };
  void feedback;
}

// Any async function under a limiter, and typed events.
export async function scheduling(limiter: Limiter, limited: RateLimitedFetch): Promise<void> {
  const n: number = await limiter.schedule(async () => 42, { cost: 2, priority: 1, signal });
  const s: string = await limiter.schedule(() => 'sync is fine too');
  const options: ScheduleOptions = { cost: 1 };
  await limiter.schedule(() => undefined, options);
  const client = {
    base: 'https://api.example.com',
    get(this: { base: string }, path: string, retries: number): Promise<Response> {
      return fetch(this.base + path + String(retries));
    },
  };
  const wrapOptions: WrapOptions = { priority: 2 };
  const get = limiter.wrap(client.get, wrapOptions);
  expectTrue<Equal<typeof get, (this: { base: string }, path: string, retries: number) => Promise<Response>>>();
  const bound = { base: client.base, get };
  const res: Response = await bound.get('/v1/status', 3);
  const capped = new Limiter({ windows: [{ limit: 20, per: '1m' }], maxConcurrent: 3 });
  const route: RouteOptions = { url: '/api/v1/run/:id', windows: [{ limit: 20, per: '1m' }], maxConcurrent: 3 };
  void [n, s, res, capped, route];

  const events: LimiterEvents = limiter.events;
  events.addEventListener('queued', (e) => expectType<number>(e.detail.waiting + e.detail.priority + e.detail.at));
  limiter.events.addEventListener('paused', (e) => expectType<number>(e.detail.until));
  const fetchEvents: FetchEvents = limited.events;
  fetchEvents.addEventListener('throttled', (e) => expectType<number | undefined>(e.detail.retryAt));
  limited.events.addEventListener('throttled', (e) => {
    expectTrue<Equal<typeof e.detail.retryAt, number | undefined>>();
    expectType<string>(e.detail.route + e.detail.key);
    expectType<number>(e.detail.status);
  });
  limited.events.addEventListener('gave-up', (e) => expectType<string>(e.detail.reason));
  limited.events.addEventListener('retry', { handleEvent: (e) => expectType<number>(e.detail.waitMs) });
  const onRetry = (e: CustomEvent<FetchEventMap['retry']>) => void e.detail.retryAt;
  limited.events.addEventListener('retry', onRetry, { once: true });
  limited.events.removeEventListener('retry', onRetry);
  const detail: LimiterEventMap['admitted'] = { at: 0, cost: 1, waiting: 0 };
  void detail;
  // A name known only as a string (a loop over names) gets a plain Event, as with the DOM's targets.
  for (const type of ['queued', 'admitted'] as string[]) limited.events.addEventListener(type, (e) => expectType<Event>(e));
  // Still an EventTarget where one is expected.
  const target: EventTarget = limited.events;
  void target;
}

// A shared limiter (Redis, tabs) has the Limiter's typed events; a store's own ones are plain Events.
export function sharedEvents(shared: SharedLimiter): void {
  const events: LimiterEvents = shared.events;
  events.addEventListener('admitted', (e) => expectType<number>(e.detail.cost + e.detail.waiting));
  shared.events.addEventListener('queued', (e) => {
    expectTrue<Equal<typeof e.detail, LimiterEventMap['queued']>>();
    expectType<number>(e.detail.priority);
  });
  shared.events.addEventListener('reconciled', (e) => expectType<number | undefined>(e.detail.resetAt));
  shared.events.addEventListener('fallback', (e) => expectType<Event>(e));
  const target: EventTarget = shared.events;
  void target;
}

// ---------------------------------------------------------------------------
// Mistakes that must not compile
// ---------------------------------------------------------------------------

export async function mistakes(limiter: Limiter, limited: RateLimitedFetch, permit: Permit, shared: SharedLimiter): Promise<void> {
  const route = { url: '/x', windows: [{ limit: 1, per: '1s' }] } satisfies RouteOptions;

  // -- Limiter options --
  new Limiter({ windows: [{ limit: 20, per: '1m' }] });
  // @ts-expect-error `per` is required
  new Limiter({ windows: [{ limit: 20 }] });
  // @ts-expect-error `limit` is required
  new Limiter({ windows: [{ per: '1m' }] });
  // @ts-expect-error `windows` is required
  new Limiter({});
  // @ts-expect-error options are required
  new Limiter();
  // @ts-expect-error `windows` is an array
  new Limiter({ windows: { limit: 20, per: '1m' } });
  // @ts-expect-error `limit` is a number
  new Limiter({ windows: [{ limit: '20', per: '1m' }] });
  new Limiter({ windows: [{ limit: 20, per: '1m', kind: 'bucket' }] });
  // @ts-expect-error `kind` is 'sliding', 'fixed' or 'bucket'
  new Limiter({ windows: [{ limit: 20, per: '1m', kind: 'leaky' }] });
  // @ts-expect-error Duration: a number and a unit, no space, no words
  new Limiter({ windows: [{ limit: 20, per: '1 minute' }] });
  // @ts-expect-error Duration: a number and a unit
  new Limiter({ windows: [{ limit: 20, per: '1min' }] });
  // @ts-expect-error Duration: units are ms, s, m, h, d (no weeks)
  new Limiter({ windows: [{ limit: 20, per: '1w' }] });
  // @ts-expect-error Duration: a unit is required in a string
  new Limiter({ windows: [{ limit: 20, per: '60000' }] });
  // @ts-expect-error `offset` is a Duration too
  new Limiter({ windows: [{ limit: 20, per: '1m', kind: 'fixed', offset: 'half a minute' }] });
  // @ts-expect-error `maxWaiters` is a number
  new Limiter({ windows: [{ limit: 1, per: '1s' }], maxWaiters: '10' });
  // @ts-expect-error `countInFlight` is a boolean
  new Limiter({ windows: [{ limit: 1, per: '1s' }], countInFlight: 'yes' });
  // @ts-expect-error a clock has now, setTimeout and clearTimeout
  new Limiter({ windows: [{ limit: 1, per: '1s' }], clock: { now: () => 0 } });
  // @ts-expect-error a misspelt option is not silently ignored
  new Limiter({ windows: [{ limit: 1, per: '1s' }], maxWaiter: 10 });
  // @ts-expect-error windows built apart without `as const` widen `per` to string
  new Limiter({ windows: [{ limit: 20, per: '1m' as string }] });

  // -- Limiter members --
  limiter.tryAcquire(1);
  // @ts-expect-error the cost is a number
  limiter.tryAcquire('1');
  await limiter.acquire({ priority: 2 });
  // @ts-expect-error the priority is a number
  await limiter.acquire({ priority: 'high' });
  // @ts-expect-error the cost is a number
  await limiter.acquire({ cost: '2' });
  // @ts-expect-error the signal is an AbortSignal
  await limiter.acquire({ signal: 'abort' });
  // @ts-expect-error acquire takes an options object, not a cost
  await limiter.acquire(2);
  // @ts-expect-error `remaining` is required
  limiter.reconcile(0, {});
  // @ts-expect-error `remaining` is a number
  limiter.reconcile(0, { remaining: '3' });
  // @ts-expect-error restore's windows are checked as Limiter's
  Limiter.restore({}, { windows: [{ limit: 1 }] });
  // @ts-expect-error read-only
  limiter.waiting = 0;
  // @ts-expect-error read-only
  limiter.pausedUntil = 0;
  // @ts-expect-error read-only
  permit.at = 0;
  // @ts-expect-error complete takes a time in ms
  permit.complete('now');

  const r = limiter.tryAcquire();
  // @ts-expect-error `permit` exists only when `ok` is true
  r.permit.complete();
  // @ts-expect-error `retryAt` exists only when `ok` is false
  void r.retryAt;
  if (!r.ok) {
    // @ts-expect-error no permit when refused
    void r.permit;
  }

  // -- rateLimitedFetch options --
  rateLimitedFetch(fetch, { routes: [route] });
  // Zero configuration: every origin learns its quota from its server.
  rateLimitedFetch(fetch, {});
  rateLimitedFetch(fetch);
  rateLimitedFetch(fetch, { routes: [route], learnUnmatched: true, retry: { statusCodes: [429], methods: ['GET'], shouldRetry: (c) => c.attempt < 3 } });
  // @ts-expect-error `learnUnmatched` is a boolean
  rateLimitedFetch(fetch, { learnUnmatched: 'yes' });
  // @ts-expect-error the first argument is a fetch function
  rateLimitedFetch('fetch', { routes: [route] });
  // @ts-expect-error the fetch function resolves to a Response
  rateLimitedFetch(async () => 'body', { routes: [route] });
  // A route without `windows` learns them.
  rateLimitedFetch(fetch, { routes: [{ url: '/api/*' }] });
  // @ts-expect-error a route without `url`
  rateLimitedFetch(fetch, { routes: [{ windows: [{ limit: 1, per: '1s' }] }] });
  // @ts-expect-error a route's windows are checked as Limiter's
  rateLimitedFetch(fetch, { routes: [{ url: '/x', windows: [{ limit: 1, per: '1 second' }] }] });
  // @ts-expect-error `url` is a pattern string, a RegExp or a function
  rateLimitedFetch(fetch, { routes: [{ url: 42, windows: [{ limit: 1, per: '1s' }] }] });
  // @ts-expect-error `method` is a string or a list of them
  rateLimitedFetch(fetch, { routes: [{ ...route, method: 1 }] });
  // @ts-expect-error `key` returns a string (or null or undefined)
  rateLimitedFetch(fetch, { routes: [{ ...route, key: () => 42 }] });
  // @ts-expect-error `cost` is a number or a function returning one
  rateLimitedFetch(fetch, { routes: [{ ...route, cost: '1' }] });
  // @ts-expect-error `priority` is a number
  rateLimitedFetch(fetch, { routes: [{ ...route, priority: 'high' }] });
  // @ts-expect-error `idempotencyKey` is a boolean
  rateLimitedFetch(fetch, { routes: [{ ...route, idempotencyKey: 'yes' }] });
  rateLimitedFetch(fetch, { routes: [route], retry: { limit: 3 } });
  // @ts-expect-error `retry.limit` is a number
  rateLimitedFetch(fetch, { routes: [route], retry: { limit: '3' } });
  // @ts-expect-error `retry` is options or false, not true
  rateLimitedFetch(fetch, { routes: [route], retry: true });
  // @ts-expect-error `retry.backoff` is a Duration
  rateLimitedFetch(fetch, { routes: [route], retry: { backoff: '1 second' } });
  // @ts-expect-error `retry.budget.maxTokens` is a number
  rateLimitedFetch(fetch, { routes: [route], retry: { budget: { maxTokens: '10' } } });
  // @ts-expect-error a misspelt retry option is not silently ignored
  rateLimitedFetch(fetch, { routes: [route], retry: { retries: 3 } });
  // @ts-expect-error `deadline` is a Duration
  rateLimitedFetch(fetch, { routes: [route], deadline: '5 sec' });
  // @ts-expect-error `random` is a function
  rateLimitedFetch(fetch, { routes: [route], random: 0.5 });

  // -- the wrapped fetch --
  await limited('/x', { method: 'POST' });
  // @ts-expect-error `method` is a string, as in fetch
  await limited('/x', { method: 42 });
  // @ts-expect-error `signal` is an AbortSignal, as in fetch
  await limited('/x', { signal: 'stop' });
  // @ts-expect-error the input is a string, a URL or a Request
  await limited(42);
  // @ts-expect-error `tollgate.deadline` is a Duration
  await limited('/x', { tollgate: { deadline: 'soon' } });
  // @ts-expect-error `tollgate.priority` is a number
  await limited('/x', { tollgate: { priority: 'high' } });
  // @ts-expect-error per-call options are `deadline` and `priority` only
  await limited('/x', { tollgate: { retry: false } });
  // @ts-expect-error read-only
  limited.events = new EventTarget();

  // -- schedule, wrap and typed events --
  // @ts-expect-error schedule takes a function, not a promise
  await limiter.schedule(fetch('/x'));
  await limiter.schedule(() => fetch('/x'));
  // @ts-expect-error the result keeps fn's type
  const wrong: string = await limiter.schedule(async () => 42);
  void wrong;
  // @ts-expect-error `priority` is a number
  await limiter.schedule(() => 1, { priority: 'high' });
  const add = limiter.wrap((a: number, b: number) => a + b);
  // @ts-expect-error the wrapped function keeps its parameters
  await add('1', 2);
  await add(1, 2);
  // @ts-expect-error `maxConcurrent` is a number
  new Limiter({ windows: [{ limit: 1, per: '1s' }], maxConcurrent: '3' });
  // @ts-expect-error a route's `maxConcurrent` is a number
  void ({ ...route, maxConcurrent: true } satisfies RouteOptions);
  // @ts-expect-error a misspelt event gets a plain Event, which has no `detail`
  limited.events.addEventListener('throttle', (e) => e.detail.retryAt);
  // @ts-expect-error a limiter's `paused` has `until`, not `retryAt`
  limiter.events.addEventListener('paused', (e) => e.detail.retryAt);
  // @ts-expect-error `throttled`'s `retryAt` may be undefined
  limited.events.addEventListener('throttled', (e) => { const at: number = e.detail.retryAt; void at; });
  // @ts-expect-error a Limiter has no `throttled` event (rateLimitedFetch has): no typed `detail`
  limiter.events.addEventListener('throttled', (e) => e.detail.retryAt);
  // @ts-expect-error a shared limiter's `paused` detail has `until`, not `retryAt`
  shared.events.addEventListener('paused', (e) => e.detail.retryAt);

  // -- errors: nothing is known of `unknown` until a guard narrows it --
  // @ts-expect-error `caught` is unknown
  void caught.retryAt;
  // @ts-expect-error `caught` is unknown
  void caught.name;
  if (isTollgateError(caught)) {
    // @ts-expect-error only a RateLimitError has `retryAt`
    void caught.retryAt;
  }
  if (isRetryError(caught)) {
    // @ts-expect-error a RetryError has no `retryAt`
    void caught.retryAt;
  }
  if (isRateLimitError(caught)) {
    const retryAt: number | undefined = caught.retryAt;
    // @ts-expect-error `retryAt` may be undefined (the server may not say)
    const when: number = caught.retryAt;
    // @ts-expect-error read-only
    caught.retryAt = 0;
    void retryAt;
    void when;
  }
  // @ts-expect-error RateLimitError needs its context (`retryAt` may be left out, the object not)
  new RateLimitError('refused');
}

// Sharing a quota through Redis (README "Sharing a quota"): Limiter.shared over redisStore.
export async function sharedQuota(client: unknown): Promise<void> {
  const options: RedisStoreOptions = { prefix: 'tollgate', time: 'redis', timeoutMs: 5_000, fallback: { share: 0.5 } };
  const hex: SharedLimiter = Limiter.shared({
    name: 'hex:token', windows: [{ limit: 20, per: '1m' }, { limit: 60, per: '1h' }],
    store: redisStore(client, options), countInFlight: true, leaseMs: '1m',
  });
  const permit: SharedPermit = await hex.acquire({ cost: 1, priority: 1 });
  await permit.complete();
  const r = await hex.tryAcquire();
  if (!r.ok) void (r.retryAt satisfies number);
  // @ts-expect-error shared decisions are asynchronous: tryAcquire returns a promise
  if (hex.tryAcquire().ok) void 0;
  // @ts-expect-error `time` is 'redis' or 'client'
  redisStore(client, { time: 'local' });
  // @ts-expect-error a shared limiter needs its quota's `name`
  Limiter.shared({ windows: [{ limit: 1, per: '1s' }], store: redisStore(client) });
  await hex.close();
}

// `store` on the wrapper, the presets and the Hex client.
{
  const store = redisStore({} as never);
  rateLimitedFetch(fetch, { routes: [], store });
  rateLimitedFetch(fetch, presets.hex({ store }));
  presets.hexagraph({ store });
  presets.secureCodingHub({ store });
  hexClient({ baseUrl: 'https://app.hex.tech', token: 't', store });
  // @ts-expect-error a store is an object with `open`
  rateLimitedFetch(fetch, { routes: [], store: 'redis' });
}
