// The engine's in-memory caches (domain.md section 9: rules, priors, per-athlete model outputs) on lru-cache: a time
// to live, least-recently-used eviction beyond a number of entries, concurrent loads of one key sharing one load (its
// fetch), and a reload in place that serves the current value until the new one is in. What this adds: values that
// may be null (a cached "no model" is an answer; lru-cache keeps no null), the loader given per call, and the
// discarding rules below.
import { LRUCache } from 'lru-cache';

export interface TtlCacheOptions {
  /** Time to live of an entry, in milliseconds (>= 0; 0 keeps a value 1 ms: lru-cache's shortest, reads of one moment share one load). */
  ttlMs: number;
  /** Upper bound on stored entries; the least recently used entry is evicted first. */
  maxEntries: number;
  /** Clock in milliseconds; performance.now by default (tests inject a fake one). */
  now?: () => number;
}

type Loader<V> = () => Promise<V> | V;

/** A value as lru-cache holds it. */
interface Box<V> {
  readonly value: V;
}

export class TtlCache<K extends {}, V> {
  private readonly lru: LRUCache<K, Box<V>, Loader<V>>;

  constructor({ ttlMs, maxEntries, now }: TtlCacheOptions) {
    if (!(ttlMs >= 0)) throw new RangeError(`ttlMs must be >= 0 (got ${ttlMs})`);
    if (!(Number.isInteger(maxEntries) && maxEntries >= 1)) throw new RangeError(`maxEntries must be a whole number >= 1 (got ${maxEntries})`);
    this.lru = new LRUCache<K, Box<V>, Loader<V>>({
      ttl: Math.max(1, Math.ceil(ttlMs)),
      // Entries counted as sizes of 1, not by `max`: `max` allocates its arrays for every entry up front (some 4 MB
      // for 100,000), these grow with the entries held.
      maxSize: maxEntries,
      sizeCalculation: () => 1,
      // The clock read at each lookup, not a copy of it refreshed by a timer every millisecond.
      ttlResolution: 0,
      perf: now ? { now } : undefined,
      // A delete, a clear or a newer value during a load: its callers still get its value, the cache does not keep it.
      ignoreFetchAbort: true,
      fetchMethod: async (_key, _stale, { context }) => ({ value: await context() }),
    });
  }

  /** The live value, or undefined when absent, loading for the first time, or expired (an expired entry is dropped). */
  get(key: K): V | undefined {
    return this.lru.get(key)?.value;
  }

  /** Stores a value for the cache's time to live, replacing any previous one (and abandoning a load of it). */
  set(key: K, value: V): this {
    this.lru.set(key, { value });
    return this;
  }

  /**
   * The cached value, else the loader's result (cached on success). Concurrent calls for one key share a single load.
   * A rejected load is not cached and the next call loads again. A `delete` or `clear` during a load discards that
   * load's result for the cache (it may be stale), though its waiting callers still get it.
   */
  getOrLoad(key: K, loader: Loader<V>): Promise<V> {
    const cached = this.lru.get(key);
    if (cached !== undefined) return Promise.resolve(cached.value);
    return this.lru.fetch(key, { context: loader }).then((box) => {
      // Never without a value: fetchMethod always returns one, and an abandoned load still resolves (ignoreFetchAbort).
      if (box === undefined) throw new Error(`cache load of ${String(key)} returned nothing`);
      return box.value;
    });
  }

  /**
   * Reloads a live entry in the background, serving the current value until the new one is in (a key that is not
   * cached is left alone: nobody is reading it; a load of it under way is abandoned, as is an earlier reload, which may
   * have read the value before it changed). A `delete` or `clear` during the reload discards its result, as for
   * getOrLoad; a failed reload drops the entry (the next read loads it). Resolves when the reload is settled.
   */
  async refresh(key: K, loader: Loader<V>): Promise<void> {
    const current = this.lru.get(key);
    if (current === undefined) {
      this.lru.delete(key);
      return;
    }
    this.lru.set(key, current, { noUpdateTTL: true });
    await this.lru.fetch(key, { forceRefresh: true, context: loader }).catch(() => {});
  }

  /** Invalidates one key (and abandons a load of it). True when the key was held (live, expired or loading). */
  delete(key: K): boolean {
    return this.lru.delete(key);
  }

  clear(): void {
    this.lru.clear();
  }
}
