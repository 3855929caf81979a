// Prediction of session quality from a user's coefficients (domain.md section 7).
// Pure and allocation-light: one design row, one x'Vx; runs in microseconds.
import { expectedBoundedRating, RATING_MAX, RATING_MIN, Z95 } from './normal.ts';
import { latentForExpectedRating, latentRatingSd, ratingDistribution, ratingInterval } from './predictive-distribution.ts';
import { roundRating } from './rounding.ts';
import type { AssumedValue, Contribution, ModelPhase, Prediction, UserModel } from './types.ts';
import { checkInIndex, FEATURES, MODEL_TERMS, P, TERM_VARIABLE_INDEX, valuesDesignRow, type CheckInValues, type SessionType } from './variables.ts';

/** A typical difference of each feature (in its unit), for how much a missing one could matter. */
const TYPICAL_DIFFERENCE: ReadonlyMap<string, number> = new Map(FEATURES.map((spec) => [spec.name, spec.typicalDifference ?? 1]));

export const QUALITY_MIN = RATING_MIN;
export const QUALITY_MAX = RATING_MAX;

/**
 * Confidence thresholds on the width of the latent 95 % range eta ± 1.96 s (before multipliers and clamping; not
 * the served interval of whole ratings, which the bounds and the rounding cut).
 * The residual alone sets a floor: with sigma = 1.5 the width is at least 2 * 1.96 * 1.5 = 5.88, so the
 * thresholds sit just above that floor and measure how much coefficient uncertainty (x'Vx) and personal
 * noise add on top.
 *   COLD_START                         -> LOW (under 10 sessions: the posterior is still mostly the population)
 *   PERSONALIZED and width <= 6.5      -> HIGH
 *   LEARNING/PERSONALIZED, width <= 8  -> MEDIUM
 *   otherwise                          -> LOW
 */
export const CONFIDENCE_THRESHOLDS = { highMaxWidth: 6.5, mediumMaxWidth: 8 } as const;

export class ModelShapeError extends Error {
  readonly code = 'MODEL_SHAPE';
  constructor(message: string) {
    super(message);
    this.name = 'ModelShapeError';
  }
}

export function clampQuality(q: number): number {
  return Math.min(Math.max(q, QUALITY_MIN), QUALITY_MAX);
}

export function confidenceLabel(width: number, phase: ModelPhase): Prediction['confidence'] {
  if (phase === 'COLD_START') return 'LOW';
  if (phase === 'PERSONALIZED' && width <= CONFIDENCE_THRESHOLDS.highMaxWidth) return 'HIGH';
  if (width <= CONFIDENCE_THRESHOLDS.mediumMaxWidth) return 'MEDIUM';
  return 'LOW';
}

// Safe to share: predict is synchronous and never yields while the row is in use.
const scratchRow = new Float64Array(P);

/**
 * Predicted session quality for a check-in (its values by the registry's index, checkInValues), on the bounded 1-10
 * scale (domain.md section 7). The latent quality is N(eta, s²): eta = beta · (x - c) (rawQuality) and
 * s² = x'Vx + sigma², the predictive variance (the posterior's uncertainty and the session noise). A rating of 1
 * means a latent value <= 1.5 and a 10 one >= 9.5, as the bounded model fits them, so expectedQuality =
 * E[rating | bounds] (normal.ts), times the rule multiplier, clamped to 1-10.
 * The distribution is P(rating = k), k = 1..10, of the whole number the athlete will report (predictive-
 * distribution.ts): the latent value N(eta, x'Vx + sigma² - 1/12) rounded and censored (the fitted sigma² holds
 * the rounding's 1/12 already). Under a rule multiplier the latent value is moved until its expected rating is
 * expectedQuality, so the distribution follows the adjusted prediction. The 95 % interval is the run of whole
 * ratings read off it whose probability is nearest 95 % (ratingInterval), widened to a whole rating when
 * expectedQuality would fall outside it (nearly all of the mass at a bound), so it always contains expectedQuality.
 * Held-out errors, evaluate and the API all predict through here.
 * Contributions are beta_j (x_j - c_j) for the 9 features (the intercept is the baseline, not a
 * contribution), sorted by absolute size, ties in model-term order.
 */
