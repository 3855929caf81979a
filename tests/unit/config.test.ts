import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.ts';

describe('loadConfig: hardening settings', () => {
  it('defaults: no CORS origin, 30-day tokens, 100 subscriptions a connection, 1 MB bodies, introspection and GraphiQL in development only', () => {
    const dev = loadConfig({});
    expect(dev).toMatchObject({ corsOrigins: [], tokenMaxLifetimeSeconds: 2_592_000, maxSubscriptionsPerConnection: 100, maxRequestBodyBytes: 1_048_576 });
    expect(dev).toMatchObject({ introspectionEnabled: true, graphiqlEnabled: true });
    const production = loadConfig({ NODE_ENV: 'production', JWT_SECRET: 'x'.repeat(32), DATABASE_URL: 'postgresql://db.example/climbiq' });
    expect(production).toMatchObject({ introspectionEnabled: false, graphiqlEnabled: false });
    expect(loadConfig({ NODE_ENV: 'production', JWT_SECRET: 'x'.repeat(32), DATABASE_URL: 'postgresql://db.example/climbiq', INTROSPECTION_ENABLED: 'true' }).introspectionEnabled).toBe(true);
  });

  it('production refuses the embedded database unless ALLOW_EMBEDDED_DATABASE_IN_PRODUCTION=true; SHUTDOWN_TIMEOUT_SECONDS is bounded', () => {
    const production = { NODE_ENV: 'production', JWT_SECRET: 'x'.repeat(32) };
    expect(() => loadConfig(production)).toThrow(/^DATABASE_URL is required when NODE_ENV=production.*ALLOW_EMBEDDED_DATABASE_IN_PRODUCTION=true/);
    expect(loadConfig({ ...production, ALLOW_EMBEDDED_DATABASE_IN_PRODUCTION: 'true' })).toMatchObject({ databaseUrl: null, allowEmbeddedDatabaseInProduction: true });
    expect(() => loadConfig({ ...production, ALLOW_EMBEDDED_DATABASE_IN_PRODUCTION: 'yes' })).toThrow(/^ALLOW_EMBEDDED_DATABASE_IN_PRODUCTION must be true or false/);
    expect(loadConfig({}).shutdownTimeoutSeconds).toBe(10);
    expect(() => loadConfig({ SHUTDOWN_TIMEOUT_SECONDS: '0' })).toThrow(/^SHUTDOWN_TIMEOUT_SECONDS must be a whole number between 1 and 3600/);
  });

  it('PGLITE_REOPEN_ATTEMPTS: 3 by default, 0 (never reopen) to 10, anything else refused naming it', () => {
    expect(loadConfig({}).pgliteReopenAttempts).toBe(3);
    expect(loadConfig({ PGLITE_REOPEN_ATTEMPTS: '0' }).pgliteReopenAttempts).toBe(0);
    expect(() => loadConfig({ PGLITE_REOPEN_ATTEMPTS: '11' })).toThrow(/^PGLITE_REOPEN_ATTEMPTS must be a whole number between 0 and 10 \(got "11"\)/);
    expect(() => loadConfig({ PGLITE_REOPEN_ATTEMPTS: 'always' })).toThrow(/^PGLITE_REOPEN_ATTEMPTS must be a whole number/);
  });

  it('PGLITE_REOPEN_TIMEOUT_SECONDS: 60 by default, 1 to 3600, anything else refused naming it', () => {
    expect(loadConfig({}).pgliteReopenTimeoutSeconds).toBe(60);
    expect(loadConfig({ PGLITE_REOPEN_TIMEOUT_SECONDS: '5' }).pgliteReopenTimeoutSeconds).toBe(5);
    expect(() => loadConfig({ PGLITE_REOPEN_TIMEOUT_SECONDS: '0' })).toThrow(/^PGLITE_REOPEN_TIMEOUT_SECONDS must be a whole number between 1 and 3600 \(got "0"\)/);
    expect(() => loadConfig({ PGLITE_REOPEN_TIMEOUT_SECONDS: '2.5' })).toThrow(/^PGLITE_REOPEN_TIMEOUT_SECONDS must be a whole number/);
  });

  it('the shared model cache and the population data caching: defaults, and bad values refused naming the setting', () => {
    expect(loadConfig({})).toMatchObject({ redisModelCacheTtlSeconds: 1800, redisCacheTimeoutMs: 500, populationCacheMaxAgeSeconds: 0 });
    expect(loadConfig({ REDIS_MODEL_CACHE_TTL_SECONDS: '0', POPULATION_CACHE_MAX_AGE_SECONDS: '600' })).toMatchObject({ redisModelCacheTtlSeconds: 0, populationCacheMaxAgeSeconds: 600 });
    expect(() => loadConfig({ REDIS_CACHE_TIMEOUT_MS: '0' })).toThrow(/^REDIS_CACHE_TIMEOUT_MS must be a whole number between 1 and 10000/);
    expect(() => loadConfig({ POPULATION_CACHE_MAX_AGE_SECONDS: '-1' })).toThrow(/^POPULATION_CACHE_MAX_AGE_SECONDS must be a whole number/);
    expect(() => loadConfig({ REDIS_MODEL_CACHE_TTL_SECONDS: 'long' })).toThrow(/^REDIS_MODEL_CACHE_TTL_SECONDS must be a whole number/);
  });

  it('FIT_WORKER_HEAP_MB: 0 (sized by the athletes) by default; a limit under 64 MB is refused naming the setting', () => {
    expect(loadConfig({}).fitWorkerHeapMb).toBe(0);
    expect(loadConfig({ FIT_WORKER_HEAP_MB: '512' }).fitWorkerHeapMb).toBe(512);
    expect(() => loadConfig({ FIT_WORKER_HEAP_MB: '16' })).toThrow(/^FIT_WORKER_HEAP_MB must be 0 \(sized by the athletes\) or at least 64/);
    expect(() => loadConfig({ FIT_WORKER_HEAP_MB: 'lots' })).toThrow(/^FIT_WORKER_HEAP_MB must be a whole number/);
  });

  it('PG_POOL_MAX: 10 connections per pool by default; zero or a non-number is refused naming the setting', () => {
    expect(loadConfig({}).pgPoolMax).toBe(10);
    expect(loadConfig({ PG_POOL_MAX: '4' }).pgPoolMax).toBe(4);
    expect(() => loadConfig({ PG_POOL_MAX: '0' })).toThrow(/^PG_POOL_MAX must be a whole number between 1 and 1000/);
    expect(() => loadConfig({ PG_POOL_MAX: 'many' })).toThrow(/^PG_POOL_MAX must be a whole number/);
  });

  it('CORS_ORIGINS takes exact origins and refuses wildcards and paths, naming the variable', () => {
    expect(loadConfig({ CORS_ORIGINS: 'https://app.example.com, http://localhost:5173' }).corsOrigins).toEqual(['https://app.example.com', 'http://localhost:5173']);
    for (const bad of ['*', 'https://app.example.com/', 'app.example.com', 'ftp://files.example.com']) {
      expect(() => loadConfig({ CORS_ORIGINS: bad }), bad).toThrow(/^CORS_ORIGINS must list origins/);
    }
    expect(() => loadConfig({ GRAPHIQL_ENABLED: 'yes' })).toThrow(/^GRAPHIQL_ENABLED must be true or false/);
    expect(() => loadConfig({ MAX_REQUEST_BODY_BYTES: '-1' })).toThrow(/^MAX_REQUEST_BODY_BYTES must be a whole number/);
  });

  it('PERSISTED_OPERATIONS: off by default; when set, GraphiQL (which sends documents) is off and cannot be turned on', () => {
    expect(loadConfig({}).persistedOperationsFile).toBeNull();
    const persisted = loadConfig({ PERSISTED_OPERATIONS: 'persisted-operations.json' });
    expect(persisted.persistedOperationsFile).toBe(path.resolve('persisted-operations.json'));
    expect(persisted.graphiqlEnabled).toBe(false);
    expect(() => loadConfig({ PERSISTED_OPERATIONS: 'persisted-operations.json', GRAPHIQL_ENABLED: 'true' })).toThrow(/^GRAPHIQL_ENABLED=true cannot be combined with PERSISTED_OPERATIONS/);
  });
});

