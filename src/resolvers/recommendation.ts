// The phased pre-session recommendation (domain.md section 8): CONTEXT_LOADED -> (RULE_OVERRIDE -> DONE) |
// (RULES_APPLIED? -> PREDICTION -> RECOMMENDATIONS -> STATS -> DONE); an error ends with one ERROR event.
import { performance } from 'node:perf_hooks';
import { GraphQLError } from 'graphql';
import { predictionPhase, recommendationsPhase, rulesPhase, statsPhase, type RecommendationsPhaseResult } from '../engine/recommend.ts';
import type { StatisticalContext } from '../engine/statistics.ts';
import type { Constraints, ModelPhase, PastSession, Prediction, RuleEvaluation, RuleOverride, RuleWarning, Suggestion } from '../engine/types.ts';
import { checkInValues, type CheckIn, type CheckInValues, type SessionType } from '../engine/variables.ts';
import type { Context } from '../context.ts';
import type { AppError } from '../errors.ts';
import type { BaselineAssessment } from '../generated/prisma/client.ts';
import { forbidden, notFound } from '../errors.ts';
import { readsEveryone, requireViewer } from './access.ts';
import { newRecommendationId, recommendationRow, type RecommendationParts, type RecommendationRow } from './recommendation-store.ts';
import { TurnQueue } from '../engine-runtime/turns.ts';
import type { CheckInContext } from '../engine-runtime/engine-store.ts';
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

type Personalization = RecommendationParts['personalization'];
/** The events of the steps, for a stream; null for the one-shot answer, which makes none (`out?.push(...)` then builds nothing). */
type EventSink = RecommendationEvent[] | null;

/**
 * One check-in's answer, phase by phase: the stream (recommendationEvents) sends each step's events as they are made,
 * the one-shot `recommend` runs the same steps without making an event. The steps are synchronous: between them the
 * callers await the turn (laterPhases) and the athlete's history. Slow work (history for the statistics) starts with
 * the rules' step but is awaited only by the statistics, so earlier phases never wait for it. The complete answer is
 * queued for storage as DONE is made: written after the first event has long left, in one batch with the other
 * answers finishing in the same event-loop iteration, never delaying an event. `replay` (an analyst's replay, access
 * checked by the caller) runs the check-in as that athlete and stores nothing.
 */
class CheckInAnswer {
  /** The stored answer, once made (DONE): after an override at the rules' step, else at the statistics'. */
  row: RecommendationRow | null = null;
  /** The athlete's history for the statistics, read from the rules' step on (null after an override). */
  private history: Promise<PastSession[]> | null = null;
  private sequence = 0;
  private readonly personalization: Personalization;
  /** The check-in's values by the registry's index, as every phase reads them (made once). */
  private readonly values: CheckInValues;
  private evaluation: RuleEvaluation | null = null;
  private advised: { prediction: Prediction; advice: RecommendationsPhaseResult } | null = null;

  private constructor(
    private readonly ctx: Context,
    private readonly checkIn: CheckIn,
    private readonly athleteId: string,
    private readonly replay: boolean,
    private readonly started: number,
    private readonly read: CheckInContext,
  ) {
    this.values = checkInValues(checkIn);
    const { model, personalized, fittedAt } = read.loaded;
    this.personalization = {
      phase: model.phase,
      sessionsIncluded: model.sessionsIncluded,
      hasBaseline: read.baseline !== null,
      hasPersonalization: personalized,
      fittedAt,
    };
  }

  /**
   * The athlete's context (rules, population, model, baseline) loaded: the steps can run. At once when all of it is
   * cached (no promise to await: the usual case), else once it is read.
   */
  static load(ctx: Context, checkIn: CheckIn, replayAs: string | null): CheckInAnswer | Promise<CheckInAnswer> {
    const started = performance.now();
    const athleteId = replayAs ?? requireViewer(ctx).id;
    const replay = replayAs !== null;
    const read = ctx.services.engine.checkInContext(athleteId);
    if (read instanceof Promise) return read.then((loaded) => new CheckInAnswer(ctx, checkIn, athleteId, replay, started, loaded));
    return new CheckInAnswer(ctx, checkIn, athleteId, replay, started, read);
  }

