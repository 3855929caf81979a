// The learning loop's jobs: quick per-user updates after session writes, per-user retraining, the nightly
// hierarchical fit (node-cron, advisory lock, in-flight guard), catch-up, and the persisted pause switch.
import { performance } from 'node:perf_hooks';
import cron, { type ScheduledTask } from 'node-cron';
import { addRatingLinearised, linearisedStats, parseStats, userPosterior, type Hyperparameters } from '../engine/bayes/index.ts';
import { trainingRow } from '../engine/training-row.ts';
import { designRow, termsWithPriors } from '../engine/variables.ts';
import type { Config } from '../config.ts';
import type { Database } from '../db/client.ts';
import type { EngineStore } from '../engine-runtime/engine-store.ts';
import type { AppPubSub } from '../pubsub.ts';
import { isTrainingRow, TRAINING_SELECT, type SessionChange } from '../db/session-hook.ts';
import type { Prisma, TrainingRun, TrainingRunKind, TrainingTrigger } from '../generated/prisma/client.ts';
import { prismaSql } from '../db/sql.ts';
import { FitControl, fitHeapLimitMb, startNightlyFit, type NightlyFit } from './fit-worker.ts';
import { heldOutColumns, snapshotModels } from './model-evaluation.ts';
import { populationModelData, upsertModelOutput, writeModelChunk, type ModelOutputWrite } from './model-store.ts';
import { readUserData, staleUsers } from './athlete-data.ts';
import { readNightlyInput, readPopulationStats, yieldToEventLoop, type UserData } from './training-data.ts';
import type { PopulationStat } from '../engine/types.ts';

/**
 * An athlete's model from their statistics: the posterior, and the statistics stored for the quick update (the
 * bounded rows linearised at that posterior, so the next rank-1 step needs no rows).
 */
function recomputedWrite(userId: string, data: UserData, hyper: Hyperparameters): Omit<ModelOutputWrite, 'trainingDurationMs'> {
  const result = userPosterior(data.stats, hyper);
  return { userId, result, stats: linearisedStats(data.stats, result.mean, hyper), dataThrough: data.dataThrough };
}

/** Advisory lock key of the nightly fit: one instance trains at a time across every instance. */
/** The tables whose rows are replaced or deleted in use (PGlite's vacuum after a nightly run, vacuumEmbedded). */
const EMBEDDED_VACUUMED_TABLES = [
  'model_outputs',
  'population_statistics',
  'model_snapshots',
  'climbing_sessions',
  'session_quality_days',
  'session_rule_days',
  'session_prediction_days',
  'training_runs',
];

export const NIGHTLY_LOCK_KEY = 0x636c6d62; // "clmb"
const PAUSE_SETTING = 'trainingSchedule.paused';
const RETRY_DELAYS_MS = [1_000, 5_000, 30_000];

export interface TrainingSchedule {
  cron: string;
  timezone: string;
  paused: boolean;
  nextRunAt: Date | null;
  lastRun: TrainingRun | null;
}

const json = (v: unknown) => v as Prisma.InputJsonValue;

/** What training needs of the server's services (named here, not taken from context.ts, which names this service). */
export interface TrainingDependencies {
  config: Config;
  db: Database;
  engine: EngineStore;
  pubsub: AppPubSub;
}

export class TrainingService {
  private task: ScheduledTask | null = null;
  private nightlyInFlight: Promise<TrainingRun> | null = null;
  /** Per-user chain: quick updates of one athlete run one after another, never interleaved. */
  private readonly userQueues = new Map<string, Promise<void>>();
  private readonly pending = new Set<Promise<unknown>>();
  private readonly retryTimers = new Set<NodeJS.Timeout>();
  private stopped = false;
  private readonly log: (msg: string) => void;
  /** The nightly fit's worker at the lowest CPU priority (a server: its API's requests first); `npm run train` turns it off. */
  private readonly fitWorkerLowPriority: boolean;
  /** Holds the nightly fit's worker between sweeps (tests and benchmarks measure the API while a fit runs). */
  readonly fitControl = new FitControl();

  constructor(
    private readonly services: TrainingDependencies,
    opts: { log?: (msg: string) => void; fitWorkerLowPriority?: boolean } = {},
  ) {
    this.log = opts.log ?? console.log;
    this.fitWorkerLowPriority = opts.fitWorkerLowPriority ?? true;
  }

  private get prisma() {
    return this.services.db.prisma;
  }

