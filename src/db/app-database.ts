// The application's database as the server and the CLIs open it: migrated (db/migrate-child.ts), reported on the
// log, the reference data seeded. services.ts (the server, seed:demo) and `npm run train` (scripts/train.ts, which
// loads nothing of the server's GraphQL side) both open it here.
import { ConfigError, type Config } from '../config.ts';
import type { Database } from './client.ts';
import { openMigratedDatabase } from './migrate-child.ts';
import { DatabaseOpenError, type LockHolder } from './pglite-lock.ts';
import { seedPresent, seedReferenceData } from './seed.ts';

/** What the server and the CLIs print when they cannot start: plain words for a known cause, else the error itself. */
export function startupFailure(err: unknown): unknown {
  if (err instanceof ConfigError) return `Configuration error: ${err.message}`;
  if (err instanceof DatabaseOpenError) return err.message;
  return err;
}

export interface AppDatabaseOptions {
  log: (msg: string) => void;
  onQuery?: (sql: string) => void;
  holder?: LockHolder;
  pgliteImage?: Blob;
}

export async function openAppDatabase(config: Config, opts: AppDatabaseOptions): Promise<Database> {
  const { log } = opts;
  // Migrations run in a child process that has exited before the database opens here (src/db/migrate-child.ts).
  const { db, migrated } = await openMigratedDatabase({
    url: config.databaseUrl,
    pgliteDir: config.pgliteDir,
    log,
    onQuery: opts.onQuery,
    holder: opts.holder,
    pgliteImage: opts.pgliteImage,
    pgliteThread: config.pgliteThread,
    pgliteReopenAttempts: config.pgliteReopenAttempts,
    pgliteReopenTimeoutSeconds: config.pgliteReopenTimeoutSeconds,
    poolMax: config.pgPoolMax,
  });
  try {
    log(
      `[DB] ${db.kind === 'pglite' ? `embedded PGlite at ${config.pgliteDir}` : 'PostgreSQL server'}; migrations ${migrated.applied.length ? `applied: ${migrated.applied.join(', ')}` : 'up to date'}${migrated.runner === 'none' ? '' : ` (${migrated.runner})`}`,
    );
    if (config.production && db.kind === 'pglite') {
      log(
        `[DB] WARNING: NODE_ENV=production on the embedded database (ALLOW_EMBEDDED_DATABASE_IN_PRODUCTION=true): one process, one disk, no replica; back up ${config.pgliteDir} as docs/operations.md describes, or set DATABASE_URL`,
      );
    }
    // Inserted when missing: the check is one raw statement, the inserts go through Prisma only when one is missing.
    const seeded = (await seedPresent(db.sql)) ? { priors: 0, rules: 0 } : await seedReferenceData(db.prisma);
    if (seeded.priors || seeded.rules) log(`[DB] seeded ${seeded.priors} priors, ${seeded.rules} rules`);
  } catch (err) {
    await db.close();
    throw err;
  }
  return db;
}
