// modelQuality: live error, interval coverage and calibration of the MODEL recommendations against ratings, over
// everything, per phase, per time bucket and per athlete (each part one SQL statement, run only when selected).
import { offsetForArgs, resolveOffsetConnection } from '@pothos/plugin-relay';
import {
  byAthlete,
  byPhase,
  modelQualityScope,
  overallFigures,
  overTime,
  phaseCalibration,
  type AthleteQuality,
  type BucketQuality,
  type CalibrationBin,
  type ModelQualityScope,
  type PhaseQuality,
} from '../resolvers/model-quality.ts';
import { builder } from './builder.ts';
import { ModelPhaseEnum, OrderDirectionEnum } from './enums.ts';
import { uuid } from './ids.ts';
import { TimeBucketEnum } from './insights.ts';

const CalibrationBinRef = builder.objectRef<CalibrationBin>('CalibrationBin').implement({
  description: 'Sessions whose predicted quality fell in [low, high) (the last band includes 10)',
  fields: (t) => ({
    low: t.exposeFloat('low', { description: 'Lower end of the band of predicted quality' }),
    high: t.exposeFloat('high', { description: 'Upper end of the band' }),
    n: t.exposeInt('n', { description: 'Sessions in the band' }),
    meanPredicted: t.exposeFloat('meanPredicted', { description: 'Their mean predicted quality (2 decimals)' }),
    meanActual: t.exposeFloat('meanActual', { description: 'Their mean actual rating (2 decimals)' }),
  }),
});

const figureFields = {
  n: { description: 'Completed, rated sessions started with a MODEL recommendation' },
  rmse: { description: 'Root mean squared error of the predicted quality, in quality points (2 decimals; null when n = 0)' },
  mae: { description: 'Mean absolute error, in quality points (2 decimals)' },
  bias: { description: 'Mean predicted - actual, in quality points (2 decimals): positive = the model promised too much' },
  intervalCoverage: { description: 'Share of actual ratings inside the 95 % predictive interval (0-1, 4 decimals)' },
} as const;

const PhaseQualityRef = builder.objectRef<PhaseQuality>('PhaseQuality').implement({
  description: 'The quality figures of the recommendations given in one model phase',
  fields: (t) => ({
    phase: t.expose('phase', { type: ModelPhaseEnum, description: 'The model phase the recommendations were given in' }),
    n: t.exposeInt('n', figureFields.n),
    rmse: t.exposeFloat('rmse', { nullable: true, ...figureFields.rmse }),
    mae: t.exposeFloat('mae', { nullable: true, ...figureFields.mae }),
    bias: t.exposeFloat('bias', { nullable: true, ...figureFields.bias }),
    intervalCoverage: t.exposeFloat('intervalCoverage', { nullable: true, ...figureFields.intervalCoverage }),
    calibration: t.field({
      type: [CalibrationBinRef],
      description: "This phase's calibration bands; empty bands are left out",
      resolve: (p, _a, ctx) => phaseCalibration(ctx, p.scope, p.phase),
    }),
  }),
});

const BucketQualityRef = builder.objectRef<BucketQuality>('BucketQuality').implement({
  description: 'The quality figures of the sessions started in one time bucket',
  fields: (t) => ({
    start: t.expose('start', { type: 'DateTime', description: 'First instant of the bucket (UTC)' }),
    n: t.exposeInt('n', figureFields.n),
    rmse: t.exposeFloat('rmse', { nullable: true, ...figureFields.rmse }),
    mae: t.exposeFloat('mae', { nullable: true, ...figureFields.mae }),
    bias: t.exposeFloat('bias', { nullable: true, ...figureFields.bias }),
    intervalCoverage: t.exposeFloat('intervalCoverage', { nullable: true, ...figureFields.intervalCoverage }),
  }),
});

const AthleteQualityRef = builder.objectRef<AthleteQuality>('AthleteQuality').implement({
  description: "The quality figures of one athlete's predictions",
  fields: (t) => ({
    userId: t.exposeID('userId', { description: "The athlete's id" }),
    user: t.prismaField({
      type: 'User',
      description: 'The athlete',
      resolve: (query, row, _args, ctx) => ctx.services.prisma.user.findUniqueOrThrow({ ...query, where: { id: row.userId } }),
    }),
    n: t.exposeInt('n', figureFields.n),
    rmse: t.exposeFloat('rmse', { nullable: true, ...figureFields.rmse }),
    mae: t.exposeFloat('mae', { nullable: true, ...figureFields.mae }),
    bias: t.exposeFloat('bias', { nullable: true, ...figureFields.bias }),
    intervalCoverage: t.exposeFloat('intervalCoverage', { nullable: true, ...figureFields.intervalCoverage }),
  }),
});

const AthleteQualityOrderFieldEnum = builder.enumType('AthleteQualityOrderField', {
  description: "What athletes' quality figures are sorted by",
  values: {
    RMSE: { description: 'Root mean squared error' },
    MAE: { description: 'Mean absolute error' },
    BIAS: { description: 'Mean predicted - actual (signed: DESC puts the most over-promised first)' },
    ABS_BIAS: { description: 'Size of the bias, either sign' },
    COVERAGE: { description: 'Interval coverage' },
    SESSIONS: { description: 'Scored sessions' },
  } as const,
});

