import type { Constraints, Contribution, Prediction, RuleOverride, RuleWarning, Suggestion } from '../engine/types.ts';
import type { CheckIn } from '../engine/variables.ts';
import { recommend, recommendationEvents, refusedStreamEvent, type Recommendation, type RecommendationEvent } from '../resolvers/recommendation.ts';
import { builder } from './builder.ts';
import { PreSessionInput } from './check-in.ts';
import { ModelPhaseEnum, RuleCategoryEnum, SessionTypeEnum } from './enums.ts';

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

const IntervalRef = builder.objectRef<{ low: number; high: number }>('Interval').implement({
  fields: (t) => ({ low: t.exposeFloat('low'), high: t.exposeFloat('high') }),
});

const PredictionRef = builder.objectRef<Prediction>('Prediction').implement({
  fields: (t) => ({
    expectedQuality: t.exposeFloat('expectedQuality', { description: 'Predicted session quality 1-10, after rule multipliers' }),
    rawQuality: t.exposeFloat('rawQuality', { description: "The model's value before clamping and multipliers" }),
    interval: t.field({ type: IntervalRef, description: '95 % predictive interval', resolve: (p) => p.interval }),
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

const PersonalizationRef = builder.objectRef<Recommendation['personalization']>('Personalization').implement({
  fields: (t) => ({
    phase: t.expose('phase', { type: ModelPhaseEnum }),
    sessionsIncluded: t.exposeInt('sessionsIncluded'),
    hasBaseline: t.exposeBoolean('hasBaseline'),
    hasPersonalization: t.exposeBoolean('hasPersonalization'),
  }),
});

const RecommendationRef = builder.objectRef<Recommendation>('Recommendation').implement({
  fields: (t) => ({
    source: t.expose('source', { type: SourceEnum }),
    sessionType: t.expose('sessionType', { type: SessionTypeEnum }),
    override: t.field({ type: RuleOverrideRef, nullable: true, resolve: (r) => r.override }),
    prediction: t.field({ type: PredictionRef, nullable: true, resolve: (r) => r.prediction }),
    rulesApplied: t.exposeStringList('rulesApplied'),
    warnings: t.field({ type: [RuleWarningRef], resolve: (r) => r.warnings }),
    constraints: t.field({ type: ConstraintsRef, nullable: true, resolve: (r) => r.constraints }),
    suggestions: t.field({ type: [SuggestionRef], resolve: (r) => r.suggestions }),
    statisticalContext: t.expose('statisticalContext', { type: 'JSON', nullable: true }),
    personalization: t.field({ type: PersonalizationRef, resolve: (r) => r.personalization }),
    generatedAt: t.expose('generatedAt', { type: 'DateTime' }),
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
  fields: (t) => ({ context: t.expose('context', { type: 'JSON' }) }),
});
builder.objectRef<EventOf<'DONE'>>('DoneEvent').implement({
  interfaces: [EventRef],
  fields: (t) => ({ source: t.expose('source', { type: SourceEnum }), totalMs: t.exposeFloat('totalMs') }),
});
builder.objectRef<EventOf<'ERROR'>>('ErrorEvent').implement({
  interfaces: [EventRef],
  fields: (t) => ({ code: t.exposeString('code'), message: t.exposeString('message') }),
});

builder.queryFields((t) => ({
  recommendation: t.field({
    type: RecommendationRef,
    authScopes: { authenticated: true },
    rateLimit: 'recommendation',
    description: 'The whole recommendation in one answer (the fallback when streaming is unavailable)',
    args: { input: t.arg({ type: PreSessionInput, required: true }) },
    resolve: (_root, args, ctx) => recommend(ctx, args.input as CheckIn),
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
