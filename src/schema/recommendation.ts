import type { AssumedValue, Constraints, Contribution, ModelPhase, Prediction, RuleOverride, RuleWarning, Suggestion } from '../engine/types.ts';
import { MODEL_TERMS, type CheckIn } from '../engine/variables.ts';
import { recommend, replayRecommendation, recommendationEvents, refusedStreamEvent, type RecommendationEvent } from '../resolvers/recommendation.ts';
import { assumedInAnswer, constraintsOf, contributionsOf, statisticalContextOf, suggestionsOf, type RecommendationRow } from '../resolvers/recommendation-store.ts';
import { CONFIDENCE_THRESHOLDS } from '../engine/prediction.ts';
import { roundRating, roundShare } from '../engine/rounding.ts';
import { builder } from './builder.ts';
import { EVENT_IS_RESULT } from './subscription-events.ts';
import { uuid } from './ids.ts';
import { selectsAny } from './selection.ts';
import { CheckInRef, PreSessionInput } from './check-in.ts';
import { ModelPhaseEnum, RecommendationSourceEnum, RuleCategoryEnum, SessionTypeEnum } from './enums.ts';
import { IntervalRef, StatisticalContextRef } from './statistics.ts';
import { UserRef } from './user.ts';

export const VariableValueRef = builder.objectRef<Contribution>('VariableValue').implement({
  description: 'A number for one model variable (its meaning and unit: see the field that lists it)',
  fields: (t) => ({
    variable: t.exposeString('variable', { description: 'The variable (camelCase name), or intercept' }),
    value: t.exposeFloat('value', { description: 'Its value' }),
  }),
});

const ConfidenceEnum = builder.enumType('Confidence', {
  description: 'How much to trust a prediction: from the model phase and the width of its latent 95 % range (rawQuality ± 1.96 predictive sd, before the bounds of the scale cut it)',
  values: {
    LOW: { description: `COLD_START, or a latent range wider than ${CONFIDENCE_THRESHOLDS.mediumMaxWidth} points` },
    MEDIUM: { description: `LEARNING or PERSONALIZED, latent range at most ${CONFIDENCE_THRESHOLDS.mediumMaxWidth} points wide` },
    HIGH: { description: `PERSONALIZED, latent range at most ${CONFIDENCE_THRESHOLDS.highMaxWidth} points wide` },
  } as const,
});
const EventTypeEnum = builder.enumType('RecommendationEventType', {
  description: 'The phases of preSessionRecommendation, in the order they are sent',
  values: {
    CONTEXT_LOADED: { description: "The athlete's model, baseline and history are loaded" },
    RULES_APPLIED: { description: 'The expert rules were evaluated: warnings and constraints' },
    RULE_OVERRIDE: { description: 'A rule decided the session type; PREDICTION and RECOMMENDATIONS are skipped' },
    PREDICTION: { description: 'The predicted session quality' },
    RECOMMENDATIONS: { description: 'The session type and suggestions' },
    STATS: { description: 'The statistical context' },
    DONE: { description: 'The last event: the stored recommendation' },
    ERROR: { description: 'The last event when the recommendation failed' },
  } as const,
});

const RuleWarningRef = builder.objectRef<RuleWarning>('RuleWarning').implement({
  description: 'A matched expert rule, with what it tells the athlete',
  fields: (t) => ({
    rule: t.exposeString('rule', { description: 'The rule name (snake_case)' }),
    category: t.expose('category', { type: RuleCategoryEnum, description: "The rule's category" }),
    message: t.exposeString('message', { description: 'The advice, for the athlete' }),
    reason: t.exposeString('reason', { description: 'The condition that matched, with the actual values' }),
  }),
});