const AthleteQualityOrderInput = builder.inputType('AthleteQualityOrder', {
  description: 'Ties are broken by the athlete id, in the same direction',
  fields: (t) => ({
    field: t.field({ type: AthleteQualityOrderFieldEnum, required: true, defaultValue: 'RMSE', description: 'Default: RMSE' }),
    direction: t.field({ type: OrderDirectionEnum, required: true, defaultValue: 'DESC', description: 'Default: DESC (the worst first, for RMSE)' }),
  }),
});

const ModelQualityRef = builder.objectRef<ModelQualityScope>('ModelQuality').implement({
  description: 'How well the predictions shown came true: MODEL recommendations against the ratings of the sessions started with them',
  fields: (t) => ({
    n: t.int({ ...figureFields.n, resolve: async (s, _a, ctx) => (await overallFigures(ctx, s)).n }),
    rmse: t.float({ nullable: true, ...figureFields.rmse, resolve: async (s, _a, ctx) => (await overallFigures(ctx, s)).rmse }),
    mae: t.float({ nullable: true, ...figureFields.mae, resolve: async (s, _a, ctx) => (await overallFigures(ctx, s)).mae }),
    bias: t.float({ nullable: true, ...figureFields.bias, resolve: async (s, _a, ctx) => (await overallFigures(ctx, s)).bias }),
    intervalCoverage: t.float({ nullable: true, ...figureFields.intervalCoverage, resolve: async (s, _a, ctx) => (await overallFigures(ctx, s)).intervalCoverage }),
    calibration: t.field({
      type: [CalibrationBinRef],
      description: 'By predicted-quality band of width 1; empty bands are left out',
      resolve: (s, _a, ctx) => phaseCalibration(ctx, s, null),
    }),
    byPhase: t.field({
      type: [PhaseQualityRef],
      description: 'The same figures per model phase at the time of the recommendation: every phase (the one asked for, with `phase`), in the order COLD_START, LEARNING, PERSONALIZED',
      resolve: (s, _a, ctx) => byPhase(ctx, s),
    }),
    overTime: t.field({
      type: [BucketQualityRef],
      description: 'The same figures per time bucket (UTC): every bucket from the first to the last with a scored session, oldest first',
      args: { bucket: t.arg({ type: TimeBucketEnum, required: true, defaultValue: 'WEEK', description: 'Bucket size (default WEEK)' }) },
      resolve: (s, args, ctx) => overTime(ctx, s, args.bucket),
    }),
    byAthlete: t.connection(
      {
        type: AthleteQualityRef,
        description:
          "The same figures per athlete, ordered by the database (default: RMSE, worst first): which athletes' predictions are worst. Only athletes with at least minSessions scored sessions",
        args: {
          minSessions: t.arg.int({ defaultValue: 1, description: 'Scored sessions an athlete needs to be listed (default 1)' }),
          orderBy: t.arg({ type: AthleteQualityOrderInput, defaultValue: { field: 'RMSE', direction: 'DESC' }, description: 'Default: RMSE, DESC' }),
        },
        resolve: async (s, args, ctx) => {
          const { offset, limit } = offsetForArgs({ args, defaultSize: 20, maxSize: 100 });
          const page = await byAthlete(ctx, s, {
            minSessions: args.minSessions ?? 1,
            orderBy: args.orderBy ?? { field: 'RMSE', direction: 'DESC' },
            offset,
            limit,
          });
          return resolveOffsetConnection({ args, defaultSize: 20, maxSize: 100, totalCount: page.totalCount }, () => page.rows);
        },
      },
      builder.connectionObject({ type: AthleteQualityRef, name: 'AthleteQualityConnection', description: "A page of athletes' quality figures" }, { description: "An athlete's figures in a page" }),
    ),
  }),
});

builder.queryFields((t) => ({
  modelQuality: t.field({
    type: ModelQualityRef,
    authScopes: { authenticated: true },
    rateLimit: 'modelQuality',
    description:
      'Live model quality over completed, rated sessions linked to a MODEL recommendation. Analysts and admins: everyone (or userId); athletes: themselves only. ' +
      'One call answers the summary, the calibration, per phase, per time bucket and per athlete: each part selected counts once against RATE_LIMIT_MODEL_QUALITY with its modelQuality field.',
    args: {
      from: t.arg({ type: 'DateTime', description: 'Session startedAt >= from' }),
      to: t.arg({ type: 'DateTime', description: 'Session startedAt <= to' }),
      phase: t.arg({ type: ModelPhaseEnum, description: 'The model phase the recommendation was given in' }),
      userId: t.arg.id({ validate: uuid, description: 'Only this athlete (another athlete: analysts, admins and their linked coaches)' }),
    },
    resolve: (_root, args, ctx) => modelQualityScope(ctx, args),
  }),
}));
