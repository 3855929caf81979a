import type { StatisticalContext } from '../engine/statistics.ts';
import type { Constraints, Contribution, ModelPhase, Prediction, RuleOverride, RuleWarning, Suggestion } from '../engine/types.ts';
import type { CheckIn } from '../engine/variables.ts';
import { recommend, replayRecommendation, recommendationEvents, refusedStreamEvent, type RecommendationEvent } from '../resolvers/recommendation.ts';
import type { RecommendationRow } from '../resolvers/recommendation-store.ts';
import { roundRating } from '../engine/rounding.ts';
import { builder } from './builder.ts';
import { uuid } from './ids.ts';
import { selectsAny } from './selection.ts';
import { CheckInRef, PreSessionInput } from './check-in.ts';
import { ModelPhaseEnum, RuleCategoryEnum, SessionTypeEnum } from './enums.ts';
import { IntervalRef, StatisticalContextRef } from './statistics.ts';

export const VariableValueRef = builder.objectRef<Contribution>('VariableValue').implement({
  fields: (t) => ({ variable: t.exposeString('variable'), value: t.exposeFloat('value') }),
});

const ConfidenceEnum = builder.enumType('Confidence', { values: ['LOW', 'MEDIUM', 'HIGH'] as const });
const SourceEnum = builder.enumType('RecommendationSource', { values: ['RULE_OVERRIDE', 'MODEL'] as const });
const EventTypeEnum = builder.enumType('RecommendationEventType', {
  values: ['CONTEXT_LOADED', 'RULES_APPLIED', 'RULE_OVERRIDE', 'PREDICTION', 'RECOMMENDATIONS', 'STATS', 'DONE', 'ERROR'] as const,
});

const RuleWarningRef = builder.objectRef<RuleWarning>('RuleWarning').implement({
  fields: (t) => ({
    rule: t.exposeString('rule'),
    category: t.expose('category', { type: RuleCategoryEnum }),
    message: t.exposeString('message'),
    reason: t.exposeString('reason', { description: 'The condition that matched, with the actual values' }),
  }),
});

const ConstraintsRef = builder.objectRef<Constraints>('Constraints').implement({
  description: 'What matched rules impose on the session',
  fields: (t) => ({
    sessionTypeCeiling: t.expose('sessionTypeCeiling', { type: SessionTypeEnum, nullable: true, description: 'The strictest ceiling of all matched rules' }),
    suggestedSessionType: t.expose('suggestedSessionType', { type: SessionTypeEnum, nullable: true }),
    avoid: t.exposeStringList('avoid'),
    include: t.exposeStringList('include'),
    warmupMin: t.exposeInt('warmupMin', { nullable: true }),
    maxDurationMin: t.exposeInt('maxDurationMin', { nullable: true }),
    reduceVolume: t.exposeBoolean('reduceVolume'),
    hydrationBreaks: t.exposeBoolean('hydrationBreaks'),
  }),
});

const RuleOverrideRef = builder.objectRef<RuleOverride>('RuleOverride').implement({
  fields: (t) => ({
    rule: t.exposeString('rule'),
    category: t.expose('category', { type: RuleCategoryEnum }),
    sessionType: t.expose('sessionType', { type: SessionTypeEnum }),
    message: t.exposeString('message'),
  }),
});

const PredictionRef = builder.objectRef<Prediction>('Prediction').implement({
  fields: (t) => ({
    // Rating-scale values leave with 2 decimals; contributions (effects) keep full precision.
    expectedQuality: t.float({ description: 'Predicted session quality 1-10, after rule multipliers (2 decimals)', resolve: (p) => roundRating(p.expectedQuality) }),
    rawQuality: t.float({ description: "The model's value before clamping and multipliers (2 decimals)", resolve: (p) => roundRating(p.rawQuality) }),
    interval: t.field({
      type: IntervalRef,
      description: '95 % predictive interval (2 decimals)',
      resolve: (p) => ({ low: roundRating(p.interval.low), high: roundRating(p.interval.high) }),
    }),
    contributions: t.field({ type: [VariableValueRef], description: 'Per feature, largest effect first', resolve: (p) => p.contributions }),
    phase: t.expose('phase', { type: ModelPhaseEnum }),
    confidence: t.expose('confidence', { type: ConfidenceEnum }),
  }),
});

const SuggestionRef = builder.objectRef<Suggestion>('Suggestion').implement({
  fields: (t) => ({
    variable: t.exposeString('variable'),
    from: t.exposeFloat('from'),
    to: t.exposeFloat('to'),
    expectedGain: t.exposeFloat('expectedGain', { description: 'Expected quality points gained' }),
    message: t.exposeString('message'),
  }),
});

interface Personalization {
  phase: ModelPhase;
  sessionsIncluded: number;
  hasBaseline: boolean;
  hasPersonalization: boolean;
}

