// What a stored prediction costs the athlete, beside the floor (issue 19): the same client drives a bare Yoga +
// graphql-ws server (scripts/floor-server.ts: a trivial 5-event subscription) and ClimbIQ's server in the same run,
// and the figures are read as ratios to that floor.
//
//   npx tsx scripts/bench-floor.ts [--postgres postgresql://postgres@127.0.0.1:55432/postgres] [--no-write]
//       [--subscribers 1000] [--rounds 3] [--connections 400] [--rate 1000] [--seconds 10] [--rates 250,500,1000,1500,2000,3000]
//       [--wrk-seconds 10] [--wrk-rounds 4] [--only pglite|postgres] [--pglite-both-threads] [--survivors] [--top 30] [--timeline]
//       [--pglite-dir <parent> | --pglite-dir memory://] [--eager-client] [--snapshot <file>]
//
// 1. wrk -t1 -c10: `recommendation` (one athlete, rate limit off; every answer stored) against `{ __typename }` on
//    the same server, `--wrk-rounds` rounds, the one run first taking turns (the median of the rounds' ratios beside
//    each round: on a shared machine one round's ratio moved 57-84 % between two rounds of one run).
// 2. A synchronized burst: `--subscribers` graphql-ws connections (one athlete each) subscribe in the same tick,
//    `--rounds` warm rounds, alternating floor and ClimbIQ; first event and last event (DONE) p99.
// 3. Steady arrivals: `--rate` check-ins per second for `--seconds` over `--connections` connections (one athlete
//    each), seeded uniform arrival times; then ClimbIQ alone at each of `--rates` in turn, up to the first whose DONE
//    p99 exceeds 100 ms, to find the highest rate that stays within it (the default ladder starts below 1,000/s, so
//    a run whose 1,000/s is over still names one). The client keeps one timer: each wake starts every arrival due,
//    then sleeps until the next (`--eager-client`: the client before, every arrival's timer and promise made at the start, whose set-up
//    delayed the first 400 ms' arrivals by tens of ms). It prints how late it started the arrivals (and, with
//    --timeline, its own event-loop stalls) in the window's first 400 ms and in all of it.
//    --survivors: V8's sampling heap profiler in ClimbIQ's server over its steady run at `--rate`, keeping only the
//    objects no scavenge freed (what is promoted), printed per stream by allocating function and src/ frame (`--top`
//    rows each); the profiler's own cost is in that run's figures.
//    --timeline: what the slowest 1 % of that run's streams waited for: the API thread's stalls over 5 ms (event-loop
//    iterations a 1 ms timer could not run in), the GC pauses and a CPU profile's samples in each, matched with each
//    stream's subscribe-to-DONE interval (scripts/lib/stall-timeline.ts); the profiler's cost is in that run's figures
//    (`--timeline-sample-us 0`: no profile; default 1000; `--timeline-profile <file>`: that profile written to <file>
//    as well, a .cpuprofile for DevTools).
//    --snapshot <file>: a heap snapshot of ClimbIQ's server after that run (its answers written), for
//    scripts/heap-snapshot-summary.ts: what the old generation holds that each major collection marks.
// ClimbIQ's server is scripts/bench.ts's child (PGlite, or a fresh database on the PostgreSQL server, dropped
// afterwards), seeded with 30 completed sessions per athlete and one nightly fit. Loopback only; bounded.
// PGlite keeps its data in a fresh directory on disk, as `npm start` does (./data/pglite), under --pglite-dir's parent
// (default: the OS's temporary directory), removed afterwards; `--pglite-dir memory://` keeps it in memory instead
// (Emscripten's in-memory files, as the tests run it: their arrays grown by copying, dearer per stored row).
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs, promisify } from 'node:util';
import type { Client } from 'graphql-ws';
import { BENCHMARKS_FILE, createDatabase, dropDatabase, median, OPERATOR, percentile, STREAM, writeBlock } from './lib/benchmarking.ts';
import { BENCH_SECRET, cpuMs, forkChild, openClients, type Child, type Timed, timedSubscription } from './lib/bench-child.ts';
import { type HeapNode, printHeap } from './lib/heap-profile.ts';
import { startFlags } from './lib/start-flags.ts';
import { monotonicMs, type Timeline, tailReport } from './lib/stall-timeline.ts';

