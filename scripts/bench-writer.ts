// What the recommendation writer costs the API's thread, alone: rows made by the engine as a `recommendation` makes
// them (bench.ts's athlete: 30 sessions, population statistics; varied check-ins), handed to the writer at a steady
// rate in small groups (as wrk -c10's answers arrive), each with about 100 kB of short-lived garbage beside it (what a
// request allocates on this thread: scripts/profile-wrk.ts), so the young generation's scavenges come as often as
// under the real load. Per round, the thread's CPU µs per row, the collector's pauses and what its scavenges promoted
// per row, for this tree's writer, for no writer (the rows made and dropped: the floor), and with --before, for
// another tree's writer (its src/resolvers/recommendation-store.ts, on the same database), taking turns in one process.
//
//   npx tsx scripts/bench-writer.ts [--postgres postgresql://postgres@127.0.0.1:55432/postgres] [--before <dir>]
//       [--rate 3000] [--seconds 3] [--rounds 4]
//
// Without --postgres: an in-memory PGlite on its own thread (the server's default). The process runs with
// `npm start`'s young-generation size (--max-semi-space-size=8 --min-semi-space-size=4) unless NODE_OPTIONS says otherwise: run it as
// `node_modules/.bin/node --max-semi-space-size=8 --min-semi-space-size=4 --import tsx scripts/bench-writer.ts ...` to match it exactly.
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { PerformanceObserver } from 'node:perf_hooks';
import { GCProfiler, type HeapSpaceStatistics } from 'node:v8';
import { parseArgs } from 'node:util';
import { openMigratedDatabase } from '../src/db/migrate-child.ts';
import { RecommendationWriter, type RecommendationRow } from '../src/resolvers/recommendation-store.ts';
import { createDatabase, dropDatabase } from './lib/benchmarking.ts';
import { answer, checkIns } from './lib/writer-rows.ts';

const { values: args } = parseArgs({
  options: {
    postgres: { type: 'string' },
    before: { type: 'string' },
    rate: { type: 'string', default: '3000' },
    seconds: { type: 'string', default: '3' },
    rounds: { type: 'string', default: '4' },
  },
});
const rate = Number(args.rate);
const seconds = Number(args.seconds);
const rounds = Number(args.rounds);

interface Writer {
  enqueue(row: RecommendationRow): void;
  close(): Promise<void>;
  totals: { rows: number; inserts: number };
}

/** One round: `rate` rows a second for `seconds`, in groups of up to 10 per timer tick, each with its request's garbage. */
/** This thread's CPU time (Node >= 23.9; PGlite's thread, when it has one, is not in it). */
const threadCpu = (): NodeJS.CpuUsage => {
  const usage = (process as NodeJS.Process & { threadCpuUsage?(): NodeJS.CpuUsage }).threadCpuUsage?.();
  if (!usage) throw new Error('bench-writer needs Node >= 23.9 (process.threadCpuUsage): run it with node_modules/.bin/node');
  return usage;
};