  /**
   * CONTEXT_LOADED, then the rules at once (microseconds): an override (e.g. an injury's REST_DAY) answers in this
   * same turn (RULE_OVERRIDE, DONE), never queued behind other streams' predictions and statistics.
   */
  opening(out: EventSink): void {
    const p = this.personalization;
    out?.push(this.event({ type: 'CONTEXT_LOADED', phase: p.phase, sessionsAvailable: p.sessionsIncluded, hasBaseline: p.hasBaseline, hasPersonalization: p.hasPersonalization }));
    const evaluation = rulesPhase(this.read.rules, this.values, baselineRecord(this.read.baseline));
    this.evaluation = evaluation;
    const o = evaluation.override;
    if (o) {
      out?.push(this.event({ type: 'RULE_OVERRIDE', rule: o.rule, category: o.category, sessionType: o.sessionType, message: o.message, warnings: evaluation.warnings }));
      this.finish({ source: 'RULE_OVERRIDE', sessionType: o.sessionType, override: o, prediction: null, constraints: null, suggestions: [], statisticalContext: null }, evaluation, out);
      return;
    }
    const history = this.ctx.services.engine.history(this.athleteId);
    history.catch(() => {}); // awaited by the caller; never an unhandled rejection if an earlier phase fails
    this.history = history;
    if (evaluation.matched.length > 0) {
      out?.push(this.event({ type: 'RULES_APPLIED', rules: evaluation.matched, warnings: evaluation.warnings, constraints: evaluation.constraints }));
    }
  }

  /** PREDICTION and RECOMMENDATIONS (after the opening, when it did not answer): they never wait for the history. */
  modelPhases(out: EventSink): void {
    const { values } = this;
    const evaluation = this.ruled();
    const { model } = this.read.loaded;
    const { prediction, modelSessionType } = predictionPhase(model, values, evaluation);
    out?.push(this.event({ type: 'PREDICTION', prediction }));
    const advice = recommendationsPhase(model, values, evaluation, modelSessionType, this.read.population.terms);
    out?.push(this.event({ type: 'RECOMMENDATIONS', sessionType: advice.sessionType, suggestions: advice.suggestions, constraints: advice.constraints }));
    this.advised = { prediction, advice };
  }

  /** STATS and DONE, the history read (after modelPhases). */
  closing(history: PastSession[], out: EventSink): void {
    const { values } = this;
    const { population } = this.read;
    const { model } = this.read.loaded;
    if (!this.advised) throw new Error('CheckInAnswer: closing before modelPhases');
    const { prediction, advice } = this.advised;
    const context = statsPhase({
      values,
      model,
      population: population.source === 'FIT' ? { mu: population.hyper.mu } : null,
      populationStats: population.stats,
      history,
      terms: population.terms,
    });
    out?.push(this.event({ type: 'STATS', context }));
    this.finish(
      { source: 'MODEL', sessionType: advice.sessionType, override: null, prediction, constraints: advice.constraints, suggestions: advice.suggestions, statisticalContext: context },
      this.ruled(),
      out,
    );
  }

  /** The history's read, started by the opening (which answered when there is none). */
  historyRead(): Promise<PastSession[]> {
    if (!this.history) throw new Error('CheckInAnswer: no history read (the opening answered, or did not run)');
    return this.history;
  }

  private ruled(): RuleEvaluation {
    if (!this.evaluation) throw new Error('CheckInAnswer: a model phase before the opening');
    return this.evaluation;
  }

  /** The stored answer (queued for the write unless a replay) and DONE. */
  private finish(answer: Omit<RecommendationParts, 'userId' | 'checkIn' | 'matchedRules' | 'warnings' | 'predictionMultiplier' | 'personalization'>, evaluation: RuleEvaluation, out: EventSink): void {
    // DONE's totalMs is its own elapsedMs: one clock reading, so totalMs is never before the event carrying it.
    const elapsedMs = this.elapsed();
    const row = recommendationRow(newRecommendationId(), new Date(), {
      ...answer,
      userId: this.athleteId,
      checkIn: this.checkIn,
      matchedRules: evaluation.matched,
      warnings: evaluation.warnings,
      predictionMultiplier: evaluation.predictionMultiplier,
      personalization: this.personalization,
    });
    this.row = row;
    if (!this.replay) {
      this.ctx.services.recommendations.enqueue(row);
      publishCheckIn(this.ctx.services.pubsub, row);
    }
    out?.push({ type: 'DONE', source: answer.source, totalMs: elapsedMs, recommendation: row, sequence: ++this.sequence, elapsedMs });
  }

