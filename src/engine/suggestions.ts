// Actionable suggestions (domain.md section 7, the `recommendations` phase): for each variable the
// athlete controls before climbing, the move toward its optimal range that raises predicted quality most.
import { expectedBoundedRating } from './normal.ts';
import { latentPrediction } from './prediction.ts';
import type { Suggestion, UserModel } from './types.ts';
import { CHECK_IN_VARIABLES, TERM_VARIABLE_INDEX, type CheckInValues, type FeatureSpec } from './variables.ts';

export const MAX_SUGGESTIONS = 3;
/** Smallest expected gain (quality points) worth telling the athlete about. */
export const MIN_SUGGESTION_GAIN = 0.05;

/** Model features the athlete can change before climbing (VariableSpec.actionable). */
export const ACTIONABLE_FEATURES: readonly string[] = CHECK_IN_VARIABLES.filter((spec) => spec.feature && 'actionable' in spec && spec.actionable).map((spec) => spec.name);

const fmt = (n: number) => (Number.isInteger(n) ? String(n) : n.toFixed(1));

function suggestionMessage(variable: string, from: number, to: number, gain: number): string {
  const tail = ` (+${gain.toFixed(2)} expected quality)`;
  switch (variable) {
    case 'caffeineMg':
      return (to >= from ? `Take about ${fmt(to)} mg caffeine` : `Keep caffeine to about ${fmt(to)} mg`) + tail;
    case 'warmupMin':
      return (to >= from ? `Warm up for about ${fmt(to)} min` : `Keep the warm-up to about ${fmt(to)} min`) + tail;
    default:
      return `${to >= from ? 'Raise' : 'Lower'} ${variable} from ${fmt(from)} to about ${fmt(to)}${tail}`;
  }
}

/**
 * Up to 3 suggestions with an expected gain > 0.05, best first.
 * For each actionable feature with an optimal range: from = the check-in value (the reference value when
 * missing); to = optimalMax when the user's coefficient is positive, optimalMin when negative, so the
 * target always lies inside the optimal range; gain = the change in E[rating | bounds], the expected rating on
 * the 1-10 scale (before rule multipliers), when the predictive distribution of the latent quality moves by the
 * change's effect beta_j * (to - from), its spread kept: E(eta + beta_j (to - from), s) - E(eta, s). Far from
 * the bounds that is beta_j * (to - from); near 1 or 10 it is less, as the latent mass beyond a bound gains
 * nothing (a rating cannot rise above 10): an athlete already expected at 9.5 gains little.
 * The spread is the check-in's: how uncertain the coefficient is says nothing about which way to move.
 * A move that would lower q (e.g. already above optimalMax with a positive coefficient) is dropped.
 * Features without an optimal range are never suggested. The ranges are the terms' (the PopulationPrior table), in
 * MODEL_TERMS order (term j reads the check-in's value of its variable, TERM_VARIABLE_INDEX[j]).
 */
export function suggestImprovements(model: UserModel, values: CheckInValues, terms: readonly FeatureSpec[], actionable: readonly string[] = ACTIONABLE_FEATURES): Suggestion[] {
  const out: Suggestion[] = [];
  let latent: { eta: number; sd: number; expected: number } | null = null;
  for (let j = 1; j < terms.length; j++) {
    const term = terms[j];
    if (!actionable.includes(term.name)) continue;
    if (term.optimalMin === undefined || term.optimalMax === undefined) continue;
    const beta = model.mean[j];
    if (!Number.isFinite(beta) || beta === 0) continue;
    const raw = values[TERM_VARIABLE_INDEX[j]];
    const from = typeof raw === 'number' && Number.isFinite(raw) ? raw : term.reference;
    const to = beta > 0 ? term.optimalMax : term.optimalMin;
    const latentGain = beta * (to - from);
    if (latentGain <= 0) continue;
    if (latent === null) {
      const { eta, sd } = latentPrediction(model, values);
      latent = { eta, sd, expected: expectedBoundedRating(eta, sd) };
    }
    const gain = expectedBoundedRating(latent.eta + latentGain, latent.sd) - latent.expected;
    if (gain > MIN_SUGGESTION_GAIN) {
      out.push({ variable: term.name, from, to, expectedGain: gain, message: suggestionMessage(term.name, from, to, gain) });
    }
  }
  out.sort((a, b) => b.expectedGain - a.expectedGain);
  return out.slice(0, MAX_SUGGESTIONS);
}