  private track<T>(p: Promise<T>): Promise<T> {
    this.pending.add(p);
    p.finally(() => this.pending.delete(p)).catch(() => {});
    return p;
  }

  // ------------------------------------------------------------------ quick update

  /** Listener of the session-completion extension: runs after the write has returned to its caller. */
  onSessionChanges(changes: SessionChange[]): void {
    if (this.stopped) return;
    const byUser = new Map<string, SessionChange[]>();
    for (const c of changes) byUser.set(c.userId, [...(byUser.get(c.userId) ?? []), c]);
    for (const [userId, list] of byUser) this.enqueue(userId, () => this.quickUpdate(userId, list, 0));
  }

  private enqueue(userId: string, work: () => Promise<unknown>): Promise<void> {
    const previous = this.userQueues.get(userId) ?? Promise.resolve();
    const next = previous.then(work).then(
      () => {},
      () => {},
    );
    this.userQueues.set(userId, next);
    void next.finally(() => {
      if (this.userQueues.get(userId) === next) this.userQueues.delete(userId);
    });
    this.track(next);
    return next;
  }

  /**
   * Resolves when every queued quick update has finished (tests, scripts and shutdown). The session hook reports
   * a write on the next turn of the event loop, so a turn is let through first: a write that has just returned
   * is waited for too.
   */
  async idle(): Promise<void> {
    do {
      await yieldToEventLoop();
      while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
    } while (this.pending.size > 0);
  }

  /**
   * Exact conjugate update for one athlete given the cached population hyperparameters. The common case, a
   * newly rated session, is a rank-1 step on the stored sufficient statistics; anything else (a correction,
   * a deletion, a write that did not commit as reported) recomputes the athlete's statistics from the table.
   */
  async quickUpdate(userId: string, changes: SessionChange[], attempt: number): Promise<TrainingRun | null> {
    const started = new Date();
    const t0 = performance.now();
    try {
      const { hyper } = await this.services.engine.population();
      const outcome = await this.prisma.$transaction(async (tx) => {
        await tx.$executeRaw`SELECT pg_advisory_xact_lock(hashtext(${userId}))`;
        const stored = await tx.modelOutput.findUnique({ where: { userId }, select: { sufficientStats: true, dataThrough: true } });
        let data: UserData | null = null;
        const stats = stored ? parseStats(stored.sufficientStats) : null;
        // No reported changes (a retry) means "recompute": the stored statistics may predate the failed write.
        if (stats && stored && changes.length > 0) {
          data = { stats, dataThrough: stored.dataThrough };
          for (const change of changes) {
            const after = change.after;
            const pureAddition = !isTrainingRow(change.before) && isTrainingRow(after);
            const current = after ? await tx.climbingSession.findUnique({ where: { id: after.id }, select: TRAINING_SELECT }) : null;
            const asReported = current && after && current.updatedAt.getTime() === after.updatedAt.getTime();
            const alreadyIn = data.dataThrough && after && after.updatedAt <= data.dataThrough;
            if (!pureAddition || !asReported || alreadyIn) {
              data = null;
              break;
            }
            const row = trainingRow(current);
            if (!row) {
              data = null;
              break;
            }
            // A rating at 1 or 10 is linearised at the current posterior (the nightly fit re-linearises it exactly).
            data.stats = addRatingLinearised(data.stats, designRow(row.values as Readonly<Record<string, unknown>>), row.quality, hyper);
            data.dataThrough = current.updatedAt;
          }
        }
        const rank1 = data !== null;
        data ??= await readUserData(tx as unknown as typeof this.prisma, userId);
        const write = recomputedWrite(userId, data, hyper);
        const durationMs = performance.now() - t0;
        await upsertModelOutput(tx, { ...write, trainingDurationMs: durationMs });
        // totalMs includes the ModelOutput write (trainingDurationMs, stored in that row, cannot).
        const totalMs = performance.now() - t0;
        const run = await tx.trainingRun.create({
          data: {
            kind: 'QUICK_UPDATE',
            status: 'SUCCEEDED',
            trigger: 'SESSION_COMPLETED',
            userId,
            startedAt: started,
            finishedAt: new Date(),
            usersTrained: 1,
            sessionsUsed: data.stats.n,
            attempts: attempt + 1,
            stageTimings: json({ totalMs, computeMs: durationMs, path: rank1 ? 'rank1' : 'recompute' }),
          },
        });
        return run;
      });
      this.afterUserModelWrite(userId);
      return outcome;
    } catch (err) {
      const message = (err as Error).message ?? String(err);
      this.log(`[MODEL] quick update for ${userId} failed (attempt ${attempt + 1}): ${message}`);
      await this.prisma.trainingRun
        .create({
          data: { kind: 'QUICK_UPDATE', status: 'FAILED', trigger: 'SESSION_COMPLETED', userId, startedAt: started, finishedAt: new Date(), error: message, attempts: attempt + 1 },
        })
        .catch(() => {});
      if (attempt < RETRY_DELAYS_MS.length && !this.stopped) {
        // A retry recomputes from the table, so it does not depend on the reported snapshots any more.
        const timer = setTimeout(() => {
          this.retryTimers.delete(timer);
          void this.enqueue(userId, () => this.quickUpdate(userId, [], attempt + 1));
        }, RETRY_DELAYS_MS[attempt]);
        timer.unref();
        this.retryTimers.add(timer);
      }
      return null;
    }
  }

