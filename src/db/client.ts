// Prisma client factory: DATABASE_URL -> PostgreSQL through adapter-pg; unset -> embedded PGlite. Same client either way.
import { constants, existsSync } from 'node:fs';
import { access, mkdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import type { PGliteOptions } from '@electric-sql/pglite';
import { PrismaPg } from '@prisma/adapter-pg';
import type { SqlDriverAdapter, SqlMigrationAwareDriverAdapterFactory } from '@prisma/driver-adapter-utils';
import pg from 'pg';
import { PrismaClient, type Prisma } from '../generated/prisma/client.ts';
import { applyMigrations, type MigrationResult } from './migrate.ts';
import { initdbImage, pgliteFsBundle, pgliteFsBundleShared, pgliteWasmModuleShared } from './pglite-image.ts';
import { passBinaryArrays, pgliteSerializers } from './jsonb-param.ts';
import { growMemfsFilesInPlace } from './pglite-memfs.ts';
import { pgliteSql, poolSql, type SqlRunner } from './sql.ts';
import type { PgliteThreadState } from './pglite-thread.ts';
import { acquireDirectoryLock, DatabaseOpenError, type DirectoryLock, type LockHolder } from './pglite-lock.ts';

export type DatabaseKind = 'pglite' | 'postgres';

export interface DatabaseOptions {
  /** PostgreSQL server URL; null -> PGlite. */
  url: string | null;
  /** PGlite data dir, or 'memory://' for an in-memory database. */
  pgliteDir: string;
  log?: (msg: string) => void;
  /** Who opens it: the PGlite directory's lock names it to anyone else trying. */
  holder?: LockHolder;
  /** Called once per SQL statement (tests count queries with it). */
  onQuery?: (sql: string) => void;
  /**
   * An in-memory PGlite starts from this data-directory tarball (PGlite's dumpDataDir) instead of an empty cluster,
   * with PGlite's share/ bundle kept in memory for the next such start (pgliteFsBundle: the tests open dozens).
   */
  pgliteImage?: Blob;
  /**
   * PGlite on a worker thread of its own (pglite-thread.ts; the server's default, PGLITE_THREAD): its statements no
   * longer block this thread's event loop. Off: PGlite runs on the calling thread (the migration child, CLIs).
   */
  pgliteThread?: boolean;
  /** Connections in the PostgreSQL server's pool (PG_POOL_MAX; default 10). */
  poolMax?: number;
  /**
   * How many times PGlite's thread is opened again on its directory after it ends unexpectedly
   * (PGLITE_REOPEN_ATTEMPTS; default 0: never, the database is then lost: pglite-thread.ts).
   */
  pgliteReopenAttempts?: number;
  /** How long one of those attempts may take before it counts as failed (PGLITE_REOPEN_TIMEOUT_SECONDS; default 60). */
  pgliteReopenTimeoutSeconds?: number;
}

/** The embedded database's thread, as /ready and /health report it and the server watches it. */
export interface DatabaseThread {
  state(): PgliteThreadState;
  /** Called once if the database is lost (the thread ended and was not opened again); at once if it already is. */
  onLost(listener: (reason: string) => void): void;
}

/** A held advisory lock; release() gives it back. */
export interface HeldLock {
  release(): Promise<void>;
}

export interface Database {
  kind: DatabaseKind;
  /** The server's connection string (null for PGlite): a worker thread opens its own connection with it. */
  url: string | null;
  prisma: PrismaClient;
  /** The same database through its driver, without Prisma (the pg pool, or PGlite's query API): hot fixed statements. */
  sql: SqlRunner;
  /** The PGlite directory's lock (null for PostgreSQL and in-memory PGlite). */
  directoryLock: DirectoryLock | null;
  /** PGlite on a thread of its own (null for PostgreSQL and PGlite on the calling thread). */
  thread: DatabaseThread | null;
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
  const pool = new pg.Pool({ connectionString: url, max: opts.poolMax ?? 10 });
  // An idle pooled connection that the server terminates (restart, failover, DROP DATABASE) must not crash the
  // process: the pool replaces it on the next query.
  pool.on('error', (err) => log(`[DB] idle PostgreSQL connection lost: ${err.message}`));
  const prisma = new PrismaClient({ adapter: new PrismaPg(pool), ...queryLogOptions(opts.onQuery) });
  attachQueryCounter(prisma, opts.onQuery);
  return {
    kind: 'postgres',
    url,
    prisma,
    sql: poolSql(pool, opts.onQuery),
    directoryLock: null,
    thread: null,
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

/**
 * PostgreSQL's shared buffers inside PGlite's WASM heap. The default, 128 MB, is set up at every start (about 120 MB
 * of resident memory before the first query); a small instance's working set fits in far fewer, and pages outside
 * them are read from the directory's files (the operating system's page cache) instead.
 */
export const PGLITE_SHARED_BUFFERS = '32MB';

/**
 * The settings ClimbIQ adds to PGlite's start parameters (and initdb's). `wal_init_zero=off`: a new 16 MB WAL segment
 * (one every ~5,000 stored recommendations, about 3 KB of WAL each) is not first written full of zeros, 8 kB at a
 * time, on PGlite's thread (through Node's file system for a directory, by growing an array again and again in
 * memory), the space allocation that zero-filling buys being moot for PGlite, which runs with fsync off already (-F).
 * 4-5 % of PGlite's CPU a stored row (BENCHMARKS.md "Issue 19, ninth round").
 */
const PGLITE_START_SETTINGS = ['-c', `shared_buffers=${PGLITE_SHARED_BUFFERS}`, '-c', 'wal_init_zero=off'];

/**
 * PGlite's options: its own start parameters plus the smaller shared buffers, also while initdb runs (its bootstrap
 * instance otherwise grows its WASM heap for 128 MB of shared buffers: about 40 MB more at initdb's peak),
 * and jsonb parameters that may come as bytes (jsonb-param.ts).
 */
export async function pgliteOptions(): Promise<PGliteOptions> {
  const { PGlite, types } = await import('@electric-sql/pglite');
  return { startParams: [...PGlite.defaultStartParams, ...PGLITE_START_SETTINGS], initDbStartParams: PGLITE_START_SETTINGS, serializers: pgliteSerializers(types) };
}

/** What runs PGlite, on this thread or on one of its own; openPglite wraps either in the same Database. */
interface PgliteEngine {
  factory: SqlMigrationAwareDriverAdapterFactory;
  /** Statements counted by DatabaseOptions.onQuery. */
  sql: SqlRunner;
  migrate(): Promise<MigrationResult>;
  /** A statement not counted by onQuery (/ready's check). */
  ping(): Promise<void>;
  thread: DatabaseThread | null;
  close(): Promise<void>;
}

/** What to open: a directory or 'memory://', from an initdb or database image (a tarball) or as it is. */
interface PgliteTarget {
  dir: string;
  image?: Blob;
}

/**
 * Prisma's query compiler (a WebAssembly module that Prisma loads, compiles and instantiates at a client's first
 * connect, then keeps for the process) made ready by a client on an adapter that never reaches a database. Called
 * while PGlite starts on its own thread, so the two overlap instead of the compiler loading after PGlite is up
 * (`npm run train`: BENCHMARKS.md). Once per process; a failure here is left to the real client to meet.
 */
let compilerWarmed: Promise<void> | null = null;
function warmQueryCompiler(): Promise<void> {
  compilerWarmed ??= (async () => {
    const unreachable = () => Promise.reject(new Error('warm-up adapter: no database'));
    const adapter: SqlDriverAdapter = {
      provider: 'postgres',
      adapterName: 'climbiq-compiler-warm-up',
      queryRaw: unreachable,
      executeRaw: unreachable,
      executeScript: unreachable,
      startTransaction: unreachable,
      dispose: async () => {},
    };
    const factory: SqlMigrationAwareDriverAdapterFactory = { provider: 'postgres', adapterName: adapter.adapterName, connect: async () => adapter, connectToShadowDb: unreachable };
    const client = new PrismaClient({ adapter: factory });
    try {
      await client.$connect();
    } finally {
      await client.$disconnect();
    }
  })().catch(() => {});
  return compilerWarmed;
}

async function openPglite(dir: string, opts: DatabaseOptions, log: (msg: string) => void): Promise<Database> {
  const start = opts.pgliteThread ? startPgliteOnThread : startPgliteHere;
  let directoryLock: DirectoryLock | null = null;
  let engine: PgliteEngine;
  // On a thread of its own, PGlite starts while this thread readies Prisma's query compiler.
  const startAndWarm: typeof start = opts.pgliteThread
    ? async (...args) => {
        const started = start(...args);
        // Its failure is the caller's (returned below), not an unhandled rejection while the compiler loads.
        started.catch(() => {});
        // A turn of the event loop first: the thread is spawned (a few microtasks in) before the compiler's
        // synchronous parts hold this thread.
        await new Promise((resolve) => setImmediate(resolve));
        await warmQueryCompiler();
        return started;
      }
    : start;
  if (dir.startsWith('memory://')) {
    engine = await startAndWarm({ dir: 'memory://', image: opts.pgliteImage }, opts, log);
  } else {
    await mkdir(path.dirname(path.resolve(dir)), { recursive: true });
    directoryLock = acquireDirectoryLock(dir, opts.holder ?? { command: path.basename(process.argv[1] ?? 'node'), serves: false });
    try {
      // A fresh directory is unpacked from the build's initdb image when there is one (pglite-image.ts).
      const image = existsSync(path.join(dir, 'PG_VERSION')) ? undefined : await initdbImage();
      if (image) log(`[DB] ${dir}: a new directory, unpacked from the build's initdb image`);
      engine = await startAndWarm({ dir, image }, opts, log);
    } catch (err) {
      directoryLock.release();
      throw await explainOpenFailure(dir, err);
    }
  }
  const prisma = new PrismaClient({ adapter: engine.factory, ...queryLogOptions(opts.onQuery) });
  attachQueryCounter(prisma, opts.onQuery);
  return {
    kind: 'pglite',
    url: null,
    prisma,
    sql: engine.sql,
    directoryLock,
    thread: engine.thread,
    migrate: () => engine.migrate(),
    tryLock: inProcessLocks(),
    async ping() {
      try {
        await engine.ping();
        return true;
      } catch {
        return false;
      }
    },
    async close() {
      try {
        await prisma.$disconnect();
        await engine.close();
      } finally {
        directoryLock?.release();
      }
    },
  };
}

/** PGlite is one process and one connection: an in-process lock set stands in for advisory locks. */
function inProcessLocks(): Database['tryLock'] {
  const held = new Set<number>();
  return async (key) => {
    if (held.has(key)) return null;
    held.add(key);
    return {
      async release() {
        held.delete(key);
      },
    };
  };
}

/** PGlite on the calling thread (PGLITE_THREAD=false, the migration child, the CLIs). */
async function startPgliteHere(target: PgliteTarget, opts: DatabaseOptions, log: (msg: string) => void): Promise<PgliteEngine> {
  // Imported here: a server on PostgreSQL never loads PGlite (about 40 MB resident).
  const [{ PGlite }, { PrismaPGlite }, options] = await Promise.all([import('@electric-sql/pglite'), import('pglite-prisma-adapter'), pgliteOptions()]);
  const inMemory = target.dir.startsWith('memory://');
  // An in-memory database from an image (the tests open dozens) reuses the process's share bundle.
  const fsBundle = inMemory && target.image ? { fsBundle: await pgliteFsBundle() } : {};
  const withImage = target.image ? { ...options, loadDataDir: target.image, ...fsBundle } : options;
  const client = inMemory ? new PGlite(withImage) : new PGlite(target.dir, withImage);
  await client.waitReady;
  if (inMemory) growMemfsFilesInPlace(client.Module);
  passBinaryArrays(client);
  // A damaged directory may open and fail only at its first statement.
  await client.query('SELECT 1');
  const factory: SqlMigrationAwareDriverAdapterFactory = new PrismaPGlite(client);
  return {
    factory,
    sql: pgliteSql(client, opts.onQuery),
    migrate: () => applyMigrations(factory, { log }),
    ping: async () => {
      await client.query('SELECT 1');
    },
    thread: null,
    close: () => client.close(),
  };
}

async function imageBytes(blob: Blob | undefined): Promise<{ bytes: ArrayBuffer; type: string } | undefined> {
  return blob ? { bytes: await blob.arrayBuffer(), type: blob.type } : undefined;
}

/** PGlite in a worker thread (pglite-thread.ts; PGLITE_THREAD, the server's default): every statement answered by that thread. */
async function startPgliteOnThread(target: PgliteTarget, opts: DatabaseOptions, log: (msg: string) => void): Promise<PgliteEngine> {
  // PGlite itself (its module too) is loaded in the thread only.
  const { openPgliteThread } = await import('./pglite-thread.ts');
  // As on the calling thread: an in-memory database from an image reuses the process's share bundle, and the
  // process's compiled PostgreSQL module (which the calling thread's PGlite keeps by itself).
  const shared = target.dir.startsWith('memory://') && target.image;
  const [fsBundle, wasmModule] = shared ? await Promise.all([pgliteFsBundleShared(), pgliteWasmModuleShared()]) : [undefined, undefined];
  const thread = await openPgliteThread(
    { dir: target.dir, extraStartParams: PGLITE_START_SETTINGS, image: await imageBytes(target.image), fsBundle, wasmModule },
    log,
    opts.pgliteReopenAttempts ?? 0,
    (opts.pgliteReopenTimeoutSeconds ?? 60) * 1000,
  );
  const { onQuery } = opts;
  return {
    factory: thread.factory,
    sql: {
      query(text, params) {
        onQuery?.(text);
        return thread.sql.query(text, params);
      },
      execute(text, params) {
        onQuery?.(text);
        return thread.sql.execute(text, params);
      },
      executeBinary(text, params) {
        onQuery?.(text);
        return thread.sql.executeBinary(text, params);
      },
      prepareSession(text) {
        onQuery?.(text);
        return thread.sql.prepareSession(text);
      },
    },
    migrate: () => thread.migrate(),
    ping: async () => {
      await thread.sql.query('SELECT 1');
    },
    thread,
    close: () => thread.close(),
  };
}

/** The PostgreSQL major version of the bundled PGlite (@electric-sql/pglite 0.5.17 writes "18" to PG_VERSION). */
const PGLITE_POSTGRES_MAJOR = '18';

/** A PGlite directory that does not open, said in plain words with the likely cause and what to do (not a WASM stack). */
async function explainOpenFailure(dir: string, err: unknown): Promise<DatabaseOpenError> {
  const moveAside = `Keep it for inspection and start on a fresh directory: mv ${dir} ${dir}.broken (then npm start creates an empty database; npm run seed:demo adds demo data), or restore a backup, or set PGLITE_DIR to another directory.`;
  const info = await stat(dir).catch(() => null);
  if (info && !info.isDirectory()) {
    return new DatabaseOpenError(`Cannot open the embedded database: ${dir} is a file, not a directory. Set PGLITE_DIR to a directory (or remove that file).`);
  }
  if (
    info &&
    (await access(dir, constants.R_OK | constants.W_OK | constants.X_OK).then(
      () => false,
      () => true,
    ))
  ) {
    return new DatabaseOpenError(`Cannot open the embedded database: no permission to read and write ${dir}. Run as the user that owns it (ls -ld ${dir}) or fix its permissions.`);
  }
  const version = (await readFile(path.join(dir, 'PG_VERSION'), 'utf8').catch(() => '')).trim();
  if (version && version !== PGLITE_POSTGRES_MAJOR) {
    return new DatabaseOpenError(
      `Cannot open the embedded database in ${dir}: it was made by PostgreSQL ${version}, and this PGlite runs PostgreSQL ${PGLITE_POSTGRES_MAJOR}. ` +
        `Open it with the PGlite/PostgreSQL version that made it and dump it (pg_dump), or start on a fresh directory. ${moveAside}`,
    );
  }
  const detail = err instanceof Error ? `${err.name}: ${err.message.split('\n')[0]}` : String(err);
  return new DatabaseOpenError(
    `Cannot open the embedded database in ${dir}: its files are damaged or half-written (PGlite: ${detail}). ` +
      `Likely cause: the process was killed or the disk filled up while writing, or two processes used the directory at once (before this version locked it). ${moveAside}`,
  );
}
