// The nightly fit in a worker thread (node:worker_threads), so that the instance running it keeps serving:
// fitHierarchical is pure CPU for seconds at 10,000 athletes. This module is both sides: fitInWorker (main
// thread) packs the statistics into one transferable buffer and starts a worker on this same file, which
// unpacks them, fits, measures the held-out error of the fit (heldOutError), then builds every athlete's stored
// model (the served posterior, the linearised statistics) and serialises them as JSON a chunk at a time, so the
// main thread only passes each chunk on to the database. The worker runs at the lowest CPU priority: where it
// shares the cores with the API's thread (and the database), the requests come first.
//
// The worker loads TypeScript through tsx's API (tsImport) from a small evaluated bootstrap: Node's own loader
// does not know .ts, and `--import tsx` in a worker's execArgv does not reach the worker's entry module on Node 20.
import { readlinkSync } from 'node:fs';
import os from 'node:os';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { fitHierarchical, linearisedStats, servedModel, type FitDiagnostics, type Hyperparameters, type SufficientStats } from '../engine/bayes.ts';
import { heldOutError, type HeldOutError, type HeldOutSession } from '../engine/held-out.ts';
import { P, type FeatureSpec } from '../engine/variables.ts';
import { modelOutputRecord } from './model-store.ts';

/** Numbers per athlete in the packed statistics: n, X'X, X'y, y'y, the number of bounded rows. */
const STATS_WIDTH = 1 + P * P + P + 1 + 1;
/** Numbers per bounded row: upper, then the design row. */
const BOUNDED_WIDTH = 1 + P;

