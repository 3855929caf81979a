// Per-viewer budgets of the expensive operations (rate-limiter-flexible): counted in Redis when REDIS_URL is set,
// so every instance draws on the same budget, otherwise in this process.
import { Redis } from 'ioredis';
import { closeRedis } from '../redis.ts';
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';
import type { Viewer } from '../auth.ts';
import type { Config, RateLimit, RateLimitedOperation } from '../config.ts';
import { rateLimited } from '../errors.ts';

export class RateLimits {
  private readonly limiters = new Map<RateLimitedOperation, { limit: RateLimit; limiter: RateLimiterAbstract }>();

  private constructor(private readonly redis: Redis | null) {}

  static open(config: Pick<Config, 'rateLimits' | 'redisUrl'>): RateLimits {
    // No offline queue: while Redis is unreachable a call fails at once and the in-memory insurance limiter
    // answers, instead of requests waiting for a reconnect.
    const redis = config.redisUrl ? new Redis(config.redisUrl, { enableOfflineQueue: false, maxRetriesPerRequest: 1 }) : null;
    // Its failed reconnections are not logged here: the in-memory insurance limiter answers meanwhile, and the
    // pub/sub's connections log the Redis outage once (src/pubsub.ts).
    redis?.on('error', () => {});
    const limits = new RateLimits(redis);
    for (const [operation, limit] of Object.entries(config.rateLimits) as [RateLimitedOperation, RateLimit | null][]) {
      if (!limit) continue;
      const options = { points: limit.points, duration: limit.durationSeconds, keyPrefix: `climbiq:rate:${operation}` };
      const limiter = redis ? new RateLimiterRedis({ ...options, storeClient: redis, insuranceLimiter: new RateLimiterMemory(options) }) : new RateLimiterMemory(options);
      limits.limiters.set(operation, { limit, limiter });
    }
    return limits;
  }

  /** Whether `operation` has a budget at all (RATE_LIMIT_<NAME> not `off`). */
  limits(operation: RateLimitedOperation): boolean {
    return this.limiters.has(operation);
  }

  /** Counts one call of `operation` by the viewer; throws RATE_LIMITED (HTTP 429, Retry-After) over the budget. */
  async consume(viewer: Viewer, operation: RateLimitedOperation): Promise<void> {
    const entry = this.limiters.get(operation);
    if (!entry) return;
    try {
      await entry.limiter.consume(viewer.id);
    } catch (refusal) {
      if (!(refusal instanceof RateLimiterRes)) throw refusal;
      const retryAfterSeconds = Math.max(1, Math.ceil(refusal.msBeforeNext / 1000));
      const { points, durationSeconds } = entry.limit;
      throw rateLimited(`Too many ${operation} requests: at most ${points} per ${durationSeconds} s. Try again in ${retryAfterSeconds} s.`, retryAfterSeconds);
    }
  }

  async close(): Promise<void> {
    if (this.redis) await closeRedis(this.redis);
  }
}
