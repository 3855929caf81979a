// What a stream keeps past its DONE, read where the machine's load cannot move it: `--streams` check-ins streamed one at a
// time (never two in flight; 100 athletes, one graphql-ws connection each, in turn) through scripts/bench.ts's server
// child with npm start's Node flags. A stream lives a few ms and a scavenge comes every ~40 streams, so what V8 promotes
// (an object must outlive two scavenges) is what outlives its stream, plus the one stream in flight at a scavenge; in
// bench-floor's steady run the same figure also counts every stream the load kept waiting.
//
//   npx tsx scripts/streams-one-at-a-time.ts --postgres postgresql://…/postgres [--streams 3000] [--survivors] [--top 25]
//       [--burst 1000 [--burst-rounds 2]]
//
// --burst N: first N athletes (one connection each) subscribe in the same tick, `--burst-rounds` times (bench-floor's
// burst; an instance's busy minute), before the uncounted streams; the streams one at a time then run over the first
// 100 of them. V8 decides whether an allocation site's objects are born in the old generation (pretenured) from how
// many of them survive a scavenge, once per site, and a burst keeps nearly all of them alive: what the steady streams
// then pretenure because of the burst shows here, where the load cannot move it.
//
// Prints KB per stream allocated in the young generation, promoted by its scavenges and allocated directly in the old
// generation (pretenured), and the major GCs over the streams; `--survivors`: the sampled objects no scavenge freed, KB
// per stream by allocating function and src/ frame (as bench-floor --survivors). SEQ_ARGS adds Node options to the
// server's (e.g. --trace-gc). 1,000 streams first, not counted (caches, JIT).
import { randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import type { Client } from 'graphql-ws';
import { TokenService } from '../src/auth.ts';
import { BENCH_SECRET, forkChild, openClients, timedSubscription } from './lib/bench-child.ts';
import { createDatabase, dropDatabase, OPERATOR, STREAM } from './lib/benchmarking.ts';
import { type HeapNode, printHeap } from './lib/heap-profile.ts';
import { startFlags } from './lib/start-flags.ts';

const { values: args } = parseArgs({
  options: {
    postgres: { type: 'string' },
    streams: { type: 'string', default: '3000' },
    survivors: { type: 'boolean', default: false },
    top: { type: 'string', default: '25' },
    burst: { type: 'string', default: '0' },
    'burst-rounds': { type: 'string', default: '2' },
  },
});
if (!args.postgres) throw new Error('--postgres postgresql://…/postgres is required');
const admin = args.postgres;
const url = await createDatabase(admin);
const server = await forkChild(
  new URL('./bench.ts', import.meta.url),
  ['--serve', '--database-url', url],
  ['--expose-gc', ...startFlags(), ...(process.env.SEQ_ARGS?.split(/\s+/).filter(Boolean) ?? [])],
);
try {
  const burst = Number(args.burst);
  const ids = Array.from({ length: Math.max(100, burst) }, () => randomUUID());
  await server.request('seed', { userIds: ids, sessionsPerUser: 30 });
  const tokens = new TokenService(BENCH_SECRET);
  const clients = await openClients(server.wsUrl, await Promise.all(ids.map((sub) => tokens.sign({ sub, role: 'athlete' }))));
  const payload = { query: STREAM, variables: { input: OPERATOR } };
  const run = async (n: number) => {
    let failed = 0;
    for (let i = 0; i < n; i++) if (!(await timedSubscription(clients[i % 100]!, payload, 'preSessionRecommendation')).ok) failed++;
    return failed;
  };
  for (let round = 0; round < (burst > 0 ? Number(args['burst-rounds']) : 0); round++) {
    const done = await Promise.all(clients.slice(0, burst).map((c) => timedSubscription(c, payload, 'preSessionRecommendation')));
    await server.request('store');
    console.log(`[streams-one-at-a-time] burst ${round + 1}: ${burst} streams at once, failed ${done.filter((t) => !t.ok).length}`);
  }
  await run(1000);
  await server.request('store');
  const n = Number(args.streams);
  await server.request('pauses'); // reset
  if (args.survivors) await server.request('heap-start', { survivors: true });
  const failed = await run(n);
  const head = args.survivors ? ((await server.request('heap-stop')).profile as { head: HeapNode }).head : null;
  await server.request('store');
  const p = await server.request('pauses');
  const y = p.young as { scavenges: number; allocatedBytes: number; promotedBytes: number; oldAllocatedBytes: number };
  const major = p.gcMajor as { n: number; totalMs: number; maxMs: number };
  const kb = (b: number) => (b / 1024 / n).toFixed(2);
  console.log(
    `[streams-one-at-a-time] ${n} streams one at a time, failed ${failed}; per stream ${kb(y.allocatedBytes)} KB allocated in the young generation, ${kb(y.promotedBytes)} KB promoted by its ${y.scavenges} scavenges, ${kb(y.oldAllocatedBytes)} KB pretenured; major GCs ${major.n} (${major.totalMs.toFixed(1)} ms, longest ${major.maxMs.toFixed(1)})`,
  );
  if (head) printHeap(head, n, Number(args.top), 'sampled objects that survived a scavenge, streams one at a time', '[streams-one-at-a-time]');
  await Promise.all(clients.map((c: Client) => c.dispose()));
} finally {
  await server.request('stop').catch(() => {});
  await dropDatabase(admin, url);
}
process.exit(0);
