/**
 * `responseCache(fetch, options)`: Hexagraph's "cache responses on your side",
 * as a function with fetch's signature. Identical GETs (same method, URL and
 * headers) that overlap share one request; a 200 is then served from memory
 * until `ttl` without any request. Wrap a `rateLimitedFetch` and a cached or
 * joined GET costs no quota:
 *
 * ```js
 * const api = responseCache(rateLimitedFetch(fetch, { routes }), { ttl: '5m' });
 * ```
 *
 * Only GET and HEAD are shared, and only a 200 is kept, unless the server says
 * `Cache-Control: no-store` or `no-cache` (or a `max-age` shorter than `ttl`,
 * which then applies), or `Vary: *`. A request sent with `cache: 'no-store'`,
 * `'no-cache'` or `'reload'` bypasses the cache. Any other method goes
 * straight to `fetch`, and a success drops what was cached for its URL (as
 * HTTP caches do: a PUT or DELETE changes what a GET would return).
 *
 * A kept response's body is read once into memory: a joined caller gets the
 * response when its body has arrived, and a body that fails midway rejects
 * every caller. Other responses are shared as clones, each caller its own.
 */
import { type Clock } from '../options.js';
import { ExpiringLru } from './lru.js';
import { type ResponseCacheOptions, normalizeResponseCacheOptions } from './options.js';

type FetchLike = (input: any, init?: any) => Promise<Response>;

export interface CachedFetch {
  (input: string | URL | Request, init?: RequestInit): Promise<Response>;
  /**
   * Forgets what is kept for `url` (every header variant), or everything. Requests
   * in flight still answer their callers, but what they bring is not kept.
   */
  invalidate(url?: string | URL): void;
}

/** A kept 200: everything needed to build a fresh Response for each caller. */
interface Stored {
  url: string;
  status: number;
  statusText: string;
  headers: [string, string][];
  body: ArrayBuffer | null;
}

/** One shared request: its callers, and the abort that ends it when every one of them has gone. */
interface Flight {
  promise: Promise<Stored | Response>;
  controller: AbortController;
  callers: number;
}

const SHARED_METHODS = new Set(['GET', 'HEAD']);
const BYPASS = new Set<RequestCache>(['no-store', 'no-cache', 'reload']);

export function responseCache(fetch: FetchLike, options?: ResponseCacheOptions): CachedFetch {
  if (typeof fetch !== 'function') throw new TypeError('`fetch` must be a fetch function, e.g. globalThis.fetch');
  const { ttlMs, maxEntries, clock } = normalizeResponseCacheOptions(options);
  const kept = new ExpiringLru<string, Stored>(maxEntries);
  const flights = new Map<string, Flight>();

  const cached = (async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const method = (init?.method ?? (input instanceof Request ? input.method : 'GET')).toUpperCase();
    if (!SHARED_METHODS.has(method)) {
      // Not read into a Request: that would take over a body that fetch must send.
      const response = await fetch(input, init);
      const url = absolute(input instanceof Request ? input.url : input);
      if (response.status < 400 && url !== undefined) drop(shared, url);
      return response;
    }
    const request = new Request(input, init);
    if (BYPASS.has(request.cache)) return fetch(input, init);
    const key = keyOf(request);
    const hit = kept.get(key, clock.now());
    if (hit !== undefined) return build(hit);
    const signal = request.signal;
    signal.throwIfAborted();

    const flight = flights.get(key) ?? start(fetch, input, init, key, shared);
    flight.callers++;
    let onAbort: (() => void) | undefined;
    const aborted = new Promise<never>((_, reject) => {
      onAbort = () => {
        reject(signal.reason);
        // The shared request ends only when no caller is left waiting for it; a later call starts afresh.
        if (--flight.callers === 0) {
          if (flights.get(key) === flight) flights.delete(key);
          flight.controller.abort(signal.reason);
        }
      };
      signal.addEventListener('abort', onAbort, { once: true });
    });
    aborted.catch(() => {});
    try {
      const outcome = await Promise.race([flight.promise, aborted]);
      return outcome instanceof Response ? outcome.clone() : build(outcome);
    } finally {
      signal.removeEventListener('abort', onAbort!);
    }
  }) as CachedFetch;
  const shared: Shared = { kept, flights, ttlMs, clock };
  Object.defineProperty(cached, 'invalidate', {
    value: (url?: string | URL) => {
      if (url === undefined) {
        kept.clear();
        flights.clear();
        return;
      }
      const href = absolute(url);
      if (href === undefined) throw new TypeError(`\`url\` must be an absolute URL; got ${String(url)}`);
      drop(shared, href);
    },
  });
  return cached;
}

