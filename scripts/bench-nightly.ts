// npx tsx scripts/bench-nightly.ts: the REAL nightly pipeline, TrainingService.runNightly
// through the database (the streaming read, the fit, the writes), at 1k users x 50 sessions and 10k users x 100
// sessions; plus the quick update measured through the database (sessions completed through the same hooked
// client the API writes with). Rows are generated server-side (INSERT ... SELECT from generate_series).
//
// Databases: in-memory PGlite, 1k x 50 (both sizes with --pglite-large); and, when BENCH_DATABASE_URL (or
// TEST_DATABASE_URL) names a PostgreSQL server, both sizes there, each in a fresh database dropped afterwards.
//
// Options: --sizes 1000x50,10000x100 (both engines)   --only pglite|postgres   --quick-updates 200
//          --pglite-large   --no-write (BENCHMARKS.md untouched)   --verbose (the pipeline's own log lines)
import { spawn } from 'node:child_process';
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { loadConfig } from '../src/config.ts';
import { openServices } from '../src/services.ts';
import { bulkUserIdSql, insertBulkAthletes } from './lib/bulk-sessions.ts';
import { createDatabase, dropDatabase, percentile as pct, writeBlock } from './lib/benchmarking.ts';

const { values: args } = parseArgs({
  options: {
    sizes: { type: 'string' },
    'quick-updates': { type: 'string', default: '200' },
    'pglite-large': { type: 'boolean', default: false },
    only: { type: 'string' },
    'no-write': { type: 'boolean', default: false },
    verbose: { type: 'boolean', default: false },
    child: { type: 'string' },
  },
});

const serverUrl = process.env.BENCH_DATABASE_URL || process.env.TEST_DATABASE_URL || null;
type Engine = 'PGlite' | 'PostgreSQL';
const parseSizes = (text: string) =>
  text.split(',').map((s) => {
    const [u, n] = s.split('x').map(Number);
    if (!Number.isInteger(u) || !Number.isInteger(n) || u <= 0 || n <= 0) throw new Error(`bad size "${s}" (want USERSxSESSIONS)`);
    return { users: u, sessions: n };
  });
const plan: { engine: Engine; sizes: { users: number; sessions: number }[] }[] = [];
if (args.only !== 'postgres') plan.push({ engine: 'PGlite', sizes: parseSizes(args.sizes ?? (args['pglite-large'] ? '1000x50,10000x100' : '1000x50')) });
if (args.only !== 'pglite' && serverUrl) plan.push({ engine: 'PostgreSQL', sizes: parseSizes(args.sizes ?? '1000x50,10000x100') });
if (plan.length === 0) throw new Error('nothing to run (--only postgres needs BENCH_DATABASE_URL or TEST_DATABASE_URL)');
const quickUpdates = Number(args['quick-updates']);

const fmtS = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
const mb = (bytes: number) => `${Math.round(bytes / 1024 / 1024)} MB`;

/** Peak RSS while `work` runs, sampled every 100 ms. */
async function withRss<T>(work: () => Promise<T>): Promise<{ result: T; peakRss: number; startRss: number }> {
  const startRss = process.memoryUsage().rss;
  let peakRss = startRss;
  const timer = setInterval(() => {
    peakRss = Math.max(peakRss, process.memoryUsage().rss);
  }, 100);
  try {
    const result = await work();
    peakRss = Math.max(peakRss, process.memoryUsage().rss);
    return { result, peakRss, startRss };
  } finally {
    clearInterval(timer);
  }
}

interface SizeResult {
  engine: Engine;
  users: number;
  sessionsPerUser: number;
  sessions: number;
  generateMs: number;
  stages: Record<string, number>;
  wallMs: number;
  startRss: number;
  peakRss: number;
  status: string;
  sweeps: number | null;
  /** Rated sessions at 1 or 10: the bounded model's censored rows. */
  atBounds: number;
  quick?: { n: number; p50: number; p99: number; max: number; e2eP50: number; e2eP99: number; paths: Record<string, number> };
}

