// The nightly fit in a worker thread (node:worker_threads), so that the instance running it keeps serving:
// fitHierarchical is pure CPU for seconds at 10,000 athletes. This module is both sides: fitInWorker (main
// thread) packs the statistics into one transferable buffer and starts a worker on this same file, which
// unpacks them, fits, measures the held-out error of the fit (heldOutError), and sends back the posteriors packed
// the same way.
//
// The worker loads TypeScript through tsx's API (tsImport) from a small evaluated bootstrap: Node's own loader
// does not know .ts, and `--import tsx` in a worker's execArgv does not reach the worker's entry module on Node 20.
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { fitHierarchical, servedModel, type FitDiagnostics, type Hyperparameters, type SufficientStats, type UserPosteriorResult } from '../engine/bayes.ts';
import { heldOutError, type HeldOutError, type HeldOutSession } from '../engine/held-out.ts';
import { P, type FeatureSpec } from '../engine/variables.ts';

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

export interface WorkerFit {
  hyper: Hyperparameters;
  diagnostics: FitDiagnostics;
  /** The held-out error of the fit (null when nothing was held out) and the milliseconds it took in the worker. */
  heldOut: HeldOutError | null;
  heldOutMs: number;
  /** The served model of athlete i (in the order of the statistics passed in), built on demand. */
  user(i: number): UserPosteriorResult;
}

interface FitRequest {
  task: 'nightly-fit';
  stats: Float64Array;
  bounded: Float64Array;
  flags: Int32Array;
  terms?: readonly FeatureSpec[];
  /** The athletes of `stats`, in order, and the sessions to hold out (each one's userId among them). */
  userIds: readonly string[];
  heldOut: readonly HeldOutSession[];
}

type FitMessage =
  | { type: 'progress'; iteration: number; delta: number }
  | {
      type: 'done';
      hyper: Hyperparameters;
      diagnostics: FitDiagnostics;
      means: Float64Array;
      covariances: Float64Array;
      heldOut: HeldOutError | null;
      heldOutMs: number;
    };

export interface WorkerFitOptions {
  onProgress?: (iteration: number, delta: number) => void;
  control?: FitControl;
  /** The terms' hyperpriors (the PopulationPrior table). Default: the seed. */
  terms?: readonly FeatureSpec[];
  /** Sessions to predict from their athlete's other sessions under the fitted population (heldOutError), by `userIds`. */
  heldOut?: { userIds: readonly string[]; sessions: readonly HeldOutSession[] };
}

/**
 * fitHierarchical on a worker thread, then the held-out error of that fit (an athlete posterior per held-out
 * athlete: as heavy as a sweep); the main thread only packs, unpacks and relays progress.
 */
export function fitInWorker(users: readonly SufficientStats[], opts: WorkerFitOptions = {}): Promise<WorkerFit> {
  const { stats, bounded } = packStats(users);
  const request: FitRequest = {
    task: 'nightly-fit',
    stats,
    bounded,
    flags: (opts.control ?? new FitControl()).flags,
    terms: opts.terms,
    userIds: opts.heldOut?.userIds ?? [],
    heldOut: opts.heldOut?.sessions ?? [],
  };
  const tsx = import.meta.resolve('tsx/esm/api');
  const self = import.meta.url;
  const bootstrap = `import(${JSON.stringify(tsx)}).then(({ tsImport }) => tsImport(${JSON.stringify(self)}, ${JSON.stringify(self)}))`;
  return new Promise<WorkerFit>((resolve, reject) => {
    const worker = new Worker(bootstrap, { eval: true, workerData: request, transferList: [stats.buffer as ArrayBuffer, bounded.buffer as ArrayBuffer] });
    let settled = false;
    worker.on('message', (m: FitMessage) => {
      if (m.type === 'progress') {
        opts.onProgress?.(m.iteration, m.delta);
        return;
      }
      settled = true;
      const { hyper, diagnostics, means, covariances, heldOut, heldOutMs } = m;
      resolve({
        hyper,
        diagnostics,
        heldOut,
        heldOutMs,
        user: (i) => servedModel(users[i].n, means.subarray(i * P, (i + 1) * P), covariances.subarray(i * P * P, (i + 1) * P * P), hyper),
      });
      void worker.terminate();
    });
    worker.on('error', (err) => {
      settled = true;
      reject(err);
    });
    worker.on('exit', (code) => {
      if (!settled) reject(new Error(`the fit worker exited with code ${code} before it finished`));
    });
  });
}

function runFit(request: FitRequest): void {
  const { flags } = request;
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
  const means = new Float64Array(users.length * P);
  const covariances = new Float64Array(users.length * P * P);
  fit.users.forEach((u, i) => {
    means.set(u.mean, i * P);
    covariances.set(u.covariance, i * P * P);
  });
  const t0 = performance.now();
  const byId = new Map(request.userIds.map((id, i) => [id, users[i]]));
  const heldOut = heldOutError(request.heldOut, (id) => byId.get(id), fit.hyper);
  const heldOutMs = performance.now() - t0;
  const done: FitMessage = { type: 'done', hyper: fit.hyper, diagnostics: fit.diagnostics, means, covariances, heldOut, heldOutMs };
  parentPort!.postMessage(done, [means.buffer, covariances.buffer]);
}

if (!isMainThread && (workerData as FitRequest | undefined)?.task === 'nightly-fit') runFit(workerData as FitRequest);