async function round(writer: Writer | null, userId: string): Promise<{ cpuPerRow: number; gcPerRow: number; promotedPerRow: number; rowsPerInsert: number }> {
  const inserts0 = writer?.totals.inserts ?? 0;
  const rows0 = writer?.totals.rows ?? 0;
  const fittedAt = new Date();
  let gcMs = 0;
  const observer = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) gcMs += e.duration;
  });
  observer.observe({ entryTypes: ['gc'] });
  const profiler = new GCProfiler();
  profiler.start();
  const cpu0 = threadCpu();
  const started = performance.now();
  let made = 0;
  const total = rate * seconds;
  // A request's short-lived allocations (about 100 kB: its parsed body, objects, strings), live while it is answered.
  const inFlight: { garbage: unknown[] } = { garbage: [] };
  await new Promise<void>((resolve) => {
    const tick = () => {
      const due = Math.min(total, Math.floor(((performance.now() - started) / 1000) * rate));
      while (made < due) {
        const group = Math.min(10, due - made);
        const garbage: unknown[] = [];
        for (let i = 0; i < group; i++) {
          // Handed over as soon as it is made, as the server's `finish` does; the request's other allocations (its
          // answer's JSON, its response) after it. (Before step 308 the garbage came in between, so every row reached
          // the writer cold: BENCHMARKS.md.)
          const row = answer(userId, checkIns[made % checkIns.length], fittedAt);
          writer?.enqueue(row);
          for (let k = 0; k < 100; k++) garbage.push({ k, text: `request ${made} part ${k}`, data: new Array(100).fill(k) });
          made++;
        }
        inFlight.garbage = garbage; // the previous group's garbage dies now
      }
      if (made < total) setTimeout(tick, 1);
      else resolve();
    };
    tick();
  });
  inFlight.garbage = [];
  await writer?.close();
  const cpu1 = threadCpu();
  const cpu = { user: cpu1.user - cpu0.user, system: cpu1.system - cpu0.system };
  observer.disconnect();
  const used = (spaces: HeapSpaceStatistics[], name: string) => spaces.find((x) => x.spaceName === name)?.spaceUsedSize ?? 0;
  let promoted = 0;
  for (const e of profiler.stop().statistics) {
    if (e.gcType === 'Scavenge') promoted += Math.max(0, used(e.afterGC.heapSpaceStatistics, 'old_space') - used(e.beforeGC.heapSpaceStatistics, 'old_space'));
  }
  const inserts = (writer?.totals.inserts ?? 0) - inserts0;
  const rows = (writer?.totals.rows ?? 0) - rows0;
  return { cpuPerRow: (cpu.user + cpu.system) / made, gcPerRow: (1000 * gcMs) / made, promotedPerRow: promoted / 1024 / made, rowsPerInsert: inserts ? rows / inserts : 0 };
}

async function main(): Promise<void> {
  const url = args.postgres ? await createDatabase(args.postgres) : null;
  const { db } = await openMigratedDatabase({ url, pgliteDir: 'memory://', pgliteThread: true });
  try {
    const userId = randomUUID();
    await db.sql.execute(`INSERT INTO "users" ("id", "role") VALUES ($1, 'ATHLETE')`, [userId]);
    const options = { log: console.log, sessionFunction: db.kind === 'pglite' };
    const writers: { name: string; make: () => Writer | null }[] = [
      { name: 'this tree', make: () => new RecommendationWriter(db.sql, options) },
      { name: 'no writer', make: () => null },
    ];
    if (args.before) {
      const before = (await import(path.resolve(args.before, 'src/resolvers/recommendation-store.ts'))) as { RecommendationWriter: new (sql: typeof db.sql, o: typeof options) => Writer };
      writers.push({ name: 'before', make: () => new before.RecommendationWriter(db.sql, options) });
    }
    const instances = writers.map((w) => w.make());
    await round(instances[0], userId); // warm-up: the engine's and the writer's code compiled
    if (instances[2]) await round(instances[2], userId);
    const results = writers.map(() => [] as Awaited<ReturnType<typeof round>>[]);
    for (let r = 0; r < rounds; r++) {
      const order = writers.map((_, i) => i);
      if (r % 2) order.reverse();
      for (const i of order) {
        const result = await round(instances[i], userId);
        results[i].push(result);
        console.log(
          `[bench-writer] round ${r + 1} ${writers[i].name}: ${result.cpuPerRow.toFixed(1)} µs of this thread a row, GC pauses ${result.gcPerRow.toFixed(1)} µs, ${result.promotedPerRow.toFixed(2)} kB promoted${result.rowsPerInsert ? `, ${result.rowsPerInsert.toFixed(1)} rows per INSERT` : ''}`,
        );
      }
    }
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)];
    const floor = median(results[1].map((x) => x.cpuPerRow));
    for (const [i, w] of writers.entries()) {
      const cpu = median(results[i].map((x) => x.cpuPerRow));
      console.log(
        `[bench-writer] ${db.kind} ${w.name}: medians ${cpu.toFixed(1)} µs a row (${(cpu - floor).toFixed(1)} above no writer), GC ${median(results[i].map((x) => x.gcPerRow)).toFixed(1)} µs, ${median(results[i].map((x) => x.promotedPerRow)).toFixed(2)} kB promoted`,
      );
    }
  } finally {
    await db.close();
    if (url && args.postgres) await dropDatabase(args.postgres, url);
  }
}

await main();
