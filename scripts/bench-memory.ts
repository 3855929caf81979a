// Memory of one instance (BENCHMARKS.md "Memory"): the real server as `npm start` runs it (`npm run build`, then
// `node <package.json start's flags> dist/src/main.js`) in a child process, its resident set size read from /proc: at start-up (the peak, VmHWM, of the server process and the most
// its process tree held at once, the migration child included), idle after start, with 1,000 open graphql-ws
// `modelUpdated` subscriptions, and during and after a nightly fit of 10,000 athletes (PostgreSQL). Beside it, the
// floor measured the same way: a bare graphql-yoga + graphql-ws server with a trivial schema (scripts/lib/bare-server.ts),
// bundled by esbuild the same way and run by the same `node` with the same flags.
//
//   npx tsx scripts/bench-memory.ts [--postgres postgresql://…/postgres] [--athletes 10000] [--sessions 20]
//                                   [--subscribers 1000] [--idle-seconds 5] [--no-write] [--flags "<node flags>"]
//
// Without --postgres (nor BENCH_DATABASE_URL / TEST_DATABASE_URL) only the floor and PGlite run.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { Client } from 'graphql-ws';
import { startEnv, startFlags } from './lib/start-flags.ts';
import { BENCHMARKS_FILE, createDatabase, dropDatabase, openClient, writeBlock } from './lib/benchmarking.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const SECRET = 'bench-memory-secret-bench-memory-secret-0123456789';
const TAG = 'bench-memory';
const ADMIN_ID = '00000000-0000-4000-8000-0000000000ad';

const { values: args } = parseArgs({
  options: {
    postgres: { type: 'string' },
    athletes: { type: 'string', default: '10000' },
    sessions: { type: 'string', default: '20' },
    subscribers: { type: 'string', default: '1000' },
    'idle-seconds': { type: 'string', default: '5' },
    /** Skip the PGlite rows (the floor still runs: the ratios need it). */
    'skip-pglite': { type: 'boolean', default: false },
    'no-write': { type: 'boolean', default: false },
    /** Node flags instead of npm start's (a candidate measured before it goes into package.json); implies nothing written. */
    flags: { type: 'string' },
  },
});

const MB = 1024 * 1024;
const mb = (bytes: number) => `${Math.round(bytes / MB)} MB`;

/** VmRSS and VmHWM of one process, in bytes (0 once it has gone). */
function processMemory(pid: number): { rss: number; hwm: number } {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1] ?? 0) * 1024;
    return { rss: kb('VmRSS'), hwm: kb('VmHWM') };
  } catch {
    return { rss: 0, hwm: 0 };
  }
}

/** The process and every descendant (the migration child, esbuild's service). */
function processTree(pid: number): number[] {
  const out = [pid];
  for (let i = 0; i < out.length; i++) {
    try {
      for (const task of readdirSync(`/proc/${out[i]}/task`)) {
        const children = readFileSync(`/proc/${out[i]}/task/${task}/children`, 'utf8').trim();
        if (children) out.push(...children.split(/\s+/).map(Number));
      }
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}

interface Running {
  child: ChildProcess;
  url: string;
  /** The most the process tree held at once so far (sampled every 20 ms). */
  treePeak(): number;
  /** Restarts the tree's peak from now. */
  resetTreePeak(): void;
  stop(): Promise<void>;
}

/** Starts `node <args>` and resolves once it prints its "ready in" line, sampling its process tree meanwhile. */
async function startProcess(nodeArgs: string[], env: Record<string, string>): Promise<Running> {
  // npm start's environment (glibc's arena limit) for the floor and the servers alike.
  const child = spawn(process.execPath, nodeArgs, { cwd: ROOT, env: { ...process.env, ...startEnv(), ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
  let peak = 0;
  let stopping = false;
  const sampler = setInterval(() => {
    const total = processTree(child.pid!).reduce((sum, pid) => sum + processMemory(pid).rss, 0);
    peak = Math.max(peak, total);
  }, 20);
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const ready = /ready in [\d.]+ s: (?:GraphiQL|GraphQL)? ?(?:at )?(http:\/\/\S+)/.exec(out);
      if (ready) resolve(ready[1]);
    });
    child.once('exit', (code) => reject(new Error(`${nodeArgs.join(' ')} exited (${code}) before it was ready:\n${out}`)));
  });
  // What the server says after "ready" (a shutdown, a failure) is kept for the report of an early exit.
  child.stdout!.on('data', (chunk: Buffer) => {
    const text = chunk.toString();
    if (/shutting down|error|fail/i.test(text)) process.stderr.write(text);
  });
  child.once('exit', (code, signal) => {
    if (!stopping) console.error(`${nodeArgs.join(' ')} exited early: ${signal ?? `exit code ${code}`}`);
  });
  return {
    child,
    url,
    treePeak: () => peak,
    resetTreePeak: () => {
      peak = 0;
    },
    async stop() {
      clearInterval(sampler);
      stopping = true;
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    },
  };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function gqlOk(url: string, query: string, headers: Record<string, string>): Promise<unknown> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify({ query }) });
  const body = (await res.json()) as { data?: unknown; errors?: unknown };
  if (body.errors || !body.data) throw new Error(`${query}: ${JSON.stringify(body.errors)}`);
  return body.data;
}

