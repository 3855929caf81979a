// Preloaded into a server process (`node --import`) by tests/integration/pglite-thread-reopen.test.ts: ends the
// embedded database's thread from outside the application's code, as a crash inside PostgreSQL would (a WebAssembly
// trap, an abort). It wraps node:worker_threads' Worker before the application loads (syncBuiltinESMExports makes
// the module's named export, which src/db/pglite-thread.ts imports, the wrapper too), keeps the newest thread named
// 'pglite', and terminates it on SIGUSR2; with END_PGLITE_THREAD_REOPENS=n it also terminates the next n threads named
// so as soon as they start (the application's attempts to reopen it fail); with HANG_PGLITE_THREAD_REOPENS=n the next
// n threads named so run, in place of PGlite, a script that never answers (an open that hangs: a directory on a
// stalled disk). Nothing of it is in the application.
import { syncBuiltinESMExports } from 'node:module';
import workerThreads from 'node:worker_threads';

if (workerThreads.isMainThread) {
  const Original = workerThreads.Worker;
  /** @type {import('node:worker_threads').Worker | null} */
  let pglite = null;
  let endReopens = 0;
  let hangReopens = 0;
  workerThreads.Worker = class extends Original {
    /** @param {ConstructorParameters<typeof Original>} args */
    constructor(...args) {
      const hang = args[1]?.name === 'pglite' && hangReopens > 0;
      if (hang) {
        hangReopens--;
        console.log('[TEST] a new embedded database thread that never answers');
      }
      super(...(hang ? ['setInterval(() => {}, 1 << 30)', args[1]] : args));
      if (args[1]?.name !== 'pglite') return;
      pglite = this;
      if (endReopens > 0) {
        endReopens--;
        console.log('[TEST] terminating a new embedded database thread');
        void this.terminate();
      }
    }
  };
  syncBuiltinESMExports();
  process.on('SIGUSR2', () => {
    console.log('[TEST] terminating the embedded database thread');
    endReopens = Number(process.env.END_PGLITE_THREAD_REOPENS ?? 0);
    hangReopens = Number(process.env.HANG_PGLITE_THREAD_REOPENS ?? 0);
    void pglite?.terminate();
  });
}