const { values: args } = parseArgs({
  options: {
    postgres: { type: 'string' },
    'no-write': { type: 'boolean', default: false },
    subscribers: { type: 'string', default: '1000' },
    rounds: { type: 'string', default: '3' },
    connections: { type: 'string', default: '400' },
    rate: { type: 'string', default: '1000' },
    seconds: { type: 'string', default: '10' },
    rates: { type: 'string', default: '250,500,1000,1500,2000,3000' },
    'wrk-seconds': { type: 'string', default: '10' },
    'wrk-rounds': { type: 'string', default: '4' },
    only: { type: 'string' },
    /** Also measure the embedded database on the API's thread (PGLITE_THREAD=false) before the default, in the same run. */
    'pglite-both-threads': { type: 'boolean', default: false },
    survivors: { type: 'boolean', default: false },
    top: { type: 'string', default: '30' },
    'pglite-dir': { type: 'string', default: os.tmpdir() },
    timeline: { type: 'boolean', default: false },
    /** --timeline's CPU profile: its sampling interval in µs (0: no profile, stalls and GC pauses only). */
    'timeline-sample-us': { type: 'string', default: '1000' },
    /** --timeline's CPU profile written to this file too (a .cpuprofile). */
    'timeline-profile': { type: 'string' },
    /** The steady client before the twelfth round: every arrival's timer and promise created at the run's start (for comparison). */
    'eager-client': { type: 'boolean', default: false },
    snapshot: { type: 'string' },
  },
});

const pgliteInMemory = args['pglite-dir'] === 'memory://';
const eagerClient = args['eager-client'];
/** Where PGlite keeps its data, as the section's title says it. */
const pgliteWhere = pgliteInMemory ? 'in memory' : 'in a data directory, as npm start';

const f1 = (x: number) => x.toFixed(1);
const f2 = (x: number) => x.toFixed(2);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const p = (xs: number[], q: number) =>
  percentile(
    [...xs].sort((a, b) => a - b),
    q,
  );

// ---------------------------------------------------------------- the two servers

/** ClimbIQ's API thread alone: its CPU time so far (user + system, ms; PGlite's own thread is not in it). */
async function mainThreadMs(child: Child): Promise<number> {
  const u = (await child.request('cpu')).mainThread as NodeJS.CpuUsage;
  return (u.user + u.system) / 1000;
}

// ---------------------------------------------------------------- the client

const COUNTDOWN = 'subscription { countdown { type sequence } }';

interface Target {
  name: 'floor' | 'ClimbIQ';
  payload: { query: string; variables?: Record<string, unknown> };
  field: string;
}

interface Figures {
  /** Every stream's times (for --timeline). */
  all: Timed[];
  n: number;
  firstP50: number;
  firstP99: number;
  lastP50: number;
  lastP99: number;
  failed: number;
}
const figures = (all: Timed[]): Figures => {
  const first = all.map((t) => t.firstMs);
  const last = all.map((t) => t.lastMs);
  return { all, n: all.length, firstP50: p(first, 50), firstP99: p(first, 99), lastP50: p(last, 50), lastP99: p(last, 99), failed: all.filter((t) => !t.ok).length };
};

/** The client's own delays over a steady run: how late each arrival was subscribed, and its event loop's stalls. */
interface ClientDelay {
  /** Each arrival's subscribe() after its scheduled moment, ms, by scheduled time. */
  late: { at: number; ms: number }[];
  /** The client's event-loop stalls over 5 ms (a 1 ms timer's gaps, with --timeline): [start, end] ms from the run's start. */
  stalls: [number, number][];
}

/** The client's delays in the window's first 400 ms and in all of it: what it adds to the streams, not the server. */
function clientDelayNote(d: ClientDelay, headMs = 400): string {
  const part = (inHead: boolean | null) => {
    const late = d.late.filter((x) => inHead === null || x.at < headMs === inHead).map((x) => x.ms);
    const stalls = d.stalls.filter(([a]) => inHead === null || a < headMs === inHead);
    const total = stalls.reduce((a, [x, y]) => a + y - x, 0);
    const longest = Math.max(0, ...stalls.map(([x, y]) => y - x));
    return `arrivals late p50 ${f1(p(late, 50))} / p99 ${f1(p(late, 99))} / max ${f1(Math.max(0, ...late))} ms${args.timeline ? `; event-loop stalls over 5 ms ${stalls.length} (${f1(total)} ms, longest ${f1(longest)})` : ''}`;
  };
  return `the client: in the first ${headMs} ms ${part(true)}; in all ${part(null)}`;
}

