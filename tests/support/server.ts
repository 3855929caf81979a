// Starts the real server on a fresh database: embedded PGlite in memory by default, or a new database on the
// PostgreSQL server named by TEST_DATABASE_URL (CI runs the suite once each way). The fresh database is a copy of
// the migrated, seeded one tests/support/global-setup.ts makes once per run (the server's own migration and seed
// then find nothing to do); without that setup (another config) each server migrates its own.
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { cp, readFile } from 'node:fs/promises';
import path from 'node:path';
import pg from 'pg';
import { inject } from 'vitest';
import { TokenService, type Role } from '../../src/auth.ts';
import { loadConfig, type Config } from '../../src/config.ts';
import { useWorkerModulesFrom } from '../../src/db/worker-module.ts';
import { startServer, type RunningServer, type StartOptions } from '../../src/server.ts';

export const TEST_JWT_SECRET = 'test-secret-test-secret-test-secret-0123456789';
export const tokens = new TokenService(TEST_JWT_SECRET);
export const usingPostgres = !!process.env.TEST_DATABASE_URL;

export interface TestServer extends RunningServer {
  databaseUrl: string | null;
  /** Drops the per-test database (PostgreSQL) after stopping the server. */
  close(): Promise<void>;
}

/** A fresh, empty database on the PostgreSQL test server; returns its URL. */
export async function createTestDatabase(): Promise<string> {
  return createDatabase('');
}

/** A fresh database on the PostgreSQL test server, already migrated and seeded (a copy of the run's template). */
export async function createMigratedTestDatabase(): Promise<string> {
  return createDatabase(inject('postgresTemplate') ?? '');
}

async function createDatabase(template: string): Promise<string> {
  const adminUrl = process.env.TEST_DATABASE_URL!;
  const name = `climbiq_test_${randomUUID().replace(/-/g, '').slice(0, 16)}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}${template ? ` TEMPLATE ${template}` : ''}`);
  } finally {
    await admin.end();
  }
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

export async function dropTestDatabase(url: string): Promise<void> {
  const name = new URL(url).pathname.slice(1);
  const admin = new pg.Client({ connectionString: process.env.TEST_DATABASE_URL! });
  await admin.connect();
  try {
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  } finally {
    await admin.end();
  }
}

/** Two instances of one deployment: servers on one fresh (migrated, seeded) PostgreSQL database, sharing a Redis. */
export interface TwoInstances {
  databaseUrl: string;
  a: TestServer;
  b: TestServer;
  close(): Promise<void>;
}

/** `b`: options of the second instance only (e.g. onQuery, to count what it reads). */
export async function startTwoInstances(redisUrl: string, opts: { b?: Pick<TestServerOptions, 'onQuery'> } = {}): Promise<TwoInstances> {
  const databaseUrl = await createMigratedTestDatabase();
  const started: TestServer[] = [];
  const close = async () => {
    for (const server of started) await server.close();
    await dropTestDatabase(databaseUrl);
  };
  try {
    for (let i = 0; i < 2; i++) started.push(await startTestServer({ databaseUrl, env: { REDIS_URL: redisUrl }, ...(i === 1 ? opts.b : {}) }));
  } catch (err) {
    await close();
    throw err;
  }
  return { databaseUrl, a: started[0], b: started[1], close };
}

const images = new Map<string, Promise<Blob | undefined>>();

/** One of the run's PGlite images (read once per worker), or undefined without the global setup. */
function loadImage(file: string | undefined): Promise<Blob | undefined> {
  if (!file) return Promise.resolve(undefined);
  let image = images.get(file);
  if (!image) {
    image = readFile(file).then((bytes) => new Blob([bytes]));
    images.set(file, image);
  }
  return image;
}

/** The run's migrated, seeded PGlite image (startServer's and openDatabase's `pgliteImage`). */
const loadPgliteImage = () => loadImage(inject('pgliteImage'));

/**
 * An empty PGlite's image, for openDatabase's or PGlite's `loadDataDir`: the same empty database an in-memory
 * `new PGlite()` makes, without the seconds of CPU its initdb takes. Undefined without the global setup.
 */
export const emptyPgliteImage = () => loadImage(inject('emptyPgliteImage'));

