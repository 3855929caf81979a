import { z } from 'zod';
import type { Context } from '../context.ts';
import type { ModelOutput, Prisma } from '../generated/prisma/client.ts';
import type { FitDiagnostics } from '../engine/bayes.ts';
import { TERM_NAMES, termArray } from '../engine/variables.ts';
import { canReadEveryone, readableUserId, requireViewer } from '../resolvers/access.ts';
import { builder } from './builder.ts';
import { ModelPhaseEnum } from './enums.ts';
import { uuid } from './ids.ts';
import type { ModelSnapshotEntry } from '../resolvers/loaders.ts';
import { VariableValueRef } from './recommendation.ts';

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
    value: t.exposeFloat('value'),
    lower: t.exposeFloat('lower'),
    upper: t.exposeFloat('upper'),
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
    fittedAt: t.expose('fittedAt', { type: 'DateTime' }),
    phase: t.expose('phase', { type: ModelPhaseEnum, nullable: true }),
    sessionsIncluded: t.exposeInt('sessionsIncluded'),
    coefficients: t.field({ type: [VariableValueRef], description: 'Served coefficients (quality points per unit)', resolve: (s) => variableValues(s.coefficients) }),
    populationCoefficients: t.field({ type: [VariableValueRef], description: 'The population means of the same fit', resolve: (s) => variableValues(s.populationCoefficients) }),
  }),
});

export const ModelOutputRef = builder.prismaObject('ModelOutput', {
  description: "An athlete's fitted model: posterior coefficients, phase and how much is personal vs population",
  fields: (t) => ({
    id: t.exposeID('id'),
    user: t.relation('user'),
    phase: t.expose('phase', { type: ModelPhaseEnum }),
    sessionsIncluded: t.exposeInt('sessionsIncluded'),
    shrinkageFactor: t.exposeFloat('shrinkageFactor', { description: '0 = population, 1 = fully personal' }),
    modelVersion: t.exposeString('modelVersion'),
    lastTrainedAt: t.expose('lastTrainedAt', { type: 'DateTime' }),
    trainingDurationMs: t.exposeFloat('trainingDurationMs'),
    coefficients: t.field({ type: [CoefficientRef], resolve: (m) => coefficientRows(m.coefficients, m.credibleIntervals) }),
    history: t.field({
      type: [ModelSnapshotRef],
      description: 'One snapshot per nightly fit, oldest first, within the retention period (MODEL_HISTORY_RETENTION_DAYS)',
      args: { from: t.arg({ type: 'DateTime' }), to: t.arg({ type: 'DateTime' }) },
      select: { userId: true },
      resolve: async (m, args, ctx) =>
        (await ctx.loaders.modelHistory.load(m.userId)).filter((s) => (!args.from || s.fittedAt >= args.from) && (!args.to || s.fittedAt <= args.to)),
    }),
  }),
});

const FitDiagnosticsRef = builder.objectRef<FitDiagnostics>('FitDiagnostics').implement({
  description: 'How the nightly variational fit went',
  fields: (t) => ({
    iterations: t.exposeInt('iterations', { description: 'Variational sweeps over all athletes' }),
    converged: t.exposeBoolean('converged'),
    delta: t.exposeFloat('delta', { description: 'Final change between sweeps' }),
    elbo: t.exposeFloat('elbo', { description: 'Evidence lower bound (nats) after the last sweep' }),
    elboTrace: t.exposeFloatList('elboTrace', { description: 'The last values of the ELBO, oldest first' }),
    usersWithData: t.exposeInt('usersWithData'),
    sessions: t.exposeInt('sessions'),
    tau2Prior: t.exposeString('tau2Prior', { description: 'Prior on the between-athlete variances' }),
    elapsedMs: t.exposeFloat('elapsedMs'),
  }),
});

