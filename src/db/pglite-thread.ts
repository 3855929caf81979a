// The embedded database on a worker thread of its own (issue 19): PGlite runs PostgreSQL in WebAssembly on the thread
// that calls it, so every statement on the API's thread (a stream's reads, the recommendation writer's batch) blocked
// its event loop for as long as PostgreSQL worked. Here PGlite, the Prisma driver adapter (pglite-prisma-adapter) and
// the migrations run in a worker; the API's thread sends each statement as one message and gets the rows back as
// Prisma's driver-adapter interface wants them (already converted by the adapter in the worker) or as PGlite's query
// API gives them (the SqlRunner). Transactions are the adapter's own, held in the worker by id: while one is open,
// PGlite's single connection serves only it, as on the API's thread before.
//
// Neither of PGlite's own routes fitted (BENCHMARKS.md "Issue 19: PGlite on a worker thread"): PGliteWorker
// (@electric-sql/pglite/worker) runs under worker_threads with two small shims, but answers each statement over
// BroadcastChannel with three round trips (lock, execute, unlock), parses the wire protocol on the calling thread, and
// drops the SQLSTATE of an error (Prisma's unique-violation P2002 became a bare Error); @electric-sql/pglite-socket
// would put the pg driver's protocol parsing back on the API's thread and serve one connection at a time.
//
// This module is both sides, as the nightly fit's worker is: openPgliteThread (the API's thread) starts a Worker on a
// small evaluated bootstrap that loads this file (through tsx from source; its own bundle `pglite-thread.js` beside
// the build's main.js) and calls runPgliteThread.
import { Worker } from 'node:worker_threads';
import type { PGlite, PGliteOptions } from '@electric-sql/pglite';
import {
  DriverAdapterError,
  type Error as DriverError,
  type IsolationLevel,
  type SqlDriverAdapter,
  type SqlMigrationAwareDriverAdapterFactory,
  type SqlQuery,
  type SqlResultSet,
  type Transaction,
  type TransactionOptions,
} from '@prisma/driver-adapter-utils';
import { passBinaryArrays, pgliteSerializers } from './jsonb-param.ts';
import type { MigrationResult } from './migrate.ts';
import type { SqlRunner } from './sql.ts';
import { importWorkerModule, NO_SOURCE_MAPS } from './worker-module.ts';

/** What the worker opens. */
export interface PgliteThreadTarget {
  /** A directory, or 'memory://'. */
  dir: string;
  /** PostgreSQL settings added to PGlite's default start parameters, and to initdb's (client.ts: the shared buffers). */
  extraStartParams: string[];
  /** A data-directory tarball to start from (an in-memory image, or a fresh directory's initdb image): its bytes and Blob type (gzipped or not). */
  image?: { bytes: ArrayBuffer; type: string };
  /** PGlite's share/ bundle, read once by the process (pgliteFsBundleShared: the tests open dozens of databases). */
  fsBundle?: SharedArrayBuffer;
  /** PGlite's compiled PostgreSQL module, compiled once by the process (pgliteWasmModuleShared: the same tests). */
  wasmModule?: WebAssembly.Module;
}

/** A request from the API's thread; `tx` names a transaction the worker holds. */
type Request =
  | { op: 'queryRaw' | 'executeRaw'; query: SqlQuery; tx?: number }
  | { op: 'executeScript'; script: string }
  | { op: 'startTransaction'; isolationLevel?: IsolationLevel }
  | { op: 'commit' | 'rollback'; tx: number }
  | { op: 'query' | 'execute'; text: string; params: readonly unknown[] }
  | { op: 'migrate' }
  | { op: 'close' };

/** A failure as it crosses the thread: Prisma's mapped driver error, or any other error's name and message. */
type WireError = { driver: DriverError } | { name: string; message: string; code?: string };

type Reply = { id: number; ok: true; value: unknown } | { id: number; ok: false; error: WireError };

/** The worker's first message: PGlite opened (or why not). */
type Ready = { ready: true } | { ready: false; error: { name: string; message: string } };

/** The embedded database behind the worker, as the API's thread sees it. */
export interface PgliteThread {
  /** Prisma's driver adapter factory: every statement and transaction runs in the worker. */
  factory: SqlMigrationAwareDriverAdapterFactory;
  /** PGlite's query API in the worker (rows decoded by PGlite's parsers: timestamps as Dates, JSON parsed). */
  sql: SqlRunner;
  /** Applies the pending migrations in the worker (the schema engine is loaded there, not here). */
  migrate(): Promise<MigrationResult>;
  /** Closes PGlite (its files flushed) and ends the thread; pending statements finish first. */
  close(): Promise<void>;
}