export function predict(model: UserModel, values: CheckInValues, multiplier = 1): Prediction {
  const beta = model.mean;
  const cov = model.covariance;
  if (beta.length !== P || cov.length !== P * P) {
    throw new ModelShapeError(`model has ${beta.length} coefficients and ${cov.length} covariance entries; expected ${P} and ${P * P}`);
  }
  const x = valuesDesignRow(values, scratchRow);
  const { eta: raw, xVx } = latentMoments(model, x);

  const contributions: Contribution[] = [];
  for (let j = 1; j < P; j++) insertByLargest(contributions, { variable: MODEL_TERMS[j].name, value: beta[j] * x[j] + 0 }, contributionSize); // + 0 turns -0 into 0

  // Left out of the check-in: taken at the reference value (x - c = 0), and how much asking for it could change the answer.
  const assumed: AssumedValue[] = [];
  for (let j = 1; j < P; j++) {
    const term = MODEL_TERMS[j];
    const value = values[TERM_VARIABLE_INDEX[j]];
    if (typeof value === 'number' && Number.isFinite(value)) continue;
    const sensitivity = Math.abs(beta[j]) * (TYPICAL_DIFFERENCE.get(term.name) ?? 1);
    insertByLargest(assumed, { variable: term.name, value: term.reference, sensitivity }, assumedSensitivity);
  }

  // Guard against a covariance that is numerically slightly indefinite.
  const sd = Math.sqrt(Math.max(0, xVx) + model.sigma2);
  const halfWidth = Z95 * sd;
  const expectedQuality = clampQuality(expectedBoundedRating(raw, sd) * multiplier);
  const latent = multiplier === 1 ? raw : latentForExpectedRating(expectedQuality, sd, raw);
  const distribution = ratingDistribution(latent, latentRatingSd(xVx, model.sigma2));
  const interval = ratingInterval(distribution);
  // The interval holds the expected rating as the API shows it (2 decimals): 1.0002 shows as 1.00, inside [1, 1].
  const shown = roundRating(expectedQuality);

  return {
    expectedQuality,
    rawQuality: raw,
    interval: { low: Math.min(interval.low, Math.floor(shown)), high: Math.max(interval.high, Math.ceil(shown)) },
    distribution,
    contributions,
    phase: model.phase,
    confidence: confidenceLabel(2 * halfWidth, model.phase),
    assumed,
  };
}

/**
 * Puts `item` into `sorted` (largest `key(value)` first) after the items of an equal key, so equal keys keep their
 * order of arrival (as a stable sort). A prediction's nine contributions and its assumed variables were ordered by
 * Array.prototype.sort, whose comparator's results are boxed numbers: about 1.2 kB of garbage per prediction.
 */
function insertByLargest<T>(sorted: T[], item: T, key: (item: T) => number): void {
  const k = key(item);
  let at = sorted.length;
  sorted.push(item);
  while (at > 0 && key(sorted[at - 1]) < k) {
    sorted[at] = sorted[at - 1];
    at--;
  }
  sorted[at] = item;
}

const contributionSize = (c: Contribution): number => Math.abs(c.value);
const assumedSensitivity = (a: AssumedValue): number => a.sensitivity ?? 0;

/** eta = beta · x and x'Vx for a design row. */
function latentMoments(model: UserModel, x: ArrayLike<number>): { eta: number; xVx: number } {
  const beta = model.mean;
  const cov = model.covariance;
  let eta = 0;
  let xVx = 0;
  for (let i = 0; i < P; i++) {
    const xi = x[i];
    eta += beta[i] * xi;
    if (xi === 0) continue;
    const rowOffset = i * P;
    let s = 0;
    for (let j = 0; j < P; j++) s += cov[rowOffset + j] * x[j];
    xVx += xi * s;
  }
  return { eta, xVx };
}

/** The latent prediction for a check-in: eta = beta · (x - c) and the predictive sd sqrt(x'Vx + sigma²). */
export function latentPrediction(model: UserModel, values: CheckInValues): { eta: number; sd: number } {
  const { eta, xVx } = latentMoments(model, valuesDesignRow(values, scratchRow));
  return { eta, sd: Math.sqrt(Math.max(0, xVx) + model.sigma2) };
}

const ENERGY = checkInIndex('energyLevel');
const MOTIVATION = checkInIndex('motivationLevel');
const SORENESS = checkInIndex('sorenessLevel');

/**
 * The model's session type for a quality (before rule ceilings), domain.md section 7.
 * A missing energy, motivation or soreness does not meet its ">=" condition.
 */
export function sessionTypeFromQuality(q: number, values: CheckInValues): SessionType {
  const atLeast = (value: unknown, threshold: number) => typeof value === 'number' && value >= threshold;
  if (q >= 7.5 && atLeast(values[ENERGY], 7) && atLeast(values[MOTIVATION], 7)) return 'PROJECT';
  if (q >= 6.5) return 'VOLUME';
  if (q >= 5.5) return atLeast(values[SORENESS], 6) ? 'TECHNIQUE' : 'VOLUME';
  if (q >= 4.5) return 'LIGHT_SESSION';
  if (q >= 3.0) return 'ACTIVE_RECOVERY';
  return 'REST_DAY';
}
