// npx tsx scripts/bench-shared-cache.ts: the first check-in of known athletes on a freshly started second instance,
// with and without the model cache shared through Redis (issue 23 §2, src/engine-runtime/shared-engine-cache.ts).
//
//   BENCH_DATABASE_URL=postgresql://…/postgres BENCH_REDIS_URL=redis://127.0.0.1:6379 npx tsx scripts/bench-shared-cache.ts
//     [--athletes 1000] [--sessions 30] [--concurrency 20] [--rounds 2] [--no-write]
//
// A fresh database on that PostgreSQL server (dropped afterwards) gets `athletes` athletes with `sessions` rated
// sessions each (scripts/lib/bulk-sessions.ts), a current baseline each, and a model each from a nightly fit.
// Instance A serves every athlete once (their state is then in A's memory and in Redis). Then, per round, a new
// instance B starts on the same database and Redis, once with the shared cache off (REDIS_MODEL_CACHE_TTL_SECONDS=0:
// B reads the database) and once on, and every athlete's first check-in on B is timed (graphql-ws stream: first
// event and DONE, from subscribe) with `concurrency` streams in flight; B's Prisma statements are counted per table
// meanwhile. The floor, in the same run: the same check-ins on A, whose memory holds everything. All instances run in
// this process (as the tests do), with its clients: figures are comparable with each other, not with a lone server.
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import os from 'node:os';
import type { Client } from 'graphql-ws';
import { Redis } from 'ioredis';
import { TokenService } from '../src/auth.ts';
import { loadConfig } from '../src/config.ts';
import { startServer, type RunningServer } from '../src/server.ts';
import { BENCHMARKS_FILE, createDatabase, dropDatabase, OPERATOR, openClient, percentile, STREAM, writeBlock } from './lib/benchmarking.ts';
import { bulkUserIdSql, insertBulkAthletes } from './lib/bulk-sessions.ts';

const SECRET = 'bench-secret-bench-secret-bench-secret-0123456789';
const { values: args } = parseArgs({
  options: {
    athletes: { type: 'string', default: '1000' },
    sessions: { type: 'string', default: '30' },
    concurrency: { type: 'string', default: '20' },
    rounds: { type: 'string', default: '2' },
    'no-write': { type: 'boolean', default: false },
  },
});
const ATHLETES = Number(args.athletes);
const SESSIONS = Number(args.sessions);
const CONCURRENCY = Number(args.concurrency);
const ROUNDS = Number(args.rounds);
const TAG = 'bench-shared-cache';

interface Timed {
  firstMs: number;
  doneMs: number;
}

/** Statements counted by table (the first table a statement names). */
class QueryCounter {
  counting = false;
  readonly byTable = new Map<string, number>();
  total = 0;
  readonly onQuery = (sql: string) => {
    if (!this.counting) return;
    this.total++;
    const table = /(?:FROM|INTO|UPDATE)\s+"?(?:public"?\.)?"?(\w+)"?/i.exec(sql)?.[1] ?? 'other';
    this.byTable.set(table, (this.byTable.get(table) ?? 0) + 1);
  };
}

async function start(databaseUrl: string, redisUrl: string, env: Record<string, string>, onQuery?: (sql: string) => void): Promise<RunningServer> {
  const config = loadConfig({ PORT: '0', HOST: '127.0.0.1', JWT_SECRET: SECRET, DATABASE_URL: databaseUrl, REDIS_URL: redisUrl, RATE_LIMIT_RECOMMENDATION: 'off', ...env });
  return startServer({ config, schedule: false, log: () => {}, onQuery, command: 'bench-shared-cache' });
}