const ConstraintsRef = builder.objectRef<Constraints>('Constraints').implement({
  description: 'What matched rules impose on the session',
  fields: (t) => ({
    sessionTypeCeiling: t.expose('sessionTypeCeiling', { type: SessionTypeEnum, nullable: true, description: 'The strictest ceiling of all matched rules' }),
    suggestedSessionType: t.expose('suggestedSessionType', { type: SessionTypeEnum, nullable: true, description: "A PERFORMANCE rule's suggestion within every ceiling; null if none" }),
    avoid: t.exposeStringList('avoid', { description: 'Activities to leave out, e.g. hangboard, limit_bouldering' }),
    include: t.exposeStringList('include', { description: 'Activities to include, e.g. mobility' }),
    warmupMin: t.exposeInt('warmupMin', { nullable: true, description: 'Minimum warm-up, minutes; null if no rule sets one' }),
    maxDurationMin: t.exposeInt('maxDurationMin', { nullable: true, description: 'Longest session, minutes; null if no rule sets one' }),
    reduceVolume: t.exposeBoolean('reduceVolume', { description: 'Climb less than usual' }),
    hydrationBreaks: t.exposeBoolean('hydrationBreaks', { description: 'Take drinking breaks' }),
  }),
});

const RuleOverrideRef = builder.objectRef<RuleOverride>('RuleOverride').implement({
  description: 'The expert rule that decided the session type instead of the model',
  fields: (t) => ({
    rule: t.exposeString('rule', { description: 'The rule name (snake_case)' }),
    category: t.expose('category', { type: RuleCategoryEnum, description: "The rule's category" }),
    sessionType: t.expose('sessionType', { type: SessionTypeEnum, description: 'The session type it imposes' }),
    message: t.exposeString('message', { description: 'Why, for the athlete' }),
  }),
});

const AssumedValueRef = builder.objectRef<AssumedValue>('AssumedValue').implement({
  description: 'A model variable the check-in left out: the prediction took it at its reference value',
  fields: (t) => ({
    variable: t.exposeString('variable', { description: 'The check-in variable (camelCase name)' }),
    value: t.exposeFloat('value', { description: 'The value the prediction took for it (the reference value of the model)' }),
    sensitivity: t.float({
      nullable: true,
      description:
        "Quality points the prediction would move if the variable were given and a typical difference from that value (|the athlete's coefficient| x a typical difference; 2 decimals): ask for the largest first. Null on a stored recommendation read back (its coefficients are not kept)",
      resolve: (a) => (a.sensitivity === null ? null : Math.round(a.sensitivity * 100) / 100),
    }),
  }),
});

interface RatingProbability {
  rating: number;
  probability: number;
}

const RatingProbabilityRef = builder.objectRef<RatingProbability>('RatingProbability').implement({
  description: 'The predicted probability of one rating',
  fields: (t) => ({
    rating: t.exposeInt('rating', { description: 'The rating, 1-10' }),
    probability: t.float({ description: 'The probability the athlete rates the session so (0-1, 4 decimals)', resolve: (r) => roundShare(r.probability) }),
  }),
});

const PredictionRef = builder.objectRef<Prediction>('Prediction').implement({
  description: "The athlete's model's prediction of the session quality for this check-in",
  fields: (t) => ({
    // Rating-scale values leave with 2 decimals; contributions (effects) keep full precision.
    expectedQuality: t.float({ description: 'Predicted session quality 1-10, after rule multipliers (2 decimals)', resolve: (p) => roundRating(p.expectedQuality) }),
    rawQuality: t.float({ description: "The model's value before clamping and multipliers (2 decimals)", resolve: (p) => roundRating(p.rawQuality) }),
    interval: t.field({
      type: IntervalRef,
      description:
        '95 % predictive interval of whole ratings, read off `distribution`: the run of ratings whose probability is nearest 95 % (widened to contain expectedQuality); held-out ratings fall inside it 95 % of the time (2 decimals)',
      resolve: (p) => ({ low: roundRating(p.interval.low), high: roundRating(p.interval.high) }),
    }),
    distribution: t.field({
      type: [RatingProbabilityRef],
      description:
        'The predictive distribution of the rating the athlete will give, P(rating = k) for k = 1..10 in order, after rule multipliers; sums to 1. Empty on a recommendation stored before distributions were kept',
      resolve: (p) => p.distribution.map((probability, i) => ({ rating: i + 1, probability })),
    }),
    contributions: t.expose('contributions', { type: [VariableValueRef], description: 'Per feature, largest effect first' }),
    phase: t.expose('phase', { type: ModelPhaseEnum, description: 'The model phase that predicted' }),
    confidence: t.expose('confidence', { type: ConfidenceEnum, description: 'How much to trust it' }),
    assumed: t.expose('assumed', {
      type: [AssumedValueRef],
      description: 'The model variables the check-in left out, taken at their reference value, the ones that could change the prediction most first (empty when every one was given)',
    }),
  }),
});

