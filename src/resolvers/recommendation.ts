// The phased pre-session recommendation (domain.md section 8): CONTEXT_LOADED -> (RULE_OVERRIDE -> DONE) |
// (RULES_APPLIED? -> PREDICTION -> RECOMMENDATIONS -> STATS -> DONE); an error ends with one ERROR event.
import { performance } from 'node:perf_hooks';
import { GraphQLError } from 'graphql';
import { predictionPhase, recommendationsPhase, rulesPhase, statsPhase } from '../engine/recommend.ts';
import type { StatisticalContext } from '../engine/statistics.ts';
import type { Constraints, ModelPhase, PastSession, Prediction, RuleOverride, RuleWarning, Suggestion } from '../engine/types.ts';
import type { CheckIn, SessionType } from '../engine/variables.ts';
import type { Context } from '../context.ts';
import type { AppError } from '../errors.ts';
import type { BaselineAssessment } from '../generated/prisma/client.ts';
import { forbidden, notFound } from '../errors.ts';
import { readsEveryone, requireViewer } from './access.ts';
import { newRecommendationId, recommendationRow, type RecommendationParts, type RecommendationRow } from './recommendation-store.ts';
import { TurnQueue } from '../engine-runtime/turns.ts';
import { publishCheckIn } from './coaching.ts';

/** One event loop per process: its streams share the turns. */
const laterPhases = new TurnQueue();

/** Streams of this process waiting for their turn to go on (the recommendation writer lets them go first). */
export const streamsWaiting = (): boolean => laterPhases.pending > 0;

interface EventBase {
  sequence: number;
  elapsedMs: number;
}

export type RecommendationEvent = EventBase &
  (
    | { type: 'CONTEXT_LOADED'; phase: ModelPhase; sessionsAvailable: number; hasBaseline: boolean; hasPersonalization: boolean }
    | { type: 'RULES_APPLIED'; rules: string[]; warnings: RuleWarning[]; constraints: Constraints }
    | { type: 'RULE_OVERRIDE'; rule: string; category: RuleOverride['category']; sessionType: SessionType; message: string; warnings: RuleWarning[] }
    | { type: 'PREDICTION'; prediction: Prediction }
    | { type: 'RECOMMENDATIONS'; sessionType: SessionType; suggestions: Suggestion[]; constraints: Constraints }
    | { type: 'STATS'; context: StatisticalContext }
    | {
        type: 'DONE';
        source: 'RULE_OVERRIDE' | 'MODEL';
        totalMs: number;
        /** The whole answer as stored (queued for the write when DONE leaves). */
        recommendation: RecommendationRow;
      }
    | { type: 'ERROR'; code: string; message: string }
  );

/** The only event of a stream refused before it starts (e.g. RATE_LIMITED): the ERROR event with the refusal's code. */
export function refusedStreamEvent(error: AppError): RecommendationEvent {
  return { type: 'ERROR', code: error.code, message: error.message, sequence: 1, elapsedMs: 0 };
}

type DistributiveOmit<T, K extends keyof T> = T extends unknown ? Omit<T, K> : never;
type EventBody = DistributiveOmit<RecommendationEvent, 'sequence' | 'elapsedMs'>;

function baselineRecord(baseline: BaselineAssessment | null): Readonly<Record<string, unknown>> | null {
  return baseline as unknown as Record<string, unknown> | null;
}

/**
 * Streams the phases for the viewer's check-in. Slow work (history for the statistics) starts at once but
 * is awaited only by the STATS phase, so earlier phases never wait for it. The complete answer is queued
 * for storage as DONE is produced: written after the first event has long left, in one batch with the other
 * streams finishing in the same event-loop iteration, never delaying an event. `replayAs` (an analyst's
 * replay, access checked by the caller) runs the check-in as that athlete and stores nothing.
 */
