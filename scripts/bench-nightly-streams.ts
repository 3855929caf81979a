// npx tsx scripts/bench-nightly-streams.ts: does the nightly run stall the API of the instance that runs it?
// preSessionRecommendation streams are opened at a steady rate against a server process, first while it is idle,
// then while that same process runs the nightly training (issue 10: the fit runs in a worker thread), and the
// first-event latencies of the two windows are compared (target: the p99 during the run within 2x the idle one).
//
//   BENCH_DATABASE_URL=postgresql://…/postgres npx tsx scripts/bench-nightly-streams.ts
//     [--users 10000] [--sessions 100] [--rate 50] [--idle-seconds 20] [--connections 200] [--no-write]
//
// The server runs in a child process on a fresh database of that PostgreSQL server (dropped afterwards), the
// athletes and their rated sessions generated server-side (scripts/lib/bulk-sessions.ts); this process is only
// the clients: one graphql-ws connection per athlete for `connections` athletes, streams opened round-robin on
// them at `rate` per second. Every connection runs one untimed stream first (warm caches), so the idle window
// measures the warm path; the nightly run invalidates every athlete's cached model at its end, as in production.
import { fork } from 'node:child_process';
import { createHash } from 'node:crypto';
import os from 'node:os';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { Client } from 'graphql-ws';
import { createDatabase, dropDatabase, openClient, percentile, writeBlock } from './lib/benchmarking.ts';

const SECRET = 'bench-secret-bench-secret-bench-secret-0123456789';
const { values: args } = parseArgs({
  options: {
    users: { type: 'string', default: '10000' },
    sessions: { type: 'string', default: '100' },
    rate: { type: 'string', default: '50' },
    'idle-seconds': { type: 'string', default: '20' },
    connections: { type: 'string', default: '200' },
    'no-write': { type: 'boolean', default: false },
    serve: { type: 'string' },
  },
});
const TAG = 'nightly-streams';

// ================================================================== child: the server

/** The server's event-loop delay (perf_hooks.monitorEventLoopDelay, 1 ms resolution) over one phase of the run. */
interface LoopDelay {
  phase: string;
  p99Ms: number;
  maxMs: number;
}

/**
 * The phase of the run a progress line starts: the stage names of training.ts, with the trained-model stage cut
 * in two at the end of the fit (the worker's fit, then the main thread building and writing the models).
 */
function phaseOf(line: string): string | null {
  const started = /^\[TRAIN\] (\w+): started/.exec(line);
  if (started) return started[1] === 'trainedModel' ? 'fit (worker)' : started[1];
  if (/^\[TRAIN\] trainedModel: fit done/.test(line)) return 'model writes';
  return null;
}

type ToChild = { cmd: 'generate'; users: number; sessions: number } | { cmd: 'idle' } | { cmd: 'nightly' } | { cmd: 'stop' };
type FromChild =
  | { type: 'ready'; wsUrl: string }
  | { type: 'generated'; sessions: number; atBounds: number; ms: number }
  | { type: 'nightly-started' }
  | { type: 'phase'; name: string }
  | { type: 'nightly-finished'; status: string; stageTimings: Record<string, number>; sessions: number; progressLines: number; loopDelay: LoopDelay[] }
  | { type: 'failed'; error: string };

