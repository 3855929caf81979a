// `npm run train` end to end on athletes whose ratings pile at 1 and 10 (bench-fit's bounded population: 3-60
// sessions each, 28.9 % at 1 or 10), loaded through the database, beside two floors measured in the same run:
// `npm run train` on the same kind of database with no sessions (the process: start, open, migrations checked,
// close) and the fit of the same athletes in this process (fitHierarchical on the statistics of the same rows).
//
//   npx tsx scripts/bench-train.ts [--athletes 3000] [--only pglite|postgres] [--runs 1] [--no-write]
//   npx tsx scripts/bench-train.ts --athletes 3000 --prepare /tmp/dir   # only load a PGlite directory (profiling)
//   npx tsx scripts/bench-train.ts --athletes 3000 --prepare postgresql://.../train3000   # or a new database on that server
//
// PGlite: a fresh directory under the system's temporary directory (removed afterwards). PostgreSQL: with
// BENCH_DATABASE_URL (or TEST_DATABASE_URL) a fresh database on that server, dropped afterwards. Each `npm run
// train` is a real child process (the command a user types); its wall time is from the spawn to its exit.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { addRatedSession, emptyStats, fitHierarchical } from '../src/engine/bayes/index.ts';
import { loadConfig } from '../src/config.ts';
import { openServices } from '../src/services.ts';
import { BOUNDED_NOISE_SD, BOUNDED_TRUTH_POPULATION, Random, simulateAthlete, type SimulatedSession } from './lib/synthetic.ts';
import { createDatabase, dropDatabase, writeBlock } from './lib/benchmarking.ts';

const { values: args } = parseArgs({
  options: {
    athletes: { type: 'string', default: '3000' },
    only: { type: 'string' },
    runs: { type: 'string', default: '1' },
    seed: { type: 'string', default: '7' },
    'no-write': { type: 'boolean', default: false },
    /** Only load the first --athletes count into this PGlite directory (or a new database of this postgresql:// URL's server, named by its path) and stop (to profile `npm run train` on it). */
    prepare: { type: 'string' },
  },
});
const athleteCounts = args.athletes.split(',').map(Number);
const runs = Number(args.runs);
const seed = Number(args.seed);
const serverUrl = process.env.BENCH_DATABASE_URL || process.env.TEST_DATABASE_URL || null;
const engines: ('PGlite' | 'PostgreSQL')[] = [];
if (args.only !== 'postgres') engines.push('PGlite');
if (args.only !== 'pglite' && serverUrl) engines.push('PostgreSQL');
const JWT_SECRET = 'bench-secret-bench-secret-bench-secret-0123';
const med = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)];
const s = (ms: number) => `${(ms / 1000).toFixed(2)} s`;

/** bench-fit's bounded athletes: the same seed gives the same rows. */
function athletes(count: number): SimulatedSession[][] {
  const rng = new Random(seed);
  return Array.from({ length: count }, (_, u) => simulateAthlete(u, rng.int(3, 60), { seed, population: BOUNDED_TRUTH_POPULATION, noiseSd: BOUNDED_NOISE_SD }).sessions);
}

const COLUMNS = [
  'sleepHours',
  'sleepQuality',
  'energyLevel',
  'stressLevel',
  'motivationLevel',
  'sorenessLevel',
  'daysSinceHardSession',
  'caffeineMg',
  'warmupMin',
  'daysSinceLastSession',
  'daysSinceRestDay',
  'hydrationStatus',
  'temperatureC',
] as const;

/** Inserts the athletes and their completed, rated sessions (5,000 rows per statement). */
async function load(env: Record<string, string>, data: SimulatedSession[][]): Promise<number> {
  const config = loadConfig({ ...process.env, ...env });
  const opened = await openServices(config, { log: () => {} });
  try {
    const prisma = opened.services.db.prisma;
    const ids = data.map((_, u) => `00000000-0000-4000-a000-${String(u).padStart(12, '0')}`);
    await prisma.$executeRawUnsafe(`INSERT INTO users (id, role, "createdAt") SELECT unnest($1::uuid[]), 'ATHLETE', now()`, ids);
    const rows: Record<string, unknown>[] = [];
    const base = Date.now() - 400 * 86_400_000;
    data.forEach((sessions, u) => {
      for (const s of sessions) {
        const started = new Date(base + s.day * 86_400_000).toISOString();
        const row: Record<string, unknown> = { userId: ids[u], started, quality: s.sessionQuality };
        for (const c of COLUMNS) row[c] = s.checkIn[c];
        rows.push(row);
      }
    });
    const types: Record<string, string> = { sleepHours: 'float8', temperatureC: 'float8' };
    const recordType = COLUMNS.map((c) => `"${c}" ${types[c] ?? 'int'}`).join(', ');
    for (let i = 0; i < rows.length; i += 5000) {
      await prisma.$executeRawUnsafe(
        `INSERT INTO climbing_sessions (id, "userId", status, "startedAt", "endedAt", ${COLUMNS.map((c) => `"${c}"`).join(', ')},
           "plannedCaffeineMg", "plannedWarmupMin", "sessionQuality", "deviatedFromPlan", "createdAt", "updatedAt")
         SELECT gen_random_uuid(), r."userId", 'COMPLETED', r.started, r.started + interval '2 hours', ${COLUMNS.map((c) => `r."${c}"`).join(', ')},
           r."caffeineMg", r."warmupMin", r.quality, false, r.started, r.started + interval '2 hours'
         FROM jsonb_to_recordset($1::jsonb) AS r("userId" uuid, started timestamptz, quality int, ${recordType})`,
        JSON.stringify(rows.slice(i, i + 5000)),
      );
    }
    if (env.DATABASE_URL) await prisma.$executeRawUnsafe('ANALYZE');
    return rows.length;
  } finally {
    await opened.close();
  }
}

