// Where the server's CPU goes per `recommendation` request, beside `{ __typename }` on the same server (issue 19):
// scripts/bench.ts's server child runs under `--cpu-prof` while wrk (-t1 -c10) alternates the two operations, and
// the profile's samples are split by the moment of each wrk run, so every function gets its CPU time per request
// under each operation and their difference (what a `recommendation` costs above the server's floor).
//
//   npx tsx scripts/profile-wrk.ts [--postgres postgresql://postgres@127.0.0.1:55432/postgres] [--seconds 8]
//       [--rounds 2] [--top 40] [--dir /tmp/climbiq-profile] [--no-profile] [--before <dir>] [--connections 10]
//
// --no-profile: no profiler, only each run's server CPU time per request (user + system of the server process, the
// rows' writes included): an A/B of two trees, run from each, alternated. Every run also prints the kB a request
// allocated in the API thread's young generation (V8's GC profiler, scripts/bench.ts's `pauses`): what the garbage
// collector will have to scavenge, set by the code and not by the machine's load; beside it, the kB a request's
// scavenges promoted to the old generation (what lived through two of them: what a scavenge copies, and what fills the
// old generation for its collections) and the collector's pauses in µs a request.
// Every run also prints the database's CPU time per request: embedded PGlite's thread (its name, `pglite`, in
// /proc/<server>/task), or on PostgreSQL the backends of the server's database and, beside them, every process of the
// PostgreSQL server (pg_stat_activity's pids: the WAL writer, the checkpointer, autovacuum), from /proc/<pid>/schedstat.
// Under it, which resource each run saturated: the cores each thread of the server process kept busy over the run
// (/proc/<server>/task/*/schedstat grouped by the thread's name: the API thread, `pglite`, libuv's pool, V8's helpers;
// for the API thread and PGlite's, beside it the time they were runnable but waited for a CPU: schedstat's run_delay),
// wrk's own (its CPU time once reaped), PostgreSQL's, and the machine's busy cores (/proc/stat) with the part none of
// these account for (other work on the machine); with --before, the medians of the API thread's and the machine's.
// --before <dir>[,<dir>...] (with --no-profile): a server from each of those trees' scripts/bench.ts (a checkout of
// the commit to compare with, its node_modules linked) beside this tree's, all started and seeded alike, wrk taking
// turns between them within each round (the order reversed every other round), so a loaded machine's drift falls on
// all; medians per tree at the end.
// --survivors (with --no-profile): V8's sampling heap profiler in this tree's server over its `recommendation` runs,
// keeping only the objects that outlived a scavenge: KB per request by allocating function and by `src/` frame.
// --heap (with --no-profile): the same, every sampled allocation (what the young generation has to scavenge).
// --variables: a third operation in every round, `{ __typename }` sent with the `recommendation`'s variables (coerced,
// for the field beside it, which is skipped: its resolver never runs): what a larger body, a larger document and its
// variables cost Yoga and the executor, apart from the field.
// The server started second measured slower on a loaded machine (the same `{ __typename }` code 1.3-1.9x), so run
// each comparison both ways. --connections: wrk's (-c; 10 as the issue's): 1 sends one request at a time.
//
// The servers run with npm start's Node flags and MALLOC_ARENA_MAX (package.json's start script: scripts/lib/start-flags.ts,
// as bench-floor's), so V8's helper threads do what they do in production (no TurboFan tier-up of PGlite's WASM under
// --liftoff-only, its young generation's size); --flags "<node flags>" replaces them for this tree's server, and
// --before-flags for the --before trees' ("a|b" one set a tree; "" for none: the tenth round's first runs had none), e.g. --trace-gc to see
// each isolate's collections, or --single-threaded-gc to keep the collector off V8's helper threads. Every run prints
// the API isolate's scavenges and major collections per 10,000 requests.
//
// --athletes <n>: the `recommendation` requests take turns among n seeded athletes (wrk's Lua `request`), so a writer's
// statement holds many athletes' rows as a real instance's does; 1 (the default): one athlete, as bench.ts.
// --shapes <n>: the `recommendation` requests take turns among n check-ins, each a different subset (2-16 fields) of
// the registry's variables with ordinary values (seeded: the same bodies in every tree and run), as an instance's
// athletes send different fields; 1 (the default): the bench's 3-field check-in (OPERATOR) in every request.
// --pglite-dir <dir>: each server's PGlite in a fresh data directory under <dir> (on disk, as npm start's default
// ./data/pglite) instead of in memory (memory://, the default here and in bench-floor).
//
// Self time: samples in the function itself; inclusive: with everything it called (async continuations count where
// they resume, not under the function that awaited). Times are the profiler's (sampling adds its own overhead), so
// read them against each other; the wrk line per run gives the process's CPU time per request without the split.
import { execFile, fork } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs, promisify } from 'node:util';
import { adminQuery, createDatabase, dropDatabase, OPERATOR } from './lib/benchmarking.ts';
import { variedCheckIns } from './lib/varied-check-ins.ts';
import { cpuPerUnit, type CpuProfile, monotonicMicros, readProfiles, type TimeWindow } from './lib/cpu-profile.ts';
import { BENCH_SECRET } from './lib/bench-child.ts';
import { type HeapNode, printHeap } from './lib/heap-profile.ts';
import { startEnv, startFlags } from './lib/start-flags.ts';

