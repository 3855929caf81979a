// The embedded database on a worker thread of its own (issue 19): PGlite runs PostgreSQL in WebAssembly on the thread
// that calls it, so every statement on the API's thread (a stream's reads, the recommendation writer's batch) blocked
// its event loop for as long as PostgreSQL worked. Here PGlite, the Prisma driver adapter (pglite-prisma-adapter) and
// the migrations run in a worker; the API's thread sends each statement as one message and gets the rows back as
// Prisma's driver-adapter interface wants them (already converted by the adapter in the worker) or as PGlite's query
// API gives them (the SqlRunner). Transactions are the adapter's own, held in the worker by id: while one is open,
// PGlite's single connection serves only it, as on the API's thread before. The recommendation writer's statement
// (sql.executeBinary) comes as its wire messages written on the API's thread (pg-wire.ts) into a buffer shared with the
// thread, and run by PGlite's execProtocolRaw under the same locks as PGlite's query().
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
import { growMemfsFilesInPlace } from './pglite-memfs.ts';
import { bindExecuteSyncLength, type ErrorFields, messageBufferBytes, parseMessage, readReply, writeBindExecuteSync } from './pg-wire.ts';
import { SessionEndedError, type SqlRunner } from './sql.ts';
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
  /**
   * Bind, Execute and Sync of the named statement `name` (pg-wire.ts), parsed from `text` once per session: the first
   * `length` bytes of the message buffer `buffer`, shared with the thread (`shared`: sent with the first request that
   * uses it on this thread, kept there by its number).
   */
  | { op: 'executeBinary'; name: string; text: string; buffer: number; length: number; shared?: SharedArrayBuffer }
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
  sql: SqlRunner & Required<Pick<SqlRunner, 'prepareSession' | 'executeBinary'>>;
  /** Applies the pending migrations in the worker (the schema engine is loaded there, not here). */
  migrate(): Promise<MigrationResult>;
  /** Where the thread is: open, being reopened after it ended, lost, closed (/ready and /health say it). */
  state(): PgliteThreadState;
  /** `listener` is called once if the database is lost (at once if it is already): the thread ended and was not opened again. */
  onLost(listener: (reason: string) => void): void;
  /** Closes PGlite (its files flushed) and ends the thread; pending statements finish first. */
  close(): Promise<void>;
}

/** Error of an open that failed in the worker, its name kept (client.ts explains a damaged directory from it). */
export class PgliteThreadError extends Error {}

/** Where the embedded database's thread is. */
export type PgliteThreadState =
  | { state: 'open' }
  /** It ended unexpectedly and is being opened again on the same directory; new statements wait for it. */
  | { state: 'reopening'; cause: string; since: Date; attempt: number; attempts: number }
  /** It ended and was not opened again (an in-memory database, no attempts allowed, or every attempt failed). */
  | { state: 'lost'; reason: string }
  | { state: 'closed' };

/** The wait before attempt `attempt` (from 1) of a series: none before the first, then 0.5 s doubling, at most 8 s. */
export function reopenDelayMs(attempt: number): number {
  return attempt <= 1 ? 0 : Math.min(8000, 500 * 2 ** (attempt - 2));
}

/**
 * A thread that ends again within this time of being reopened continues the same series of attempts (a statement
 * that kills the thread each time it runs, a process short of memory): the attempts bound the whole series, and the
 * process is then stopped for its supervisor to restart, instead of reopening forever.
 */
const STABLE_AFTER_MS = 60_000;

const ADAPTER_NAME = 'pglite-prisma-adapter';

/** The worker thread's name (Node >= 22 gives it to the operating system's thread as well). */
export const PGLITE_THREAD_NAME = 'pglite';

/**
 * Starts a worker on `target` and resolves once PGlite has opened in it (rejects with the worker's open failure, or
 * with `signal`'s reason once it aborts: the worker is then terminated, whatever it was doing).
 */
