// npx tsx scripts/bench-analyst.ts: the analyst's aggregates through the real server (GraphQL over HTTP, an
// analyst token), each insights part (and modelQuality, when the schema has it) timed on its own, at volume:
// 1,000 athletes x 100 sessions on in-memory PGlite, and 10,000 x 100 (1M sessions) on the PostgreSQL server
// named by BENCH_DATABASE_URL (or TEST_DATABASE_URL), in a fresh database dropped afterwards.
//
// Rows are generated server-side: athletes and completed, rated sessions (scripts/lib/bulk-sessions.ts), one
// stored recommendation per session linked to it (prediction near the outcome, each seed rule matched on about
// 10 % of sessions), a population fit from the seed priors and the observed statistics. The rollups are kept
// by the database's own triggers during that load, as in production.
//
// Options: --sizes 1000x100 (PGlite) / 10000x100 (PostgreSQL)   --only pglite|postgres   --runs 100
//          --no-write (BENCHMARKS.md untouched)
import { randomUUID } from 'node:crypto';
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { TokenService } from '../src/auth.ts';
import { loadConfig } from '../src/config.ts';
import { SEED_PRIORS, TERM_NAMES } from '../src/engine/variables.ts';
import { startServer } from '../src/server.ts';
import { insertBulkAthletes } from './lib/bulk-sessions.ts';
import { BENCHMARKS_FILE, createDatabase, dropDatabase, percentile, throwawayDatabaseName, writeBlock } from './lib/benchmarking.ts';

const { values: args } = parseArgs({
  options: {
    sizes: { type: 'string' },
    only: { type: 'string' },
    runs: { type: 'string', default: '100' },
    'no-write': { type: 'boolean', default: false },
  },
});

const SECRET = 'bench-secret-bench-secret-bench-secret-0123';
const serverUrl = process.env.BENCH_DATABASE_URL || process.env.TEST_DATABASE_URL || null;
const runs = Number(args.runs);
type Engine = 'PGlite' | 'PostgreSQL';
const parseSize = (text: string) => {
  const [users, perUser] = text.split('x').map(Number);
  if (!Number.isInteger(users) || !Number.isInteger(perUser) || users <= 0 || perUser <= 0) throw new Error(`bad size "${text}" (want USERSxSESSIONS)`);
  return { users, perUser };
};
const plan: { engine: Engine; users: number; perUser: number }[] = [];
if (args.only !== 'postgres') plan.push({ engine: 'PGlite', ...parseSize(args.sizes?.split(',')[0] ?? '1000x100') });
if (args.only !== 'pglite' && serverUrl) plan.push({ engine: 'PostgreSQL', ...parseSize(args.sizes?.split(',').at(-1) ?? '10000x100') });
if (plan.length === 0) throw new Error('nothing to run (--only postgres needs BENCH_DATABASE_URL or TEST_DATABASE_URL)');

const fmtS = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

/** The operations timed: each insights part alone, over all time and over a period cutting days mid-way. */
function operations(now: Date, hasModelQuality: boolean): { name: string; query: string }[] {
  const from = new Date(now.getTime() - 30.5 * 86_400_000).toISOString();
  const to = new Date(now.getTime() - 0.5 * 86_400_000).toISOString();
  const period = `(from: "${from}", to: "${to}")`;
  const ops = [
    { name: 'athletesByPhase', query: '{ insights { athletesByPhase { phase count } } }' },
    { name: 'sessionsOverTime(WEEK), all time', query: '{ insights { sessionsOverTime(bucket: WEEK) { start count meanQuality } } }' },
    { name: 'sessionsOverTime(DAY), 30 days cut mid-day', query: `{ insights${period} { sessionsOverTime(bucket: DAY) { start count meanQuality } } }` },
    { name: 'qualityHistogram, all time', query: '{ insights { qualityHistogram { quality count } } }' },
    { name: 'qualityHistogram, 30 days cut mid-day', query: `{ insights${period} { qualityHistogram { quality count } } }` },
    { name: 'rules, all time', query: '{ insights { rules { name matched meanQuality meanQualityOthers } } }' },
    { name: 'rules, 30 days cut mid-day', query: `{ insights${period} { rules { name matched meanQuality meanQualityOthers } } }` },
    { name: 'effects', query: '{ insights { effects { variable perSd lower upper betweenAthleteSd } } }' },
    { name: 'sessions list: 20 by QUALITY DESC + totalCount', query: '{ sessions(first: 20, orderBy: {field: QUALITY, direction: DESC}) { totalCount edges { node { id sessionQuality } } } }' },
  ];
  if (hasModelQuality) {
    ops.push(
      { name: 'modelQuality, all time', query: '{ modelQuality { n rmse mae bias intervalCoverage calibration { low high n meanPredicted meanActual } } }' },
      { name: 'modelQuality byPhase, 30 days cut mid-day', query: `{ modelQuality${period} { n rmse byPhase { phase n rmse mae bias intervalCoverage } } }` },
    );
  }
  return ops;
}

