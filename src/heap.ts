// V8's young generation, sized for the API's thread alone (docs/operations.md "Memory and the young generation").
//
// `npm start` gives the process a large young generation (`--max-semi-space-size`, package.json's start script): at
// 1,000 check-ins/s a stream's objects then die before a scavenge would promote them, and the old generation does not
// fill with them (with 4 MB semi-spaces, 12 KB a stream was promoted and the major collections that followed held
// the API's thread for up to 50 ms; BENCHMARKS.md "Issue 19 §3: the steady tail as `npm start` runs the server").
// Two things would make that young generation cost memory it does not need:
// - V8 reads the flag for every isolate it creates, so the embedded database's thread and the nightly fit's worker
//   would get it too. `youngGenerationForThisThreadOnly` sets it back for the isolates created from then on.
// - Start-up (migrations, the schema, warming the caches) allocates fast, so the young generation has grown to its
//   maximum when the server is ready, and V8 keeps it while idle. `releaseStartupMemory` runs a memory-reducing
//   collection then, which shrinks it to its minimum; it grows again with the load (within a few scavenges).
// Both use V8 flags at run time (`v8.setFlagsFromString`): Node documents it as allowed but unchecked, and each
// helper's effect is measured by bench-memory and bench-floor.
import { performance } from 'node:perf_hooks';
import v8 from 'node:v8';
import vm from 'node:vm';

/** Semi-space (MB) of the isolates created after `youngGenerationForThisThreadOnly`: what every thread had before. */
export const WORKER_SEMI_SPACE_MB = 4;

/**
 * The young generation size given on the command line applies to this (the main) thread only: threads started from
 * now on (PGlite's, the fit's worker) get semi-spaces of WORKER_SEMI_SPACE_MB. Call it before starting any worker.
 */
export function youngGenerationForThisThreadOnly(): void {
  v8.setFlagsFromString(`--max-semi-space-size=${WORKER_SEMI_SPACE_MB}`);
}

/** V8's `gc()` with its options (type, flavor), taken without exposing it to the application's own context. */
type GcFunction = (options: { type: 'major'; execution: 'sync'; flavor: 'last-resort' }) => void;

function newSpaceBytes(): number {
  return v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space')?.space_size ?? 0;
}

/**
 * A memory-reducing full collection (V8's "last resort" flavor: the young generation shrunk to its minimum, free
 * pages returned to the system), for when start-up is done. Synchronous; about 30-100 ms on this server's heap.
 * Returns what it did, for the start-up log.
 */
export function releaseStartupMemory(): { ms: number; newSpaceMbBefore: number; newSpaceMbAfter: number; rssMbBefore: number; rssMbAfter: number } {
  const mb = (bytes: number) => Math.round(bytes / 1048576);
  const started = performance.now();
  const newSpaceBefore = newSpaceBytes();
  const rssBefore = process.memoryUsage.rss();
  // `--expose-gc` for one new context only: the gc function of that context, and the flag off again at once.
  v8.setFlagsFromString('--expose-gc');
  const gc = vm.runInNewContext('gc') as GcFunction;
  v8.setFlagsFromString('--no-expose-gc');
  gc({ type: 'major', execution: 'sync', flavor: 'last-resort' });
  return {
    ms: Math.round(performance.now() - started),
    newSpaceMbBefore: mb(newSpaceBefore),
    newSpaceMbAfter: mb(newSpaceBytes()),
    rssMbBefore: mb(rssBefore),
    rssMbAfter: mb(process.memoryUsage.rss()),
  };
}
