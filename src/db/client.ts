// Prisma client factory: DATABASE_URL -> PostgreSQL through adapter-pg; unset -> embedded PGlite. Same client either way.
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { PrismaPg } from '@prisma/adapter-pg';
import type { SqlMigrationAwareDriverAdapterFactory } from '@prisma/driver-adapter-utils';
import pg from 'pg';
import { PrismaPGlite } from 'pglite-prisma-adapter';
import { PrismaClient, type Prisma } from '../generated/prisma/client.ts';
import { applyMigrations, type MigrationResult } from './migrate.ts';

export type DatabaseKind = 'pglite' | 'postgres';

export interface DatabaseOptions {
  /** PostgreSQL server URL; null -> PGlite. */
  url: string | null;
  /** PGlite data dir, or 'memory://' for an in-memory database. */
  pgliteDir: string;
  log?: (msg: string) => void;
  /** Called once per SQL statement (tests count queries with it). */
  onQuery?: (sql: string) => void;
}

/** A held advisory lock; release() gives it back. */
export interface HeldLock {
  release(): Promise<void>;
}

export interface Database {
  kind: DatabaseKind;
  prisma: PrismaClient;
  migrate(): Promise<MigrationResult>;
  /** Session-level advisory lock on its own connection: one holder across every instance sharing the database. */
  tryLock(key: number): Promise<HeldLock | null>;
  /** true when the database answers. */
  ping(): Promise<boolean>;
  close(): Promise<void>;
}

export async function openDatabase(opts: DatabaseOptions): Promise<Database> {
  const log = opts.log ?? (() => {});
  if (opts.url) return openPostgres(opts.url, opts, log);
  return openPglite(opts.pgliteDir, opts, log);
}

function queryLogOptions(onQuery?: (sql: string) => void): { log?: Prisma.LogDefinition[] } {
  return onQuery ? { log: [{ emit: 'event', level: 'query' }] } : {};
}

function attachQueryCounter(prisma: PrismaClient, onQuery?: (sql: string) => void): void {
  if (!onQuery) return;
  (prisma as unknown as { $on(event: 'query', cb: (e: { query: string }) => void): void }).$on('query', (e) => onQuery(e.query));
}

async function openPostgres(url: string, opts: DatabaseOptions, log: (msg: string) => void): Promise<Database> {
  const pool = new pg.Pool({ connectionString: url, max: Number(process.env.PG_POOL_MAX ?? 10) });
  // An idle pooled connection that the server terminates (restart, failover, DROP DATABASE) must not crash the
  // process: the pool replaces it on the next query.
  pool.on('error', (err) => log(`[DB] idle PostgreSQL connection lost: ${err.message}`));
  const prisma = new PrismaClient({ adapter: new PrismaPg(pool), ...queryLogOptions(opts.onQuery) });
  attachQueryCounter(prisma, opts.onQuery);
  return {
    kind: 'postgres',
    prisma,
    async migrate() {
      // One connection, so the runner's session-level advisory lock and its statements share it.
      const migrationPool = new pg.Pool({ connectionString: url, max: 1 });
      try {
        return await applyMigrations(new PrismaPg(migrationPool), { log });
      } finally {
        await migrationPool.end();
      }
    },
    async tryLock(key) {
      const client = new pg.Client({ connectionString: url });
      // Losing this connection releases the lock server-side; it must not crash the process.
      client.on('error', (err) => log(`[DB] lock connection lost: ${err.message}`));
      await client.connect();
      try {
        const res = await client.query<{ locked: boolean }>('SELECT pg_try_advisory_lock($1) AS locked', [key]);
        if (!res.rows[0]?.locked) {
          await client.end();
          return null;
        }
      } catch (err) {
        await client.end().catch(() => {});
        throw err;
      }
      return {
        async release() {
          try {
            await client.query('SELECT pg_advisory_unlock($1)', [key]);
          } finally {
            await client.end();
          }
        },
      };
    },
    async ping() {
      try {
        await pool.query('SELECT 1');
        return true;
      } catch {
        return false;
      }
    },
    async close() {
      await prisma.$disconnect();
      await pool.end();
    },
  };
}

async function openPglite(dir: string, opts: DatabaseOptions, log: (msg: string) => void): Promise<Database> {
  const inMemory = dir.startsWith('memory://');
  if (!inMemory) await mkdir(path.dirname(path.resolve(dir)), { recursive: true });
  const client = inMemory ? new PGlite() : new PGlite(dir);
  await client.waitReady;
  const factory: SqlMigrationAwareDriverAdapterFactory = new PrismaPGlite(client);
  const prisma = new PrismaClient({ adapter: factory, ...queryLogOptions(opts.onQuery) });
  attachQueryCounter(prisma, opts.onQuery);
  // PGlite is one process and one connection: an in-process lock set stands in for advisory locks.
  const held = new Set<number>();
  return {
    kind: 'pglite',
    prisma,
    migrate: () => applyMigrations(factory, { log }),
    async tryLock(key) {
      if (held.has(key)) return null;
      held.add(key);
      return {
        async release() {
          held.delete(key);
        },
      };
    },
    async ping() {
      try {
        await client.query('SELECT 1');
        return true;
      } catch {
        return false;
      }
    },
    async close() {
      await prisma.$disconnect();
      await client.close();
    },
  };
}
