// The command-line entry (`npm start` runs its build, dist/src/main.js; `npm run dev` runs it with tsx): start the
// server, run until SIGTERM or SIGINT, then stop gracefully: the schedule and a running fit are stopped, graphql-ws
// clients are told the server is going away (close code 1001), HTTP connections are closed, pending recommendation
// writes are drained, the database is closed (the PGlite directory's lock released), and the process exits 0.
// A stop that takes longer than SHUTDOWN_TIMEOUT_SECONDS exits with 1 (the lock file is still removed on exit).
// A signal during the start stops the server as soon as it has started. A second signal meanwhile is ignored:
// Ctrl-C in a terminal reaches this process twice (from the terminal, and forwarded by npm).
// The embedded database lost (its thread ended and could not be opened again: src/db/pglite-thread.ts) stops the
// server the same way, then exits with 1, for the supervisor to restart it on a fresh process.
import { loadConfig, type Config } from './config.ts';
import { releaseUnusedMemory, youngGenerationForThisThreadOnly } from './heap.ts';
import { startServer, type RunningServer } from './server.ts';
import { startupFailure } from './services.ts';

// The project brings its runtime (package.json's `node` dependency, installed by `npm ci` as node_modules/.bin/node,
// which every npm script finds first). Another Node.js may work but is not what the suite and the benchmarks ran on.
const RUNTIME_MAJOR = '24';
if (process.versions.node.split('.')[0] !== RUNTIME_MAJOR) {
  console.warn(
    `[API] running on Node.js ${process.versions.node}; ClimbIQ is built and tested on Node.js ${RUNTIME_MAJOR} (\`npm ci\` installs it as node_modules/.bin/node and \`npm start\` uses it)`,
  );
}

// npm start's young generation (--max-semi-space-size) is the API thread's; the threads started below get a small one.
// (--min-semi-space-size, which keeps it from shrinking below 4 MB while idle, applies to every isolate alike.)
youngGenerationForThisThreadOnly();

let config: Config;
let starting: Promise<RunningServer>;
try {
  config = loadConfig();
  starting = startServer({ config });
} catch (err) {
  console.error(startupFailure(err));
  process.exit(1);
}

let stopping = false;
/** Stops the server gracefully, then exits with `exitCode` (1 whatever it was when the stop fails or times out). */
function shutdown(signal: NodeJS.Signals | 'database lost', exitCode = 0): void {
  if (stopping) return;
  stopping = true;
  const started = Date.now();
  console.log(`[API] ${signal}: shutting down (at most ${config.shutdownTimeoutSeconds} s)`);
  const force = setTimeout(() => {
    console.error(`[API] shutdown took longer than ${config.shutdownTimeoutSeconds} s (SHUTDOWN_TIMEOUT_SECONDS): exiting`);
    process.exit(1);
  }, config.shutdownTimeoutSeconds * 1000);
  force.unref();
  starting
    .then((server) => server.stop())
    .then(
      () => {
        console.log(`[API] stopped in ${Date.now() - started} ms`);
        process.exit(exitCode);
      },
      (err: unknown) => {
        console.error(startupFailure(err));
        process.exit(1);
      },
    );
}
process.on('SIGTERM', () => shutdown('SIGTERM'));
process.on('SIGINT', () => shutdown('SIGINT'));

try {
  const server = await starting;
  server.db.thread?.onLost((reason) => {
    console.error(`[API] stopping with exit code 1 for the supervisor to restart the process: the embedded database is lost (${reason})`);
    shutdown('database lost', 1);
  });
} catch (err) {
  console.error(startupFailure(err));
  process.exit(1);
}
// Start-up is done: the young generation it grew to (and the pages it freed) go back before the first request.
if (!stopping) {
  const r = releaseUnusedMemory();
  console.log(`[API] start-up memory released in ${r.ms} ms: young generation ${r.newSpaceMbBefore} -> ${r.newSpaceMbAfter} MB, RSS ${r.rssMbBefore} -> ${r.rssMbAfter} MB`);
}
