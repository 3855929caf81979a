import type { Context } from '../context.ts';
import { streamableUserId, viewerOwnerFilter } from '../resolvers/access.ts';
import { modelUpdates, runNightlyTraining, storedModelOutput, trainUserModel } from '../resolvers/training.ts';
import type { TrainingSchedule } from '../jobs/training.ts';
import type { Prisma, TrainingRun } from '../generated/prisma/client.ts';
import { period } from '../resolvers/filters.ts';
import { builder } from './builder.ts';
import { TrainingRunKindEnum, TrainingRunStatusEnum, TrainingTriggerEnum } from './enums.ts';
import { uuid } from './ids.ts';
import { ModelOutputRef } from './model.ts';
import { lagTolerantReader } from '../resolvers/read-routing.ts';

/** A run's stored timings: stage name + 'Ms' -> milliseconds, and the quick update's path. */
type StoredTimings = Record<string, number | string>;

function stageTimings(stored: unknown): StoredTimings | null {
  return stored && typeof stored === 'object' && !Array.isArray(stored) ? (stored as StoredTimings) : null;
}

const ms = (value: number | string | undefined) => (typeof value === 'number' ? value : null);

const StageTimingRef = builder.objectRef<{ stage: string; ms: number }>('StageTiming').implement({
  description: 'The time one stage of a training run took',
  fields: (t) => ({
    stage: t.exposeString('stage', { description: 'The stage, e.g. trainingData, fit' }),
    ms: t.exposeFloat('ms', { description: 'Milliseconds' }),
  }),
});

const StageTimingsRef = builder.objectRef<StoredTimings>('StageTimings').implement({
  description: 'Where the time of a training run went. Null where the kind of run has no such stage.',
  fields: (t) => ({
    totalMs: t.float({ nullable: true, description: 'The whole run', resolve: (s) => ms(s.totalMs) }),
    trainingDataMs: t.float({ nullable: true, description: 'Nightly: reading the sessions into sufficient statistics', resolve: (s) => ms(s.trainingDataMs) }),
    trainedModelMs: t.float({ nullable: true, description: 'Nightly: the fit and the model writes', resolve: (s) => ms(s.trainedModelMs) }),
    fitMs: t.float({ nullable: true, description: 'Nightly: the hierarchical fit alone', resolve: (s) => ms(s.fitMs) }),
    populationStatisticsMs: t.float({ nullable: true, description: 'Nightly: the PopulationStatistic rows', resolve: (s) => ms(s.populationStatisticsMs) }),
    computeMs: t.float({ nullable: true, description: 'Quick update: the model update before it is written', resolve: (s) => ms(s.computeMs) }),
    path: t.string({ nullable: true, description: 'Quick update: rank1 (one-session step) or recompute', resolve: (s) => (typeof s.path === 'string' ? s.path : null) }),
    stages: t.field({
      type: [StageTimingRef],
      description: 'Every timed stage in the order recorded (totalMs excluded)',
      resolve: (s) => Object.entries(s).flatMap(([key, value]) => (key.endsWith('Ms') && key !== 'totalMs' && typeof value === 'number' ? [{ stage: key.slice(0, -2), ms: value }] : [])),
    }),
  }),
});

interface HeldOut {
  n: number;
  rmse: number | null;
  mae: number | null;
  bias: number | null;
  intervalCoverage: number | null;
}

const HeldOutErrorRef = builder.objectRef<HeldOut>('HeldOutError').implement({
  description: "Each athlete's most recent rated session predicted by a model fitted without it (the athlete's other sessions)",
  fields: (t) => ({
    n: t.exposeInt('n', { description: 'Sessions held out (one per athlete)' }),
    rmse: t.exposeFloat('rmse', { nullable: true, description: 'Root mean squared error, quality points; null when n = 0' }),
    mae: t.exposeFloat('mae', { nullable: true, description: 'Mean absolute error, quality points; null when n = 0' }),
    bias: t.exposeFloat('bias', { nullable: true, description: 'Mean predicted - actual' }),
    intervalCoverage: t.exposeFloat('intervalCoverage', { nullable: true, description: 'Share inside the 95 % predictive interval' }),
  }),
});

