// npx tsx scripts/bench-replica.ts: does the analysts' aggregate load slow the athletes' streams, and does a read
// replica (DATABASE_REPLICA_URLS) take it away from the primary? preSessionRecommendation streams are opened at a
// steady rate against a server process, after a warm-up in rounds of an idle window then one while analysts run
// aggregates and listings in a loop, in three setups (--modes): every read on the primary ("primary"); the analysts' reads on a streaming standby, the
// analysts served by the athletes' instance ("replica"); the same, the analysts served by an instance of their own
// ("own-instance": two server processes on the same database and standby, as a load balancer would route the
// insights page's origin). Target: with the replica, the streams' DONE p99 under analyst load within 1.2x of idle.
//
//   BENCH_DATABASE_URL=postgresql://…:55426/postgres BENCH_REPLICA_URL=postgresql://…:55526/postgres \
//     npx tsx scripts/bench-replica.ts [--users 2000] [--sessions 100] [--rate 40] [--seconds 15] [--analysts 4]
//       [--rounds 2] [--warmup 10] [--modes primary,replica,own-instance] [--pin] [--nice=N] [--database NAME] [--keep] [--no-write]
//
// BENCH_REPLICA_URL is a streaming standby of BENCH_DATABASE_URL's server (.ci/pg-server.sh standby): the fresh
// database made on the primary (dropped afterwards unless --keep; --database reuses a kept one) is read there under
// the same name. Each server runs in a child process with MODEL_CACHE_TTL_SECONDS=0, so every stream reads its
// athlete's model, baseline and history from the primary (the check-in path's reads, which stay there). All windows
// of a mode run on the same server processes. The analysts' client is a child process of its own.
//
// Where the time goes, per window: the event-loop delay of the athletes' instance and of this process (the
// athletes' client; perf_hooks.monitorEventLoopDelay) and the CPU time of each process involved, read from /proc:
// the athletes' instance, the analysts' instance, both clients, the primary's and the standby's PostgreSQL
// processes, and the machine's whole (/proc/stat: the rest is everyone else's); and how long the athletes' event
// loop and the primary's backends waited for a CPU (run-queue wait, /proc/<pid>/schedstat). --pin (Linux, taskset) stands in
// for two hosts on a 2-core machine: CPU 0 gets the primary, the athletes' instance and their client; CPU 1 the
// standby, the analysts' client and, in "own-instance", the analysts' instance (the servers are given every CPU
// back at the end). --nice=N (e.g. --nice=-10; root) runs every
// process of the benchmark, both sides alike, at that priority over the machine's other work (a stand-in for a quiet
// machine; the PostgreSQL servers are set back to 0 at the end). BENCH_CHILD_ARGS passes Node options to the server
// children (e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof`).
import { execFileSync, fork } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
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
    warmup: { type: 'string', default: '10' },
    rounds: { type: 'string', default: '2' },
    modes: { type: 'string', default: 'primary,replica,own-instance' },
    pin: { type: 'boolean', default: false },
    nice: { type: 'string' },
    database: { type: 'string' },
    keep: { type: 'boolean', default: false },
    'no-write': { type: 'boolean', default: false },
    serve: { type: 'string' },
    replica: { type: 'string' },
    generate: { type: 'boolean', default: false },
    load: { type: 'string' },
  },
});

const MODES = {
  primary: 'primary only',
  replica: 'replica, analysts on the athletes’ instance',
  'own-instance': 'replica, analysts on their own instance',
} as const;
type Mode = keyof typeof MODES;

// ================================================================== the event loop's delay

interface LoopDelay {
  p50: number;
  p99: number;
  max: number;
}

/** A histogram of this process's event-loop delay (ms), read and reset per window. */
function loopDelayMonitor(): { reset(): void; read(): LoopDelay } {
  const h = monitorEventLoopDelay({ resolution: 5 });
  h.enable();
  return {
    reset: () => h.reset(),
    read: () => ({ p50: h.percentile(50) / 1e6, p99: h.percentile(99) / 1e6, max: h.max / 1e6 }),
  };
}

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
  const loop = loopDelayMonitor();
  process.on('message', async (m) => {
    if (m === 'replicas') {
      process.send!({ type: 'replicas', status: server.services.replicas?.status() ?? [] });
    } else if (m === 'loop-reset') {
      loop.reset();
      process.send!({ type: 'loop-reset' });
    } else if (m === 'loop') {
      process.send!({ type: 'loop', delay: loop.read() });
    } else if (m === 'stop') {
      await server.stop();
      process.exit(0);
    }
  });
  process.send!({ type: 'ready', url: server.url, wsUrl: server.wsUrl });
}

