// Nightly-fit and quick-update benchmark (in memory, no database).
//
//   npx tsx scripts/bench-fit.ts            # 1k athletes x 50 sessions
//   npx tsx scripts/bench-fit.ts --large    # also 10k athletes x 100 sessions (1M sessions)
//   npx tsx scripts/bench-fit.ts --bounded 1000,3000   # the bounded model only, at these numbers of athletes
//   options: --updates 10000 --seed 7 --no-write
//
// Bounded model (always, or alone with --bounded): athletes whose ratings pile at 1 and 10 (BOUNDED_TRUTH_POPULATION,
// 3-60 sessions each, about 31.5 on average: 3,000 athletes make about 94,500 sessions), fitted with the censored
// likelihood as the nightly job does. Beside each fit, in the same process, its floor: one pass of every athlete's
// posterior given the fitted hyperparameters (what one sweep costs at least); the fit is reported in those passes.
//
// Per size: (1) one streaming pass from raw rows (check-in objects, as a database cursor yields them, one
// athlete's rows at a time) to per-user sufficient statistics; (2) fitHierarchical over those statistics.
// Row generation is timed separately and excluded. Memory is sampled after every page and every sweep.
// Then the quick update (addObservation + userPosterior) p50/p99 over --updates completed sessions.
// Writes the Markdown report between <!-- fit:start --> and <!-- fit:end --> in BENCHMARKS.md.
import os from 'node:os';
import { parseArgs } from 'node:util';
import { addObservation, addRatedSession, addSession, emptyStats, fitHierarchical, userPosterior, type SufficientStats } from '../src/engine/bayes/index.ts';
import { BOUNDED_NOISE_SD, BOUNDED_TRUTH_POPULATION, Random, simulateAthlete } from './lib/synthetic.ts';
import { P, designRow } from '../src/engine/variables.ts';
import { percentile, writeBlock } from './lib/benchmarking.ts';

const { values: args } = parseArgs({
  options: {
    large: { type: 'boolean', default: false },
    bounded: { type: 'string' },
    updates: { type: 'string', default: '10000' },
    warmup: { type: 'string', default: '1000' },
    seed: { type: 'string', default: '7' },
    'no-write': { type: 'boolean', default: false },
  },
});
const seed = Number(args.seed);
const sizes: [number, number][] = args.bounded ? [] : [[1000, 50]];
if (args.large) sizes.push([10_000, 100]);
const boundedSizes = (args.bounded ?? '1000,3000').split(',').map(Number);

const mb = (b: number) => (b / 1024 / 1024).toFixed(0);
let peakRss = 0;
let peakHeap = 0;
function sampleMemory(): void {
  const m = process.memoryUsage();
  if (m.rss > peakRss) peakRss = m.rss;
  if (m.heapUsed > peakHeap) peakHeap = m.heapUsed;
}
function resetPeaks(): void {
  (globalThis as { gc?: () => void }).gc?.();
  peakRss = 0;
  peakHeap = 0;
  sampleMemory();
}

interface SizeResult {
  users: number;
  sessionsPerUser: number;
  sessions: number;
  generateMs: number;
  statsMs: number;
  fitMs: number;
  sweeps: number;
  converged: boolean;
  peakRssMb: string;
  peakHeapMb: string;
  baseRssMb: string;
}

const results: SizeResult[] = [];
let lastFit: { stats: SufficientStats[]; hyper: ReturnType<typeof fitHierarchical>['hyper'] } | null = null;

