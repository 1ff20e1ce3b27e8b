/**
 * `localStorageStore(prefix)`: a `Store` in the browser's `localStorage`, every
 * key under `prefix` so it shares the origin's storage with other data. Values
 * are strings there already; a full storage rejects with the browser's own
 * `QuotaExceededError`.
 */
import { type Store, checkKey, checkValue } from './store.js';

/** @param prefix put before every key. @default 'tollgate:' */
export function localStorageStore(prefix = 'tollgate:'): Store {
  if (typeof prefix !== 'string') throw new TypeError(`\`prefix\` must be a string; got ${typeof prefix}`);
  const storage = lookUp();
  // async: the Storage API throws synchronously; callers of a Store expect rejections.
  return {
    get: async (key) => storage.getItem(prefix + checkKey(key)) ?? undefined,
    set: async (key, value) => storage.setItem(prefix + checkKey(key), checkValue(value)),
    delete: async (key) => storage.removeItem(prefix + checkKey(key)),
  };
}

function lookUp(): Storage {
  let storage: Storage | undefined;
  try {
    storage = (globalThis as { localStorage?: Storage }).localStorage;
  } catch (error) {
    // Reading the property throws where storage is denied (sandboxed iframes, blocked cookies).
    throw new TypeError(`\`localStorage\` is not accessible here: ${(error as Error)?.message ?? String(error)}`, { cause: error });
  }
  if (storage === undefined || storage === null || typeof storage.getItem !== 'function') {
    throw new TypeError('`localStorage` is not available here (it is a browser API); in Node use `fileStore`');
  }
  return storage;
}