  private afterUserModelWrite(userId: string): void {
    this.services.engine.invalidate({ kind: 'model', userId });
    this.services.pubsub.publish('modelUpdated', userId, { userId });
  }

  // ------------------------------------------------------------------ per-user training

  /** Recomputes one athlete from the sessions table (trainUserModel and catch-up). */
  async trainUser(userId: string, trigger: TrainingTrigger): Promise<TrainingRun> {
    const run = await this.prisma.trainingRun.create({ data: { kind: 'USER', status: 'RUNNING', trigger, userId } });
    const t0 = performance.now();
    try {
      const { hyper } = await this.services.engine.population();
      const data = await this.recompute(userId, hyper, () => performance.now() - t0);
      this.afterUserModelWrite(userId);
      return await this.finish(run.id, 'SUCCEEDED', { usersTrained: 1, sessionsUsed: data.stats.n, stageTimings: json({ totalMs: performance.now() - t0 }) });
    } catch (err) {
      return this.finish(run.id, 'FAILED', { error: (err as Error).message });
    }
  }

  /**
   * Recomputes an athlete's model from their rows under `hyper` and stores it. Under the athlete's lock, like the
   * quick update: a recompute that read the table before a completion committed must not overwrite the quick
   * update of that completion with older statistics.
   */
  private recompute(userId: string, hyper: Hyperparameters, durationMs: number | (() => number)): Promise<UserData> {
    return this.prisma.$transaction(async (tx) => {
      await tx.$executeRaw`SELECT pg_advisory_xact_lock(hashtext(${userId}))`;
      const read = await readUserData(tx as unknown as typeof this.prisma, userId);
      const write = recomputedWrite(userId, read, hyper);
      await upsertModelOutput(tx, { ...write, trainingDurationMs: typeof durationMs === 'number' ? durationMs : durationMs() });
      return read;
    });
  }

  /**
   * Catches up athletes whose sessions are newer than their model (startup, and missed quick updates). Tracked
   * like the quick updates, so idle() and stop() wait for it (the server starts it without awaiting it).
   */
  catchUp(trigger: TrainingTrigger): Promise<number> {
    return this.track(this.runCatchUp(trigger));
  }

  private async runCatchUp(trigger: TrainingTrigger): Promise<number> {
    if (this.stopped) return 0;
    try {
      const users = await staleUsers(this.prisma);
      if (users.length === 0) return 0;
      this.log(`[MODEL] catch-up: ${users.length} athlete(s) have sessions newer than their model`);
      for (const userId of users) {
        if (this.stopped) break;
        await this.enqueue(userId, () => this.trainUser(userId, trigger));
      }
      return users.length;
    } catch (err) {
      this.log(`[MODEL] catch-up failed: ${(err as Error).message}`);
      return 0;
    }
  }

  // ------------------------------------------------------------------ nightly

  /**
   * The nightly pipeline: training data -> trained model -> population statistics. One run at a time in this
   * process (in-flight guard) and across instances (advisory lock); a run that finds either taken is SKIPPED.
   * A run for a `slot` (a tick of the schedule) that already SUCCEEDED returns that run and trains nothing, so
   * each tick trains once whichever instances fire it; a manual run without a slot always trains.
   */
  runNightly(trigger: TrainingTrigger, slot: Date | null = null): Promise<TrainingRun> {
    return this.startNightly(trigger, slot).finished;
  }

