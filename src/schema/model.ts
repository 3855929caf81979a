import { z } from 'zod';
import type { Context } from '../context.ts';
import type { ModelOutput, Prisma } from '../generated/prisma/client.ts';
import type { FitDiagnostics } from '../engine/bayes/index.ts';
import { Z95 } from '../engine/normal.ts';
import { TERM_NAMES, termArray } from '../engine/variables.ts';
import { readableUserId, viewerOwnerFilter } from '../resolvers/access.ts';
import { builder } from './builder.ts';
import { ModelPhaseEnum } from './enums.ts';
import { uuid } from './ids.ts';
import type { ModelSnapshotEntry } from '../resolvers/loaders.ts';
import { VariableValueRef } from './recommendation.ts';
import { lagTolerantReader, replicaAllowed } from '../resolvers/read-routing.ts';

interface Coefficient {
  variable: string;
  value: number;
  lower: number;
  upper: number;
}

const CoefficientRef = builder.objectRef<Coefficient>('Coefficient').implement({
  description: 'A model coefficient (quality points per unit of the variable) with its 95 % credible interval',
  fields: (t) => ({
    variable: t.exposeString('variable', { description: 'camelCase variable name, or intercept' }),
    value: t.exposeFloat('value', { description: 'The estimate (posterior mean)' }),
    lower: t.exposeFloat('lower', { description: 'Lower end of the 95 % interval' }),
    upper: t.exposeFloat('upper', { description: 'Upper end of the 95 % interval' }),
  }),
});

/** Stored { variable: value } and { variable: [lo, hi] } -> coefficient rows in model-term order. */
function coefficientRows(values: unknown, intervals: unknown): Coefficient[] {
  const v = (values ?? {}) as Record<string, unknown>;
  const ci = (intervals ?? {}) as Record<string, unknown>;
  return TERM_NAMES.flatMap((variable) => {
    const value = v[variable];
    const range = ci[variable];
    if (typeof value !== 'number') return [];
    const [lower, upper] = Array.isArray(range) && range.length === 2 ? (range as [number, number]) : [value, value];
    return [{ variable, value, lower, upper }];
  });
}

/** Stored { variable: value } -> rows in model-term order. */
function variableValues(values: unknown): { variable: string; value: number }[] {
  const v = (values ?? {}) as Record<string, unknown>;
  return TERM_NAMES.flatMap((variable) => (typeof v[variable] === 'number' ? [{ variable, value: v[variable] as number }] : []));
}

const ModelSnapshotRef = builder.objectRef<ModelSnapshotEntry>('ModelSnapshot').implement({
  description: "An athlete's served model as one nightly fit left it, beside the population's of the same fit",
  fields: (t) => ({
    fittedAt: t.expose('fittedAt', { type: 'DateTime', description: 'When that nightly fit ran' }),
    phase: t.expose('phase', { type: ModelPhaseEnum, nullable: true, description: "The athlete's phase after it; null if not recorded" }),
    sessionsIncluded: t.exposeInt('sessionsIncluded', { description: 'Rated sessions the fit saw for the athlete' }),
    coefficients: t.field({ type: [VariableValueRef], description: 'Served coefficients (quality points per unit)', resolve: (s) => variableValues(s.coefficients) }),
    populationCoefficients: t.field({ type: [VariableValueRef], description: 'The population means of the same fit', resolve: (s) => variableValues(s.populationCoefficients) }),
  }),
});