const SuggestionRef = builder.objectRef<Suggestion>('Suggestion').implement({
  description: 'A change the athlete can still make before climbing (caffeine, warm-up) and what it is expected to bring',
  fields: (t) => ({
    variable: t.exposeString('variable', { description: 'The check-in variable to change (camelCase name)' }),
    from: t.exposeFloat('from', { description: 'Its value now (or the reference value when not given)' }),
    to: t.exposeFloat('to', { description: 'The suggested value' }),
    expectedGain: t.exposeFloat('expectedGain', { description: 'Expected quality points gained' }),
    message: t.exposeString('message', { description: 'The suggestion, for the athlete' }),
  }),
});

interface Personalization {
  phase: ModelPhase;
  sessionsIncluded: number;
  hasBaseline: boolean;
  hasPersonalization: boolean;
}

const PersonalizationRef = builder.objectRef<Personalization>('Personalization').implement({
  description: 'How personal the answer was',
  fields: (t) => ({
    phase: t.expose('phase', { type: ModelPhaseEnum, description: "The athlete's model phase at the time" }),
    sessionsIncluded: t.exposeInt('sessionsIncluded', { description: "Rated sessions in the athlete's model" }),
    hasBaseline: t.exposeBoolean('hasBaseline', { description: 'Did the athlete have a current baseline assessment?' }),
    hasPersonalization: t.exposeBoolean('hasPersonalization', { description: 'Did a personal model answer (false: the population model)?' }),
  }),
});

/** The stored prediction of a MODEL recommendation; null after an override. */
function predictionOf(r: RecommendationRow): Prediction | null {
  if (r.expectedQuality === null || r.rawQuality === null || r.intervalLow === null || r.intervalHigh === null || r.confidence === null) return null;
  return {
    expectedQuality: r.expectedQuality,
    rawQuality: r.rawQuality,
    interval: { low: r.intervalLow, high: r.intervalHigh },
    distribution: r.distribution ?? [],
    contributions: contributionsOf(r),
    phase: r.phase,
    confidence: r.confidence,
    // The variables its check-in left out, at their reference values; how much each mattered is known for the
    // answer being given, not for a row read back.
    assumed:
      assumedInAnswer.get(r) ??
      MODEL_TERMS.slice(1)
        .filter((term) => typeof (r.checkIn as Record<string, unknown> | null)?.[term.name] !== 'number')
        .map((term) => ({ variable: term.name, value: term.reference, sensitivity: null })),
  };
}

