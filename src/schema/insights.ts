// insights: the analyst's aggregates over a period. Each selected part runs its own single SQL statement.
import type { StandardizedEffect } from '../engine/effects.ts';
import type { ModelPhase } from '../generated/prisma/client.ts';
import { roundRating } from '../engine/rounding.ts';
import {
  athletesByPhase,
  insightsPeriod,
  populationEffects,
  qualityHistogram,
  ruleInsights,
  sessionsOverTime,
  type InsightsPeriod,
  type RuleInsight,
  type TimeBucketCount,
} from '../resolvers/insights.ts';
import { builder } from './builder.ts';
import { ModelPhaseEnum } from './enums.ts';

export const TimeBucketEnum = builder.enumType('TimeBucket', {
  description: 'UTC calendar buckets; a WEEK starts on Monday',
  values: {
    DAY: { description: 'A UTC day' },
    WEEK: { description: 'A week from Monday 00:00 UTC' },
    MONTH: { description: 'A calendar month (UTC)' },
  } as const,
});

const PhaseCountRef = builder.objectRef<{ phase: ModelPhase; count: number }>('PhaseCount').implement({
  description: 'Athletes in one model phase',
  fields: (t) => ({
    phase: t.expose('phase', { type: ModelPhaseEnum, description: 'The phase' }),
    count: t.exposeInt('count', { description: 'Athletes in it' }),
  }),
});

const TimeBucketCountRef = builder.objectRef<TimeBucketCount>('TimeBucketCount').implement({
  description: 'Completed sessions in one time bucket',
  fields: (t) => ({
    start: t.expose('start', { type: 'DateTime', description: 'First instant of the bucket (UTC)' }),
    count: t.exposeInt('count', { description: 'Completed sessions started in the bucket' }),
    meanQuality: t.float({ nullable: true, description: 'null for a bucket without sessions', resolve: (b) => roundRating(b.meanQuality) }),
  }),
});

const QualityCountRef = builder.objectRef<{ quality: number; count: number }>('QualityCount').implement({
  description: 'Completed sessions with one rating',
  fields: (t) => ({
    quality: t.exposeInt('quality', { description: 'The rating, 1-10' }),
    count: t.exposeInt('count', { description: 'Sessions rated so' }),
  }),
});

const RuleInsightRef = builder.objectRef<RuleInsight>('RuleInsight').implement({
  description: 'How often a rule matched in the period and the quality that followed',
  fields: (t) => ({
    name: t.exposeString('name', { description: 'The rule name' }),
    matched: t.exposeInt('matched', { description: 'Completed sessions of the period whose recommendation matched the rule (0: never matched)' }),
    meanQuality: t.float({ nullable: true, description: 'Their mean session quality (null when the rule never matched in the period)', resolve: (r) => roundRating(r.meanQuality) }),
    meanQualityOthers: t.float({
      nullable: true,
      description: "Mean quality of the period's other completed sessions (null when there are none)",
      resolve: (r) => roundRating(r.meanQualityOthers),
    }),
  }),
});

const EffectRef = builder.objectRef<StandardizedEffect>('StandardizedEffect').implement({
  description: 'A population effect in quality points per standard deviation of the observed variable',
  fields: (t) => ({
    variable: t.exposeString('variable', { description: 'The model variable (camelCase name)' }),
    perSd: t.exposeFloat('perSd', { description: 'mu * sd: the effect of one sd of the variable' }),
    lower: t.exposeFloat('lower', { description: 'Lower bound of the 95 % interval of perSd' }),
    upper: t.exposeFloat('upper', { description: 'Upper bound of the 95 % interval of perSd' }),
    betweenAthleteSd: t.exposeFloat('betweenAthleteSd', { description: 'tau * sd: how much athletes differ in this effect' }),
  }),
});

const InsightsRef = builder.objectRef<InsightsPeriod>('Insights').implement({
  description: 'Aggregates over completed sessions started in the period (both ends inclusive, either open)',
  fields: (t) => ({
    from: t.expose('from', { type: 'DateTime', nullable: true, description: 'Start of the period as asked; null: open' }),
    to: t.expose('to', { type: 'DateTime', nullable: true, description: 'End of the period as asked; null: open' }),
    athletesByPhase: t.field({
      type: [PhaseCountRef],
      description: 'Athletes per current model phase (not limited to the period); never trained counts as COLD_START',
      resolve: (_p, _args, ctx) => athletesByPhase(ctx),
    }),
    sessionsOverTime: t.field({
      type: [TimeBucketCountRef],
      description: 'Every bucket from the first to the last with sessions, oldest first',
      args: { bucket: t.arg({ type: TimeBucketEnum, required: true, defaultValue: 'WEEK', description: 'Bucket size (default WEEK)' }) },
      resolve: (p, args, ctx) => sessionsOverTime(ctx, p, args.bucket),
    }),
    qualityHistogram: t.field({
      type: [QualityCountRef],
      description: 'Sessions per quality 1-10',
      resolve: (p, _args, ctx) => qualityHistogram(ctx, p),
    }),
    rules: t.field({
      type: [RuleInsightRef],
      description: 'Every active rule (matched = 0 when it never matched in the period) and any other rule that matched in it; most matched first, then by name',
      resolve: (p, _args, ctx) => ruleInsights(ctx, p),
    }),
    effects: t.field({
      type: [EffectRef],
      description: 'Standardized population effects of the nightly fit in force at `to`, largest first; empty before the first fit',
      resolve: (p, _args, ctx) => populationEffects(ctx, p),
    }),
  }),
});

builder.queryFields((t) => ({
  insights: t.field({
    type: InsightsRef,
    authScopes: { reader: true },
    rateLimit: 'insights',
    description: 'Aggregates for analysts and admins',
    args: {
      from: t.arg({ type: 'DateTime', description: 'Sessions started at or after this instant (default: open)' }),
      to: t.arg({ type: 'DateTime', description: 'Sessions started at or before this instant (default: open)' }),
    },
    resolve: (_root, args, _ctx) => insightsPeriod(args.from, args.to),
  }),
}));