interface Row {
  engine: Engine;
  size: string;
  name: string;
  p50: number;
  p99: number;
  max: number;
}

async function benchEngine(engine: Engine, users: number, perUser: number): Promise<{ rows: Row[]; loadMs: number; sessions: number }> {
  const databaseUrl = engine === 'PostgreSQL' ? await createDatabase(serverUrl!, throwawayDatabaseName('climbiq_bench_analyst')) : null;
  // Each operation is timed back to back, far beyond the per-viewer limits: measured is the query, not the limiter.
  const config = loadConfig({
    PORT: '0',
    HOST: '127.0.0.1',
    JWT_SECRET: SECRET,
    PGLITE_DIR: 'memory://',
    RATE_LIMIT_INSIGHTS: 'off',
    RATE_LIMIT_MODEL_QUALITY: 'off',
    ...(databaseUrl ? { DATABASE_URL: databaseUrl } : {}),
  });
  config.pgliteDir = 'memory://';
  const server = await startServer({ config, schedule: false, log: () => {} });
  try {
    const prisma = server.db.prisma;
    const t0 = performance.now();
    const { sessions } = await insertBulkAthletes(prisma, { users, sessionsPerUser: perUser, tag: `analyst-${users}x${perUser}` });
    console.log(`  ${engine}: ${users} athletes, ${sessions} sessions generated (${fmtS(performance.now() - t0)})`);
    const rules = (await prisma.expertRule.findMany({ select: { name: true } })).map((r) => r.name);
    // One recommendation per session (same id), then the link: the rollup triggers see both as bulk statements.
    await prisma.$executeRaw`
      INSERT INTO "recommendations" ("id", "userId", "createdAt", "source", "sessionType", "expectedQuality", "rawQuality",
        "intervalLow", "intervalHigh", "confidence", "phase", "modelSessionsIncluded", "hasBaseline", "hasPersonalization",
        "checkIn", "matchedRules", "warnings", "suggestions")
      SELECT s."id", s."userId", s."startedAt", 'MODEL', 'VOLUME', e.q, e.q, e.q - 2.4, e.q + 2.4, 'MEDIUM',
        (CASE WHEN hashtext(s."userId"::text) & 3 = 0 THEN 'PERSONALIZED' WHEN hashtext(s."userId"::text) & 3 = 1 THEN 'COLD_START' ELSE 'LEARNING' END)::"ModelPhase",
        20, false, true, '{}'::jsonb,
        ARRAY(SELECT r FROM unnest(${rules}::text[]) AS r WHERE (hashtext(s."id"::text || r) & 1023) < 102),
        '[]'::jsonb, '[]'::jsonb
      FROM "climbing_sessions" s
      CROSS JOIN LATERAL (SELECT GREATEST(1, LEAST(10, s."sessionQuality" + ((hashtext(s."id"::text) & 1023) / 1023.0 - 0.5) * 3))::float8 AS q) e`;
    await prisma.$executeRaw`UPDATE "climbing_sessions" SET "recommendationId" = "id"`;
    await prisma.$executeRaw`
      INSERT INTO "model_outputs" ("id", "userId", "coefficients", "credibleIntervals", "covariance", "sufficientStats", "phase", "sessionsIncluded", "modelVersion", "updatedAt")
      SELECT gen_random_uuid(), u."id", '{}'::jsonb, '{}'::jsonb, '[]'::jsonb, '{}'::jsonb,
        (CASE WHEN hashtext(u."id"::text) & 3 = 0 THEN 'PERSONALIZED' WHEN hashtext(u."id"::text) & 3 = 1 THEN 'COLD_START' ELSE 'LEARNING' END)::"ModelPhase",
        ${perUser}, 'bench', now()
      FROM "users" u WHERE u."role" = 'ATHLETE' AND hashtext(u."id"::text) & 7 <> 7`;
    // A population fit from the seed priors, and the observed statistics of the model's variables.
    const record = (f: (name: string) => number) => Object.fromEntries(TERM_NAMES.map((name) => [name, f(name)]));
    const prior = (name: string) => SEED_PRIORS.find((p) => p.variable === name)!;
    await prisma.populationModel.create({
      data: {
        mu: record((n) => prior(n).populationMean),
        muSd: record((n) => prior(n).populationStd / 10),
        tau2: record((n) => prior(n).individualVariance ?? 0),
        sigma2: 1.4,
        usersIncluded: users,
        sessionsIncluded: sessions,
        modelVersion: 'bench',
      },
    });
    for (const variable of TERM_NAMES.filter((n) => n !== 'intercept')) {
      await prisma.$executeRawUnsafe(
        `INSERT INTO "population_statistics" ("id", "variable", "mean", "std", "min", "max", "n")
         SELECT gen_random_uuid(), $1, avg("${variable}"), stddev_samp("${variable}"), min("${variable}"), max("${variable}"), count("${variable}")
         FROM "climbing_sessions" WHERE "status" = 'COMPLETED'`,
        variable,
      );
    }
    if (engine === 'PostgreSQL') await prisma.$executeRawUnsafe('ANALYZE');
    const loadMs = performance.now() - t0;
    console.log(`  ${engine}: recommendations, models and population fit written; load total ${fmtS(loadMs)}`);

    const token = await new TokenService(SECRET).sign({ sub: randomUUID(), role: 'analyst' });
    const post = async (query: string) => {
      const res = await fetch(server.url, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: JSON.stringify({ query }) });
      const body = (await res.json()) as { errors?: unknown[] };
      if (body.errors) throw new Error(`${query}: ${JSON.stringify(body.errors)}`);
    };
    const introspection = (await (
      await fetch(server.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify({ query: '{ __type(name: "Query") { fields { name } } }' }),
      })
    ).json()) as {
      data: { __type: { fields: { name: string }[] } };
    };
    const hasModelQuality = introspection.data.__type.fields.some((f) => f.name === 'modelQuality');
    const rows: Row[] = [];
    for (const op of operations(new Date(), hasModelQuality)) {
      for (let i = 0; i < 5; i++) await post(op.query); // warm-up: plans, caches, JIT
      const times: number[] = [];
      for (let i = 0; i < runs; i++) {
        const t = performance.now();
        await post(op.query);
        times.push(performance.now() - t);
      }
      times.sort((a, b) => a - b);
      const row = { engine, size: `${users.toLocaleString('en')} x ${perUser}`, name: op.name, p50: percentile(times, 50), p99: percentile(times, 99), max: times.at(-1)! };
      console.log(`  ${op.name}: p50 ${row.p50.toFixed(1)} ms, p99 ${row.p99.toFixed(1)} ms, max ${row.max.toFixed(1)} ms`);
      rows.push(row);
    }
    return { rows, loadMs, sessions };
  } finally {
    await server.stop();
    if (databaseUrl) await dropDatabase(serverUrl!, databaseUrl);
  }
}