// ================================================================== child: the analysts' client

/** What an analyst's insights page and lists ask, in a loop, until stopped. */
const ANALYST_OPERATIONS = [
  'query { insights { athletesByPhase { phase count } qualityHistogram { quality count } sessionsOverTime(bucket: WEEK) { start count } rules { name matched } } }',
  'query { sessions(first: 100, qualityMin: 3, orderBy: { field: QUALITY, direction: DESC }) { totalCount edges { node { id sessionQuality } } } }',
  'query { modelQuality { n rmse byAthlete(first: 20) { totalCount } } }',
  'query { users(first: 100, role: ATHLETE) { totalCount edges { node { id } } } }',
];

/** `analysts` analysts sending ANALYST_OPERATIONS back to back from 'start' to 'stop' (then reports the count). */
function analystClient(url: string): void {
  const token = process.env.BENCH_ANALYST_TOKEN!;
  const analysts = Number(args.analysts);
  let running = false;
  let requests = 0;
  let load: Promise<void> = Promise.resolve();
  const run = () =>
    Promise.all(
      Array.from({ length: analysts }, async (_, a) => {
        for (let k = a; running; k++) {
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
    ).then(() => undefined);
  process.on('message', async (m) => {
    if (m === 'start') {
      running = true;
      requests = 0;
      load = run();
      process.send!({ type: 'start' });
    } else if (m === 'stop') {
      running = false;
      await load;
      process.send!({ type: 'stop', requests });
    } else if (m === 'exit') {
      process.exit(0);
    }
  });
  process.send!({ type: 'ready' });
}

// ================================================================== CPU time from /proc

const TICKS_PER_SECOND = 100; // USER_HZ on Linux

interface ProcStat {
  ppid: number;
  /** utime + stime, in ticks. */
  own: number;
  /** cutime + cstime: exited children it waited for (a postmaster's parallel workers and closed backends). */
  children: number;
}

function procStat(pid: number): ProcStat | null {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = text.slice(text.lastIndexOf(')') + 2).split(' '); // fields from the 3rd (state) on
    return { ppid: Number(f[1]), own: Number(f[11]) + Number(f[12]), children: Number(f[13]) + Number(f[14]) };
  } catch {
    return null; // exited
  }
}

/** Every process's stat, by pid. */
function allStats(): Map<number, ProcStat> {
  const out = new Map<number, ProcStat>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const s = procStat(Number(name));
    if (s) out.set(Number(name), s);
  }
  return out;
}

/** CPU seconds used so far by a process and (`tree`) its children, the exited ones it waited for included. */
function cpuSeconds(stats: Map<number, ProcStat>, pid: number, tree: boolean): number {
  const root = stats.get(pid);
  if (!root) return 0;
  let ticks = root.own + (tree ? root.children : 0);
  if (tree) for (const s of stats.values()) if (s.ppid === pid) ticks += s.own;
  return ticks / TICKS_PER_SECOND;
}

/**
 * How long (ms) each thread has waited so far on a run queue, runnable but not running (/proc/<pid>/schedstat's
 * second field): time it wanted a CPU while another task had it. A process's figure is its main thread's (a Node
 * process's event loop).
 */
function runQueueWaits(pids: number[]): Map<number, number> {
  const out = new Map<number, number>();
  for (const pid of pids) {
    try {
      out.set(pid, Number(readFileSync(`/proc/${pid}/schedstat`, 'utf8').split(' ')[1]) / 1e6);
    } catch {
      // exited
    }
  }
  return out;
}

/** Run-queue wait (ms) between two readings, over the threads in both (a backend that closed meanwhile is left out). */
function waitedBetween(before: Map<number, number>, after: Map<number, number>, pids: number[]): number {
  let ms = 0;
  for (const pid of pids) if (before.has(pid) && after.has(pid)) ms += after.get(pid)! - before.get(pid)!;
  return ms;
}

/** Busy CPU seconds of the whole machine so far (every core; /proc/stat's first line less idle and iowait). */
function machineBusySeconds(): number {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  const [user, nice, system, , , irq, softirq, steal] = f;
  return (user + nice + system + irq + softirq + steal) / TICKS_PER_SECOND;
}

/** The postmaster of the PostgreSQL server `url` names (the parent of a backend), when it runs on this machine. */
async function postmasterPid(url: string): Promise<number | null> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
    return procStat(rows[0].pid)?.ppid ?? null;
  } finally {
    await client.end();
  }
}