async function startWorker(target: PgliteThreadTarget, signal?: AbortSignal): Promise<Worker> {
  // From the build its own bundle beside the caller's, from source the `.ts` file through tsx (worker-module.ts).
  const load = importWorkerModule(import.meta.url, 'pglite-thread');
  const worker = new Worker(`${NO_SOURCE_MAPS}\n${load}.then((m) => m.runPgliteThread())`, {
    eval: true,
    // The thread's name in the operating system (/proc/<pid>/task/<tid>/comm): scripts/profile-wrk.ts reads its CPU time.
    name: PGLITE_THREAD_NAME,
    workerData: target,
    transferList: target.image ? [target.image.bytes] : [],
  });
  await new Promise<void>((resolve, reject) => {
    const onExit = (code: number) => reject(new PgliteThreadError(`The embedded database's thread ended before it opened (exit code ${code})`));
    const onAbort = () => reject(signal?.reason);
    worker.once('error', reject);
    worker.once('exit', onExit);
    signal?.addEventListener('abort', onAbort, { once: true });
    worker.once('message', (message: Ready) => {
      worker.off('error', reject);
      worker.off('exit', onExit);
      signal?.removeEventListener('abort', onAbort);
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
  return worker;
}

/** One opened worker and the calls waiting on it; a reopened thread is a new link. */
class ThreadLink {
  private readonly pending = new Map<number, { resolve(value: unknown): void; reject(err: Error): void }>();
  private nextId = 1;
  openTransactions = 0;
  /** The message buffers this thread has been sent (executeBinary's `shared`). */
  readonly sharedBuffers = new WeakSet<SharedArrayBuffer>();
  /** Set when the worker has ended: every call then fails with it. */
  ended: Error | null = null;

  constructor(readonly worker: Worker) {
    worker.on('message', (reply: Reply) => {
      const waiter = this.pending.get(reply.id);
      if (!waiter) return;
      this.pending.delete(reply.id);
      this.keepAlive();
      if (reply.ok) waiter.resolve(reply.value);
      else waiter.reject(wireToError(reply.error));
    });
    this.keepAlive();
  }

  // The thread keeps the process alive only while something waits on it (a CLI that forgot close() still exits).
  keepAlive(): void {
    if (this.pending.size > 0 || this.openTransactions > 0) this.worker.ref();
    else this.worker.unref();
  }

  call<T>(request: Request): Promise<T> {
    if (this.ended) return Promise.reject(this.ended);
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
      this.keepAlive();
      this.worker.postMessage({ id, request });
    });
  }

  fail(err: Error): void {
    this.ended ??= err;
    for (const { reject } of this.pending.values()) reject(err);
    this.pending.clear();
  }
}

/**
 * Starts the worker, opens PGlite in it and resolves once it answers (rejects with the worker's open failure).
 *
 * Should the thread end while the database is open (a WebAssembly trap or abort inside PostgreSQL, an out-of-memory
 * in the thread), a directory is opened again in a new thread, up to `reopenAttempts` times with a growing wait: the
 * directory's lock stays this process's, PostgreSQL's crash recovery replays its WAL (what had committed is kept, an
 * open transaction is rolled back). The statements running at the end fail with a SessionEndedError, and so does a
 * transaction open then; statements sent meanwhile wait and run on the new thread, after the session statements
 * (`sql.prepareSession`) are run again. When no attempt is allowed or every one fails, the database is lost: every
 * statement fails, and `onLost`'s listeners are told (the server stops then, for its supervisor to restart it).
 */
export async function openPgliteThread(target: PgliteThreadTarget, log: (msg: string) => void = () => {}, reopenAttempts = 0, reopenTimeoutMs = 60_000): Promise<PgliteThread> {
  // An in-memory database was the thread's memory: it cannot be opened again.
  const reopenable = !target.dir.startsWith('memory://') && reopenAttempts > 0;
  // A directory opened again as it is now (its initdb image, if any, was unpacked by the first open).
  const again: PgliteThreadTarget = { ...target, image: undefined };
  let state: PgliteThreadState = { state: 'open' };
  let closing: Promise<void> | null = null;
  /** While reopening: settles when the thread is open again (or lost). */
  let reopened: Promise<void> | null = null;
  let lostError: Error = new PgliteThreadError('The embedded database is closed');
  const lostListeners: ((reason: string) => void)[] = [];
  /** Statements that set up the database session, run again on a reopened thread (sql.prepareSession). */
  const sessionStatements: string[] = [];
  /** The current series of attempts: how many were made, and when the last succeeded. */
  let attemptsMade = 0;
  let reopenedAt = Number.NEGATIVE_INFINITY;
  /** While an attempt runs: ends it (its thread terminated), for its bound or for close(). */
  let endAttempt: ((reason: Error) => void) | null = null;
  /** While waiting before an attempt (up to 8 s): ends the wait, for close(). */
  let endPause: (() => void) | null = null;

  const lose = (reason: string) => {
    state = { state: 'lost', reason };
    lostError = new PgliteThreadError(`The embedded database is unavailable: ${reason}`);
    log(`[DB] ${reason}`);
    for (const listener of lostListeners.splice(0)) listener(reason);
  };

  const attach = (worker: Worker): ThreadLink => {
    const attached = new ThreadLink(worker);
    let error: Error | null = null;
    worker.on('error', (err) => {
      error = err;
      log(`[DB] the embedded database's thread failed: ${err.message}`);
    });
    worker.on('exit', (code) => {
      const cause = `exit code ${code}${error ? `, ${error.name}: ${error.message.split('\n')[0]}` : ''}`;
      attached.fail(new SessionEndedError(`The embedded database's thread ended (${cause}): a statement running then is kept only if it had committed, and a transaction open then was rolled back`));
      if (attached === link && !closing) onEnd(cause);
    });
    return attached;
  };

  const onEnd = (cause: string) => {
    if (!reopenable) {
      lose(`the embedded database's thread ended (${cause}) and is not reopened (${target.dir.startsWith('memory://') ? 'an in-memory database went with it' : 'PGLITE_REOPEN_ATTEMPTS=0'})`);
      return;
    }
    if (Date.now() - reopenedAt > STABLE_AFTER_MS) attemptsMade = 0;
    log(`[DB] the embedded database's thread ended (${cause}): reopening ${target.dir}`);
    reopened = reopen(cause, new Date()).finally(() => {
      reopened = null;
    });
    reopened.catch(() => {});
  };

  const reopen = async (cause: string, since: Date): Promise<void> => {
    let failure = attemptsMade > 0 ? `it ended again within ${STABLE_AFTER_MS / 1000} s of its last reopen` : '';
    while (attemptsMade < reopenAttempts) {
      const attempt = ++attemptsMade;
      state = { state: 'reopening', cause, since, attempt, attempts: reopenAttempts };
      const delay = reopenDelayMs(attempt);
      if (delay > 0) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, delay);
          endPause = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        endPause = null;
      }
      if (closing) break;
      log(`[DB] reopening the embedded database, attempt ${attempt} of ${reopenAttempts}${delay > 0 ? ` (after ${delay} ms)` : ''}`);
      const started = performance.now();
      let fresh: ThreadLink | null = null;
      // An attempt that does not end (a directory on a stalled disk, a PGlite that never answers) would hold up the
      // series, and the database would never be lost for the supervisor to restart the process: it is bounded, its
      // thread ended, and it counts as a failed attempt.
      const timedOut = new PgliteThreadError(`The embedded database's thread did not open within ${reopenTimeoutMs / 1000} s (PGLITE_REOPEN_TIMEOUT_SECONDS)`);
      const bound = new AbortController();
      endAttempt = (reason: Error) => {
        bound.abort(reason);
        void fresh?.worker.terminate();
      };
      const timer = setTimeout(() => endAttempt?.(timedOut), reopenTimeoutMs);
      try {
        fresh = attach(await startWorker(again, bound.signal));
        for (const text of sessionStatements) await fresh.call({ op: 'execute', text, params: [] });
        // The thread ended by the bound fails its session statement with its end: the bound is the cause.
        if (bound.signal.aborted) throw bound.signal.reason;
      } catch (err) {
        await fresh?.worker.terminate();
        if (closing) break;
        const cause = bound.signal.aborted ? bound.signal.reason : err;
        failure = cause instanceof Error ? `${cause.name}: ${cause.message.split('\n')[0]}` : String(cause);
        log(`[DB] reopening the embedded database failed (attempt ${attempt} of ${reopenAttempts}): ${failure}`);
        continue;
      } finally {
        clearTimeout(timer);
        endAttempt = null;
      }
      if (closing) {
        await fresh.worker.terminate();
        break;
      }
      link = fresh;
      state = { state: 'open' };
      reopenedAt = Date.now();
      log(`[DB] the embedded database is open again in ${Math.round(performance.now() - started)} ms (attempt ${attempt} of ${reopenAttempts}; down ${Date.now() - since.getTime()} ms)`);
      return;
    }
    if (closing) {
      state = { state: 'closed' };
      throw lostError;
    }
    lose(`the embedded database's thread ended (${cause}) and could not be reopened after ${reopenAttempts} attempt(s)${failure ? ` (${failure})` : ''}`);
    throw lostError;
  };

  let link = attach(await startWorker(target));

  /** The link to send to, once the thread is open (again). */
  const current = async (): Promise<ThreadLink> => {
    while (state.state === 'reopening') await reopened;
    if (state.state === 'open') return link;
    throw lostError;
  };
  // The usual case sends at once; only while reopening does a statement wait.
  const call = <T>(request: Request): Promise<T> => (state.state === 'open' ? link.call<T>(request) : current().then((open) => open.call<T>(request)));
  /** The named statements of executeBinary, by text (the same names on a reopened thread, which parses each again). */
  const statementNames = new Map<string, string>();
  /**
   * executeBinary's message buffers, shared with the thread and written again for every statement: a message is about
   * the statement's parameters' bytes (the writer's 150 rows: about 250 kB), and a new ArrayBuffer for each, made here
   * and transferred, was that much external memory made in both isolates a statement, which counts toward V8's
   * allocation limits and so toward their major collections (BENCHMARKS.md step 212). One buffer a statement in flight
   * (the writer sends one at a time); a larger one replaces a buffer too small for a statement.
   */
  const messageBuffers: { shared: SharedArrayBuffer; busy: boolean }[] = [];

  const queryable = (send: <T>(request: Request) => Promise<T>, tx?: number) => ({
    provider: 'postgres' as const,
    adapterName: ADAPTER_NAME,
    queryRaw: (query: SqlQuery) => send<SqlResultSet>({ op: 'queryRaw', query, tx }),
    executeRaw: (query: SqlQuery) => send<number>({ op: 'executeRaw', query, tx }),
  });
  // A transaction lives in the thread that opened it: after a reopen its statements fail with that thread's end.
  const transaction = (on: ThreadLink, id: number, options: TransactionOptions): Transaction => {
    let done = false;
    const send = <T>(request: Request) => on.call<T>(request);
    const finish = async (op: 'commit' | 'rollback') => {
      try {
        await send({ op, tx: id });
      } finally {
        if (!done) {
          done = true;
          on.openTransactions--;
          on.keepAlive();
        }
      }
    };
    return { ...queryable(send, id), options, commit: () => finish('commit'), rollback: () => finish('rollback') };
  };
  const adapter: SqlDriverAdapter = {
    ...queryable(call),
    executeScript: (script) => call<void>({ op: 'executeScript', script }),
    async startTransaction(isolationLevel) {
      const on = await current();
      const { tx, options } = await on.call<{ tx: number; options: TransactionOptions }>({ op: 'startTransaction', isolationLevel });
      on.openTransactions++;
      on.keepAlive();
      return transaction(on, tx, options);
    },
    getConnectionInfo: () => ({ supportsRelationJoins: true }),
    dispose: async () => {},
  };
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
      async executeBinary(text, params) {
        let name = statementNames.get(text);
        if (!name) {
          name = `climbiq_wire_${statementNames.size + 1}`;
          statementNames.set(text, name);
        }
        const on = state.state === 'open' ? link : await current();
        const length = bindExecuteSyncLength(name, params);
        let slot = messageBuffers.find((b) => !b.busy);
        if (!slot) {
          slot = { shared: new SharedArrayBuffer(0), busy: false };
          messageBuffers.push(slot);
        }
        if (slot.shared.byteLength < length) slot.shared = new SharedArrayBuffer(messageBufferBytes(length));
        slot.busy = true;
        try {
          // Written for each call (a statement sent again after a reopen too): the parameters stay the caller's.
          writeBindExecuteSync(new Uint8Array(slot.shared, 0, length), name, params);
          const { shared } = slot;
          const first = !on.sharedBuffers.has(shared);
          on.sharedBuffers.add(shared);
          return await on.call<number>({ op: 'executeBinary', name, text, buffer: messageBuffers.indexOf(slot), length, ...(first ? { shared } : {}) });
        } finally {
          // Free once the thread has answered (it read the message then) or has ended.
          slot.busy = false;
        }
      },
      async prepareSession(text) {
        await call({ op: 'execute', text, params: [] });
        if (!sessionStatements.includes(text)) sessionStatements.push(text);
      },
    },
    migrate: () => call<MigrationResult>({ op: 'migrate' }),
    state: () => state,
    onLost(listener) {
      if (state.state === 'lost') listener(state.reason);
      else lostListeners.push(listener);
    },
    close() {
      closing ??= (async () => {
        // An attempt under way is ended (its thread terminated), or the wait before the next one ends, first.
        endAttempt?.(new PgliteThreadError('The server is stopping'));
        endPause?.();
        await reopened?.catch(() => {});
        if (!link.ended) await link.call({ op: 'close' });
        await link.worker.terminate();
        state = { state: 'closed' };
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

/** A database error of a raw exchange, as PGlite's query() throws it (pg-protocol's DatabaseError: name 'error', the SQLSTATE as `code`). */
function exchangeError(fields: ErrorFields): Error {
  const err = new Error(fields.M ?? 'database error') as Error & { code?: string };
  err.name = 'error';
  if (fields.C) err.code = fields.C;
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
    if (target.dir.startsWith('memory://')) growMemfsFilesInPlace(client.Module);
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
  /** The named statements this session has parsed (executeBinary). */
  const parsed = new Set<string>();
  /** executeBinary's message buffers, by number (shared with the API's thread). */
  const messageBuffers = new Map<number, Uint8Array>();
  /**
   * One raw exchange, serialised as PGlite's query() is (after any transaction Prisma has open on the one connection,
   * and alone among the statements): execProtocolRaw takes neither lock by itself.
   */
  const exchange = (message: Uint8Array): Promise<number> =>
    client._runExclusiveTransaction(() =>
      client._runExclusiveQuery(async () => {
        const { affectedRows, error } = readReply(await client.execProtocolRaw(message, { syncToFs: true }));
        if (error) throw exchangeError(error);
        return affectedRows;
      }),
    );
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
      case 'executeBinary': {
        if (request.shared) messageBuffers.set(request.buffer, new Uint8Array(request.shared));
        const buffer = messageBuffers.get(request.buffer);
        if (!buffer) throw new Error(`Message buffer ${request.buffer} was not sent`);
        await client._checkReady();
        if (!parsed.has(request.name)) {
          await exchange(parseMessage(request.name, request.text));
          parsed.add(request.name);
        }
        return exchange(buffer.subarray(0, request.length));
      }
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
