/**
 * Validation and defaults of `Limiter.shared(options)`, shared by every store.
 */
import { normalizeClock, normalizeFlag, normalizeMaxWaiters, normalizeWindows, parseDuration } from '../options.js';
import { normalizeMaxConcurrent } from '../concurrency.js';
import { quotaKey as hashName } from '../hmac.js';
import type { NormalizedSharedOptions, SharedLimiter, SharedLimiterOptions } from './types.js';

const DEFAULT_LEASE_MS = 60_000;

/**
 * The quota's name, hashed: SHA-256 of the name, so the same name gives the
 * same key in every process, machine and runtime (a per-process random secret,
 * as route keys use, would split the quota). Stores may key it further with a
 * secret of their own (`redisStore(client, { secret })`). Computed by each
 * store's `open`, not here (see `quotaKey` in hmac.ts).
 */
export function quotaKey(name: string): string {
  return hashName(name); // SHA-256 of `tollgate:quota:${name}`, one definition for every store
}

export function normalizeSharedOptions(options: SharedLimiterOptions): NormalizedSharedOptions {
  if (typeof options !== 'object' || options === null) {
    throw new TypeError('Limiter.shared options must be an object with `name`, `windows` and `store`');
  }
  const { name, store } = options;
  if (typeof name !== 'string' || name.length === 0) {
    throw new TypeError(`\`name\` must be a non-empty string that identifies the quota, e.g. 'hex:' + token; got ${String(name)}`);
  }
  if (typeof store !== 'object' || store === null || typeof store.open !== 'function') {
    throw new TypeError('`store` must be a shared store such as `redisStore(client)` or `tabStore()`');
  }
  const windows = normalizeWindows(options.windows);
  const leaseMs = options.leaseMs === undefined ? DEFAULT_LEASE_MS : parseDuration(options.leaseMs, 'leaseMs');
  if (leaseMs < 1) throw new TypeError('`leaseMs` must be at least 1 ms');
  return {
    name,
    windows,
    countInFlight: normalizeFlag(options.countInFlight, 'countInFlight'),
    leaseMs,
    maxWaiters: normalizeMaxWaiters(options.maxWaiters),
    maxConcurrent: normalizeMaxConcurrent(options.maxConcurrent),
    clock: normalizeClock(options.clock),
  };
}

/** `Limiter.shared`: validates, then lets the store open the quota. */
export function openShared(options: SharedLimiterOptions): SharedLimiter {
  const normalized = normalizeSharedOptions(options);
  return options.store.open(normalized);
}
