// Raw SQL on either side of the nightly run: through a Prisma (transaction) client on the API's thread, or through
// a plain pg connection in the fit's worker thread (a worker cannot share the API's Prisma client; on a PostgreSQL
// server it opens its own connection, so the training rows and the model writes never pass through the API's thread).
import type { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import type { PrismaClient } from '../generated/prisma/client.ts';
import { affectedRowsOf, bindExecuteSyncLength, messageBufferBytes, parseLength, writeBindExecuteSync, writeParse } from './pg-wire.ts';

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
   * drivers send a Uint8Array in binary too). PGlite's thread (pglite-thread.ts) and the PostgreSQL pool (poolSql)
   * have it: the messages written once by pg-wire.ts, each parameter copied in once.
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
  const nameOf = (text: string) => {
    let name = names.get(text);
    if (!name) {
      name = `climbiq_sql_${names.size + 1}`;
      names.set(text, name);
    }
    return name;
  };
  const messageBuffers = new MessageBuffers();
  const run = (text: string, params: readonly unknown[]) => {
    onQuery?.(text);
    return pool.query({ name: nameOf(text), text, values: params as unknown[], types: utcTimestamps });
  };
  return {
    query: async <T>(text: string, params: readonly unknown[] = []) => (await run(text, params)).rows as T[],
    execute: async (text, params = []) => (await run(text, params)).rowCount ?? 0,
    async executeBinary(text, params) {
      onQuery?.(text);
      const client = await pool.connect();
      try {
        const rows = await new Promise<number>((resolve, reject) => client.query(new BinaryExchange(nameOf(text), text, params, messageBuffers, resolve, reject)));
        client.release();
        return rows;
      } catch (err) {
        // As pg-pool's own query does: a connection whose statement failed is closed, not reused.
        client.release(err as Error);
        throw err;
      }
    },
  };
}

/**
 * The message buffer of a statement sent, kept for the next once the socket has taken its bytes: a statement's buffer
 * (some 35 kB at 20 rows) allocated anew every time cost the API's thread about 20 µs a statement (BENCHMARKS.md step
 * 309). One is kept, of at most KEPT_BYTES (a burst's 200-row statement's is dropped).
 */
class MessageBuffers {
  private static readonly KEPT_BYTES = 256 * 1024;
  private kept: Buffer | null = null;

  take(length: number): Buffer {
    const kept = this.kept;
    if (kept && kept.length >= length) {
      this.kept = null;
      return kept;
    }
    return Buffer.allocUnsafe(messageBufferBytes(length));
  }

  give(buffer: Buffer): void {
    if (buffer.length <= MessageBuffers.KEPT_BYTES && (!this.kept || this.kept.length < buffer.length)) this.kept = buffer;
  }
}

/** node-postgres' record, per connection, of the named statements it has parsed or sent a Parse for (what its own queries consult). */
interface NamedStatements {
  parsedStatements: Record<string, string | undefined>;
  submittedNamedStatements: Record<string, string | undefined>;
}

/**
 * A named statement run with every parameter in its binary wire format, as one query of a node-postgres connection
 * (its Submittable interface): Bind, Execute and Sync written by pg-wire.ts into one buffer with each parameter copied
 * in once, after a Parse when this connection has not parsed the statement yet. The client records the Parse by the
 * `name` and `text` given here, as for its own queries, and answers with the messages handled below. What it replaces,
 * pg's own query, copied every parameter three times as its writers grew and asked for a Describe the statement does
 * not need (BENCHMARKS.md step 309).
 */
class BinaryExchange implements pg.Submittable {
  private affectedRows = 0;

  constructor(
    readonly name: string,
    readonly text: string,
    private readonly params: readonly (Uint8Array | null)[],
    private readonly buffers: MessageBuffers,
    private readonly resolve: (affectedRows: number) => void,
    private readonly reject: (err: Error) => void,
  ) {}

  submit(connection: pg.Connection): void {
    const named = connection as unknown as NamedStatements;
    const parsed = named.parsedStatements[this.name] !== undefined || named.submittedNamedStatements[this.name] !== undefined;
    const parse = parsed ? 0 : parseLength(this.name, this.text);
    const out = this.buffers.take(parse + bindExecuteSyncLength(this.name, this.params));
    if (!parsed) {
      writeParse(out, 0, this.name, this.text);
      named.submittedNamedStatements[this.name] = this.text;
    }
    const length = writeBindExecuteSync(out, this.name, this.params, parse);
    // The socket holds the bytes until its callback (queued while the kernel's buffer is full): reused only after it.
    connection.stream.write(out.subarray(0, length), () => this.buffers.give(out));
  }

  handleCommandComplete(msg: { text: string }): void {
    this.affectedRows = affectedRowsOf(msg.text);
  }

  /** The exchange's end (the client has dropped this query after an error, so this comes only without one). */
  handleReadyForQuery(): void {
    this.resolve(this.affectedRows);
  }

  handleError(err: Error): void {
    this.reject(err);
  }

  // The statement returns no rows, copies nothing and runs to its end: these messages never come for it.
  handleRowDescription(): void {}
  handleDataRow(): void {}
  handleEmptyQuery(): void {}
  handlePortalSuspended(): void {}
  handleCopyInResponse(): void {}
  handleCopyData(): void {}
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