async function benchSize(engine: Engine, users: number, perUser: number, measureQuick: boolean): Promise<SizeResult> {
  const url = engine === 'PostgreSQL' && serverUrl ? await createDatabase(serverUrl) : null;
  const config = loadConfig({
    ...process.env,
    ...(url ? { DATABASE_URL: url } : { DATABASE_URL: '' }),
    PGLITE_DIR: 'memory://',
    JWT_SECRET: 'bench-secret-bench-secret-bench-secret-0123',
  });
  if (!url) config.pgliteDir = 'memory://';
  const logs: string[] = [];
  const opened = await openServices(config, { log: (m) => (args.verbose ? console.log(m) : logs.push(m)) });
  const { services } = opened;
  try {
    const tag = `bench-${users}x${perUser}`;
    const tGen = performance.now();
    let lastReport = 0;
    const generated = await insertBulkAthletes(services.db.prisma, {
      users,
      sessionsPerUser: perUser,
      tag,
      onProgress: (u, s) => {
        if (performance.now() - lastReport > 5000) {
          lastReport = performance.now();
          console.log(`  generating: ${u}/${users} users, ${s} sessions (${fmtS(performance.now() - tGen)})`);
        }
      },
    });
    // PostgreSQL's autovacuum analyses new tables; PGlite has no autovacuum, so it runs as it would in use: unanalysed.
    if (url) await services.db.prisma.$executeRawUnsafe('ANALYZE');
    const generateMs = performance.now() - tGen;
    const [{ n: atBounds }] = await services.db.prisma.$queryRawUnsafe<{ n: number }[]>(`SELECT count(*)::int AS n FROM climbing_sessions WHERE "sessionQuality" IN (1, 10)`);
    console.log(`  generated ${generated.users} users, ${generated.sessions} sessions in ${fmtS(generateMs)}`);

    const t0 = performance.now();
    const { result: run, peakRss, startRss } = await withRss(() => services.training.runNightly('MANUAL'));
    const wallMs = performance.now() - t0;
    const stages = (run.stageTimings ?? {}) as Record<string, number>;
    const pm = await services.db.prisma.populationModel.findFirst({ orderBy: { fittedAt: 'desc' } });
    const sweeps = (pm?.diagnostics as { iterations?: number } | null)?.iterations ?? null;
    console.log(`  nightly ${run.status}: ${run.usersTrained} athletes, ${run.sessionsUsed} sessions, ${fmtS(wallMs)} ${JSON.stringify(stages)}; peak RSS ${mb(peakRss)}`);
    if (run.status !== 'SUCCEEDED') throw new Error(`nightly run ${run.status}: ${run.error}`);

    const out: SizeResult = { engine, users, sessionsPerUser: perUser, sessions: generated.sessions, generateMs, stages, wallMs, startRss, peakRss, status: run.status, sweeps, atBounds };
    if (measureQuick && quickUpdates > 0) out.quick = await benchQuickUpdates(opened.services, tag, Math.min(quickUpdates, users * 1000));
    return out;
  } finally {
    await opened.close();
    if (url && serverUrl) await dropDatabase(serverUrl, url);
  }
}

/**
 * Quick update through the database: for `count` athletes (after the nightly run, so each has stored statistics),
 * a session is started (ACTIVE) and completed with a rating through the hooked client, exactly the writes
 * startSession / completeSession make; the completion triggers the quick update. One at a time, each awaited
 * (services.training.idle()), so the figures are unloaded latencies.
 */
