// The nightly fit in a worker thread (node:worker_threads), so that the instance running it keeps serving:
// fitHierarchical is pure CPU for seconds at 10,000 athletes. This module is both sides: startNightlyFit (main
// thread) starts a worker on this same file, which fits, then builds every athlete's stored model (the served
// posterior, the linearised statistics) as JSON (jsonb's binary format), a chunk of athletes at a time, and
// measures the held-out error of the fit in slices between the chunks, while the database writes them. On a
// PostgreSQL server the worker also reads the training data and writes the models on its own connection, so
// neither passes through the API's thread (parsing them there, and the garbage they left, doubled the first-event
// latency of streams during the run). An embedded PGlite lives on the API's thread: there the worker starts while
// the main thread reads, which then posts the statistics packed into transferable buffers, and writes each chunk
// the worker posts (transferred).
// The worker runs at the lowest CPU priority: where it shares the cores with the API's thread (and the
// database), the requests come first.
//
// The worker loads TypeScript through tsx's API (tsImport) from a small evaluated bootstrap: Node's own loader
// does not know .ts, and `--import tsx` in a worker's execArgv does not reach the worker's entry module on Node 20.
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { fitHierarchicalServing, linearisedStats, type FitDiagnostics, type Hyperparameters, type SufficientStats } from '../engine/bayes/index.ts';
import { HeldOutMeasure, type HeldOutError, type HeldOutSession } from '../engine/held-out.ts';
import { P, type FeatureSpec } from '../engine/variables.ts';
import { connectSql } from '../db/sql.ts';
import type { PopulationStat } from '../engine/types.ts';
import { modelOutputRecord, writeModelChunk, type ModelChunk } from './model-store.ts';
import { readNightlyInput, type NightlyInput } from './training-data.ts';
import { importWorkerModule, NO_SOURCE_MAPS } from '../db/worker-module.ts';
import { jsonbBytes } from '../db/jsonb-param.ts';

/** Numbers per athlete in the packed statistics: n, X'X, X'y, y'y, the number of bounded rows. */
const STATS_WIDTH = 1 + P * P + P + 1 + 1;
/** Numbers per bounded row: its upper flag and its design row. */
const BOUNDED_WIDTH = 1 + P;

/**
 * Statistics as two flat buffers (transferable to the worker): per athlete, and every bounded row in order (per
 * athlete its k upper flags, then its k design rows: each a contiguous run, copied back as one array by unpackStats).
 */
export function packStats(users: readonly SufficientStats[]): { stats: Float64Array; bounded: Float64Array } {
  const out = new Float64Array(users.length * STATS_WIDTH);
  const rows = users.reduce((s, u) => s + (u.bounded?.upper.length ?? 0), 0);
  const bounded = new Float64Array(rows * BOUNDED_WIDTH);
  let b = 0;
  users.forEach((u, i) => {
    let o = i * STATS_WIDTH;
    out[o++] = u.n;
    out.set(u.xtx, o);
    o += P * P;
    out.set(u.xty, o);
    out[o + P] = u.yty;
    const k = u.bounded?.upper.length ?? 0;
    out[o + P + 1] = k;
    if (k > 0) {
      bounded.set(u.bounded!.upper, b);
      bounded.set(u.bounded!.x, b + k);
      b += k * BOUNDED_WIDTH;
    }
  });
  return { stats: out, bounded };
}

export function unpackStats(packed: { stats: Float64Array; bounded: Float64Array }): SufficientStats[] {
  const users: SufficientStats[] = [];
  const { stats, bounded } = packed;
  let b = 0;
  for (let o = 0; o < stats.length; o += STATS_WIDTH) {
    const u: SufficientStats = {
      n: stats[o],
      xtx: Array.from(stats.subarray(o + 1, o + 1 + P * P)),
      xty: Array.from(stats.subarray(o + 1 + P * P, o + 1 + P * P + P)),
      yty: stats[o + 1 + P * P + P],
    };
    const k = stats[o + 1 + P * P + P + 1];
    if (k > 0) {
      u.bounded = { x: Array.from(bounded.subarray(b + k, b + k * BOUNDED_WIDTH)), upper: Array.from(bounded.subarray(b, b + k)) };
      b += k * BOUNDED_WIDTH;
    }
    users.push(u);
  }
  return users;
}