const { values: args } = parseArgs({
  options: {
    postgres: { type: 'string' },
    seconds: { type: 'string', default: '8' },
    rounds: { type: 'string', default: '2' },
    top: { type: 'string', default: '40' },
    dir: { type: 'string' },
    'no-profile': { type: 'boolean', default: false },
    before: { type: 'string' },
    connections: { type: 'string', default: '10' },
    athletes: { type: 'string', default: '1' },
    shapes: { type: 'string', default: '1' },
    variables: { type: 'boolean', default: false },
    survivors: { type: 'boolean', default: false },
    heap: { type: 'boolean', default: false },
    flags: { type: 'string' },
    'pglite-dir': { type: 'string' },
    'before-flags': { type: 'string' },
  },
});

const RECOMMENDATION = JSON.stringify({
  query: `query($input: PreSessionInput!) { recommendation(input: $input) { id source sessionType prediction { expectedQuality interval { low high } } suggestions { message } warnings { rule message } } }`,
  variables: { input: OPERATOR },
});
const TYPENAME = JSON.stringify({ query: '{ __typename }' });

/** --shapes: n `recommendation` bodies, each check-in a different subset of the variables (the first is the bench's). */
const variedRecommendations = (n: number): string[] => variedCheckIns(n).map((input) => JSON.stringify({ query: JSON.parse(RECOMMENDATION).query, variables: { input } }));
// The variables must be used (else the document does not validate): by the field, skipped, so its resolver never runs.
const TYPENAME_WITH_VARIABLES = JSON.stringify({
  query: 'query($input: PreSessionInput!) { __typename recommendation(input: $input) @skip(if: true) { id } }',
  variables: { input: OPERATOR },
});

type Operation = 'recommendation' | '__typename' | '__typename+variables';

interface Window extends TimeWindow {
  operation: Operation;
  requests: number;
}

const execFileAsync = promisify(execFile);

async function wrk(url: string, script: string, seconds: number): Promise<{ requests: number; rps: number }> {
  const { stdout } = await execFileAsync('wrk', ['-t1', `-c${args.connections}`, `-d${seconds}s`, '-s', script, url]);
  return { requests: Number(/(\d+) requests in/.exec(stdout)?.[1] ?? 0), rps: Number(/Requests\/sec:\s+([\d.]+)/.exec(stdout)?.[1] ?? 0) };
}

/** Per function: CPU µs per request of the windows of one operation, self and inclusive. */
function perRequest(profile: CpuProfile, windows: readonly Window[]) {
  const requests = Math.max(
    1,
    windows.reduce((sum, w) => sum + w.requests, 0),
  );
  return { requests, ...cpuPerUnit(profile, windows, requests) };
}

/** A task's CPU time so far in ms (/proc/.../schedstat: nanoseconds on a CPU); 0 once it has gone. */
function schedstatMs(path: string): number {
  try {
    return Number(readFileSync(path, 'utf8').split(' ')[0]) / 1e6;
  } catch {
    return 0;
  }
}

/**
 * The database's CPU time so far (ms), by pid (thread id for PGlite's thread): embedded PGlite's thread in the server
 * process `pid`; on PostgreSQL, the backends of the database `databaseUrl` names (`database`) and every process of
 * the server (`server`). A backend gone between two readings loses what it ran since the first.
 */
