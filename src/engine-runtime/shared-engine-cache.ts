// The per-athlete engine state (model, current baseline, recent history) shared by every instance through Redis
// (REDIS_URL), behind each instance's own in-memory cache: a new or restarted instance answers a known athlete
// from Redis instead of the database. EngineStore's batched loaders read through it; its invalidations drop the
// Redis entry before they are published, so no instance reloads the old value from Redis.
//
// It also remembers which users' rows exist (createUserRegistry), so that a new instance's first request of a known
// athlete reads nothing from the database at all.
//
// Redis is an accelerator, never a dependency: every call is bounded (REDIS_CACHE_TIMEOUT_MS, no offline queue),
// and a failure sends the reads to the database (Redis is then left alone for a few seconds, and the failure is
// logged once). An invalidation that could not reach Redis makes every entry written before it invalid (the epoch
// below), so a value that outlived its invalidation is never served.
import { deserialize, serialize } from 'node:v8';
import { Redis } from 'ioredis';
import { closeRedis } from '../redis.ts';

export type SharedEngineKind = 'model' | 'baseline' | 'history';

export interface SharedEngineCacheOptions {
  /** Seconds an entry lives in Redis (it is also dropped at once by every write of that athlete's state). */
  ttlSeconds: number;
  /** Longest wait for one Redis call before the database answers instead. */
  timeoutMs: number;
  log: (msg: string) => void;
}

const PREFIX = 'climbiq:engine:v1';
const EPOCH_KEY = `${PREFIX}:epoch`;
/**
 * After this many failed calls in a row (timeouts: an unreachable Redis fails at once, no offline queue), reads skip
 * Redis for RETRY_AFTER_MS: a slow Redis costs one timeout per window, not one per check-in.
 */
const FAILURES_BEFORE_SKIPPING = 3;
const RETRY_AFTER_MS = 5_000;

/**
 * Writes a loaded value only if no invalidation of that entry (its generation) and no epoch change happened since
 * it was read: a load racing an invalidation on another instance cannot put the old value back.
 * KEYS: value, generation, epoch. ARGV: generation read, epoch read, payload, ttl.
 */
const SET_IF_UNCHANGED = `
if (redis.call('GET', KEYS[2]) or '') == ARGV[1] and (redis.call('GET', KEYS[3]) or '') == ARGV[2] then
  redis.call('SET', KEYS[1], ARGV[3], 'EX', ARGV[4])
  return 1
end
return 0`;

interface Stored<V> {
  /** The epoch the value was written under: a value of an older epoch is a miss. */
  epoch: string;
  value: V;
}

interface Entry<V> {
  id: string;
  /** The entry's generation when it was read ('' for none): the write-back checks it is unchanged. */
  generation: string;
  hit: boolean;
  value?: V;
}

interface ScriptCommands {
  setIfUnchanged(value: string, generation: string, epoch: string, readGeneration: string, readEpoch: string, payload: Buffer, ttl: number): unknown;
}

export class SharedEngineCache {
  private readonly redis: Redis & ScriptCommands;
  private skipUntil = 0;
  private failing = false;
  private failuresInARow = 0;
  /** An invalidation did not reach Redis: the epoch is bumped (every entry dropped) before Redis is read again. */
  private epochBumpPending = false;
  /** Counters since start (tests, benchmarks). */
  readonly stats = { hits: 0, misses: 0, failures: 0 };

  constructor(
    url: string,
    private readonly options: SharedEngineCacheOptions,
  ) {
    // No offline queue and no retries: while Redis is unreachable a call fails at once, and a slow one times out.
    this.redis = new Redis(url, { enableOfflineQueue: false, maxRetriesPerRequest: 0, commandTimeout: options.timeoutMs, connectTimeout: 2_000 }) as Redis & ScriptCommands;
    this.redis.defineCommand('setIfUnchanged', { numberOfKeys: 3, lua: SET_IF_UNCHANGED });
    // ioredis reports connection errors as events; the failure is logged once by the call that meets it.
    this.redis.on('error', () => {});
    // An invalidation that missed Redis: every entry is dropped as soon as it is back, not at the next read.
    this.redis.on('ready', () => {
      if (this.epochBumpPending) this.bumpEpoch().catch(() => {});
    });
  }

  private key(kind: SharedEngineKind, userId: string): string {
    return `${PREFIX}:${kind}:${userId}`;
  }

  private generationKey(kind: SharedEngineKind, userId: string): string {
    return `${PREFIX}:${kind}:${userId}:gen`;
  }

  private available(): boolean {
    return Date.now() >= this.skipUntil && this.redis.status === 'ready';
  }

  private failed(err: unknown): void {
    this.stats.failures++;
    if (++this.failuresInARow >= FAILURES_BEFORE_SKIPPING) this.skipUntil = Date.now() + RETRY_AFTER_MS;
    if (!this.failing) this.options.log(`[CACHE] Redis model cache unavailable (${(err as Error).message}); reading from the database meanwhile`);
    this.failing = true;
  }

