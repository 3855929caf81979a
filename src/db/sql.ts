// Raw SQL on either side of the nightly run: through a Prisma (transaction) client on the API's thread, or through
// a plain pg connection in the fit's worker thread (a worker cannot share the API's Prisma client; on a PostgreSQL
// server it opens its own connection, so the training rows and the model writes never pass through the API's thread).
import type { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import type { PrismaClient } from '../generated/prisma/client.ts';

/** Positional-parameter SQL ($1, $2, ...); rows decode as Prisma's raw queries decode them (timestamps as UTC Dates). */
export interface SqlRunner {
  query<T>(sql: string, params?: readonly unknown[]): Promise<T[]>;
  /** A statement without rows (DECLARE, SET, INSERT): the number of rows it touched. */
  execute(sql: string, params?: readonly unknown[]): Promise<number>;
  /**
   * A statement that sets up the database session (a temporary function): run now, and again first on every session
   * that later replaces this one (the embedded database's thread reopened: pglite-thread.ts). Absent: only `execute`.
   */
  prepareSession?(sql: string): Promise<void>;
  /**
   * A statement without rows whose every parameter is given in its binary wire format (a column array of pg-arrays.ts,
   * a jsonb of jsonb-param.ts; null: NULL), sent as it is: the number of rows it touched. Absent: `execute` (whose
   * drivers send a Uint8Array in binary too). PGlite's thread has it (pglite-thread.ts: one exchange, no copies).
   */
  executeBinary?(sql: string, params: readonly (Uint8Array | null)[]): Promise<number>;
}

/**
 * A statement whose database session ended under it (the embedded database's thread ended): it is kept only if it
 * had committed, and a transaction open then was rolled back. The next statements run on a new session once the
 * database is opened again (or fail, if it is not).
 */
export class SessionEndedError extends Error {
  override name = 'SessionEndedError';
}

export function prismaSql(client: Pick<PrismaClient, '$queryRawUnsafe' | '$executeRawUnsafe'>): SqlRunner {
  return {
    query: <T>(sql: string, params: readonly unknown[] = []) => client.$queryRawUnsafe<T[]>(sql, ...params),
    execute: (sql, params = []) => client.$executeRawUnsafe(sql, ...params),
  };
}

/** timestamp(3) columns hold UTC (Prisma's convention); pg would read them as local time. */
const TIMESTAMP_OID = 1114;
const utcTimestamps = {
  getTypeParser(oid: number, format?: 'text' | 'binary') {
    if (oid === TIMESTAMP_OID && format !== 'binary') return (text: string) => new Date(`${text.replace(' ', 'T')}Z`);
    return pg.types.getTypeParser(oid, format);
  },
} as pg.CustomTypesConfig;

/**
 * The API's own database without Prisma in between (no query compilation, no argument nesting per call): for the
 * hot write paths that send one fixed statement many times (the recommendation writer). On a PostgreSQL server it
 * takes a connection from the API's pool for each statement, each distinct text a named prepared statement
 * (parsed once per connection). `onQuery` sees every statement, as Prisma's query log does.
 */
export function poolSql(pool: pg.Pool, onQuery?: (sql: string) => void): SqlRunner {
  const names = new Map<string, string>();
  const run = (text: string, params: readonly unknown[]) => {
    onQuery?.(text);
    let name = names.get(text);
    if (!name) {
      name = `climbiq_sql_${names.size + 1}`;
      names.set(text, name);
    }
    return pool.query({ name, text, values: params as unknown[], types: utcTimestamps });
  };
  return {
    query: async <T>(text: string, params: readonly unknown[] = []) => (await run(text, params)).rows as T[],
    execute: async (text, params = []) => (await run(text, params)).rowCount ?? 0,
  };
}

/** The same on embedded PGlite: its query API, which waits for any transaction Prisma has open on the one connection. */
export function pgliteSql(client: PGlite, onQuery?: (sql: string) => void): SqlRunner {
  const run = (text: string, params: readonly unknown[]) => {
    onQuery?.(text);
    return client.query(text, params as unknown[]);
  };
  return {
    query: async <T>(text: string, params: readonly unknown[] = []) => (await run(text, params)).rows as T[],
    execute: async (text, params = []) => (await run(text, params)).affectedRows ?? 0,
  };
}

/** A dedicated connection to `url`, and its SqlRunner; `transaction` runs work between BEGIN and COMMIT (ROLLBACK on failure). */
export async function connectSql(url: string): Promise<{ sql: SqlRunner; transaction<T>(work: () => Promise<T>): Promise<T>; close(): Promise<void> }> {
  const client = new pg.Client({ connectionString: url, types: utcTimestamps });
  await client.connect();
  const sql: SqlRunner = {
    query: async <T>(text: string, params: readonly unknown[] = []) => (await client.query(text, params as unknown[])).rows as T[],
    execute: async (text, params = []) => (await client.query(text, params as unknown[])).rowCount ?? 0,
  };
  return {
    sql,
    async transaction(work) {
      await client.query('BEGIN');
      try {
        const out = await work();
        await client.query('COMMIT');
        return out;
      } catch (err) {
        await client.query('ROLLBACK').catch(() => {});
        throw err;
      }
    },
    close: () => client.end(),
  };
}
