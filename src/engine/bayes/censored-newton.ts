// Ratings at the ends of the scale (1 or 10) are censored: they enter through their censored likelihood, whose
// posterior mode is found by Newton steps, each one conjugate solve on the statistics linearised at the current
// mean (normal.ts gives the truncated-normal moments).
import { P as TERM_COUNT } from '../variables.ts';
import { inverseMills, LOWER_CUT, normalCdf, UPPER_CUT } from '../normal.ts';
import { posteriorCovarianceInto, posteriorInto, posteriorMeanInto, type Workspace } from './conjugate-posterior.ts';
import type { BoundedRows, SufficientStats } from './sufficient-stats.ts';

/** Number of terms, as a module-local constant (an imported binding is a property read in hot loops under tsx). */
const P = TERM_COUNT;

/** Newton steps to the censored posterior's mode: from a warm start it takes 1-2. */
const MAX_NEWTON = 50;
/**
 * Newton converges quadratically: a step of size δ (in conditional sd units) leaves an error of order δ², so a step
 * under 1e-5 leaves the mode within about 1e-10 sd and no further step (a whole linearisation and solve) is taken.
 */
export const NEWTON_STEP_TOLERANCE = 1e-5;

export interface CensoredScratch {
  xtx: Float64Array;
  xty: Float64Array;
  prev: Float64Array;
}

export const censoredScratch = (): CensoredScratch => ({ xtx: new Float64Array(P * P), xty: new Float64Array(P), prev: new Float64Array(P) });

/**
 * The statistics with every bounded row linearised at `mean`: a row of weight w = the censored likelihood's
 * curvature (in units of an observed row) and working response eta + s² score / w, i.e. X'X + w x x' and
 * X'y + x (w eta + s² score). Returns y'y with each bounded row's E[latent²] (truncated normal) in place of y².
 * With `lowerOnly` only X'X's lower triangle is updated (all that posteriorInto reads: the Newton steps).
 */
export function linearise(st: SufficientStats, mean: ArrayLike<number>, s: number, xtx: Float64Array, xty: Float64Array, lowerOnly = false): number {
  xtx.set(st.xtx);
  xty.set(st.xty);
  let yty = st.yty;
  const b = st.bounded;
  if (!b) return yty;
  const s2 = s * s;
  for (let i = 0, o = 0; i < b.upper.length; i++, o += P) {
    let eta = 0;
    for (let j = 0; j < P; j++) eta += b.x[o + j] * mean[j];
    // censoredObservation's weight and score, inline (the Newton steps' hot loop needs neither logP nor objects)
    const upper = b.upper[i] === 1;
    const z = upper ? (eta - UPPER_CUT) / s : (LOWER_CUT - eta) / s;
    const lambda = inverseMills(z);
    const weight = Math.min(1, Math.max(0, lambda * (lambda + z)));
    const sign = upper ? 1 : -1;
    const r = weight * eta + s * sign * lambda;
    for (let j = 0; j < P; j++) {
      const xj = b.x[o + j];
      xty[j] += xj * r;
      const wx = weight * xj;
      const rj = j * P;
      const end = lowerOnly ? j + 1 : P;
      for (let k = 0; k < end; k++) xtx[rj + k] += wx * b.x[o + k];
    }
    // E[latent²] of the truncated normal
    const latentMean = eta + sign * s * lambda;
    yty += s2 * (1 - weight) + latentMean * latentMean;
  }
  return yty;
}

/**
 * posteriorInto for statistics with bounded rows: Newton steps from `mean` (a warm start; overwritten with the
 * mode) on the censored posterior, each one solve for the mean on the statistics linearised at the current mean
 * (the covariance only once, from the last step's factor). The covariance is the inverse curvature at the mode.
 * Returns log det V.
 */
function censoredPosteriorInto(
  st: SufficientStats,
  tauInv: ArrayLike<number>,
  mu: ArrayLike<number>,
  sigma2Inv: number,
  mean: Float64Array,
  cov: Float64Array,
  ws: Workspace,
  cs: CensoredScratch,
  stepTolerance: number,
): number {
  const s = Math.sqrt(1 / sigma2Inv);
  for (let iter = 0; iter < MAX_NEWTON; iter++) {
    linearise(st, mean, s, cs.xtx, cs.xty, true);
    cs.prev.set(mean);
    posteriorMeanInto(cs.xtx, cs.xty, tauInv, mu, sigma2Inv, mean, ws);
    // The change in units of each term's conditional sd (ws.d: at most its posterior sd, so a strict test).
    let change = 0;
    for (let j = 0; j < P; j++) change = Math.max(change, Math.abs(mean[j] - cs.prev[j]) / ws.d[j]);
    if (change < stepTolerance) break;
  }
  return posteriorCovarianceInto(cov, ws);
}

export const hasBounded = (st: SufficientStats): boolean => (st.bounded?.upper.length ?? 0) > 0;