interface TrainRun {
  wallMs: number;
  /** CPU time (user + system) of npm and its children; NaN without GNU time. */
  cpuMs: number;
  status: string;
  stages: Record<string, number>;
  sweeps: number | null;
}

/** `npm run train` as a child process; its log's stage lines and final line parsed. */
function npmTrain(env: Record<string, string>): Promise<TrainRun> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    // /usr/bin/time (GNU time, when installed) adds the CPU seconds of npm and everything under it: on a shared
    // machine they say more than the wall time.
    const timed = existsSync('/usr/bin/time');
    const command = timed ? ['/usr/bin/time', '-f', 'CPU %U %S'] : [];
    const child = spawn(command[0] ?? 'npm', [...command.slice(1), ...(timed ? ['npm'] : []), 'run', '--silent', 'train'], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('exit', (code) => {
      const wallMs = performance.now() - t0;
      const cpu = /CPU ([\d.]+) ([\d.]+)/.exec(err);
      const cpuMs = cpu ? (Number(cpu[1]) + Number(cpu[2])) * 1000 : Number.NaN;
      const stages: Record<string, number> = {};
      for (const m of out.matchAll(/\[TRAIN\] (\w+): done in ([\d.]+) s/g)) stages[m[1]] = Number(m[2]) * 1000;
      const fit = /fit done in ([\d.]+) s, (\d+) sweeps/.exec(out);
      if (fit) stages.fit = Number(fit[1]) * 1000;
      const held = /heldOutError: \d+ sessions predicted in ([\d.]+) s/.exec(out);
      if (held) stages.heldOutError = Number(held[1]) * 1000;
      const status = /\[TRAIN\] (SUCCEEDED|FAILED|SKIPPED):/.exec(out)?.[1] ?? `exit ${code}`;
      // The process's own phases (scripts/train.ts): what is left of the wall time is npm and the pretrain check.
      const phases = /\[TRAIN\] process: started \(node, modules\) in ([\d.]+) s, database opened \(migrations checked, seeded\) in ([\d.]+) s, run ([\d.]+) s, closed in ([\d.]+) s/.exec(out);
      if (phases) {
        [stages.start, stages.open, stages.run, stages.close] = phases.slice(1, 5).map((v) => Number(v) * 1000);
        stages.npm = wallMs - stages.start - stages.open - stages.run - stages.close;
      }
      if (code !== 0) return reject(new Error(`npm run train exited with ${code}:\n${out}\n${err}`));
      resolve({ wallMs, cpuMs, status, stages, sweeps: fit ? Number(fit[2]) : null });
    });
  });
}

interface Row {
  engine: string;
  athletes: number;
  sessions: number;
  atBounds: number;
  train: TrainRun[];
  empty: TrainRun[];
  fitMs: number[];
  fitCpuMs: number[];
  fitSweeps: number;
}

if (args.prepare) {
  const url = /^postgres(ql)?:\/\//.test(args.prepare) ? new URL(args.prepare) : null;
  if (url) await createDatabase(new URL('/postgres', url).href, url.pathname.slice(1));
  const env: Record<string, string> = url ? { DATABASE_URL: url.href, JWT_SECRET } : { DATABASE_URL: '', PGLITE_DIR: args.prepare, JWT_SECRET };
  const sessions = await load(env, athletes(athleteCounts[0]));
  console.log(`${args.prepare}: ${athleteCounts[0]} athletes, ${sessions} sessions; ${url ? `DATABASE_URL=${url.href}` : `PGLITE_DIR=${args.prepare}`} JWT_SECRET=${JWT_SECRET} npm run train`);
  process.exit(0);
}

