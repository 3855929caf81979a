// The phases of a pre-session recommendation (domain.md sections 4, 7, 8), each a pure step, so the
// stream can send every phase the moment it is ready and the one-shot query folds the same steps.
import { predict, sessionTypeFromQuality } from './prediction.ts';
import { evaluateRules, finalSessionType, type CompiledRuleSet } from './rules.ts';
import { buildStatisticalContext, type StatisticalContext } from './statistics.ts';
import { suggestImprovements } from './suggestions.ts';
import type { Constraints, PastSession, PopulationStat, Prediction, RuleEvaluation, Suggestion, UserModel } from './types.ts';
import type { CheckInValues, FeatureSpec, SessionType } from './variables.ts';

// Every phase reads the check-in through its values by the registry's index (variables.ts's checkInValues, made once
// a check-in): the check-in object itself is stored and answered as given.

export function rulesPhase(rules: CompiledRuleSet, values: CheckInValues, baseline: Readonly<Record<string, unknown>> | null): RuleEvaluation {
  return evaluateRules(rules, { values, baseline });
}

export interface ModelPhaseResult {
  prediction: Prediction;
  /** The model's own choice before any rule ceiling. */
  modelSessionType: SessionType;
}

export function predictionPhase(model: UserModel, values: CheckInValues, evaluation: RuleEvaluation): ModelPhaseResult {
  const prediction = predict(model, values, evaluation.predictionMultiplier);
  return { prediction, modelSessionType: sessionTypeFromQuality(prediction.expectedQuality, values) };
}

export interface RecommendationsPhaseResult {
  sessionType: SessionType;
  suggestions: Suggestion[];
  constraints: Constraints;
}

/** `terms`: the model's terms with the optimal ranges of the PopulationPrior table. */
export function recommendationsPhase(model: UserModel, values: CheckInValues, evaluation: RuleEvaluation, modelSessionType: SessionType, terms: readonly FeatureSpec[]): RecommendationsPhaseResult {
  return {
    sessionType: finalSessionType(modelSessionType, evaluation.constraints),
    suggestions: suggestImprovements(model, values, terms),
    constraints: evaluation.constraints,
  };
}

export function statsPhase(input: {
  values: CheckInValues;
  model: UserModel;
  population: { mu: number[] } | null;
  populationStats: PopulationStat[];
  history: PastSession[];
  terms: readonly FeatureSpec[];
}): StatisticalContext {
  return buildStatisticalContext(input);
}