/**
 * Fills `dir` (a PGlite data directory not made yet) with a copy of the run's migrated, seeded database, as a server
 * would leave it after its first start; returns `dir`. A server started on it (in the test or as a process) opens
 * it at once, without initdb and the migration child process. Without the global setup, leaves `dir` unmade.
 */
export async function migratedPgliteDir(dir: string): Promise<string> {
  const made = inject('pgliteDirectory');
  if (made) await cp(made, dir, { recursive: true, errorOnExist: true, force: false });
  return dir;
}

/**
 * The in-process test servers started in this worker and the CPU their starts took (the worker's threads, PGlite's
 * included, while startServer ran), for tests/support/cpu-report.ts.
 */
export const serverStarts = { count: 0, cpuMs: 0 };

export interface TestServerOptions extends Omit<StartOptions, 'config'> {
  /** Reuse a database (e.g. two instances on one PostgreSQL database, or a restart on the same PGlite dir). */
  databaseUrl?: string | null;
  /**
   * A PGlite data directory (also PGLITE_DIR in `env`). One that does not exist yet starts as a copy of the run's
   * migrated, seeded database (migratedPgliteDir), unless `emptyPgliteDir` is set.
   */
  pgliteDir?: string;
  /** Start on a PGlite directory that does not exist yet as a user's first `npm start` does: initdb, migrations, seed. */
  emptyPgliteDir?: boolean;
  env?: Record<string, string>;
}

export async function startTestServer(opts: TestServerOptions = {}): Promise<TestServer> {
  // The server's PGlite thread, fit worker and migration child load the run's bundle of them (global-setup.ts), as
  // `npm start`'s do, instead of tsx transpiling them in every new thread (about 0.25 s of CPU per server).
  useWorkerModulesFrom(inject('testBundle') || undefined);
  const ownDatabase = opts.databaseUrl === undefined && usingPostgres;
  const databaseUrl = opts.databaseUrl !== undefined ? opts.databaseUrl : usingPostgres ? await createMigratedTestDatabase() : null;
  const config: Config = loadConfig({
    PORT: '0',
    HOST: '127.0.0.1',
    JWT_SECRET: TEST_JWT_SECRET,
    PGLITE_DIR: opts.pgliteDir ?? 'memory://',
    // Tests of NODE_ENV=production run on PGlite too (tests/integration/operations.test.ts checks the refusal).
    ALLOW_EMBEDDED_DATABASE_IN_PRODUCTION: 'true',
    ...(databaseUrl ? { DATABASE_URL: databaseUrl } : {}),
    ...opts.env,
  });
  if (!opts.pgliteDir && !databaseUrl) config.pgliteDir = 'memory://';
  const image = config.pgliteDir === 'memory://' && !databaseUrl ? await loadPgliteImage() : undefined;
  if (!databaseUrl && !config.pgliteDir.startsWith('memory://') && !opts.emptyPgliteDir && !existsSync(path.join(config.pgliteDir, 'PG_VERSION'))) {
    await migratedPgliteDir(config.pgliteDir);
  }
  const logs: string[] = [];
  const cpuBefore = process.cpuUsage();
  const server = await startServer({ schedule: false, log: (m) => logs.push(m), pgliteImage: image, ...opts, config });
  const cpu = process.cpuUsage(cpuBefore);
  serverStarts.count++;
  serverStarts.cpuMs += (cpu.user + cpu.system) / 1000;
  return {
    ...server,
    databaseUrl,
    async close() {
      await server.stop();
      if (ownDatabase && databaseUrl) await dropTestDatabase(databaseUrl);
    },
  };
}

/**
 * Runs `fn` while the table `table` is missing (renamed away), then puts it back: a database failure a user can meet
 * (a migration gone wrong, a dropped table), met by the real queries of the server.
 */
export async function withTableMissing<T>(server: TestServer, table: string, fn: () => Promise<T>): Promise<T> {
  const rename = (from: string, to: string) => server.services.db.prisma.$executeRawUnsafe(`ALTER TABLE ${from} RENAME TO ${to}`);
  await rename(table, `${table}_away`);
  try {
    return await fn();
  } finally {
    await rename(`${table}_away`, table);
  }
}

export async function tokenFor(role: Lowercase<Role> = 'athlete', sub: string = randomUUID()): Promise<{ token: string; id: string }> {
  return { token: await tokens.sign({ sub, role }), id: sub };
}
