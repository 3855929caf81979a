// npm run train: the nightly pipeline once (same code path as the 02:00 UTC schedule: TrainingService.runNightly),
// progress on the terminal. When a server owns the PGlite directory, the run happens in that server (the
// runNightlyTraining mutation), so nothing is written behind its back.
// Otherwise this process opens the database as the server does (db/app-database.ts) and wires only what the
// nightly run uses (the engine's caches, which drop other instances' copies of the models it rewrites, and the
// pub/sub that tells their subscribers): nothing of the GraphQL server is loaded (services.ts would load all of it).
import { performance } from 'node:perf_hooks';
import { loadConfig } from '../src/config.ts';
import { openAppDatabase, startupFailure } from '../src/db/app-database.ts';
import { withSessionHook } from '../src/db/session-hook.ts';
import { EngineStore } from '../src/engine-runtime/engine-store.ts';
import { SharedEngineCache } from '../src/engine-runtime/shared-engine-cache.ts';
import { TrainingService } from '../src/jobs/training.ts';
import { createAppPubSub } from '../src/pubsub.ts';
import { CLI_ADMIN_ID, graphql, mintToken, owningServer } from './lib/api-client.ts';

interface RunSummary {
  status: string;
  usersTrained: number;
  sessionsUsed: number;
  error?: string | null;
  stageTimings?: unknown;
}

/** Milliseconds since this process started when its modules had loaded (node's own start included). */
const loadedAt = performance.now();
/** This process's phases in ms (printed last: bench-train reads them). */
const phases: Record<'start' | 'open' | 'run' | 'close', number> = { start: loadedAt, open: 0, run: 0, close: 0 };
const since = (t: number) => performance.now() - t;

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
  let t = performance.now();
  const db = await openAppDatabase(config, { log, holder: { command: 'npm run train', serves: false } });
  const { pubsub, close: closePubSub } = createAppPubSub(config.redisUrl, log);
  // As services.ts shares them: with Redis, the models this run rewrites are dropped from the instances' shared cache.
  const shared =
    config.redisUrl && config.redisModelCacheTtlSeconds > 0
      ? new SharedEngineCache(config.redisUrl, { ttlSeconds: config.redisModelCacheTtlSeconds, timeoutMs: config.redisCacheTimeoutMs, log })
      : null;
  // No session is written here: the hook has nothing to report.
  const engine = new EngineStore(
    withSessionHook(db.prisma, () => {}),
    config,
    pubsub,
    log,
    shared,
  );
  // Nothing is served here: the fit's worker runs at this process's priority, not below it (a server's is lowest).
  const training = new TrainingService({ config, db, engine, pubsub }, { log, fitWorkerLowPriority: false });
  phases.open = since(t);
  t = performance.now();
  try {
    return await training.runNightly('MANUAL');
  } finally {
    phases.run = since(t);
    t = performance.now();
    await training.stop();
    await engine.close();
    await closePubSub();
    await db.close();
    phases.close = since(t);
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
  if (phases.run > 0) {
    const s = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
    console.log(
      `[TRAIN] process: started (node, modules) in ${s(phases.start)}, database opened (migrations checked, seeded) in ${s(phases.open)}, run ${s(phases.run)}, closed in ${s(phases.close)}`,
    );
  }
  if (run.status !== 'SUCCEEDED') exitCode = 1;
} catch (err) {
  console.error(startupFailure(err));
  exitCode = 1;
}
process.exit(exitCode);