  private succeeded(): void {
    this.failuresInARow = 0;
    if (this.failing) this.options.log('[CACHE] Redis model cache answering again');
    this.failing = false;
  }

  /**
   * A DataLoader batch function: the ids found in Redis come from there, the others from `load` (the database),
   * and are written to Redis for the other instances. Any Redis failure: all from `load`.
   */
  through<V>(kind: SharedEngineKind, load: (ids: readonly string[]) => Promise<V[]>): (ids: readonly string[]) => Promise<V[]> {
    return async (ids) => {
      const found = await this.read<V>(kind, ids);
      if (!found) return load(ids);
      const missing = found.entries.filter((e) => !e.hit);
      if (missing.length === 0) return found.entries.map((e) => e.value as V);
      const loaded = await load(missing.map((e) => e.id));
      this.write(
        kind,
        found.epoch,
        missing.map((e, j) => ({ ...e, value: loaded[j] })),
      );
      let next = 0;
      return found.entries.map((e) => (e.hit ? (e.value as V) : loaded[next++]));
    };
  }

  private async read<V>(kind: SharedEngineKind, ids: readonly string[]): Promise<{ epoch: string; entries: Entry<V>[] } | null> {
    if (!this.available()) return null;
    try {
      if (this.epochBumpPending) await this.bumpEpoch();
      const replies = await this.redis.mgetBuffer(EPOCH_KEY, ...ids.map((id) => this.key(kind, id)), ...ids.map((id) => this.generationKey(kind, id)));
      this.succeeded();
      const epoch = replies[0]?.toString() ?? '';
      const entries = ids.map((id, i): Entry<V> => {
        const generation = replies[1 + ids.length + i]?.toString() ?? '';
        const raw = replies[1 + i];
        if (raw) {
          try {
            const stored = deserialize(raw) as Stored<V>;
            if (stored.epoch === epoch) return { id, generation, hit: true, value: stored.value };
          } catch {
            // Written by another version (or damaged): a miss, overwritten by the load.
          }
        }
        return { id, generation, hit: false };
      });
      const hits = entries.filter((e) => e.hit).length;
      this.stats.hits += hits;
      this.stats.misses += ids.length - hits;
      return { epoch, entries };
    } catch (err) {
      this.failed(err);
      return null;
    }
  }

  private write<V>(kind: SharedEngineKind, epoch: string, entries: readonly Entry<V>[]): void {
    const pipeline = this.redis.pipeline() as ReturnType<Redis['pipeline']> & Pick<ScriptCommands, 'setIfUnchanged'>;
    for (const e of entries) {
      const payload = serialize({ epoch, value: e.value } satisfies Stored<V | undefined>);
      pipeline.setIfUnchanged(this.key(kind, e.id), this.generationKey(kind, e.id), EPOCH_KEY, e.generation, epoch, payload, this.options.ttlSeconds);
    }
    pipeline.exec().catch((err: unknown) => this.failed(err));
  }

  private async bumpEpoch(): Promise<void> {
    await this.redis.incr(EPOCH_KEY);
    this.epochBumpPending = false;
  }

  /** Whether some instance has made sure of this user's row (id and role: `createUserRegistry`). Any failure: false. */
  async userKnown(key: string): Promise<boolean> {
    if (!this.available()) return false;
    try {
      const found = await this.redis.exists(`${PREFIX}:user:${key}`);
      this.succeeded();
      return found === 1;
    } catch (err) {
      this.failed(err);
      return false;
    }
  }

  /** Records that this user's row is in the database, for the other instances. */
  userRegistered(key: string): void {
    if (!this.available()) return;
    this.redis.set(`${PREFIX}:user:${key}`, '1', 'EX', this.options.ttlSeconds).catch((err: unknown) => this.failed(err));
  }

  /**
   * Drops the athletes' entries of that kind in Redis (and bumps their generations, so a load already under way
   * does not write its old value back). Resolves when Redis has done it, or failed (then every entry is dropped
   * before the next read: the epoch); never rejects.
   */
  async drop(kind: SharedEngineKind, userIds: readonly string[]): Promise<void> {
    if (userIds.length === 0) return;
    const pipeline = this.redis.multi();
    for (const id of userIds) {
      pipeline.del(this.key(kind, id));
      pipeline.incr(this.generationKey(kind, id));
      // Generations outlive any load that read them.
      pipeline.expire(this.generationKey(kind, id), this.options.ttlSeconds + 3_600);
    }
    try {
      await pipeline.exec();
    } catch (err) {
      this.epochBumpPending = true;
      this.failed(err);
    }
  }

  async close(): Promise<void> {
    await closeRedis(this.redis);
  }
}