export const RecommendationRef = builder.prismaObject('Recommendation', {
  description: 'A recommendation as the athlete was given it (stream or query), stored: what a session links to.',
  fields: (t) => ({
    id: t.exposeID('id', { description: 'The recommendation id (uuid): pass it to startSession' }),
    createdAt: t.expose('createdAt', { type: 'DateTime', description: 'When it was given' }),
    // Not a Prisma relation: the athlete is checked by a trigger, not a foreign key (migration 20261207064044).
    user: t.field({
      type: UserRef,
      description: 'The athlete it was given to',
      resolve: async (r, _args, ctx) => {
        const user = await ctx.loaders.user.load(r.userId);
        if (!user) throw new Error(`recommendation ${r.id}: its athlete ${r.userId} does not exist`);
        return user;
      },
    }),
    source: t.expose('source', { type: RecommendationSourceEnum, description: 'Rule override or model' }),
    sessionType: t.expose('sessionType', { type: SessionTypeEnum, description: 'The recommended session type' }),
    checkIn: t.field({ type: CheckInRef, description: 'The check-in it answered', resolve: (r) => r.checkIn as CheckIn }),
    override: t.field({
      type: RuleOverrideRef,
      nullable: true,
      description: 'The rule that decided; null for a MODEL recommendation',
      resolve: (r): RuleOverride | null =>
        r.overrideRule && r.overrideCategory && r.overrideMessage !== null ? { rule: r.overrideRule, category: r.overrideCategory, sessionType: r.sessionType, message: r.overrideMessage } : null,
    }),
    prediction: t.field({ type: PredictionRef, nullable: true, description: 'The predicted quality; null after a rule override', resolve: predictionOf }),
    predictionMultiplier: t.exposeFloat('predictionMultiplier', { description: "Product of the matched rules' prediction adjustments (1 = none)" }),
    rulesApplied: t.exposeStringList('matchedRules', { description: 'Names of the matched rules, in evaluation order' }),
    warnings: t.field({ type: [RuleWarningRef], description: 'One per matched rule, in evaluation order', resolve: (r) => r.warnings as unknown as RuleWarning[] }),
    constraints: t.field({
      type: ConstraintsRef,
      nullable: true,
      description: 'What the matched rules impose; null after a rule override',
      resolve: constraintsOf,
    }),
    suggestions: t.field({
      type: [SuggestionRef],
      description: 'Changes that would raise the expected quality, largest gain first; empty after a rule override',
      resolve: suggestionsOf,
    }),
    statisticalContext: t.field({
      type: StatisticalContextRef,
      nullable: true,
      description: 'The check-in in context; null after a rule override',
      resolve: (r, _args, ctx) =>
        statisticalContextOf(r, { coefficientComparisons: (id) => ctx.loaders.coefficientComparisons.load(id), historySummary: (id) => ctx.loaders.historySummaries.load(id) }),
    }),
    personalization: t.field({
      type: PersonalizationRef,
      description: 'How personal the answer was',
      resolve: (r) => ({ phase: r.phase, sessionsIncluded: r.modelSessionsIncluded, hasBaseline: r.hasBaseline, hasPersonalization: r.hasPersonalization }),
    }),
    modelFittedAt: t.expose('modelFittedAt', { type: 'DateTime', nullable: true, description: 'When the model that answered was fitted (null: the priors)' }),
    modelSessionsIncluded: t.exposeInt('modelSessionsIncluded', { description: "Sessions in the athlete's model at the time" }),
    session: t.relation('session', { nullable: true, description: 'The session started with it, if any' }),
    generatedAt: t.expose('createdAt', { type: 'DateTime', description: 'The same as createdAt', deprecationReason: 'Use createdAt' }),
  }),
});

// ------------------------------------------------------------------ the phased stream

type EventOf<T extends RecommendationEvent['type']> = Extract<RecommendationEvent, { type: T }>;

