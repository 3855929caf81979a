// The standard normal distribution where the bounded rating scale needs it: the censored likelihood of a rating
// at 1 or 10, the moments of the truncated latent value, and the expected rating given the bounds.

const SQRT2 = Math.SQRT2;
const INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI);

/**
 * t · exp(-1.26551223 + t · (...)) = erfc(x) · exp(x²) for x >= 0, t = 1 / (1 + x/2): Numerical Recipes' erfcc
 * (Chebyshev fit, fractional error below 1.2e-7 everywhere, tails included).
 */
function erfcScaled(x: number): number {
  const t = 1 / (1 + 0.5 * x);
  return (
    t *
    Math.exp(
      -1.26551223 +
        t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))),
    )
  );
}

export function normalPdf(z: number): number {
  return INV_SQRT_2PI * Math.exp(-0.5 * z * z);
}

/** Phi(z), relative error below 1.2e-7 in both tails. */
export function normalCdf(z: number): number {
  const x = Math.abs(z) / SQRT2;
  const tail = 0.5 * erfcScaled(x) * Math.exp(-x * x);
  return z < 0 ? tail : 1 - tail;
}

/**
 * phi(z) / Phi(z) (the inverse Mills ratio), stable for any z: for z < 0 the common factor exp(-z²/2) of
 * phi and Phi cancels analytically instead of underflowing.
 */
export function inverseMills(z: number): number {
  if (z >= 0) return normalPdf(z) / normalCdf(z);
  return (2 * INV_SQRT_2PI) / erfcScaled(-z / SQRT2);
}

/** Latent cut-offs of the 1-10 scale: a rating of 1 means a latent value <= 1.5, a rating of 10 one >= 9.5. */
export const RATING_MIN = 1;
export const RATING_MAX = 10;
export const LOWER_CUT = 1.5;
export const UPPER_CUT = 9.5;

/** Is this rating at a bound of the scale (censored: only a side of its latent value is known)? */
export const isBoundedRating = (y: number): boolean => y === RATING_MIN || y === RATING_MAX;

/**
 * A censored observation of a latent N(eta, s²): the rating's side ('upper' = at 10, latent >= UPPER_CUT;
 * otherwise at 1, latent <= LOWER_CUT). Returns
 *   score  d log P / d eta           (the gradient of the censored log-likelihood)
 *   weight -s² d² log P / d eta²     (its curvature in units of a fully observed row, in (0, 1))
 *   logP   log P(the rating | eta)
 *   mean, variance of the latent value given the rating (the truncated normal)
 */
export function censoredObservation(upper: boolean, eta: number, s: number) {
  // z: standardised distance into the censored side; P = Phi(z).
  const z = upper ? (eta - UPPER_CUT) / s : (LOWER_CUT - eta) / s;
  const lambda = inverseMills(z);
  const weight = Math.min(1, Math.max(0, lambda * (lambda + z)));
  const sign = upper ? 1 : -1;
  const logP = z < -30 ? -0.5 * z * z - Math.log(-z * Math.sqrt(2 * Math.PI)) + Math.log1p(-1 / (z * z)) : Math.log(normalCdf(z));
  return {
    score: (sign * lambda) / s,
    weight,
    logP,
    mean: eta + sign * s * lambda,
    variance: s * s * (1 - weight),
  };
}

/** Entropy of the truncated normal of a censored latent value (for the variational bound). */
export function censoredEntropy(upper: boolean, eta: number, s: number): number {
  const z = upper ? (eta - UPPER_CUT) / s : (LOWER_CUT - eta) / s;
  const { logP } = censoredObservation(upper, eta, s);
  // H = log(sqrt(2 pi e) s P) - z_c phi(z_c) / (2 P), z_c the cut in standard units (= -z on either side).
  return 0.5 * Math.log(2 * Math.PI * Math.E) + Math.log(s) + logP - 0.5 * z * inverseMills(z);
}

/** The rating a latent value gives: 1 at or below LOWER_CUT, 10 at or above UPPER_CUT, the value itself in between. */
export function ratingOfLatent(latent: number): number {
  return latent <= LOWER_CUT ? RATING_MIN : latent >= UPPER_CUT ? RATING_MAX : latent;
}

/**
 * E[rating] when the latent value is N(eta, s²) and the scale is bounded: 1 below LOWER_CUT, 10 above UPPER_CUT,
 * the latent value itself in between:
 *   Phi(a) · 1 + (1 - Phi(b)) · 10 + eta (Phi(b) - Phi(a)) + s (phi(a) - phi(b)),  a, b = the cuts in sd units.
 */
export function expectedBoundedRating(eta: number, s: number): number {
  const a = (LOWER_CUT - eta) / s;
  const b = (UPPER_CUT - eta) / s;
  const pa = normalCdf(a);
  const pb = normalCdf(b);
  return pa * RATING_MIN + (1 - pb) * RATING_MAX + eta * (pb - pa) + s * (normalPdf(a) - normalPdf(b));
}
