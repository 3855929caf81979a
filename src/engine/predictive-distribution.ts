// The predictive distribution of a rating (domain.md section 7): what the model says about the whole number an
// athlete will report, 1-10, and the 95 % interval read off it. Pure and allocation-light.
//
// An athlete reports a whole number: the latent quality rounded to the nearest integer and censored at both ends
// (1 means a latent value below 1.5, 10 one above 9.5). The fit treats a rating inside the scale as the latent value
// itself, so its sigma² also holds the rounding's own variance (1/12 for a uniform rounding error, Sheppard's
// correction); the latent value behind a rating has the noise sigma² - 1/12. Counting that twice would widen every
// predicted distribution.
import { expectedBoundedRating, LOWER_CUT, normalCdf, normalPdf, RATING_MAX, RATING_MIN, UPPER_CUT } from './normal.ts';

/** Number of ratings on the scale (1..10). */
export const RATING_LEVELS = RATING_MAX - RATING_MIN + 1;

/** Variance of the rounding of a latent value to a whole rating (uniform on ±0.5): 1/12. */
export const ROUNDING_VARIANCE = 1 / 12;

/** The level of the predictive interval. */
export const INTERVAL_LEVEL = 0.95;

/**
 * The latent sd behind a whole rating: sqrt(x'Vx + sigma² - 1/12), the posterior's uncertainty plus the session
 * noise without the rounding the fitted sigma² already holds (never below a tenth of the fitted value's sd).
 */
export function latentRatingSd(xVx: number, sigma2: number): number {
  return Math.sqrt(Math.max(0, xVx) + Math.max(sigma2 - ROUNDING_VARIANCE, 0.01 * sigma2));
}

/**
 * P(rating = k) for k = 1..10 (index k - 1) when the latent value is N(eta, sd²): the mass between k - 0.5 and
 * k + 0.5, all of it below 1.5 for a 1 and above 9.5 for a 10. Sums to 1.
 */
export function ratingDistribution(eta: number, sd: number, out: number[] = new Array<number>(RATING_LEVELS)): number[] {
  let below = 0;
  for (let k = RATING_MIN; k < RATING_MAX; k++) {
    const cut = k === RATING_MIN ? LOWER_CUT : k + 0.5;
    const c = sd > 0 ? normalCdf((cut - eta) / sd) : eta < cut ? 1 : 0;
    out[k - RATING_MIN] = Math.max(0, c - below);
    below = Math.max(below, c);
  }
  out[RATING_LEVELS - 1] = Math.max(0, 1 - below);
  return out;
}

/** The mean of a distribution over 1..10. */
export function distributionMean(distribution: readonly number[]): number {
  let m = 0;
  for (let i = 0; i < distribution.length; i++) m += (RATING_MIN + i) * distribution[i];
  return m;
}

export interface RatingInterval {
  low: number;
  high: number;
  /** The predicted probability of a rating in [low, high]. */
  probability: number;
}

/**
 * The predictive interval of whole ratings: for each width, the most probable run of consecutive ratings; of
 * those, the one whose probability is nearest the level. Ratings are whole numbers, so an interval can only hold
 * the probability of whole ratings: the shortest run reaching 95 % holds on average 97 % (its last rating
 * overshoots); the nearest run holds 95 % on average, a little more or a little less each time, and that average
 * is what the held-out coverage measures. Ties go to the shorter run.
 */
export function ratingInterval(distribution: readonly number[], level = INTERVAL_LEVEL): RatingInterval {
  const n = distribution.length;
  let best: RatingInterval = { low: RATING_MIN, high: RATING_MIN + n - 1, probability: 1 };
  let bestError = Number.POSITIVE_INFINITY;
  for (let width = 1; width <= n; width++) {
    let run = 0;
    for (let k = 0; k < width; k++) run += distribution[k];
    let top = run;
    let topStart = 0;
    for (let start = 1; start + width <= n; start++) {
      run += distribution[start + width - 1] - distribution[start - 1];
      if (run > top) {
        top = run;
        topStart = start;
      }
    }
    const error = Math.abs(top - level);
    if (error < bestError - 1e-12) {
      bestError = error;
      best = { low: RATING_MIN + topStart, high: RATING_MIN + topStart + width - 1, probability: Math.min(1, top) };
    }
    if (top >= level) break; // wider runs only move further from the level
  }
  return best;
}

/**
 * The latent value whose expected rating (E[rating | bounds] at sd, normal.ts) is `target`: how a rule multiplier,
 * which moves the expected rating, moves the whole predicted distribution. Newton's method from `start`, each step
 * at most a few sd, kept inside a bracket that bisects when a step leaves it; a target at a bound puts all of the
 * mass there. The slope of E in eta is P(1.5 < latent < 9.5) plus the jumps at the cuts (a latent 1.5 is rated
 * 1.5 just above the cut and 1 just below it; 9.5 and 10 alike): 0.5 (phi(a) + phi(b)) / sd.
 */
export function latentForExpectedRating(target: number, sd: number, start: number): number {
  if (target >= RATING_MAX - 1e-9) return UPPER_CUT + 40 * sd + 1;
  if (target <= RATING_MIN + 1e-9) return LOWER_CUT - 40 * sd - 1;
  let lo = Number.NEGATIVE_INFINITY;
  let hi = Number.POSITIVE_INFINITY;
  let eta = start;
  const reach = 4 * Math.max(1, sd);
  for (let i = 0; i < 200; i++) {
    const miss = expectedBoundedRating(eta, sd) - target;
    if (Math.abs(miss) < 1e-10) break;
    if (miss < 0) lo = eta;
    else hi = eta;
    const a = (LOWER_CUT - eta) / sd;
    const b = (UPPER_CUT - eta) / sd;
    const slope = normalCdf(b) - normalCdf(a) + (0.5 * (normalPdf(a) + normalPdf(b))) / sd;
    // A step of at most a few sd: in a tail the slope is nearly flat and a full Newton step would fly off.
    let next = slope > 1e-12 ? eta - Math.max(-reach, Math.min(reach, miss / slope)) : Number.NaN;
    if (!(next > lo && next < hi)) {
      // Outside the bracket (or a flat tail): bisect, or walk out of the tail while one side is still open.
      next = Number.isFinite(lo) && Number.isFinite(hi) ? 0.5 * (lo + hi) : eta + (miss < 0 ? 1 : -1) * Math.max(1, sd) * 2 ** Math.min(i, 30);
    }
    if (next === eta) break;
    eta = next;
  }
  return eta;
}