  /** Starts the pipeline; `started` resolves with its RUNNING (or SKIPPED, or the slot's earlier) row, `finished` with the final row. */
  startNightly(trigger: TrainingTrigger, slot: Date | null = null): { started: Promise<TrainingRun>; finished: Promise<TrainingRun> } {
    if (this.nightlyInFlight) {
      const skipped = this.skipped('NIGHTLY', trigger, 'A nightly training run is already in progress in this instance');
      return { started: skipped, finished: skipped };
    }
    let announce!: (run: TrainingRun) => void;
    const started = new Promise<TrainingRun>((resolve) => (announce = resolve));
    const finished = this.track(this.nightlyPipeline(trigger, slot, announce)).finally(() => {
      this.nightlyInFlight = null;
    });
    this.nightlyInFlight = finished;
    finished.then(announce, () => {});
    return { started, finished };
  }

  private async skipped(kind: TrainingRunKind, trigger: TrainingTrigger, reason: string): Promise<TrainingRun> {
    this.log(`[TRAIN] ${kind} run skipped: ${reason}`);
    return this.prisma.trainingRun.create({ data: { kind, status: 'SKIPPED', trigger, startedAt: new Date(), finishedAt: new Date(), error: reason } });
  }

  private async nightlyPipeline(trigger: TrainingTrigger, slot: Date | null, announce: (run: TrainingRun) => void): Promise<TrainingRun> {
    const lock = await this.services.db.tryLock(NIGHTLY_LOCK_KEY);
    if (!lock) return this.skipped('NIGHTLY', trigger, 'Another instance holds the nightly training lock');
    let run: TrainingRun;
    try {
      // Under the lock: a run of the same slot on another instance has either finished or not started.
      const done = slot && (await this.prisma.trainingRun.findFirst({ where: { kind: 'NIGHTLY', slot, status: 'SUCCEEDED' }, orderBy: { startedAt: 'asc' } }));
      if (done) {
        this.log(`[TRAIN] nightly run for ${slot.toISOString()} already succeeded (run ${done.id}): not training again`);
        await lock.release();
        return done;
      }
      run = await this.prisma.trainingRun.create({ data: { kind: 'NIGHTLY', status: 'RUNNING', trigger, slot } });
    } catch (err) {
      await lock.release();
      throw err;
    }
    announce(run);
    const timings: Record<string, number> = {};
    const stage = async <T>(name: string, work: () => Promise<T>): Promise<T> => {
      await yieldToEventLoop();
      const t = performance.now();
      this.log(`[TRAIN] ${name}: started`);
      const out = await work();
      timings[`${name}Ms`] = Math.round(performance.now() - t);
      this.log(`[TRAIN] ${name}: done in ${(timings[`${name}Ms`] / 1000).toFixed(1)} s`);
      return out;
    };
    let nightly: NightlyFit | null = null;
    try {
      const t0 = performance.now();
      // The hyperpriors admins edit (upsertPopulationPrior): the PopulationPrior table, not the seed file.
      const terms = termsWithPriors(await this.prisma.populationPrior.findMany({ where: { isActive: true } }));
      const options = {
        terms,
        control: this.fitControl,
        lowPriority: this.fitWorkerLowPriority,
        onProgress: (iteration: number, delta: number) => {
          if (iteration % 25 === 0) this.log(`[TRAIN] trainedModel: sweep ${iteration}, change ${delta.toExponential(2)}`);
        },
      };
      const url = this.services.db.url;
      // On an embedded PGlite, the population statistics: read while the worker fits (set in trainingData).
      let populationStatsRead: Promise<PopulationStat[]> | null = null;
      const read = await stage('trainingData', async () => {
        // On a server, a worker thread reads, fits and writes on its own connection: the training data and the
        // models never pass through this thread, which keeps serving. An embedded PGlite lives on this thread:
        // it reads here, and writes each chunk of models the worker builds.
        // The worker's heap is bounded (FIT_WORKER_HEAP_MB, else by the athletes it fits: fitHeapLimitMb); the worker
        // reading them itself, the users (an upper bound, one cheap count) size it.
        const configuredHeapMb = this.services.config.fitWorkerHeapMb;
        if (url) {
          const heapLimitMb = configuredHeapMb || fitHeapLimitMb(await this.prisma.user.count());
          this.log(`[TRAIN] trainingData: reading in the fit worker (its heap limit ${heapLimitMb} MB)`);
          nightly = startNightlyFit({ kind: 'server', url }, { ...options, heapLimitMb });
        } else {
          // The worker starts (its thread, its modules) while this thread reads; the input follows it once read.
          // The population statistics are left out of the read's transaction: a statement of their own once the
          // athletes' sessions are in, while the worker fits (PGlite, on its own thread, has nothing else to do then).
          const heapLimitMb = configuredHeapMb || fitHeapLimitMb(await this.prisma.user.count());
          this.log(`[TRAIN] trainingData: reading while the fit worker starts (its heap limit ${heapLimitMb} MB)`);
          const input = this.prisma.$transaction((tx) => readNightlyInput(prismaSql(tx), { populationStats: false }), { maxWait: 60_000, timeout: 60 * 60_000 });
          nightly = startNightlyFit(
            { kind: 'input', input, write: (chunk, versions) => this.prisma.$transaction((tx) => writeModelChunk(prismaSql(tx), chunk, versions)) },
            { ...options, heapLimitMb },
          );
          await input;
          populationStatsRead = readPopulationStats(prismaSql(this.prisma));
          // Awaited at the populationStatistics stage; a failure meanwhile is not an unhandled rejection.
          populationStatsRead.catch(() => {});
        }
        return nightly.read;
      });
      this.log(`[TRAIN] trainingData: ${read.sessions} sessions from ${read.users} athletes, ${read.heldOut} to hold out`);

      const fitted = await stage('trainedModel', async () => {
        if (read.sessions === 0) {
          this.log('[TRAIN] trainedModel: no rated sessions yet; the population priors stay in force');
          return { users: 0, heldOut: null };
        }
        const tFit = performance.now();
        this.log(`[TRAIN] trainedModel: fitting ${read.users} athletes in a worker thread`);
        const fit = await nightly!.fitted;
        const fitMs = performance.now() - tFit;
        timings.fitMs = Math.round(fitMs);
        this.log(`[TRAIN] trainedModel: fit done in ${(fitMs / 1000).toFixed(1)} s, ${fit.diagnostics.iterations} sweeps`);
        await this.prisma.populationModel.create({
          data: populationModelData(fit.hyper, { usersIncluded: fit.diagnostics.usersWithData, sessionsIncluded: read.sessions, diagnostics: fit.diagnostics }),
        });
        const perUserMs = fitMs / Math.max(1, read.users);
        let recomputed = 0;
        let written = 0;
        for await (const chunk of fit.written) {
          // Athletes whose model changed since the read (a quick update, a retrain): recomputed from their rows.
          for (const userId of chunk.changed) await this.recompute(userId, fit.hyper, perUserMs);
          recomputed += chunk.changed.length;
          await this.services.engine.modelsRewritten(chunk.userIds);
          for (const userId of chunk.userIds) this.services.pubsub.publish('modelUpdated', userId, { userId });
          written += chunk.userIds.length;
          if (written % 2000 < chunk.userIds.length || written === read.users) this.log(`[TRAIN] trainedModel: ${written} of ${read.users} athlete models written`);
          // Between chunks: an embedded PGlite never yields to the event loop by itself, and each subscriber's
          // repeater takes at most 1024 undelivered events (thousands of modelUpdated at once would overflow it).
          await yieldToEventLoop();
        }
        this.log(`[TRAIN] trainedModel: ${fit.diagnostics.iterations} sweeps, ${written} athlete models written (${recomputed} recomputed: changed since the read)`);
        // Measured by the worker between the chunks it handed over (settled once the last one is written).
        const heldOut = await fit.heldOut;
        timings.heldOutErrorMs = Math.round(heldOut.ms);
        this.log(`[TRAIN] heldOutError: ${heldOut.error?.n ?? 0} sessions predicted in ${(heldOut.ms / 1000).toFixed(1)} s (in the worker, while the models were written)`);
        return { users: read.users, heldOut: heldOut.error };
      });

      await stage('modelHistory', () => snapshotModels(this.prisma, run.id, this.services.config.modelHistoryRetentionDays));

      await stage('populationStatistics', async () => {
        const computedAt = new Date();
        const stats = populationStatsRead ? await populationStatsRead : read.populationStats;
        await this.prisma.$transaction([this.prisma.populationStatistic.deleteMany({}), this.prisma.populationStatistic.createMany({ data: stats.map((s) => ({ ...s, computedAt })) })]);
      });

      if (this.services.db.kind === 'pglite') await stage('vacuum', () => this.vacuumEmbedded());

      timings.totalMs = Math.round(performance.now() - t0);
      this.services.engine.invalidate({ kind: 'population' });
      return await this.finish(run.id, 'SUCCEEDED', { usersTrained: fitted.users, sessionsUsed: read.sessions, stageTimings: json(timings), ...heldOutColumns(fitted.heldOut) });
    } catch (err) {
      this.log(`[TRAIN] nightly run failed: ${(err as Error).stack ?? err}`);
      return this.finish(run.id, 'FAILED', { error: (err as Error).message, stageTimings: json(timings) });
    } finally {
      await (nightly as NightlyFit | null)?.dispose();
      await lock.release();
    }
  }

