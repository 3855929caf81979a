// V8's young generation and the memory the API's thread keeps (docs/operations.md "Memory and the young generation").
//
// `npm start` gives the API's thread semi-spaces of up to 8 MB (`--max-semi-space-size=8`, package.json's start script)
// and the threads it starts 4 MB: the trade between a burst's CPU and the nightly fit's peak is measured in
// docs/operations.md "Memory and the young generation" (BENCHMARKS.md step 300).
// An operator may still give the API a larger young generation (docs/operations.md); two things keep that, and any
// size, from costing memory it does not need:
// - V8 reads the flag for every isolate it creates, so the embedded database's thread and the nightly fit's worker
//   would get it too. `youngGenerationForThisThreadOnly` sets it back for the isolates created from then on.
// - Start-up (migrations, the schema, warming the caches) allocates fast, so the young generation has grown to its
//   maximum when the server is ready and the old one holds start-up's garbage, and V8 keeps both while idle.
//   `releaseUnusedMemory` runs a memory-reducing collection once start-up is done (src/main.ts). (Run again just
//   before the nightly fit's worker starts, it did not lower the fit's peak: 241-253 MB with it, 249-250 without.)
// Both use V8 flags at run time (`v8.setFlagsFromString`): Node documents it as allowed but unchecked, and each
// helper's effect is measured by bench-memory and bench-floor.
import { performance } from 'node:perf_hooks';
import v8 from 'node:v8';
import vm from 'node:vm';

/** Semi-space (MB) of the isolates created after `youngGenerationForThisThreadOnly`, and npm start's minimum for the API's. */
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
 * pages returned to the system), for when start-up is done. Synchronous: it holds the API's thread for about 30-100 ms
 * on this server's heap. Returns what it did, for the log.
 */
export function releaseUnusedMemory(): { ms: number; newSpaceMbBefore: number; newSpaceMbAfter: number; rssMbBefore: number; rssMbAfter: number } {
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