const TrainingRunRef = builder.prismaObject('TrainingRun', {
  description: 'One training job: the nightly fit, a per-user retrain or a quick update after a session',
  fields: (t) => ({
    id: t.exposeID('id', { description: 'The run id (uuid)' }),
    kind: t.expose('kind', { type: TrainingRunKindEnum, description: 'What it fitted' }),
    status: t.expose('status', { type: TrainingRunStatusEnum, description: 'Where it is' }),
    trigger: t.expose('trigger', { type: TrainingTriggerEnum, description: 'What started it' }),
    user: t.relation('user', { nullable: true, description: 'The athlete of a USER or QUICK_UPDATE run; null for NIGHTLY' }),
    startedAt: t.expose('startedAt', { type: 'DateTime', description: 'When it started' }),
    finishedAt: t.expose('finishedAt', { type: 'DateTime', nullable: true, description: 'When it ended; null while QUEUED or RUNNING' }),
    usersTrained: t.exposeInt('usersTrained', { description: 'Athlete models written' }),
    sessionsUsed: t.exposeInt('sessionsUsed', { description: 'Rated sessions used' }),
    error: t.exposeString('error', { nullable: true, description: 'Why it FAILED or was SKIPPED; null otherwise' }),
    attempts: t.exposeInt('attempts', { description: 'Tries it took (a failed quick update is retried)' }),
    slot: t.expose('slot', {
      type: 'DateTime',
      nullable: true,
      description: "NIGHTLY: the schedule's tick (UTC) this run is for; null for a manual run given no slot",
    }),
    stageTimings: t.field({ type: StageTimingsRef, nullable: true, description: 'Milliseconds per stage', resolve: (run) => stageTimings(run.stageTimings) }),
    heldOut: t.field({
      type: HeldOutErrorRef,
      nullable: true,
      description: 'Nightly runs: honest held-out error of the fit (null for other runs)',
      resolve: (r) => (r.heldOutN === null ? null : { n: r.heldOutN, rmse: r.heldOutRmse, mae: r.heldOutMae, bias: r.heldOutBias, intervalCoverage: r.heldOutCoverage }),
    }),
  }),
});

const TrainingScheduleRef = builder.objectRef<TrainingSchedule>('TrainingSchedule').implement({
  description: 'The nightly training schedule',
  fields: (t) => ({
    cron: t.exposeString('cron', { description: 'Cron expression (NIGHTLY_TRAINING_CRON), e.g. "0 2 * * *"' }),
    timezone: t.exposeString('timezone', { description: 'The time zone the cron expression is read in (UTC)' }),
    paused: t.exposeBoolean('paused', { description: 'Paused by an admin (setTrainingSchedulePaused)' }),
    nextRunAt: t.expose('nextRunAt', { type: 'DateTime', nullable: true, description: 'null when paused or not scheduled in this process' }),
    lastRun: t.field({ type: TrainingRunRef, nullable: true, description: 'The latest NIGHTLY run that started (SKIPPED ones left out); null before the first', resolve: (s) => s.lastRun }),
  }),
});

interface TrainingRunFilter {
  kind?: TrainingRun['kind'] | null;
  status?: TrainingRun['status'] | null;
  from?: Date | null;
  to?: Date | null;
}

function trainingRunsWhere(ctx: Context, args: TrainingRunFilter): Prisma.TrainingRunWhereInput {
  return {
    kind: args.kind ?? undefined,
    status: args.status ?? undefined,
    startedAt: period(args.from, args.to),
    userId: viewerOwnerFilter(ctx),
  };
}

