// The application's services on an opened, migrated, seeded database: shared by the server and the CLIs.
import { describeTokens, resolveJwtSecret, tokenOptions, TokenService } from './auth.ts';
import type { Config } from './config.ts';
import type { Services } from './context.ts';
import { openAppDatabase } from './db/app-database.ts';
import { ReplicaSet } from './db/replicas.ts';
import type { LockHolder } from './db/pglite-lock.ts';
import { withSessionHook } from './db/session-hook.ts';
import { TrainingService } from './jobs/training.ts';
import { createAppPubSub } from './pubsub.ts';
import { RateLimits } from './http/rate-limits.ts';
import { EngineStore } from './engine-runtime/engine-store.ts';
import { SharedEngineCache } from './engine-runtime/shared-engine-cache.ts';
import { RecommendationWriter } from './resolvers/recommendation-store.ts';
import { streamsWaiting } from './resolvers/recommendation.ts';

export { startupFailure } from './db/app-database.ts';

export interface OpenedServices {
  services: Services;
  /** The JWT secret was generated into the data dir (development). */
  generatedSecret: boolean;
  /** Redis answers; null when REDIS_URL is unset (the readiness check). */
  pingRedis: (() => Promise<boolean>) | null;
  /** REDIS_URL (and REDIS_MODEL_CACHE_TTL_SECONDS > 0): what the instances share of the athletes' state and users. */
  sharedCache: SharedEngineCache | null;
  close(): Promise<void>;
}

export async function openServices(config: Config, opts: { log: (msg: string) => void; onQuery?: (sql: string) => void; holder?: LockHolder; pgliteImage?: Blob }): Promise<OpenedServices> {
  const { log } = opts;
  const db = await openAppDatabase(config, opts);
  const { pubsub, ping: pingRedis, close: closePubSub } = createAppPubSub(config.redisUrl, log);
  // Production without JWT_SECRET (only JWT_JWKS_URL) has no HS256 at all: no secret is generated there.
  const { secret, generated } = config.jwtSecret || !config.production ? await resolveJwtSecret(config.jwtSecret, config.dataDir) : { secret: null, generated: false };
  log(describeTokens(tokenOptions(config), secret !== null));
  let training: TrainingService | undefined;
  let engine: EngineStore | undefined;
  // Every session write through this client reports training-data changes: the athlete's cached history is
  // dropped (here and on the other instances) and the quick model update runs.
  const prisma = withSessionHook(db.prisma, (changes) => {
    for (const userId of new Set(changes.map((c) => c.userId))) engine?.invalidate({ kind: 'history', userId });
    training?.onSessionChanges(changes);
  });
  const shared =
    config.redisUrl && config.redisModelCacheTtlSeconds > 0
      ? new SharedEngineCache(config.redisUrl, { ttlSeconds: config.redisModelCacheTtlSeconds, timeoutMs: config.redisCacheTimeoutMs, log })
      : null;
  engine = new EngineStore(prisma, config, pubsub, log, shared);
  training = new TrainingService({ config, db, engine, pubsub }, { log });
  const recommendations = new RecommendationWriter(db.sql, {
    log,
    // PGlite has one connection (on its own thread, or this one with PGLITE_THREAD=false): a burst's streams' reads go
    // first. A PostgreSQL write is I/O, and another instance may wait for its row.
    deferWhile: db.kind === 'pglite' ? streamsWaiting : undefined,
    // PGlite plans every statement it is sent: the write goes through a session function, planned once.
    sessionFunction: db.kind === 'pglite',
  });
  const replicas = config.databaseReplicaUrls.length
    ? new ReplicaSet({
        urls: config.databaseReplicaUrls,
        maxLagSeconds: config.replicaMaxLagSeconds,
        checkIntervalSeconds: config.replicaCheckIntervalSeconds,
        primarySql: db.sql,
        primary: prisma,
        log,
        onQuery: opts.onQuery,
        poolMax: config.pgPoolMax,
      })
    : null;
  const services: Services = {
    config,
    db,
    prisma,
    replicas,
    tokens: new TokenService(secret, { ...tokenOptions(config), log }),
    engine,
    recommendations,
    pubsub,
    training,
    rateLimits: RateLimits.open(config),
  };
  await engine.warm();
  if (replicas) {
    await replicas.start();
    log(
      `[DB] read replicas: ${replicas
        .status()
        .map((r) => `${r.name} ${r.state}${r.lagSeconds !== null ? ` (lag ${r.lagSeconds} s)` : ''}${r.state === 'up' ? '' : ` (${r.detail}): its reads go to the primary until it is back`}`)
        .join(', ')}`,
    );
  }
  return {
    services,
    generatedSecret: generated,
    pingRedis,
    sharedCache: shared,
    async close() {
      await services.training.stop();
      await recommendations.close();
      await engine.close();
      await services.rateLimits.close();
      await replicas?.close();
      await closePubSub();
      await db.close();
    },
  };
}
