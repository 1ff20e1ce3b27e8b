/**
 * The seed APIs' quotas as ready-made `rateLimitedFetch` options. Each takes
 * overrides (a higher quota granted by support is one option away) and can be
 * spread or merged: `rateLimitedFetch(fetch, presets.hex())`.
 */
import type { KeyPoolOptions, RateLimitedFetchOptions, RouteOptions } from './fetch-options.js';
import { type UrlPattern, checkKeySecret, compileMatcher } from './routes.js';
import { normalizeStore } from './shared/scope.js';
import type { SharedStore } from './shared/types.js';

const byToken = (r: { headers: Headers }) => r.headers.get('authorization');

/** Options every preset passes on to `rateLimitedFetch`. */
export interface PresetCommonOptions {
  /**
   * The secret scope keys (tokens, IPs) are hashed under, as `rateLimitedFetch`'s
   * `keySecret`: a string or a Uint8Array of at least 16 bytes.
   * @default 32 random bytes per wrapper
   */
  keySecret?: string | Uint8Array;
  /** Where the quota lives when processes share it, e.g. `redisStore(client)`: see `rateLimitedFetch`'s `store`. @default none */
  store?: SharedStore;
}

/** The preset's options for `rateLimitedFetch`, with the common ones passed on (checked now, so the error names the preset's call). */
function withCommon(o: PresetCommonOptions, options: RateLimitedFetchOptions): RateLimitedFetchOptions {
  checkKeySecret(o.keySecret);
  normalizeStore(o.store);
  return { ...options, ...(o.keySecret === undefined ? {} : { keySecret: o.keySecret }), ...(o.store === undefined ? {} : { store: o.store }) };
}

export interface HexPresetOptions extends PresetCommonOptions {
  /** Run triggers per minute per token. @default 20 */
  perMinute?: number;
  /** Run triggers per hour per token. @default 60 */
  perHour?: number;
  /** Where the Run API is: a path pattern, or one with an origin. @default '/api/v1/run/:projectId' */
  url?: UrlPattern;
}

/** Hex: RunProject (POST /api/v1/run/:projectId) 20/min AND 60/h per API token; status, list and cancel unthrottled. */
function hex(o: HexPresetOptions = {}): RateLimitedFetchOptions {
  const route: RouteOptions = {
    name: 'hex run',
    method: 'POST',
    url: o.url ?? '/api/v1/run/:projectId',
    windows: [{ limit: o.perMinute ?? 20, per: '1m' }, { limit: o.perHour ?? 60, per: '1h' }],
    key: byToken,
    idempotencyKey: true,
  };
  return withCommon(o, { routes: [route] });
}

export interface HexagraphPresetOptions extends PresetCommonOptions {
  /** @default 30 */
  perMinute?: number;
  /** @default 1000 */
  perDay?: number;
  /** Which requests count: REST and GraphQL alike. @default 'https://hexagraph-core.onrender.com/*' */
  url?: UrlPattern;
}

/** Hexagraph: 30/min AND 1,000/day per IP, REST and GraphQL alike; `GET /rate-limit` is not counted. */
function hexagraph(o: HexagraphPresetOptions = {}): RateLimitedFetchOptions {
  const all = compileMatcher(undefined, o.url ?? 'https://hexagraph-core.onrender.com/*', 'url');
  const counted: UrlPattern = (u: URL) => u.pathname !== '/rate-limit' && all.test(u);
  return withCommon(o, {
    routes: [{ name: 'hexagraph', url: counted, windows: [{ limit: o.perMinute ?? 30, per: '1m' }, { limit: o.perDay ?? 1000, per: '1d' }] }],
    retry: { backoff: '1s' },
  });
}

export interface SecureCodingHubPresetOptions extends PresetCommonOptions {
  /** @default 60 */
  perMinute?: number;
  /** @default 1000 */
  perHour?: number;
  /** Units of the minute left unused, as the document advises (10 gives its "stay under 50/minute"). @default 0 */
  headroom?: number;
  /** One key per worker: each request goes with the key whose quota is free soonest. @default per Authorization header */
  keys?: readonly string[];
  /** How a pooled key is sent. @default { header: 'authorization', format: (k) => `Bearer ${k}` } */
  keyHeader?: Omit<KeyPoolOptions, 'keys'>;
  /** @default '/*' */
  url?: UrlPattern;
}

/**
 * SecureCodingHub: 60 per calendar minute (UTC) AND 1,000 per sliding hour, per
 * API key; on 429, Retry-After plus 0-5 s of jitter.
 */
function secureCodingHub(o: SecureCodingHubPresetOptions = {}): RateLimitedFetchOptions {
  const perMinute = (o.perMinute ?? 60) - (o.headroom ?? 0);
  if (!Number.isInteger(perMinute) || perMinute < 1) {
    throw new TypeError(`\`headroom\` must leave at least 1 request a minute; got ${String(o.headroom)} of ${String(o.perMinute ?? 60)}`);
  }
  const route: RouteOptions = {
    name: 'securecodinghub',
    url: o.url ?? '/*',
    windows: [{ limit: perMinute, per: '1m', kind: 'fixed' }, { limit: o.perHour ?? 1000, per: '1h' }],
    ...(o.keys === undefined ? { key: byToken } : { keyPool: { ...o.keyHeader, keys: o.keys } }),
  };
  return withCommon(o, { routes: [route], retry: { retryAfterJitter: '5s' } });
}

export const presets = { hex, hexagraph, secureCodingHub };