async function databaseCpu(pid: number, databaseUrl: string | null): Promise<{ database: Map<number, number>; server: Map<number, number> }> {
  if (!databaseUrl || !args.postgres) {
    const threads = new Map<number, number>();
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      const comm = readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim();
      if (comm === 'pglite') threads.set(Number(tid), schedstatMs(`/proc/${pid}/task/${tid}/schedstat`));
    }
    return { database: threads, server: threads };
  }
  const name = new URL(databaseUrl).pathname.slice(1);
  const { rows } = await adminQuery(args.postgres, 'SELECT pid, datname FROM pg_stat_activity WHERE pid <> pg_backend_pid()');
  const database = new Map<number, number>();
  const server = new Map<number, number>();
  for (const row of rows as { pid: number; datname: string | null }[]) {
    const ms = schedstatMs(`/proc/${row.pid}/schedstat`);
    server.set(row.pid, ms);
    if (row.datname === name) database.set(row.pid, ms);
  }
  return { database, server };
}

/** A task's time so far in ms (/proc/.../schedstat): on a CPU, and runnable but waiting for one (run_delay); 0 once it has gone. */
function schedstatTimes(path: string): { cpu: number; wait: number } {
  try {
    const [cpu, wait] = readFileSync(path, 'utf8').split(' ');
    return { cpu: Number(cpu) / 1e6, wait: Number(wait) / 1e6 };
  } catch {
    return { cpu: 0, wait: 0 };
  }
}

/**
 * Every thread of the server process by its name (/proc/<pid>/task/<tid>/comm; the API's thread, tid = pid, as
 * 'API thread'): its time so far in ms on a CPU and waiting for one, summed over the threads of one name (libuv's
 * pool, V8's helpers).
 */
function threadCpu(pid: number): Map<string, { cpu: number; wait: number }> {
  const byName = new Map<string, { cpu: number; wait: number }>();
  let tids: string[] = [];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return byName;
  }
  for (const tid of tids) {
    let name: string;
    try {
      name = Number(tid) === pid ? 'API thread' : readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim();
    } catch {
      continue; // gone between the listing and the read
    }
    const t = schedstatTimes(`/proc/${pid}/task/${tid}/schedstat`);
    const sum = byName.get(name) ?? { cpu: 0, wait: 0 };
    byName.set(name, { cpu: sum.cpu + t.cpu, wait: sum.wait + t.wait });
  }
  return byName;
}

/** This process's reaped children's CPU time so far (ms): wrk's, once each run has exited (/proc/self/stat's cutime + cstime, in clock ticks). */
function reapedChildrenMs(): number {
  const stat = readFileSync('/proc/self/stat', 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // fields from the third (state) on
  return ((Number(fields[13]) + Number(fields[14])) * 1000) / CLOCK_TICKS;
}
const CLOCK_TICKS = 100; // USER_HZ on Linux (getconf CLK_TCK)

/** The machine's CPU time so far (ms): busy (every state but idle and iowait) and in all, over every core (/proc/stat). */
function machineCpuMs(): { busy: number; total: number } {
  const [, ...ticks] = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/);
  const t = ticks.slice(0, 8).map(Number); // user nice system idle iowait irq softirq steal
  const total = t.reduce((a, b) => a + b, 0);
  return { busy: ((total - t[3] - t[4]) * 1000) / CLOCK_TICKS, total: (total * 1000) / CLOCK_TICKS };
}

/** CPU ms run between two readings of databaseCpu, over the pids of either (one absent from the first started at 0). */
function cpuBetween<K>(before: Map<K, number>, after: Map<K, number>): number {
  let ms = 0;
  for (const [key, now] of after) ms += now - (before.get(key) ?? 0);
  return ms;
}