/**
 * `count` check-ins at seeded uniform moments of `seconds`, dealt round-robin over the connections. One timer at a
 * time: each wake starts every arrival due by then and sleeps until the next, so the client sets up nothing ahead.
 */
async function steady(clients: Client[], target: Target, rate: number, seconds: number): Promise<Figures & { client: ClientDelay }> {
  const count = Math.round(rate * seconds);
  let seed = rate * 7919 + 17;
  const rand = () => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed / 2147483648;
  };
  const offsets = Array.from({ length: count }, () => rand() * seconds * 1000);
  const stalls: [number, number][] = [];
  const t0 = performance.now();
  const t0Monotonic = monotonicMs();
  let lastTick = t0;
  // The client's event loop, watched by a 1 ms timer with --timeline only (otherwise the client does no work of its own).
  const ticker = args.timeline
    ? setInterval(() => {
        const now = performance.now();
        if (now - lastTick > 5) stalls.push([lastTick - t0, now - t0]);
        lastTick = now;
      }, 1)
    : undefined;
  const pending: Promise<Timed>[] = new Array(count);
  if (eagerClient) {
    for (const [i, offset] of offsets.entries()) {
      pending[i] = new Promise<Timed>((resolve) => {
        setTimeout(() => void timedSubscription(clients[i % clients.length], target.payload, target.field).then(resolve), Math.max(0, offset - (performance.now() - t0)));
      });
    }
  } else {
    const order = offsets.map((_, i) => i).sort((a, b) => offsets[a] - offsets[b]);
    let next = 0;
    await new Promise<void>((allStarted) => {
      const wake = () => {
        const now = performance.now() - t0;
        while (next < count && offsets[order[next]] <= now) {
          const i = order[next++];
          pending[i] = timedSubscription(clients[i % clients.length], target.payload, target.field);
        }
        if (next < count) setTimeout(wake, Math.max(0, offsets[order[next]] - (performance.now() - t0)));
        else allStarted();
      };
      wake();
    });
  }
  const all = await Promise.all(pending);
  clearInterval(ticker);
  const late = all.map((t, i) => ({ at: offsets[i], ms: t.startAt - t0Monotonic - offsets[i] })).sort((a, b) => a.at - b.at);
  return { ...figures(all), client: { late, stalls } };
}

// ---------------------------------------------------------------- wrk

const execFileAsync = promisify(execFile);

async function wrk(url: string, token: string, body: string, seconds: number): Promise<{ rps: number; requests: number; p99: string; non2xx: number }> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'bench-wrk-'));
  try {
    const script = path.join(dir, 'post.lua');
    writeFileSync(
      script,
      `wrk.method = "POST"\nwrk.body = ${JSON.stringify(body)}\nwrk.headers["Content-Type"] = "application/json"\nwrk.headers["Authorization"] = "Bearer ${token}"\n` +
        // wrk counts only HTTP errors: a GraphQL error answers 200, so count bodies carrying "errors" too.
        `local bad = 0\nresponse = function(status, headers, body) if status ~= 200 or string.find(body, '"errors"', 1, true) then bad = bad + 1 end end\n` +
        `done = function(summary, latency, requests) io.write(string.format("graphql-errors: %d\\n", bad)) end\n`,
    );
    const { stdout } = await execFileAsync('wrk', ['-t1', '-c10', `-d${seconds}s`, '--latency', '-s', script, url]);
    const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(stdout)?.[1] ?? Number.NaN);
    const requests = Number(/(\d+) requests in/.exec(stdout)?.[1] ?? Number.NaN);
    const p99 = /\s99%\s+(\S+)/.exec(stdout)?.[1] ?? '?';
    const errors = Number(/graphql-errors: (\d+)/.exec(stdout)?.[1] ?? 0) + Number(/Non-2xx or 3xx responses: (\d+)/.exec(stdout)?.[1] ?? 0);
    return { rps, requests, p99, non2xx: errors };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

