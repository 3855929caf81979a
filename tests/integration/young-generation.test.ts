// V8's young generation (src/heap.ts): npm start gives the API thread larger semi-spaces than the threads it starts
// (BENCHMARKS.md step 300), and an operator may give it larger still (docs/operations.md). Either size is the API
// thread's alone (a worker thread started afterwards, as PGlite's and the fit's are, gets WORKER_SEMI_SPACE_MB), and the
// memory-reducing collection after start-up shrinks the grown young generation to npm start's minimum
// (--min-semi-space-size, not below) and returns its pages (RSS). A real process; each thread allocates until its young
// generation is at its maximum.
import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { startFlags } from '../../scripts/lib/start-flags.ts';
import { WORKER_SEMI_SPACE_MB } from '../../src/heap.ts';
import { moduleImport } from '../support/processes.ts';

interface Report {
  mainNewSpaceMb: number;
  workerNewSpaceMb: number;
  released: { newSpaceMbBefore: number; newSpaceMbAfter: number; rssMbBefore: number; rssMbAfter: number };
}

describe("the API thread's young generation", () => {
  it("is the main thread's: a worker started after youngGenerationForThisThreadOnly gets a small one, and releaseUnusedMemory shrinks the main thread's back", async () => {
    const heap = moduleImport('src/heap.ts');
    // npm start's maximum is the API thread's, larger than the workers' size...
    const semiSpaceFlag = startFlags().find((f) => f.startsWith('--max-semi-space-size='));
    const semiSpaceMb = Number(semiSpaceFlag?.slice('--max-semi-space-size='.length));
    expect(semiSpaceMb).toBeGreaterThan(WORKER_SEMI_SPACE_MB);
    // ...and its minimum is the workers' size: an idle server's young generation does not shrink below it (BENCHMARKS.md step 295).
    const minSemiSpaceFlag = `--min-semi-space-size=${WORKER_SEMI_SPACE_MB}`;
    expect(startFlags()).toContain(minSemiSpaceFlag);
    const code = `
      import { Worker } from 'node:worker_threads';
      import { releaseUnusedMemory, youngGenerationForThisThreadOnly } from '${heap.specifier}';
      // Allocates until the young generation has grown to its maximum (short-lived objects, a few MB kept at a time),
      // and returns the size (MB) the thread's new space had most often while it did: one reading taken at the end can
      // fall on a scavenge's passing state (11 MB once for a worker whose size is 8, in a loaded CI run).
      const grow = \`const v8 = process.getBuiltinModule('node:v8'); const seen = new Map(); let keep = [];
        for (let i = 0; i < 4e6; i++) {
          keep.push({ i, s: 'x' + i }); if (keep.length > 100000) keep = [];
          if (i % 5000 === 0) { const mb = Math.round(v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space').space_size / 1048576); seen.set(mb, (seen.get(mb) ?? 0) + 1); }
        }
        return [...seen].sort((a, b) => b[1] - a[1])[0][0];\`;
      youngGenerationForThisThreadOnly();
      const mainNewSpaceMb = new Function(grow)();
      const workerNewSpaceMb = await new Promise((resolve, reject) => {
        const w = new Worker(\`process.getBuiltinModule('node:worker_threads').parentPort.postMessage((() => { \${grow} })());\`, { eval: true });
        w.once('message', resolve);
        w.once('error', reject);
      });
      const released = releaseUnusedMemory();
      console.log(JSON.stringify({ mainNewSpaceMb, workerNewSpaceMb, released }));`;
    const child = spawn(process.execPath, [`--max-semi-space-size=${semiSpaceMb}`, minSemiSpaceFlag, ...heap.nodeArgs, '--input-type=module', '-e', code], { cwd: process.cwd() });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    const exitCode = await new Promise<number | null>((r) => child.on('close', r));
    expect(err).toBe('');
    expect(exitCode).toBe(0);
    const report = JSON.parse(out.trim()) as Report;
    // V8's new space is two semi-spaces: the main thread's grew to the flag's size...
    expect(report.mainNewSpaceMb).toBe(2 * semiSpaceMb);
    // ...a worker's to WORKER_SEMI_SPACE_MB's, not the flag's.
    expect(report.workerNewSpaceMb).toBe(2 * WORKER_SEMI_SPACE_MB);
    // The memory-reducing collection shrinks the main thread's to npm start's minimum, not below, and gives the pages back.
    expect(report.released.newSpaceMbBefore).toBe(2 * semiSpaceMb);
    expect(report.released.newSpaceMbAfter).toBe(WORKER_SEMI_SPACE_MB);
    expect(report.released.rssMbAfter).toBeLessThan(report.released.rssMbBefore - semiSpaceMb);
  }, 60_000);
});