/** taskset -a: every thread of the process, and of the given children. */
function pin(pids: number[], cpus: string): void {
  for (const pid of pids) {
    // -a walks the threads one by one and fails when one exits meanwhile (Node's and libuv's come and go): again.
    for (let attempt = 0; ; attempt++) {
      try {
        execFileSync('taskset', ['-acp', cpus, String(pid)], { stdio: 'ignore' });
        break;
      } catch (err) {
        if (attempt === 4) throw err;
      }
    }
  }
}

/** Every thread of the processes (and, `tree`, of their children) at scheduling priority `nice` (-20..19). */
function renice(pids: number[], nice: number, tree: boolean): void {
  const stats = allStats();
  const all = tree ? [...pids, ...[...stats].filter(([, s]) => pids.includes(s.ppid)).map(([p]) => p)] : pids;
  for (const pid of all) {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      try {
        os.setPriority(Number(tid), nice);
      } catch {
        // the thread exited
      }
    }
  }
}

function pinTree(pid: number, cpus: string): void {
  const stats = allStats();
  pin([pid, ...[...stats].filter(([, s]) => s.ppid === pid).map(([p]) => p)], cpus);
}

// ================================================================== parent: the athletes' clients

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

/** CPU cores used over a window (CPU seconds / wall seconds) by each part. */
interface CpuShares {
  athleteInstance: number;
  /** The analysts' own instance (own-instance mode), else null. */
  analystInstance: number | null;
  athleteClient: number;
  analystClient: number;
  primary: number | null;
  standby: number | null;
  /** The machine's busy CPU less all of the above: the other work on the machine. */
  rest: number;
  /** Run-queue wait per second of the window (ms/s): the athletes' instance's event loop, the primary's backends. */
  athleteLoopWaited: number;
  primaryWaited: number | null;
}

interface Window {
  /** Every successful stream's DONE time (ms), for the figures pooled over the rounds. */
  done: number[];
  streams: number;
  failed: number;
  firstP50: number;
  firstP99: number;
  doneP50: number;
  doneP99: number;
  analystRequests: number;
  /** Event-loop delay of the athletes' instance and of the athletes' client (this process), ms. */
  serverLoop: LoopDelay;
  clientLoop: LoopDelay;
  cpu: CpuShares;
  load1: number;
}

/** Streams at `rate` per second for `seconds`, round-robin over the clients. */
async function streamsFor(clients: Client[], rate: number, seconds: number): Promise<Pick<Window, 'done' | 'streams' | 'failed' | 'firstP50' | 'firstP99' | 'doneP50' | 'doneP99'>> {
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
  return {
    done,
    streams: timed.length,
    failed: timed.length - ok.length,
    firstP50: percentile(first, 50),
    firstP99: percentile(first, 99),
    doneP50: percentile(done, 50),
    doneP99: percentile(done, 99),
  };
}

interface Child {
  child: ReturnType<typeof fork>;
  url: string;
  wsUrl: string;
  request<T>(message: string, type: string): Promise<T>;
}

/** Every child still running, killed if the benchmark fails. */
const children = new Set<ReturnType<typeof fork>>();

function forkChild(childArgs: string[], execArgv: string[] = [], env: NodeJS.ProcessEnv = process.env): Promise<Child> {
  const child = fork(fileURLToPath(import.meta.url), childArgs, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv: [...process.execArgv, ...execArgv], env });
  children.add(child);
  child.once('exit', () => children.delete(child));
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
    child.once('exit', (code) => reject(new Error(`child ${childArgs[0]} exited with ${code}`)));
    child.once('message', (m: { type: string; url: string; wsUrl: string }) => resolve({ child, url: m.url, wsUrl: m.wsUrl, request }));
  });
}

