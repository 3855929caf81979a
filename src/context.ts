// What every resolver receives: the viewer (from the JWT) and the application's services.
import type { Viewer } from './auth.ts';
import type { TokenService } from './auth.ts';
import type { Config } from './config.ts';
import type { Database } from './db/client.ts';
import type { ReplicaSet } from './db/replicas.ts';
import type { AppPrisma } from './db/session-hook.ts';
import type { TrainingService } from './jobs/training.ts';
import type { AppPubSub } from './pubsub.ts';
import type { RateLimits } from './http/rate-limits.ts';
import type { EngineStore } from './engine-runtime/engine-store.ts';
import type { Loaders } from './resolvers/loaders.ts';
import type { RecommendationWriter } from './resolvers/recommendation-store.ts';

export interface Services {
  config: Config;
  db: Database;
  prisma: AppPrisma;
  /** Read replicas (DATABASE_REPLICA_URLS) for lag-tolerant reads (src/resolvers/read-routing.ts); null: none set. */
  replicas: ReplicaSet | null;
  tokens: TokenService;
  engine: EngineStore;
  /** Stores every recommendation given, batched, after its answer has left. */
  recommendations: RecommendationWriter;
  pubsub: AppPubSub;
  training: TrainingService;
  rateLimits: RateLimits;
}

export interface Context {
  viewer: Viewer | null;
  /** When the viewer's token expires (ms since epoch): open subscriptions end then. Null without a viewer. */
  viewerExpiresAt: number | null;
  /**
   * True on a graphql-ws operation authenticated by the connection's own token (connectionParams): that token's
   * expiry closes the whole connection (TOKEN_EXPIRED_CLOSE_CODE) so the client reconnects with a fresh one, rather
   * than ending each stream with an error.
   */
  expiryClosesConnection?: boolean;
  services: Services;
  loaders: Loaders;
}
