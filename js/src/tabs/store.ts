/**
 * `tabStore()`: a quota shared by the tabs (and workers with Web Locks) of
 * one origin, kept in IndexedDB so a reload remembers what was spent.
 *
 * ```js
 * const hex = Limiter.shared({ name: 'hex:' + token, windows: [{ limit: 20, per: '1m' }], store: tabStore(), countInFlight: true });
 * const permit = await hex.acquire();
 * try { await fetch(url, { method: 'POST' }); } finally { await permit.complete(); }
 * ```
 */
import { StoreError } from '../cost/errors.js';
import type { NormalizedSharedOptions, SharedStore } from '../shared/types.js';
import { type QuotaDatabase, openDatabase } from './database.js';
import { TabLimiter } from './limiter.js';

export interface TabStoreOptions {
  /** Name of the IndexedDB database and prefix of the lock and channel names. @default 'tollgate' */
  prefix?: string;
}

export interface TabStore extends SharedStore {
  readonly kind: 'tab';
  open(options: NormalizedSharedOptions): TabLimiter;
}

/**
 * Throws `StoreError` (location `'navigator.locks'`, `'BroadcastChannel'` or
 * `'indexedDB'`) where the page cannot share a quota: in Node, in an
 * insecure context (Web Locks need https or localhost), or with storage blocked.
 */
export function tabStore(options: TabStoreOptions = {}): TabStore {
  if (typeof options !== 'object' || options === null) throw new TypeError('`tabStore` options must be an object');
  const { prefix = 'tollgate' } = options;
  if (typeof prefix !== 'string' || prefix === '' || prefix.includes(':')) {
    throw new TypeError(`\`prefix\` must be a non-empty string without ':'; got ${String(prefix)}`);
  }
  const nav = (globalThis as { navigator?: Navigator }).navigator;
  if (nav?.locks === undefined) {
    throw new StoreError('tabStore() needs the Web Locks API (navigator.locks): a browser page or worker in a secure context (https or localhost)', 'navigator.locks');
  }
  if (typeof BroadcastChannel !== 'function') throw new StoreError('tabStore() needs BroadcastChannel', 'BroadcastChannel');
  if (typeof indexedDB === 'undefined') throw new StoreError('tabStore() needs IndexedDB (blocked by the browser settings?)', 'indexedDB');
  // One connection per store, opened on first use (a failure rejects that limiter's calls with the StoreError).
  let db: Promise<QuotaDatabase> | undefined;
  return {
    kind: 'tab',
    open: (o) => {
      db ??= openDatabase(prefix);
      db.catch(() => {});
      return new TabLimiter(o, { db, prefix });
    },
  };
}