/** One stream per athlete (each on its own connection, opened beforehand), `CONCURRENCY` in flight. */
async function checkIns(wsUrl: string, tokens: readonly string[]): Promise<{ timed: Timed[]; errors: number }> {
  const timed: Timed[] = [];
  let errors = 0;
  let next = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < tokens.length) {
        const token = tokens[next++];
        const client: Client = await openClient(wsUrl, token);
        try {
          const t0 = performance.now();
          let first = 0;
          let done = 0;
          await new Promise<void>((resolve) => {
            client.subscribe(
              { query: STREAM, variables: { input: OPERATOR } },
              {
                next: (msg) => {
                  const event = (msg.data as { preSessionRecommendation?: { type: string } } | null)?.preSessionRecommendation;
                  if (!first) first = performance.now() - t0;
                  if (event?.type === 'DONE') done = performance.now() - t0;
                  if (event?.type === 'ERROR' || msg.errors) errors++;
                },
                error: () => {
                  errors++;
                  resolve();
                },
                complete: resolve,
              },
            );
          });
          if (done) timed.push({ firstMs: first, doneMs: done });
        } finally {
          await client.dispose();
        }
      }
    }),
  );
  return { timed, errors };
}

const fmt = (v: number) => (v < 10 ? v.toFixed(2) : v.toFixed(1));

interface Row {
  label: string;
  timed: Timed[];
  errors: number;
  queries: QueryCounter | null;
}

function summary(row: Row, floor: Row | null): string {
  const first = row.timed.map((t) => t.firstMs).sort((a, b) => a - b);
  const done = row.timed.map((t) => t.doneMs).sort((a, b) => a - b);
  const f50 = percentile(first, 50);
  const f99 = percentile(first, 99);
  const d50 = percentile(done, 50);
  const d99 = percentile(done, 99);
  const ratio = (v: number, base: number) => (floor ? ` (${(v / base).toFixed(1)}x)` : '');
  const floorFirst = floor ? floor.timed.map((t) => t.firstMs).sort((a, b) => a - b) : [];
  const floorDone = floor ? floor.timed.map((t) => t.doneMs).sort((a, b) => a - b) : [];
  const q = row.queries;
  const perCheckIn = q ? (q.total / row.timed.length).toFixed(3) : '-';
  const tables = q
    ? [...q.byTable]
        .sort((a, b) => b[1] - a[1])
        .map(([t, n]) => `${t} ${n}`)
        .join(', ') || 'none'
    : '-';
  return `| ${row.label} | ${row.timed.length} | ${fmt(f50)}${ratio(f50, percentile(floorFirst, 50))} | ${fmt(f99)}${ratio(f99, percentile(floorFirst, 99))} | ${fmt(d50)}${ratio(d50, percentile(floorDone, 50))} | ${fmt(d99)}${ratio(d99, percentile(floorDone, 99))} | ${perCheckIn} | ${tables} | ${row.errors} |`;
}