builder.prismaObject('PopulationModel', {
  description: 'Hyperparameters of the last nightly hierarchical fit',
  fields: (t) => ({
    id: t.exposeID('id'),
    fittedAt: t.expose('fittedAt', { type: 'DateTime' }),
    usersIncluded: t.exposeInt('usersIncluded'),
    sessionsIncluded: t.exposeInt('sessionsIncluded'),
    modelVersion: t.exposeString('modelVersion'),
    sigma: t.float({ description: 'Residual sd of session quality', resolve: (m) => Math.sqrt(m.sigma2) }),
    coefficients: t.field({
      type: [CoefficientRef],
      description: 'Population means (mu) with 95 % intervals',
      resolve: (m) => {
        const mu = termArray(m.mu) ?? [];
        const sd = termArray(m.muSd) ?? [];
        return mu.map((value, j) => ({ variable: TERM_NAMES[j], value, lower: value - 1.96 * sd[j], upper: value + 1.96 * sd[j] }));
      },
    }),
    betweenAthleteSd: t.field({
      type: [VariableValueRef],
      description: 'tau: how much athletes differ from each other, per variable',
      resolve: (m) => (termArray(m.tau2) ?? []).map((tau2, j) => ({ variable: TERM_NAMES[j], value: Math.sqrt(tau2) })),
    }),
    diagnostics: t.field({ type: FitDiagnosticsRef, nullable: true, resolve: (m) => (m.diagnostics as FitDiagnostics | null) ?? null }),
  }),
});

builder.prismaObject('PopulationStatistic', {
  description: 'Observed distribution of a check-in variable (or sessionQuality) over completed sessions',
  fields: (t) => ({
    variable: t.exposeString('variable'),
    mean: t.exposeFloat('mean'),
    std: t.exposeFloat('std'),
    min: t.exposeFloat('min'),
    max: t.exposeFloat('max'),
    n: t.exposeInt('n'),
    computedAt: t.expose('computedAt', { type: 'DateTime' }),
  }),
});

function modelOutputsWhere(ctx: Context, args: { phase?: ModelOutput['phase'] | null; minSessions?: number | null }): Prisma.ModelOutputWhereInput {
  const viewer = requireViewer(ctx);
  return {
    phase: args.phase ?? undefined,
    sessionsIncluded: args.minSessions != null ? { gte: args.minSessions } : undefined,
    userId: canReadEveryone(viewer) ? undefined : viewer.id,
  };
}

builder.queryFields((t) => ({
  modelOutput: t.prismaField({
    type: 'ModelOutput',
    nullable: true,
    authScopes: { authenticated: true },
    description: "A user's model (default: the viewer); null before the first training",
    args: { userId: t.arg.id({ validate: uuid }) },
    resolve: (query, _root, args, ctx) => ctx.services.prisma.modelOutput.findUnique({ ...query, where: { userId: readableUserId(ctx, args.userId) } }),
  }),
  modelOutputs: t.prismaConnection(
    {
      type: 'ModelOutput',
      cursor: 'id',
      authScopes: { authenticated: true },
      description: 'Model outputs (analysts and admins: everyone; athletes: their own)',
      args: {
        phase: t.arg({ type: ModelPhaseEnum }),
        minSessions: t.arg.int({ validate: z.number().int().min(0, { error: 'must not be negative' }), description: 'sessionsIncluded >= minSessions' }),
      },
      totalCount: (_root, args, ctx) => ctx.services.prisma.modelOutput.count({ where: modelOutputsWhere(ctx, args) }),
      resolve: (query, _root, args, ctx) => ctx.services.prisma.modelOutput.findMany({ ...query, where: modelOutputsWhere(ctx, args), orderBy: { id: 'asc' } }),
    },
    builder.connectionObject({ type: ModelOutputRef, name: 'ModelOutputConnection' }),
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
    resolve: (query, _root, _args, ctx) => ctx.services.prisma.populationStatistic.findMany({ ...query, orderBy: { variable: 'asc' } }),
  }),
}));