export const ModelOutputRef = builder.prismaObject('ModelOutput', {
  description: "An athlete's fitted model: posterior coefficients, phase and how much is personal vs population",
  fields: (t) => ({
    id: t.exposeID('id', { description: 'The model id (uuid)' }),
    user: t.relation('user', { description: 'The athlete' }),
    phase: t.expose('phase', { type: ModelPhaseEnum, description: 'How personal the model is' }),
    sessionsIncluded: t.exposeInt('sessionsIncluded', { description: 'Rated sessions the model has seen' }),
    shrinkageFactor: t.exposeFloat('shrinkageFactor', { description: '0 = population, 1 = fully personal' }),
    modelVersion: t.exposeString('modelVersion', { description: 'Version of the model code that fitted it' }),
    lastTrainedAt: t.expose('lastTrainedAt', { type: 'DateTime', description: 'When it last changed (nightly fit, retrain or quick update)' }),
    trainingDurationMs: t.exposeFloat('trainingDurationMs', { description: 'Milliseconds that update took' }),
    coefficients: t.field({ type: [CoefficientRef], description: 'Per variable, in model-term order, intercept first', resolve: (m) => coefficientRows(m.coefficients, m.credibleIntervals) }),
    history: t.field({
      type: [ModelSnapshotRef],
      description: 'One snapshot per nightly fit, oldest first, within the retention period (MODEL_HISTORY_RETENTION_DAYS)',
      args: {
        from: t.arg({ type: 'DateTime', description: 'Only fits at or after this instant' }),
        to: t.arg({ type: 'DateTime', description: 'Only fits at or before this instant' }),
      },
      select: { userId: true },
      resolve: async (m, args, ctx, info) =>
        (await (replicaAllowed(ctx, info, m.userId) ? ctx.loaders.lagTolerantModelHistory : ctx.loaders.modelHistory).load(m.userId)).filter(
          (s) => (!args.from || s.fittedAt >= args.from) && (!args.to || s.fittedAt <= args.to),
        ),
    }),
  }),
});

const FitDiagnosticsRef = builder.objectRef<FitDiagnostics>('FitDiagnostics').implement({
  description: 'How the nightly variational fit went',
  fields: (t) => ({
    iterations: t.exposeInt('iterations', { description: 'Variational sweeps over all athletes' }),
    converged: t.exposeBoolean('converged', { description: 'Did the ELBO settle before the iteration limit?' }),
    delta: t.exposeFloat('delta', { description: 'Final change between sweeps' }),
    elbo: t.exposeFloat('elbo', { description: 'Evidence lower bound (nats) after the last sweep' }),
    elboTrace: t.exposeFloatList('elboTrace', { description: 'The last values of the ELBO, oldest first' }),
    usersWithData: t.exposeInt('usersWithData', { description: 'Athletes with at least one rated session' }),
    sessions: t.exposeInt('sessions', { description: 'Rated sessions fitted' }),
    tau2Prior: t.exposeString('tau2Prior', { description: 'Prior on the between-athlete variances' }),
    elapsedMs: t.exposeFloat('elapsedMs', { description: 'Milliseconds the fit took' }),
  }),
});

builder.prismaObject('PopulationModel', {
  description: 'Hyperparameters of the last nightly hierarchical fit',
  fields: (t) => ({
    id: t.exposeID('id', { description: 'The fit id (uuid)' }),
    fittedAt: t.expose('fittedAt', { type: 'DateTime', description: 'When the nightly fit ran' }),
    usersIncluded: t.exposeInt('usersIncluded', { description: 'Athletes in the fit' }),
    sessionsIncluded: t.exposeInt('sessionsIncluded', { description: 'Rated sessions in the fit' }),
    modelVersion: t.exposeString('modelVersion', { description: 'Version of the model code that fitted it' }),
    sigma: t.float({ description: 'Residual sd of session quality', resolve: (m) => Math.sqrt(m.sigma2) }),
    coefficients: t.field({
      type: [CoefficientRef],
      description: 'Population means (mu) with 95 % intervals',
      resolve: (m) => {
        const mu = termArray(m.mu) ?? [];
        const sd = termArray(m.muSd) ?? [];
        return mu.map((value, j) => ({ variable: TERM_NAMES[j], value, lower: value - Z95 * sd[j], upper: value + Z95 * sd[j] }));
      },
    }),
    betweenAthleteSd: t.field({
      type: [VariableValueRef],
      description: 'tau: how much athletes differ from each other, per variable',
      resolve: (m) => (termArray(m.tau2) ?? []).map((tau2, j) => ({ variable: TERM_NAMES[j], value: Math.sqrt(tau2) })),
    }),
    diagnostics: t.field({ type: FitDiagnosticsRef, nullable: true, description: 'How the fit went; null if not recorded', resolve: (m) => (m.diagnostics as FitDiagnostics | null) ?? null }),
  }),
});

