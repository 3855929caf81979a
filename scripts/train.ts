// npm run train: the nightly pipeline once (same code path as the 02:00 UTC schedule), progress on the terminal.
import { ConfigError, loadConfig } from '../src/config.ts';
import { openServices } from '../src/services.ts';

let exitCode = 0;
try {
  const opened = await openServices(loadConfig(), { log: (m) => console.log(m) });
  try {
    const run = await opened.services.training.runNightly('MANUAL');
    const timings = (run.stageTimings ?? {}) as Record<string, number>;
    console.log(
      `[TRAIN] ${run.status}: ${run.usersTrained} athletes, ${run.sessionsUsed} sessions` +
        (timings.totalMs !== undefined ? ` in ${(timings.totalMs / 1000).toFixed(1)} s` : '') +
        (run.error ? ` (${run.error})` : ''),
    );
    if (run.status !== 'SUCCEEDED') exitCode = 1;
  } finally {
    await opened.close();
  }
} catch (err) {
  console.error(err instanceof ConfigError ? `Configuration error: ${err.message}` : err);
  exitCode = 1;
}
process.exit(exitCode);
