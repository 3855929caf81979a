import { createRequire } from 'node:module';
import { defineConfig } from 'vitest/config';
import { LongestFirstSequencer } from './tests/support/sequencer.ts';

const require = createRequire(import.meta.url);

export default defineConfig({
  resolve: {
    // graphql 16 ships CJS (main) and ESM (module) copies; Node loads the CJS one for Yoga and Pothos, so the
    // code under test must get the same copy or `instanceof GraphQLError` breaks across the two realms.
    alias: [{ find: /^graphql$/, replacement: require.resolve('graphql') }],
  },
  test: {
    include: ['tests/**/*.test.ts'],
    // One migrated, seeded database image per run, copied for every test server (tests/support/server.ts).
    globalSetup: ['tests/support/global-setup.ts'],
    // `TEST_CPU_REPORT=<file> npm test`: each file's CPU (its worker's, its children's) appended to <file> (cpu-report.ts).
    setupFiles: process.env.TEST_CPU_REPORT ? ['tests/support/cpu-report.ts'] : [],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Three workers on the 2-core machine: much of the suite's time is spent waiting (spawned processes starting,
    // tokens left to expire, schedules ticking), during which a third file's work fills the cores (README "The test
    // suite"; 4 not measured).
    maxWorkers: 3,
    fileParallelism: true,
    // V8's baseline WebAssembly compiler only, as `npm start` runs the server (package.json, README "The test suite"):
    // every test server compiles PGlite's WASM in its own thread, and the optimizing tier's background recompilation
    // of it was about a third of the suite's CPU time.
    execArgv: ['--liftoff-only'],
    // The longest files first, on a fresh clone too (tests/support/sequencer.ts).
    sequence: { sequencer: LongestFirstSequencer },
    // A worker process runs file after file with its modules loaded once: the schema, Prisma's client, the
    // compiled PGlite and schema-engine WASM are not rebuilt per file (about half the suite's CPU time). Files
    // share no state through them: each starts its own servers on its own database and closes them.
    isolate: false,
  },
});
