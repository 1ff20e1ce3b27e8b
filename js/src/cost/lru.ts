/**
 * A bounded map whose entries expire: the least recently used entry goes
 * first when it is full, and an expired entry is never returned. Time is
 * passed in (ms since the epoch), so the caches share their owner's clock.
 */
export class ExpiringLru<K, V> {
  readonly #maxEntries: number;
  // A Map iterates in insertion order: re-inserting on use keeps the least recent first.
  readonly #entries = new Map<K, { value: V; expiresAt: number }>();

  constructor(maxEntries: number) {
    this.#maxEntries = maxEntries;
  }

  get size(): number {
    return this.#entries.size;
  }

  /** The live value under `key` (now the most recently used), or undefined. */
  get(key: K, now: number): V | undefined {
    const entry = this.#entries.get(key);
    if (entry === undefined) return undefined;
    this.#entries.delete(key);
    if (entry.expiresAt <= now) return undefined;
    this.#entries.set(key, entry);
    return entry.value;
  }

  /** The value under `key` even if expired, without touching its recency. */
  peek(key: K): V | undefined {
    return this.#entries.get(key)?.value;
  }

  /** `expiresAt`: ms since the epoch, exclusive (the entry is gone at that time); Infinity for never. */
  set(key: K, value: V, expiresAt: number): void {
    this.#entries.delete(key);
    this.#entries.set(key, { value, expiresAt });
    for (const oldest of this.#entries.keys()) {
      if (this.#entries.size <= this.#maxEntries) break;
      this.#entries.delete(oldest);
    }
  }

  delete(key: K): boolean {
    return this.#entries.delete(key);
  }

  /** Removes every entry whose key passes `test`. */
  deleteWhere(test: (key: K) => boolean): void {
    for (const key of [...this.#entries.keys()]) if (test(key)) this.#entries.delete(key);
  }

  clear(): void {
    this.#entries.clear();
  }

  keys(): IterableIterator<K> {
    return this.#entries.keys();
  }
}
