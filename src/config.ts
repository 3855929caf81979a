// Every environment variable of api.md, parsed and validated once.
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
  /** Serve the insights page at /insights (default: on in development, off in production). */
  insightsEnabled: boolean;
  /** Days of nightly model snapshots kept (ModelOutput.history). */
  modelHistoryRetentionDays: number;
  production: boolean;
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

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const production = env.NODE_ENV === 'production';
  const jwtSecret = env.JWT_SECRET && env.JWT_SECRET !== '' ? env.JWT_SECRET : null;
  if (jwtSecret !== null && jwtSecret.length < 32) {
    throw new ConfigError('JWT_SECRET must be at least 32 characters (HS256 needs a 256-bit key)');
  }
  if (production && jwtSecret === null) {
    throw new ConfigError('JWT_SECRET is required when NODE_ENV=production');
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
    insightsEnabled: flag(env, 'INSIGHTS_ENABLED', !production),
    modelHistoryRetentionDays: integer(env, 'MODEL_HISTORY_RETENTION_DAYS', 90, 1, 3650),
    production,
  };
}
