/**
 * A small LRU cache with expiry, on an injected clock. MedTech keeps its Observation cache (1 h absolute, 5000
 * entries) and its identity cache (2 h sliding, 5000 entries) in `MemoryCache`; this is the same policy in a few
 * lines. Values are shared, not copied: callers must treat them as immutable.
 */
import type { Clock } from '../clock';

/** Options of {@link LruTtlCache}. */
export interface LruTtlCacheOptions {
  readonly clock: Clock;
  /** Lifetime of an entry in milliseconds. */
  readonly ttlMs: number;
  /** `absolute`: expires `ttlMs` after it was set; `sliding`: `ttlMs` after it was last read or set. */
  readonly expiry: 'absolute' | 'sliding';
  /** Entries kept at most; the least recently used goes first. */
  readonly maxEntries: number;
}

interface Entry<V> {
  readonly value: V;
  expiresAt: number;
}

/** The cache. */
export class LruTtlCache<V> {
  readonly #entries = new Map<string, Entry<V>>();
  readonly #options: LruTtlCacheOptions;

  /** @param options - clock, lifetime, expiry kind and size */
  constructor(options: LruTtlCacheOptions) {
    this.#options = options;
  }

  /** Live entries (expired ones not yet touched are counted until read). */
  get size(): number {
    return this.#entries.size;
  }

  /**
   * The value, or `undefined` when absent or expired. A hit becomes the most recently used.
   * @param key - the key
   */
  get(key: string): V | undefined {
    const entry = this.#entries.get(key);
    if (entry === undefined) {
      return undefined;
    }
    const now = this.#options.clock();
    if (now >= entry.expiresAt) {
      this.#entries.delete(key);
      return undefined;
    }
    this.#entries.delete(key);
    this.#entries.set(key, entry);
    if (this.#options.expiry === 'sliding') {
      entry.expiresAt = now + this.#options.ttlMs;
    }
    return entry.value;
  }

  /**
   * Stores a value as the most recently used, evicting the least recently used beyond the size limit.
   * @param key - the key
   * @param value - the value
   */
  set(key: string, value: V): void {
    this.#entries.delete(key);
    this.#entries.set(key, { value, expiresAt: this.#options.clock() + this.#options.ttlMs });
    while (this.#entries.size > this.#options.maxEntries) {
      const oldest = this.#entries.keys().next();
      if (oldest.done === true) {
        break;
      }
      this.#entries.delete(oldest.value);
    }
  }

  /**
   * Removes an entry.
   * @param key - the key
   */
  delete(key: string): void {
    this.#entries.delete(key);
  }
}