async function serve(databaseUrl: string): Promise<void> {
  const { loadConfig } = await import('../src/config.ts');
  const { startServer } = await import('../src/server.ts');
  const { insertBulkAthletes } = await import('./lib/bulk-sessions.ts');
  const config = loadConfig({ PORT: '0', HOST: '127.0.0.1', JWT_SECRET: SECRET, DATABASE_URL: databaseUrl, RATE_LIMIT_RECOMMENDATION: 'off' });
  let progressLines = 0;
  const loop = monitorEventLoopDelay({ resolution: 1 });
  let phase: string | null = null;
  let loopDelay: LoopDelay[] = [];
  const endPhase = () => {
    if (phase) loopDelay.push({ phase, p99Ms: loop.percentile(99) / 1e6, maxMs: loop.max / 1e6 });
    loop.reset();
  };
  const send = (m: FromChild) => process.send!(m);
  // BENCH_STALL_PROBE=<ms>: print every event-loop stall longer than that, with the time (to set beside --trace-gc).
  const probeMs = Number(process.env.BENCH_STALL_PROBE ?? 0);
  if (probeMs > 0) {
    let last = performance.now();
    setInterval(() => {
      const now = performance.now();
      if (now - last - 5 > probeMs) console.log(`  stall ${(now - last - 5).toFixed(0)} ms at ${now.toFixed(0)} ms (${phase ?? '-'})`);
      last = now;
    }, 5).unref();
  }
  const server = await startServer({
    config,
    schedule: false,
    log: (m) => {
      if (!m.startsWith('[TRAIN]')) return;
      progressLines++;
      console.log(`  server: ${m}`);
      const next = phaseOf(m);
      if (next && phase) {
        if (process.env.BENCH_CHILD_ARGS) console.log(`  phase ${next} at ${process.hrtime.bigint() / 1000n} us`);
        endPhase();
        phase = next;
        send({ type: 'phase', name: next });
      }
    },
  });
  process.on('message', async (raw) => {
    const req = raw as ToChild;
    try {
      if (req.cmd === 'generate') {
        const t = performance.now();
        const { sessions } = await insertBulkAthletes(server.db.prisma, { users: req.users, sessionsPerUser: req.sessions, tag: TAG });
        await server.db.prisma.$executeRawUnsafe('ANALYZE');
        const [{ n }] = await server.db.prisma.$queryRawUnsafe<{ n: number }[]>(`SELECT count(*)::int AS n FROM climbing_sessions WHERE "sessionQuality" IN (1, 10)`);
        send({ type: 'generated', sessions, atBounds: n, ms: performance.now() - t });
      } else if (req.cmd === 'idle') {
        loopDelay = [];
        loop.enable();
        loop.reset();
        phase = 'idle';
      } else if (req.cmd === 'nightly') {
        progressLines = 0;
        endPhase();
        loop.enable();
        loop.reset();
        phase = 'start';
        const { started, finished } = server.training.startNightly('MANUAL');
        await started;
        send({ type: 'nightly-started' });
        const run = await finished;
        endPhase();
        phase = null;
        loop.disable();
        send({ type: 'nightly-finished', status: run.status, stageTimings: run.stageTimings as Record<string, number>, sessions: run.sessionsUsed ?? 0, progressLines, loopDelay });
      } else {
        await server.stop();
        process.exit(0);
      }
    } catch (err) {
      send({ type: 'failed', error: String((err as Error).stack ?? err) });
    }
  });
  send({ type: 'ready', wsUrl: server.wsUrl });
}

// ================================================================== parent: the clients

