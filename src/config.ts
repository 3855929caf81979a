// Every environment variable (README "Environment"), parsed and validated once.
import path from 'node:path';
import cron from 'node-cron';
import { ROLES, type Role } from './auth.ts';

export interface Config {
  port: number;
  host: string;
  /** PostgreSQL server URL; null means embedded PGlite in pgliteDir. */
  databaseUrl: string | null;
  /** Read replicas (streaming standbys) of DATABASE_URL for lag-tolerant reads; empty: every read on the primary. */
  databaseReplicaUrls: string[];
  /** A replica further behind than this (seconds) is skipped until it catches up. */
  replicaMaxLagSeconds: number;
  /** Seconds between checks of each replica's state and lag. */
  replicaCheckIntervalSeconds: number;
  pgliteDir: string;
  /** Where development state lives (generated JWT secret): the parent of pgliteDir. */
  dataDir: string;
  redisUrl: string | null;
  /** HS256 secret; null means "generate one into the data dir" (development only), or no HS256 (production with JWT_JWKS_URL). */
  jwtSecret: string | null;
  /** A second HS256 secret still accepted (never used to mint) while clients move to JWT_SECRET. */
  jwtSecretPrevious: string | null;
  /** The identity provider's JSON Web Key Set: RS256 / ES256 tokens are verified against it. */
  jwtJwksUrl: string | null;
  /** Seconds after a key-set fetch before a token with an unknown kid may fetch it again. */
  jwtJwksCooldownSeconds: number;
  /** Required `iss` of every token (and carried by minted ones). */
  jwtIssuer: string | null;
  /** `aud` must include one of these; empty: not checked. */
  jwtAudience: string[];
  /** Claim path of the role: a claim name, or a dot path into nested claims (app_metadata.role). */
  jwtRoleClaim: string;
  /** Role of a token without one; null: such tokens are refused. */
  jwtDefaultRole: Role | null;
  nightlyTrainingCron: string;
  rulesCacheTtlSeconds: number;
  priorsCacheTtlSeconds: number;
  modelCacheTtlSeconds: number;
  /** With REDIS_URL: seconds the per-athlete engine state lives in Redis, shared by the instances; 0: not shared. */
  redisModelCacheTtlSeconds: number;
  /** Longest wait for one Redis call of that cache before the database answers instead. */
  redisCacheTimeoutMs: number;
  /** max-age of the population data's public, cacheable GET answers (docs/api.md "HTTP caching"); 0 (default): off, every answer private. */
  populationCacheMaxAgeSeconds: number;
  /** Per-viewer budget of each expensive operation; null: not limited. */
  rateLimits: Record<RateLimitedOperation, RateLimit | null>;
  /** Serve the insights page at /insights (default: on in development, off in production). */
  insightsEnabled: boolean;
  /** Days of nightly model snapshots kept (ModelOutput.history). */
  modelHistoryRetentionDays: number;
  /** The nightly fit worker's JS heap limit in MB; 0 (default): sized by the athletes (fitHeapLimitMb). */
  fitWorkerHeapMb: number;
  production: boolean;
  /** Origins answered cross-origin (CORS) and allowed to open a WebSocket; empty: same origin only. */
  corsOrigins: string[];
  /** Tokens whose lifetime (exp - iat, or exp - now) is longer are refused; `npm run token` mints at most this. */
  tokenMaxLifetimeSeconds: number;
  /** Operations open at once on one graphql-ws connection. */
  maxSubscriptionsPerConnection: number;
  /** Larger request bodies are refused with 413 while they are read. */
  maxRequestBodyBytes: number;
  /** Default: on in development, off in production. */
  introspectionEnabled: boolean;
  graphiqlEnabled: boolean;
  /** Manifest of trusted documents (operation id -> document): only those run. Null: any document runs. */
  persistedOperationsFile: string | null;
  /** Longest graceful stop after SIGTERM / SIGINT before the process exits anyway (with 1). */
  shutdownTimeoutSeconds: number;
  /** NODE_ENV=production on embedded PGlite was asked for explicitly (otherwise refused at start). */
  allowEmbeddedDatabaseInProduction: boolean;
  /** PGLITE_THREAD: the embedded database runs on a worker thread of its own (true) or on the API's thread. */
  pgliteThread: boolean;
  /** PGLITE_REOPEN_ATTEMPTS: times the embedded database's thread is opened again after it ends unexpectedly (0: never; the server then exits 1). */
  pgliteReopenAttempts: number;
  /** PGLITE_REOPEN_TIMEOUT_SECONDS: how long one attempt to reopen it may take before its thread is ended and the attempt counts as failed. */
  pgliteReopenTimeoutSeconds: number;
  /** PG_POOL_MAX: connections in each PostgreSQL pool (the primary's, each replica's). */
  pgPoolMax: number;
}