/** Error of an open that failed in the worker, its name kept (client.ts explains a damaged directory from it). */
export class PgliteThreadError extends Error {}

const ADAPTER_NAME = 'pglite-prisma-adapter';

/** The worker thread's name (Node >= 22 gives it to the operating system's thread as well). */
export const PGLITE_THREAD_NAME = 'pglite';

/** Starts the worker, opens PGlite in it and resolves once it answers (rejects with the worker's open failure). */
export async function openPgliteThread(target: PgliteThreadTarget, log: (msg: string) => void = () => {}): Promise<PgliteThread> {
  // From the build its own bundle beside the caller's, from source the `.ts` file through tsx (worker-module.ts).
  const load = importWorkerModule(import.meta.url, 'pglite-thread');
  const worker = new Worker(`${NO_SOURCE_MAPS}\n${load}.then((m) => m.runPgliteThread())`, {
    eval: true,
    // The thread's name in the operating system (/proc/<pid>/task/<tid>/comm): scripts/profile-wrk.ts reads its CPU time.
    name: PGLITE_THREAD_NAME,
    workerData: target,
    transferList: target.image ? [target.image.bytes] : [],
  });
  const pending = new Map<number, { resolve(value: unknown): void; reject(err: Error): void }>();
  let nextId = 1;
  let openTransactions = 0;
  let ended: Error | null = null;
  // The thread keeps the process alive only while something waits on it (a CLI that forgot close() still exits).
  const keepAlive = () => (pending.size > 0 || openTransactions > 0 ? worker.ref() : worker.unref());

  await new Promise<void>((resolve, reject) => {
    const onExit = (code: number) => reject(new PgliteThreadError(`The embedded database's thread ended before it opened (exit code ${code})`));
    worker.once('error', reject);
    worker.once('exit', onExit);
    worker.once('message', (message: Ready) => {
      worker.off('error', reject);
      worker.off('exit', onExit);
      if (message.ready) resolve();
      else {
        const err = new PgliteThreadError(message.error.message);
        err.name = message.error.name;
        reject(err);
      }
    });
  }).catch(async (err: unknown) => {
    await worker.terminate();
    throw err;
  });

  const fail = (err: Error) => {
    ended ??= err;
    for (const { reject } of pending.values()) reject(err);
    pending.clear();
  };
  worker.on('message', (reply: Reply) => {
    const waiter = pending.get(reply.id);
    if (!waiter) return;
    pending.delete(reply.id);
    keepAlive();
    if (reply.ok) waiter.resolve(reply.value);
    else waiter.reject(wireToError(reply.error));
  });
  worker.on('error', (err) => {
    log(`[DB] the embedded database's thread failed: ${err.message}`);
    fail(err);
  });
  worker.on('exit', (code) => fail(new PgliteThreadError(`The embedded database's thread has ended (exit code ${code})`)));
  keepAlive();

  const call = <T>(request: Request): Promise<T> => {
    if (ended) return Promise.reject(ended);
    const id = nextId++;
    return new Promise<T>((resolve, reject) => {
      pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
      keepAlive();
      worker.postMessage({ id, request });
    });
  };

  const queryable = (tx?: number) => ({
    provider: 'postgres' as const,
    adapterName: ADAPTER_NAME,
    queryRaw: (query: SqlQuery) => call<SqlResultSet>({ op: 'queryRaw', query, tx }),
    executeRaw: (query: SqlQuery) => call<number>({ op: 'executeRaw', query, tx }),
  });
  const transaction = (id: number, options: TransactionOptions): Transaction => {
    let done = false;
    const finish = async (op: 'commit' | 'rollback') => {
      try {
        await call({ op, tx: id });
      } finally {
        if (!done) {
          done = true;
          openTransactions--;
          keepAlive();
        }
      }
    };
    return { ...queryable(id), options, commit: () => finish('commit'), rollback: () => finish('rollback') };
  };
  const adapter: SqlDriverAdapter = {
    ...queryable(),
    executeScript: (script) => call<void>({ op: 'executeScript', script }),
    async startTransaction(isolationLevel) {
      const { tx, options } = await call<{ tx: number; options: TransactionOptions }>({ op: 'startTransaction', isolationLevel });
      openTransactions++;
      keepAlive();
      return transaction(tx, options);
    },
    getConnectionInfo: () => ({ supportsRelationJoins: true }),
    dispose: async () => {},
  };
  let closing: Promise<void> | null = null;
  return {
    factory: {
      provider: 'postgres',
      adapterName: ADAPTER_NAME,
      connect: async () => adapter,
      connectToShadowDb: () => Promise.reject(new Error('The embedded database has no shadow database (migrations are applied in its thread)')),
    },
    sql: {
      query: <T>(text: string, params: readonly unknown[] = []) => call<T[]>({ op: 'query', text, params }),
      execute: (text, params = []) => call<number>({ op: 'execute', text, params }),
    },
    migrate: () => call<MigrationResult>({ op: 'migrate' }),
    close() {
      closing ??= (async () => {
        if (!ended) await call({ op: 'close' });
        await worker.terminate();
      })();
      return closing;
    },
  };
}