describe('loadConfig: token settings', () => {
  const secret = 'x'.repeat(32);
  it('defaults: role at "role", athlete when left out, no provider, 30 s JWKS cooldown', () => {
    expect(loadConfig({})).toMatchObject({ jwtRoleClaim: 'role', jwtDefaultRole: 'ATHLETE', jwtJwksUrl: null, jwtIssuer: null, jwtAudience: [], jwtJwksCooldownSeconds: 30 });
    expect(loadConfig({ JWT_DEFAULT_ROLE: 'none' }).jwtDefaultRole).toBeNull();
    expect(loadConfig({ JWT_DEFAULT_ROLE: 'Coach', JWT_AUDIENCE: 'a, b' })).toMatchObject({ jwtDefaultRole: 'COACH', jwtAudience: ['a', 'b'] });
  });

  it('production takes JWT_JWKS_URL instead of JWT_SECRET, with an issuer and over https', () => {
    const provider = {
      NODE_ENV: 'production',
      DATABASE_URL: 'postgresql://climbiq@127.0.0.1:5432/climbiq',
      JWT_JWKS_URL: 'https://example.eu.auth0.com/.well-known/jwks.json',
      JWT_ISSUER: 'https://example.eu.auth0.com/',
    };
    expect(loadConfig(provider)).toMatchObject({ jwtSecret: null, jwtJwksUrl: provider.JWT_JWKS_URL });
    expect(() => loadConfig({ NODE_ENV: 'production', DATABASE_URL: provider.DATABASE_URL })).toThrow(/^JWT_SECRET or JWT_JWKS_URL is required when NODE_ENV=production/);
    expect(() => loadConfig({ ...provider, JWT_ISSUER: '' })).toThrow(/^JWT_ISSUER is required with JWT_JWKS_URL/);
    expect(() => loadConfig({ ...provider, JWT_JWKS_URL: 'http://keys.example/jwks.json' })).toThrow(/^JWT_JWKS_URL must be https:\/\//);
    expect(loadConfig({ JWT_JWKS_URL: 'http://127.0.0.1:9/jwks.json' }).jwtJwksUrl).toBe('http://127.0.0.1:9/jwks.json');
  });

  it('bad values are refused naming the setting', () => {
    expect(() => loadConfig({ JWT_JWKS_URL: 'not a url' })).toThrow(/^JWT_JWKS_URL is not a valid URL/);
    expect(() => loadConfig({ JWT_JWKS_URL: 'ftp://keys.example/jwks.json' })).toThrow(/^JWT_JWKS_URL must start with https:\/\/ or http:\/\//);
    expect(() => loadConfig({ JWT_ROLE_CLAIM: 'app_metadata.' })).toThrow(/^JWT_ROLE_CLAIM must be a claim name or a dot path/);
    expect(() => loadConfig({ JWT_DEFAULT_ROLE: 'owner' })).toThrow(/^JWT_DEFAULT_ROLE must be athlete, coach, analyst, admin or none/);
    expect(() => loadConfig({ JWT_SECRET_PREVIOUS: secret })).toThrow(/^JWT_SECRET_PREVIOUS needs JWT_SECRET/);
    expect(() => loadConfig({ JWT_SECRET: secret, JWT_SECRET_PREVIOUS: 'short' })).toThrow(/^JWT_SECRET_PREVIOUS must be at least 32 characters/);
    expect(() => loadConfig({ JWT_JWKS_COOLDOWN_SECONDS: '-1' })).toThrow(/^JWT_JWKS_COOLDOWN_SECONDS must be a whole number/);
  });

  it('DATABASE_REPLICA_URLS: none by default; postgresql:// URLs beside DATABASE_URL, each refusal naming the variable; REPLICA_MAX_LAG_SECONDS defaults to 30', () => {
    expect(loadConfig({})).toMatchObject({ databaseReplicaUrls: [], replicaMaxLagSeconds: 30, replicaCheckIntervalSeconds: 5 });
    const primary = { DATABASE_URL: 'postgresql://db.example/climbiq' };
    expect(loadConfig({ ...primary, DATABASE_REPLICA_URLS: ' postgresql://r1.example/climbiq , postgres://r2.example:5433/climbiq ' }).databaseReplicaUrls).toEqual([
      'postgresql://r1.example/climbiq',
      'postgres://r2.example:5433/climbiq',
    ]);
    expect(() => loadConfig({ DATABASE_REPLICA_URLS: 'postgresql://r1.example/climbiq' })).toThrow(/^DATABASE_REPLICA_URLS needs DATABASE_URL/);
    expect(() => loadConfig({ ...primary, DATABASE_REPLICA_URLS: 'postgresql://r1.example/climbiq,mysql://r2.example/climbiq' })).toThrow(
      /^DATABASE_REPLICA_URLS must list postgresql:\/\/ URLs separated by commas \(entry 2 is not one\)/,
    );
    expect(() => loadConfig({ ...primary, DATABASE_REPLICA_URLS: primary.DATABASE_URL })).toThrow(/^DATABASE_REPLICA_URLS must not list DATABASE_URL itself/);
    expect(() => loadConfig({ ...primary, DATABASE_REPLICA_URLS: 'postgresql://r1.example/climbiq,postgresql://r1.example/climbiq' })).toThrow(/^DATABASE_REPLICA_URLS lists the same URL twice/);
    expect(loadConfig({ REPLICA_MAX_LAG_SECONDS: '0' }).replicaMaxLagSeconds).toBe(0);
    expect(() => loadConfig({ REPLICA_MAX_LAG_SECONDS: '-1' })).toThrow(/^REPLICA_MAX_LAG_SECONDS must be a whole number between 0 and 86400/);
    expect(() => loadConfig({ REPLICA_CHECK_INTERVAL_SECONDS: '0' })).toThrow(/^REPLICA_CHECK_INTERVAL_SECONDS must be a whole number between 1 and 3600/);
  });
});
