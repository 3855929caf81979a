// Stored recommendations: the row a recommendation becomes (the same object the API answers with, so a
// stored and a just-computed recommendation read alike).
import type { StatisticalContext } from '../engine/statistics.ts';
import type { Constraints, ModelPhase, Prediction, RuleOverride, RuleWarning, Suggestion } from '../engine/types.ts';
import type { CheckIn, SessionType } from '../engine/variables.ts';
import type { Recommendation as RecommendationRow } from '../generated/prisma/client.ts';

export type { RecommendationRow };

/** What a recommendation is made of, before it has an id. */
export interface RecommendationParts {
  userId: string;
  checkIn: CheckIn;
  source: 'RULE_OVERRIDE' | 'MODEL';
  sessionType: SessionType;
  override: RuleOverride | null;
  prediction: Prediction | null;
  predictionMultiplier: number;
  matchedRules: string[];
  warnings: RuleWarning[];
  constraints: Constraints | null;
  suggestions: Suggestion[];
  statisticalContext: StatisticalContext | null;
  personalization: { phase: ModelPhase; sessionsIncluded: number; hasBaseline: boolean; hasPersonalization: boolean; fittedAt: Date | null };
}

export function recommendationRow(id: string, createdAt: Date, r: RecommendationParts): RecommendationRow {
  const p = r.prediction;
  return {
    id,
    userId: r.userId,
    createdAt,
    source: r.source,
    sessionType: r.sessionType,
    expectedQuality: p?.expectedQuality ?? null,
    rawQuality: p?.rawQuality ?? null,
    intervalLow: p?.interval.low ?? null,
    intervalHigh: p?.interval.high ?? null,
    confidence: p?.confidence ?? null,
    phase: r.personalization.phase,
    modelFittedAt: r.personalization.fittedAt,
    modelSessionsIncluded: r.personalization.sessionsIncluded,
    hasBaseline: r.personalization.hasBaseline,
    hasPersonalization: r.personalization.hasPersonalization,
    checkIn: r.checkIn as RecommendationRow['checkIn'],
    matchedRules: r.matchedRules,
    overrideRule: r.override?.rule ?? null,
    overrideCategory: r.override?.category ?? null,
    overrideMessage: r.override?.message ?? null,
    constraints: r.constraints as RecommendationRow['constraints'],
    predictionMultiplier: r.predictionMultiplier,
    warnings: r.warnings as unknown as RecommendationRow['warnings'],
    contributions: (p?.contributions ?? null) as RecommendationRow['contributions'],
    suggestions: r.suggestions as unknown as RecommendationRow['suggestions'],
    statisticalContext: r.statisticalContext as unknown as RecommendationRow['statisticalContext'],
  };
}