async function main(): Promise<void> {
  const adminUrl = process.env.BENCH_DATABASE_URL || process.env.TEST_DATABASE_URL;
  const redisUrl = process.env.BENCH_REDIS_URL || process.env.TEST_REDIS_URL;
  if (!adminUrl || !redisUrl) {
    console.log('bench-shared-cache: skipped (it needs BENCH_DATABASE_URL, a PostgreSQL server, and BENCH_REDIS_URL, a Redis)');
    return;
  }
  const redis = new Redis(redisUrl);
  // Entries of an earlier run on the same Redis would answer athletes of this database: start from none.
  const stale = await redis.keys('climbiq:engine:*');
  if (stale.length) await redis.del(...stale);
  const databaseUrl = await createDatabase(adminUrl);
  const servers: RunningServer[] = [];
  try {
    const a = await start(databaseUrl, redisUrl, {});
    servers.push(a);
    let t = performance.now();
    await insertBulkAthletes(a.db.prisma, { users: ATHLETES, sessionsPerUser: SESSIONS, tag: TAG });
    await a.db.prisma.$executeRawUnsafe(
      `INSERT INTO baseline_assessments (id, "userId", age, "yearsClimbing") SELECT gen_random_uuid(), ${bulkUserIdSql('$1::text', 'i::text')}, 30, 5 FROM generate_series(1, ${ATHLETES}) AS i`,
      TAG,
    );
    const run = await a.training.runNightly('MANUAL');
    console.log(`${ATHLETES} athletes x ${SESSIONS} sessions, baselines, nightly fit (${run.status}) in ${((performance.now() - t) / 1000).toFixed(1)} s`);
    const ids = (await a.db.prisma.$queryRawUnsafe<{ id: string }[]>(`SELECT ${bulkUserIdSql('$1::text', 'i::text')}::text AS id FROM generate_series(1, ${ATHLETES}) AS i`, TAG)).map((r) => r.id);
    const signer = new TokenService(SECRET);
    const tokens = await Promise.all(ids.map((sub) => signer.sign({ sub, role: 'athlete' }, '2h')));

    // A serves everyone once: A's memory and Redis hold every athlete's state.
    t = performance.now();
    const warmUp = await checkIns(a.wsUrl, tokens);
    console.log(`A, first check-ins (fills Redis): ${warmUp.timed.length} in ${((performance.now() - t) / 1000).toFixed(1)} s, ${warmUp.errors} errors`);

    const rows: Row[] = [];
    for (let round = 1; round <= ROUNDS; round++) {
      for (const shared of [false, true]) {
        const counter = new QueryCounter();
        const b = await start(databaseUrl, redisUrl, shared ? {} : { REDIS_MODEL_CACHE_TTL_SECONDS: '0' }, counter.onQuery);
        counter.counting = true;
        const out = await checkIns(b.wsUrl, tokens);
        counter.counting = false;
        await b.stop();
        const label = `B (new), ${shared ? 'shared cache (Redis)' : 'database (no shared cache)'}, round ${round}`;
        rows.push({ label, ...out, queries: counter });
        console.log(summary(rows[rows.length - 1], null));
      }
      const floor = await checkIns(a.wsUrl, tokens);
      rows.push({ label: `A (warm memory, the floor), round ${round}`, ...floor, queries: null });
    }
    const floors = rows.filter((r) => r.label.startsWith('A '));
    const body = [
      '### The first check-in on a new instance: shared model cache (Redis) vs the database',
      '',
      `${ATHLETES} known athletes (${SESSIONS} rated sessions, a baseline and a nightly-fitted model each) on PostgreSQL; instance A has served each once, so Redis holds their state. Per round a freshly started instance B answers every athlete's first check-in (graphql-ws stream, \`${CONCURRENCY}\` in flight, times from subscribe), with the shared cache off (\`REDIS_MODEL_CACHE_TTL_SECONDS=0\`) and on; the floor is the same check-ins on A, from its memory (ratios against the same round's floor). Queries: B's Prisma statements during the check-ins, per check-in and by table (the recommendations' batched INSERTs go through the driver, not Prisma, and are the same in every row).`,
      '',
      '| Instance, state from | Check-ins | First event p50 ms | First event p99 ms | DONE p50 ms | DONE p99 ms | Queries / check-in | Statements by table | Errors |',
      '|---|---|---|---|---|---|---|---|---|',
      ...rows.map((r) => summary(r, floors[Math.floor(rows.indexOf(r) / 3)] ?? null)),
      '',
      "Reading it: with the shared cache on, the engine's reads (`model_outputs`, `baseline_assessments`, `climbing_sessions`: the athlete's model, baseline and history) leave the new instance's statements; so does the user registry's first sight of a user on the instance (`users`: the shared cache also remembers which users' rows exist); what remains is the batched INSERTs of the answers (`recommendations`). Without it, those reads are about 3.5 statements per check-in, and the first event waits for them. A Redis call that times out (`REDIS_CACHE_TIMEOUT_MS`) shows as engine reads in the shared-cache rows.",
      '',
      `Machine: ${os.cpus().length} cores (${os.cpus()[0]?.model ?? 'unknown'}), Node ${process.version}, shared with other work; all instances and clients in one process.`,
      `Command: \`BENCH_DATABASE_URL=postgresql://... BENCH_REDIS_URL=redis://... npx tsx scripts/bench-shared-cache.ts${process.argv.slice(2).length ? ` ${process.argv.slice(2).join(' ')}` : ''}\``,
    ].join('\n');
    console.log(`\n${body}`);
    if (!args['no-write']) writeBlock(BENCHMARKS_FILE, 'shared-cache', body);
  } finally {
    for (const s of servers) await s.stop();
    await dropDatabase(adminUrl, databaseUrl);
    const mine = await redis.keys('climbiq:engine:*');
    if (mine.length) await redis.del(...mine);
    redis.disconnect();
  }
}

await main();