builder.queryFields((t) => ({
  trainingRuns: t.prismaConnection(
    {
      type: 'TrainingRun',
      cursor: 'id',
      authScopes: { authenticated: true },
      description: 'Newest first. Analysts and admins see every run; athletes their own quick updates and retrains.',
      args: {
        kind: t.arg({ type: TrainingRunKindEnum, description: 'Only runs of this kind' }),
        status: t.arg({ type: TrainingRunStatusEnum, description: 'Only runs in this status' }),
        from: t.arg({ type: 'DateTime', description: 'startedAt >= from' }),
        to: t.arg({ type: 'DateTime', description: 'startedAt <= to' }),
      },
      totalCount: (_root, args, ctx, info) => lagTolerantReader(ctx, info).trainingRun.count({ where: trainingRunsWhere(ctx, args) }),
      resolve: (query, _root, args, ctx, info) =>
        lagTolerantReader(ctx, info).trainingRun.findMany({ ...query, where: trainingRunsWhere(ctx, args), orderBy: [{ startedAt: 'desc' }, { id: 'desc' }] }),
    },
    builder.connectionObject({ type: TrainingRunRef, name: 'TrainingRunConnection', description: 'A page of training runs' }, { description: 'A training run in a page' }),
  ),
  trainingSchedule: t.field({
    type: TrainingScheduleRef,
    authScopes: { authenticated: true },
    description: 'The nightly training schedule as this instance sees it',
    resolve: (_root, _args, ctx) => ctx.services.training.schedule(),
  }),
}));

builder.mutationFields((t) => ({
  // t.field, not t.prismaField: the run is created by the job, not selected by the query (no unused-query warning).
  trainUserModel: t.field({
    type: TrainingRunRef,
    authScopes: { authenticated: true },
    rateLimit: 'trainUserModel',
    description: "Retrains one athlete's model from their sessions now (yourself; admins: anyone)",
    args: { userId: t.arg.id({ validate: uuid, description: 'Whose model (default: yours); another athlete: admins only' }) },
    resolve: (_root, args, ctx) => trainUserModel(ctx, args.userId ?? null),
  }),
  runNightlyTraining: t.field({
    type: TrainingRunRef,
    authScopes: { admin: true },
    rateLimit: 'runNightlyTraining',
    description:
      'Runs the nightly hierarchical fit now (same code path as the schedule). Returns the run; with wait: true, once it has finished. ' +
      "With slot (a tick of the schedule, UTC), it is that night's run: a slot that already succeeded returns that run and trains nothing. " +
      'Without slot it always trains.',
    args: {
      wait: t.arg.boolean({ defaultValue: false, description: 'Answer once the run has finished (default: at once, RUNNING)' }),
      slot: t.arg({ type: 'DateTime', description: "A past tick of the schedule (UTC): run that night's training" }),
    },
    resolve: (_root, args, ctx) => runNightlyTraining(ctx, args.wait ?? false, args.slot ?? null),
  }),
  setTrainingSchedulePaused: t.field({
    type: TrainingScheduleRef,
    authScopes: { admin: true },
    description: 'Pauses or resumes the nightly schedule (persisted: holds across restarts and instances)',
    args: { paused: t.arg.boolean({ required: true, description: 'true: pause; false: resume' }) },
    resolve: async (_root, args, ctx) => {
      await ctx.services.training.setPaused(args.paused);
      return ctx.services.training.schedule();
    },
  }),
}));

builder.subscriptionFields((t) => ({
  modelUpdated: t.field({
    type: ModelOutputRef,
    authScopes: { authenticated: true },
    description:
      "A user's model (default: the viewer): the current one at once on subscribe (an athlete without one yet gets the population's they are served, COLD_START with sessionsIncluded 0), then every update. A client that subscribes again after a disconnect is current without a refetch. Athletes: their own; analysts and admins: anyone's (a user who does not exist: NOT_FOUND)",
    args: { userId: t.arg.id({ validate: uuid, description: 'Whose model (default: yours); another athlete: analysts and admins only' }) },
    subscribe: (_root, args, ctx) => modelUpdates(ctx, streamableUserId(ctx, args.userId)),
    resolve: (payload, _args, ctx) => storedModelOutput(ctx, payload.userId),
  }),
}));