interface StartFigures {
  label: string;
  peakProcess: number;
  peakTree: number;
  idle: number;
  heldOpen?: number;
}

async function idleAfter(running: Running): Promise<number> {
  await sleep(Number(args['idle-seconds']) * 1000);
  return processMemory(running.child.pid!).rss;
}

/** `count` graphql-ws connections, each with one subscription open (its first event, when `firstEvent`, awaited). */
async function holdSubscriptions(wsUrl: string, count: number, query: string, token: (i: number) => Promise<string>, onEvent: () => void): Promise<Client[]> {
  const clients: Client[] = [];
  for (let i = 1; i <= count; i++) {
    const client = await openClient(wsUrl, await token(i));
    client.subscribe({ query }, { next: onEvent, error: () => {}, complete: () => {} });
    clients.push(client);
  }
  return clients;
}

async function measureFloor(nodeArgs: string[], subscribers: number): Promise<StartFigures> {
  const running = await startProcess([...nodeArgs, String(await freePort())], {});
  try {
    const idle = await idleAfter(running);
    let events = 0;
    const clients = await holdSubscriptions(
      running.url.replace(/^http/, 'ws'),
      subscribers,
      'subscription { waiting }',
      async () => '',
      () => events++,
    );
    while (events < subscribers) await sleep(50);
    const heldOpen = await idleAfter(running);
    for (const c of clients) await c.dispose();
    return { label: 'bare Yoga + graphql-ws server (trivial schema)', peakProcess: processMemory(running.child.pid!).hwm, peakTree: running.treePeak(), idle, heldOpen };
  } finally {
    await running.stop();
  }
}

const serverEnv = (port: number, database: Record<string, string>) => ({ PORT: String(port), HOST: '127.0.0.1', JWT_SECRET: SECRET, NIGHTLY_TRAINING_CRON: '0 2 1 1 *', ...database });

async function measurePglite(entry: string[], dir: string, label: string): Promise<StartFigures> {
  const running = await startProcess(entry, serverEnv(await freePort(), { PGLITE_DIR: dir }));
  try {
    const idle = await idleAfter(running);
    const figures = { label, peakProcess: processMemory(running.child.pid!).hwm, peakTree: running.treePeak(), idle };
    console.log(`  peak ${mb(figures.peakProcess)} (tree ${mb(figures.peakTree)}), idle ${mb(idle)}`);
    return figures;
  } finally {
    await running.stop();
  }
}

