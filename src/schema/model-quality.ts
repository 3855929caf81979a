// modelQuality: live error, interval coverage and calibration of the MODEL recommendations against ratings.
import { modelQuality, type CalibrationBin, type ModelQuality, type QualityFigures } from '../resolvers/model-quality.ts';
import type { ModelPhase } from '../generated/prisma/client.ts';
import { builder } from './builder.ts';
import { ModelPhaseEnum } from './enums.ts';
import { uuid } from './ids.ts';

const CalibrationBinRef = builder.objectRef<CalibrationBin>('CalibrationBin').implement({
  description: 'Sessions whose predicted quality fell in [low, high) (the last band includes 10)',
  fields: (t) => ({
    low: t.exposeFloat('low', { description: 'Lower end of the band of predicted quality' }),
    high: t.exposeFloat('high', { description: 'Upper end of the band' }),
    n: t.exposeInt('n', { description: 'Sessions in the band' }),
    meanPredicted: t.exposeFloat('meanPredicted', { description: 'Their mean predicted quality' }),
    meanActual: t.exposeFloat('meanActual', { description: 'Their mean actual rating' }),
  }),
});

const figureFields = {
  n: { description: 'Completed, rated sessions started with a MODEL recommendation' },
  rmse: { description: 'Root mean squared error of the predicted quality (null when n = 0)' },
  mae: { description: 'Mean absolute error' },
  bias: { description: 'Mean predicted - actual: positive = the model promised too much' },
  intervalCoverage: { description: 'Share of actual ratings inside the 95 % predictive interval' },
} as const;

const PhaseQualityRef = builder.objectRef<QualityFigures & { phase: ModelPhase }>('PhaseQuality').implement({
  description: 'The quality figures of the recommendations given in one model phase',
  fields: (t) => ({
    phase: t.expose('phase', { type: ModelPhaseEnum, description: 'The model phase the recommendations were given in' }),
    n: t.exposeInt('n', figureFields.n),
    rmse: t.exposeFloat('rmse', { nullable: true, ...figureFields.rmse }),
    mae: t.exposeFloat('mae', { nullable: true, ...figureFields.mae }),
    bias: t.exposeFloat('bias', { nullable: true, ...figureFields.bias }),
    intervalCoverage: t.exposeFloat('intervalCoverage', { nullable: true, ...figureFields.intervalCoverage }),
  }),
});

const ModelQualityRef = builder.objectRef<ModelQuality>('ModelQuality').implement({
  description: 'How well the predictions shown came true: MODEL recommendations against the ratings of the sessions started with them',
  fields: (t) => ({
    n: t.exposeInt('n', figureFields.n),
    rmse: t.exposeFloat('rmse', { nullable: true, ...figureFields.rmse }),
    mae: t.exposeFloat('mae', { nullable: true, ...figureFields.mae }),
    bias: t.exposeFloat('bias', { nullable: true, ...figureFields.bias }),
    intervalCoverage: t.exposeFloat('intervalCoverage', { nullable: true, ...figureFields.intervalCoverage }),
    calibration: t.field({ type: [CalibrationBinRef], description: 'By predicted-quality band of width 1; empty bands are left out', resolve: (q) => q.calibration }),
    byPhase: t.field({ type: [PhaseQualityRef], description: 'The same figures per model phase at the time of the recommendation', resolve: (q) => q.byPhase }),
  }),
});

builder.queryFields((t) => ({
  modelQuality: t.field({
    type: ModelQualityRef,
    authScopes: { authenticated: true },
    rateLimit: 'modelQuality',
    description: 'Live model quality over completed, rated sessions linked to a MODEL recommendation. Analysts and admins: everyone (or userId); athletes: themselves only.',
    args: {
      from: t.arg({ type: 'DateTime', description: 'Session startedAt >= from' }),
      to: t.arg({ type: 'DateTime', description: 'Session startedAt <= to' }),
      phase: t.arg({ type: ModelPhaseEnum, description: 'The model phase the recommendation was given in' }),
      userId: t.arg.id({ validate: uuid, description: 'Only this athlete (another athlete: analysts, admins and their linked coaches)' }),
    },
    resolve: (_root, args, ctx) => modelQuality(ctx, args),
  }),
}));
