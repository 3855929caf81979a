// Recommendation benchmark: pure engine phases, then the real server over loopback.
//
//   npm run bench                 # everything; writes BENCHMARKS.md between <!-- bench:start --> and <!-- bench:end -->
//   options: --no-write  --iterations 20000  --seconds 5  --loops 50  --subscribers 1000
//            --postgres postgresql://postgres@127.0.0.1:55432/postgres   (also run the server part on a fresh
//            database of that PostgreSQL server, dropped afterwards; default BENCH_DATABASE_URL, the variable
//            through which `BENCH_DATABASE_URL=... npm run bench` reaches every benchmark script)
//
// 1. Engine phases (pure calls, no I/O): rules (15 seed rules compiled), prediction (+ session type),
//    recommendations (ceilings + suggestions), statistics over 30 history sessions; per-call p50/p99 in µs.
// 2. A real server (startServer from src/server.ts: PORT 0, in-memory PGlite, JWT_SECRET set, schedule off)
//    in a child process (its own event loop and RSS, so the clients' work is not counted against it),
//    seeded with 30 completed sessions for every benchmark athlete and one nightly fit (so every stream
//    takes the full path: personal model, history, population statistics). Over graphql-ws on loopback:
//    time to first event and to DONE at 1, 100 and 1,000 concurrent subscribers (each its own user token and
//    its own ws connection); `recommendation` query throughput with N concurrent fetch loops beside a trivial
//    `{ __typename }`; the server's RSS with 1,000 open ws connections, then with 1,000 open `modelUpdated`
//    subscriptions (a long-lived subscription) when the schema has it.
// Bounded loops only; loopback only.
import { fork, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { Client } from 'graphql-ws';
import { BENCHMARKS_FILE, createDatabase, dropDatabase, OPERATOR, openClient, percentile, STREAM, writeBlock } from './lib/benchmarking.ts';
import { BENCH_SECRET } from './lib/bench-child.ts';

const { values: args } = parseArgs({
  options: {
    serve: { type: 'boolean', default: false },
    'no-write': { type: 'boolean', default: false },
    iterations: { type: 'string', default: '20000' },
    seconds: { type: 'string', default: '5' },
    loops: { type: 'string', default: '50' },
    subscribers: { type: 'string', default: '1000' },
    /** Also run the server part against a fresh database on this PostgreSQL server (admin URL). */
    postgres: { type: 'string' },
    /** (child) the database the server uses; in-memory PGlite when absent. */
    'database-url': { type: 'string' },
    /** (child) PGLITE_THREAD for the server: `false` runs PGlite on the API's thread (the comparison in bench-floor). */
    'pglite-thread': { type: 'string' },
    /** (child) PGlite's data directory (as npm start's default, ./data/pglite, keeps it on disk); in memory when absent. */
    'pglite-dir': { type: 'string' },
  },
});

// ================================================================== child: the server

interface ChildRequest {
  id: number;
  cmd: 'seed' | 'rss' | 'train' | 'store' | 'cpu' | 'pauses' | 'heap-start' | 'heap-stop' | 'heap-snapshot' | 'timeline-start' | 'timeline-stop' | 'stop';
  userIds?: string[];
  sessionsPerUser?: number;
  userId?: string;
  /** timeline-start: the CPU profile's sampling interval (µs; 0: none). */
  sampleUs?: number;
  /** timeline-start: where to write that profile too (bench-floor --timeline-profile). */
  profileFile?: string;
  /** heap-start: sample only the objects that survive a scavenge. */
  survivors?: boolean;
  /** heap-snapshot: the file to write. */
  file?: string;
}

async function serve(): Promise<void> {
  const { loadConfig } = await import('../src/config.ts');
  const { startServer } = await import('../src/server.ts');
  const { simulateAthlete } = await import('./lib/synthetic.ts');
  const databaseUrl = args['database-url'];
  const config = loadConfig({
    PORT: '0',
    HOST: '127.0.0.1',
    JWT_SECRET: BENCH_SECRET,
    PGLITE_DIR: args['pglite-dir'] ?? 'memory://',
    // The bench drives a few athletes back to back as fast as the server answers: measured is the engine, not
    // the per-viewer limit that would refuse them.
    RATE_LIMIT_RECOMMENDATION: 'off',
    ...(databaseUrl ? { DATABASE_URL: databaseUrl } : {}),
    ...(args['pglite-thread'] ? { PGLITE_THREAD: args['pglite-thread'] } : {}),
  });
  config.pgliteDir = args['pglite-dir'] ?? 'memory://';
  // As src/main.ts (npm start) does: the young generation of the flags is this thread's, PGlite's and the fit's threads get a small one.
  const { youngGenerationForThisThreadOnly, releaseUnusedMemory } = await import('../src/heap.ts');
  youngGenerationForThisThreadOnly();
  const server = await startServer({ config, schedule: false, log: () => {} });
  releaseUnusedMemory();
  // The floor of one HTTP round trip on this machine: node:http answering a fixed body, same process.
  const { createServer } = await import('node:http');
  const plain = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.setHeader('content-type', 'application/json');
      res.end('{"data":{"__typename":"Query"}}');
    });
  });
  await new Promise<void>((resolve) => plain.listen(0, '127.0.0.1', () => resolve()));
  const plainUrl = `http://127.0.0.1:${(plain.address() as import('node:net').AddressInfo).port}/`;
  const send = (msg: unknown) => process.send!(msg);
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('the server child needs --expose-gc');
  const rss = () => {
    gc();
    gc();
    const m = process.memoryUsage();
    return { rss: m.rss, heapUsed: m.heapUsed };
  };

  // Where a stream's tail can come from on this thread: event-loop delay and GC pauses, read (and reset) by `pauses`
  // around a measurement (bench-floor's steady run).
  const { monitorEventLoopDelay, PerformanceObserver, constants } = await import('node:perf_hooks');
  const loopDelay = monitorEventLoopDelay({ resolution: 1 });
  loopDelay.enable();
  const gcPauses = { minor: [] as number[], major: [] as number[] };
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      const kind = (e as PerformanceEntry & { detail?: { kind?: number } }).detail?.kind;
      (kind === constants.NODE_PERFORMANCE_GC_MAJOR || kind === constants.NODE_PERFORMANCE_GC_INCREMENTAL ? gcPauses.major : gcPauses.minor).push(e.duration);
    }
  }).observe({ entryTypes: ['gc'] });
  const writerTotals = () => ({ ...server.services.recommendations.totals });
  let writerAtReset = writerTotals();
  // What the young generation saw between two `pauses`: bytes allocated in it and bytes its scavenges promoted to the
  // old generation (V8's GC profiler: each collection's heap spaces before and after).
  const { GCProfiler } = await import('node:v8');
  let gcProfiler = new GCProfiler();
  gcProfiler.start();
  // oldAllocatedBytes: the old space's growth between two collections, i.e. objects V8 allocated there directly
  // (allocation-site pretenuring) rather than promoted by a scavenge; a lower bound (concurrent sweeping frees
  // old-space memory meanwhile).
  const youngGeneration = (): { scavenges: number; allocatedBytes: number; promotedBytes: number; oldAllocatedBytes: number } => {
    const used = (spaces: import('node:v8').HeapSpaceStatistics[], name: string) => spaces.find((x) => x.spaceName === name)?.spaceUsedSize ?? 0;
    let scavenges = 0;
    let allocatedBytes = 0;
    let promotedBytes = 0;
    let oldAllocatedBytes = 0;
    let newSpaceAfterLast: number | null = null;
    let oldSpaceAfterLast: number | null = null;
    for (const e of gcProfiler.stop().statistics) {
      const newBefore = used(e.beforeGC.heapSpaceStatistics, 'new_space');
      if (newSpaceAfterLast !== null) allocatedBytes += Math.max(0, newBefore - newSpaceAfterLast);
      newSpaceAfterLast = used(e.afterGC.heapSpaceStatistics, 'new_space');
      if (oldSpaceAfterLast !== null) oldAllocatedBytes += Math.max(0, used(e.beforeGC.heapSpaceStatistics, 'old_space') - oldSpaceAfterLast);
      oldSpaceAfterLast = used(e.afterGC.heapSpaceStatistics, 'old_space');
      if (e.gcType !== 'Scavenge') continue;
      scavenges++;
      promotedBytes += Math.max(0, used(e.afterGC.heapSpaceStatistics, 'old_space') - used(e.beforeGC.heapSpaceStatistics, 'old_space'));
    }
    gcProfiler = new GCProfiler();
    gcProfiler.start();
    return { scavenges, allocatedBytes, promotedBytes, oldAllocatedBytes };
  };

  let heapSession: import('node:inspector/promises').Session | null = null;
  let stopTimeline: (() => Promise<import('./lib/stall-timeline.ts').Timeline>) | null = null;
  process.on('message', async (raw) => {
    const req = raw as ChildRequest;
    try {
      switch (req.cmd) {
        case 'seed': {
          const prisma = server.db.prisma; // the raw client: no quick update per inserted row
          const ids = req.userIds!;
          await prisma.user.createMany({ data: ids.map((id) => ({ id, role: 'ATHLETE' as const })) });
          const rows = [];
          const day = 86_400_000;
          const origin = Date.UTC(2026, 0, 1);
          for (const [i, userId] of ids.entries()) {
            for (const s of simulateAthlete(i, req.sessionsPerUser!, { seed: 11 }).sessions) {
              const startedAt = new Date(origin + s.day * day);
              rows.push({
                ...s.checkIn,
                userId,
                status: 'COMPLETED' as const,
                startedAt,
                endedAt: new Date(startedAt.getTime() + 2 * 3_600_000),
                sessionQuality: s.sessionQuality,
              });
            }
          }
          // 1,000 rows a call: with 2,000 Prisma split the statement for PostgreSQL's limit on bind parameters and sent
          // the parts concurrently on its transaction's one connection, which pg 8 warns is deprecated (DeprecationWarning).
          for (let k = 0; k < rows.length; k += 1000) await prisma.climbingSession.createMany({ data: rows.slice(k, k + 1000) as never });
          const t = performance.now();
          const run = await server.training.runNightly('MANUAL');
          send({ id: req.id, ok: true, sessions: rows.length, fitStatus: run.status, fitMs: performance.now() - t });
          break;
        }
        case 'rss':
          send({ id: req.id, ok: true, ...rss() });
          break;
        case 'cpu': // this process's CPU time so far (µs): what a stream costs the server, whatever the machine's load
          // mainThread: the API's thread's own CPU time (µs; PGlite's thread, when it has one, is not in it; Node >= 23.9).
          send({
            id: req.id,
            ok: true,
            ...process.cpuUsage(),
            mainThread: (process as NodeJS.Process & { threadCpuUsage?(): NodeJS.CpuUsage }).threadCpuUsage?.() ?? { user: Number.NaN, system: Number.NaN },
          });
          break;
        case 'train': {
          const run = await server.training.trainUser(req.userId!, 'MANUAL');
          send({ id: req.id, ok: true, status: run.status });
          break;
        }
        case 'pauses': {
          const ms = (ns: number) => ns / 1e6;
          const w = writerTotals();
          const summary = (xs: number[]) => ({ n: xs.length, totalMs: xs.reduce((a, b) => a + b, 0), maxMs: Math.max(0, ...xs), over10: xs.filter((x) => x > 10).length });
          send({
            id: req.id,
            ok: true,
            loop: { p50: ms(loopDelay.percentile(50)), p99: ms(loopDelay.percentile(99)), max: ms(loopDelay.max) },
            gcMinor: summary(gcPauses.minor),
            gcMajor: summary(gcPauses.major),
            young: youngGeneration(),
            writer: { batches: w.batches - writerAtReset.batches, rows: w.rows - writerAtReset.rows, jsonMs: w.jsonMs - writerAtReset.jsonMs, maxJsonMs: w.maxJsonMs },
          });
          loopDelay.reset();
          gcPauses.minor.length = 0;
          gcPauses.major.length = 0;
          writerAtReset = w;
          server.services.recommendations.totals.maxJsonMs = 0;
          break;
        }
        case 'heap-start': // V8's sampling heap profiler, collected objects included: where a measurement allocates
          // survivors: only the objects no scavenge freed (those promoted to the old generation, the major GCs'
          // garbage included): what a stream keeps alive past a scavenge.
          heapSession ??= new (await import('node:inspector/promises')).Session();
          heapSession.connect();
          // (Sampled 4x more sparsely then: the profiler's own cost would otherwise queue the streams it watches.)
          await heapSession.post('HeapProfiler.startSampling', {
            samplingInterval: req.survivors ? 16_384 : 4096,
            includeObjectsCollectedByMajorGC: true,
            includeObjectsCollectedByMinorGC: !req.survivors,
          });
          send({ id: req.id, ok: true });
          break;
        case 'heap-stop': {
          const { profile } = await heapSession!.post('HeapProfiler.stopSampling');
          heapSession!.disconnect();
          send({ id: req.id, ok: true, profile });
          break;
        }
        case 'heap-snapshot': // V8's heap snapshot (after a full collection: the live heap) to req.file
          send({ id: req.id, ok: true, file: (await import('node:v8')).writeHeapSnapshot(req.file) });
          break;
        case 'timeline-start': // bench-floor --timeline: stalls, GC pauses and a CPU profile of the steady run
          stopTimeline = await (await import('./lib/stall-timeline.ts')).startTimeline(5, req.sampleUs, req.profileFile);
          send({ id: req.id, ok: true });
          break;
        case 'timeline-stop':
          send({ id: req.id, ok: true, timeline: await stopTimeline!() });
          stopTimeline = null;
          break;
        case 'store':
          await server.services.recommendations.flush();
          send({ id: req.id, ok: true, ...server.services.recommendations.totals });
          break;
        case 'stop':
          plain.close();
          await server.stop();
          send({ id: req.id, ok: true });
          process.exit(0);
      }
    } catch (err) {
      send({ id: req.id, ok: false, error: String((err as Error).stack ?? err) });
    }
  });
  send({ ready: true, url: server.url, wsUrl: server.wsUrl, plainUrl, ...rss() });
}