function startServerChild(url: string, replicaUrl: string | null, generate: boolean): Promise<Child> {
  // BENCH_CHILD_ARGS: Node options for the server processes (e.g. --cpu-prof), as in bench-floor.
  const nodeArgs = process.env.BENCH_CHILD_ARGS?.split(/\s+/).filter(Boolean) ?? [];
  return forkChild(
    ['--serve', url, ...(replicaUrl ? ['--replica', replicaUrl] : []), ...(generate ? ['--generate', '--users', args.users!, '--sessions', args.sessions!] : [])],
    generate ? [] : nodeArgs,
  );
}

async function stopChild(c: Child, message = 'stop'): Promise<void> {
  const exited = new Promise((r) => c.child.once('exit', r));
  c.child.send(message);
  await exited;
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

const CPU_ATHLETES = '0';
const CPU_ANALYSTS = '1';

async function main(): Promise<void> {
  const adminUrl = process.env.BENCH_DATABASE_URL;
  const replicaAdminUrl = process.env.BENCH_REPLICA_URL;
  if (!adminUrl || !replicaAdminUrl) {
    console.log('bench-replica: skipped (it needs BENCH_DATABASE_URL, a PostgreSQL server, and BENCH_REPLICA_URL, a streaming standby of it)');
    return;
  }
  const modes = args.modes!.split(',').map((m) => m.trim()) as Mode[];
  for (const m of modes) if (!(m in MODES)) throw new Error(`--modes: unknown mode "${m}" (primary, replica, own-instance)`);
  const rate = Number(args.rate);
  const seconds = Number(args.seconds);
  const analysts = Number(args.analysts);
  const connections = Math.min(Number(args.users), Number(args.connections));
  const warmup = Number(args.warmup);
  const rounds = Number(args.rounds);
  const loadAtStart = os.loadavg();
  const url = args.database ? databaseUrl(adminUrl, args.database) : await createDatabase(adminUrl);
  const replicaUrl = databaseUrl(replicaAdminUrl, new URL(url).pathname.slice(1));
  const primaryPid = await postmasterPid(adminUrl);
  const standbyPid = await postmasterPid(replicaAdminUrl);
  if (args.pin) {
    if (primaryPid === null || standbyPid === null) throw new Error('--pin needs the primary and the standby on this machine');
    pinTree(primaryPid, CPU_ATHLETES);
    pinTree(standbyPid, CPU_ANALYSTS);
    pin([process.pid], CPU_ATHLETES);
  }
  if (args.nice !== undefined) {
    // Every process of the benchmark, both sides alike (children forked later, new backends too, inherit it): the
    // machine's other work, at the default 0, then yields to it.
    if (primaryPid === null || standbyPid === null) throw new Error('--nice needs the primary and the standby on this machine');
    renice([primaryPid, standbyPid], Number(args.nice), true);
    renice([process.pid], Number(args.nice), false);
  }
  const { TokenService } = await import('../src/auth.ts');
  const tokens = new TokenService(SECRET);
  const analystToken = await tokens.sign({ sub: '00000000-0000-4000-8000-00000000a001', role: 'analyst' });
  const results: { mode: Mode; round: number; idle: Window; loaded: Window }[] = [];
  const clientLoop = loopDelayMonitor();
  try {
    if (!args.database) {
      console.log(`generating ${args.users} athletes x ${args.sessions} sessions ...`);
      await stopChild(await startServerChild(url, null, true));
    }
    await standbyCaughtUp(adminUrl, replicaAdminUrl);

    for (const mode of modes) {
      const athletes = await startServerChild(url, mode === 'primary' ? null : replicaUrl, false);
      const analystServer = mode === 'own-instance' ? await startServerChild(url, replicaUrl, false) : athletes;
      const analystClient = await forkChild(['--load', analystServer.url, '--analysts', String(analysts)], [], { ...process.env, BENCH_ANALYST_TOKEN: analystToken });
      if (args.pin) {
        pin([athletes.child.pid!], CPU_ATHLETES);
        pin([analystClient.child.pid!], CPU_ANALYSTS);
        if (analystServer !== athletes) pin([analystServer.child.pid!], CPU_ANALYSTS);
      }
      const clients: Client[] = [];
      /** One window of streams, measured: latencies, event-loop delays, CPU by process. */
      const measure = async (withAnalysts: boolean): Promise<Window> => {
        await athletes.request('loop-reset', 'loop-reset');
        clientLoop.reset();
        const before = allStats();
        const backends = [...before].filter(([, st]) => st.ppid === primaryPid).map(([pid]) => pid);
        const waitedBefore = runQueueWaits([athletes.child.pid!, ...backends]);
        const busyBefore = machineBusySeconds();
        const t0 = performance.now();
        if (withAnalysts) await analystClient.request('start', 'start');
        const streams = await streamsFor(clients, rate, seconds);
        const analystRequests = withAnalysts ? (await analystClient.request<{ requests: number }>('stop', 'stop')).requests : 0;
        const wall = (performance.now() - t0) / 1000;
        const after = allStats();
        const busy = machineBusySeconds() - busyBefore;
        const waitedAfter = runQueueWaits([athletes.child.pid!, ...backends]);
        const used = (pid: number | null | undefined, tree = false) => (pid ? (cpuSeconds(after, pid, tree) - cpuSeconds(before, pid, tree)) / wall : null);
        const cpu = {
          athleteInstance: used(athletes.child.pid)!,
          analystInstance: analystServer === athletes ? null : used(analystServer.child.pid),
          athleteClient: used(process.pid)!,
          analystClient: used(analystClient.child.pid)!,
          primary: used(primaryPid, true),
          standby: used(standbyPid, true),
        };
        const ours = Object.values(cpu).reduce<number>((a, b) => a + (b ?? 0), 0);
        const serverLoop = (await athletes.request<{ delay: LoopDelay }>('loop', 'loop')).delay;
        const waited = {
          athleteLoopWaited: waitedBetween(waitedBefore, waitedAfter, [athletes.child.pid!]) / wall,
          primaryWaited: primaryPid ? waitedBetween(waitedBefore, waitedAfter, backends) / wall : null,
        };
        return { ...streams, analystRequests, serverLoop, clientLoop: clientLoop.read(), cpu: { ...cpu, rest: Math.max(0, busy / wall - ours), ...waited }, load1: os.loadavg()[0] };
      };
      try {
        for (let i = 1; i <= connections; i++) clients.push(await openClient(athletes.wsUrl, await tokens.sign({ sub: bulkUserId(i), role: 'athlete' })));
        for (let i = 0; i < clients.length; i += 20) await Promise.all(clients.slice(i, i + 20).map((c) => timedStream(c)));
        // Warm-up, not measured: every code path of every instance (the analysts' included) run and compiled by V8,
        // Prisma's query compiler (WebAssembly) tiered up; without it the first window pays for that.
        console.log(`${MODES[mode]}: warm-up, ${rate} streams/s and the analysts for ${warmup} s`);
        await analystClient.request('start', 'start');
        await streamsFor(clients, rate, warmup);
        await analystClient.request('stop', 'stop');
        const windows: { idle: Window; loaded: Window }[] = [];
        for (let round = 1; round <= rounds; round++) {
          console.log(`${MODES[mode]}, round ${round}: idle, ${rate} streams/s for ${seconds} s`);
          const idle = await measure(false);
          console.log(`${MODES[mode]}, round ${round}: ${analysts} analysts in a loop, ${rate} streams/s for ${seconds} s`);
          windows.push({ idle, loaded: await measure(true) });
        }
        if (mode !== 'primary') {
          for (const server of new Set([athletes, analystServer])) {
            const { status } = await server.request<{ status: { name: string; state: string; lagSeconds: number | null }[] }>('replicas', 'replicas');
            console.log(`  replicas at the end: ${JSON.stringify(status)}`);
            if (status.some((s) => s.state !== 'up')) throw new Error('the replica was not up throughout: the figures would be of the primary');
          }
        }
        for (const [round, { idle, loaded }] of windows.entries()) results.push({ mode, round: round + 1, idle, loaded });
        for (const [name, w] of windows.flatMap(
          ({ idle, loaded }) =>
            [
              ['idle', idle],
              ['loaded', loaded],
            ] as const,
        )) {
          console.log(
            `  ${name}: DONE p50 ${w.doneP50.toFixed(1)} p99 ${w.doneP99.toFixed(1)} ms; server loop delay p99 ${w.serverLoop.p99.toFixed(1)} max ${w.serverLoop.max.toFixed(1)} ms; ` +
              `client loop p99 ${w.clientLoop.p99.toFixed(1)} ms; cpu ${JSON.stringify(Object.fromEntries(Object.entries(w.cpu).map(([k, v]) => [k, v === null ? null : Number(v.toFixed(2))])))}; ${w.analystRequests} analyst requests; load ${w.load1.toFixed(1)}`,
          );
        }
      } finally {
        for (const c of clients) await c.dispose();
        await stopChild(analystClient, 'exit');
        await stopChild(athletes);
        if (analystServer !== athletes) await stopChild(analystServer);
      }
    }
  } finally {
    if (args.nice !== undefined && primaryPid !== null && standbyPid !== null) renice([primaryPid, standbyPid], 0, true);
    if (args.pin && primaryPid !== null && standbyPid !== null) for (const pid of [primaryPid, standbyPid]) pinTree(pid, `0-${os.cpus().length - 1}`);
    // A database named with --database was kept by an earlier run: it stays too.
    if (args.keep || args.database) console.log(`kept the database: --database ${new URL(url).pathname.slice(1)}`);
    else await dropDatabase(adminUrl, url);
  }
  const loadAtEnd = os.loadavg();
  const f1 = (x: number) => x.toFixed(1);
  const f2 = (x: number | null) => (x === null ? '–' : x.toFixed(2));
  const cpu = os.cpus();
  /** A table row per window: (mode, "round N, idle" or "round N, analyst load", the window, its round's idle window). */
  const windowRows = (cells: (mode: Mode, name: string, w: Window, idle: Window) => (string | number)[]) =>
    results.flatMap(({ mode, round, idle, loaded }) => [`| ${cells(mode, `${round}, idle`, idle, idle).join(' | ')} |`, `| ${cells(mode, `${round}, analyst load`, loaded, idle).join(' | ')} |`]);
  /** Per mode, over its rounds: the DONE p99 of all idle and of all loaded streams, the rounds' ratios, run-queue waits. */
  const summaryRows = (Object.keys(MODES) as Mode[])
    .filter((mode) => results.some((r) => r.mode === mode))
    .map((mode) => {
      const mine = results.filter((r) => r.mode === mode);
      const pooled = (pick: 'idle' | 'loaded') =>
        percentile(
          mine.flatMap((r) => r[pick].done).sort((a, b) => a - b),
          99,
        );
      const ratios = mine.map((r) => r.loaded.doneP99 / r.idle.doneP99).sort((a, b) => a - b);
      const waited = (pick: 'idle' | 'loaded') => mine.reduce((ms, r) => ms + r[pick].cpu.athleteLoopWaited, 0) / mine.length;
      const primaryWaited = (pick: 'idle' | 'loaded') => mine.reduce((ms, r) => ms + (r[pick].cpu.primaryWaited ?? 0), 0) / mine.length;
      return `| ${MODES[mode]} | ${f1(pooled('idle'))} | ${f1(pooled('loaded'))} | **${(pooled('loaded') / pooled('idle')).toFixed(2)}** | ${ratios.map((x) => x.toFixed(2)).join(', ')} | ${f1(waited('idle'))} / ${f1(waited('loaded'))} | ${f1(primaryWaited('idle'))} / ${f1(primaryWaited('loaded'))} |`;
    });
  const block = [
    '## Analyst load on a read replica beside the athletes’ streams',
    '',
    `Command: \`BENCH_DATABASE_URL=postgresql://…/postgres BENCH_REPLICA_URL=postgresql://…/postgres npx tsx scripts/bench-replica.ts${process.argv.slice(2).length ? ` ${process.argv.slice(2).join(' ')}` : ''}\``,
    '',
    `Machine: ${cpu[0]?.model.trim() ?? 'unknown CPU'}, ${cpu.length} cores, Node ${process.version}; run ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC; a PostgreSQL 15 primary and its streaming standby on the same machine. ` +
      `Load average (1/5/15 min) at the start ${loadAtStart.map(f1).join(' / ')}, at the end ${loadAtEnd.map(f1).join(' / ')}.`,
    '',
    `${Number(args.users).toLocaleString('en')} athletes x ${args.sessions} rated sessions. Each server in a child process with MODEL_CACHE_TTL_SECONDS=0 (each stream reads its athlete's model, baseline and history from the primary); ` +
      `\`preSessionRecommendation\` streams at ${rate}/s over ${connections} athletes' graphql-ws connections: after a ${warmup} s warm-up (streams and analysts, not measured), ${rounds} round(s) of ${seconds} s idle then ${seconds} s while ${analysts} analysts (a client process of their own) send the insights page's aggregates and the analysts' lists back to back over HTTP. ` +
      'Each mode is its own server process(es), on the same database; "replica" sets DATABASE_REPLICA_URLS to the standby (checked up throughout). ' +
      (args.pin
        ? 'Pinned (`--pin`): CPU 0 runs the primary, the athletes’ instance and the athletes’ client; CPU 1 the standby, the analysts’ client and, in the last mode, the analysts’ own instance; the machine’s other work runs on both.'
        : 'Not pinned: every process shares both cores with the machine’s other work.') +
      (args.nice !== undefined ? ` Every process of the benchmark (both PostgreSQL servers, the instances, both clients) at nice ${args.nice}, the machine’s other work at 0.` : ''),
    '',
    `Over the ${rounds} round(s) of each mode: the DONE p99 of all the idle windows' streams and of all the loaded windows' streams, each round's own ratio, and the mean run-queue wait (ms per second) of the athletes' event loop and of the primary's backends (tables below):`,
    '',
    '| reads of the analysts, served by | DONE p99 idle (ms) | DONE p99 under analyst load (ms) | loaded / idle | rounds’ ratios | athletes’ event loop waited, idle / loaded (ms/s) | primary’s backends waited, idle / loaded (ms/s) |',
    '|---|---:|---:|---:|---|---:|---:|',
    ...summaryRows,
    '',
    '| reads of the analysts, served by | round, window | streams | failed | first event p50 / p99 (ms) | DONE p50 / p99 (ms) | analyst requests | DONE p99 / idle | athletes’ instance loop delay p99 / max (ms) |',
    '|---|---|---:|---:|---:|---:|---:|---:|---:|',
    ...windowRows((mode, name, w, idle) => [
      MODES[mode],
      name,
      w.streams,
      w.failed,
      `${f1(w.firstP50)} / ${f1(w.firstP99)}`,
      `${f1(w.doneP50)} / ${f1(w.doneP99)}`,
      w === idle ? '–' : w.analystRequests,
      (w.doneP99 / idle.doneP99).toFixed(2),
      `${f1(w.serverLoop.p99)} / ${f1(w.serverLoop.max)}`,
    ]),
    '',
    'CPU cores used during each window (CPU seconds / wall seconds, from /proc; "rest": the machine’s busy time less these, i.e. other work on the machine), and how long the athletes’ instance’s event loop and the primary’s backends waited for a CPU, runnable (run-queue wait from /proc/<pid>/schedstat, ms per second of the window):',
    '',
    '| reads of the analysts, served by | round, window | athletes’ instance | analysts’ instance | athletes’ client | analysts’ client | primary | standby | rest | athletes’ event loop waited (ms/s) | primary’s backends waited (ms/s) | load average (1 min) |',
    '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...windowRows((mode, name, { cpu: c, load1 }) => [
      MODES[mode],
      name,
      f2(c.athleteInstance),
      c.analystInstance === null ? '(the athletes’)' : f2(c.analystInstance),
      f2(c.athleteClient),
      f2(c.analystClient),
      f2(c.primary),
      f2(c.standby),
      f2(c.rest),
      f1(c.athleteLoopWaited),
      c.primaryWaited === null ? '–' : f1(c.primaryWaited),
      f1(load1),
    ]),
  ].join('\n');
  console.log(`\n${block}\n`);
  if (!args['no-write']) writeBlock(BENCHMARKS_FILE, 'replica', block);
}

if (args.serve) {
  void serve(args.serve, args.replica);
} else if (args.load) {
  analystClient(args.load);
} else {
  main().catch((err) => {
    console.error(err);
    for (const child of children) child.kill();
    process.exit(1);
  });
}
