import type { Context } from '../context.ts';
import { assertAdmin, readableUserId, requireViewer, canReadEveryone } from '../resolvers/access.ts';
import { modelUpdates, runNightlyTraining, trainUserModel } from '../resolvers/training.ts';
import type { TrainingSchedule } from '../jobs/training.ts';
import { builder } from './builder.ts';
import { TrainingRunKindEnum, TrainingRunStatusEnum, TrainingTriggerEnum } from './enums.ts';
import { uuid } from './ids.ts';
import { ModelOutputRef } from './model.ts';

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
    rmse: t.exposeFloat('rmse', { nullable: true }),
    mae: t.exposeFloat('mae', { nullable: true }),
    bias: t.exposeFloat('bias', { nullable: true, description: 'Mean predicted - actual' }),
    intervalCoverage: t.exposeFloat('intervalCoverage', { nullable: true, description: 'Share inside the 95 % predictive interval' }),
  }),
});

const TrainingRunRef = builder.prismaObject('TrainingRun', {
  description: 'One training job: the nightly fit, a per-user retrain or a quick update after a session',
  fields: (t) => ({
    id: t.exposeID('id'),
    kind: t.expose('kind', { type: TrainingRunKindEnum }),
    status: t.expose('status', { type: TrainingRunStatusEnum }),
    trigger: t.expose('trigger', { type: TrainingTriggerEnum }),
    user: t.relation('user', { nullable: true }),
    startedAt: t.expose('startedAt', { type: 'DateTime' }),
    finishedAt: t.expose('finishedAt', { type: 'DateTime', nullable: true }),
    usersTrained: t.exposeInt('usersTrained'),
    sessionsUsed: t.exposeInt('sessionsUsed'),
    error: t.exposeString('error', { nullable: true }),
    attempts: t.exposeInt('attempts'),
    slot: t.expose('slot', {
      type: 'DateTime',
      nullable: true,
      description: "NIGHTLY: the schedule's tick (UTC) this run is for; null for a manual run given no slot",
    }),
    stageTimings: t.expose('stageTimings', { type: 'JSON', nullable: true, description: 'Milliseconds per stage' }),
    heldOut: t.field({
      type: HeldOutErrorRef,
      nullable: true,
      description: 'Nightly runs: honest held-out error of the fit (null for other runs)',
      resolve: (r) =>
        r.heldOutN === null ? null : { n: r.heldOutN, rmse: r.heldOutRmse, mae: r.heldOutMae, bias: r.heldOutBias, intervalCoverage: r.heldOutCoverage },
    }),
  }),
});

const TrainingScheduleRef = builder.objectRef<TrainingSchedule>('TrainingSchedule').implement({
  fields: (t) => ({
    cron: t.exposeString('cron'),
    timezone: t.exposeString('timezone'),
    paused: t.exposeBoolean('paused'),
    nextRunAt: t.expose('nextRunAt', { type: 'DateTime', nullable: true, description: 'null when paused or not scheduled in this process' }),
    lastRun: t.field({ type: TrainingRunRef, nullable: true, resolve: (s) => s.lastRun }),
  }),
});

builder.queryFields((t) => ({
  trainingRuns: t.prismaConnection({
    type: 'TrainingRun',
    cursor: 'id',
    authScopes: { authenticated: true },
    description: 'Newest first. Analysts and admins see every run; athletes their own quick updates and retrains.',
    args: { kind: t.arg({ type: TrainingRunKindEnum }) },
    resolve: (query, _root, args, ctx: Context) => {
      const viewer = requireViewer(ctx);
      return ctx.services.prisma.trainingRun.findMany({
        ...query,
        where: { kind: args.kind ?? undefined, userId: canReadEveryone(viewer) ? undefined : viewer.id },
        orderBy: [{ startedAt: 'desc' }, { id: 'desc' }],
      });
    },
  }),
  trainingSchedule: t.field({
    type: TrainingScheduleRef,
    authScopes: { authenticated: true },
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
    args: { userId: t.arg.id({ validate: uuid }) },
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
    args: { wait: t.arg.boolean({ defaultValue: false }), slot: t.arg({ type: 'DateTime' }) },
    resolve: (_root, args, ctx) => runNightlyTraining(ctx, args.wait ?? false, args.slot ?? null),
  }),
  setTrainingSchedulePaused: t.field({
    type: TrainingScheduleRef,
    authScopes: { admin: true },
    description: 'Pauses or resumes the nightly schedule (persisted: holds across restarts and instances)',
    args: { paused: t.arg.boolean({ required: true }) },
    resolve: async (_root, args, ctx) => {
      assertAdmin(ctx);
      await ctx.services.training.setPaused(args.paused);
      return ctx.services.training.schedule();
    },
  }),
}));

builder.subscriptionFields((t) => ({
  modelUpdated: t.field({
    type: ModelOutputRef,
    authScopes: { authenticated: true },
    description: "Emits a user's model whenever it changes (default: the viewer)",
    args: { userId: t.arg.id({ validate: uuid }) },
    subscribe: (_root, args, ctx) => modelUpdates(ctx, readableUserId(ctx, args.userId)),
    resolve: (payload, _args, ctx) => ctx.services.prisma.modelOutput.findUniqueOrThrow({ where: { userId: payload.userId } }),
  }),
}));
