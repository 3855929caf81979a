// The command-line entry (`npm start` runs its build, dist/src/main.js; `npm run dev` runs it with tsx): start the
// server, run until SIGTERM or SIGINT, then stop gracefully: the schedule and a running fit are stopped, graphql-ws
// clients are told the server is going away (close code 1001), HTTP connections are closed, pending recommendation
// writes are drained, the database is closed (the PGlite directory's lock released), and the process exits 0.
// A stop that takes longer than SHUTDOWN_TIMEOUT_SECONDS exits with 1 (the lock file is still removed on exit).
// A signal during the start stops the server as soon as it has started. A second signal meanwhile is ignored:
// Ctrl-C in a terminal reaches this process twice (from the terminal, and forwarded by npm).
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
function shutdown(signal: NodeJS.Signals): void {
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
        process.exit(0);
      },
      (err: unknown) => {
        console.error(startupFailure(err));
        process.exit(1);
      },
    );
}
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);

try {
  await starting;
} catch (err) {
  console.error(startupFailure(err));
  process.exit(1);
}
// Start-up is done: the young generation it grew to (and the pages it freed) go back before the first request.
if (!stopping) {
  const r = releaseUnusedMemory();
  console.log(`[API] start-up memory released in ${r.ms} ms: young generation ${r.newSpaceMbBefore} -> ${r.newSpaceMbAfter} MB, RSS ${r.rssMbBefore} -> ${r.rssMbAfter} MB`);
}
