// Rows as the recommendation writer gets them, made by the engine as a `recommendation` makes them (bench.ts's
// athlete: 30 sessions, population statistics) for varied check-ins (the bench's 3-field one and a 10-field one):
// scripts/bench-writer.ts (the writer's cost on its thread) and scripts/bench-row-db.ts (a stored row's cost inside
// the database).
import { predictionPhase, recommendationsPhase, rulesPhase, statsPhase } from '../../src/engine/recommend.ts';
import { checkInValues, MODEL_TERMS, type CheckIn } from '../../src/engine/variables.ts';
import { newRecommendationId, recommendationRow, type RecommendationRow } from '../../src/resolvers/recommendation-store.ts';
import { benchAthlete } from './engine-athlete.ts';
import { Random } from './synthetic.ts';

const { rules, hyper, model, history, populationStats } = benchAthlete();
const rng = new Random(20261206);
// The bench's 3-field check-in and a 10-field one, varied.
export const checkIns: CheckIn[] = Array.from({ length: 500 }, (_, i) =>
  i % 2
    ? { sleepHours: 6 + rng.int(0, 30) / 10, energyLevel: rng.int(1, 10), stressLevel: rng.int(1, 10) }
    : {
        sleepHours: 5 + rng.int(0, 40) / 10,
        sleepQuality: rng.int(1, 10),
        energyLevel: rng.int(1, 10),
        stressLevel: rng.int(1, 10),
        motivationLevel: rng.int(1, 10),
        sorenessLevel: rng.int(1, 10),
        daysSinceHardSession: rng.int(0, 7),
        caffeineMg: rng.int(0, 3) * 100,
        warmupMin: rng.int(0, 30),
        hydrationStatus: rng.int(1, 10),
      },
);

/** The row a `recommendation` of `userId` with this check-in stores (a personalised model fitted at `fittedAt`). */
export function answer(userId: string, checkIn: CheckIn, fittedAt: Date): RecommendationRow {
  const values = checkInValues(checkIn);
  const evaluation = rulesPhase(rules, values, null);
  const { prediction, modelSessionType } = predictionPhase(model, values, evaluation);
  const advice = recommendationsPhase(model, values, evaluation, modelSessionType, MODEL_TERMS);
  const context = statsPhase({ values, model, population: { mu: hyper.mu }, populationStats, history, terms: MODEL_TERMS });
  return recommendationRow(newRecommendationId(), new Date(), {
    userId,
    checkIn,
    source: 'MODEL',
    sessionType: advice.sessionType,
    override: null,
    prediction,
    predictionMultiplier: evaluation.predictionMultiplier,
    matchedRules: evaluation.matched,
    warnings: evaluation.warnings,
    constraints: advice.constraints,
    suggestions: advice.suggestions,
    statisticalContext: context,
    personalization: { phase: 'PERSONALIZED', sessionsIncluded: 30, hasBaseline: false, hasPersonalization: true, fittedAt },
  });
}
