// npm run train: the nightly pipeline once (same code path as the 02:00 UTC schedule), progress on the terminal.
// When a server owns the PGlite directory, the run happens in that server (the runNightlyTraining mutation), so
// nothing is written behind its back.
import { loadConfig } from '../src/config.ts';
import { openServices, startupFailure } from '../src/services.ts';
import { CLI_ADMIN_ID, graphql, mintToken, owningServer } from './lib/api-client.ts';

interface RunSummary {
  status: string;
  usersTrained: number;
  sessionsUsed: number;
  error?: string | null;
  stageTimings?: unknown;
}

const RUN_NIGHTLY = `mutation { runNightlyTraining(wait: true) { status usersTrained sessionsUsed error stageTimings { totalMs } } }`;

async function train(): Promise<RunSummary> {
  const log = (m: string) => console.log(m);
  const config = loadConfig();
  const server = await owningServer(config, log);
  if (server) {
    log(`[TRAIN] the server at ${server.url} (pid ${server.owner.pid}) owns ${config.pgliteDir}: running the nightly training there (runNightlyTraining)`);
    const token = await mintToken(config, CLI_ADMIN_ID, 'admin');
    return (await graphql<{ runNightlyTraining: RunSummary }>(server.url, token, RUN_NIGHTLY)).runNightlyTraining;
  }
  const opened = await openServices(config, { log, holder: { command: 'npm run train', serves: false } });
  try {
    return await opened.services.training.runNightly('MANUAL');
  } finally {
    await opened.close();
  }
}

let exitCode = 0;
try {
  const run = await train();
  const timings = (run.stageTimings ?? {}) as Record<string, number>;
  console.log(
    `[TRAIN] ${run.status}: ${run.usersTrained} athletes, ${run.sessionsUsed} sessions` +
      (timings.totalMs !== undefined ? ` in ${(timings.totalMs / 1000).toFixed(1)} s` : '') +
      (run.error ? ` (${run.error})` : ''),
  );
  if (run.status !== 'SUCCEEDED') exitCode = 1;
} catch (err) {
  console.error(startupFailure(err));
  exitCode = 1;
}
process.exit(exitCode);
