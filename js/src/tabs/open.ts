/**
 * Validates shared-limiter options and opens them on their store: what
 * `Limiter.shared(options)` does (js/src/shared/types.ts). Exported as
 * `openShared` until `Limiter.shared` lands, which replaces it.
 */
import { normalizeClock, normalizeFlag, normalizeMaxWaiters, normalizeWindows, parseDuration } from '../options.js';
import { normalizeMaxConcurrent } from '../concurrency.js';
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
    windows: normalizeWindows(options.windows),
    countInFlight: normalizeFlag(options.countInFlight, 'countInFlight'),
    leaseMs,
    maxWaiters: normalizeMaxWaiters(options.maxWaiters),
    maxConcurrent: normalizeMaxConcurrent(options.maxConcurrent),
    clock: normalizeClock(options.clock),
  }) as L;
}

/** The quota's name, hashed (see `quotaKey` in hmac.ts: each store keys its quota by it). */
export { quotaKey } from '../hmac.js';