/** The id bulk-sessions.ts gives athlete i of a tag: md5(tag || ':' || i)::uuid. */
function bulkUserId(i: number): string {
  const h = createHash('md5').update(`${TAG}:${i}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

const STREAM = `subscription($input: PreSessionInput!) {
  preSessionRecommendation(input: $input) {
    type
    ... on DoneEvent { source expectedQuality }
    ... on ErrorEvent { code message }
  }
}`;
const CHECK_IN = { sleepHours: 7, sleepQuality: 6, energyLevel: 6, stressLevel: 4, motivationLevel: 7, sorenessLevel: 3, daysSinceHardSession: 2, caffeineMg: 100, warmupMin: 15 };

interface Timed {
  /** The phase of the nightly run the stream was opened in ('idle' outside a run). */
  phase: string;
  firstMs: number;
  doneMs: number;
  failed: boolean;
}

function timedStream(client: Client, phase = 'idle'): Promise<Timed> {
  return new Promise((resolve) => {
    const t0 = performance.now();
    let firstMs = -1;
    let last: string | undefined;
    client.subscribe<{ preSessionRecommendation: { type: string } }>(
      { query: STREAM, variables: { input: CHECK_IN } },
      {
        next: (v) => {
          if (firstMs < 0) firstMs = performance.now() - t0;
          last = v.data?.preSessionRecommendation.type;
        },
        error: () => resolve({ phase, firstMs, doneMs: performance.now() - t0, failed: true }),
        complete: () => resolve({ phase, firstMs, doneMs: performance.now() - t0, failed: last !== 'DONE' }),
      },
    );
  });
}

/** Streams opened at `rate` per second, round-robin over the clients, until `until()` says stop. */
async function steadyStreams(clients: Client[], rate: number, until: () => boolean, phase: () => string = () => 'idle'): Promise<Timed[]> {
  const pending: Promise<Timed>[] = [];
  const t0 = performance.now();
  for (let k = 0; !until(); k++) {
    pending.push(timedStream(clients[k % clients.length], phase()));
    const wait = t0 + ((k + 1) * 1000) / rate - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  }
  return Promise.all(pending);
}

interface Summary {
  streams: number;
  failed: number;
  firstP50: number;
  firstP99: number;
  firstMax: number;
  doneP50: number;
  doneP99: number;
  seconds: number;
}
function summarise(timed: Timed[], seconds: number): Summary {
  const ok = timed.filter((t) => !t.failed);
  const first = ok.map((t) => t.firstMs).sort((a, b) => a - b);
  const done = ok.map((t) => t.doneMs).sort((a, b) => a - b);
  return {
    streams: timed.length,
    failed: timed.length - ok.length,
    firstP50: percentile(first, 50),
    firstP99: percentile(first, 99),
    firstMax: first.at(-1) ?? NaN,
    doneP50: percentile(done, 50),
    doneP99: percentile(done, 99),
    seconds,
  };
}

async function main(): Promise<void> {
  const adminUrl = process.env.BENCH_DATABASE_URL || process.env.TEST_DATABASE_URL;
  if (!adminUrl) {
    // Part of `npm run bench`, which runs on PGlite alone without a server: 1M sessions need PostgreSQL.
    console.log('bench-nightly-streams: skipped (it needs BENCH_DATABASE_URL, a PostgreSQL server)');
    return;
  }
  const users = Number(args.users);
  const perUser = Number(args.sessions);
  const rate = Number(args.rate);
  const idleSeconds = Number(args['idle-seconds']);
  const connections = Math.min(users, Number(args.connections));
  const loadAtStart = os.loadavg();
  const url = await createDatabase(adminUrl);
  // BENCH_CHILD_ARGS: Node options for the server process (e.g. --cpu-prof, --trace-gc) when looking into a stall.
  const execArgv = [...process.execArgv, ...(process.env.BENCH_CHILD_ARGS?.split(/\s+/).filter(Boolean) ?? [])];
  const child = fork(fileURLToPath(import.meta.url), ['--serve', url.toString()], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv });
  const messages: FromChild[] = [];
  let wake: () => void = () => {};
  let phase = 'start';
  child.on('message', (m) => {
    if ((m as FromChild).type === 'phase') {
      phase = (m as Extract<FromChild, { type: 'phase' }>).name;
      return;
    }
    messages.push(m as FromChild);
    wake();
  });
  const next = async <T extends FromChild['type']>(type: T): Promise<Extract<FromChild, { type: T }>> => {
    for (;;) {
      const i = messages.findIndex((m) => m.type === type || m.type === 'failed');
      if (i >= 0) {
        const [m] = messages.splice(i, 1);
        if (m.type === 'failed') throw new Error(`server child: ${m.error}`);
        return m as Extract<FromChild, { type: T }>;
      }
      await new Promise<void>((r) => (wake = r));
    }
  };
  const clients: Client[] = [];
  try {
    const { wsUrl } = await next('ready');
    console.log(`generating ${users} athletes x ${perUser} sessions ...`);
    child.send({ cmd: 'generate', users, sessions: perUser } satisfies ToChild);
    const generated = await next('generated');
    console.log(`  ${generated.sessions} sessions (${generated.atBounds} rated 1 or 10) in ${(generated.ms / 1000).toFixed(1)} s`);

    // Models for everyone first (the state the API serves in), then the connections and their warm-up streams.
    child.send({ cmd: 'nightly' } satisfies ToChild);
    await next('nightly-started');
    const first = await next('nightly-finished');
    console.log(`  first nightly run ${first.status} in ${(first.stageTimings.totalMs / 1000).toFixed(1)} s`);
    const { TokenService } = await import('../src/auth.ts');
    const tokens = new TokenService(SECRET);
    for (let i = 1; i <= connections; i++) clients.push(await openClient(wsUrl, await tokens.sign({ sub: bulkUserId(i), role: 'athlete' })));
    for (let i = 0; i < clients.length; i += 20) await Promise.all(clients.slice(i, i + 20).map((c) => timedStream(c)));

    console.log(`idle: ${rate} streams/s for ${idleSeconds} s`);
    child.send({ cmd: 'idle' } satisfies ToChild);
    const tIdle = performance.now();
    const idleTimed = await steadyStreams(clients, rate, () => performance.now() - tIdle >= idleSeconds * 1000);
    const idle = summarise(idleTimed, idleSeconds);

    console.log(`during the nightly run: ${rate} streams/s until it finishes`);
    phase = 'start';
    child.send({ cmd: 'nightly' } satisfies ToChild);
    await next('nightly-started');
    let running = true;
    const finished = next('nightly-finished').then((m) => {
      running = false;
      return m;
    });
    const tRun = performance.now();
    const duringTimed = await steadyStreams(
      clients,
      rate,
      () => !running,
      () => phase,
    );
    const run = await finished;
    const during = summarise(duringTimed, (performance.now() - tRun) / 1000);
    if (run.status !== 'SUCCEEDED') throw new Error(`the measured nightly run ${run.status}`);
    const loadAtEnd = os.loadavg();

    const ratio = during.firstP99 / idle.firstP99;
    const f1 = (x: number) => x.toFixed(1);
    const row = (label: string, s: Summary) =>
      `| ${label} | ${f1(s.seconds)} | ${s.streams} | ${f1(s.firstP50)} | ${f1(s.firstP99)} | ${f1(s.firstMax)} | ${f1(s.doneP50)} | ${f1(s.doneP99)} | ${s.failed} |`;
    const stages = ['trainingData', 'fit', 'heldOutError', 'trainedModel', 'modelHistory', 'populationStatistics']
      .filter((k) => typeof run.stageTimings[`${k}Ms`] === 'number')
      .map((k) => `${k} ${(run.stageTimings[`${k}Ms`] / 1000).toFixed(2)} s`)
      .join(', ');
    const cpu = os.cpus();
    const block = [
      '## Streams while the nightly run trains (same server process)',
      '',
      `Command: \`BENCH_DATABASE_URL=postgresql://... npx tsx scripts/bench-nightly-streams.ts${process.argv.slice(2).length ? ` ${process.argv.slice(2).join(' ')}` : ''}\``,
      '',
      `Machine: ${cpu[0]?.model.trim() ?? 'unknown CPU'}, ${cpu.length} cores, Node ${process.version}, ${process.platform} ${process.arch}; run ${new Date().toISOString().slice(0, 10)}; PostgreSQL 15 server on the same machine. ` +
        `Load average (1/5/15 min) at the start ${loadAtStart.map(f1).join(' / ')}, at the end ${loadAtEnd.map(f1).join(' / ')}${loadAtEnd[0] > cpu.length ? " (above the cores: the database, the fit's worker, the server and this client share them, and anything else running then)" : ''}.`,
      '',
      `${users.toLocaleString('en')} athletes x ${perUser} rated sessions (${generated.sessions.toLocaleString('en')}, ${((100 * generated.atBounds) / generated.sessions).toFixed(1)} % at 1 or 10: the bounded model's censored rows), every athlete with a model from a first nightly run. ` +
        `The server in a child process; this process opens \`preSessionRecommendation\` streams over graphql-ws at ${rate} per second, round-robin over ${connections} athletes' connections (each warmed by one untimed stream): ` +
        `for ${idleSeconds} s idle, then from the start of a second nightly run (\`startNightly\` in the server process) to its end. First event and DONE: client-side, from subscribe.`,
      '',
      '| Window | Seconds | Streams | First event p50 ms | First event p99 ms | First event max ms | DONE p50 ms | DONE p99 ms | Failed |',
      '|---|---:|---:|---:|---:|---:|---:|---:|---:|',
      row('idle', idle),
      row('during the nightly run', during),
      '',
      `First-event p99 during the run / idle: **${ratio.toFixed(2)}x** (target within 2x: **${ratio <= 2 ? 'yes' : 'no'}**). ` +
        `The run: ${run.sessions.toLocaleString('en')} sessions, total ${(run.stageTimings.totalMs / 1000).toFixed(2)} s (${stages}); ${run.progressLines} progress lines logged.`,
      '',
      "By phase of the run (and the idle window): the streams opened in it (client-side first event) and the server's event-loop delay over it (`monitorEventLoopDelay`, 1 ms resolution: how late a timer due then ran).",
      '',
      '| Phase | Streams | First event p50 ms | First event p99 ms | First event max ms | Loop delay p99 ms | Loop delay max ms |',
      '|---|---:|---:|---:|---:|---:|---:|',
      ...run.loopDelay.map((d) => {
        const first = (d.phase === 'idle' ? idleTimed : duringTimed)
          .filter((t) => t.phase === d.phase && !t.failed)
          .map((t) => t.firstMs)
          .sort((a, b) => a - b);
        return `| ${d.phase} | ${first.length} | ${f1(percentile(first, 50))} | ${f1(percentile(first, 99))} | ${f1(first.at(-1) ?? NaN)} | ${f1(d.p99Ms)} | ${f1(d.maxMs)} |`;
      }),
    ].join('\n');
    console.log(`\n${block}\n`);
    if (!args['no-write']) {
      writeBlock(new URL('../BENCHMARKS.md', import.meta.url).pathname, 'nightly-streams', block);
      console.log('BENCHMARKS.md updated (nightly-streams block).');
    }
  } finally {
    for (const c of clients) await c.dispose();
    child.send({ cmd: 'stop' } satisfies ToChild);
    await new Promise((r) => child.once('exit', r));
    await dropDatabase(adminUrl, url);
  }
}

if (args.serve) await serve(args.serve);
else await main();