for (const [users, perUser] of sizes) {
  resetPeaks();
  const baseRss = process.memoryUsage().rss;
  const stats: SufficientStats[] = new Array(users);
  let generateMs = 0;
  let statsMs = 0;
  let sessions = 0;
  for (let u = 0; u < users; u++) {
    let t = performance.now();
    const page = simulateAthlete(u, perUser, { seed }).sessions; // the rows a cursor would yield for this user
    generateMs += performance.now() - t;
    t = performance.now();
    const s = emptyStats();
    for (const row of page) addSession(s, row.checkIn as Record<string, unknown>, row.sessionQuality);
    stats[u] = s;
    statsMs += performance.now() - t;
    sessions += page.length;
    if (u % 100 === 0) sampleMemory();
  }
  sampleMemory();
  const fit = fitHierarchical(stats, { onProgress: sampleMemory });
  sampleMemory();
  results.push({
    users,
    sessionsPerUser: perUser,
    sessions,
    generateMs,
    statsMs,
    fitMs: fit.diagnostics.elapsedMs,
    sweeps: fit.diagnostics.iterations,
    converged: fit.diagnostics.converged,
    peakRssMb: mb(peakRss),
    peakHeapMb: mb(peakHeap),
    baseRssMb: mb(baseRss),
  });
  console.log(results.at(-1));
  lastFit = { stats, hyper: fit.hyper };
}

interface BoundedResult {
  users: number;
  sessions: number;
  atBounds: number;
  fitMs: number;
  sweeps: number;
  converged: boolean;
  passMs: number;
  /** CPU time of this process (user + system) during the fit and the floor: on a shared machine they vary less than the wall time. */
  fitCpuMs: number;
  passCpuMs: number;
}
const boundedResults: BoundedResult[] = [];
for (const users of boundedSizes) {
  const rng = new Random(seed);
  const stats = Array.from({ length: users }, (_, u) => {
    const s = emptyStats();
    for (const row of simulateAthlete(u, rng.int(3, 60), { seed, population: BOUNDED_TRUTH_POPULATION, noiseSd: BOUNDED_NOISE_SD }).sessions) {
      addRatedSession(s, row.checkIn as Record<string, unknown>, row.sessionQuality);
    }
    return s;
  });
  const c0 = process.cpuUsage();
  const fit = fitHierarchical(stats);
  const fitCpu = process.cpuUsage(c0);
  // The floor: one pass of every athlete's posterior given the fit (warm, after the fit has compiled everything).
  const c1 = process.cpuUsage();
  const t = performance.now();
  for (const st of stats) userPosterior(st, fit.hyper);
  const passMs = performance.now() - t;
  const passCpu = process.cpuUsage(c1);
  boundedResults.push({
    users,
    sessions: stats.reduce((n, s) => n + s.n, 0),
    atBounds: stats.reduce((n, s) => n + (s.bounded?.upper.length ?? 0), 0),
    fitMs: fit.diagnostics.elapsedMs,
    sweeps: fit.diagnostics.iterations,
    converged: fit.diagnostics.converged,
    passMs,
    fitCpuMs: (fitCpu.user + fitCpu.system) / 1000,
    passCpuMs: (passCpu.user + passCpu.system) / 1000,
  });
  console.log(boundedResults.at(-1));
  if (!lastFit) lastFit = { stats, hyper: fit.hyper };
}

// Quick update: one completed session -> rank-1 step on the stored statistics -> conjugate posterior.
const updates = Number(args.updates);
const warmup = Number(args.warmup);
const { stats, hyper } = lastFit!;
const times = new Float64Array(updates);
const x = new Float64Array(P);
const rows = simulateAthlete(999_999, 200, { seed: seed + 1 }).sessions;
// The first `warmup` updates (JIT compilation, several ms each at first) are not timed.
for (let i = -warmup; i < updates; i++) {
  const k = i + warmup;
  const userStats = stats[k % stats.length];
  const row = rows[k % rows.length];
  const t = process.hrtime.bigint();
  designRow(row.checkIn as Record<string, unknown>, x);
  addObservation(userStats, x, row.sessionQuality);
  const model = userPosterior(userStats, hyper);
  if (i >= 0) times[i] = Number(process.hrtime.bigint() - t) / 1000;
  if (!(model.sigma2 > 0)) throw new Error('unexpected');
}
const sorted = Array.from(times).sort((a, b) => a - b);
const q = (p: number) => percentile(sorted, 100 * p);
const quick = { p50: q(0.5), p99: q(0.99), max: sorted.at(-1)! };
console.log('quick update µs', quick);