// ================================================================== parent: measurements

interface Stat {
  n: number;
  p50: number;
  p99: number;
  mean: number;
  max: number;
}
function stat(xs: number[]): Stat {
  const s = [...xs].sort((a, b) => a - b);
  return { n: s.length, p50: percentile(s, 50), p99: percentile(s, 99), mean: s.reduce((a, b) => a + b, 0) / s.length, max: s[s.length - 1] };
}
const mb = (b: number) => `${(b / 1024 / 1024).toFixed(0)} MB`;
const signedMb = (b: number) => `${b >= 0 ? '+' : ''}${mb(b)}`;
/** A memory row with deltas against `base`, per connection / subscription. */
function memRow(label: string, m: { rss: number; heap: number }, base: { rss: number; heap: number }, count: number): string {
  const per = (d: number) => `${f1(d / count / 1024)} KB each`;
  return `| ${label} | ${mb(m.rss)} | ${signedMb(m.rss - base.rss)} (${per(m.rss - base.rss)}) | ${mb(m.heap)} | ${signedMb(m.heap - base.heap)} (${per(m.heap - base.heap)}) |`;
}
const f1 = (x: number) => x.toFixed(1);
const f2 = (x: number) => x.toFixed(2);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function engineBench(iterations: number) {
  const { predictionPhase, recommendationsPhase, rulesPhase, statsPhase } = await import('../src/engine/recommend.ts');
  const { populationUserModel } = await import('../src/engine/bayes/index.ts');
  const { Random } = await import('./lib/synthetic.ts');
  const { MODEL_TERMS, checkInValues } = await import('../src/engine/variables.ts');
  const { benchAthlete } = await import('./lib/engine-athlete.ts');
  type CheckIn = import('../src/engine/variables.ts').CheckIn;

  const { rules, hyper, model, history, populationStats } = benchAthlete();

  // Varied check-ins touching every rule field, so every branch of the rule set is exercised.
  const rng = new Random(20240601);
  const pick = <T>(xs: T[]) => xs[rng.int(0, xs.length - 1)];
  const checkIns: CheckIn[] = Array.from({ length: 1000 }, () => ({
    sleepHours: Math.round((3 + rng.uniform() * 7) * 10) / 10,
    sleepQuality: rng.int(1, 10),
    energyLevel: rng.int(1, 10),
    stressLevel: rng.int(1, 10),
    motivationLevel: rng.int(1, 10),
    sorenessLevel: rng.int(1, 10),
    daysSinceHardSession: rng.int(0, 7),
    caffeineMg: pick([0, 0, 100, 200, 300]),
    warmupMin: rng.int(0, 30),
    daysSinceRestDay: rng.int(0, 7),
    injurySeverity: rng.bernoulli(0.1) ? rng.int(1, 9) : 0,
    pulleyInjuryGrade: rng.bernoulli(0.05) ? rng.int(1, 3) : 0,
    fingerInjuryPresent: rng.bernoulli(0.1),
    alcoholLast24h: rng.bernoulli(0.15),
    caffeineToday: rng.bernoulli(0.6),
    caffeineHabitual: rng.bernoulli(0.5),
    warmupCompleted: rng.bernoulli(0.5),
    hydrationStatus: rng.int(1, 10),
    temperatureC: Math.round((8 + rng.uniform() * 26) * 10) / 10,
    fearOfFalling: rng.int(1, 10),
    performanceAnxiety: rng.int(1, 10),
    trainingLoadChange: Math.round((rng.uniform() * 0.5 - 0.2) * 100) / 100,
  }));

  const values = checkIns.map((c) => checkInValues(c));
  const coldModel = populationUserModel(hyper);
  const evaluations = values.map((c) => rulesPhase(rules, c, null));
  const overrides = evaluations.filter((e) => e.override).length;

  const time = (fn: (i: number) => unknown): Stat => {
    let sink = 0;
    for (let i = 0; i < Math.min(2000, iterations); i++) sink += fn(i) ? 1 : 0; // warm-up (JIT)
    const us: number[] = new Array(iterations);
    for (let i = 0; i < iterations; i++) {
      const t = performance.now();
      sink += fn(i) ? 1 : 0;
      us[i] = (performance.now() - t) * 1000;
    }
    if (sink < 0) console.log(sink);
    return stat(us);
  };
  const n = checkIns.length;
  const results = {
    rules: time((i) => rulesPhase(rules, values[i % n], null)),
    prediction: time((i) => predictionPhase(model, values[i % n], evaluations[i % n])),
    predictionCold: time((i) => predictionPhase(coldModel, values[i % n], evaluations[i % n])),
    recommendations: time((i) => recommendationsPhase(model, values[i % n], evaluations[i % n], 'VOLUME', MODEL_TERMS)),
    statistics: time((i) => statsPhase({ values: values[i % n], model, population: { mu: hyper.mu }, populationStats, history, terms: MODEL_TERMS })),
    all: time((i) => {
      const c = values[i % n];
      const e = rulesPhase(rules, c, null);
      if (e.override) return e;
      const p = predictionPhase(model, c, e);
      recommendationsPhase(model, c, e, p.modelSessionType, MODEL_TERMS);
      return statsPhase({ values: c, model, population: { mu: hyper.mu }, populationStats, history, terms: MODEL_TERMS });
    }),
  };
  return { results, overrides, checkIns: n, ruleCount: rules.rules.length, historyLength: history.length };
}