function bulkUserId(i: number): string {
  const h = createHash('md5').update(`${TAG}:${i}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

interface PostgresFigures extends StartFigures {
  subscribed: number;
  nightlyPeakTree: number;
  afterNightly: number;
  afterNightlyLater: number;
  nightlyMs: number;
  nightlyStatus: string;
  events: number;
}

async function measurePostgres(entry: string[], adminUrl: string, athletes: number, sessions: number, subscribers: number): Promise<PostgresFigures> {
  const url = await createDatabase(adminUrl);
  const running = await startProcess(entry, serverEnv(await freePort(), { DATABASE_URL: url }));
  const { TokenService } = await import('../src/auth.ts');
  const tokens = new TokenService(SECRET);
  let clients: Client[] = [];
  try {
    const figures = { label: 'ClimbIQ on PostgreSQL', peakProcess: processMemory(running.child.pid!).hwm, peakTree: running.treePeak(), idle: await idleAfter(running) };
    // The athletes and their sessions, written straight into the database by this process (not the server's work).
    const { openDatabase } = await import('../src/db/client.ts');
    const { insertBulkAthletes } = await import('./lib/bulk-sessions.ts');
    const db = await openDatabase({ url, pgliteDir: '' });
    await insertBulkAthletes(db.prisma, { users: athletes, sessionsPerUser: sessions, tag: TAG });
    await db.prisma.$executeRawUnsafe('ANALYZE');
    await db.close();
    let events = 0;
    clients = await holdSubscriptions(
      running.url.replace(/^http/, 'ws'),
      subscribers,
      'subscription { modelUpdated { sessionsIncluded } }',
      (i) => tokens.sign({ sub: bulkUserId(i), role: 'athlete' }),
      () => events++,
    );
    const subscribed = await idleAfter(running);
    console.log(`  idle ${mb(figures.idle)}, with ${subscribers} subscriptions ${mb(subscribed)}; nightly run ...`);
    running.resetTreePeak();
    const t0 = performance.now();
    // Started, then polled: on a loaded machine the run may outlast an HTTP client's header timeout.
    const auth = { authorization: `Bearer ${await tokens.sign({ sub: ADMIN_ID, role: 'admin' })}` };
    await gqlOk(running.url, 'mutation { runNightlyTraining { id } }', auth);
    let nightlyStatus = 'RUNNING';
    while (nightlyStatus === 'RUNNING') {
      await sleep(500);
      // A keep-alive socket the busy server closed meanwhile resets the request (undici): asked again.
      const runs = await gqlOk(running.url, '{ trainingRuns(kind: NIGHTLY, first: 1) { edges { node { status } } } }', auth).catch((err: unknown) => {
        if (err instanceof TypeError && /fetch failed/.test(err.message)) return null;
        throw err;
      });
      if (!runs) continue;
      nightlyStatus = (runs as { trainingRuns: { edges: { node: { status: string } }[] } }).trainingRuns.edges[0]?.node.status ?? 'RUNNING';
    }
    const nightlyMs = performance.now() - t0;
    const nightlyPeakTree = running.treePeak();
    const afterNightly = await idleAfter(running);
    await sleep(10_000);
    const afterNightlyLater = processMemory(running.child.pid!).rss;
    return {
      ...figures,
      peakProcess: processMemory(running.child.pid!).hwm,
      subscribed,
      nightlyPeakTree,
      afterNightly,
      afterNightlyLater,
      nightlyMs,
      nightlyStatus,
      events,
    };
  } finally {
    for (const c of clients) await c.dispose();
    await running.stop();
    await dropDatabase(adminUrl, url);
  }
}

/** The production build, as `npm start` runs it (`npm run build`: scripts/build.ts writes dist/src/main.js). */
function buildServer(): string {
  execFileSync(process.execPath, ['--import', 'tsx', 'scripts/build.ts'], { cwd: ROOT, stdio: 'inherit' });
  return path.join(ROOT, 'dist', 'src', 'main.js');
}

/** The floor bundled as the server is (plain JavaScript in dist/, packages from node_modules). */
async function buildFloor(): Promise<string> {
  const { build } = await import('esbuild');
  const outfile = path.join(ROOT, 'dist', 'bench', 'bare-server.js');
  await build({ entryPoints: [path.join(ROOT, 'scripts/lib/bare-server.ts')], outfile, bundle: true, packages: 'external', platform: 'node', format: 'esm', logLevel: 'warning' });
  return outfile;
}

async function main(): Promise<void> {
  const adminUrl = args.postgres ?? process.env.BENCH_DATABASE_URL ?? process.env.TEST_DATABASE_URL ?? null;
  const athletes = Number(args.athletes);
  const sessions = Number(args.sessions);
  const subscribers = Number(args.subscribers);
  const flags = args.flags === undefined ? startFlags() : args.flags.split(/\s+/).filter(Boolean);
  console.log(`servers run with ${flags.join(' ') || 'no Node flags'}`);
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'climbiq-bench-memory-'));
  const rows: StartFigures[] = [];
  let postgres: PostgresFigures | null = null;
  try {
    const server = [...flags, buildServer()];
    const floorEntry = await buildFloor();
    console.log('floor: bare Yoga + graphql-ws ...');
    const floor = await measureFloor([...flags, floorEntry], subscribers);
    rows.push(floor);
    if (!args['skip-pglite']) {
      console.log('PGlite, fresh directory ...');
      rows.push(await measurePglite(server, path.join(tmp, 'pglite'), 'ClimbIQ on PGlite, first start (fresh directory: unpacked from the initdb image, migrations)'));
      console.log('PGlite, existing directory ...');
      rows.push(await measurePglite(server, path.join(tmp, 'pglite'), 'ClimbIQ on PGlite, later start (existing directory)'));
    }
    if (adminUrl) {
      console.log(`PostgreSQL: ${athletes} athletes x ${sessions} sessions, ${subscribers} subscribers ...`);
      postgres = await measurePostgres(server, adminUrl, athletes, sessions, subscribers);
      rows.push(postgres);
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }

  const floorIdle = rows[0].idle;
  const ratio = (bytes: number) => `${(bytes / floorIdle).toFixed(1)}x`;
  const line = (r: StartFigures) => `| ${r.label} | ${mb(r.peakProcess)} | ${mb(r.peakTree)} | ${mb(r.idle)} (${ratio(r.idle)}) | ${r.heldOpen ? mb(r.heldOpen) : '–'} |`;
  const lines = [
    '## Memory',
    '',
    `Command: \`npx tsx scripts/bench-memory.ts${adminUrl ? ' --postgres postgresql://…/postgres' : ''} --athletes ${athletes} --subscribers ${subscribers}\` (part of \`npm run bench\`)`,
    '',
    `Machine: ${os.cpus()[0]?.model.trim()}, ${os.cpus().length} cores; Node ${process.version}, ${os.platform()} ${os.arch()}; run ${new Date().toISOString().slice(0, 10)}, load average at the end ${os.loadavg()[0].toFixed(1)} (shared machine).`,
    '',
    `Each server is started as \`npm start\` starts it: the production build (\`npm run build\`), then \`MALLOC_ARENA_MAX=${startEnv().MALLOC_ARENA_MAX} node ${flags.join(' ')} dist/src/main.js\` (development settings, in a child process of the benchmark); the floor is scripts/lib/bare-server.ts bundled the same way and run with the same flags. Resident set sizes from /proc: the server process's peak (VmHWM) over start-up, the most its process tree held at once (sampled every 20 ms: the migration child included), and its RSS after ` +
      `${args['idle-seconds']} s idle after "ready" (no request yet; the ratio to the bare server's idle RSS in brackets), then with ${subscribers.toLocaleString('en')} graphql-ws connections each holding one subscription open.`,
    '',
    '| Process | Peak RSS, server process | Peak RSS, process tree | Idle RSS after start | With subscriptions held open |',
    '|---|---:|---:|---:|---:|',
    ...rows.filter((r) => r !== postgres).map(line),
  ];
  if (postgres) {
    lines.push(
      `| ${postgres.label} | ${mb(postgres.peakProcess)} (whole run) | ${mb(postgres.peakTree)} | ${mb(postgres.idle)} (${ratio(postgres.idle)}) | ${mb(postgres.subscribed)} |`,
      '',
      `On PostgreSQL, after the idle reading: ${athletes.toLocaleString('en')} athletes x ${sessions} sessions written into its database by the benchmark, ${subscribers.toLocaleString('en')} athletes' \`modelUpdated\` subscriptions held open (one graphql-ws connection each), then the nightly fit (\`runNightlyTraining\`, its status polled: ${postgres.nightlyStatus} in ${(postgres.nightlyMs / 1000).toFixed(1)} s, its worker thread in the server process; ${postgres.events.toLocaleString('en')} \`modelUpdated\` events reached the subscribers): peak RSS of the process during the run ${mb(postgres.nightlyPeakTree)}; RSS ${args['idle-seconds']} s after it ${mb(postgres.afterNightly)}, 10 s later ${mb(postgres.afterNightlyLater)}, the subscriptions still open.`,
    );
  }
  const body = lines.join('\n');
  console.log(`\n${body}`);
  if (!args['no-write'] && args.flags === undefined) writeBlock(BENCHMARKS_FILE, 'memory', body);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