interface PauseSummary {
  n: number;
  totalMs: number;
  maxMs: number;
  over10: number;
}

/** What held ClimbIQ's API thread during the steady run (scripts/bench.ts's `pauses`): where a DONE p99 comes from. */
function steadyPausesNote(p: Record<string, unknown>, streams: number): string {
  const loop = p.loop as { p50: number; p99: number; max: number };
  const minor = p.gcMinor as PauseSummary;
  const major = p.gcMajor as PauseSummary;
  const writer = p.writer as { batches: number; rows: number; jsonMs: number; maxJsonMs: number };
  const young = p.young as { scavenges: number; allocatedBytes: number; promotedBytes: number; oldAllocatedBytes: number };
  const f = (x: number) => x.toFixed(1);
  const kbPerStream = (bytes: number) => f(bytes / 1024 / Math.max(1, streams));
  return (
    `During ClimbIQ's steady run, its API thread: event-loop delay p50 ${f(loop.p50)} / p99 ${f(loop.p99)} / max ${f(loop.max)} ms; ` +
    `GC pauses: ${minor.n} minor (${f(minor.totalMs)} ms in all, longest ${f(minor.maxMs)} ms, ${minor.over10} over 10 ms), ` +
    `${major.n} major or incremental (${f(major.totalMs)} ms, longest ${f(major.maxMs)} ms, ${major.over10} over 10 ms); ` +
    `the writer: ${writer.rows} rows in ${writer.batches} batches, their JSON ${f(writer.jsonMs)} ms in all (longest ${f(writer.maxJsonMs)} ms); ` +
    `per stream, ${kbPerStream(young.allocatedBytes)} KB allocated in the young generation and ${kbPerStream(young.promotedBytes)} KB promoted by its ${young.scavenges} scavenges, ${kbPerStream(young.oldAllocatedBytes)} KB allocated directly in the old generation (pretenured).`
  );
}

// ---------------------------------------------------------------- one database