// ---------------------------------------------------------------- report
const cpu = os.cpus();
const lines: string[] = [];
lines.push(`Command: \`${`npx tsx scripts/bench-fit.ts ${process.argv.slice(2).join(' ')}`.trim()}\``);
lines.push('');
lines.push(
  `Machine: ${cpu[0]?.model ?? 'unknown CPU'}, ${cpu.length} cores, Node ${process.version}, ${os.platform()} ${os.arch()}; run ${new Date().toISOString().slice(0, 10)}, ` +
    `load average at the end ${os.loadavg()[0].toFixed(1)} (shared machine).`,
);
lines.push('');
lines.push(
  'Nightly fit from raw rows: one streaming pass to per-user sufficient statistics (designRow + rank-1 update per row; row generation excluded), then `fitHierarchical` (VB sweeps, each users x p³). Peak memory sampled after every 100 users of the pass and after every sweep (RSS includes the V8 heap and Node itself).',
);
lines.push('');
lines.push('| Users x sessions | Sessions | Stats pass | Fit | Sweeps | Total (pass + fit) | Peak RSS (at start) | Peak heap used |');
lines.push('|---|---:|---:|---:|---:|---:|---:|---:|');
for (const r of results) {
  lines.push(
    `| ${r.users.toLocaleString('en')} x ${r.sessionsPerUser} | ${r.sessions.toLocaleString('en')} | ${(r.statsMs / 1000).toFixed(2)} s | ${(r.fitMs / 1000).toFixed(2)} s | ${r.sweeps}${r.converged ? '' : ' (not converged)'} | ` +
      `${((r.statsMs + r.fitMs) / 1000).toFixed(2)} s | ${r.peakRssMb} MB (${r.baseRssMb} MB) | ${r.peakHeapMb} MB |`,
  );
}
lines.push('');
lines.push(
  "Bounded model (ratings piled at 1 and 10, 3-60 sessions per athlete), the fit beside its floor in the same process: one pass of every athlete's posterior given the fitted hyperparameters, the least a sweep costs. Converged when no athlete's prediction on a typical day moves by 1e-4 rating points in a sweep and no log variance by 1e-3.",
);
lines.push('');
lines.push('| Athletes | Sessions | At 1 or 10 | Fit (CPU) | Sweeps | One posterior pass, the floor (CPU) | Fit / floor (CPU) |');
lines.push('|---:|---:|---:|---:|---:|---:|---:|');
for (const r of boundedResults) {
  lines.push(
    `| ${r.users.toLocaleString('en')} | ${r.sessions.toLocaleString('en')} | ${((100 * r.atBounds) / r.sessions).toFixed(1)} % | ${(r.fitMs / 1000).toFixed(2)} s (${(r.fitCpuMs / 1000).toFixed(2)} s) | ${r.sweeps}${r.converged ? '' : ' (not converged)'} | ` +
      `${r.passMs.toFixed(0)} ms (${r.passCpuMs.toFixed(0)} ms) | ${(r.fitMs / r.passMs).toFixed(1)} (${(r.fitCpuMs / r.passCpuMs).toFixed(1)}) |`,
  );
}
lines.push('');
lines.push(
  `Quick update (designRow + addObservation + userPosterior with the fitted hyperparameters, ${updates.toLocaleString('en')} updates after ${warmup.toLocaleString('en')} untimed warm-up updates, over ` +
    `${stats.length.toLocaleString('en')} users): p50 ${quick.p50.toFixed(1)} µs, p99 ${quick.p99.toFixed(1)} µs, max ${quick.max.toFixed(0)} µs. ` +
    "The max is a full mark-compact GC of the whole process (the benchmark holds 10k users' statistics; visible with `node --import tsx --trace-gc`), " +
    'not the update itself. Target: far under 20 ms.',
);
if (!args.large) lines.push('', 'The 1M-session size (10k x 100) runs with `--large`.');
const report = lines.join('\n');
console.log(report);

if (!args['no-write']) {
  writeBlock(new URL('../BENCHMARKS.md', import.meta.url).pathname, 'fit', `## Nightly fit and quick update (in memory)\n\n${report}`);
  console.log('\nwritten to BENCHMARKS.md (fit block)');
}