export async function* recommendationEvents(ctx: Context, checkIn: CheckIn, replayAs: string | null = null): AsyncGenerator<RecommendationEvent> {
  const started = performance.now();
  let sequence = 0;
  // Milliseconds to 0.01 ms, without binary noise (19.031849999999395 -> 19.03).
  const elapsed = () => Math.round((performance.now() - started) * 100) / 100;
  const event = (body: EventBody): RecommendationEvent => ({ ...body, sequence: ++sequence, elapsedMs: elapsed() }) as RecommendationEvent;
  const athleteId = replayAs ?? requireViewer(ctx).id;
  const { engine, recommendations } = ctx.services;
  // DONE's totalMs is its own elapsedMs: one clock reading, so totalMs is never before the event carrying it.
  const done = (parts: RecommendationParts): RecommendationEvent => {
    const elapsedMs = elapsed();
    const recommendation = recommendationRow(newRecommendationId(), new Date(), parts);
    if (!replayAs) {
      recommendations.enqueue(recommendation);
      publishCheckIn(ctx.services.pubsub, recommendation);
    }
    return { type: 'DONE', source: parts.source, totalMs: elapsedMs, recommendation, sequence: ++sequence, elapsedMs };
  };
  let history: Promise<PastSession[]> | null = null;
  try {
    const [rules, population, loaded, baseline] = await Promise.all([engine.rules(), engine.population(), engine.userModel(athleteId), engine.baseline(athleteId)]);
    const { model } = loaded;
    const personalization = {
      phase: model.phase,
      sessionsIncluded: model.sessionsIncluded,
      hasBaseline: baseline !== null,
      hasPersonalization: loaded.personalized,
      fittedAt: loaded.fittedAt,
    };
    yield event({
      type: 'CONTEXT_LOADED',
      phase: model.phase,
      sessionsAvailable: model.sessionsIncluded,
      hasBaseline: personalization.hasBaseline,
      hasPersonalization: personalization.hasPersonalization,
    });

    // The rules first, at once (microseconds): an override (e.g. an injury's REST_DAY) answers in this same turn,
    // never queued behind other streams' predictions and statistics.
    const evaluation = rulesPhase(rules, checkIn, baselineRecord(baseline));
    const common = {
      userId: athleteId,
      checkIn,
      matchedRules: evaluation.matched,
      warnings: evaluation.warnings,
      predictionMultiplier: evaluation.predictionMultiplier,
      personalization,
    };
    if (evaluation.override) {
      const o: RuleOverride = evaluation.override;
      yield event({ type: 'RULE_OVERRIDE', rule: o.rule, category: o.category, sessionType: o.sessionType, message: o.message, warnings: evaluation.warnings });
      yield done({
        ...common,
        source: 'RULE_OVERRIDE',
        sessionType: o.sessionType,
        override: o,
        prediction: null,
        constraints: null,
        suggestions: [],
        statisticalContext: null,
      });
      return;
    }
    history = engine.history(athleteId);
    history.catch(() => {}); // awaited below; never an unhandled rejection if an earlier phase fails
    if (evaluation.matched.length > 0) {
      yield event({ type: 'RULES_APPLIED', rules: evaluation.matched, warnings: evaluation.warnings, constraints: evaluation.constraints });
    }
    // Continue in turn with the other streams, so newer check-ins get their first event out in between.
    await laterPhases.next();
    const { prediction, modelSessionType } = predictionPhase(model, checkIn, evaluation);
    yield event({ type: 'PREDICTION', prediction });
    const advice = recommendationsPhase(model, checkIn, evaluation, modelSessionType, population.terms);
    yield event({ type: 'RECOMMENDATIONS', ...advice });
    const context = statsPhase({
      checkIn,
      model,
      population: population.source === 'FIT' ? { mu: population.hyper.mu } : null,
      populationStats: population.stats,
      history: await history,
      terms: population.terms,
    });
    yield event({ type: 'STATS', context });
    yield done({
      ...common,
      source: 'MODEL',
      sessionType: advice.sessionType,
      override: null,
      prediction,
      constraints: advice.constraints,
      suggestions: advice.suggestions,
      statisticalContext: context,
    });
  } catch (err) {
    const known = err instanceof GraphQLError && typeof err.extensions.code === 'string';
    if (!known) console.error('[ENGINE] recommendation failed', err);
    yield event({
      type: 'ERROR',
      code: known ? (err.extensions.code as string) : 'INTERNAL_SERVER_ERROR',
      message: known ? err.message : 'The recommendation could not be completed',
    });
  }
}

/** The one-shot answer: the same phases; the stored recommendation DONE carries. */
export async function recommend(ctx: Context, checkIn: CheckIn, replayAs: string | null = null): Promise<RecommendationRow> {
  for await (const e of recommendationEvents(ctx, checkIn, replayAs)) {
    if (e.type === 'DONE') return e.recommendation;
    if (e.type === 'ERROR') throw e.code === 'INTERNAL_SERVER_ERROR' ? new Error(e.message) : new GraphQLError(e.message, { extensions: { code: e.code } });
  }
  throw new Error('The recommendation ended without an answer');
}

/** An analyst's or admin's replay of a check-in as a given athlete: read-only, nothing stored. */
export async function replayRecommendation(ctx: Context, checkIn: CheckIn, userId: string): Promise<RecommendationRow> {
  if (!readsEveryone(requireViewer(ctx))) throw forbidden('Only analysts and admins replay a check-in as another athlete');
  const athlete = await ctx.services.prisma.user.findUnique({ where: { id: userId }, select: { id: true } });
  if (!athlete) throw notFound('User');
  return recommend(ctx, checkIn, athlete.id);
}