async function run(label: string, databaseUrl: string | null, floor: Child, serverArgs: string[] = []): Promise<string[]> {
  const subscribers = Number(args.subscribers);
  const rounds = Number(args.rounds);
  const connections = Number(args.connections);
  const rate = Number(args.rate);
  const seconds = Number(args.seconds);
  console.log(`[bench-floor] ${label}: starting ClimbIQ's server (scripts/bench.ts child) ...`);
  // ClimbIQ's server runs with npm start's Node flags (package.json's start script, e.g. its young generation), so
  // the figures are those of the server as the README starts it; BENCH_CHILD_ARGS adds Node options after them
  // (e.g. --cpu-prof, or --max-semi-space-size=N to override npm start's), as in bench-nightly-streams.
  const childArgs = [...startFlags(), ...(process.env.BENCH_CHILD_ARGS?.split(/\s+/).filter(Boolean) ?? [])];
  console.log(`[bench-floor] ${label}: ClimbIQ's server runs with ${childArgs.join(' ')}`);
  // A fresh PGlite directory of its own (npm start's ./data/pglite), removed once the server has exited.
  const dataParent = !databaseUrl && !pgliteInMemory ? mkdtempSync(path.join(args['pglite-dir'], 'bench-floor-')) : null;
  const pgliteDir = databaseUrl ? [] : ['--pglite-dir', dataParent ? path.join(dataParent, 'pglite') : 'memory://'];
  const server = await forkChild(
    new URL('./bench.ts', import.meta.url),
    ['--serve', ...(databaseUrl ? ['--database-url', databaseUrl] : []), ...pgliteDir, ...serverArgs],
    ['--expose-gc', ...childArgs],
  );
  try {
    const { TokenService } = await import('../src/auth.ts');
    const tokens = new TokenService(BENCH_SECRET);
    const ids = Array.from({ length: subscribers + 1 }, () => randomUUID());
    const seeded = await server.request('seed', { userIds: ids, sessionsPerUser: 30 });
    console.log(`[bench-floor] seeded ${seeded.sessions} sessions, nightly fit ${seeded.fitStatus}`);
    const signed = await Promise.all(ids.map((sub) => tokens.sign({ sub, role: 'athlete' })));
    const wrkToken = signed.pop()!;

    const climbiq: Target = { name: 'ClimbIQ', payload: { query: STREAM, variables: { input: OPERATOR } }, field: 'preSessionRecommendation' };
    const trivial: Target = { name: 'floor', payload: { query: COUNTDOWN }, field: 'countdown' };
    const floorClients = await openClients(floor.wsUrl, signed);
    const serverClients = await openClients(server.wsUrl, signed);
    const burst = (clients: Client[], target: Target) => Promise.all(clients.map((c) => timedSubscription(c, target.payload, target.field)));

    // Warm-up: every connection once on each server (caches, JIT), 100 at a time, not timed.
    for (let k = 0; k < subscribers; k += 100) {
      await Promise.all(floorClients.slice(k, k + 100).map((c) => timedSubscription(c, trivial.payload, trivial.field)));
      await Promise.all(serverClients.slice(k, k + 100).map((c) => timedSubscription(c, climbiq.payload, climbiq.field)));
    }
    await server.request('store');

    // 2. The burst, alternating floor and ClimbIQ round by round.
    const floorBurst: Timed[] = [];
    const serverBurst: Timed[] = [];
    const cpu = { floorBurst: 0, serverBurst: 0, floorSteady: 0, serverSteady: 0, serverBurstMain: 0, serverSteadyMain: 0 };
    const burstRounds: string[] = [];
    for (let round = 0; round < rounds; round++) {
      await sleep(300);
      const fc0 = await cpuMs(floor);
      const f = await burst(floorClients, trivial);
      cpu.floorBurst += (await cpuMs(floor)) - fc0;
      await sleep(300);
      const sc0 = await cpuMs(server);
      const sm0 = await mainThreadMs(server);
      const s = await burst(serverClients, climbiq);
      await server.request('store');
      cpu.serverBurstMain += (await mainThreadMs(server)) - sm0;
      cpu.serverBurst += (await cpuMs(server)) - sc0;
      floorBurst.push(...f);
      serverBurst.push(...s);
      const ff = figures(f);
      const sf = figures(s);
      burstRounds.push(`${f1(sf.firstP99 / ff.firstP99)}x / ${f2(sf.lastP99 / ff.lastP99)}x`);
      console.log(
        `[bench-floor] burst round ${round + 1}: floor first p99 ${f1(ff.firstP99)} last p99 ${f1(ff.lastP99)}; ClimbIQ first p99 ${f1(sf.firstP99)} DONE p99 ${f1(sf.lastP99)} ms (failed ${sf.failed})`,
      );
    }
    const fb = figures(floorBurst);
    const sb = figures(serverBurst);

    // 3. Steady arrivals over `connections` connections: the floor, then ClimbIQ at the same rate, then ClimbIQ's ladder.
    // `pauses` resets the server's GC records here too: its first call returns V8's GCProfiler's records of every
    // collection since the server started (about 700 with 400 subscribers; a standalone check: 513 records took 24 ms
    // and left 5 MB of objects), which, made just before ClimbIQ's steady window, grew its young generation back and
    // brought its old generation near the limit that starts a mark-compact in the window's first 400 ms. Made here,
    // before the floor's run, the second call covers only the floor's 10 s.
    await server.request('pauses');
    await sleep(500);
    const fc0 = await cpuMs(floor);
    const fs = await steady(floorClients.slice(0, connections), trivial, rate, seconds);
    cpu.floorSteady = (await cpuMs(floor)) - fc0;
    console.log(`[bench-floor] steady ${rate}/s floor: first p99 ${f1(fs.firstP99)} last p50 ${f1(fs.lastP50)} p99 ${f1(fs.lastP99)} ms; ${clientDelayNote(fs.client)}`);
    await sleep(500);
    const sc0 = await cpuMs(server);
    const sm0 = await mainThreadMs(server);
    await server.request('pauses'); // reset: the steady run's own event-loop delay, GC pauses and writes below
    if (args.survivors) await server.request('heap-start', { survivors: true });
    if (args.timeline) await server.request('timeline-start', { sampleUs: Number(args['timeline-sample-us']), profileFile: args['timeline-profile'] });
    const ss = await steady(serverClients.slice(0, connections), climbiq, rate, seconds);
    if (args.timeline) {
      const { timeline } = (await server.request('timeline-stop')) as unknown as { timeline: Timeline };
      for (const line of tailReport(ss.all, timeline, '[bench-floor] timeline:')) console.log(line);
    }
    if (args.survivors) {
      const { head } = (await server.request('heap-stop')).profile as { head: HeapNode };
      printHeap(head, ss.n, Number(args.top), `${label}: sampled objects that survived a scavenge during the steady run`, '[bench-floor]');
    }
    await server.request('store');
    const pauses = await server.request('pauses');
    cpu.serverSteadyMain = (await mainThreadMs(server)) - sm0;
    cpu.serverSteady = (await cpuMs(server)) - sc0;
    // After the CPU readings: writing it holds the server's thread for seconds.
    if (args.snapshot) console.log(`[bench-floor] heap snapshot after ClimbIQ's steady run: ${(await server.request('heap-snapshot', { file: args.snapshot })).file}`);
    console.log(`[bench-floor] steady ${rate}/s ClimbIQ: first p99 ${f1(ss.firstP99)} DONE p50 ${f1(ss.lastP50)} p99 ${f1(ss.lastP99)} ms, failed ${ss.failed}; ${clientDelayNote(ss.client)}`);
    const pausesNote = steadyPausesNote(pauses, rate * seconds);
    console.log(`[bench-floor] ${pausesNote}`);
    const ladder: { rate: number; f: Figures }[] = [];
    for (const r of String(args.rates)
      .split(',')
      .map(Number)
      .filter((x) => x > 0)) {
      await sleep(500);
      const f = r === rate ? ss : await steady(serverClients.slice(0, connections), climbiq, r, Math.min(seconds, 5));
      await server.request('store');
      ladder.push({ rate: r, f });
      console.log(`[bench-floor] ladder ${r}/s: DONE p99 ${f1(f.lastP99)} ms, failed ${f.failed}`);
      if (f.lastP99 > 100 || f.failed > 0) break;
    }
    // The highest rate that held, whatever order --rates gave them in.
    const sustained = ladder
      .filter((l) => l.f.lastP99 <= 100 && l.f.failed === 0)
      .sort((a, b) => a.rate - b.rate)
      .at(-1);
    await Promise.all([...floorClients, ...serverClients].map((c) => c.dispose()));

    // 1. wrk, alternating.
    const wrkSeconds = Number(args['wrk-seconds']);
    const wrkRounds = Number(args['wrk-rounds']);
    if (!Number.isInteger(wrkRounds) || wrkRounds < 1) throw new Error(`--wrk-rounds must be a whole number >= 1 (got ${args['wrk-rounds']})`);
    const rec = JSON.stringify({
      query: `query($input: PreSessionInput!) { recommendation(input: $input) { id source sessionType prediction { expectedQuality interval { low high } } suggestions { message } warnings { rule message } } }`,
      variables: { input: OPERATOR },
    });
    const typename = JSON.stringify({ query: '{ __typename }' });
    await wrk(server.url, wrkToken, rec, 2); // warm-up
    const wrkRows: { rec: number; typename: number; recErrors: number; recP99: string; typenameP99: string; recCpu: number; typenameCpu: number }[] = [];
    // Each operation timed with the server's CPU time around it (the stored rows' write included for `recommendation`).
    const timed = async (body: string, store: boolean) => {
      const c0 = await cpuMs(server);
      const result = await wrk(server.url, wrkToken, body, wrkSeconds);
      if (store) await server.request('store');
      return { ...result, cpu: (1000 * ((await cpuMs(server)) - c0)) / result.requests };
    };
    for (let i = 0; i < wrkRounds; i++) {
      // The operation run first takes turns, so what the machine does over a pair of runs falls on both alike.
      const first = i % 2 === 0 ? await timed(typename, false) : null;
      const r = await timed(rec, true);
      const t = first ?? (await timed(typename, false));
      // The server's CPU time per request (µs): its ratio is the throughput ratio a server with a core of its own
      // would reach, which the machine's load moves far less than req/s.
      wrkRows.push({ rec: r.rps, typename: t.rps, recErrors: r.non2xx, recP99: r.p99, typenameP99: t.p99, recCpu: r.cpu, typenameCpu: t.cpu });
      const w = wrkRows.at(-1)!;
      console.log(
        `[bench-floor] wrk: recommendation ${f1(r.rps)} req/s vs __typename ${f1(t.rps)} req/s (${((100 * r.rps) / t.rps).toFixed(0)} %), server CPU ${f1(w.recCpu)} vs ${f1(w.typenameCpu)} µs/request (${((100 * w.typenameCpu) / w.recCpu).toFixed(0)} %), errors ${r.non2xx}`,
      );
    }
    const store = await server.request('store');

    const ratio = (a: number, b: number) => `${f2(a / b)}x`;
    const perStream = (ms: number, n: number) => (1000 * ms) / Math.max(1, n);
    const cpuNote =
      `Server CPU time per stream (user + system of the server process around the measurement, µs; the load of the machine moves it far less than latency): ` +
      `burst floor ${f1(perStream(cpu.floorBurst, fb.n))}, ClimbIQ ${f1(perStream(cpu.serverBurst, sb.n))} (**${ratio(cpu.serverBurst, cpu.floorBurst)}**); ` +
      `steady floor ${f1(perStream(cpu.floorSteady, fs.n))}, ClimbIQ ${f1(perStream(cpu.serverSteady, ss.n))} (**${ratio(cpu.serverSteady, cpu.floorSteady)}**). ` +
      `Of it, ClimbIQ's API thread (its own CPU time, process.threadCpuUsage; an embedded PGlite on its own thread is not in it): ` +
      `burst ${f1(perStream(cpu.serverBurstMain, sb.n))}, steady ${f1(perStream(cpu.serverSteadyMain, ss.n))} µs per stream.`;
    console.log(`[bench-floor] ${cpuNote}`);
    const storedNote = `${(store.rows as number).toLocaleString('en')} recommendations stored by this server in ${(store.batches as number).toLocaleString('en')} batches (${(store.inserts as number).toLocaleString('en')} INSERT statements, ${((store.bytes as number) / Math.max(1, store.rows as number)).toFixed(0)} bytes of JSON and ${f1((1000 * (store.writeMs as number)) / Math.max(1, store.rows as number))} µs of write wait per row).`;
    return [
      `### ${label}`,
      '',
      `wrk \`-t1 -c10 -d${wrkSeconds}s\` on ClimbIQ's server, one athlete's token, alternated (each answer stored):`,
      '',
      '| Round | `recommendation` req/s (p99) | `{ __typename }` req/s (p99) | Ratio (target >= 80 %) | Server CPU µs / request: `recommendation`, `{ __typename }` (their ratio) | Errors |',
      '|---:|---:|---:|---:|---:|---:|',
      ...wrkRows.map(
        (w, i) =>
          `| ${i + 1} | ${f1(w.rec)} (${w.recP99}) | ${f1(w.typename)} (${w.typenameP99}) | **${((100 * w.rec) / w.typename).toFixed(0)} %** | ${f1(w.recCpu)}, ${f1(w.typenameCpu)} (${((100 * w.typenameCpu) / w.recCpu).toFixed(0)} %) | ${w.recErrors} |`,
      ),
      `| median | | | **${median(wrkRows.map((w) => (100 * w.rec) / w.typename)).toFixed(0)} %** | (${median(wrkRows.map((w) => (100 * w.typenameCpu) / w.recCpu)).toFixed(0)} %) | |`,
      '',
      `Burst: ${subscribers.toLocaleString('en')} graphql-ws connections (one athlete each) subscribing in the same tick, ${rounds} warm rounds each, floor and ClimbIQ alternated (ms; ClimbIQ's last event is DONE):`,
      '',
      '| Server | Streams | First p50 | First p99 | Last p50 | Last p99 | Failed |',
      '|---|---:|---:|---:|---:|---:|---:|',
      `| floor (bare Yoga + graphql-ws, 5 events) | ${fb.n} | ${f1(fb.firstP50)} | ${f1(fb.firstP99)} | ${f1(fb.lastP50)} | ${f1(fb.lastP99)} | ${fb.failed} |`,
      `| ClimbIQ | ${sb.n} | ${f1(sb.firstP50)} | ${f1(sb.firstP99)} | ${f1(sb.lastP50)} | ${f1(sb.lastP99)} | ${sb.failed} |`,
      `| **ratio** (targets: first <= 1.1x, DONE <= 1.5x the floor's last) | | | **${ratio(sb.firstP99, fb.firstP99)}** | | **${ratio(sb.lastP99, fb.lastP99)}** | |`,
      '',
      `Per round (first p99 ratio / DONE p99 ratio): ${burstRounds.join(', ')}.`,
      '',
      `Steady arrivals: ${rate.toLocaleString('en')} check-ins/s for ${seconds} s over ${connections} connections (one athlete each), seeded uniform moments:`,
      '',
      '| Server | Streams | First p99 | Last p50 | Last p99 | Failed |',
      '|---|---:|---:|---:|---:|---:|',
      `| floor | ${fs.n} | ${f1(fs.firstP99)} | ${f1(fs.lastP50)} | ${f1(fs.lastP99)} | ${fs.failed} |`,
      `| ClimbIQ | ${ss.n} | ${f1(ss.firstP99)} | ${f1(ss.lastP50)} | **${f1(ss.lastP99)}** | ${ss.failed} |`,
      '',
      `ClimbIQ at rising rates (${Math.min(seconds, 5)} s each; the ${rate.toLocaleString('en')}/s row is the ${seconds} s run above): ${ladder.map((l) => `${l.rate}/s DONE p99 ${f1(l.f.lastP99)} ms${l.f.failed ? ` (${l.f.failed} failed)` : ''}`).join('; ')}. ` +
        (sustained ? `Highest rate measured with DONE p99 <= 100 ms: **${sustained.rate.toLocaleString('en')}/s**.` : 'No rate measured kept DONE p99 within 100 ms.'),
      '',
      cpuNote,
      '',
      pausesNote,
      '',
      storedNote,
    ];
  } finally {
    const exited = new Promise((resolve) => (server.proc.exitCode === null ? server.proc.once('exit', resolve) : resolve(null)));
    await server.request('stop').catch(() => {});
    if (dataParent) {
      await exited;
      rmSync(dataParent, { recursive: true, force: true });
    }
  }
}