// ---------------------------------------------------------------- the server child

class ServerChild {
  private next = 1;
  private readonly waiting = new Map<number, (msg: Record<string, unknown>) => void>();
  constructor(readonly proc: ChildProcess) {
    proc.on('message', (raw) => {
      const msg = raw as Record<string, unknown>;
      const resolve = this.waiting.get(msg.id as number);
      if (resolve) {
        this.waiting.delete(msg.id as number);
        resolve(msg);
      }
    });
  }
  request(cmd: ChildRequest['cmd'], extra: Partial<ChildRequest> = {}): Promise<Record<string, unknown>> {
    const id = this.next++;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, (msg) => (msg.ok ? resolve(msg) : reject(new Error(String(msg.error)))));
      this.proc.send({ id, cmd, ...extra });
    });
  }
}

async function startChild(databaseUrl: string | null): Promise<{ child: ServerChild; url: string; wsUrl: string; plainUrl: string; rss: number; heapUsed: number }> {
  const proc = fork(fileURLToPath(import.meta.url), ['--serve', ...(databaseUrl ? ['--database-url', databaseUrl] : [])], {
    execArgv: [...process.execArgv, '--expose-gc'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const ready = await new Promise<Record<string, unknown>>((resolve, reject) => {
    proc.once('message', (m) => resolve(m as Record<string, unknown>));
    proc.once('exit', (code) => reject(new Error(`server child exited with ${code}`)));
  });
  return { child: new ServerChild(proc), url: ready.url as string, wsUrl: ready.wsUrl as string, plainUrl: ready.plainUrl as string, rss: ready.rss as number, heapUsed: ready.heapUsed as number };
}

// ---------------------------------------------------------------- graphql-ws clients

interface Timed {
  firstMs: number;
  doneMs: number;
  lastType: string | undefined;
  error: string | null;
  serverFirstMs: number;
}

function timedStream(client: Client, input: Record<string, unknown>): Promise<Timed> {
  return new Promise((resolve) => {
    const t0 = performance.now();
    let firstMs = -1;
    let serverFirstMs = -1;
    let lastType: string | undefined;
    let error: string | null = null;
    client.subscribe<{ preSessionRecommendation: { type: string; elapsedMs: number } }>(
      { query: STREAM, variables: { input } },
      {
        next: (v) => {
          if (firstMs < 0) {
            firstMs = performance.now() - t0;
            serverFirstMs = v.data?.preSessionRecommendation.elapsedMs ?? -1;
          }
          if (v.errors) error = JSON.stringify(v.errors);
          lastType = v.data?.preSessionRecommendation.type;
        },
        error: (e) => resolve({ firstMs, doneMs: performance.now() - t0, lastType, error: String(e), serverFirstMs }),
        complete: () => resolve({ firstMs, doneMs: performance.now() - t0, lastType, error, serverFirstMs }),
      },
    );
  });
}

/** Check-ins per second of the steady-arrival rows. */
const ARRIVAL_RATES = [100, 250, 500, 750, 1000];

/** What the burst and steady-arrival tables say together (computed from this run's figures). */
function readingOfStreams(subscribers: number, heldOpen: number, burstFirstP99: number, arrivals: { rate: number; firstP99: number; doneP50: number; maxOpen: number }[]): string {
  const under = arrivals.filter((a) => a.firstP99 < 100);
  const best = under[under.length - 1];
  const top = arrivals[arrivals.length - 1];
  const steady = best
    ? `with steady arrivals${heldOpen ? ` and ${heldOpen.toLocaleString('en')} subscriptions held open` : ''} the first event stays under 100 ms at p99 up to ${best.rate.toLocaleString('en')} check-ins per second (p99 ${f1(best.firstP99)} ms, ${best.maxOpen} check-in streams open at once at most)`
    : 'with steady arrivals the first event is over 100 ms at p99 at every rate measured';
  const saturated =
    top.doneP50 > 100
      ? `; at ${top.rate.toLocaleString('en')} per second the later phases queue (DONE p50 ${f1(top.doneP50)} ms: more check-ins than one instance completes per second), yet first events keep leaving first because those phases take turns`
      : '';
  return (
    `Reading: ${steady}${saturated}. A burst is another matter: ${subscribers.toLocaleString('en')} subscriptions arriving in the same few milliseconds queue on one event loop, ` +
    `and the last waits for the subscribe work of every earlier one (WebSocket frame, GraphQL subscribe, the first event's execution and write, ` +
    `with the earlier streams' later phases taking their turns in between: ${f2(burstFirstP99 / subscribers)} ms of queue per subscription here, p99 / subscribers), so its first event p99 is ${f1(burstFirstP99)} ms. More instances shorten that queue; a faster engine does not.`
  );
}

async function inChunks<T>(items: T[], size: number, fn: (item: T) => Promise<unknown>): Promise<void> {
  for (let k = 0; k < items.length; k += size) await Promise.all(items.slice(k, k + size).map(fn));
}

// ---------------------------------------------------------------- HTTP throughput

async function throughput(url: string, tokens: (string | null)[], body: string, seconds: number) {
  const deadline = performance.now() + seconds * 1000;
  const latencies: number[] = [];
  let errors = 0;
  const t0 = performance.now();
  await Promise.all(
    tokens.map(async (token) => {
      while (performance.now() < deadline) {
        const t = performance.now();
        const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) }, body });
        const json = (await res.json()) as { errors?: unknown[] };
        if (!res.ok || json.errors) errors++;
        latencies.push(performance.now() - t);
      }
    }),
  );
  const elapsed = (performance.now() - t0) / 1000;
  return { requests: latencies.length, rps: latencies.length / elapsed, errors, latency: stat(latencies) };
}