/**
 * The posterior of one athlete given the hyperparameters, bounded rows or not; `mean` is a warm start if `warm`.
 * `stepTolerance` (conditional sd units) ends the Newton steps to the censored mode: the nightly fit's sweeps
 * loosen it while the hyperparameters are still moving more than that would matter.
 */
export function athletePosteriorInto(
  st: SufficientStats,
  tauInv: ArrayLike<number>,
  mu: ArrayLike<number>,
  sigma2Inv: number,
  mean: Float64Array,
  cov: Float64Array,
  ws: Workspace,
  cs: CensoredScratch,
  warm = false,
  stepTolerance = NEWTON_STEP_TOLERANCE,
): number {
  if (st.n === 0) {
    // No data: the population itself, exactly (not a solve that rounds it).
    cov.fill(0);
    let logDetV = 0;
    for (let j = 0; j < P; j++) {
      mean[j] = mu[j];
      cov[j * P + j] = 1 / tauInv[j];
      logDetV -= Math.log(tauInv[j]);
    }
    return logDetV;
  }
  if (!hasBounded(st)) return posteriorInto(st.xtx, st.xty, tauInv, mu, sigma2Inv, mean, cov, ws);
  if (!warm) mean.set(mu);
  return censoredPosteriorInto(st, tauInv, mu, sigma2Inv, mean, cov, ws, cs, stepTolerance);
}

/** Sum of x x' over the bounded rows (P x P row-major): with it, sum_i x_i'V x_i = tr(V S) costs P², not k P². */
export function boundedOuterProduct(b: BoundedRows): Float64Array {
  const out = new Float64Array(P * P);
  for (let i = 0, o = 0; i < b.upper.length; i++, o += P) {
    for (let j = 0; j < P; j++) {
      const xj = b.x[o + j];
      for (let k = 0; k < P; k++) out[j * P + k] += xj * b.x[o + k];
    }
  }
  return out;
}

/** 5-point Gauss-Hermite rule (7 points give the same sigma² to 1e-3) for E[f(eta)], eta ~ N(m, v): eta = m + sqrt(2 v) t, weights w / sqrt(pi). */
export const GH_NODES = [-2.020182870456086, -0.958572464613819, 0, 0.958572464613819, 2.020182870456086];
export const GH_WEIGHTS = [0.019953242059046, 0.393619323152241, 0.945308720482942, 0.393619323152241, 0.019953242059046].map((w) => w / Math.sqrt(Math.PI));

/**
 * Bounded rows' share of the expected residual sum of squares, and the entropy of their latent values' truncated
 * normals. A bounded row's latent value follows the athlete's coefficients (given beta, it is the normal of mean
 * eta = x'beta beyond the cut), so its expected squared residual is taken over both together:
 * E_eta[s² (1 - w(eta)) + (s lambda(eta))²] with eta ~ N(x'm, x'Vx) (Gauss-Hermite), the truncated normal's
 * Var + (E - eta)². Taking the latent value's truncated normal at the mean eta alone and adding x'Vx, as a
 * factorised q(latent) q(beta) does, counts the coefficients' uncertainty a second time wherever the latent value
 * follows eta (a 10 far above the cut): sigma² came out 4-5 % high on ratings piled at the bounds and every slope's
 * between-athlete spread 5-16 % low (BENCHMARKS.md "What sets each term's coverage").
 */
export function boundedRss(b: BoundedRows, mean: ArrayLike<number>, cov: ArrayLike<number>, s: number): { rss: number; entropy: number } {
  let rss = 0;
  let entropy = 0;
  const s2 = s * s;
  const entropyConstant = 0.5 * Math.log(2 * Math.PI * Math.E) + Math.log(s);
  for (let i = 0, o = 0; i < b.upper.length; i++, o += P) {
    let eta = 0;
    let v = 0;
    for (let j = 0; j < P; j++) {
      const xj = b.x[o + j];
      eta += xj * mean[j];
      let r = 0;
      for (let k = 0; k < P; k++) r += cov[j * P + k] * b.x[o + k];
      v += xj * r;
    }
    const upper = b.upper[i] === 1;
    const spread = Math.sqrt(2 * Math.max(0, v));
    for (let q = 0; q < GH_NODES.length; q++) {
      const e = eta + spread * GH_NODES[q];
      const zq = upper ? (e - UPPER_CUT) / s : (LOWER_CUT - e) / s;
      const lq = inverseMills(zq);
      const wq = Math.min(1, Math.max(0, lq * (lq + zq)));
      // Var + (E - eta)²: s² (1 - w) + (s lambda)²
      rss += GH_WEIGHTS[q] * s2 * (1 - wq + lq * lq);
    }
    // censoredEntropy at the mean eta (the ELBO's q(latent))
    const z = upper ? (eta - UPPER_CUT) / s : (LOWER_CUT - eta) / s;
    const lambda = inverseMills(z);
    const logP = z < -30 ? -0.5 * z * z - Math.log(-z * Math.sqrt(2 * Math.PI)) + Math.log1p(-1 / (z * z)) : Math.log(normalCdf(z));
    entropy += entropyConstant + logP - 0.5 * z * lambda;
  }
  return { rss, entropy };
}
