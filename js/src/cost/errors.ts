/**
 * The cost-control errors. They extend the package's `TollgateError`, so its
 * brand makes the guards work across realms and duplicate copies too.
 */
import { type CallContext, TollgateError, isTollgateError } from '../errors.js';

/**
 * A persisted store could not be read as a store, e.g. a `fileStore` file that
 * is not a JSON object of strings. The store never overwrites such a file: it
 * may be someone else's, so deleting it is left to a person.
 */
export class StoreError extends TollgateError {
  override name = 'StoreError' as const;
  /** The file (or database) concerned. */
  readonly location: string;
  constructor(message: string, location: string, cause?: unknown) {
    super(message, cause === undefined ? {} : { cause });
    this.location = location;
  }
}

/** Hexagraph's `GET /rate-limit` answered with something other than its documented JSON. */
export class HeadroomError extends TollgateError {
  override name = 'HeadroomError' as const;
  constructor(message: string, context: CallContext = {}) {
    super(message, context);
  }
}

export const isStoreError = (e: unknown): e is StoreError => isTollgateError(e) && e.name === 'StoreError';
export const isHeadroomError = (e: unknown): e is HeadroomError => isTollgateError(e) && e.name === 'HeadroomError';
