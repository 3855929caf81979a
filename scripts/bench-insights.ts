// npx tsx scripts/bench-insights.ts: how long the insights page's overview takes to be complete in a real
// browser (Debian's chromium via playwright-core) on a PostgreSQL server at 10,000 athletes / 1,000,000 sessions.
//
// The figure is the page's own performance mark "overview done" (every overview panel drawn), in ms from the start
// of navigation, in a fresh browser context each time (empty HTTP cache, new sign-in), against the real server.
//
// Needs BENCH_DATABASE_URL (or TEST_DATABASE_URL) naming a PostgreSQL server; skipped without one.
// Options: --users 10000  --sessions 100 (per athlete)  --loads 7  --database NAME (keep, and reuse when filled)
//          --no-write (BENCHMARKS.md untouched)
import { randomUUID } from 'node:crypto';
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { loadConfig } from '../src/config.ts';
import { startServer } from '../src/server.ts';
import { openServices } from '../src/services.ts';
import { insertBulkAthletes } from './lib/bulk-sessions.ts';
import { adminQuery, BENCHMARKS_FILE, createDatabase, databaseUrl as databaseUrlOn, dropDatabase, median, throwawayDatabaseName, writeBlock } from './lib/benchmarking.ts';
import { insightsUrl, launchChromium, panelStates, viewSettled } from './lib/insights-browser.ts';

const { values: args } = parseArgs({
  options: {
    users: { type: 'string', default: '10000' },
    sessions: { type: 'string', default: '100' },
    loads: { type: 'string', default: '7' },
    database: { type: 'string' },
    'no-write': { type: 'boolean', default: false },
  },
});

const adminUrl = process.env.BENCH_DATABASE_URL || process.env.TEST_DATABASE_URL || null;
if (!adminUrl) {
  console.log('bench-insights: skipped (set BENCH_DATABASE_URL=postgresql://.../postgres to measure the insights page on PostgreSQL)');
  process.exit(0);
}
const users = Number(args.users);
const perUser = Number(args.sessions);
const loads = Number(args.loads);
for (const [name, n] of Object.entries({ users, sessions: perUser, loads })) {
  if (!Number.isInteger(n) || n <= 0) throw new Error(`--${name} must be a positive whole number`);
}
const JWT_SECRET = 'bench-secret-bench-secret-bench-secret-0123';
const fmtS = (ms: number) => `${(ms / 1000).toFixed(2)} s`;

const dbName = args.database ?? throwawayDatabaseName('insights_bench');
if (!/^[a-z_][a-z0-9_]*$/.test(dbName)) throw new Error('--database must be a plain lower-case PostgreSQL name');
const databaseUrl = databaseUrlOn(adminUrl, dbName);
const config = loadConfig({ ...process.env, DATABASE_URL: databaseUrl, PORT: '0', HOST: '127.0.0.1', JWT_SECRET, INSIGHTS_ENABLED: 'true' });

// --database reuses a database this script filled before.
const exists = await adminQuery(adminUrl, 'SELECT 1 FROM pg_database WHERE datname = $1', [dbName]);
if (exists.rowCount === 0) await createDatabase(adminUrl, dbName);

