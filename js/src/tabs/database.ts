/**
 * Where `tabStore` keeps each quota's state: one IndexedDB database per
 * prefix, one string per quota. IndexedDB, not localStorage: Chromium
 * propagates a localStorage write to the other tabs' processes asynchronously,
 * so a tab taking the Web Lock right after another released it may still read
 * the old value (and over-admit); IndexedDB reads go through one backend and
 * see every committed write.
 */
import { StoreError } from '../cost/errors.js';

const STORE = 'quotas';

export interface QuotaDatabase {
  get(key: string): Promise<string | undefined>;
  /**
   * Reads `key` and writes what `change` returns (nothing when it returns
   * undefined) in one transaction: one round trip to the browser's database
   * per decision. `change` must be synchronous.
   */
  update<T>(key: string, change: (text: string | undefined) => { text: string | undefined; result: T }): Promise<T>;
  close(): void;
}

function request<T>(req: IDBRequest<T>, what: string): Promise<T> {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(new StoreError(`tabStore: IndexedDB ${what} failed: ${req.error?.message ?? 'unknown error'}`, 'indexedDB', req.error));
  });
}

export async function openDatabase(name: string): Promise<QuotaDatabase> {
  const open = indexedDB.open(name, 1);
  open.onupgradeneeded = () => open.result.createObjectStore(STORE);
  const db = await request(open, `open('${name}')`);
  // Another tab deleting or upgrading the database must not wait on us forever.
  db.onversionchange = () => db.close();
  return {
    get: (key) => request(db.transaction(STORE, 'readonly').objectStore(STORE).get(key), 'read') as Promise<string | undefined>,
    update: (key, change) => new Promise((resolve, reject) => {
      const tx = db.transaction(STORE, 'readwrite');
      const store = tx.objectStore(STORE);
      let result: unknown;
      let failure: unknown;
      const get = store.get(key);
      get.onsuccess = () => {
        try {
          const out = change(get.result as string | undefined);
          result = out.result;
          if (out.text !== undefined) store.put(out.text, key);
        } catch (error) {
          failure = error;
          tx.abort();
        }
      };
      tx.oncomplete = () => resolve(result as never);
      tx.onerror = tx.onabort = () => reject(failure ?? new StoreError(`tabStore: IndexedDB write failed: ${tx.error?.message ?? 'aborted'}`, 'indexedDB', tx.error));
    }),
    close: () => db.close(),
  };
}