interface Shared {
  kept: ExpiringLru<string, Stored>;
  flights: Map<string, Flight>;
  ttlMs: number;
  clock: Clock;
}

function start(fetch: FetchLike, input: string | URL | Request, init: RequestInit | undefined, key: string, s: Shared): Flight {
  const controller = new AbortController();
  const flight: Flight = { controller, callers: 0, promise: undefined as unknown as Promise<Stored | Response> };
  // In the map before fetch is called: a fetch that throws at once must still remove it.
  s.flights.set(key, flight);
  // A flight dropped by invalidation answers its callers but keeps nothing: its answer may predate the change.
  const current = () => s.flights.get(key) === flight;
  flight.promise = (async () => {
    try {
      const response = await fetch(input, { ...init, signal: controller.signal });
      const ttl = keepFor(response, s.ttlMs);
      if (ttl <= 0) return response;
      const stored: Stored = {
        url: response.url,
        status: response.status,
        statusText: response.statusText,
        headers: entries(response.headers),
        body: response.body === null ? null : await response.arrayBuffer(),
      };
      // The clock is read when the body has arrived: the TTL counts from the data's age.
      if (current()) s.kept.set(key, stored, s.clock.now() + ttl);
      return stored;
    } finally {
      if (current()) s.flights.delete(key);
    }
  })();
  flight.promise.catch(() => {});
  return flight;
}

/** How long `response` may be kept, in ms; 0 for not at all. */
function keepFor(response: Response, ttlMs: number): number {
  if (response.status !== 200) return 0;
  const vary = response.headers.get('vary');
  if (vary !== null && vary.split(',').some((v) => v.trim() === '*')) return 0;
  let ttl = ttlMs;
  for (const directive of (response.headers.get('cache-control') ?? '').toLowerCase().split(',')) {
    const [name, value] = directive.trim().split('=', 2).map((x) => x.trim());
    if (name === 'no-store' || name === 'no-cache') return 0;
    if (name === 'max-age') {
      const seconds = Number(value?.replace(/^"|"$/g, ''));
      // A malformed max-age is ignored (RFC 9111 says treat it as stale; `ttl` is the user's choice here).
      if (value !== undefined && /^"?\d+"?$/.test(value) && Number.isFinite(seconds)) ttl = Math.min(ttl, seconds * 1000);
    }
  }
  return ttl;
}

/**
 * Identical requests: the same method, URL, headers (so two API tokens never
 * share an answer) and the options that change what comes back. The URL is
 * second: `drop` reads it.
 */
function keyOf(request: Request): string {
  return JSON.stringify([request.method, request.url, request.redirect, request.credentials, request.mode, entries(request.headers)]);
}

/** `[name, value]` pairs, names in lower case and sorted (Headers iterate sorted). */
function entries(headers: Headers): [string, string][] {
  const out: [string, string][] = [];
  headers.forEach((value, name) => out.push([name, value]));
  return out;
}

/** Forgets `url` (an absolute href): kept responses and flights, of every method and header variant. */
function drop(s: Shared, url: string): void {
  const sameUrl = (key: string) => (JSON.parse(key) as [string, string])[1] === url;
  s.kept.deleteWhere(sameUrl);
  for (const key of [...s.flights.keys()]) if (sameUrl(key)) s.flights.delete(key);
}

function absolute(url: string | URL): string | undefined {
  try {
    return new URL(url, (globalThis as { location?: { href: string } }).location?.href).href;
  } catch {
    return undefined; // fetch itself reports the bad URL
  }
}

function build(stored: Stored): Response {
  const response = new Response(stored.body === null ? null : stored.body.slice(0), {
    status: stored.status,
    statusText: stored.statusText,
    headers: stored.headers,
  });
  // A constructed Response has an empty `url`; callers resolve links against it.
  Object.defineProperty(response, 'url', { value: stored.url });
  return response;
}
