// Where the server's CPU goes per stream in bench-floor's burst (issue 19 §2), beside the floor's: the floor
// (scripts/floor-server.ts) and ClimbIQ's server (scripts/bench.ts's child) both run under `--cpu-prof` while the
// same client makes `--subscribers` graphql-ws connections (one athlete each) subscribe in the same tick, rounds
// alternated as bench-floor alternates them. Each profile's samples are read over the burst windows only (not the
// seeding, the nightly fit or the warm-up), so every function gets its CPU µs per stream in each server.
//
//   npx tsx scripts/profile-burst.ts [--postgres postgresql://postgres@127.0.0.1:55432/postgres] [--subscribers 1000]
//       [--rounds 3] [--top 40] [--dir /tmp/climbiq-burst-profile] [--no-profile] [--heap] [--survivors] [--timeline]
//
// --heap: instead of the CPU profiles, V8's sampling heap profiler in ClimbIQ's server over its burst rounds (objects
// the scavenges collected included): bytes allocated per stream by the function that allocated them, and by the
// first of the server's own functions (src/) on the stack.
// --survivors: the same, keeping only the objects no scavenge freed: what the streams of a burst hold while they wait
// (every scavenge of the burst copies it, and the second promotes it).
// --timeline: both servers preload scripts/lib/burst-trace.ts, and each round prints the order of work
// on each server's thread: per event-loop iteration the subscribe messages read, first and later events sent, the
// collections, and what ran between the last subscribe message's arrival and the last first event. With the CPU
// profiles (no --no-profile), the profiles are also read over each round's reading span alone (first subscribe
// message read -> last first event sent): each server's CPU per stream up to its first event, by function.
// --no-profile: no profiler, only each round's server CPU µs per stream (user + system of each process, the rows'
// writes included) and the p99s: an A/B of two trees, run from each, alternated. Each round also counts the streams
// whose DONE reached the client before the burst's last first event (later phases run ahead of a first event).
//
// Self time: samples in the function itself; inclusive: with everything it called (async continuations count where
// they resume). Library functions (graphql-ws, ws, Yoga, graphql-js) carry the same names in both profiles, so their
// rows read side by side; times are the profiler's (sampling adds its own overhead), read them against each other.
import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createDatabase, dropDatabase, OPERATOR, percentile, STREAM } from './lib/benchmarking.ts';
import { BENCH_SECRET, cpuMs, forkChild, openClients, timedSubscription } from './lib/bench-child.ts';
import { startFlags } from './lib/start-flags.ts';
import { cpuPerUnit, monotonicMicros, readProfiles, type TimeWindow } from './lib/cpu-profile.ts';
import { type HeapNode, printHeap } from './lib/heap-profile.ts';
import { printBurst, readingSpan, readTrace, type Window } from './lib/burst-timeline.ts';

const { values: args } = parseArgs({
  options: {
    postgres: { type: 'string' },
    subscribers: { type: 'string', default: '1000' },
    rounds: { type: 'string', default: '3' },
    top: { type: 'string', default: '40' },
    dir: { type: 'string' },
    'no-profile': { type: 'boolean', default: false },
    heap: { type: 'boolean', default: false },
    survivors: { type: 'boolean', default: false },
    timeline: { type: 'boolean', default: false },
  },
});

const p99 = (xs: number[]) =>
  percentile(
    [...xs].sort((a, b) => a - b),
    99,
  );

