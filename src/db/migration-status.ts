// Which migrations of this build the database has not recorded as applied (the readiness check, /ready).
import { readdir } from 'node:fs/promises';
import type { PrismaClient } from '../generated/prisma/client.ts';
import { MIGRATIONS_DIR } from './schema-engine.ts';

/** The migration folders shipped with this build, in order. */
export async function shippedMigrations(dir: string = MIGRATIONS_DIR): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  return entries
    .filter((e) => e.isDirectory())
    .map((e) => e.name)
    .sort();
}

/** The shipped migrations not finished (or rolled back) in `_prisma_migrations`. */
export async function pendingMigrations(prisma: Pick<PrismaClient, '$queryRawUnsafe'>, shipped: readonly string[]): Promise<string[]> {
  const rows = await prisma.$queryRawUnsafe<{ migration_name: string }[]>(`SELECT migration_name FROM _prisma_migrations WHERE finished_at IS NOT NULL AND rolled_back_at IS NULL`);
  const applied = new Set(rows.map((r) => r.migration_name));
  return shipped.filter((name) => !applied.has(name));
}
