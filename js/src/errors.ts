/**
 * tollgate's errors: one base class, a subclass per failure with a literal
 * `name`, context kept as properties, and `isX()` guards that also work across
 * realms and duplicate copies of the package (they check a registered symbol,
 * not `instanceof`).
 */

const BRAND = Symbol.for('tollgate.error');

export class TollgateError extends Error {
  override name = 'TollgateError';
  /** @internal */ readonly [BRAND] = true;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
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
