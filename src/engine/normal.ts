// The engine's special functions in one place: the standard normal distribution (density, distribution function,
// Mills ratio, the 95 % constant), log-gamma and digamma (the variational fit's bound); and what the bounded
// rating scale makes of the normal: the censored likelihood of a rating at 1 or 10, the moments of the truncated
// latent value, and the expected rating given the bounds.

const INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI);

/**
 * Phi(-a) · exp(a² / 2) for a >= 0: the lower tail with its Gaussian factor taken out, so that the tail and the
 * Mills ratio neither underflow nor lose digits. Hart's (1968) rational approximation below 7.07 and a continued
 * fraction above, as given by West ("Better approximations to cumulative normal functions", 2005): about 1e-15.
 */
function scaledTail(a: number): number {
  if (a < 7.07106781186547) {
    const num = (((((0.0352624965998911 * a + 0.700383064443688) * a + 6.37396220353165) * a + 33.912866078383) * a + 112.079291497871) * a + 221.213596169931) * a + 220.206867912376;
    const den =
      ((((((0.0883883476483184 * a + 1.75566716318264) * a + 16.064177579207) * a + 86.7807322029461) * a + 296.564248779674) * a + 637.333633378831) * a + 793.826512519948) * a + 440.413735824752;
    return num / den;
  }
  return INV_SQRT_2PI / (a + 1 / (a + 2 / (a + 3 / (a + 4 / (a + 0.65)))));
}

export function normalPdf(z: number): number {
  return INV_SQRT_2PI * Math.exp(-0.5 * z * z);
}

/** Phi(z), the standard normal distribution function (about 1e-15, tails included). */
export function normalCdf(z: number): number {
  const tail = Math.exp(-0.5 * z * z) * scaledTail(Math.abs(z));
  return z < 0 ? tail : 1 - tail;
}

/**
 * phi(z) / Phi(z) (the inverse Mills ratio), stable for any z: for z < 0 the common factor exp(-z²/2) of
 * phi and Phi cancels analytically instead of underflowing.
 */
export function inverseMills(z: number): number {
  if (z >= 0) return normalPdf(z) / normalCdf(z);
  return INV_SQRT_2PI / scaledTail(-z);
}

/**
 * The two-sided 95 % normal quantile, as the domain states it (1.96; the exact 1.95996 differs in the fifth
 * digit): every 95 % interval of the engine uses it.
 */
export const Z95 = 1.96;

const LANCZOS = [
  0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059, 12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
];

/** log Gamma(x) for x > 0 (Lanczos, g = 7). */
export function lgamma(x: number): number {
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - lgamma(1 - x);
  const z = x - 1;
  let a = LANCZOS[0];
  const t = z + 7.5;
  for (let i = 1; i < 9; i++) a += LANCZOS[i] / (z + i);
  return 0.5 * Math.log(2 * Math.PI) + (z + 0.5) * Math.log(t) - t + Math.log(a);
}

/** digamma(x) for x > 0 (recurrence to x >= 6, then the asymptotic series). */
export function digamma(x: number): number {
  let r = 0;
  while (x < 6) {
    r -= 1 / x;
    x += 1;
  }
  const f = 1 / (x * x);
  return r + Math.log(x) - 0.5 / x - f * (1 / 12 - f * (1 / 120 - f * (1 / 252 - f * (1 / 240 - f / 132))));
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