/** Statistics as two flat buffers (transferable to the worker): per athlete, and every bounded row in order. */
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
    for (let r = 0; r < k; r++, b += BOUNDED_WIDTH) {
      bounded[b] = u.bounded!.upper[r];
      for (let j = 0; j < P; j++) bounded[b + 1 + j] = u.bounded!.x[r * P + j];
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
      u.bounded = { x: [], upper: [] };
      for (let r = 0; r < k; r++, b += BOUNDED_WIDTH) {
        u.bounded.upper.push(bounded[b]);
        for (let j = 0; j < P; j++) u.bounded.x.push(bounded[b + 1 + j]);
      }
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

/** Stored models of a run of athletes, as the JSON array model-store.ts writes (jsonb_to_recordset). */
export interface ModelChunk {
  userIds: string[];
  json: string;
}

export interface WorkerFit {
  hyper: Hyperparameters;
  diagnostics: FitDiagnostics;
  /** The held-out error of the fit (null when nothing was held out) and the milliseconds it took in the worker. */
  heldOut: HeldOutError | null;
  heldOutMs: number;
  /**
   * Every athlete's stored model, built in the worker `chunk` athletes at a time, in the order of the statistics
   * passed in. The worker builds at most two chunks ahead of the reader; it ends when this is read to the end,
   * or by dispose().
   */
  models: AsyncIterable<ModelChunk>;
  /** Ends the worker (after the models are read, or when they will not be). */
  dispose(): Promise<void>;
}

interface FitRequest {
  task: 'nightly-fit';
  stats: Float64Array;
  bounded: Float64Array;
  flags: Int32Array;
  /** [0]: model chunks the main thread has taken (the worker builds at most CHUNKS_AHEAD beyond it). */
  taken: Int32Array;
  terms?: readonly FeatureSpec[];
  /** The athletes of `stats`, in order, and the sessions to hold out (each one's userId among them). */
  userIds: readonly string[];
  heldOut: readonly HeldOutSession[];
  /** Each athlete's newest folded session (epoch ms; NaN for none), stored with their model. */
  dataThrough: Float64Array;
  chunk: number;
}

/** Model chunks the worker builds ahead of the main thread's writes (the rest wait in the worker, not in the API's heap). */
const CHUNKS_AHEAD = 2;

type FitMessage =
  | { type: 'progress'; iteration: number; delta: number }
  | { type: 'fitted'; hyper: Hyperparameters; diagnostics: FitDiagnostics; heldOut: HeldOutError | null; heldOutMs: number }
  | ({ type: 'models' } & ModelChunk)
  | { type: 'end' };

export interface WorkerFitOptions {
  onProgress?: (iteration: number, delta: number) => void;
  control?: FitControl;
  /** The terms' hyperpriors (the PopulationPrior table). Default: the seed. */
  terms?: readonly FeatureSpec[];
  /** The athletes, in the order of the statistics: their ids and newest folded sessions, stored with their models. */
  userIds: readonly string[];
  dataThrough: readonly (Date | null)[];
  /** Sessions to predict from their athlete's other sessions under the fitted population (heldOutError). */
  heldOut?: readonly HeldOutSession[];
  /** Athletes per model chunk (default 100). */
  chunk?: number;
}

/**
 * fitHierarchical on a worker thread, then the held-out error of that fit (an athlete posterior per held-out
 * athlete: as heavy as a sweep) and the stored models; the main thread only packs the statistics, relays
 * progress and takes the models' JSON.
 */
export function fitInWorker(users: readonly SufficientStats[], opts: WorkerFitOptions): Promise<WorkerFit> {
  const { stats, bounded } = packStats(users);
  const dataThrough = Float64Array.from(opts.dataThrough, (d) => (d ? d.getTime() : Number.NaN));
  const taken = new Int32Array(new SharedArrayBuffer(4));
  const request: FitRequest = {
    task: 'nightly-fit',
    stats,
    bounded,
    flags: (opts.control ?? new FitControl()).flags,
    taken,
    terms: opts.terms,
    userIds: opts.userIds,
    heldOut: opts.heldOut ?? [],
    dataThrough,
    chunk: opts.chunk ?? 100,
  };
  const tsx = import.meta.resolve('tsx/esm/api');
  const self = import.meta.url;
  const bootstrap = `import(${JSON.stringify(tsx)}).then(({ tsImport }) => tsImport(${JSON.stringify(self)}, ${JSON.stringify(self)}))`;
  const worker = new Worker(bootstrap, {
    eval: true,
    workerData: request,
    transferList: [stats.buffer as ArrayBuffer, bounded.buffer as ArrayBuffer, dataThrough.buffer as ArrayBuffer],
  });

  // The model chunks as they arrive, and the reader waiting for the next (or for the end, or a failure).
  const chunks: ModelChunk[] = [];
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
  async function* models(): AsyncGenerator<ModelChunk> {
    try {
      for (;;) {
        const next = chunks.shift();
        if (next) {
          Atomics.add(taken, 0, 1);
          Atomics.notify(taken, 0);
          yield next;
        } else if (failure) throw failure;
        else if (ended) return;
        else await new Promise<void>((resolve) => (wake = resolve));
      }
    } finally {
      await dispose();
    }
  }

  return new Promise<WorkerFit>((resolve, reject) => {
    let fitted = false;
    const fail = (err: Error) => {
      failure ??= err;
      if (fitted) signal();
      else reject(err);
    };
    worker.on('message', (m: FitMessage) => {
      if (m.type === 'progress') opts.onProgress?.(m.iteration, m.delta);
      else if (m.type === 'fitted') {
        fitted = true;
        resolve({ hyper: m.hyper, diagnostics: m.diagnostics, heldOut: m.heldOut, heldOutMs: m.heldOutMs, models: models(), dispose });
      } else if (m.type === 'models') {
        chunks.push({ userIds: m.userIds, json: m.json });
        signal();
      } else {
        ended = true;
        signal();
      }
    });
    worker.on('error', fail);
    worker.on('exit', (code) => {
      if (!ended) fail(new Error(`the fit worker exited with code ${code} before it finished`));
    });
  });
}

/**
 * This thread at the lowest CPU priority. On Linux a thread has its own nice value, set through its thread id;
 * elsewhere (or where it is not permitted) the fit runs at the process's priority.
 */
function lowerThisThreadsPriority(): void {
  if (process.platform !== 'linux') return;
  try {
    const tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
    if (Number.isInteger(tid) && tid > 0) os.setPriority(tid, os.constants.priority.PRIORITY_LOW);
  } catch {
    // No /proc, or not permitted.
  }
}

function runFit(request: FitRequest): void {
  lowerThisThreadsPriority();
  const { flags, taken } = request;
  const t0 = performance.now();
  const users = unpackStats(request);
  const fit = fitHierarchical(users, {
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
  const t1 = performance.now();
  const byId = new Map(request.userIds.map((id, i) => [id, users[i]]));
  const heldOut = heldOutError(request.heldOut, (id) => byId.get(id), fit.hyper);
  const heldOutMs = performance.now() - t1;
  parentPort!.postMessage({ type: 'fitted', hyper: fit.hyper, diagnostics: fit.diagnostics, heldOut, heldOutMs } satisfies FitMessage);

  for (let start = 0, k = 0; start < users.length; start += request.chunk, k++) {
    for (let seen = Atomics.load(taken, 0); k - seen >= CHUNKS_AHEAD; seen = Atomics.load(taken, 0)) Atomics.wait(taken, 0, seen);
    const userIds = request.userIds.slice(start, start + request.chunk);
    const records = userIds.map((userId, j) => {
      const i = start + j;
      const u = fit.users[i];
      const result = servedModel(users[i].n, u.mean, u.covariance, fit.hyper);
      const through = request.dataThrough[i];
      // Stored for the quick update: the bounded rows linearised at this fit's posterior.
      const stats = linearisedStats(users[i], result.mean, fit.hyper);
      return modelOutputRecord({ userId, result, stats, dataThrough: Number.isNaN(through) ? null : new Date(through), trainingDurationMs: perUserMs });
    });
    parentPort!.postMessage({ type: 'models', userIds, json: JSON.stringify(records) } satisfies FitMessage);
  }
  parentPort!.postMessage({ type: 'end' } satisfies FitMessage);
}

if (!isMainThread && (workerData as FitRequest | undefined)?.task === 'nightly-fit') runFit(workerData as FitRequest);
