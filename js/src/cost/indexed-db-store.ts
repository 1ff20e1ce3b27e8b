/**
 * `indexedDbStore(dbName)`: a `Store` in an IndexedDB database of the browser,
 * for results too large for `localStorage`. The database holds one object store,
 * `entries`, of string values under string keys; it is opened on first use.
 * A write resolves when its transaction has committed.
 */
import { type Store, checkKey, checkValue } from './store.js';

const OBJECT_STORE = 'entries';
const VERSION = 1;

/** @param dbName the database. @default 'tollgate' */
export function indexedDbStore(dbName = 'tollgate'): Store {
  if (typeof dbName !== 'string' || dbName === '') throw new TypeError(`\`dbName\` must be a non-empty string; got ${String(dbName)}`);
  const factory = lookUp();
  let db: Promise<IDBDatabase> | undefined;

  function open(): Promise<IDBDatabase> {
    db ??= new Promise<IDBDatabase>((resolve, reject) => {
      const request = factory.open(dbName, VERSION);
      request.onupgradeneeded = () => {
        if (!request.result.objectStoreNames.contains(OBJECT_STORE)) request.result.createObjectStore(OBJECT_STORE);
      };
      request.onsuccess = () => {
        const opened = request.result;
        // Another tab upgrading or deleting the database must not wait for us: close, reopen on next use.
        opened.onversionchange = () => {
          opened.close();
          db = undefined;
        };
        resolve(opened);
      };
      request.onerror = () => reject(request.error);
    });
    // A failed open is not remembered: the next call tries again.
    db.catch(() => { db = undefined; });
    return db;
  }

  async function transact<T>(mode: IDBTransactionMode, op: (store: IDBObjectStore) => IDBRequest<T>): Promise<T> {
    const tx = (await open()).transaction(OBJECT_STORE, mode);
    const request = op(tx.objectStore(OBJECT_STORE));
    return new Promise<T>((resolve, reject) => {
      // Settled by the transaction, not the request: a write is durable only once committed.
      tx.oncomplete = () => resolve(request.result);
      tx.onerror = () => reject(tx.error ?? request.error);
      tx.onabort = () => reject(tx.error ?? new Error('IndexedDB transaction aborted'));
    });
  }

  return {
    get: async (key) => {
      checkKey(key);
      const value = await transact('readonly', (s) => s.get(key) as IDBRequest<unknown>);
      return typeof value === 'string' ? value : undefined;
    },
    set: async (key, value) => {
      checkKey(key);
      checkValue(value);
      await transact('readwrite', (s) => s.put(value, key));
    },
    delete: async (key) => {
      checkKey(key);
      await transact('readwrite', (s) => s.delete(key));
    },
  };
}

function lookUp(): IDBFactory {
  const factory = (globalThis as { indexedDB?: IDBFactory }).indexedDB;
  if (factory === undefined || factory === null || typeof factory.open !== 'function') {
    throw new TypeError('`indexedDB` is not available here (it is a browser API); in Node use `fileStore`');
  }
  return factory;
}
