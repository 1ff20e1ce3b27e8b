/**
 * tollgate's errors: one base class, a subclass per failure with a literal
 * `name`, context kept as properties, and `isX()` guards that also work across
 * realms and duplicate copies of the package (they check a registered symbol,
 * not `instanceof`).
 */

const BRAND = Symbol.for('tollgate.error');

/** What a fetch-level error knows about the call that failed. */
export interface CallContext {
  /** The request (method and URL) of the call. */
  request?: Request;
  /** The last response, if one arrived. */
  response?: Response;
  /** Attempts made (1 for the first). */
  attempts?: number;
  cause?: unknown;
}

export class TollgateError extends Error {
  override name = 'TollgateError';
  /** @internal */ readonly [BRAND] = true;
  readonly request: Request | undefined;
  readonly response: Response | undefined;
  readonly attempts: number | undefined;
  constructor(message: string, context: CallContext = {}) {
    super(message, context.cause === undefined ? undefined : { cause: context.cause });
    this.request = context.request;
    this.response = context.response;
    this.attempts = context.attempts;
  }
}

/**
 * The server refused (429, or 503 with a retry time) and the retries ran out,
 * or its Retry-After exceeds `maxRetryAfter`. `retryAt` says when to come back.
 */
export class RateLimitError extends TollgateError {
  override name = 'RateLimitError' as const;
  /** When the server said to come back, ms since the epoch (client clock); undefined if it did not say. */
  readonly retryAt: number | undefined;
  constructor(message: string, context: CallContext & { retryAt?: number }) {
    super(message, context);
    this.retryAt = context.retryAt;
  }
}

/** 5xx responses or network errors after the last attempt (`cause` holds the last network error). */
export class RetryError extends TollgateError {
  override name = 'RetryError' as const;
}

/** The call's `deadline` passed while it waited, or a wait would have ended after it. */
export class DeadlineError extends TollgateError {
  override name = 'DeadlineError' as const;
  /** When the call could have gone ahead, when known (ms since the epoch; Infinity: only after a request in flight completes). */
  readonly retryAt: number | undefined;
  constructor(message: string, context: CallContext & { retryAt?: number } = {}) {
    super(message, context);
    this.retryAt = context.retryAt;
  }
}

/** A cost larger than a window's limit: it can never be admitted. Not a wait. */
export class InsufficientCapacityError extends TollgateError {
  override name = 'InsufficientCapacityError' as const;
}

/** The limiter's queue already holds `maxWaiters` waiters. */
export class QueueFullError extends TollgateError {
  override name = 'QueueFullError' as const;
}

/** A snapshot of an unknown version, a corrupt one, or one taken with other windows. */
export class SnapshotError extends TollgateError {
  override name = 'SnapshotError' as const;
}

function hasName(error: unknown, name: string): boolean {
  return typeof error === 'object' && error !== null && (error as Record<symbol, unknown>)[BRAND] === true &&
    (name === 'TollgateError' || (error as Error).name === name);
}

export const isTollgateError = (e: unknown): e is TollgateError => hasName(e, 'TollgateError');
export const isInsufficientCapacityError = (e: unknown): e is InsufficientCapacityError =>
  hasName(e, 'InsufficientCapacityError');
export const isQueueFullError = (e: unknown): e is QueueFullError => hasName(e, 'QueueFullError');
export const isSnapshotError = (e: unknown): e is SnapshotError => hasName(e, 'SnapshotError');
export const isRateLimitError = (e: unknown): e is RateLimitError => hasName(e, 'RateLimitError');
export const isRetryError = (e: unknown): e is RetryError => hasName(e, 'RetryError');
export const isDeadlineError = (e: unknown): e is DeadlineError => hasName(e, 'DeadlineError');

/**
 * Turns an error thrown by the wasm core (a plain `Error` whose `name` is
 * stable) into this package's class of that name. Configuration errors the
 * option normalizer missed become `TypeError`s, as bad options do.
 */
export function fromCore(error: unknown): Error {
  if (!(error instanceof Error)) return new TollgateError(String(error));
  switch (error.name) {
    case 'InsufficientCapacityError': return new InsufficientCapacityError(error.message);
    case 'QueueFullError': return new QueueFullError(error.message);
    case 'SnapshotError': return new SnapshotError(error.message);
    case 'TollgateConfigError': return new TypeError(error.message);
    default: return error;
  }
}

/**
 * The error a failed call into the limiter module stands for. The wasm side
 * formats no text: it reports the core's `Error::code()`, the window, value and
 * bound it names (-1: none), a detail code, and a fixed phrase (the argument's
 * name, or why a snapshot is corrupt); the message is built here.
 */
export function coreError(code: number, window: number, value: number, bound: number, _detail: number, text: string): Error {
  const at = window >= 0 ? `window ${window}: ` : '';
  switch (code) {
    case 1: return new TypeError('a policy needs at least one window; got none');
    case 2: return new TypeError(`${at}\`limit\` must be an integer from 1 to ${bound}; got ${value}`);
    case 3: return new TypeError(`${at}\`per\` must be a whole number of milliseconds from 1 to ${bound}; got ${value}`);
    case 4: return new TypeError(`\`${text}\` must be a finite number of milliseconds since the Unix epoch, from 0 to ${bound}`);
    case 5: return new TypeError(`\`cost\` must be an integer from 1 to ${bound}`);
    case 6: return new TypeError('`priority` must be an integer from -2147483648 to 2147483647');
    case 7: return new InsufficientCapacityError(`a cost of ${value} can never be admitted: window ${window} allows at most ${bound}`);
    case 8: return new QueueFullError(`the wait queue is full: it already holds \`maxWaiters\` = ${bound} waiters`);
    case 9: return new TypeError(`window ${window} does not exist; the policy has ${bound}`);
    case 10: return new TypeError(`a plan covers at most ${bound} requests; asked for ${value}`);
    case 11: return new SnapshotError(`snapshot version ${value} is not supported; this build reads version ${bound}`);
    case 12: return new SnapshotError(`corrupt snapshot: ${at}${text}`);
    case 13: return new SnapshotError('the snapshot was taken with other windows than the ones given; restore without `windows`, or with the same windows');
    case 14: return new TollgateError('the permit was already completed or released (a permit is handed back exactly once)');
    case 15: return new TypeError(`\`at\` (${value}) is later than the limiter's clock allows (at most ${bound})`);
    case 16: return new TypeError(`the plan would pass the largest time, 2^53 - 1 ms, after ${value} admissions`);
    case 100: return new TollgateError('this limiter was disposed; create a new one');
    case 101: return new TollgateError('this limiter was left half changed by a trap inside the wasm core (a bug in tollgate): restore a snapshot taken before, or create a new one');
    default: return new TollgateError(`the wasm core failed with code ${code}`);
  }
}