const results: Row[] = [];
for (const engine of engines) {
  for (const count of athleteCounts) {
    const data = athletes(count);
    const stats = data.map((sessions) => {
      const s = emptyStats();
      for (const row of sessions) addRatedSession(s, row.checkIn as Record<string, unknown>, row.sessionQuality);
      return s;
    });
    const row: Row = {
      engine,
      athletes: count,
      sessions: stats.reduce((n, s) => n + s.n, 0),
      atBounds: stats.reduce((n, s) => n + (s.bounded?.upper.length ?? 0), 0),
      train: [],
      empty: [],
      fitMs: [],
      fitCpuMs: [],
      fitSweeps: 0,
    };
    const dirs: string[] = [];
    const urls: string[] = [];
    const database = async (): Promise<Record<string, string>> => {
      if (engine === 'PostgreSQL') {
        const url = await createDatabase(serverUrl!);
        urls.push(url);
        return { DATABASE_URL: url, JWT_SECRET };
      }
      const dir = mkdtempSync(path.join(os.tmpdir(), 'climbiq-bench-train-'));
      dirs.push(dir);
      return { DATABASE_URL: '', PGLITE_DIR: dir, JWT_SECRET };
    };
    try {
      const full = await database();
      const empty = await database();
      await load(full, data);
      await load(empty, []);
      console.log(`${engine}: ${count} athletes, ${row.sessions} sessions loaded`);
      for (let r = 0; r < runs; r++) {
        // The floors and the run alternate, so a change of the machine's load shows in both.
        row.empty.push(await npmTrain(empty));
        row.train.push(await npmTrain(full));
        const c0 = process.cpuUsage();
        const fit = fitHierarchical(stats);
        const c1 = process.cpuUsage(c0);
        row.fitMs.push(fit.diagnostics.elapsedMs);
        row.fitCpuMs.push((c1.user + c1.system) / 1000);
        row.fitSweeps = fit.diagnostics.iterations;
        console.log(
          `  run ${r + 1}: npm run train ${s(row.train.at(-1)!.wallMs)} (CPU ${s(row.train.at(-1)!.cpuMs)}) ${JSON.stringify(row.train.at(-1)!.stages)}; ` +
            `empty database ${s(row.empty.at(-1)!.wallMs)} (CPU ${s(row.empty.at(-1)!.cpuMs)}); in-process fit ${s(fit.diagnostics.elapsedMs)} (CPU ${s(row.fitCpuMs.at(-1)!)}, ${fit.diagnostics.iterations} sweeps)`,
        );
      }
    } finally {
      for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
      for (const url of urls) await dropDatabase(serverUrl!, url);
    }
    results.push(row);
  }
}

const cpu = os.cpus();
const lines = [
  `Command: \`npx tsx scripts/bench-train.ts ${process.argv.slice(2).join(' ')}\`${serverUrl ? ' (BENCH_DATABASE_URL set)' : ''}`,
  '',
  `Machine: ${cpu[0]?.model ?? 'unknown CPU'}, ${cpu.length} cores, Node ${process.version} (this process; \`npm run train\` runs the project's Node), ${os.platform()} ${os.arch()}; run ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC, load average at the end ${os.loadavg()[0].toFixed(1)}.`,
  '',
  `Medians of ${runs} run(s). Athletes of bench-fit's bounded population loaded through the database; \`npm run train\` a child process (wall time from spawn to exit), beside \`npm run train\` on an empty database of the same kind and the fit of the same athletes in this process, alternating.`,
  '',
  "| Database | Athletes | Sessions (at 1 or 10) | `npm run train` (CPU) | npm + pretrain / process start / database opened / run / closed | The run's stages: trainingData / fit (sweeps) / heldOutError (the worker's, during the writes) / writes / modelHistory | Empty database (CPU) | In-process fit (CPU; sweeps) | Train - empty (CPU) |",
  '|---|---:|---:|---:|---|---|---:|---:|---:|',
];
for (const r of results) {
  const last = r.train.at(-1)!;
  const stage = (name: string) => med(r.train.map((t) => t.stages[name] ?? 0));
  // The held-out error is measured in the worker while the models are written (fit-worker.ts): part of the writes' time.
  const writes = med(r.train.map((t) => (t.stages.trainedModel ?? 0) - (t.stages.fit ?? 0)));
  lines.push(
    `| ${r.engine} | ${r.athletes.toLocaleString('en')} | ${r.sessions.toLocaleString('en')} (${((100 * r.atBounds) / r.sessions).toFixed(1)} %) | ${s(med(r.train.map((t) => t.wallMs)))} (${s(med(r.train.map((t) => t.cpuMs)))}) | ` +
      `${['npm', 'start', 'open', 'run', 'close'].map((name) => s(stage(name))).join(' / ')} | ` +
      `${s(stage('trainingData'))} / ${s(stage('fit'))} (${last.sweeps}) / ${s(stage('heldOutError'))} / ${s(writes)} / ${s(stage('modelHistory'))} | ${s(med(r.empty.map((t) => t.wallMs)))} (${s(med(r.empty.map((t) => t.cpuMs)))}) | ` +
      `${s(med(r.fitMs))} (${s(med(r.fitCpuMs))}; ${r.fitSweeps}) | ${s(med(r.train.map((t, i) => t.wallMs - r.empty[i].wallMs)))} (${s(med(r.train.map((t, i) => t.cpuMs - r.empty[i].cpuMs)))}) |`,
  );
}
const report = lines.join('\n');
console.log(`\n${report}`);
if (!args['no-write']) {
  writeBlock(new URL('../BENCHMARKS.md', import.meta.url).pathname, 'train', `## \`npm run train\` end to end (ratings piled at the bounds)\n\n${report}`);
  console.log('\nwritten to BENCHMARKS.md (train block)');
}