/** At most `points` calls per viewer in any window of `durationSeconds` (shared by every instance through Redis). */
export interface RateLimit {
  points: number;
  durationSeconds: number;
}

/**
 * The expensive operations and their default budgets. A field opts in with the Pothos field option
 * `rateLimit: '<name>'`; its setting is RATE_LIMIT_<NAME> in upper snake case (e.g. RATE_LIMIT_TRAIN_USER_MODEL).
 */
export const RATE_LIMIT_DEFAULTS = {
  /** The recommendation query and the preSessionRecommendation stream share one budget. */
  recommendation: { points: 60, durationSeconds: 60 },
  trainUserModel: { points: 10, durationSeconds: 3600 },
  runNightlyTraining: { points: 12, durationSeconds: 3600 },
  /** The analysts' aggregates. */
  insights: { points: 30, durationSeconds: 60 },
  modelQuality: { points: 30, durationSeconds: 60 },
  /** An athlete's coach invitations. */
  createCoachInvitation: { points: 20, durationSeconds: 3600 },
  /** A coach's redemptions: with 160-bit codes, guessing is hopeless anyway. */
  acceptCoachInvitation: { points: 30, durationSeconds: 3600 },
} as const satisfies Record<string, RateLimit>;

export type RateLimitedOperation = keyof typeof RATE_LIMIT_DEFAULTS;

export const rateLimitVariable = (operation: RateLimitedOperation) => `RATE_LIMIT_${operation.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase()}`;

/** "<calls>/<seconds>" (e.g. 60/60), or "off". */
function rateLimit(env: NodeJS.ProcessEnv, operation: RateLimitedOperation): RateLimit | null {
  const name = rateLimitVariable(operation);
  const raw = env[name];
  if (raw === undefined || raw === '') return RATE_LIMIT_DEFAULTS[operation];
  if (raw === 'off') return null;
  const match = /^(\d+)\/(\d+)$/.exec(raw);
  const points = Number(match?.[1]);
  const durationSeconds = Number(match?.[2]);
  if (!match || points < 1 || points > 1_000_000 || durationSeconds < 1 || durationSeconds > 86_400) {
    throw new ConfigError(`${name} must be <calls>/<seconds> (calls 1-1000000, seconds 1-86400), e.g. 60/60, or off (got "${raw}")`);
  }
  return { points, durationSeconds };
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

function integer(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new ConfigError(`${name} must be a whole number between ${min} and ${max} (got "${raw}")`);
  }
  return value;
}

/** FIT_WORKER_HEAP_MB: 0 (sized by the athletes) or at least 64 MB (the worker's modules alone take about 12). */
function fitWorkerHeapMb(env: NodeJS.ProcessEnv): number {
  const mb = integer(env, 'FIT_WORKER_HEAP_MB', 0, 0, 1_048_576);
  if (mb > 0 && mb < 64) throw new ConfigError(`FIT_WORKER_HEAP_MB must be 0 (sized by the athletes) or at least 64 (got "${env.FIT_WORKER_HEAP_MB}")`);
  return mb;
}

function flag(env: NodeJS.ProcessEnv, name: string, fallback: boolean): boolean {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (raw === 'true' || raw === '1') return true;
  if (raw === 'false' || raw === '0') return false;
  throw new ConfigError(`${name} must be true or false (got "${raw}")`);
}