async function main(): Promise<void> {
  const subscribers = Number(args.subscribers);
  const rounds = Number(args.rounds);
  const top = Number(args.top);
  const heap = args.heap || args.survivors;
  const timeline = args.timeline;
  const profile = !args['no-profile'] && !heap;
  const dir = args.dir ?? mkdtempSync(path.join(os.tmpdir(), 'climbiq-burst-profile-'));
  const floorDir = path.join(dir, 'floor');
  const serverDir = path.join(dir, 'server');
  mkdirSync(floorDir, { recursive: true });
  mkdirSync(serverDir, { recursive: true });
  const databaseUrl = args.postgres ? await createDatabase(args.postgres) : null;
  const traced = timeline ? ['--import', fileURLToPath(new URL('./lib/burst-trace.ts', import.meta.url))] : [];
  const traces = { floor: path.join(floorDir, 'trace.json'), server: path.join(serverDir, 'trace.json') };
  if (timeline) process.env.BURST_TRACE = traces.floor;
  const floor = await forkChild(new URL('./floor-server.ts', import.meta.url), [], [...traced, ...(profile ? ['--cpu-prof', `--cpu-prof-dir=${floorDir}`] : [])]);
  if (timeline) process.env.BURST_TRACE = traces.server;
  const server = await forkChild(
    new URL('./bench.ts', import.meta.url),
    ['--serve', ...(databaseUrl ? ['--database-url', databaseUrl] : [])],
    // BENCH_CHILD_ARGS adds Node options after npm start's (e.g. --max-semi-space-size=N to override its), as in bench-floor.
    ['--expose-gc', ...startFlags(), ...(process.env.BENCH_CHILD_ARGS?.split(/\s+/).filter(Boolean) ?? []), ...traced, ...(profile ? ['--cpu-prof', `--cpu-prof-dir=${serverDir}`] : [])],
  );
  delete process.env.BURST_TRACE;
  const epochWindows = { floor: [] as Window[], server: [] as Window[] };
  const epoch = () => performance.timeOrigin + performance.now();
  try {
    const ids = Array.from({ length: subscribers }, () => randomUUID());
    await server.request('seed', { userIds: ids, sessionsPerUser: 30 });
    const { TokenService } = await import('../src/auth.ts');
    const tokens = new TokenService(BENCH_SECRET);
    const signed = await Promise.all(ids.map((sub) => tokens.sign({ sub, role: 'athlete' })));
    const floorClients = await openClients(floor.wsUrl, signed);
    const serverClients = await openClients(server.wsUrl, signed);
    const countdown = { query: 'subscription { countdown { type sequence } }' };
    const stream = { query: STREAM, variables: { input: OPERATOR } };
    for (let k = 0; k < subscribers; k += 100) {
      await Promise.all(floorClients.slice(k, k + 100).map((c) => timedSubscription(c, countdown, 'countdown')));
      await Promise.all(serverClients.slice(k, k + 100).map((c) => timedSubscription(c, stream, 'preSessionRecommendation')));
    }
    await server.request('store');
    const windows = { floor: [] as TimeWindow[], server: [] as TimeWindow[] };
    let heapHead: HeapNode | null = null;
    const cpu = { floor: 0, server: 0 };
    for (let round = 1; round <= rounds; round++) {
      await new Promise((r) => setTimeout(r, 300));
      const f0 = await cpuMs(floor);
      let from = monotonicMicros();
      let at = epoch();
      const f = await Promise.all(floorClients.map((c) => timedSubscription(c, countdown, 'countdown')));
      windows.floor.push({ from, to: monotonicMicros() });
      epochWindows.floor.push({ from: at, to: epoch() });
      const floorCpu = (await cpuMs(floor)) - f0;
      await new Promise((r) => setTimeout(r, 300));
      if (heap && round === 1) await server.request('heap-start', { survivors: args.survivors });
      const s0 = await cpuMs(server);
      from = monotonicMicros();
      at = epoch();
      const s = await Promise.all(serverClients.map((c) => timedSubscription(c, stream, 'preSessionRecommendation')));
      await server.request('store'); // the rows' writes are the streams' cost
      windows.server.push({ from, to: monotonicMicros() });
      epochWindows.server.push({ from: at, to: epoch() });
      const serverCpu = (await cpuMs(server)) - s0;
      if (heap && round === rounds) heapHead = ((await server.request('heap-stop')).profile as { head: HeapNode }).head;
      cpu.floor += floorCpu;
      cpu.server += serverCpu;
      const ratio = (a: number, b: number) => (a / b).toFixed(2);
      const ff = { first: p99(f.map((t) => t.firstMs)), last: p99(f.map((t) => t.lastMs)) };
      const sf = { first: p99(s.map((t) => t.firstMs)), last: p99(s.map((t) => t.lastMs)) };
      // Streams whose DONE arrived before the burst's last first event: later phases that ran ahead of a first event.
      const lastFirst = Math.max(...s.map((t) => t.firstMs));
      const doneAhead = s.filter((t) => t.lastMs < lastFirst).length;
      console.log(
        `[profile-burst] round ${round}: CPU µs / stream floor ${((1000 * floorCpu) / f.length).toFixed(1)}, ClimbIQ ${((1000 * serverCpu) / s.length).toFixed(1)} (${ratio(serverCpu, floorCpu)}x); ` +
          `first p99 ${sf.first.toFixed(1)} / ${ff.first.toFixed(1)} ms (${ratio(sf.first, ff.first)}x), DONE p99 ${sf.last.toFixed(1)} / last ${ff.last.toFixed(1)} ms (${ratio(sf.last, ff.last)}x); ${doneAhead} DONE before the last first event; failed ${s.filter((t) => !t.ok).length}${profile ? ' (profiled)' : ''}`,
      );
    }
    console.log(
      `[profile-burst] all rounds: CPU µs / stream floor ${((1000 * cpu.floor) / (rounds * subscribers)).toFixed(1)}, ClimbIQ ${((1000 * cpu.server) / (rounds * subscribers)).toFixed(1)} (${(cpu.server / cpu.floor).toFixed(2)}x)`,
    );
    await Promise.all([...floorClients, ...serverClients].map((c) => c.dispose()));
    await server.request('stop').catch(() => {});
    await new Promise<void>((resolve) => (server.proc.exitCode !== null ? resolve() : server.proc.once('exit', () => resolve())));
    floor.proc.kill('SIGTERM');
    await new Promise<void>((resolve) => (floor.proc.exitCode !== null ? resolve() : floor.proc.once('exit', () => resolve())));
    const streams = rounds * subscribers;
    const reading = { floor: [] as TimeWindow[], server: [] as TimeWindow[] };
    if (timeline) {
      const floorTrace = readTrace(traces.floor);
      const serverTrace = readTrace(traces.server);
      for (let round = 0; round < rounds; round++) {
        printBurst(`round ${round + 1}, floor`, floorTrace, epochWindows.floor[round], top);
        printBurst(`round ${round + 1}, ClimbIQ`, serverTrace, epochWindows.server[round], top);
        const f = readingSpan(floorTrace, epochWindows.floor[round]);
        const s = readingSpan(serverTrace, epochWindows.server[round]);
        if (f) reading.floor.push(f);
        if (s) reading.server.push(s);
      }
    }
    if (heapHead) printHeap(heapHead, streams, top, args.survivors ? "sampled objects that survived a scavenge, ClimbIQ's API thread" : undefined);
    if (!profile) return;
    const floorProfile = readProfiles(floorDir).find((p) => p.thread === 0);
    if (!floorProfile) throw new Error(`no floor profile in ${floorDir}`);
    const spans = timeline
      ? ([
          ['the whole bursts', windows],
          ['the reading spans (first subscribe read -> last first event)', reading],
        ] as const)
      : ([['the whole bursts', windows]] as const);
    for (const [spanName, w] of spans) {
      console.log(`\n[profile-burst] over ${spanName}:`);
      const fl = cpuPerUnit(floorProfile.profile, w.floor, streams);
      for (const { file, thread, profile: p } of readProfiles(serverDir)) {
        const sv = cpuPerUnit(p, w.server, streams);
        if (sv.busy < 1) continue; // a thread idle during the burst (the fit's worker)
        const against = thread === 0 ? fl : { busy: 0, self: new Map<string, number>(), inclusive: new Map<string, number>() };
        console.log(
          `\n[profile-burst] ${databaseUrl ? 'PostgreSQL' : 'embedded PGlite'}, ${thread === 0 ? "the API's thread" : `thread ${thread}`} (${file}); busy samples per stream: ClimbIQ ${sv.busy.toFixed(1)} µs, floor ${against.busy.toFixed(1)} µs`,
        );
        for (const kind of ['self', 'inclusive'] as const) {
          const keys = new Set([...sv[kind].keys(), ...against[kind].keys()]);
          const rows = [...keys].map((k) => ({ k, a: sv[kind].get(k) ?? 0, b: against[kind].get(k) ?? 0 })).sort((x, y) => y.a - y.b - (x.a - x.b));
          console.log(`\n${kind} µs / stream: ClimbIQ, floor, difference (largest differences first)`);
          for (const { k, a, b } of rows.slice(0, top)) console.log(`${a.toFixed(1).padStart(8)} ${b.toFixed(1).padStart(8)} ${(a - b).toFixed(1).padStart(8)}  ${k}`);
        }
      }
    }
  } finally {
    if (server.proc.exitCode === null) server.proc.kill('SIGTERM');
    if (floor.proc.exitCode === null) floor.proc.kill('SIGTERM');
    if (databaseUrl && args.postgres) await dropDatabase(args.postgres, databaseUrl);
  }
}

await main();
process.exit(0);
