// npx tsx scripts/bench-replica.ts: does the analysts' aggregate load slow the athletes' streams, and does a read
// replica (DATABASE_REPLICA_URLS) take it away from the primary? preSessionRecommendation streams are opened at a
// steady rate against a server process, first idle, then while analysts run aggregates and listings in a loop; once
// with every read on the primary, once with a streaming standby as the replica. Target: with the replica, the
// streams' p99 under analyst load within 1.2x of idle; without it, not.
//
//   BENCH_DATABASE_URL=postgresql://…:55426/postgres BENCH_REPLICA_URL=postgresql://…:55526/postgres \
//     npx tsx scripts/bench-replica.ts [--users 2000] [--sessions 100] [--rate 40] [--seconds 15] [--analysts 4] [--no-write]
//
// BENCH_REPLICA_URL is a streaming standby of BENCH_DATABASE_URL's server (.ci/pg-server.sh standby): the fresh
// database made on the primary (dropped afterwards) is read there under the same name. The server runs in a child
// process with MODEL_CACHE_TTL_SECONDS=0, so every stream reads its athlete's model, baseline and history from the
// primary (the check-in path's reads, which stay there). Both windows of a mode run on the same server process.
import { fork } from 'node:child_process';
import { createHash } from 'node:crypto';
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { Client } from 'graphql-ws';
import pg from 'pg';
import { BENCHMARKS_FILE, createDatabase, databaseUrl, dropDatabase, OPERATOR, openClient, percentile, STREAM, writeBlock } from './lib/benchmarking.ts';

const SECRET = 'bench-secret-bench-secret-bench-secret-0123456789';
const TAG = 'bench-replica';
const { values: args } = parseArgs({
  options: {
    users: { type: 'string', default: '2000' },
    sessions: { type: 'string', default: '100' },
    rate: { type: 'string', default: '40' },
    seconds: { type: 'string', default: '15' },
    analysts: { type: 'string', default: '4' },
    connections: { type: 'string', default: '100' },
    'no-write': { type: 'boolean', default: false },
    serve: { type: 'string' },
    replica: { type: 'string' },
    generate: { type: 'boolean', default: false },
  },
});

// ================================================================== child: the server

async function serve(url: string, replicaUrl: string | undefined): Promise<void> {
  const { loadConfig } = await import('../src/config.ts');
  const { startServer } = await import('../src/server.ts');
  const config = loadConfig({
    PORT: '0',
    HOST: '127.0.0.1',
    JWT_SECRET: SECRET,
    DATABASE_URL: url,
    ...(replicaUrl ? { DATABASE_REPLICA_URLS: replicaUrl } : {}),
    MODEL_CACHE_TTL_SECONDS: '0',
    RATE_LIMIT_RECOMMENDATION: 'off',
    RATE_LIMIT_INSIGHTS: 'off',
    RATE_LIMIT_MODEL_QUALITY: 'off',
  });
  const server = await startServer({ config, schedule: false, log: (m) => (m.startsWith('[DB] replica') || m.startsWith('[DB] read replicas') ? console.log(`  server: ${m}`) : undefined) });
  if (args.generate) {
    const { insertBulkAthletes } = await import('./lib/bulk-sessions.ts');
    await insertBulkAthletes(server.db.prisma, { users: Number(args.users), sessionsPerUser: Number(args.sessions), tag: TAG });
    await server.db.prisma.$executeRawUnsafe('ANALYZE');
  }
  process.on('message', async (m) => {
    if (m === 'replicas') {
      process.send!({ type: 'replicas', status: server.services.replicas?.status() ?? [] });
    } else if (m === 'stop') {
      await server.stop();
      process.exit(0);
    }
  });
  process.send!({ type: 'ready', url: server.url, wsUrl: server.wsUrl });
}

// ================================================================== parent: the clients

