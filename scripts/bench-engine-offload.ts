// Issue 19 §1: what moving a `recommendation`'s engine work (rules, prediction, suggestions, statistics, the stored
// row's building) off the API thread into a worker thread would cost that thread, against the work it would take off
// it. Measured as the API thread's own CPU time (process.threadCpuUsage, Node >= 23.9), which the machine's load
// moves far less than wall time:
//   - inline: the work itself, as the resolver does it (scripts/lib/writer-rows.ts's `answer`: bench.ts's athlete,
//     30 sessions, population statistics; the bench's 3-field and a 10-field check-in, varied), µs a check-in;
//   - the round trips to a worker that does the same work (node:worker_threads, one MessagePort), `--in-flight`
//     check-ins outstanding at once (10: wrk -c10), the API thread's µs a round trip:
//       echo   a check-in posted, a small reply back (what any offload pays at least: the post, the port's wake-up,
//              the message event, the structured clone of the check-in);
//       row    a check-in posted, the stored row (RecommendationRow, as the resolver answers and queues it) cloned back;
//       parts  a check-in posted, the row back less its statistical context (the part of the answer a query selects
//              least, and half the row's objects): the lower bound of any design that still brings the row back;
//       json   a check-in posted, the row's JSON text back (one string: its clone is a copy), parsed by the API thread
//              (JSON.parse instead of the structured clone's deserializer; its Dates come back as text);
//       state  as row, the check-in posted with the athlete's state a worker without caches of its own would need (the
//              model, the 30 sessions of history, the population statistics and mu; the compiled rules are closures
//              and cannot travel): the worker receives it (its CPU counts the clone) and answers from its own equal copy.
//
//   npx tsx scripts/bench-engine-offload.ts [--calls 20000] [--in-flight 10] [--rounds 3]
//
// Beside each variant, the worker's own µs a check-in (the work, and its side of the clone): what the machine's cores
// pay in all, which matters where they, not the API thread, are saturated (PGlite beside wrk on 2 cores).
// Each round runs every variant in turn (inline first in odd rounds, last in even ones); medians at the end.
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { isMainThread, parentPort, Worker } from 'node:worker_threads';
import type { RecommendationRow } from '../src/resolvers/recommendation-store.ts';
import { benchAthlete } from './lib/engine-athlete.ts';
import { answer, checkIns } from './lib/writer-rows.ts';

type Mode = 'echo' | 'row' | 'parts' | 'json' | 'state';
/** The worker's own CPU time so far (µs), asked for around each run. */
type CpuAsk = { k: -1; mode: 'cpu' };
interface Ask {
  k: number;
  mode: Mode;
  userId: string;
  checkIn: (typeof checkIns)[number];
  /** With `state`: what the engine reads of the athlete and the population. */
  state?: unknown;
}

const USER = '00000000-0000-4000-8000-0000000000aa';
const FITTED_AT = new Date(Date.UTC(2026, 11, 6, 2));

/** This thread's CPU time so far, µs. */
function threadMicros(): number {
  const threadCpuUsage = (process as NodeJS.Process & { threadCpuUsage?(): NodeJS.CpuUsage }).threadCpuUsage;
  if (!threadCpuUsage) throw new Error("bench-engine-offload needs Node >= 23.9 (process.threadCpuUsage): run it with the project's node (npx tsx)");
  const u = threadCpuUsage.call(process);
  return u.user + u.system;
}