const started = new Date();
const rows: Row[] = [];
const loads: string[] = [];
for (const { engine, users, perUser } of plan) {
  console.log(`Analyst aggregates on ${engine}: ${users} athletes x ${perUser} sessions`);
  const result = await benchEngine(engine, users, perUser);
  rows.push(...result.rows);
  loads.push(`${engine} ${result.sessions.toLocaleString('en')} sessions: ${fmtS(result.loadMs)}`);
}

const cpu = os.cpus()[0]?.model.trim() ?? 'unknown CPU';
const machine = `${cpu}, ${os.cpus().length} cores, Node ${process.version}; run ${started.toISOString().slice(0, 10)}, load average at the end ${os.loadavg()[0].toFixed(1)}`;
const meets = (r: Row) => (r.name.startsWith('sessions list') ? '' : r.p50 < 200 && r.p99 < 500 ? 'yes' : '**no**');
const block = [
  '## Analyst aggregates at volume (insights, modelQuality)',
  '',
  `Command: \`${serverUrl && plan.some((p) => p.engine === 'PostgreSQL') ? 'BENCH_DATABASE_URL=postgresql://... ' : ''}npx tsx scripts/bench-analyst.ts${process.argv.slice(2).length ? ` ${process.argv.slice(2).join(' ')}` : ''}\``,
  '',
  `Machine: ${machine}${plan.some((p) => p.engine === 'PostgreSQL') ? '; PostgreSQL 15 server on the same machine' : ''}.`,
  '',
  `Each operation alone through the real server (GraphQL over HTTP, analyst token, one request at a time), ${runs} timed runs after 5 warm-ups; the period variant covers the last 30 days starting and ending mid-day (rollup days plus raw sessions of the two partial days). Data: completed, rated sessions over the last ${plan[0].perUser} days, one linked recommendation per session, 15 seed rules each matched on about 10 % of them; the rollups are filled by the database's triggers while loading (${loads.join('; ')}). Target (issue 8): p50 < 200 ms and p99 < 500 ms at 10,000 athletes / 1,000,000 sessions on PostgreSQL. The sessions list row is for reference (its totalCount is an exact count).`,
  '',
  '| Database | Athletes x sessions | Operation | p50 | p99 | max | Target met |',
  '|---|---|---|---:|---:|---:|---|',
  ...rows.map((r) => `| ${r.engine} | ${r.size} | ${r.name} | ${r.p50.toFixed(1)} ms | ${r.p99.toFixed(1)} ms | ${r.max.toFixed(1)} ms | ${meets(r)} |`),
].join('\n');

console.log(`\n${block}\n`);
if (!args['no-write']) {
  writeBlock(BENCHMARKS_FILE, 'analyst', block);
  console.log('BENCHMARKS.md updated (analyst block).');
}
process.exit(0);