/** A server child (scripts/bench.ts --serve of `benchScript`) on its own database, seeded, with a token of its athlete. */
async function startServer(benchScript: string, execArgv: string[]) {
  const databaseUrl = args.postgres ? await createDatabase(args.postgres) : null;
  const env = { ...process.env, ...startEnv() };
  // --pglite-dir <parent>: PGlite in a fresh data directory of its own under it (on disk, as npm start's default
  // ./data/pglite), not in memory (memory://: Emscripten's in-memory files, grown and copied as JavaScript buffers).
  const dataParent = !databaseUrl && args['pglite-dir'] ? mkdtempSync(path.join(args['pglite-dir'], 'profile-wrk-')) : null;
  const pgliteDir = dataParent ? ['--pglite-dir', path.join(dataParent, 'pglite')] : [];
  const child = fork(benchScript, ['--serve', ...(databaseUrl ? ['--database-url', databaseUrl] : []), ...pgliteDir], { execArgv, env, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const stop = async () => {
    if (child.exitCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      if (dataParent) await exited;
    }
    if (dataParent) rmSync(dataParent, { recursive: true, force: true });
    if (databaseUrl && args.postgres) await dropDatabase(args.postgres, databaseUrl);
  };
  try {
    const ready = await new Promise<{ url: string }>((resolve, reject) => {
      child.once('message', (m) => resolve(m as { url: string }));
      child.once('exit', (code) => reject(new Error(`${benchScript} exited with ${code}`)));
    });
    let next = 0;
    const waiting = new Map<number, (m: Record<string, unknown>) => void>();
    child.on('message', (m) => {
      const msg = m as Record<string, unknown>;
      waiting.get(msg.id as number)?.(msg);
    });
    const request = (cmd: string, extra: Record<string, unknown> = {}) =>
      new Promise<Record<string, unknown>>((resolve, reject) => {
        const id = ++next;
        waiting.set(id, (msg) => (msg.ok ? resolve(msg) : reject(new Error(String(msg.error)))));
        child.send({ id, cmd, ...extra });
      });
    /** The process's CPU time (ms), and the API thread's alone (NaN before Node 23.9). */
    const cpuMs = async () => {
      const u = await request('cpu');
      const main = u.mainThread as { user: number; system: number };
      return { process: ((u.user as number) + (u.system as number)) / 1000, main: (main.user + main.system) / 1000 };
    };
    const athletes = Array.from({ length: Math.max(2, Number(args.athletes)) }, () => randomUUID());
    await request('seed', { userIds: athletes, sessionsPerUser: 30 });
    const { TokenService } = await import('../src/auth.ts');
    const tokens = new TokenService(BENCH_SECRET);
    // --athletes N: the `recommendation` runs take turns among N athletes' tokens (1: the first athlete's only).
    const athleteTokens = await Promise.all(athletes.slice(0, Number(args.athletes)).map((sub) => tokens.sign({ sub, role: 'athlete' })));
    const token = athleteTokens[0];
    const finished = async () => {
      await request('stop').catch(() => {});
      await new Promise<void>((resolve) => (child.exitCode !== null ? resolve() : child.once('exit', () => resolve())));
    };
    /** The writer's totals after the last run: rows stored, INSERT statements and the JSON they carried. */
    const written = { rows: 0, inserts: 0, bytes: 0 };
    const databaseCpuMs = () => databaseCpu(child.pid as number, databaseUrl);
    return { url: ready.url, pid: child.pid as number, request, cpuMs, databaseCpuMs, token, athleteTokens, finished, stop, databaseUrl, written };
  } catch (err) {
    await stop();
    throw err;
  }
}
type Server = Awaited<ReturnType<typeof startServer>>;

/**
 * Which resource a wrk run saturated: the cores each thread of the server process kept busy over the run (CPU ms /
 * wall ms; 1.00 is one core the whole run), wrk's, PostgreSQL's (its backends of this database, and all its
 * processes), and the machine's busy cores with what none of these account for (other work on the machine).
 */
function cores(
  server: Server,
  threads0: Map<string, { cpu: number; wait: number }>,
  machine0: { busy: number; total: number },
  children0: number,
  database0: { database: Map<number, number>; server: Map<number, number> },
  database1: { database: Map<number, number>; server: Map<number, number> },
  wallMs: number,
): BusyCores {
  const threads1 = threadCpu(server.pid);
  const machine1 = machineCpuMs();
  const wrkMs = reapedChildrenMs() - children0;
  const byThread = [...threads1]
    .map(([name, t]) => ({ name, cores: (t.cpu - (threads0.get(name)?.cpu ?? 0)) / wallMs, waiting: (t.wait - (threads0.get(name)?.wait ?? 0)) / wallMs }))
    .sort((a, b) => b.cores - a.cores);
  const processCores = byThread.reduce((sum, t) => sum + t.cores, 0);
  const postgres = server.databaseUrl ? { backends: cpuBetween(database0.database, database1.database) / wallMs, all: cpuBetween(database0.server, database1.server) / wallMs } : null;
  // /proc/stat's busy time over the run, in cores (its wall time is the run's, within the readings' microseconds).
  const machine = (machine1.busy - machine0.busy) / wallMs;
  const accounted = processCores + wrkMs / wallMs + (postgres?.all ?? 0);
  const named = (name: string) => byThread.filter((t) => t.name === name).reduce((sum, t) => sum + t.cores, 0);
  const waiting = (name: string) => byThread.filter((t) => t.name === name).reduce((sum, t) => sum + t.waiting, 0);
  const api = named('API thread');
  // A thread's time runnable but not on a CPU beside its busy cores: busy + waiting near 1 is a thread that always
  // had work (its own ceiling, or the machine's cores, set the rate); well below 1, it waited for something else.
  const shown = byThread
    .filter((t) => t.cores >= 0.005)
    .map((t) => `${t.name} ${t.cores.toFixed(2)}${t.name === 'API thread' || t.name === 'pglite' ? ` + ${t.waiting.toFixed(2)} waiting for a CPU` : ''}`);
  const line = `server process ${processCores.toFixed(2)} (${shown.join(', ')}); wrk ${(wrkMs / wallMs).toFixed(2)}${postgres ? `; PostgreSQL backends ${postgres.backends.toFixed(2)} (all its processes ${postgres.all.toFixed(2)})` : ''}; the machine ${machine.toFixed(2)} (not these: ${(machine - accounted).toFixed(2)})`;
  return {
    api,
    apiWaiting: waiting('API thread'),
    pglite: named('pglite'),
    pgliteWaiting: waiting('pglite'),
    rest: processCores - api - named('pglite'),
    wrk: wrkMs / wallMs,
    postgres: postgres?.all ?? 0,
    machine,
    others: machine - accounted,
    line,
  };
}

/** A run's busy cores (cores()): the API thread, PGlite's thread, the process's other threads, wrk, PostgreSQL, the machine and what none of them account for. */
interface BusyCores {
  api: number;
  /** The API thread runnable but not on a CPU (cores). */
  apiWaiting: number;
  pglite: number;
  pgliteWaiting: number;
  rest: number;
  wrk: number;
  postgres: number;
  machine: number;
  others: number;
  line: string;
}

const median = (xs: readonly number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

async function main(): Promise<void> {
  const seconds = Number(args.seconds);
  const rounds = Number(args.rounds);
  const top = Number(args.top);
  const compare = args.before !== undefined;
  if (compare && !args['no-profile']) throw new Error('--before measures CPU time only: give --no-profile too');
  const dir = args.dir ?? mkdtempSync(path.join(os.tmpdir(), 'climbiq-profile-'));
  mkdirSync(dir, { recursive: true });
  const started = Date.now();
  const nodeFlags = (given: string | undefined) => (given === undefined ? startFlags() : given.split(/\s+/).filter(Boolean));
  const execArgv = (flags: string[]) => [...process.execArgv, '--expose-gc', ...flags, ...(args['no-profile'] ? [] : ['--cpu-prof', `--cpu-prof-dir=${dir}`])];
  const trees = [{ name: 'this tree', bench: fileURLToPath(new URL('./bench.ts', import.meta.url)), flags: nodeFlags(args.flags) }];
  // --before-flags "a|b|…": one set of flags for each --before tree in turn (the same tree may be given more than once).
  const beforeFlags = args['before-flags']?.split('|');
  if (compare)
    for (const [k, dir] of (args.before as string).split(',').entries()) {
      const flags = nodeFlags(beforeFlags ? beforeFlags[Math.min(k, beforeFlags.length - 1)] : undefined);
      const name = trees.length === 1 && !args.before?.includes(',') ? 'before' : `${dir} [${flags.join(' ') || 'no flags'}]`;
      trees.push({ name, bench: path.resolve(dir, 'scripts', 'bench.ts'), flags });
    }
  for (const tree of trees) console.log(`[profile-wrk] ${tree.name}'s server runs with ${tree.flags.join(' ') || 'no Node flags'} (MALLOC_ARENA_MAX=${startEnv().MALLOC_ARENA_MAX})`);
  const operations: readonly Operation[] = args.variables ? ['__typename', '__typename+variables', 'recommendation'] : ['__typename', 'recommendation'];
  const servers: Server[] = [];
  const scripts = mkdtempSync(path.join(os.tmpdir(), 'climbiq-wrk-'));
  try {
    for (const tree of trees) servers.push(await startServer(tree.bench, execArgv(tree.flags)));
    const shapes = variedRecommendations(Number(args.shapes));
    const script = (server: Server, body: string, file: string, rotate = false) => {
      const at = path.join(scripts, `${servers.indexOf(server)}-${file}`);
      let lua = `wrk.method = "POST"\nwrk.body = ${JSON.stringify(body)}\nwrk.headers["Content-Type"] = "application/json"\nwrk.headers["Authorization"] = "Bearer ${server.token}"\n`;
      // Each request as the next athlete, and with --shapes the next check-in (wrk -t1: one Lua state, so a plain
      // turn through each list).
      if (rotate && (server.athleteTokens.length > 1 || shapes.length > 1))
        lua +=
          `local tokens = { ${server.athleteTokens.map((t) => JSON.stringify(t)).join(', ')} }\nlocal bodies = { ${shapes.map((b) => JSON.stringify(b)).join(',\n')} }\n` +
          `local n = 0\nrequest = function()\n  n = n + 1\n  wrk.headers["Authorization"] = "Bearer " .. tokens[(n - 1) % #tokens + 1]\n  return wrk.format(nil, nil, nil, bodies[(n - 1) % #bodies + 1])\nend\n`;
      writeFileSync(at, lua);
      return at;
    };
    const bodies = servers.map(
      (server): Record<Operation, string> => ({
        recommendation: script(server, RECOMMENDATION, 'recommendation.lua', true),
        __typename: script(server, TYPENAME, 'typename.lua'),
        '__typename+variables': script(server, TYPENAME_WITH_VARIABLES, 'typename-variables.lua'),
      }),
    );
    for (const [i, server] of servers.entries()) await wrk(server.url, bodies[i].recommendation, 3); // warm-up: caches, JIT
    const windows: Window[] = [];
    /** Per tree and operation: each run's server CPU µs per request (process, API thread) and req/s. */
    type Run = { cpu: number; main: number; rps: number; kB: number; promoted: number; gc: number; majors: number; database: number; server: number; busy: BusyCores };
    const runs = trees.map((): Record<Operation, Run[]> => ({ recommendation: [], __typename: [], '__typename+variables': [] }));
    for (let round = 1; round <= rounds; round++) {
      for (const operation of operations) {
        // With --before, the two servers take turns, the first of each pair alternating by round.
        const order = servers.map((_, i) => i);
        if (round % 2 === 0) order.reverse();
        for (const i of order) {
          const server = servers[i];
          await server.request('pauses'); // resets the server's young-generation tally
          const c0 = await server.cpuMs();
          const sampled = (args.survivors || args.heap) && i === 0 && operation === 'recommendation';
          if (sampled) await server.request('heap-start', { survivors: args.survivors });
          const d0 = await server.databaseCpuMs();
          const threads0 = threadCpu(server.pid);
          const machine0 = machineCpuMs();
          const children0 = reapedChildrenMs();
          const from = monotonicMicros();
          const run = await wrk(server.url, bodies[i][operation], seconds);
          const to = monotonicMicros();
          const busy = cores(server, threads0, machine0, children0, d0, await server.databaseCpuMs(), (to - from) / 1000);
          if (sampled) {
            const { head } = (await server.request('heap-stop')).profile as { head: HeapNode };
            const what = args.survivors ? 'sampled objects that outlived a scavenge' : 'sampled allocations';
            printHeap(head, run.requests, top, `round ${round}: ${what} during the recommendation run, KB per request`, '[profile-wrk]');
          }
          const stored = await server.request('store'); // the answers' rows written: their cost is the request's
          const c1 = await server.cpuMs();
          const d1 = await server.databaseCpuMs();
          const { young, gcMinor, gcMajor } = (await server.request('pauses')) as {
            young: { allocatedBytes: number; promotedBytes: number };
            gcMinor: { n: number; totalMs: number };
            gcMajor: { n: number; totalMs: number };
          };
          const rows = (stored.rows as number) - server.written.rows;
          const inserts = (stored.inserts as number) - server.written.inserts;
          const bytes = (stored.bytes as number) - server.written.bytes;
          server.written = { rows: stored.rows as number, inserts: stored.inserts as number, bytes: stored.bytes as number };
          if (i === 0) windows.push({ operation, from, to, requests: run.requests });
          const cpu = (1000 * (c1.process - c0.process)) / run.requests;
          const main = (1000 * (c1.main - c0.main)) / run.requests;
          const kB = young.allocatedBytes / 1024 / run.requests;
          // What survived the scavenges into the old generation, and the collector's pauses (scavenges and the old
          // generation's), per request: what a request's allocations cost the collector, not only their size.
          const promoted = young.promotedBytes / 1024 / run.requests;
          const gc = (1000 * (gcMinor.totalMs + gcMajor.totalMs)) / run.requests;
          // The API isolate's collections per 10,000 requests (the PGlite worker's isolate has its own: --flags --trace-gc).
          const scavenges = (1e4 * gcMinor.n) / run.requests;
          const majors = (1e4 * gcMajor.n) / run.requests;
          // The database's CPU per request (PGlite's thread: inside the server process's; PostgreSQL's: outside it).
          const database = (1000 * cpuBetween(d0.database, d1.database)) / run.requests;
          const postgresServer = (1000 * cpuBetween(d0.server, d1.server)) / run.requests;
          runs[i][operation].push({ cpu, main, rps: run.rps, kB, promoted, gc, majors, database, server: postgresServer, busy });
          console.log(
            `[profile-wrk] round ${round}${compare ? ` ${trees[i].name}` : ''} ${operation}: ${run.rps.toFixed(0)} req/s, server CPU ${cpu.toFixed(1)} µs / request (API thread ${main.toFixed(1)}, ${kB.toFixed(1)} kB allocated in its young generation, ${promoted.toFixed(2)} kB promoted, GC pauses ${gc.toFixed(1)} µs, ${scavenges.toFixed(0)} scavenges and ${majors.toFixed(1)} major GCs per 10,000 requests; ${args.postgres ? `PostgreSQL: its backends ${database.toFixed(1)} µs, all its processes ${postgresServer.toFixed(1)}` : `PGlite's thread ${database.toFixed(1)} µs`})${args['no-profile'] ? '' : ' (profiled)'}${rows ? `, ${(rows / Math.max(1, inserts)).toFixed(1)} rows per INSERT, ${(bytes / rows).toFixed(0)} bytes of JSON a row, the database's CPU per stored row (the requests' reads included) ${((database * run.requests) / rows).toFixed(1)} µs` : ''}`,
          );
          console.log(`[profile-wrk]   cores busy during that run (the machine has ${os.cpus().length}): ${busy.line}`);
        }
      }
    }
    // Which resource the runs saturated: each part's busy cores, medians over the rounds, per tree and operation.
    for (const [i, tree] of trees.entries())
      for (const operation of operations) {
        const r = runs[i][operation];
        // Busy cores, and beside them the same CPU time per request (µs: cores / req/s), which the load moves less.
        const m = (pick: (x: BusyCores) => number) => `${median(r.map((x) => pick(x.busy))).toFixed(2)} (${median(r.map((x) => (1e6 * pick(x.busy)) / x.rps)).toFixed(0)} µs)`;
        console.log(
          `[profile-wrk] ${tree.name} ${operation}: busy cores (µs a request), medians over ${rounds} rounds: API thread ${m((x) => x.api)} + ${median(r.map((x) => x.busy.apiWaiting)).toFixed(2)} waiting for a CPU, PGlite's thread ${m((x) => x.pglite)} + ${median(r.map((x) => x.busy.pgliteWaiting)).toFixed(2)} waiting, the process's other threads ${m((x) => x.rest)}, wrk ${m((x) => x.wrk)}, PostgreSQL ${m((x) => x.postgres)}; the machine ${m((x) => x.machine)} of ${os.cpus().length}, not these ${m((x) => x.others)}`,
        );
      }
    if (compare || args.variables) {
      for (const [i, tree] of trees.entries()) {
        const r = runs[i];
        const cpuRatios = r.recommendation.map((x, k) => r.__typename[k].cpu / x.cpu);
        const rpsRatios = r.recommendation.map((x, k) => x.rps / r.__typename[k].rps);
        const v = r['__typename+variables'];
        if (v.length)
          console.log(
            `[profile-wrk] ${tree.name}: medians over ${rounds} rounds: __typename with the variables ${median(v.map((x) => x.cpu)).toFixed(1)} µs (API thread ${median(v.map((x) => x.main)).toFixed(1)}, ${median(v.map((x) => x.kB)).toFixed(1)} kB young); API thread above __typename ${median(v.map((x, k) => x.main - r.__typename[k].main)).toFixed(1)} µs, req/s ratio ${(100 * median(v.map((x, k) => x.rps / r.__typename[k].rps))).toFixed(0)} %`,
          );
        console.log(
          `[profile-wrk] ${tree.name}: medians over ${rounds} rounds: recommendation ${median(r.recommendation.map((x) => x.cpu)).toFixed(1)} µs (API thread ${median(r.recommendation.map((x) => x.main)).toFixed(1)}, ${median(r.recommendation.map((x) => x.kB)).toFixed(1)} kB young, ${median(r.recommendation.map((x) => x.promoted)).toFixed(2)} kB promoted, GC ${median(r.recommendation.map((x) => x.gc)).toFixed(1)} µs, ${median(r.recommendation.map((x) => x.majors)).toFixed(1)} major GCs / 10k, the database ${median(r.recommendation.map((x) => x.database)).toFixed(1)} µs${args.postgres ? `, all of PostgreSQL ${median(r.recommendation.map((x) => x.server)).toFixed(1)} µs` : ''}), __typename ${median(r.__typename.map((x) => x.cpu)).toFixed(1)} µs (${median(r.__typename.map((x) => x.main)).toFixed(1)}, ${median(r.__typename.map((x) => x.kB)).toFixed(1)} kB, ${median(r.__typename.map((x) => x.promoted)).toFixed(2)} kB promoted, GC ${median(r.__typename.map((x) => x.gc)).toFixed(1)} µs, the database ${median(r.__typename.map((x) => x.database)).toFixed(1)} µs); API thread above __typename ${median(r.recommendation.map((x, k) => x.main - r.__typename[k].main)).toFixed(1)} µs; CPU ratio __typename / recommendation ${(100 * median(cpuRatios)).toFixed(0)} %, req/s ratio ${(100 * median(rpsRatios)).toFixed(0)} %`,
        );
      }
    }
    for (const server of servers) await server.finished();
    if (args['no-profile']) return;
    // One profile per thread (CPU.<date>.<time>.<pid>.<thread>.<n>.cpuprofile: the API's, thread 0, and PGlite's when it
    // runs on a thread of its own), each read over
    // the same wrk windows: `recommendation` against `{ __typename }`, and with --variables the variables' run too.
    const pairs: [Operation, Operation][] = args.variables
      ? [
          ['recommendation', '__typename'],
          ['__typename+variables', '__typename'],
        ]
      : [['recommendation', '__typename']];
    for (const { file, thread, profile } of readProfiles(dir)) {
      for (const [a, b] of pairs) {
        const rec = perRequest(
          profile,
          windows.filter((w) => w.operation === a),
        );
        const floor = perRequest(
          profile,
          windows.filter((w) => w.operation === b),
        );
        if (rec.busy + floor.busy < 1) continue; // a thread idle during wrk (the fit's worker)
        console.log(
          `\n[profile-wrk] ${args.postgres ? 'PostgreSQL' : 'embedded PGlite'}, ${thread === 0 ? "the API's thread" : `thread ${thread}`} (${file}); busy samples per request: ${a} ${rec.busy.toFixed(1)} µs (${rec.requests} requests), ${b} ${floor.busy.toFixed(1)} µs (${floor.requests}), difference ${(rec.busy - floor.busy).toFixed(1)} µs`,
        );
        for (const kind of ['self', 'inclusive'] as const) {
          const keys = new Set([...rec[kind].keys(), ...floor[kind].keys()]);
          const rows = [...keys].map((k) => ({ k, a: rec[kind].get(k) ?? 0, b: floor[kind].get(k) ?? 0 })).sort((x, y) => y.a - y.b - (x.a - x.b));
          console.log(`\n${kind} µs / request: ${a}, ${b}, difference (largest differences first)`);
          for (const { k, a, b } of rows.slice(0, top)) console.log(`${a.toFixed(1).padStart(8)} ${b.toFixed(1).padStart(8)} ${(a - b).toFixed(1).padStart(8)}  ${k}`);
        }
      }
    }
    console.log(`\n[profile-wrk] ${((Date.now() - started) / 1000).toFixed(0)} s`);
  } finally {
    for (const server of servers) await server.stop();
    rmSync(scripts, { recursive: true, force: true });
  }
}

await main();
process.exit(0);