  /**
   * PGlite runs no autovacuum: the rows a nightly run replaces (every athlete's model, the population statistics,
   * pruned snapshots) and the day's quick updates, completed sessions and rollups would stay as dead rows, and the
   * embedded database would grow by the size of every model each night. A plain VACUUM of those tables once the run
   * has written makes their space reusable. Everything is already written: a failure here is logged, not the run's.
   */
  private async vacuumEmbedded(): Promise<void> {
    try {
      await this.prisma.$executeRawUnsafe(`VACUUM ${EMBEDDED_VACUUMED_TABLES.map((t) => `"${t}"`).join(', ')}`);
    } catch (err) {
      this.log(`[TRAIN] WARNING: VACUUM of the embedded database failed (the run's writes stand): ${(err as Error).message}`);
    }
  }

  private finish(id: string, status: 'SUCCEEDED' | 'FAILED', data: Prisma.TrainingRunUpdateInput): Promise<TrainingRun> {
    return this.prisma.trainingRun.update({ where: { id }, data: { ...data, status, finishedAt: new Date() } });
  }

  // ------------------------------------------------------------------ schedule

  async isPaused(): Promise<boolean> {
    const row = await this.prisma.appSetting.findUnique({ where: { key: PAUSE_SETTING } });
    return row?.value === true;
  }

