/**
 * tollgate's runtime-independent API. Import the package itself (its node or
 * browser entry), which loads the wasm core first.
 */
export { Limiter, Permit } from './limiter.js';
export type { AcquireOptions, ReconcileOptions, RestoreOptions, TryAcquireResult, WindowUsage } from './limiter.js';
export { parseDuration, systemClock } from './options.js';
export type { Clock, Duration, LimiterOptions, WindowKind, WindowOptions } from './options.js';
export {
  InsufficientCapacityError,
  QueueFullError,
  SnapshotError,
  TollgateError,
  isInsufficientCapacityError,
  isQueueFullError,
  isSnapshotError,
  isTollgateError,
} from './errors.js';
export { rateLimitedFetch } from './fetch.js';
export type { LimitedInit, RateLimitedFetch, Scope } from './fetch.js';
export type { CallOptions, RateLimitedFetchOptions, RequestInfo, RetryOptions, RouteOptions } from './fetch-options.js';
export type { Feedback, ServerWindow } from './core.js';
export { DeadlineError, RateLimitError, RetryError, isDeadlineError, isRateLimitError, isRetryError } from './errors.js';
export type { CallContext } from './errors.js';
export { presets } from './presets.js';
export type { HexPresetOptions, HexagraphPresetOptions, SecureCodingHubPresetOptions } from './presets.js';
export type { KeyPoolOptions } from './fetch-options.js';
