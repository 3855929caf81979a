// Population effects on a common scale: quality points per standard deviation of each variable, so a
// caffeine effect (per mg) and an energy effect (per point) can be ranked side by side.
import { Z95 } from './normal.ts';
import { TERM_NAMES } from './variables.ts';

export interface StandardizedEffect {
  variable: string;
  /** mu_j * sd_j: the population effect of one observed sd of the variable. */
  perSd: number;
  /** 95 % interval of perSd: (mu_j -/+ 1.96 muSd_j) * sd_j. */
  lower: number;
  upper: number;
  /** tau_j * sd_j: how much that effect differs between athletes. */
  betweenAthleteSd: number;
}

/**
 * Effects for every model term with an observed sd (the intercept has none), largest |perSd| first.
 * Arrays are in TERM_NAMES order; `sd` is keyed by variable.
 */
export function standardizedEffects(mu: readonly number[], muSd: readonly number[], tau2: readonly number[], sd: Readonly<Record<string, number>>): StandardizedEffect[] {
  return TERM_NAMES.flatMap((variable, j) => {
    const s = sd[variable];
    if (typeof s !== 'number' || !Number.isFinite(s)) return [];
    // sd >= 0, so scaling keeps the bounds in order.
    return [{ variable, perSd: mu[j] * s, lower: (mu[j] - Z95 * muSd[j]) * s, upper: (mu[j] + Z95 * muSd[j]) * s, betweenAthleteSd: Math.sqrt(tau2[j]) * s }];
  }).sort((x, y) => Math.abs(y.perSd) - Math.abs(x.perSd));
}