  async setPaused(paused: boolean): Promise<void> {
    await this.prisma.appSetting.upsert({ where: { key: PAUSE_SETTING }, create: { key: PAUSE_SETTING, value: paused }, update: { value: paused } });
  }

  async startSchedule(): Promise<void> {
    const expression = this.services.config.nightlyTrainingCron;
    this.task = cron.createTask(
      expression,
      async ({ date }) => {
        // Paused is read from the database at each tick, so it holds across restarts and instances.
        if (await this.isPaused()) {
          this.log('[TRAIN] scheduled nightly run skipped: the schedule is paused');
          return;
        }
        // The tick's own time (not the moment it fired) names the slot every instance fires for.
        await this.runNightly('SCHEDULE', date);
      },
      { name: 'nightly-training', timezone: 'UTC', noOverlap: true },
    );
    this.task.start();
    this.log(`[TRAIN] nightly training scheduled "${expression}" (UTC); next run ${this.task.getNextRun()?.toISOString() ?? 'never'}${(await this.isPaused()) ? ' (paused)' : ''}`);
  }

  /** Whether `date` is a tick of the nightly schedule (UTC), i.e. a slot a manual run may name; and the next tick. */
  scheduledSlot(date: Date): { matches: boolean; nextTick: Date } {
    const matcher = cron.createTask(this.services.config.nightlyTrainingCron, () => {}, { timezone: 'UTC' });
    try {
      return { matches: date.getUTCMilliseconds() === 0 && matcher.match(date), nextTick: matcher.getNextRuns(1)[0] };
    } finally {
      void matcher.destroy();
    }
  }

  async schedule(): Promise<TrainingSchedule> {
    const [paused, lastRun] = await Promise.all([
      this.isPaused(),
      this.prisma.trainingRun.findFirst({ where: { kind: 'NIGHTLY', status: { in: ['SUCCEEDED', 'FAILED', 'RUNNING'] } }, orderBy: { startedAt: 'desc' } }),
    ]);
    const nextRunAt = paused ? null : (this.task?.getNextRun() ?? null);
    return { cron: this.services.config.nightlyTrainingCron, timezone: 'UTC', paused, nextRunAt, lastRun };
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.task) {
      await this.task.destroy();
      this.task = null;
    }
    for (const t of this.retryTimers) clearTimeout(t);
    this.retryTimers.clear();
    await this.idle();
  }
}