let generateMs: number | null = null;
let nightlyMs: number | null = null;
try {
  // The data and one nightly fit before the server starts, so its startup catch-up finds every model current.
  const opened = await openServices(config, { log: () => {} });
  try {
    const have = await opened.services.db.prisma.climbingSession.count();
    if (have < users * perUser) {
      console.log(`Generating ${users} athletes x ${perUser} sessions in ${dbName}...`);
      const t = performance.now();
      await insertBulkAthletes(opened.services.db.prisma, {
        users,
        sessionsPerUser: perUser,
        tag: `insights-${users}x${perUser}`,
        onProgress: (u, s) => console.log(`  ${u}/${users} athletes, ${s} sessions (${fmtS(performance.now() - t)})`),
      });
      await opened.services.db.prisma.$executeRawUnsafe('ANALYZE');
      generateMs = performance.now() - t;
      const tn = performance.now();
      const run = await opened.services.training.runNightly('MANUAL');
      nightlyMs = performance.now() - tn;
      console.log(`  nightly ${run.status} in ${fmtS(nightlyMs)}`);
      if (run.status !== 'SUCCEEDED') throw new Error(`nightly run ${run.status}: ${run.error}`);
    } else {
      console.log(`Reusing ${dbName}: ${have} sessions`);
    }
  } finally {
    await opened.close();
  }

  const server = await startServer({ config, schedule: false, log: () => {} });
  const browser = await launchChromium();
  try {
    const token = await server.services.tokens.sign({ sub: randomUUID(), role: 'analyst' });
    const sessions = await server.services.db.prisma.climbingSession.count();
    const athletes = await server.services.db.prisma.user.count({ where: { role: 'ATHLETE' } });

    /** One load of the overview in a fresh context: ms from navigation start to "overview done", and of that the span of its API requests. */
    const load = async (): Promise<{ doneMs: number; apiMs: number }> => {
      const context = await browser.newContext({ viewport: { width: 1100, height: 900 } });
      try {
        const page = await context.newPage();
        await page.goto(insightsUrl(server.url, { token, view: 'overview', period: '90' }));
        await viewSettled(page, 'overview', 120_000);
        const states = await panelStates(page);
        const notDrawn = Object.entries(states).filter(([, state]) => state !== 'ready');
        if (notDrawn.length) throw new Error(`overview panels not drawn: ${JSON.stringify(notDrawn)}`);
        return await page.evaluate(() => {
          const api = (performance.getEntriesByType('resource') as PerformanceResourceTiming[]).filter((e) => new URL(e.name).pathname === '/graphql');
          return {
            doneMs: performance.getEntriesByName('overview done')[0].startTime,
            apiMs: Math.max(...api.map((e) => e.responseEnd)) - Math.min(...api.map((e) => e.startTime)),
          };
        });
      } finally {
        await context.close();
      }
    };

    const first = (await load()).doneMs; // includes bundling the chart library once per server process
    const measured: { doneMs: number; apiMs: number }[] = [];
    for (let i = 0; i < loads; i++) measured.push(await load());
    const times = measured.map((m) => m.doneMs);
    console.log(`first load ${fmtS(first)}; then ${measured.map((m) => `${fmtS(m.doneMs)} (API ${fmtS(m.apiMs)})`).join(', ')}`);

    const cpu = os.cpus()[0]?.model.trim() ?? 'unknown CPU';
    const block = [
      '## Insights page: the overview, complete in a real browser',
      '',
      `Command: \`BENCH_DATABASE_URL=postgresql://.../postgres npx tsx scripts/bench-insights.ts${process.argv.slice(2).length ? ` ${process.argv.slice(2).join(' ')}` : ''}\` (part of \`npm run bench\` when BENCH_DATABASE_URL is set)`,
      '',
      `Machine: ${cpu}, ${os.cpus().length} cores, Node ${process.version}; PostgreSQL 15 server, the API and chromium ${browser.version()} on the same machine; run ${new Date().toISOString().slice(0, 10)}, load average at the end ${os.loadavg()[0].toFixed(1)}.`,
      '',
      `Data: ${athletes.toLocaleString('en')} athletes, ${sessions.toLocaleString('en')} completed, rated sessions (scripts/lib/bulk-sessions.ts) and one nightly fit${generateMs !== null ? ` (generated in ${fmtS(generateMs)}, nightly ${fmtS(nightlyMs!)})` : ''}. ` +
        'Each load: a fresh browser context (empty cache) opens `/insights#token=...&view=overview&period=90`; the figure is the page\'s performance mark "overview done" ' +
        '(all five overview panels drawn: athletes per phase, sessions and mean quality per week, the quality histogram, nightly runs and their stages) in ms from navigation start.',
      '',
      '| Loads | Median | Max | Of which the API requests (median span, first request to last answer) | First load after server start (bundles the chart library) |',
      '|---:|---:|---:|---:|---:|',
      `| ${loads} | ${fmtS(median(times))} | ${fmtS(Math.max(...times))} | ${fmtS(median(measured.map((m) => m.apiMs)))} | ${fmtS(first)} |`,
      '',
      `Target: complete in under 2 s: ${Math.max(...times) < 2000 ? '**yes**' : '**no**'} (every load).${os.loadavg()[0] > os.cpus().length ? ` The machine was shared: with a load average above its ${os.cpus().length} cores, every figure here (page, API, database) is stretched accordingly.` : ''}`,
    ].join('\n');
    console.log(`\n${block}\n`);
    if (!args['no-write']) {
      writeBlock(BENCHMARKS_FILE, 'insights', block);
      console.log('BENCHMARKS.md updated (insights block).');
    }
  } finally {
    await browser.close();
    await server.stop();
  }
} finally {
  if (!args.database) await dropDatabase(adminUrl, databaseUrl);
}
process.exit(0);