const PersonalizationRef = builder.objectRef<Personalization>('Personalization').implement({
  fields: (t) => ({
    phase: t.expose('phase', { type: ModelPhaseEnum }),
    sessionsIncluded: t.exposeInt('sessionsIncluded'),
    hasBaseline: t.exposeBoolean('hasBaseline'),
    hasPersonalization: t.exposeBoolean('hasPersonalization'),
  }),
});

/** The stored prediction of a MODEL recommendation; null after an override. */
function predictionOf(r: RecommendationRow): Prediction | null {
  if (r.expectedQuality === null || r.rawQuality === null || r.intervalLow === null || r.intervalHigh === null || r.confidence === null) return null;
  return {
    expectedQuality: r.expectedQuality,
    rawQuality: r.rawQuality,
    interval: { low: r.intervalLow, high: r.intervalHigh },
    contributions: (r.contributions ?? []) as unknown as Contribution[],
    phase: r.phase,
    confidence: r.confidence,
  };
}

export const RecommendationRef = builder.prismaObject('Recommendation', {
  description: 'A recommendation as the athlete was given it (stream or query), stored: what a session links to.',
  fields: (t) => ({
    id: t.exposeID('id'),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    user: t.relation('user'),
    source: t.expose('source', { type: SourceEnum }),
    sessionType: t.expose('sessionType', { type: SessionTypeEnum }),
    checkIn: t.field({ type: CheckInRef, description: 'The check-in it answered', resolve: (r) => r.checkIn as CheckIn }),
    override: t.field({
      type: RuleOverrideRef,
      nullable: true,
      resolve: (r): RuleOverride | null =>
        r.overrideRule && r.overrideCategory && r.overrideMessage !== null
          ? { rule: r.overrideRule, category: r.overrideCategory, sessionType: r.sessionType, message: r.overrideMessage }
          : null,
    }),
    prediction: t.field({ type: PredictionRef, nullable: true, resolve: predictionOf }),
    predictionMultiplier: t.exposeFloat('predictionMultiplier', { description: 'Product of the matched rules\' prediction adjustments (1 = none)' }),
    rulesApplied: t.exposeStringList('matchedRules', { description: 'Names of the matched rules, in evaluation order' }),
    warnings: t.field({ type: [RuleWarningRef], resolve: (r) => r.warnings as unknown as RuleWarning[] }),
    constraints: t.field({ type: ConstraintsRef, nullable: true, resolve: (r) => r.constraints as unknown as Constraints | null }),
    suggestions: t.field({ type: [SuggestionRef], resolve: (r) => r.suggestions as unknown as Suggestion[] }),
    statisticalContext: t.field({ type: StatisticalContextRef, nullable: true, resolve: (r) => r.statisticalContext as unknown as StatisticalContext | null }),
    personalization: t.field({
      type: PersonalizationRef,
      resolve: (r) => ({ phase: r.phase, sessionsIncluded: r.modelSessionsIncluded, hasBaseline: r.hasBaseline, hasPersonalization: r.hasPersonalization }),
    }),
    modelFittedAt: t.expose('modelFittedAt', { type: 'DateTime', nullable: true, description: 'When the model that answered was fitted (null: the priors)' }),
    modelSessionsIncluded: t.exposeInt('modelSessionsIncluded', { description: "Sessions in the athlete's model at the time" }),
    session: t.relation('session', { nullable: true, description: 'The session started with it, if any' }),
    generatedAt: t.expose('createdAt', { type: 'DateTime', deprecationReason: 'Use createdAt' }),
  }),
});

// ------------------------------------------------------------------ the phased stream

type EventOf<T extends RecommendationEvent['type']> = Extract<RecommendationEvent, { type: T }>;

const EventRef = builder.interfaceRef<RecommendationEvent>('RecommendationEvent').implement({
  resolveType: (e) => EVENT_TYPE_NAMES[e.type],
  fields: (t) => ({
    type: t.expose('type', { type: EventTypeEnum }),
    sequence: t.exposeInt('sequence'),
    elapsedMs: t.exposeFloat('elapsedMs', { description: 'Milliseconds since the request started' }),
  }),
});

const EVENT_TYPE_NAMES: Record<RecommendationEvent['type'], string> = {
  CONTEXT_LOADED: 'ContextLoadedEvent',
  RULES_APPLIED: 'RulesAppliedEvent',
  RULE_OVERRIDE: 'RuleOverrideEvent',
  PREDICTION: 'PredictionEvent',
  RECOMMENDATIONS: 'RecommendationsEvent',
  STATS: 'StatsEvent',
  DONE: 'DoneEvent',
  ERROR: 'ErrorEvent',
};