// ---------------------------------------------------------------- main

async function main(): Promise<void> {
  const started = Date.now();
  const iterations = Number(args.iterations);
  const seconds = Number(args.seconds);
  const loops = Number(args.loops);
  const subscribers = Number(args.subscribers);
  const lines: string[] = [];
  const cpus = os.cpus();
  lines.push(
    '## Recommendation engine and stream',
    '',
    `Command: \`${process.env.BENCH_DATABASE_URL ? 'BENCH_DATABASE_URL=postgresql://... ' : ''}npx tsx scripts/bench.ts${process.argv.length > 2 ? ` ${process.argv.slice(2).join(' ')}` : ''}\` (the first part of \`npm run bench\`)`,
    '',
    `Machine: ${cpus[0]?.model.trim() ?? 'unknown CPU'}, ${cpus.length} cores, ${(os.totalmem() / 1024 ** 3).toFixed(0)} GB RAM; Node ${process.version}, ${process.platform} ${process.arch}; run ${new Date().toISOString().slice(0, 10)}.`,
    '',
  );

  // ---------------------------------------------------------- 1. pure engine
  console.log(`[bench] engine phases, ${iterations} iterations each ...`);
  const engine = await engineBench(iterations);
  const r = engine.results;
  const row = (name: string, s: Stat, target: string) => `| ${name} | ${f1(s.p50)} | ${f1(s.p99)} | ${f1(s.mean)} | ${target} |`;
  lines.push(
    `### Engine phases (pure calls, µs per call; ${iterations.toLocaleString('en')} calls after 2,000 warm-up, ${engine.checkIns.toLocaleString('en')} varied check-ins cycled)`,
    '',
    '| Phase | p50 µs | p99 µs | mean µs | Target |',
    '|---|---:|---:|---:|---|',
    row(`rules (${engine.ruleCount} seed rules, compiled; ${((100 * engine.overrides) / engine.checkIns).toFixed(0)} % of check-ins end in an override)`, r.rules, '< 10 ms'),
    row('prediction + session type (personal model, 30 sessions)', r.prediction, '< 20 ms'),
    row('prediction + session type (cold start)', r.predictionCold, '< 20 ms'),
    row('recommendations (ceilings + suggestions)', r.recommendations, '–'),
    row(`statistics (${engine.historyLength} history sessions, population statistics and coefficients)`, r.statistics, '< 30 ms'),
    row('all phases (as the stream runs them)', r.all, '–'),
    '',
    'Per-call timing with `performance.now()` (its own cost, ~0.1 µs, is included).',
    '',
  );
  console.log(lines.slice(-12).join('\n'));

  // ---------------------------------------------------------- 2. the real server
  lines.push(...(await serverBench({ label: 'in-memory PGlite', databaseUrl: null, subscribers, loops, seconds })));
  const postgres = args.postgres ?? (process.env.BENCH_DATABASE_URL || null);
  if (postgres) {
    const databaseUrl = await createDatabase(postgres);
    try {
      lines.push('', ...(await serverBench({ label: 'PostgreSQL server on the same machine', databaseUrl, subscribers, loops, seconds })));
    } finally {
      await dropDatabase(postgres, databaseUrl);
    }
  }
  lines.push('', `Targets (domain.md section 9): rules < 10 ms, prediction < 20 ms, statistics < 30 ms, first event < 100 ms. Total run ${f1((Date.now() - started) / 1000)} s.`);

  const report = lines.join('\n');
  console.log(`\n${report}`);
  if (!args['no-write']) {
    writeBlock(BENCHMARKS_FILE, 'bench', report);
    console.log('\nwritten to BENCHMARKS.md (bench block)');
  }
}