/**
 * Holds a fit between sweeps: while held, the worker waits (Atomics.wait, off the main thread) before its next
 * sweep. Tests and benchmarks hold a fit running to measure the API meanwhile; release() lets it go on.
 */
export class FitControl {
  /** [0] = 1 while held; [1] = 1 while a worker is waiting on it. */
  readonly flags = new Int32Array(new SharedArrayBuffer(8));

  hold(): void {
    Atomics.store(this.flags, 0, 1);
  }

  release(): void {
    Atomics.store(this.flags, 0, 0);
    Atomics.notify(this.flags, 0);
  }

  /** A worker is waiting on the hold (the fit is running, between two sweeps). */
  get waiting(): boolean {
    return Atomics.load(this.flags, 1) === 1;
  }
}

/**
 * The worker's thread at the lowest CPU priority, first thing in its bootstrap (loading and compiling its modules
 * is CPU work too). On Linux a thread has its own nice value, set through its thread id; elsewhere (or where it is
 * not permitted) the worker runs at the process's priority.
 */
const LOWER_PRIORITY = `if (process.platform === 'linux') {
  try {
    const tid = Number(require('node:fs').readlinkSync('/proc/thread-self').split('/').pop());
    if (Number.isInteger(tid) && tid > 0) require('node:os').setPriority(tid, require('node:os').constants.priority.PRIORITY_LOW);
  } catch {}
}`;

/** Where the nightly fit's worker gets its input and where its models go. */
export type NightlySource =
  /** A PostgreSQL server: the worker reads the input and writes the models on its own connection. */
  | { kind: 'server'; url: string }
  /**
   * Read by the caller (an embedded PGlite lives on the API's thread); the caller writes each chunk and returns the
   * athletes it left out (writeModelChunk). The input may still be being read: the worker starts (its thread, its
   * modules) meanwhile and gets the input when it is there.
   */
  | { kind: 'input'; input: NightlyInput | Promise<NightlyInput>; write: (chunk: ModelChunk, versionsAtRead: ReadonlyMap<string, string>) => Promise<string[]> };

/** The read's outcome, for the run's log and record. */
export interface NightlyReadSummary {
  sessions: number;
  users: number;
  heldOut: number;
  populationStats: PopulationStat[];
}

/** A chunk of models written: its athletes, and those left out because their model changed since the read (to recompute). */
export interface WrittenChunk {
  userIds: string[];
  changed: string[];
}

/** The held-out error of the fit (null when nothing was held out) and the milliseconds the worker spent on it. */
export interface WorkerHeldOut {
  error: HeldOutError | null;
  ms: number;
}

export interface WorkerFit {
  hyper: Hyperparameters;
  diagnostics: FitDiagnostics;
  /** Every athlete's model written, a chunk at a time, in the order of the input; it ends when every chunk is written. */
  written: AsyncIterable<WrittenChunk>;
  /**
   * The held-out error, measured between the chunks of models (while the database writes them, not before the
   * first): settled by the time `written` ends.
   */
  heldOut: Promise<WorkerHeldOut>;
}

export interface NightlyFit {
  /** Resolves when the input is read (for an 'input' source: when the caller's input has been handed over). With no rated sessions the worker ends there. */
  read: Promise<NightlyReadSummary>;
  /** Resolves when the fit and its held-out error are done. */
  fitted: Promise<WorkerFit>;
  /** Ends the worker (after the models are written, or when they will not be). */
  dispose(): Promise<void>;
}

/** The caller's input, packed: posted to the worker once read (the worker starts before). */
interface PackedInput {
  sessions: number;
  stats: Float64Array;
  bounded: Float64Array;
  userIds: readonly string[];
  heldOut: readonly HeldOutSession[];
  dataThrough: Float64Array;
}

type Source = { kind: 'server'; url: string } | { kind: 'input' };

interface FitRequest {
  task: 'nightly-fit';
  source: Source;
  flags: Int32Array;
  /** [0]: model chunks the main thread has taken (an 'input' worker builds at most CHUNKS_AHEAD beyond it). */
  taken: Int32Array;
  terms?: readonly FeatureSpec[];
  chunk: number;
}

/** Model chunks the worker builds ahead of the main thread's writes (the rest wait in the worker, not in the API's heap). */
const CHUNKS_AHEAD = 2;