async function benchQuickUpdates(services: Awaited<ReturnType<typeof openServices>>['services'], tag: string, count: number) {
  const ids = await services.db.prisma.$queryRawUnsafe<{ id: string }[]>(`SELECT ${bulkUserIdSql('$1::text', 'i::text')}::text AS id FROM generate_series(1, ${count}) AS i`, tag);
  const e2e: number[] = [];
  let since = new Date();
  // The first 10 completions warm up (JIT, caches, connections) and are not counted.
  const warmup = Math.min(10, Math.floor(ids.length / 2));
  for (const [i, { id: userId }] of ids.entries()) {
    if (i === warmup) {
      await new Promise((r) => setTimeout(r, 5));
      since = new Date();
      e2e.length = 0;
    }
    const session = await services.prisma.climbingSession.create({
      data: {
        userId,
        status: 'ACTIVE',
        sleepHours: 6 + (i % 5) * 0.5,
        sleepQuality: 1 + (i % 10),
        energyLevel: 1 + ((i * 3) % 10),
        stressLevel: 1 + ((i * 7) % 10),
        caffeineMg: (i % 4) * 100,
        plannedCaffeineMg: (i % 4) * 100,
      },
      select: { id: true },
    });
    const t = performance.now();
    await services.prisma.climbingSession.update({
      where: { id: session.id, status: 'ACTIVE' },
      data: { status: 'COMPLETED', sessionQuality: 1 + (i % 10), endedAt: new Date() },
    });
    await services.training.idle();
    e2e.push(performance.now() - t);
  }
  const runs = await services.db.prisma.trainingRun.findMany({ where: { kind: 'QUICK_UPDATE', startedAt: { gte: since } }, select: { status: true, stageTimings: true } });
  if (process.env.BENCH_DEBUG) console.log(runs.length, since, JSON.stringify(await services.db.prisma.trainingRun.findMany({ where: { kind: 'QUICK_UPDATE' }, take: 3 })));
  const failed = runs.filter((r) => r.status !== 'SUCCEEDED').length;
  if (failed > 0) throw new Error(`${failed} quick updates did not succeed`);
  const totals = runs.map((r) => (r.stageTimings as { totalMs: number }).totalMs).sort((a, b) => a - b);
  const paths: Record<string, number> = {};
  for (const r of runs) {
    const p = (r.stageTimings as { path?: string }).path ?? '?';
    paths[p] = (paths[p] ?? 0) + 1;
  }
  e2e.sort((a, b) => a - b);
  const quick = { n: totals.length, p50: pct(totals, 50), p99: pct(totals, 99), max: totals[totals.length - 1], e2eP50: pct(e2e, 50), e2eP99: pct(e2e, 99), paths };
  console.log(
    `  quick update x${quick.n}: p50 ${quick.p50.toFixed(2)} ms, p99 ${quick.p99.toFixed(2)} ms (write returned -> model written: p50 ${quick.e2eP50.toFixed(2)} ms, p99 ${quick.e2eP99.toFixed(2)} ms) ${JSON.stringify(paths)}`,
  );
  return quick;
}

/** One measurement in a fresh process, so its RSS is its own (PGlite keeps its WASM heap for the process's life). */
function inChild(engine: Engine, users: number, perUser: number, measureQuick: boolean): Promise<SizeResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        fileURLToPath(import.meta.url),
        '--child',
        `${engine}:${users}x${perUser}:${measureQuick ? 'quick' : ''}`,
        '--quick-updates',
        String(quickUpdates),
        ...(args.verbose ? ['--verbose'] : []),
      ],
      {
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    let result: SizeResult | null = null;
    let buffered = '';
    child.stdout.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      for (let nl = buffered.indexOf('\n'); nl >= 0; nl = buffered.indexOf('\n')) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        if (line.startsWith('RESULT ')) result = JSON.parse(line.slice(7)) as SizeResult;
        else if (!line.startsWith('Prisma query was unused')) console.log(line);
      }
    });
    child.on('error', reject);
    child.on('close', (code) => (code === 0 && result ? resolve(result) : reject(new Error(`benchmark child ${engine} ${users}x${perUser} exited with ${code}`))));
  });
}

if (args.child) {
  const [engine, size, quick] = args.child.split(':');
  const [u, n] = size.split('x').map(Number);
  const result = await benchSize(engine as Engine, u, n, quick === 'quick');
  console.log(`RESULT ${JSON.stringify(result)}`);
  process.exit(0);
}

const started = new Date();
const results: SizeResult[] = [];
for (const { engine, sizes } of plan) {
  console.log(`Nightly pipeline on ${engine}; sizes ${sizes.map((s) => `${s.users}x${s.sessions}`).join(', ')}`);
  for (const [i, s] of sizes.entries()) {
    console.log(`${engine}: ${s.users} users x ${s.sessions} sessions`);
    results.push(await inChild(engine, s.users, s.sessions, i === 0));
  }
}