const EventRef = builder.interfaceRef<RecommendationEvent>('RecommendationEvent').implement({
  description: 'One phase of preSessionRecommendation; select the fields of each phase with `... on <Type>Event`',
  resolveType: (e) => EVENT_TYPE_NAMES[e.type],
  fields: (t) => ({
    type: t.expose('type', { type: EventTypeEnum, description: 'The phase' }),
    sequence: t.exposeInt('sequence', { description: 'Position in the stream, from 1' }),
    elapsedMs: t.exposeFloat('elapsedMs', { description: 'Milliseconds since the request started (2 decimals)' }),
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
  description: 'First: what the answer will be based on',
  interfaces: [EventRef],
  fields: (t) => ({
    phase: t.expose('phase', { type: ModelPhaseEnum, description: "The athlete's model phase" }),
    sessionsAvailable: t.exposeInt('sessionsAvailable', { description: "Rated sessions in the athlete's model" }),
    hasBaseline: t.exposeBoolean('hasBaseline', { description: 'Does the athlete have a current baseline assessment?' }),
    hasPersonalization: t.exposeBoolean('hasPersonalization', { description: 'Will a personal model answer (false: the population model)?' }),
  }),
});
builder.objectRef<EventOf<'RULES_APPLIED'>>('RulesAppliedEvent').implement({
  description: 'The expert rules that matched, when none overrides the model',
  interfaces: [EventRef],
  fields: (t) => ({
    rules: t.exposeStringList('rules', { description: 'Names of the matched rules, in evaluation order' }),
    warnings: t.expose('warnings', { type: [RuleWarningRef], description: 'One per matched rule' }),
    constraints: t.expose('constraints', { type: ConstraintsRef, description: 'What they impose on the session' }),
  }),
});
builder.objectRef<EventOf<'RULE_OVERRIDE'>>('RuleOverrideEvent').implement({
  description: 'An expert rule decided the session type (a safety override answers at once); DONE follows',
  interfaces: [EventRef],
  fields: (t) => ({
    rule: t.exposeString('rule', { description: 'The rule name (snake_case)' }),
    category: t.expose('category', { type: RuleCategoryEnum, description: "The rule's category" }),
    sessionType: t.expose('sessionType', { type: SessionTypeEnum, description: 'The session type it imposes' }),
    message: t.exposeString('message', { description: 'Why, for the athlete' }),
    warnings: t.expose('warnings', { type: [RuleWarningRef], description: 'Every matched rule' }),
  }),
});
builder.objectRef<EventOf<'PREDICTION'>>('PredictionEvent').implement({
  description: "The model's predicted session quality",
  interfaces: [EventRef],
  fields: (t) => ({ prediction: t.expose('prediction', { type: PredictionRef, description: 'The prediction' }) }),
});
builder.objectRef<EventOf<'RECOMMENDATIONS'>>('RecommendationsEvent').implement({
  description: 'The recommended session type and suggestions',
  interfaces: [EventRef],
  fields: (t) => ({
    sessionType: t.expose('sessionType', { type: SessionTypeEnum, description: 'The recommended session type' }),
    suggestions: t.expose('suggestions', { type: [SuggestionRef], description: 'Changes that would raise the expected quality, largest gain first' }),
    constraints: t.expose('constraints', { type: ConstraintsRef, description: 'What the matched rules impose' }),
  }),
});
builder.objectRef<EventOf<'STATS'>>('StatsEvent').implement({
  description: 'The statistical context of the check-in',
  interfaces: [EventRef],
  fields: (t) => ({ context: t.expose('context', { type: StatisticalContextRef, description: 'The check-in in context' }) }),
});
builder.objectRef<EventOf<'DONE'>>('DoneEvent').implement({
  description: 'Last: the answer, stored',
  interfaces: [EventRef],
  fields: (t) => ({
    source: t.expose('source', { type: RecommendationSourceEnum, description: 'Rule override or model' }),
    totalMs: t.exposeFloat('totalMs', { description: 'Milliseconds the whole recommendation took' }),
    recommendationId: t.id({ description: 'The stored recommendation: pass it to startSession', resolve: (e) => e.recommendation.id }),
    sessionType: t.field({ type: SessionTypeEnum, description: 'The recommended session type', resolve: (e) => e.recommendation.sessionType }),
    expectedQuality: t.float({ nullable: true, description: 'Null after a rule override (2 decimals)', resolve: (e) => roundRating(e.recommendation.expectedQuality) }),
  }),
});
builder.objectRef<EventOf<'ERROR'>>('ErrorEvent').implement({
  description: 'Last, instead of DONE: the recommendation failed',
  interfaces: [EventRef],
  fields: (t) => ({
    code: t.exposeString('code', { description: 'An error code as in errors[].extensions.code, e.g. RATE_LIMITED or INTERNAL_SERVER_ERROR' }),
    message: t.exposeString('message', { description: 'What went wrong, for the client developer' }),
  }),
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
      input: t.arg({ type: PreSessionInput, required: true, description: 'The check-in' }),
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
    args: { input: t.arg({ type: PreSessionInput, required: true, description: 'The check-in' }) },
    subscribe: (_root, args, ctx) => recommendationEvents(ctx, args.input as CheckIn),
    resolve: (event) => event,
    // Each event is its result: not validated again per event (src/schema/subscription-events.ts).
    extensions: { [EVENT_IS_RESULT]: true },
  }),
}));