  /** The ERROR event that ends a failed stream. */
  failed(failure: { code: string; message: string }): RecommendationEvent {
    return this.event({ type: 'ERROR', ...failure });
  }

  /** Milliseconds since the request started, to 0.01 ms, without binary noise (19.031849999999395 -> 19.03). */
  private elapsed(): number {
    return Math.round((performance.now() - this.started) * 100) / 100;
  }

  private event(body: EventBody): RecommendationEvent {
    return { ...body, sequence: ++this.sequence, elapsedMs: this.elapsed() } as RecommendationEvent;
  }
}

/** A failure's code and message as the client gets them; an unexpected one is logged and named INTERNAL_SERVER_ERROR. */
function failureOf(err: unknown): { code: string; message: string } {
  if (err instanceof GraphQLError && typeof err.extensions.code === 'string') return { code: err.extensions.code, message: err.message };
  console.error('[ENGINE] recommendation failed', err);
  return { code: 'INTERNAL_SERVER_ERROR', message: 'The recommendation could not be completed' };
}

/**
 * Streams the phases for the viewer's check-in: CheckInAnswer's steps, their events yielded after each step (a plain
 * `yield` each: `yield*` of a sync iterator would add an async-from-sync wrapper's promises per event).
 */
export async function* recommendationEvents(ctx: Context, checkIn: CheckIn, replayAs: string | null = null): AsyncGenerator<RecommendationEvent> {
  const out: RecommendationEvent[] = [];
  let answer: CheckInAnswer | null = null;
  try {
    const loading = CheckInAnswer.load(ctx, checkIn, replayAs);
    answer = loading instanceof Promise ? await loading : loading;
    answer.opening(out);
    for (const event of out.splice(0)) yield event;
    if (answer.row) return;
    // Continue in turn with the other streams, so newer check-ins get their first event out in between.
    await laterPhases.next();
    answer.modelPhases(out);
    for (const event of out.splice(0)) yield event;
    answer.closing(await answer.historyRead(), out);
    for (const event of out.splice(0)) yield event;
  } catch (err) {
    const failure = failureOf(err);
    for (const event of out.splice(0)) yield event; // what the failed step made before it failed, as it happened
    yield answer ? answer.failed(failure) : { type: 'ERROR', ...failure, sequence: 1, elapsedMs: 0 };
  }
}

/**
 * The one-shot answer: the stream's steps in the same order and turns, without its events (no event object, no
 * generator's promise per phase); the stored recommendation DONE carries.
 */
export async function recommend(ctx: Context, checkIn: CheckIn, replayAs: string | null = null): Promise<RecommendationRow> {
  try {
    const loading = CheckInAnswer.load(ctx, checkIn, replayAs);
    const answer = loading instanceof Promise ? await loading : loading;
    answer.opening(null);
    if (!answer.row) {
      await laterPhases.next();
      answer.modelPhases(null);
      answer.closing(await answer.historyRead(), null);
    }
    if (!answer.row) throw new Error('The recommendation ended without an answer');
    return answer.row;
  } catch (err) {
    const { code, message } = failureOf(err);
    throw code === 'INTERNAL_SERVER_ERROR' ? new Error(message) : err;
  }
}

/** An analyst's or admin's replay of a check-in as a given athlete: read-only, nothing stored. */
export async function replayRecommendation(ctx: Context, checkIn: CheckIn, userId: string): Promise<RecommendationRow> {
  if (!readsEveryone(requireViewer(ctx))) throw forbidden('Only analysts and admins replay a check-in as another athlete');
  const athlete = await ctx.services.prisma.user.findUnique({ where: { id: userId }, select: { id: true } });
  if (!athlete) throw notFound('User');
  return recommend(ctx, checkIn, athlete.id);
}