interface ServerBenchOptions {
  label: string;
  databaseUrl: string | null;
  subscribers: number;
  loops: number;
  seconds: number;
}

async function serverBench({ label, databaseUrl, subscribers, loops, seconds }: ServerBenchOptions): Promise<string[]> {
  console.log(`[bench] starting the server (child process, ${label}) ...`);
  const loadBefore = os.loadavg();
  const { child, url, wsUrl, plainUrl, rss: rssAtStart, heapUsed: heapAtStart } = await startChild(databaseUrl);
  const memory = async () => {
    await sleep(1000);
    const m = await child.request('rss');
    return { rss: m.rss as number, heap: m.heapUsed as number };
  };
  const { TokenService } = await import('../src/auth.ts');
  const tokens = new TokenService(BENCH_SECRET);
  const subscriberIds = Array.from({ length: subscribers }, () => randomUUID());
  const loopIds = Array.from({ length: loops }, () => randomUUID());
  const seeded = await child.request('seed', { userIds: [...subscriberIds, ...loopIds], sessionsPerUser: 30 });
  console.log(`[bench] seeded ${seeded.sessions} sessions, nightly fit ${seeded.fitStatus} in ${f1((seeded.fitMs as number) / 1000)} s`);
  const subscriberTokens = await Promise.all(subscriberIds.map((sub) => tokens.sign({ sub, role: 'athlete' })));
  const loopTokens = await Promise.all(loopIds.map((sub) => tokens.sign({ sub, role: 'athlete' })));
  const seededMem = await memory();

  console.log(`[bench] opening ${subscribers} graphql-ws connections ...`);
  const clients: Client[] = [];
  for (let k = 0; k < subscribers; k += 100) clients.push(...(await Promise.all(subscriberTokens.slice(k, k + 100).map((t) => openClient(wsUrl, t)))));

  // Warm-up: every subscriber once, 100 at a time (user row known, caches filled, JIT warm). Its timings are
  // the cold row: each athlete's first check-in reads model, baseline and history from the database.
  const cold: Timed[] = [];
  await inChunks(clients, 100, async (c) => cold.push(await timedStream(c, OPERATOR)));
  const coldFirst = stat(cold.map((t) => t.firstMs));
  const coldDone = stat(cold.map((t) => t.doneMs));
  const coldBad = cold.filter((t) => t.error !== null || t.lastType !== 'DONE').length;
  console.log(
    `[bench] cold caches, 100 at a time: first event p50 ${f1(coldFirst.p50)} ms p99 ${f1(coldFirst.p99)} ms; DONE p50 ${f1(coldDone.p50)} ms p99 ${f1(coldDone.p99)} ms; failures ${coldBad}`,
  );

  const levels: { n: number; rounds: number }[] = [
    { n: 1, rounds: 200 },
    { n: Math.min(100, subscribers), rounds: 5 },
    { n: subscribers, rounds: 3 },
  ];
  type StoreTotals = { rows: number; batches: number; inserts: number; writeMs: number };
  const storedBefore = (await child.request('store')) as unknown as StoreTotals;
  const streamRows: string[] = [];
  let burstFirstP99 = 0;
  for (const { n, rounds } of levels) {
    const all: Timed[] = [];
    for (let round = 0; round < rounds; round++) {
      all.push(...(await Promise.all(clients.slice(0, n).map((c) => timedStream(c, OPERATOR)))));
    }
    const bad = all.filter((t) => t.error !== null || t.lastType !== 'DONE').length;
    const first = stat(all.map((t) => t.firstMs));
    const done = stat(all.map((t) => t.doneMs));
    const serverFirst = stat(all.map((t) => t.serverFirstMs));
    if (n === subscribers) burstFirstP99 = first.p99;
    streamRows.push(
      `| ${n.toLocaleString('en')} | ${all.length.toLocaleString('en')} | ${f1(first.p50)} | ${f1(first.p99)} | ${f1(done.p50)} | ${f1(done.p99)} | ${f1(serverFirst.p50)} / ${f1(serverFirst.p99)} | ${bad} |`,
    );
    console.log(`[bench] ${n} concurrent: first event p50 ${f1(first.p50)} ms p99 ${f1(first.p99)} ms; DONE p50 ${f1(done.p50)} ms p99 ${f1(done.p99)} ms; failures ${bad}`);
  }

  // The write cost of the streams above: every DONE's recommendation, stored behind the events in batches.
  const storedAfter = (await child.request('store')) as unknown as StoreTotals;
  const stored = {
    rows: storedAfter.rows - storedBefore.rows,
    batches: storedAfter.batches - storedBefore.batches,
    inserts: storedAfter.inserts - storedBefore.inserts,
    writeMs: storedAfter.writeMs - storedBefore.writeMs,
  };
  const storeNote =
    `Storing the recommendations of the rows above (written after DONE has left, one multi-row INSERT per event-loop iteration's worth of finished streams): ` +
    `${stored.rows.toLocaleString('en')} rows in ${stored.batches.toLocaleString('en')} batches (${f1(stored.rows / Math.max(1, stored.batches))} rows each on average, ${stored.inserts.toLocaleString('en')} INSERT statements), ` +
    `${f1(stored.writeMs)} ms of writing in all: ${f2(stored.writeMs / Math.max(1, stored.batches))} ms per batch, ${f1((1000 * stored.writeMs) / Math.max(1, stored.rows))} µs per row (wall time awaiting the database, during which the event loop serves other work).`;
  console.log(`[bench] ${storeNote}`);
  const connectionsMem = await memory();

  // Long-lived subscriptions: modelUpdated when the schema has it.
  const schemaRes = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${loopTokens[0]}` },
    body: JSON.stringify({ query: '{ __schema { subscriptionType { fields { name } } } }' }),
  });
  const subscriptionFields =
    ((await schemaRes.json()) as { data?: { __schema: { subscriptionType: { fields: { name: string }[] } } } }).data?.__schema.subscriptionType.fields.map((f) => f.name) ?? [];
  let heldMem: { rss: number; heap: number } | null = null;
  let liveNote = '';
  const received: string[] = [];
  const heldErrors: unknown[] = [];
  const held = subscriptionFields.includes('modelUpdated')
    ? clients.map((c, i) =>
        c.subscribe(
          { query: 'subscription { modelUpdated { phase sessionsIncluded } }' },
          { next: (v) => (v.errors ? heldErrors.push(v.errors) : received.push(subscriberIds[i])), error: (e) => heldErrors.push(e), complete: () => {} },
        ),
      )
    : null;
  if (held) {
    // Each subscription opens with the athlete's current model (every subscriber has one): wait for those, then
    // count updates only.
    for (let i = 0; i < 300 && received.length < held.length; i++) await sleep(100);
    await sleep(500);
    const initial = received.splice(0).length;
    console.log(`[bench] modelUpdated: ${initial} of ${held.length} subscriptions opened with the current model`);
    heldMem = await memory();
    console.log(`[bench] ${held.length} modelUpdated subscriptions held open: rss ${mb(heldMem.rss)}`);
  }

  // Steady arrivals, while every subscriber also holds its modelUpdated subscription open: every subscriber
  // checks in once, at a random moment of a window (seeded, so every run and database sees the same
  // schedule); the rate is subscribers / window.
  const { Random } = await import('./lib/synthetic.ts');
  const arrivalRows: string[] = [];
  const arrivals: { rate: number; firstP99: number; doneP50: number; maxOpen: number }[] = [];
  for (const rate of ARRIVAL_RATES) {
    const windowMs = (1000 * clients.length) / rate;
    const rng = new Random(rate);
    const offsets = clients.map(() => rng.uniform() * windowMs);
    let open = 0;
    let maxOpen = 0;
    const all = await Promise.all(
      clients.map(
        (c, i) =>
          new Promise<Timed>((resolve) =>
            setTimeout(() => {
              maxOpen = Math.max(maxOpen, ++open);
              void timedStream(c, OPERATOR).then((t) => {
                open--;
                resolve(t);
              });
            }, offsets[i]),
          ),
      ),
    );
    const bad = all.filter((t) => t.error !== null || t.lastType !== 'DONE').length;
    const first = stat(all.map((t) => t.firstMs));
    const done = stat(all.map((t) => t.doneMs));
    arrivalRows.push(
      `| ${rate.toLocaleString('en')} | ${f1(windowMs / 1000)} | ${all.length.toLocaleString('en')} | ${maxOpen} | ${f1(first.p50)} | ${f1(first.p99)} | ${f1(done.p50)} | ${f1(done.p99)} | ${bad} |`,
    );
    arrivals.push({ rate, firstP99: first.p99, doneP50: done.p50, maxOpen });
    console.log(
      `[bench] ${rate} check-ins/s over ${f1(windowMs / 1000)} s: first event p50 ${f1(first.p50)} ms p99 ${f1(first.p99)} ms; DONE p50 ${f1(done.p50)} ms p99 ${f1(done.p99)} ms; at most ${maxOpen} open at once; failures ${bad}`,
    );
    await sleep(500);
  }
  if (held) {
    // Prove the held subscriptions are live: retrain one athlete and expect exactly that subscriber to hear of it.
    await child.request('train', { userId: subscriberIds[0] });
    for (let i = 0; i < 50 && received.length === 0; i++) await sleep(100);
    const live = heldErrors.length === 0 && received.length === 1 && received[0] === subscriberIds[0];
    liveNote = live
      ? 'Live check of the held subscriptions (after the steady-arrival rows): after retraining one athlete, exactly that subscriber received its `modelUpdated` event.'
      : `Live check of the held subscriptions FAILED: ${received.length} event(s) received, ${heldErrors.length} error(s).`;
    console.log(`[bench] modelUpdated live check: ${received.length} event(s), ${heldErrors.length} error(s)`);
    for (const dispose of held) dispose();
  } else {
    liveNote = 'No long-lived subscription in the schema (`modelUpdated` missing): the open-connection row is the measure.';
  }
  await sleep(200);
  await Promise.all(clients.map((c) => c.dispose()));
  const closedMem = await memory();

  // ---------------------------------------------------------- HTTP throughput
  console.log(`[bench] query throughput: ${loops} loops x ${seconds} s each ...`);
  const recQuery = JSON.stringify({
    query: `query($input: PreSessionInput!) { recommendation(input: $input) { source sessionType prediction { expectedQuality interval { low high } } suggestions { message } warnings { rule message } statisticalContext { populationComparison { variable zScore percentile descriptor } personalHistory { n mean sd best worst trendPerSession } similarSessions { sessionId similarity sessionQuality } coefficientComparisons { variable userCoefficient populationCoefficient sensitivity message } insights } } }`,
    variables: { input: OPERATOR },
  });
  await throughput(url, loopTokens, recQuery, 1); // warm-up: user rows, model cache, keep-alive connections
  const rec = await throughput(url, loopTokens, recQuery, seconds);
  const trivial = await throughput(url, loopTokens, JSON.stringify({ query: '{ __typename }' }), seconds);
  const anonymous = await throughput(
    url,
    loopTokens.map(() => null),
    JSON.stringify({ query: '{ __typename }' }),
    seconds,
  );
  await throughput(
    plainUrl,
    loopTokens.map(() => null),
    '{}',
    1,
  );
  const floor = await throughput(
    plainUrl,
    loopTokens.map(() => null),
    '{}',
    seconds,
  );
  console.log(`[bench] recommendation ${f1(rec.rps)} req/s (p50 ${f1(rec.latency.p50)} ms), __typename ${f1(trivial.rps)} req/s, anonymous ${f1(anonymous.rps)}, plain http ${f1(floor.rps)}`);
  const loadAfter = os.loadavg();

  await child.request('stop').catch(() => {});

  const connections = `${subscribers.toLocaleString('en')} open graphql-ws connections (idle, after the stream runs)`;
  return [
    `### Real server over loopback: ${label} (server in a child process; ${subscribers.toLocaleString('en')} + ${loops} athletes with 30 completed sessions each, ${(seeded.sessions as number).toLocaleString('en')} sessions, one nightly fit ${f1((seeded.fitMs as number) / 1000)} s: every stream takes the full path with a personal model, history and population statistics)`,
    '',
    "graphql-ws, one connection and one user token per subscriber, all subscribing at once; the operator check-in (sleepHours 7, energyLevel 4, stressLevel 2). Client-side times from `subscribe()` to the first event and to DONE, after one warm-up stream per subscriber (timed separately: the cold row below); the server-side column is the first event's own `elapsedMs` (from the start of the resolver, so the gap to the client-side figure is time spent queued before it: socket, parse/validate, context with the JWT check).",
    '',
    '| Concurrent subscribers | Streams timed | First event p50 ms | First event p99 ms | DONE p50 ms | DONE p99 ms | Server-side first event elapsedMs p50 / p99 | Failed streams |',
    '|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...streamRows,
    '',
    storeNote,
    '',
    `Cold caches (the warm-up stream of each subscriber, timed): each athlete's first check-in, 100 at a time, reads its model, baseline and last 30 sessions from the database: first event p50 ${f1(coldFirst.p50)} ms, p99 ${f1(coldFirst.p99)} ms; DONE p50 ${f1(coldDone.p50)} ms, p99 ${f1(coldDone.p99)} ms; ${coldBad} failed. The rows above and below run with those reads cached (models, baselines and history stay cached for MODEL_CACHE_TTL, 1,800 s, and are dropped at once when the athlete's sessions, baseline or model change).`,
    '',
    `Steady arrivals: the same ${subscribers.toLocaleString('en')} connected subscribers each check in once, at a random moment (seeded, uniform) of a window, so the arrival rate is subscribers / window${heldMem ? `, while each of them also holds its \`modelUpdated\` subscription open (so the server has ${subscribers.toLocaleString('en')} concurrent subscribers throughout, plus the check-in streams)` : ''}. "Open at once" is the most check-in streams in flight together, as the client saw them.`,
    '',
    '| Check-ins per second | Window s | Streams | Open at once (max) | First event p50 ms | First event p99 ms | DONE p50 ms | DONE p99 ms | Failed streams |',
    '|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...arrivalRows,
    '',
    readingOfStreams(subscribers, held?.length ?? 0, burstFirstP99, arrivals),
    '',
    `Query throughput, ${loops} concurrent fetch loops (each its own athlete) for ${seconds} s on one server, after a 1 s warm-up:`,
    '',
    '| Query | Requests | req/s | Latency p50 ms | Latency p99 ms | Errors |',
    '|---|---:|---:|---:|---:|---:|',
    `| \`recommendation\` (full answer incl. statistical context) | ${rec.requests.toLocaleString('en')} | ${f1(rec.rps)} | ${f2(rec.latency.p50)} | ${f2(rec.latency.p99)} | ${rec.errors} |`,
    `| \`{ __typename }\` (with the athlete's token: JWT check per request) | ${trivial.requests.toLocaleString('en')} | ${f1(trivial.rps)} | ${f2(trivial.latency.p50)} | ${f2(trivial.latency.p99)} | ${trivial.errors} |`,
    `| \`{ __typename }\` without a token | ${anonymous.requests.toLocaleString('en')} | ${f1(anonymous.rps)} | ${f2(anonymous.latency.p50)} | ${f2(anonymous.latency.p99)} | ${anonymous.errors} |`,
    `| floor: plain \`node:http\` fixed answer in the server process (no GraphQL) | ${floor.requests.toLocaleString('en')} | ${f1(floor.rps)} | ${f2(floor.latency.p50)} | ${f2(floor.latency.p99)} | ${floor.errors} |`,
    '',
    `Server memory (\`process.memoryUsage()\` of the server process after a forced GC and 1 s of quiet${databaseUrl ? '' : '; RSS includes the embedded PGlite database and its WASM heap'}). Deltas are against the same server after every connection closed: the seeded row still holds several hundred MB that the benchmark's bulk \`createMany\` seeding leaves behind in the database client and that is released later, so it is no baseline:`,
    '',
    '| State | RSS | RSS delta | JS heap used | Heap delta |',
    '|---|---:|---:|---:|---:|',
    `| started, empty database | ${mb(rssAtStart)} | | ${mb(heapAtStart)} | |`,
    `| seeded + fitted, before any connection | ${mb(seededMem.rss)} | | ${mb(seededMem.heap)} | |`,
    memRow(connections, connectionsMem, closedMem, subscribers),
    ...(heldMem ? [memRow(`${subscribers.toLocaleString('en')} open \`modelUpdated\` subscriptions, one per connection`, heldMem, closedMem, subscribers)] : []),
    `| all connections closed again (the reference) | ${mb(closedMem.rss)} | | ${mb(closedMem.heap)} | |`,
    '',
    liveNote,
    '',
    `Load average (1/5/15 min) at the server start ${loadBefore.map((x) => x.toFixed(1)).join(' / ')}, at the end ${loadAfter.map((x) => x.toFixed(1)).join(' / ')}${Math.max(loadBefore[0], loadAfter[0]) > os.cpus().length ? `: above the machine's ${os.cpus().length} cores (this benchmark's client and server, and anything else running then), which inflates every latency here (the plain \`node:http\` floor included: compare rows with each other rather than with other machines)` : ''}.`,
  ];
}

if (args.serve) {
  await serve();
} else {
  await main();
  process.exit(0);
}
