import { createRequire } from 'node:module';
import { defineConfig } from 'vitest/config';

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
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Integration files each start a server and a database: keep the 2-core machine from thrashing.
    maxWorkers: 2,
    fileParallelism: true,
    // A worker process runs file after file with its modules loaded once: the schema, Prisma's client, the
    // compiled PGlite and schema-engine WASM are not rebuilt per file (about half the suite's CPU time). Files
    // share no state through them: each starts its own servers on its own database and closes them.
    isolate: false,
  },
});