function bulkUserId(i: number): string {
  const h = createHash('md5').update(`${TAG}:${i}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

function timedStream(client: Client): Promise<{ firstMs: number; doneMs: number; failed: boolean }> {
  return new Promise((resolve) => {
    const t0 = performance.now();
    let firstMs = -1;
    let last: string | undefined;
    client.subscribe<{ preSessionRecommendation: { type: string } }>(
      { query: STREAM, variables: { input: OPERATOR } },
      {
        next: (v) => {
          if (firstMs < 0) firstMs = performance.now() - t0;
          last = v.data?.preSessionRecommendation.type;
        },
        error: () => resolve({ firstMs, doneMs: performance.now() - t0, failed: true }),
        complete: () => resolve({ firstMs, doneMs: performance.now() - t0, failed: last !== 'DONE' }),
      },
    );
  });
}

interface Window {
  streams: number;
  failed: number;
  firstP50: number;
  firstP99: number;
  doneP50: number;
  doneP99: number;
  analystRequests: number;
}

/** Streams at `rate` per second for `seconds`, round-robin over the clients. */
async function window(clients: Client[], rate: number, seconds: number): Promise<Omit<Window, 'analystRequests'>> {
  const pending: Promise<{ firstMs: number; doneMs: number; failed: boolean }>[] = [];
  const t0 = performance.now();
  for (let k = 0; performance.now() - t0 < seconds * 1000; k++) {
    pending.push(timedStream(clients[k % clients.length]));
    const wait = t0 + ((k + 1) * 1000) / rate - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  }
  const timed = await Promise.all(pending);
  const ok = timed.filter((t) => !t.failed);
  const first = ok.map((t) => t.firstMs).sort((a, b) => a - b);
  const done = ok.map((t) => t.doneMs).sort((a, b) => a - b);
  return { streams: timed.length, failed: timed.length - ok.length, firstP50: percentile(first, 50), firstP99: percentile(first, 99), doneP50: percentile(done, 50), doneP99: percentile(done, 99) };
}

/** What an analyst's insights page and lists ask, in a loop, until stopped. */
const ANALYST_OPERATIONS = [
  'query { insights { athletesByPhase { phase count } qualityHistogram { quality count } sessionsOverTime(bucket: WEEK) { start count } rules { name matched } } }',
  'query { sessions(first: 100, qualityMin: 3, orderBy: { field: QUALITY, direction: DESC }) { totalCount edges { node { id sessionQuality } } } }',
  'query { modelQuality { n rmse byAthlete(first: 20) { totalCount } } }',
  'query { users(first: 100, role: ATHLETE) { totalCount edges { node { id } } } }',
];

async function analystLoad(url: string, token: string, analysts: number, running: () => boolean): Promise<number> {
  let requests = 0;
  await Promise.all(
    Array.from({ length: analysts }, async (_, a) => {
      for (let k = a; running(); k++) {
        const res = await fetch(url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
          body: JSON.stringify({ query: ANALYST_OPERATIONS[k % ANALYST_OPERATIONS.length] }),
        });
        const body = (await res.json()) as { errors?: { message: string }[] };
        if (body.errors) throw new Error(`analyst query failed: ${body.errors[0].message}`);
        requests++;
      }
    }),
  );
  return requests;
}

interface Started {
  child: ReturnType<typeof fork>;
  url: string;
  wsUrl: string;
  request<T>(message: string, type: string): Promise<T>;
}

function startChild(url: string, replicaUrl: string | null, generate: boolean): Promise<Started> {
  const child = fork(
    fileURLToPath(import.meta.url),
    ['--serve', url, ...(replicaUrl ? ['--replica', replicaUrl] : []), ...(generate ? ['--generate', '--users', args.users!, '--sessions', args.sessions!] : [])],
    {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    },
  );
  const request = <T>(message: string, type: string) =>
    new Promise<T>((resolve) => {
      const on = (m: { type: string }) => {
        if (m.type === type) {
          child.off('message', on);
          resolve(m as T);
        }
      };
      child.on('message', on);
      child.send(message);
    });
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`server child exited with ${code}`)));
    child.once('message', (m: { type: string; url: string; wsUrl: string }) => resolve({ child, url: m.url, wsUrl: m.wsUrl, request }));
  });
}

/** Waits until the standby has replayed everything the primary has written (the bulk data included). */
async function standbyCaughtUp(primaryUrl: string, standbyUrl: string): Promise<void> {
  const primary = new pg.Client({ connectionString: primaryUrl });
  const standby = new pg.Client({ connectionString: standbyUrl });
  await primary.connect();
  await standby.connect();
  try {
    const { rows } = await primary.query<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn');
    for (;;) {
      const r = await standby.query<{ done: boolean }>('SELECT pg_last_wal_replay_lsn() >= $1::pg_lsn AS done', [rows[0].lsn]);
      if (r.rows[0].done) return;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  } finally {
    await primary.end();
    await standby.end();
  }
}

async function main(): Promise<void> {
  const adminUrl = process.env.BENCH_DATABASE_URL;
  const replicaAdminUrl = process.env.BENCH_REPLICA_URL;
  if (!adminUrl || !replicaAdminUrl) {
    console.log('bench-replica: skipped (it needs BENCH_DATABASE_URL, a PostgreSQL server, and BENCH_REPLICA_URL, a streaming standby of it)');
    return;
  }
  const rate = Number(args.rate);
  const seconds = Number(args.seconds);
  const analysts = Number(args.analysts);
  const connections = Math.min(Number(args.users), Number(args.connections));
  const loadAtStart = os.loadavg();
  const url = await createDatabase(adminUrl);
  const replicaUrl = databaseUrl(replicaAdminUrl, new URL(url).pathname.slice(1));
  const { TokenService } = await import('../src/auth.ts');
  const tokens = new TokenService(SECRET);
  const analystToken = await tokens.sign({ sub: '00000000-0000-4000-8000-00000000a001', role: 'analyst' });
  const results: { mode: string; idle: Window; loaded: Window }[] = [];
  try {
    console.log(`generating ${args.users} athletes x ${args.sessions} sessions ...`);
    const generating = await startChild(url, null, true);
    generating.child.send('stop');
    await new Promise((r) => generating.child.once('exit', r));
    await standbyCaughtUp(adminUrl, replicaAdminUrl);

    for (const mode of ['primary only', 'replica'] as const) {
      const server = await startChild(url, mode === 'replica' ? replicaUrl : null, false);
      const clients: Client[] = [];
      try {
        for (let i = 1; i <= connections; i++) clients.push(await openClient(server.wsUrl, await tokens.sign({ sub: bulkUserId(i), role: 'athlete' })));
        for (let i = 0; i < clients.length; i += 20) await Promise.all(clients.slice(i, i + 20).map((c) => timedStream(c)));
        console.log(`${mode}: idle, ${rate} streams/s for ${seconds} s`);
        const idle = { ...(await window(clients, rate, seconds)), analystRequests: 0 };
        console.log(`${mode}: ${analysts} analysts in a loop, ${rate} streams/s for ${seconds} s`);
        let running = true;
        const load = analystLoad(server.url, analystToken, analysts, () => running);
        const measured = await window(clients, rate, seconds);
        running = false;
        const loaded = { ...measured, analystRequests: await load };
        if (mode === 'replica') {
          const { status } = await server.request<{ status: { name: string; state: string; lagSeconds: number | null }[] }>('replicas', 'replicas');
          console.log(`  replicas at the end: ${JSON.stringify(status)}`);
          if (status.some((s) => s.state !== 'up')) throw new Error('the replica was not up throughout: the figures would be of the primary');
        }
        results.push({ mode, idle, loaded });
        console.log(
          `  idle first p99 ${idle.firstP99.toFixed(1)} ms, DONE p99 ${idle.doneP99.toFixed(1)} ms; loaded first p99 ${loaded.firstP99.toFixed(1)} ms, DONE p99 ${loaded.doneP99.toFixed(1)} ms; ${loaded.analystRequests} analyst requests`,
        );
      } finally {
        for (const c of clients) await c.dispose();
        server.child.send('stop');
        await new Promise((r) => server.child.once('exit', r));
      }
    }
  } finally {
    await dropDatabase(adminUrl, url);
  }
  const loadAtEnd = os.loadavg();
  const f1 = (x: number) => x.toFixed(1);
  const cpu = os.cpus();
  const block = [
    '## Analyst load on a read replica beside the athletes’ streams',
    '',
    `Command: \`BENCH_DATABASE_URL=postgresql://…/postgres BENCH_REPLICA_URL=postgresql://…/postgres npx tsx scripts/bench-replica.ts${process.argv.slice(2).length ? ` ${process.argv.slice(2).join(' ')}` : ''}\``,
    '',
    `Machine: ${cpu[0]?.model.trim() ?? 'unknown CPU'}, ${cpu.length} cores, Node ${process.version}; run ${new Date().toISOString().slice(0, 10)}; a PostgreSQL 15 primary and its streaming standby on the same machine. ` +
      `Load average (1/5/15 min) at the start ${loadAtStart.map(f1).join(' / ')}, at the end ${loadAtEnd.map(f1).join(' / ')}.`,
    '',
    `${Number(args.users).toLocaleString('en')} athletes x ${args.sessions} rated sessions. The server in a child process with MODEL_CACHE_TTL_SECONDS=0 (each stream reads its athlete's model, baseline and history from the primary); ` +
      `\`preSessionRecommendation\` streams at ${rate}/s over ${connections} athletes' graphql-ws connections for ${seconds} s idle, then ${seconds} s while ${analysts} analysts send the insights page's aggregates and the analysts' lists back to back over HTTP. ` +
      'Each mode is one server process; "replica" sets DATABASE_REPLICA_URLS to the standby (checked up throughout).',
    '',
    '| reads of the analysts | window | streams | failed | first event p50 / p99 (ms) | DONE p50 / p99 (ms) | analyst requests | DONE p99 / idle |',
    '|---|---|---:|---:|---:|---:|---:|---:|',
    ...results.flatMap(({ mode, idle, loaded }) => [
      `| ${mode} | idle | ${idle.streams} | ${idle.failed} | ${f1(idle.firstP50)} / ${f1(idle.firstP99)} | ${f1(idle.doneP50)} / ${f1(idle.doneP99)} | – | 1.00 |`,
      `| ${mode} | analyst load | ${loaded.streams} | ${loaded.failed} | ${f1(loaded.firstP50)} / ${f1(loaded.firstP99)} | ${f1(loaded.doneP50)} / ${f1(loaded.doneP99)} | ${loaded.analystRequests} | ${(loaded.doneP99 / idle.doneP99).toFixed(2)} |`,
    ]),
  ].join('\n');
  console.log(`\n${block}\n`);
  if (!args['no-write']) writeBlock(BENCHMARKS_FILE, 'replica', block);
}

if (args.serve) {
  void serve(args.serve, args.replica);
} else {
  main().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
