/**
 * Validates shared-limiter options and opens them on their store: what
 * `Limiter.shared(options)` does (js/src/shared/types.ts). Exported as
 * `openShared` until `Limiter.shared` lands, which replaces it.
 */
import { normalizeClock, normalizeFlag, normalizeMaxWaiters, normalizeWindows, parseDuration } from '../options.js';
import { normalizeMaxConcurrent } from '../concurrency.js';
import { sha256 } from '../hmac.js';
import type { SharedLimiter, SharedLimiterOptions } from '../shared/types.js';

export function openShared<L extends SharedLimiter = SharedLimiter>(options: SharedLimiterOptions): L {
  if (typeof options !== 'object' || options === null) throw new TypeError('shared limiter options must be an object with `name`, `windows` and `store`');
  const { name, store } = options;
  if (typeof name !== 'string' || name === '') throw new TypeError(`\`name\` must be a non-empty string naming the quota; got ${String(name)}`);
  if (typeof store !== 'object' || store === null || typeof store.open !== 'function') {
    throw new TypeError('`store` must be a shared store such as `tabStore()` or `redisStore(client)`');
  }
  const leaseMs = options.leaseMs === undefined ? 60_000 : parseDuration(options.leaseMs, 'leaseMs');
  if (leaseMs < 1) throw new TypeError('`leaseMs` must be at least 1 ms');
  return store.open({
    name,
    key: quotaKey(name),
    windows: normalizeWindows(options.windows),
    countInFlight: normalizeFlag(options.countInFlight, 'countInFlight'),
    leaseMs,
    maxWaiters: normalizeMaxWaiters(options.maxWaiters),
    maxConcurrent: normalizeMaxConcurrent(options.maxConcurrent),
    clock: normalizeClock(options.clock),
  }) as L;
}

/**
 * The quota's name, hashed with SHA-256: the same name gives the same key in
 * every tab, process and runtime (a per-wrapper random secret, as route keys
 * use, would split the quota), and the name itself is never stored.
 */
export function quotaKey(name: string): string {
  return Array.from(sha256(new TextEncoder().encode(`tollgate:quota:${name}`)), (b) => b.toString(16).padStart(2, '0')).join('');
}
