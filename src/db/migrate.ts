// Applies pending migrations at startup, on PGlite and PostgreSQL alike, recorded in `_prisma_migrations`.
// Primary route: Prisma's WASM schema engine. Fallback: a plain-SQL runner writing the same table.
import { createHash, randomUUID } from 'node:crypto';
import type { SqlDriverAdapter, SqlMigrationAwareDriverAdapterFactory } from '@prisma/driver-adapter-utils';
import { loadMigrationList, NO_FILTER, openSchemaEngine } from './schema-engine.ts';

export interface MigrationResult {
  applied: string[];
  /** 'none': every migration was already applied, so no runner was started (openMigratedDatabase). */
  runner: 'schema-engine' | 'sql' | 'none';
}

/**
 * The migration folders not recorded as applied in `_prisma_migrations` (all of them on an empty database), read
 * with one query on the caller's connection: a start-up with nothing to apply needs no schema engine.
 */
export async function pendingMigrations(query: (sql: string) => Promise<unknown[]>): Promise<string[]> {
  const [table] = (await query(`SELECT to_regclass('_prisma_migrations') IS NOT NULL AS "exists"`)) as { exists: boolean }[];
  const rows = table?.exists ? ((await query(`SELECT migration_name FROM _prisma_migrations WHERE finished_at IS NOT NULL AND rolled_back_at IS NULL`)) as { migration_name: string }[]) : [];
  const applied = new Set(rows.map((r) => r.migration_name));
  return (await loadMigrationList()).migrationDirectories.map((d) => d.path).filter((name) => !applied.has(name));
}

export async function applyMigrations(factory: SqlMigrationAwareDriverAdapterFactory, opts: { runner?: 'schema-engine' | 'sql'; log?: (msg: string) => void } = {}): Promise<MigrationResult> {
  const log = opts.log ?? (() => {});
  if ((opts.runner ?? process.env.MIGRATION_RUNNER) === 'sql') return { applied: await applyWithSql(factory, log), runner: 'sql' };
  let engine: Awaited<ReturnType<typeof openSchemaEngine>>;
  try {
    engine = await openSchemaEngine(factory);
  } catch (err) {
    log(`[DB] schema engine unavailable (${(err as Error).message}); using the plain-SQL migration runner`);
    return { applied: await applyWithSql(factory, log), runner: 'sql' };
  }
  try {
    const migrationsList = await loadMigrationList();
    const out = await engine.applyMigrations({ migrationsList, filters: NO_FILTER });
    return { applied: out.appliedMigrationNames, runner: 'schema-engine' };
  } finally {
    engine.free();
  }
}

async function appliedNames(adapter: SqlDriverAdapter): Promise<Set<string>> {
  const exists = await adapter.queryRaw({
    sql: `SELECT to_regclass('_prisma_migrations') IS NOT NULL AS "exists"`,
    args: [],
    argTypes: [],
  });
  if (!exists.rows[0]?.[0]) return new Set();
  const res = await adapter.queryRaw({
    sql: `SELECT migration_name FROM _prisma_migrations WHERE finished_at IS NOT NULL AND rolled_back_at IS NULL`,
    args: [],
    argTypes: [],
  });
  return new Set(res.rows.map((r) => String(r[0])));
}

// Same table and checksum (sha256 of the file) as Prisma's own runner, so either can take over.
const CREATE_TABLE = `CREATE TABLE IF NOT EXISTS "_prisma_migrations" (
  "id" VARCHAR(36) PRIMARY KEY NOT NULL,
  "checksum" VARCHAR(64) NOT NULL,
  "finished_at" TIMESTAMPTZ,
  "migration_name" VARCHAR(255) NOT NULL,
  "logs" TEXT,
  "rolled_back_at" TIMESTAMPTZ,
  "started_at" TIMESTAMPTZ NOT NULL DEFAULT now(),
  "applied_steps_count" INTEGER NOT NULL DEFAULT 0
)`;

// Prisma's own advisory lock id for migrations: instances starting together apply each migration once.
const MIGRATION_LOCK_ID = 72707369;

async function applyWithSql(factory: SqlMigrationAwareDriverAdapterFactory, log: (msg: string) => void): Promise<string[]> {
  const adapter = await factory.connect();
  const applied: string[] = [];
  try {
    await adapter.executeScript(CREATE_TABLE);
    await adapter.executeScript(`SELECT pg_advisory_lock(${MIGRATION_LOCK_ID})`);
    try {
      const done = await appliedNames(adapter);
      const list = await loadMigrationList();
      for (const dir of list.migrationDirectories) {
        if (done.has(dir.path)) continue;
        if (dir.migrationFile.content.tag === 'error') throw new Error(`cannot read migration ${dir.path}: ${dir.migrationFile.content.value}`);
        const sql = dir.migrationFile.content.value;
        const checksum = createHash('sha256').update(sql).digest('hex');
        const id = randomUUID();
        log(`[DB] applying migration ${dir.path}`);
        // The script and its record commit together: a failed migration leaves nothing half-applied.
        await adapter
          .executeScript(
            `BEGIN;\n${sql}\n;INSERT INTO "_prisma_migrations" (id, checksum, migration_name, started_at, finished_at, applied_steps_count)` +
              ` VALUES ('${id}', '${checksum}', '${dir.path.replace(/'/g, "''")}', now(), now(), 1);\nCOMMIT;`,
          )
          .catch(async (err: unknown) => {
            await adapter.executeScript('ROLLBACK').catch(() => {});
            throw new Error(`migration ${dir.path} failed: ${(err as Error).message}`);
          });
        applied.push(dir.path);
      }
    } finally {
      await adapter.executeScript(`SELECT pg_advisory_unlock(${MIGRATION_LOCK_ID})`);
    }
  } finally {
    await adapter.dispose();
  }
  return applied;
}