builder.objectRef<EventOf<'CONTEXT_LOADED'>>('ContextLoadedEvent').implement({
  interfaces: [EventRef],
  fields: (t) => ({
    phase: t.expose('phase', { type: ModelPhaseEnum }),
    sessionsAvailable: t.exposeInt('sessionsAvailable'),
    hasBaseline: t.exposeBoolean('hasBaseline'),
    hasPersonalization: t.exposeBoolean('hasPersonalization'),
  }),
});
builder.objectRef<EventOf<'RULES_APPLIED'>>('RulesAppliedEvent').implement({
  interfaces: [EventRef],
  fields: (t) => ({
    rules: t.exposeStringList('rules'),
    warnings: t.field({ type: [RuleWarningRef], resolve: (e) => e.warnings }),
    constraints: t.field({ type: ConstraintsRef, resolve: (e) => e.constraints }),
  }),
});
builder.objectRef<EventOf<'RULE_OVERRIDE'>>('RuleOverrideEvent').implement({
  interfaces: [EventRef],
  fields: (t) => ({
    rule: t.exposeString('rule'),
    category: t.expose('category', { type: RuleCategoryEnum }),
    sessionType: t.expose('sessionType', { type: SessionTypeEnum }),
    message: t.exposeString('message'),
    warnings: t.field({ type: [RuleWarningRef], resolve: (e) => e.warnings }),
  }),
});
builder.objectRef<EventOf<'PREDICTION'>>('PredictionEvent').implement({
  interfaces: [EventRef],
  fields: (t) => ({ prediction: t.field({ type: PredictionRef, resolve: (e) => e.prediction }) }),
});
builder.objectRef<EventOf<'RECOMMENDATIONS'>>('RecommendationsEvent').implement({
  interfaces: [EventRef],
  fields: (t) => ({
    sessionType: t.expose('sessionType', { type: SessionTypeEnum }),
    suggestions: t.field({ type: [SuggestionRef], resolve: (e) => e.suggestions }),
    constraints: t.field({ type: ConstraintsRef, resolve: (e) => e.constraints }),
  }),
});
builder.objectRef<EventOf<'STATS'>>('StatsEvent').implement({
  interfaces: [EventRef],
  fields: (t) => ({ context: t.field({ type: StatisticalContextRef, resolve: (e) => e.context }) }),
});
builder.objectRef<EventOf<'DONE'>>('DoneEvent').implement({
  interfaces: [EventRef],
  fields: (t) => ({
    source: t.expose('source', { type: SourceEnum }),
    totalMs: t.exposeFloat('totalMs'),
    recommendationId: t.id({ description: 'The stored recommendation: pass it to startSession', resolve: (e) => e.recommendation.id }),
    sessionType: t.field({ type: SessionTypeEnum, resolve: (e) => e.recommendation.sessionType }),
    expectedQuality: t.float({ nullable: true, description: 'Null after a rule override (2 decimals)', resolve: (e) => roundRating(e.recommendation.expectedQuality) }),
  }),
});
builder.objectRef<EventOf<'ERROR'>>('ErrorEvent').implement({
  interfaces: [EventRef],
  fields: (t) => ({ code: t.exposeString('code'), message: t.exposeString('message') }),
});

/** Recommendation fields read from the stored row rather than from the answer in hand. */
const STORED_RELATIONS: ReadonlySet<string> = new Set(['user', 'session']);

builder.queryFields((t) => ({
  recommendation: t.field({
    type: RecommendationRef,
    authScopes: { authenticated: true },
    rateLimit: 'recommendation',
    description:
      "The whole recommendation in one answer (the fallback when streaming is unavailable); stored like a stream's. With userId (analysts and admins): a replay of the check-in as that athlete, not stored (its id names no stored row)",
    args: {
      input: t.arg({ type: PreSessionInput, required: true }),
      userId: t.arg.id({ validate: uuid, description: 'Replay as this athlete (analysts and admins)' }),
    },
    resolve: async (_root, args, ctx, info) => {
      if (args.userId) return replayRecommendation(ctx, args.input as CheckIn, args.userId);
      const row = await recommend(ctx, args.input as CheckIn);
      // The answer leaves before its row is stored (batched with the streams'), as a stream's DONE does; only
      // the relations (user, session) are read from the stored row, so asking for them waits for its batch.
      if (selectsAny(info, STORED_RELATIONS)) await ctx.services.recommendations.written(row.id);
      return row;
    },
  }),
}));

builder.subscriptionFields((t) => ({
  preSessionRecommendation: t.field({
    type: EventRef,
    authScopes: { authenticated: true },
    // Shares the query's budget; a refusal is the stream's own ERROR event (code RATE_LIMITED).
    rateLimit: { operation: 'recommendation', refusalEvent: refusedStreamEvent },
    description: 'The recommendation phase by phase: CONTEXT_LOADED first, DONE (or ERROR) last',
    args: { input: t.arg({ type: PreSessionInput, required: true }) },
    subscribe: (_root, args, ctx) => recommendationEvents(ctx, args.input as CheckIn),
    resolve: (event) => event,
  }),
}));