const cpu = os.cpus()[0]?.model.trim() ?? 'unknown CPU';
const machine = `${cpu}, ${os.cpus().length} cores, Node ${process.version}, ${process.platform} ${process.arch}; run ${started.toISOString().slice(0, 10)}, load average at the end ${os.loadavg()[0].toFixed(1)}`;
const rows = results.map(
  (r) =>
    `| ${r.engine} | ${r.users.toLocaleString('en')} x ${r.sessionsPerUser} | ${r.sessions.toLocaleString('en')} | ${((100 * r.atBounds) / r.sessions).toFixed(1)} % | ${fmtS(r.stages.trainingDataMs)} | ${fmtS(r.stages.trainedModelMs)} (fit ${fmtS(r.stages.fitMs)}, ${r.sweeps ?? '?'} sweeps) | ${fmtS(r.stages.heldOutErrorMs)} | ${fmtS(r.stages.modelHistoryMs)} | ${fmtS(r.stages.populationStatisticsMs)} | ${fmtS(r.stages.totalMs)} | ${mb(r.peakRss)} (${mb(r.startRss)}) | ${fmtS(r.generateMs)} |`,
);
const quickLines = results
  .filter((r) => r.quick)
  .map((r) => {
    const q = r.quick!;
    return `- ${r.engine} (${r.users.toLocaleString('en')} x ${r.sessionsPerUser}): stageTimings.totalMs p50 ${q.p50.toFixed(2)} ms, p99 ${q.p99.toFixed(2)} ms, max ${q.max.toFixed(2)} ms; write returned -> quick update committed p50 ${q.e2eP50.toFixed(2)} ms, p99 ${q.e2eP99.toFixed(2)} ms (${q.n} updates; ${Object.entries(
      q.paths,
    )
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')}).`;
  });
const block = [
  '## Nightly pipeline and quick update through the database',
  '',
  `Command: \`${serverUrl ? 'BENCH_DATABASE_URL=postgresql://... ' : ''}npx tsx scripts/bench-nightly.ts${process.argv.slice(2).length ? ` ${process.argv.slice(2).join(' ')}` : ''}\``,
  '',
  `Machine: ${machine}${serverUrl ? '; PostgreSQL 15 server on the same machine' : ''}.`,
  '',
  "TrainingService.runNightly as the schedule runs it: per-athlete sufficient statistics of the ratings inside the scale and the population statistics aggregated by the database, the ratings at 1 or 10 row by row (the bounded model's censored rows), and each athlete's latest rated session (trainingData); the variational fit of the bounded model in a worker thread (fit), then in the same worker the held-out error of each athlete's latest rated session predicted from the rest (heldOutError), and the PopulationModel and ModelOutput writes under the athletes' locks (trainedModel: fit, heldOutError and the writes); the model snapshots and their pruning (modelHistory), the PopulationStatistic rows (populationStatistics). Rows generated server-side (INSERT ... SELECT generate_series, then ANALYZE on PostgreSQL as autovacuum would; PGlite, which has no autovacuum, runs unanalysed as in use; not part of the run). Each size runs in a fresh Node process; peak RSS of that process sampled every 100 ms during the run (value at its start in brackets; the PGlite database lives in the same process).",
  '',
  '| Database | Users x sessions | Sessions | At 1 or 10 | trainingData | trainedModel | heldOutError | modelHistory | populationStatistics | Total | Peak RSS (start) | Generate rows |',
  '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ...rows,
  '',
  "Quick update through the database, after the nightly run (every athlete has stored statistics): sessions started (ACTIVE) and completed with a rating through the hooked Prisma client, the writes startSession / completeSession make, one at a time after 10 untimed warm-ups. stageTimings.totalMs of the QUICK_UPDATE TrainingRun covers reading the stored statistics and the session, the rank-1 step, the posterior and the ModelOutput upsert; the second figure runs from the completing write's return to the quick update's commit (deferral, advisory lock, TrainingRun insert, commit).",
  '',
  ...quickLines,
  '',
  `Target (issue 10): 1M sessions on PostgreSQL under 30 s with the bounded model: ${results.some((r) => r.engine === 'PostgreSQL' && r.sessions >= 1_000_000) ? (results.filter((r) => r.engine === 'PostgreSQL' && r.sessions >= 1_000_000).every((r) => r.stages.totalMs < 30_000) ? '**yes**' : '**no**') : 'not measured in this run'}. Load average (1/5/15 min) at the end ${os
    .loadavg()
    .map((l) => l.toFixed(1))
    .join(' / ')}${os.loadavg()[0] > os.cpus().length ? " (a shared machine: other engineers' tests ran meanwhile; every figure is inflated)" : ''}.`,
].join('\n');

console.log(`\n${block}\n`);
if (!args['no-write']) {
  writeBlock(new URL('../BENCHMARKS.md', import.meta.url).pathname, 'nightly', block);
  console.log('BENCHMARKS.md updated (nightly block).');
}
process.exit(0);