async function main(): Promise<void> {
  const started = Date.now();
  const cpus = os.cpus();
  const postgres = args.postgres ?? (process.env.BENCH_DATABASE_URL || null);
  const lines = [
    '## What storing costs the athlete, beside the floor (issue 19)',
    '',
    `Command: \`${process.env.BENCH_DATABASE_URL && !args.postgres ? 'BENCH_DATABASE_URL=postgresql://... ' : ''}npx tsx scripts/bench-floor.ts${process.argv.length > 2 ? ` ${process.argv.slice(2).join(' ')}` : ''}\` (part of \`npm run bench\`)`,
    '',
    `Machine: ${cpus[0]?.model.trim() ?? 'unknown CPU'}, ${cpus.length} cores; Node ${process.version}; run ${new Date().toISOString().slice(0, 16)}Z, load average at the start ${os
      .loadavg()
      .map((x) => x.toFixed(1))
      .join(' / ')}. The floor is scripts/floor-server.ts (bare Yoga + graphql-ws, a trivial 5-event subscription), driven by the same client in the same run.`,
    '',
  ];
  const floor = await forkChild(new URL('./floor-server.ts', import.meta.url), []);
  try {
    if (args.only !== 'postgres' && args['pglite-both-threads']) {
      lines.push(...(await run(`Embedded PGlite (${pgliteWhere}) on the API's thread (PGLITE_THREAD=false)`, null, floor, ['--pglite-thread', 'false'])), '');
    }
    if (args.only !== 'postgres') lines.push(...(await run(`Embedded PGlite (${pgliteWhere}) on its own thread (PGLITE_THREAD, the default)`, null, floor)), '');
    if (postgres && args.only !== 'pglite') {
      const url = await createDatabase(postgres);
      try {
        lines.push(...(await run('PostgreSQL 15 server on the same machine', url, floor)), '');
      } finally {
        await dropDatabase(postgres, url);
      }
    }
  } finally {
    floor.proc.kill('SIGTERM');
  }
  lines.push(
    `Load average at the end ${os
      .loadavg()
      .map((x) => x.toFixed(1))
      .join(' / ')}; total ${f1((Date.now() - started) / 1000)} s.`,
  );
  const report = lines.join('\n');
  console.log(`\n${report}`);
  if (!args['no-write']) writeBlock(BENCHMARKS_FILE, 'floor', report);
}

await main();
process.exit(0);
