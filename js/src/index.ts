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
export type { FetchLike, LimitedInit, RateLimitedFetch, Scope } from './fetch.js';
export type { UrlPattern } from './routes.js';
export type { FetchEventBase, FetchEventMap, FetchEvents, LimiterEventMap, LimiterEvents, TypedEventTarget } from './events.js';
export type { ScheduleOptions, WrapOptions } from './schedule.js';
export type { CallOptions, RateLimitedFetchOptions, RouteRequest, RetryOptions, RouteOptions } from './fetch-options.js';
export type { Feedback, ServerWindow } from './core.js';
export { parseRateLimitHeaders } from './feedback.js';
export { DeadlineError, RateLimitError, RetryError, isDeadlineError, isRateLimitError, isRetryError } from './errors.js';
export type { CallContext } from './errors.js';
export { presets } from './presets.js';
export type { HexPresetOptions, HexagraphPresetOptions, PresetCommonOptions, SecureCodingHubPresetOptions } from './presets.js';
export type { KeyPoolOptions } from './fetch-options.js';
export { hexClient } from './hex/client.js';
export type { HexClient } from './hex/client.js';
export type { BatchResult } from './hex/batch.js';
export type { BatchProgress, BatchProject, HexClientOptions, RunBatchOptions, RunProjectOptions, WaitForRunOptions } from './hex/options.js';
export type { HexProject, HexRun, RunStatus, TriggeredRun } from './hex/types.js';
export {
  BatchDeadlineError, HexApiError, HexAuthError, RunTimeoutError,
  isBatchDeadlineError, isHexApiError, isHexAuthError, isRunTimeoutError,
} from './hex/errors.js';
export { RunCache } from './cost/run-cache.js';
export type { StoreErrorDetail } from './cost/run-cache.js';
export { UsageMonitor } from './cost/usage-monitor.js';
export type { UsageAlert, UsageReport, UsageSnapshot } from './cost/usage-monitor.js';
export { responseCache } from './cost/response-cache.js';
export type { CachedFetch } from './cost/response-cache.js';
export { checkHeadroom } from './cost/headroom.js';
export type { Headroom, WindowHeadroom } from './cost/headroom.js';
export type { Store } from './cost/store.js';
export { fileStore } from './cost/file-store.js';
export { localStorageStore } from './cost/local-storage-store.js';
export { indexedDbStore } from './cost/indexed-db-store.js';
export { HeadroomError, StoreError, isHeadroomError, isStoreError } from './cost/errors.js';
export type { HeadroomOptions, ReportOptions, ResponseCacheOptions, RunCacheOptions, RunIfChangedOptions, UsageMonitorOptions } from './cost/options.js';
export { tabStore } from './tabs/store.js';
export type { TabStore, TabStoreOptions } from './tabs/store.js';
export type { TabLimiter, TabQuotaView } from './tabs/limiter.js';
export { openShared, quotaKey } from './tabs/open.js';
export { redisStore } from './shared/redis-store.js';
export type { RedisStore, RedisStoreOptions } from './shared/redis-store.js';
export type {
  NormalizedSharedOptions, SharedLimiter, SharedLimiterOptions, SharedPermit, SharedStore, SharedTryAcquireResult,
} from './shared/types.js';
export { normalizeSharedOptions } from './shared/options.js';
export type { SharedScopeLimiter, SharedScopePermit } from './shared/scope.js';