if (!isMainThread) {
  // The worker: the same engine and athlete, answering each check-in it is sent.
  const port = parentPort;
  if (!port) throw new Error('bench-engine-offload: no parent port');
  port.on('message', (ask: Ask | CpuAsk) => {
    if (ask.mode === 'cpu') {
      port.postMessage({ k: -1, cpu: threadMicros() });
      return;
    }
    if (ask.mode === 'echo') {
      port.postMessage({ k: ask.k });
      return;
    }
    const row = answer(ask.userId, ask.checkIn, FITTED_AT);
    if (ask.mode === 'row' || ask.mode === 'state') port.postMessage({ k: ask.k, row });
    else if (ask.mode === 'json') port.postMessage({ k: ask.k, json: JSON.stringify(row) });
    else port.postMessage({ k: ask.k, row: { ...row, statisticalContext: null } });
  });
} else {
  const { values: args } = parseArgs({
    options: { calls: { type: 'string', default: '20000' }, 'in-flight': { type: 'string', default: '10' }, rounds: { type: 'string', default: '3' } },
  });
  const calls = Number(args.calls);
  const inFlight = Number(args['in-flight']);
  const rounds = Number(args.rounds);

  const { model, history, populationStats, hyper } = benchAthlete();
  const athleteState = { model, history, populationStats, mu: hyper.mu };
  const self = import.meta.url;
  const tsx = import.meta.resolve('tsx/esm/api');
  const worker = new Worker(`import(${JSON.stringify(tsx)}).then(({ tsImport }) => tsImport(${JSON.stringify(self)}, ${JSON.stringify(self)}))`, { eval: true });
  worker.unref();

  /** The API thread's µs a check-in answered in this thread. */
  const inline = (): { cpu: number; wall: number; worker: number } => {
    let sink = 0;
    const c0 = threadMicros();
    const t0 = performance.now();
    for (let i = 0; i < calls; i++) sink += (answer(USER, checkIns[i % checkIns.length], FITTED_AT) as RecommendationRow).id.length;
    const wall = ((performance.now() - t0) * 1000) / calls;
    if (sink < 0) console.log(sink);
    return { cpu: (threadMicros() - c0) / calls, wall, worker: 0 };
  };

  const workerMicros = (): Promise<number> =>
    new Promise((resolve) => {
      const onCpu = (reply: { k: number; cpu?: number }) => {
        if (reply.k !== -1) return;
        worker.off('message', onCpu);
        resolve(reply.cpu as number);
      };
      worker.on('message', onCpu);
      worker.postMessage({ k: -1, mode: 'cpu' } satisfies CpuAsk);
    });
  /** The API thread's and the worker's µs a round trip, `inFlight` outstanding at once. */
  const offload = async (mode: Mode): Promise<{ cpu: number; wall: number; worker: number }> => {
    const w0 = await workerMicros();
    const r = await roundTrips(mode);
    return { ...r, worker: ((await workerMicros()) - w0) / calls };
  };
  const roundTrips = (mode: Mode): Promise<{ cpu: number; wall: number }> =>
    new Promise((resolve) => {
      let sent = 0;
      let received = 0;
      let sink = 0;
      const c0 = threadMicros();
      const t0 = performance.now();
      const post = () => {
        const k = sent++;
        worker.postMessage({ k, mode, userId: USER, checkIn: checkIns[k % checkIns.length], ...(mode === 'state' ? { state: athleteState } : {}) } satisfies Ask);
      };
      const onMessage = (reply: { k: number; row?: RecommendationRow; json?: string }) => {
        received++;
        if (reply.json !== undefined) reply.row = JSON.parse(reply.json) as RecommendationRow;
        // Read the answer as the resolver's caller would (its id, type and prediction), so nothing is left unread.
        if (reply.row) sink += reply.row.id.length + (reply.row.expectedQuality ?? 0);
        if (sent < calls) post();
        else if (received === calls) {
          worker.off('message', onMessage);
          const wall = ((performance.now() - t0) * 1000) / calls;
          if (sink < 0) console.log(sink);
          resolve({ cpu: (threadMicros() - c0) / calls, wall });
        }
      };
      worker.on('message', onMessage);
      for (let i = 0; i < Math.min(inFlight, calls); i++) post();
    });

  // Warm-up: both sides' JIT, the worker's module loaded.
  inline();
  for (const mode of ['echo', 'row', 'parts', 'json', 'state'] as const) await offload(mode);

  const variants = ['inline', 'echo', 'row', 'parts', 'json', 'state'] as const;
  const results: Record<(typeof variants)[number], { cpu: number; wall: number; worker: number }[]> = { inline: [], echo: [], row: [], parts: [], json: [], state: [] };
  for (let round = 1; round <= rounds; round++) {
    const order = round % 2 ? [...variants] : [...variants].reverse();
    for (const v of order) {
      const r = v === 'inline' ? inline() : await offload(v);
      results[v].push(r);
      console.log(`[bench-engine-offload] round ${round} ${v}: the API thread ${r.cpu.toFixed(2)} µs a check-in, the worker ${r.worker.toFixed(2)} (wall ${r.wall.toFixed(2)} µs a check-in)`);
    }
  }
  const median = (xs: number[]) => {
    const s = [...xs].sort((a, b) => a - b);
    return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
  };
  console.log(
    `[bench-engine-offload] medians over ${rounds} rounds of ${calls} check-ins (${inFlight} in flight), the API thread's µs a check-in (and the worker's): ${variants.map((v) => `${v} ${median(results[v].map((r) => r.cpu)).toFixed(2)} (${median(results[v].map((r) => r.worker)).toFixed(2)})`).join(', ')}`,
  );
  await worker.terminate();
}