type FitMessage =
  | ({ type: 'read' } & NightlyReadSummary)
  | { type: 'progress'; iteration: number; delta: number }
  | { type: 'fitted'; hyper: Hyperparameters; diagnostics: FitDiagnostics }
  | ({ type: 'heldOut' } & WorkerHeldOut)
  | ({ type: 'models' } & ModelChunk)
  | ({ type: 'written' } & WrittenChunk)
  | { type: 'end' };

export interface WorkerFitOptions {
  onProgress?: (iteration: number, delta: number) => void;
  control?: FitControl;
  /** The terms' hyperpriors (the PopulationPrior table). Default: the seed. */
  terms?: readonly FeatureSpec[];
  /** Athletes per model chunk (default 100). */
  chunk?: number;
  /** The worker's JS heap limit in MB (its old generation: fitHeapLimitMb); default: V8's, as for the main thread. */
  heapLimitMb?: number;
  /**
   * The worker at the lowest CPU priority (default: true, where it shares the cores with an API's thread). False for
   * a process that serves nothing (`npm run train`): its fit then gets the CPU share of any other process on the
   * machine instead of waiting behind all of them.
   */
  lowPriority?: boolean;
}

/** What the worker's heap holds per athlete at most (measured about 5-7 KB at 10,000 athletes x 20 sessions), with room to spare. */
const HEAP_PER_ATHLETE_KB = 12;
/** The worker's own modules (about 12 MB of heap) and the fit's fixed state, with room to spare. */
const HEAP_BASE_MB = 96;

/**
 * The fit worker's heap limit for a fit of `athletes` (an upper bound is fine). Without a limit a worker's V8 heap
 * grows by up to 4x what is live before a full collection, and the fit's garbage (the held-out posteriors, each
 * chunk's JSON) piled up to some 150 MB at 10,000 athletes; under a limit of a few hundred MB V8 grows it by a
 * smaller factor and collects sooner (BENCHMARKS.md "Memory"). Scaled with the athletes, so a large population is
 * not cut short: about twice what the fit holds live.
 */
export function fitHeapLimitMb(athletes: number): number {
  return HEAP_BASE_MB + Math.ceil((athletes * HEAP_PER_ATHLETE_KB) / 1024);
}

const summary = (input: NightlyInput): NightlyReadSummary => ({
  sessions: input.data.sessions,
  users: input.data.users.size,
  heldOut: input.held.length,
  populationStats: input.data.populationStats,
});

