// The phased pre-session recommendation (domain.md section 8): CONTEXT_LOADED -> (RULE_OVERRIDE -> DONE) |
// (RULES_APPLIED? -> PREDICTION -> RECOMMENDATIONS -> STATS -> DONE); an error ends with one ERROR event.
import { performance } from 'node:perf_hooks';
import { GraphQLError } from 'graphql';
import { predictionPhase, recommendationsPhase, rulesPhase, statsPhase } from '../engine/recommend.ts';
import type { StatisticalContext } from '../engine/statistics.ts';
import type { Constraints, ModelPhase, PastSession, Prediction, RuleOverride, RuleWarning, Suggestion } from '../engine/types.ts';
import type { CheckIn, SessionType } from '../engine/variables.ts';
import type { Context } from '../context.ts';
import type { BaselineAssessment } from '../generated/prisma/client.ts';
import { requireViewer } from './access.ts';
import type { StartSessionInput } from './sessions.ts';
import { TurnQueue } from './turns.ts';

/** One event loop per process: its streams share the turns. */
const laterPhases = new TurnQueue();

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
    | { type: 'DONE'; source: 'RULE_OVERRIDE' | 'MODEL'; totalMs: number }
    | { type: 'ERROR'; code: string; message: string }
  );

type DistributiveOmit<T, K extends keyof T> = T extends unknown ? Omit<T, K> : never;
type EventBody = DistributiveOmit<RecommendationEvent, 'sequence' | 'elapsedMs'>;

function baselineRecord(baseline: BaselineAssessment | null): Readonly<Record<string, unknown>> | null {
  return baseline as unknown as Record<string, unknown> | null;
}

/**
 * Streams the phases for the viewer's check-in. Slow work (history for the statistics) starts at once but
 * is awaited only by the STATS phase, so earlier phases never wait for it.
 */
export async function* recommendationEvents(ctx: Context, checkIn: CheckIn): AsyncGenerator<RecommendationEvent> {
  const started = performance.now();
  let sequence = 0;
  const event = (body: EventBody): RecommendationEvent => ({ ...body, sequence: ++sequence, elapsedMs: performance.now() - started }) as RecommendationEvent;
  // DONE's totalMs is its own elapsedMs: one clock reading, so totalMs is never before the event carrying it.
  const done = (source: 'RULE_OVERRIDE' | 'MODEL'): RecommendationEvent => {
    const elapsedMs = performance.now() - started;
    return { type: 'DONE', source, totalMs: elapsedMs, sequence: ++sequence, elapsedMs };
  };
  const viewer = requireViewer(ctx);
  const { engine } = ctx.services;
  let history: Promise<PastSession[]> | null = null;
  try {
    const [rules, population, loaded, baseline] = await Promise.all([
      engine.rules(),
      engine.population(),
      engine.userModel(viewer.id),
      engine.baseline(viewer.id),
    ]);
    const { model } = loaded;
    yield event({
      type: 'CONTEXT_LOADED',
      phase: model.phase,
      sessionsAvailable: model.sessionsIncluded,
      hasBaseline: baseline !== null,
      hasPersonalization: loaded.personalized,
    });

    // Continue in turn with the other streams, so newer check-ins get their first event out in between.
    await laterPhases.next();
    const evaluation = rulesPhase(rules, checkIn, baselineRecord(baseline));
    if (evaluation.override) {
      const o: RuleOverride = evaluation.override;
      yield event({ type: 'RULE_OVERRIDE', rule: o.rule, category: o.category, sessionType: o.sessionType, message: o.message, warnings: evaluation.warnings });
      yield done('RULE_OVERRIDE');
      return;
    }
    history = engine.history(viewer.id);
    history.catch(() => {}); // awaited below; never an unhandled rejection if an earlier phase fails
    if (evaluation.matched.length > 0) {
      yield event({ type: 'RULES_APPLIED', rules: evaluation.matched, warnings: evaluation.warnings, constraints: evaluation.constraints });
    }
    const { prediction, modelSessionType } = predictionPhase(model, checkIn, evaluation);
    yield event({ type: 'PREDICTION', prediction });
    yield event({ type: 'RECOMMENDATIONS', ...recommendationsPhase(model, checkIn, evaluation, modelSessionType) });
    const context = statsPhase({
      checkIn,
      model,
      population: population.source === 'FIT' ? { mu: population.hyper.mu } : null,
      populationStats: population.stats,
      history: await history,
    });
    yield event({ type: 'STATS', context });
    yield done('MODEL');
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

export interface Recommendation {
  source: 'RULE_OVERRIDE' | 'MODEL';
  sessionType: SessionType;
  override: RuleOverride | null;
  prediction: Prediction | null;
  rulesApplied: string[];
  warnings: RuleWarning[];
  constraints: Constraints | null;
  suggestions: Suggestion[];
  statisticalContext: StatisticalContext | null;
  personalization: { phase: ModelPhase; sessionsIncluded: number; hasBaseline: boolean; hasPersonalization: boolean };
  generatedAt: Date;
}

/** The one-shot answer: the same phases, folded into one object. */
export async function recommend(ctx: Context, checkIn: CheckIn): Promise<Recommendation> {
  const out: Partial<Recommendation> & { rulesApplied: string[]; warnings: RuleWarning[]; suggestions: Suggestion[] } = {
    rulesApplied: [],
    warnings: [],
    suggestions: [],
    override: null,
    prediction: null,
    constraints: null,
    statisticalContext: null,
  };
  for await (const e of recommendationEvents(ctx, checkIn)) {
    switch (e.type) {
      case 'CONTEXT_LOADED':
        out.personalization = { phase: e.phase, sessionsIncluded: e.sessionsAvailable, hasBaseline: e.hasBaseline, hasPersonalization: e.hasPersonalization };
        break;
      case 'RULE_OVERRIDE': {
        out.override = { rule: e.rule, category: e.category, sessionType: e.sessionType, message: e.message };
        out.sessionType = e.sessionType;
        out.warnings = e.warnings;
        out.rulesApplied = [...new Set(e.warnings.map((w) => w.rule))];
        break;
      }
      case 'RULES_APPLIED':
        out.rulesApplied = e.rules;
        out.warnings = e.warnings;
        out.constraints = e.constraints;
        break;
      case 'PREDICTION':
        out.prediction = e.prediction;
        break;
      case 'RECOMMENDATIONS':
        out.sessionType = e.sessionType;
        out.suggestions = e.suggestions;
        out.constraints = e.constraints;
        break;
      case 'STATS':
        out.statisticalContext = e.context;
        break;
      case 'DONE':
        out.source = e.source;
        break;
      case 'ERROR':
        throw e.code === 'INTERNAL_SERVER_ERROR' ? new Error(e.message) : new GraphQLError(e.message, { extensions: { code: e.code } });
    }
  }
  return { ...out, generatedAt: new Date() } as Recommendation;
}

/** startSession runs the same engine on the check-in (storing it: interim, see the store). */
export async function startSessionWithRecommendation<T>(
  ctx: Context,
  input: StartSessionInput,
  query: object,
  start: (ctx: Context, input: StartSessionInput, query: object, recommendationId?: string) => Promise<T>,
): Promise<T> {
  requireViewer(ctx);
  return start(ctx, input, query, undefined);
}
