// Ratings at the ends of the scale (1 or 10) are censored: they enter through their censored likelihood, whose
// posterior mode is found by Newton steps, each one conjugate solve on the statistics linearised at the current
// mean (normal.ts gives the truncated-normal moments).
import { P as TERM_COUNT } from '../variables.ts';
import { censoredEntropy, censoredObservation } from '../normal.ts';
import { posteriorInto, type Workspace } from './conjugate-posterior.ts';
import type { BoundedRows, SufficientStats } from './sufficient-stats.ts';

/** Number of terms, as a module-local constant (an imported binding is a property read in hot loops under tsx). */
const P = TERM_COUNT;

/** Newton steps to the censored posterior's mode: from a warm start it takes 2-4. */
const MAX_NEWTON = 50;
const NEWTON_TOLERANCE = 1e-9;

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
 */
export function linearise(st: SufficientStats, mean: ArrayLike<number>, s: number, xtx: Float64Array, xty: Float64Array): number {
  xtx.set(st.xtx);
  xty.set(st.xty);
  let yty = st.yty;
  const b = st.bounded;
  if (!b) return yty;
  const s2 = s * s;
  for (let i = 0, o = 0; i < b.upper.length; i++, o += P) {
    let eta = 0;
    for (let j = 0; j < P; j++) eta += b.x[o + j] * mean[j];
    const c = censoredObservation(b.upper[i] === 1, eta, s);
    const r = c.weight * eta + s2 * c.score;
    for (let j = 0; j < P; j++) {
      const xj = b.x[o + j];
      xty[j] += xj * r;
      const wx = c.weight * xj;
      const rj = j * P;
      for (let k = 0; k < P; k++) xtx[rj + k] += wx * b.x[o + k];
    }
    yty += c.variance + c.mean * c.mean;
  }
  return yty;
}

/**
 * posteriorInto for statistics with bounded rows: Newton steps from `mean` (a warm start; overwritten with the
 * mode) on the censored posterior, each one posteriorInto on the statistics linearised at the current mean. The
 * covariance is the inverse curvature at the mode. Returns log det V.
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
): number {
  const s = Math.sqrt(1 / sigma2Inv);
  let logDetV = 0;
  for (let iter = 0; iter < MAX_NEWTON; iter++) {
    linearise(st, mean, s, cs.xtx, cs.xty);
    cs.prev.set(mean);
    logDetV = posteriorInto(cs.xtx, cs.xty, tauInv, mu, sigma2Inv, mean, cov, ws);
    let change = 0;
    for (let j = 0; j < P; j++) change = Math.max(change, Math.abs(mean[j] - cs.prev[j]) / Math.sqrt(cov[j * P + j]));
    if (change < NEWTON_TOLERANCE) break;
  }
  return logDetV;
}

export const hasBounded = (st: SufficientStats): boolean => (st.bounded?.upper.length ?? 0) > 0;

/** The posterior of one athlete given the hyperparameters, bounded rows or not; `mean` is a warm start if given. */
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
  return censoredPosteriorInto(st, tauInv, mu, sigma2Inv, mean, cov, ws, cs);
}

/**
 * Bounded rows' share of the expected residual sum of squares, E[(latent - x beta)²] = Var + (E - eta)² + x'Vx
 * under the truncated normal of each latent value, and the entropy of those truncated normals.
 */
export function boundedRss(b: BoundedRows, mean: ArrayLike<number>, cov: ArrayLike<number>, s: number): { rss: number; entropy: number } {
  let rss = 0;
  let entropy = 0;
  for (let i = 0, o = 0; i < b.upper.length; i++, o += P) {
    let eta = 0;
    let xvx = 0;
    for (let j = 0; j < P; j++) {
      const xj = b.x[o + j];
      eta += xj * mean[j];
      let r = 0;
      for (let k = 0; k < P; k++) r += cov[j * P + k] * b.x[o + k];
      xvx += xj * r;
    }
    const upper = b.upper[i] === 1;
    const c = censoredObservation(upper, eta, s);
    rss += c.variance + (c.mean - eta) ** 2 + xvx;
    entropy += censoredEntropy(upper, eta, s);
  }
  return { rss, entropy };
}
