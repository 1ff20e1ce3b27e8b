/**
 * Where cached results outlive the process: a small asynchronous key-value
 * interface, with a file for Node (`fileStore`) and `localStorage` or
 * IndexedDB for browsers (`localStorageStore`, `indexedDbStore`). Anything with
 * these three methods works (Redis, a KV binding, a test double).
 */
export interface Store {
  /** The value stored under `key`, or undefined. */
  get(key: string): Promise<string | undefined>;
  set(key: string, value: string): Promise<void>;
  /** Removing a missing key is not an error. */
  delete(key: string): Promise<void>;
}

export function checkKey(key: unknown): string {
  if (typeof key !== 'string') throw new TypeError(`\`key\` must be a string; got ${typeof key}`);
  return key;
}

export function checkValue(value: unknown): string {
  if (typeof value !== 'string') throw new TypeError(`\`value\` must be a string (serialize it first); got ${typeof value}`);
  return value;
}
