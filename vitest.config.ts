import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['tests/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Integration files each start a server and a database: keep the 2-core machine from thrashing.
    maxWorkers: 2,
    fileParallelism: true,
  },
});