function wireToError(error: WireError): Error {
  if ('driver' in error) return new DriverAdapterError(error.driver);
  const err = new Error(error.message) as Error & { code?: string };
  err.name = error.name;
  if (error.code) err.code = error.code;
  return err;
}

function errorToWire(err: unknown): WireError {
  // By name, as Prisma's client recognises it: the adapter may bring its own copy of @prisma/driver-adapter-utils.
  if (err instanceof Error && err.name === 'DriverAdapterError' && typeof err.cause === 'object' && err.cause !== null) return { driver: err.cause as DriverError };
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    return { name: err.name, message: err.message, ...(typeof code === 'string' ? { code } : {}) };
  }
  return { name: 'Error', message: String(err) };
}

/** The worker's side: open PGlite, answer requests in order of arrival, close on request. */
export async function runPgliteThread(): Promise<void> {
  const { parentPort, workerData } = await import('node:worker_threads');
  const port = parentPort!;
  const target = workerData as PgliteThreadTarget;
  let client: PGlite;
  let factory: SqlMigrationAwareDriverAdapterFactory;
  let adapter: SqlDriverAdapter;
  try {
    const [{ PGlite, types }, { PrismaPGlite }] = await Promise.all([import('@electric-sql/pglite'), import('pglite-prisma-adapter')]);
    const options: PGliteOptions = {
      startParams: [...PGlite.defaultStartParams, ...target.extraStartParams],
      initDbStartParams: target.extraStartParams,
      serializers: pgliteSerializers(types),
      ...(target.image ? { loadDataDir: new Blob([target.image.bytes], { type: target.image.type }) } : {}),
      ...(target.fsBundle ? { fsBundle: new Blob([new Uint8Array(target.fsBundle).slice()]) } : {}),
      ...(target.wasmModule ? { pgliteWasmModule: target.wasmModule } : {}),
    };
    client = target.dir.startsWith('memory://') ? new PGlite(options) : new PGlite(target.dir, options);
    await client.waitReady;
    passBinaryArrays(client);
    // A damaged directory may open and fail only at its first statement.
    await client.query('SELECT 1');
    factory = new PrismaPGlite(client);
    adapter = await factory.connect();
  } catch (err) {
    const { name, message } = err instanceof Error ? err : new Error(String(err));
    port.postMessage({ ready: false, error: { name, message } } satisfies Ready);
    port.close();
    return;
  }
  const transactions = new Map<number, Transaction>();
  let nextTx = 1;
  const queryableOf = (tx?: number) => {
    if (tx === undefined) return adapter;
    const found = transactions.get(tx);
    if (!found) throw new Error(`Transaction ${tx} is not open`);
    return found;
  };
  const handle = async (request: Request): Promise<unknown> => {
    switch (request.op) {
      case 'queryRaw':
        return queryableOf(request.tx).queryRaw(request.query);
      case 'executeRaw':
        return queryableOf(request.tx).executeRaw(request.query);
      case 'executeScript':
        return adapter.executeScript(request.script);
      case 'startTransaction': {
        const tx = await adapter.startTransaction(request.isolationLevel);
        const id = nextTx++;
        transactions.set(id, tx);
        return { tx: id, options: tx.options };
      }
      case 'commit':
      case 'rollback': {
        const tx = queryableOf(request.tx) as Transaction;
        transactions.delete(request.tx);
        return request.op === 'commit' ? tx.commit() : tx.rollback();
      }
      case 'query':
        return (await client.query(request.text, request.params as unknown[])).rows;
      case 'execute':
        return (await client.query(request.text, request.params as unknown[])).affectedRows ?? 0;
      case 'migrate': {
        const { applyMigrations } = await import('./migrate.ts');
        return applyMigrations(factory);
      }
      case 'close':
        await client.close();
        return undefined;
    }
  };
  port.on('message', ({ id, request }: { id: number; request: Request }) => {
    handle(request).then(
      (value) => {
        port.postMessage({ id, ok: true, value } satisfies Reply);
      },
      (err: unknown) => port.postMessage({ id, ok: false, error: errorToWire(err) } satisfies Reply),
    );
  });
  port.postMessage({ ready: true } satisfies Ready);
}