builder.prismaObject('PopulationStatistic', {
  description: 'Observed distribution of a check-in variable (or sessionQuality) over completed sessions',
  fields: (t) => ({
    variable: t.exposeString('variable', { description: 'The check-in variable (camelCase name) or sessionQuality' }),
    mean: t.exposeFloat('mean', { description: 'Mean, in the unit of the variable' }),
    std: t.exposeFloat('std', { description: 'Standard deviation' }),
    min: t.exposeFloat('min', { description: 'Smallest value seen' }),
    max: t.exposeFloat('max', { description: 'Largest value seen' }),
    n: t.exposeInt('n', { description: 'Completed sessions with a value' }),
    computedAt: t.expose('computedAt', { type: 'DateTime', description: 'When the nightly run computed it' }),
  }),
});

function modelOutputsWhere(ctx: Context, args: { phase?: ModelOutput['phase'] | null; minSessions?: number | null }): Prisma.ModelOutputWhereInput {
  return {
    phase: args.phase ?? undefined,
    sessionsIncluded: args.minSessions != null ? { gte: args.minSessions } : undefined,
    userId: viewerOwnerFilter(ctx),
  };
}

builder.queryFields((t) => ({
  modelOutput: t.prismaField({
    type: 'ModelOutput',
    nullable: true,
    authScopes: { authenticated: true },
    description: "A user's model (default: the viewer); null before the first training",
    args: { userId: t.arg.id({ validate: uuid, description: 'Whose (default: yours); another user: analysts, admins and their linked coaches' }) },
    resolve: async (query, _root, args, ctx, info) => {
      const userId = await readableUserId(ctx, args.userId);
      return lagTolerantReader(ctx, info, userId).modelOutput.findUnique({ ...query, where: { userId } });
    },
  }),
  modelOutputs: t.prismaConnection(
    {
      type: 'ModelOutput',
      cursor: 'id',
      authScopes: { authenticated: true },
      description: 'Model outputs (analysts and admins: everyone; athletes: their own)',
      args: {
        phase: t.arg({ type: ModelPhaseEnum, description: 'Only models in this phase' }),
        minSessions: t.arg.int({ validate: z.number().int().min(0, { error: 'must not be negative' }), description: 'sessionsIncluded >= minSessions' }),
      },
      totalCount: (_root, args, ctx, info) => lagTolerantReader(ctx, info).modelOutput.count({ where: modelOutputsWhere(ctx, args) }),
      resolve: (query, _root, args, ctx, info) => lagTolerantReader(ctx, info).modelOutput.findMany({ ...query, where: modelOutputsWhere(ctx, args), orderBy: { id: 'asc' } }),
    },
    builder.connectionObject({ type: ModelOutputRef, name: 'ModelOutputConnection', description: "A page of athletes' models" }, { description: "An athlete's model in a page" }),
  ),
  populationModel: t.prismaField({
    type: 'PopulationModel',
    nullable: true,
    authScopes: { authenticated: true },
    description: 'The latest nightly fit; null before the first one',
    resolve: (query, _root, _args, ctx) => ctx.services.prisma.populationModel.findFirst({ ...query, orderBy: { fittedAt: 'desc' } }),
  }),
  populationStatistics: t.prismaField({
    type: ['PopulationStatistic'],
    authScopes: { authenticated: true },
    description: 'The observed distribution of each variable from the last nightly run, by variable name',
    resolve: (query, _root, _args, ctx) => ctx.services.prisma.populationStatistic.findMany({ ...query, orderBy: { variable: 'asc' } }),
  }),
}));