function url(env: NodeJS.ProcessEnv, name: string, protocols: string[]): string | null {
  const raw = env[name];
  if (raw === undefined || raw === '') return null;
  let parsed: URL;
  try {
    parsed = new URL(raw);
  } catch {
    throw new ConfigError(`${name} is not a valid URL`);
  }
  if (!protocols.includes(parsed.protocol)) {
    throw new ConfigError(`${name} must start with ${protocols.map((p) => `${p}//`).join(' or ')}`);
  }
  return raw;
}

/** Comma-separated PostgreSQL URLs (DATABASE_REPLICA_URLS), each checked like DATABASE_URL; they need DATABASE_URL. */
function replicaUrls(env: NodeJS.ProcessEnv, databaseUrl: string | null): string[] {
  const name = 'DATABASE_REPLICA_URLS';
  const list = (env[name] ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  list.forEach((raw, i) => {
    let parsed: URL | null = null;
    try {
      parsed = new URL(raw);
    } catch {
      // reported below
    }
    if (!parsed || !['postgres:', 'postgresql:'].includes(parsed.protocol)) {
      throw new ConfigError(`${name} must list postgresql:// URLs separated by commas (entry ${i + 1} is not one)`);
    }
  });
  if (list.length && !databaseUrl) {
    throw new ConfigError(`${name} needs DATABASE_URL: replicas are standbys of a PostgreSQL server (the embedded database has none)`);
  }
  if (new Set(list).size !== list.length) throw new ConfigError(`${name} lists the same URL twice`);
  if (databaseUrl && list.includes(databaseUrl)) throw new ConfigError(`${name} must not list DATABASE_URL itself (the primary)`);
  return list;
}

/** Comma-separated origins, each exactly scheme://host[:port] as a browser sends it in the Origin header. */
function origins(env: NodeJS.ProcessEnv, name: string): string[] {
  const raw = env[name] ?? '';
  return raw
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((origin) => {
      let parsed: URL | null = null;
      try {
        parsed = new URL(origin);
      } catch {
        // reported below
      }
      if (!parsed || !['http:', 'https:'].includes(parsed.protocol) || parsed.origin !== origin) {
        throw new ConfigError(`${name} must list origins like https://app.example.com (scheme://host[:port], no path or "*"; got "${origin}")`);
      }
      return origin;
    });
}

/** The token settings (JWT_*): HS256 secrets, the identity provider's keys, issuer, audience, role claim. */
function tokenSettings(env: NodeJS.ProcessEnv, production: boolean) {
  const secret = (name: string) => {
    const value = env[name] || null;
    if (value !== null && value.length < 32) throw new ConfigError(`${name} must be at least 32 characters (HS256 needs a 256-bit key)`);
    return value;
  };
  const jwtSecret = secret('JWT_SECRET');
  const jwtSecretPrevious = secret('JWT_SECRET_PREVIOUS');
  if (jwtSecretPrevious && !jwtSecret) throw new ConfigError('JWT_SECRET_PREVIOUS needs JWT_SECRET (the secret that mints from now on)');
  if (jwtSecretPrevious && jwtSecretPrevious === jwtSecret) throw new ConfigError('JWT_SECRET_PREVIOUS must differ from JWT_SECRET');
  const jwtJwksUrl = url(env, 'JWT_JWKS_URL', ['https:', 'http:']);
  if (jwtJwksUrl && production && new URL(jwtJwksUrl).protocol !== 'https:') {
    throw new ConfigError('JWT_JWKS_URL must be https:// when NODE_ENV=production (keys fetched over plain http can be replaced on the way)');
  }
  if (production && !jwtSecret && !jwtJwksUrl) {
    throw new ConfigError('JWT_SECRET or JWT_JWKS_URL is required when NODE_ENV=production');
  }
  const jwtIssuer = env.JWT_ISSUER || null;
  if (jwtJwksUrl && production && !jwtIssuer) {
    throw new ConfigError("JWT_ISSUER is required with JWT_JWKS_URL when NODE_ENV=production (the provider's iss, e.g. https://example.eu.auth0.com/)");
  }
  const jwtAudience = (env.JWT_AUDIENCE ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const jwtRoleClaim = env.JWT_ROLE_CLAIM || 'role';
  if (jwtRoleClaim.split('.').some((part) => part.trim() === '')) {
    throw new ConfigError(`JWT_ROLE_CLAIM must be a claim name or a dot path like app_metadata.role (got "${jwtRoleClaim}")`);
  }
  const defaultRole = (env.JWT_DEFAULT_ROLE || 'athlete').toUpperCase();
  if (defaultRole !== 'NONE' && !(ROLES as readonly string[]).includes(defaultRole)) {
    throw new ConfigError(`JWT_DEFAULT_ROLE must be athlete, coach, analyst, admin or none (got "${env.JWT_DEFAULT_ROLE}")`);
  }
  return {
    jwtSecret,
    jwtSecretPrevious,
    jwtJwksUrl,
    jwtJwksCooldownSeconds: integer(env, 'JWT_JWKS_COOLDOWN_SECONDS', 30, 0, 3600),
    jwtIssuer,
    jwtAudience,
    jwtRoleClaim,
    jwtDefaultRole: defaultRole === 'NONE' ? null : (defaultRole as Role),
  };
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const production = env.NODE_ENV === 'production';
  const persistedOperationsFile = env.PERSISTED_OPERATIONS ? path.resolve(env.PERSISTED_OPERATIONS) : null;
  // GraphiQL sends what is typed in it as text, which that mode refuses: it is off there, and may not be turned on.
  const graphiqlEnabled = flag(env, 'GRAPHIQL_ENABLED', !production && !persistedOperationsFile);
  if (graphiqlEnabled && persistedOperationsFile) {
    throw new ConfigError('GRAPHIQL_ENABLED=true cannot be combined with PERSISTED_OPERATIONS: GraphiQL sends documents, which that mode refuses');
  }
  const nightlyTrainingCron = env.NIGHTLY_TRAINING_CRON || '0 2 * * *';
  if (!cron.validate(nightlyTrainingCron)) {
    throw new ConfigError(`NIGHTLY_TRAINING_CRON is not a valid cron expression: "${nightlyTrainingCron}"`);
  }
  const databaseUrl = url(env, 'DATABASE_URL', ['postgres:', 'postgresql:']);
  const allowEmbeddedDatabaseInProduction = flag(env, 'ALLOW_EMBEDDED_DATABASE_IN_PRODUCTION', false);
  if (production && databaseUrl === null && !allowEmbeddedDatabaseInProduction) {
    throw new ConfigError(
      'DATABASE_URL is required when NODE_ENV=production: the embedded database (PGlite) is one process on one disk, with no replicas and no online backup (docs/operations.md). Set DATABASE_URL=postgresql://user:pass@host:5432/db, or ALLOW_EMBEDDED_DATABASE_IN_PRODUCTION=true to run on PGlite anyway',
    );
  }
  const pgliteDir = env.PGLITE_DIR || './data/pglite';
  // memory:// is PGlite's in-memory database (nothing on disk), not a directory named "memory:".
  const inMemoryPglite = pgliteDir.startsWith('memory://');
  return {
    port: integer(env, 'PORT', 4000, 0, 65535),
    host: env.HOST || '127.0.0.1',
    databaseUrl,
    databaseReplicaUrls: replicaUrls(env, databaseUrl),
    replicaMaxLagSeconds: integer(env, 'REPLICA_MAX_LAG_SECONDS', 30, 0, 86_400),
    replicaCheckIntervalSeconds: integer(env, 'REPLICA_CHECK_INTERVAL_SECONDS', 5, 1, 3600),
    pgliteDir: inMemoryPglite ? 'memory://' : path.resolve(pgliteDir),
    dataDir: path.dirname(path.resolve(inMemoryPglite ? './data/pglite' : pgliteDir)),
    redisUrl: url(env, 'REDIS_URL', ['redis:', 'rediss:']),
    ...tokenSettings(env, production),
    nightlyTrainingCron,
    rulesCacheTtlSeconds: integer(env, 'RULES_CACHE_TTL_SECONDS', 300, 0, 86_400),
    priorsCacheTtlSeconds: integer(env, 'PRIORS_CACHE_TTL_SECONDS', 600, 0, 86_400),
    modelCacheTtlSeconds: integer(env, 'MODEL_CACHE_TTL_SECONDS', 1800, 0, 86_400),
    redisModelCacheTtlSeconds: integer(env, 'REDIS_MODEL_CACHE_TTL_SECONDS', 1800, 0, 7 * 86_400),
    redisCacheTimeoutMs: integer(env, 'REDIS_CACHE_TIMEOUT_MS', 500, 1, 10_000),
    populationCacheMaxAgeSeconds: integer(env, 'POPULATION_CACHE_MAX_AGE_SECONDS', 0, 0, 86_400),
    rateLimits: Object.fromEntries((Object.keys(RATE_LIMIT_DEFAULTS) as RateLimitedOperation[]).map((operation) => [operation, rateLimit(env, operation)])) as Record<
      RateLimitedOperation,
      RateLimit | null
    >,
    insightsEnabled: flag(env, 'INSIGHTS_ENABLED', !production),
    modelHistoryRetentionDays: integer(env, 'MODEL_HISTORY_RETENTION_DAYS', 90, 1, 3650),
    fitWorkerHeapMb: fitWorkerHeapMb(env),
    production,
    corsOrigins: origins(env, 'CORS_ORIGINS'),
    tokenMaxLifetimeSeconds: integer(env, 'TOKEN_MAX_LIFETIME_SECONDS', 30 * 86_400, 60, 365 * 86_400),
    maxSubscriptionsPerConnection: integer(env, 'MAX_SUBSCRIPTIONS_PER_CONNECTION', 100, 1, 100_000),
    maxRequestBodyBytes: integer(env, 'MAX_REQUEST_BODY_BYTES', 1_048_576, 1024, 1_073_741_824),
    introspectionEnabled: flag(env, 'INTROSPECTION_ENABLED', !production),
    graphiqlEnabled,
    persistedOperationsFile,
    shutdownTimeoutSeconds: integer(env, 'SHUTDOWN_TIMEOUT_SECONDS', 10, 1, 3600),
    allowEmbeddedDatabaseInProduction,
    pgliteThread: flag(env, 'PGLITE_THREAD', true),
    pgliteReopenAttempts: integer(env, 'PGLITE_REOPEN_ATTEMPTS', 3, 0, 10),
    pgliteReopenTimeoutSeconds: integer(env, 'PGLITE_REOPEN_TIMEOUT_SECONDS', 60, 1, 3600),
    pgPoolMax: integer(env, 'PG_POOL_MAX', 10, 1, 1000),
  };
}
