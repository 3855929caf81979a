// A small in-memory TTL cache (domain.md section 9: rules, priors, model outputs).
// Concurrent loads of one key share one promise; a failed load is not cached; the clock is injectable.

export interface TtlCacheOptions {
  /** Time to live of an entry, in milliseconds (>= 0). */
  ttlMs: number;
  /** Clock in milliseconds; Date.now by default (tests inject a fake one). */
  now?: () => number;
  /** Upper bound on stored entries; the least recently used entry is evicted first. Unbounded by default. */
  maxEntries?: number;
}

interface Entry<V> {
  value: V;
  expiresAt: number;
}

export class TtlCache<K, V> {
  private readonly entries = new Map<K, Entry<V>>();
  private readonly inflight = new Map<K, Promise<V>>();
  private readonly ttlMs: number;
  private readonly now: () => number;
  private readonly maxEntries: number;

  constructor(options: TtlCacheOptions) {
    if (!(options.ttlMs >= 0)) throw new RangeError(`ttlMs must be >= 0 (got ${options.ttlMs})`);
    const max = options.maxEntries ?? Infinity;
    if (!(max >= 1)) throw new RangeError(`maxEntries must be >= 1 (got ${options.maxEntries})`);
    this.ttlMs = options.ttlMs;
    this.now = options.now ?? Date.now;
    this.maxEntries = max;
  }

  /** The live value, or undefined when absent or expired (an expired entry is dropped). */
  get(key: K): V | undefined {
    return this.live(key)?.value;
  }

  has(key: K): boolean {
    return this.live(key) !== undefined;
  }

  /** Stores a value for ttlMs (or the given ttl), replacing any previous one. */
  set(key: K, value: V, ttlMs: number = this.ttlMs): this {
    this.entries.delete(key);
    this.entries.set(key, { value, expiresAt: this.now() + ttlMs });
    if (this.entries.size > this.maxEntries) this.evict();
    return this;
  }

  /**
   * The cached value, else the loader's result (cached on success). Concurrent calls for one key share a
   * single load. A rejected load is not cached and the next call loads again. A `delete` or `clear` during a
   * load discards that load's result for the cache (it may be stale), though its waiting callers still get it.
   */
  getOrLoad(key: K, loader: () => Promise<V> | V): Promise<V> {
    const cached = this.live(key);
    if (cached) return Promise.resolve(cached.value);
    const pending = this.inflight.get(key);
    if (pending) return pending;

    return this.load(key, loader);
  }

  /**
   * Reloads a live entry in the background, serving the current value until the new one is in (a key that is not
   * cached is left alone: nobody is reading it; a load of it under way is abandoned). A `delete` or `clear` during
   * the reload discards its result, as for getOrLoad; a failed reload drops the entry (the next read loads it).
   * Resolves when the reload is settled.
   */
  async refresh(key: K, loader: () => Promise<V> | V): Promise<void> {
    // A load already under way may have read the value before it changed: abandoned, as by delete.
    this.inflight.delete(key);
    if (!this.live(key)) return;
    await this.load(key, loader).catch(() => {});
  }

  /**
   * Runs `loader` as the key's in-flight load: its value is stored unless a delete, a clear or a newer load
   * took its place meanwhile; a failure stores nothing and drops what the key held (getOrLoad: nothing live).
   */
  private load(key: K, loader: () => Promise<V> | V): Promise<V> {
    let started: Promise<V>;
    try {
      started = Promise.resolve(loader());
    } catch (error) {
      started = Promise.reject(error);
    }
    const promise: Promise<V> = started.then(
      (value) => {
        if (this.inflight.get(key) === promise) {
          this.inflight.delete(key);
          this.set(key, value);
        }
        return value;
      },
      (error: unknown) => {
        if (this.inflight.get(key) === promise) {
          this.inflight.delete(key);
          this.entries.delete(key);
        }
        throw error;
      },
    );
    this.inflight.set(key, promise);
    return promise;
  }

  /** Invalidates one key (also abandons an in-flight load's write). True when a live or pending entry existed. */
  delete(key: K): boolean {
    const hadPending = this.inflight.delete(key);
    const entry = this.entries.get(key);
    const hadLive = entry !== undefined && this.now() < entry.expiresAt;
    this.entries.delete(key);
    return hadLive || hadPending;
  }

  clear(): void {
    this.entries.clear();
    this.inflight.clear();
  }

  /** Number of live (unexpired) entries; expired ones are purged on the way. */
  get size(): number {
    const now = this.now();
    for (const [key, entry] of this.entries) {
      if (now >= entry.expiresAt) this.entries.delete(key);
    }
    return this.entries.size;
  }

  private live(key: K): Entry<V> | undefined {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    if (this.now() >= entry.expiresAt) {
      this.entries.delete(key);
      return undefined;
    }
    if (this.maxEntries !== Infinity) {
      // Refresh recency for LRU eviction (Map keeps insertion order).
      this.entries.delete(key);
      this.entries.set(key, entry);
    }
    return entry;
  }

  private evict(): void {
    const now = this.now();
    for (const [key, entry] of this.entries) {
      if (now >= entry.expiresAt) this.entries.delete(key);
    }
    while (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next();
      if (oldest.done) break;
      this.entries.delete(oldest.value);
    }
  }
}