/** A promise and its settlers (Promise.withResolvers, from Node 22). */
function deferred<T>(): { promise: Promise<T>; resolve: (value: T) => void; reject: (err: Error) => void } {
  let resolve!: (value: T) => void;
  let reject!: (err: Error) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/**
 * The nightly fit on a worker thread: the fit (fitHierarchical), the held-out error of that fit (an athlete
 * posterior per held-out athlete: as heavy as a sweep), every athlete's stored model. On a server the worker also
 * reads the input and writes the models; otherwise this thread packs the input for it and writes the models' JSON.
 */
export function startNightlyFit(source: NightlySource, opts: WorkerFitOptions = {}): NightlyFit {
  const taken = new Int32Array(new SharedArrayBuffer(4));
  const base = { task: 'nightly-fit' as const, flags: (opts.control ?? new FitControl()).flags, taken, terms: opts.terms, chunk: opts.chunk ?? 100 };
  const request: FitRequest = { ...base, source: source.kind === 'server' ? source : { kind: 'input' } };
  // From the build its own bundle beside the caller's, from source the `.ts` file through tsx (worker-module.ts).
  const load = importWorkerModule(import.meta.url, 'fit-worker');
  const bootstrap = `${opts.lowPriority === false ? '' : LOWER_PRIORITY}\n${NO_SOURCE_MAPS}\n${load}`;
  const resourceLimits = opts.heapLimitMb ? { maxOldGenerationSizeMb: opts.heapLimitMb } : undefined;
  const worker = new Worker(bootstrap, { eval: true, workerData: request, resourceLimits });

  // The caller's input once read (an 'input' source): its versions are what each chunk's write compares with.
  let given: NightlyInput | null = null;
  const writeHere = source.kind === 'input' ? (chunk: ModelChunk) => source.write(chunk, given!.versionsAtRead) : null;
  // The model chunks as they arrive, and the reader waiting for the next (or for the end, or a failure).
  const chunks: (ModelChunk | WrittenChunk)[] = [];
  let ended = false;
  let failure: Error | null = null;
  let wake: (() => void) | null = null;
  const signal = () => {
    wake?.();
    wake = null;
  };
  const dispose = async () => {
    ended = true;
    signal();
    await worker.terminate();
  };
  async function* written(): AsyncGenerator<WrittenChunk> {
    try {
      for (;;) {
        const next = chunks.shift();
        if (next) {
          Atomics.add(taken, 0, 1);
          Atomics.notify(taken, 0);
          // Models to write come only from an 'input' worker; a server worker has written them itself.
          yield 'jsonb' in next ? { userIds: next.userIds, changed: await writeHere!(next) } : next;
        } else if (failure) throw failure;
        else if (ended) return;
        else await new Promise<void>((resolve) => (wake = resolve));
      }
    } finally {
      await dispose();
    }
  }

  const read = deferred<NightlyReadSummary>();
  const fitted = deferred<WorkerFit>();
  const heldOut = deferred<WorkerHeldOut>();
  // The caller awaits `fitted` only when there is something to fit: a failure nobody awaits is not unhandled.
  read.promise.catch(() => {});
  fitted.promise.catch(() => {});
  heldOut.promise.catch(() => {});
  let wasFitted = false;
  const fail = (thrown: Error) => {
    // Node ends a worker over its heap limit with this code and a message that names no limit.
    const err =
      (thrown as NodeJS.ErrnoException).code === 'ERR_WORKER_OUT_OF_MEMORY'
        ? new Error(`the fit worker ran out of memory: its heap limit is ${opts.heapLimitMb} MB (FIT_WORKER_HEAP_MB raises it; ${thrown.message})`)
        : thrown;
    failure ??= err;
    read.reject(err);
    heldOut.reject(err);
    if (wasFitted) signal();
    else fitted.reject(err);
  };
  worker.on('message', (m: FitMessage) => {
    if (m.type === 'read') read.resolve({ sessions: m.sessions, users: m.users, heldOut: m.heldOut, populationStats: m.populationStats });
    else if (m.type === 'progress') opts.onProgress?.(m.iteration, m.delta);
    else if (m.type === 'fitted') {
      wasFitted = true;
      fitted.resolve({ hyper: m.hyper, diagnostics: m.diagnostics, written: written(), heldOut: heldOut.promise });
    } else if (m.type === 'heldOut') heldOut.resolve({ error: m.error, ms: m.ms });
    else if (m.type === 'models') {
      chunks.push({ userIds: m.userIds, jsonb: m.jsonb });
      signal();
    } else if (m.type === 'written') {
      chunks.push({ userIds: m.userIds, changed: m.changed });
      signal();
    } else {
      ended = true;
      if (!wasFitted) fitted.reject(new Error('the fit worker ended without fitting (no rated sessions)'));
      heldOut.reject(new Error('the fit worker ended without measuring the held-out error'));
      signal();
    }
  });
  worker.on('error', fail);
  worker.on('exit', (code) => {
    if (!ended) fail(new Error(`the fit worker exited with code ${code} before it finished`));
  });
  if (source.kind === 'input') {
    // The worker starts while the caller reads; the input follows as one message, its statistics transferred.
    Promise.resolve(source.input).then(
      (input) => {
        if (ended || failure) return;
        given = input;
        const { message, transfer } = packInput(input);
        worker.postMessage(message, transfer);
        read.resolve(summary(input));
      },
      (err: Error) => {
        fail(err);
        void dispose();
      },
    );
  }
  return { read: read.promise, fitted: fitted.promise, dispose };
}

/** The caller's input as the worker gets it: the statistics in flat buffers (transferred, not copied). */
function packInput(input: NightlyInput): { message: PackedInput; transfer: ArrayBuffer[] } {
  const { data, held } = input;
  const userIds = [...data.users.keys()];
  const users = userIds.map((id) => data.users.get(id)!);
  const { stats, bounded } = packStats(users.map((u) => u.stats));
  const dataThrough = Float64Array.from(users, (u) => (u.dataThrough ? u.dataThrough.getTime() : Number.NaN));
  const message = { sessions: data.sessions, stats, bounded, userIds, heldOut: held, dataThrough };
  return { message, transfer: [stats.buffer as ArrayBuffer, bounded.buffer as ArrayBuffer, dataThrough.buffer as ArrayBuffer] };
}

/** The fit's input inside the worker: athletes in order, their statistics and newest folded sessions (epoch ms, NaN for none). */
interface WorkerInput {
  userIds: readonly string[];
  users: SufficientStats[];
  dataThrough: ArrayLike<number>;
  /** Read once, for the held-out error (then let go: fitAndBuild takes it out). */
  heldOut: readonly HeldOutSession[] | null;
}

/** The held-out error of the fit, to measure; the input lets go of the held-out sessions (the measure keeps them until done). */
function heldOutMeasure(input: WorkerInput, hyper: Hyperparameters): HeldOutMeasure {
  const byId = new Map(input.userIds.map((id, i) => [id, input.users[i]]));
  const held = input.heldOut ?? [];
  input.heldOut = null;
  return new HeldOutMeasure(held, (id) => byId.get(id), hyper);
}

/** Stored models built between two turns of the worker's event loop (fitAndBuild). */
const YIELD_EVERY = 10;

/**
 * Fits, posts 'fitted'; then hands each chunk of stored models to `emit`, in order, and after each a slice of the
 * held-out error's athletes is measured (posted as 'heldOut' after the last chunk). The slices fill the time the
 * worker would wait for the database to write the chunks handed over: measured before the first chunk, the
 * held-out error kept the database idle for as long (some 0.2 s at 3,000 athletes).
 */
async function fitAndBuild(request: FitRequest, input: WorkerInput, emit: (chunk: ModelChunk, index: number) => Promise<void> | void): Promise<void> {
  const { flags } = request;
  const { users, userIds } = input;
  const t0 = performance.now();
  // The served models are built a chunk at a time, as they are written (all at once they took some 27 MB at 10,000 athletes).
  const fit = fitHierarchicalServing(users, {
    terms: request.terms,
    onProgress: (iteration, delta) => {
      parentPort!.postMessage({ type: 'progress', iteration, delta } satisfies FitMessage);
      while (Atomics.load(flags, 0) === 1) {
        Atomics.store(flags, 1, 1);
        Atomics.wait(flags, 0, 1);
      }
      Atomics.store(flags, 1, 0);
    },
  });
  const perUserMs = (performance.now() - t0) / Math.max(1, users.length);
  parentPort!.postMessage({ type: 'fitted', hyper: fit.hyper, diagnostics: fit.diagnostics } satisfies FitMessage);
  const heldOut = heldOutMeasure(input, fit.hyper);
  let heldOutMs = 0;
  const measureHeldOut = (count?: number) => {
    const t = performance.now();
    heldOut.measure(count);
    heldOutMs += performance.now() - t;
  };

  const chunks = Math.ceil(users.length / request.chunk);
  for (let start = 0, k = 0; start < users.length; start += request.chunk, k++) {
    const ids = userIds.slice(start, start + request.chunk);
    // The chunk's JSON array (as JSON.stringify of the records' array writes it), built a few records at a time
    // with a turn of the event loop in between: the previous chunk's write (a server worker's own connection)
    // goes on meanwhile instead of waiting for the whole chunk.
    const records: string[] = [];
    for (let j = 0; j < ids.length; j++) {
      if (j > 0 && j % YIELD_EVERY === 0) await new Promise((resolve) => setImmediate(resolve));
      const i = start + j;
      // The fit's served model as it is (servedModel of it again added the spreads' uncertainty a second time).
      const result = fit.served(i);
      const through = input.dataThrough[i];
      // Stored for the quick update: the bounded rows linearised at this fit's posterior.
      const stats = linearisedStats(users[i], result.mean, fit.hyper);
      records.push(JSON.stringify(modelOutputRecord({ userId: ids[j], result, stats, dataThrough: Number.isNaN(through) ? null : new Date(through), trainingDurationMs: perUserMs })));
    }
    await emit({ userIds: ids, jsonb: jsonbBytes(`[${records.join(',')}]`) }, k);
    measureHeldOut(Math.ceil(heldOut.remaining / (chunks - k)));
  }
  measureHeldOut();
  parentPort!.postMessage({ type: 'heldOut', error: heldOut.result(), ms: heldOutMs } satisfies FitMessage);
}

/**
 * The stored models' row versions at the read (NightlyInput.versionsAtRead), by athlete in the input's order: 4 bytes
 * each instead of a Map of strings (about 3.6 MB at 10,000 athletes). A row version is a transaction id (xmin), a
 * 32-bit number; 0, which no row has, stands for no model.
 */
class VersionsAtRead {
  private readonly versions: Uint32Array;

  constructor(userIds: readonly string[], byUser: ReadonlyMap<string, string>) {
    this.versions = Uint32Array.from(userIds, (id) => Number(byUser.get(id) ?? 0));
  }

  /** The versions of the chunk of athletes that starts at `start`, as writeModelChunk reads them. */
  chunk(start: number, userIds: readonly string[]): Map<string, string> {
    const out = new Map<string, string>();
    userIds.forEach((id, j) => {
      const version = this.versions[start + j];
      if (version !== 0) out.set(id, String(version));
    });
    return out;
  }
}

/**
 * The training data read on this worker's connection, kept as the fit needs it (the athletes' statistics in order,
 * their newest sessions' times, the stored models' versions); the rest of the read (its maps, dates) is let go.
 * null when there is nothing to fit.
 */
async function readCompactInput(db: Awaited<ReturnType<typeof connectSql>>): Promise<{ input: WorkerInput; versions: VersionsAtRead } | null> {
  const read = await db.transaction(() => readNightlyInput(db.sql));
  parentPort!.postMessage({ type: 'read', ...summary(read) } satisfies FitMessage);
  if (read.data.sessions === 0) return null;
  const userIds = [...read.data.users.keys()];
  const data = userIds.map((id) => read.data.users.get(id)!);
  const input = { userIds, users: data.map((d) => d.stats), dataThrough: Float64Array.from(data, (d) => (d.dataThrough ? d.dataThrough.getTime() : Number.NaN)), heldOut: read.held };
  return { input, versions: new VersionsAtRead(userIds, read.versionsAtRead) };
}

/** On a server: read the input and write the models on this worker's own connection. */
async function runFromServer(request: FitRequest, url: string): Promise<void> {
  const db = await connectSql(url);
  try {
    const read = await readCompactInput(db);
    if (!read) return;
    const { input, versions } = read;
    // One chunk's write in flight while the next chunk is built: the server parses and stores one while this
    // thread computes the other (awaiting each write before building the next left both idle in turn).
    let writing: Promise<void> = Promise.resolve();
    await fitAndBuild(request, input, async (chunk, k) => {
      await writing;
      writing = db
        .transaction(() => writeModelChunk(db.sql, chunk, versions.chunk(k * request.chunk, chunk.userIds)))
        .then((changed) => {
          parentPort!.postMessage({ type: 'written', userIds: chunk.userIds, changed } satisfies FitMessage);
        });
      // A failed write is awaited (and thrown) by the next chunk, or below: not an unhandled rejection meanwhile.
      writing.catch(() => {});
    });
    await writing;
  } finally {
    await db.close();
  }
}

/** From the caller's packed input (its one message): post each chunk of models for the caller to write, at most CHUNKS_AHEAD ahead of it. */
async function runFromInput(request: FitRequest): Promise<void> {
  const source = await new Promise<PackedInput>((resolve) => parentPort!.once('message', resolve));
  if (source.sessions === 0) return;
  const input = { userIds: source.userIds, users: unpackStats(source), dataThrough: source.dataThrough, heldOut: source.heldOut };
  await fitAndBuild(request, input, (chunk, k) => {
    for (let seen = Atomics.load(request.taken, 0); k - seen >= CHUNKS_AHEAD; seen = Atomics.load(request.taken, 0)) Atomics.wait(request.taken, 0, seen);
    // The bytes move to the main thread (transferred, not copied).
    parentPort!.postMessage({ type: 'models', ...chunk } satisfies FitMessage, [chunk.jsonb.buffer as ArrayBuffer]);
  });
}

async function runNightly(request: FitRequest): Promise<void> {
  if (request.source.kind === 'server') await runFromServer(request, request.source.url);
  else await runFromInput(request);
  parentPort!.postMessage({ type: 'end' } satisfies FitMessage);
}

// A failure rejects here, which ends the worker with an 'error' event on its Worker (startNightlyFit's fail).
if (!isMainThread && (workerData as FitRequest | undefined)?.task === 'nightly-fit') void runNightly(workerData as FitRequest);
