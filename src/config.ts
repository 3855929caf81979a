// Every environment variable (README "Environment"), parsed and validated once.
import path from 'node:path';
import cron from 'node-cron';

export interface Config {
  port: number;
  host: string;
  /** PostgreSQL server URL; null means embedded PGlite in pgliteDir. */
  databaseUrl: string | null;
  pgliteDir: string;
  /** Where development state lives (generated JWT secret): the parent of pgliteDir. */
  dataDir: string;
  redisUrl: string | null;
  /** HS256 secret; null means "generate one into the data dir" (development only). */
  jwtSecret: string | null;
  nightlyTrainingCron: string;
  rulesCacheTtlSeconds: number;
  priorsCacheTtlSeconds: number;
  modelCacheTtlSeconds: number;
  /** Per-viewer budget of each expensive operation; null: not limited. */
  rateLimits: Record<RateLimitedOperation, RateLimit | null>;
  /** Serve the insights page at /insights (default: on in development, off in production). */
  insightsEnabled: boolean;
  /** Days of nightly model snapshots kept (ModelOutput.history). */
  modelHistoryRetentionDays: number;
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

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const production = env.NODE_ENV === 'production';
  const jwtSecret = env.JWT_SECRET && env.JWT_SECRET !== '' ? env.JWT_SECRET : null;
  if (jwtSecret !== null && jwtSecret.length < 32) {
    throw new ConfigError('JWT_SECRET must be at least 32 characters (HS256 needs a 256-bit key)');
  }
  if (production && jwtSecret === null) {
    throw new ConfigError('JWT_SECRET is required when NODE_ENV=production');
  }
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
  return {
    port: integer(env, 'PORT', 4000, 0, 65535),
    host: env.HOST || '127.0.0.1',
    databaseUrl: url(env, 'DATABASE_URL', ['postgres:', 'postgresql:']),
    pgliteDir: path.resolve(env.PGLITE_DIR || './data/pglite'),
    dataDir: path.dirname(path.resolve(env.PGLITE_DIR || './data/pglite')),
    redisUrl: url(env, 'REDIS_URL', ['redis:', 'rediss:']),
    jwtSecret,
    nightlyTrainingCron,
    rulesCacheTtlSeconds: integer(env, 'RULES_CACHE_TTL_SECONDS', 300, 0, 86_400),
    priorsCacheTtlSeconds: integer(env, 'PRIORS_CACHE_TTL_SECONDS', 600, 0, 86_400),
    modelCacheTtlSeconds: integer(env, 'MODEL_CACHE_TTL_SECONDS', 1800, 0, 86_400),
    rateLimits: Object.fromEntries((Object.keys(RATE_LIMIT_DEFAULTS) as RateLimitedOperation[]).map((operation) => [operation, rateLimit(env, operation)])) as Record<
      RateLimitedOperation,
      RateLimit | null
    >,
    insightsEnabled: flag(env, 'INSIGHTS_ENABLED', !production),
    modelHistoryRetentionDays: integer(env, 'MODEL_HISTORY_RETENTION_DAYS', 90, 1, 3650),
    production,
    corsOrigins: origins(env, 'CORS_ORIGINS'),
    tokenMaxLifetimeSeconds: integer(env, 'TOKEN_MAX_LIFETIME_SECONDS', 30 * 86_400, 60, 365 * 86_400),
    maxSubscriptionsPerConnection: integer(env, 'MAX_SUBSCRIPTIONS_PER_CONNECTION', 100, 1, 100_000),
    maxRequestBodyBytes: integer(env, 'MAX_REQUEST_BODY_BYTES', 1_048_576, 1024, 1_073_741_824),
    introspectionEnabled: flag(env, 'INTROSPECTION_ENABLED', !production),
    graphiqlEnabled,
    persistedOperationsFile,
  };
}
