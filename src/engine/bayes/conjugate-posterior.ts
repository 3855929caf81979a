// The conjugate posterior of one athlete's coefficients given the hyperparameters, N(m, V), and what is read off
// it (phase, shrinkage, credible intervals, predictive variance). The solve is equilibrated for features on very
// different scales (posteriorInto).
import { P as TERM_COUNT, TERM_NAMES } from '../variables.ts';
import type { ModelPhase, UserModel } from '../types.ts';
import { cholesky, choleskyInverse, choleskyLogDet, choleskySolve } from '../linalg.ts';
import { Z95 } from '../normal.ts';
import type { SufficientStats } from './sufficient-stats.ts';

/** Number of terms, as a module-local constant (an imported binding is a property read in hot loops under tsx). */
const P = TERM_COUNT;

export function phaseFor(n: number): ModelPhase {
  if (n < 10) return 'COLD_START';
  if (n < 30) return 'LEARNING';
  return 'PERSONALIZED';
}

/** 1 - mean_j(V_jj / tau_j²): 0 = the population, 1 = entirely personal. */
export function shrinkageFactor(cov: ArrayLike<number>, tau2: ArrayLike<number>): number {
  let s = 0;
  for (let j = 0; j < P; j++) s += cov[j * P + j] / tau2[j];
  return Math.min(1, Math.max(0, 1 - s / P));
}

/** 95 % intervals mean ± 1.96 sd per term. */
export function credibleIntervals(mean: ArrayLike<number>, cov: ArrayLike<number>): Record<string, [number, number]> {
  const out: Record<string, [number, number]> = {};
  for (let j = 0; j < P; j++) {
    const h = Z95 * Math.sqrt(Math.max(0, cov[j * P + j]));
    out[TERM_NAMES[j]] = [mean[j] - h, mean[j] + h];
  }
  return out;
}

export function coefficientsRecord(mean: ArrayLike<number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (let j = 0; j < P; j++) out[TERM_NAMES[j]] = mean[j];
  return out;
}

/** x'Vx + sigma²: variance of a new outcome at design row x. */
export function predictiveVariance(x: ArrayLike<number>, cov: ArrayLike<number>, sigma2: number): number {
  let s = 0;
  for (let i = 0; i < P; i++) {
    let r = 0;
    for (let k = 0; k < P; k++) r += cov[i * P + k] * x[k];
    s += x[i] * r;
  }
  return s + sigma2;
}

/** A user's served model (UserModel) plus what the API and ModelOutput show. */
export interface UserPosteriorResult extends UserModel {
  credibleIntervals: Record<string, [number, number]>;
  coefficients: Record<string, number>;
}

export interface Workspace {
  a: Float64Array;
  inv: Float64Array;
  work: Float64Array;
  d: Float64Array;
  r: Float64Array;
}

export function workspace(): Workspace {
  return {
    a: new Float64Array(P * P),
    inv: new Float64Array(P * P),
    work: new Float64Array(P * P),
    d: new Float64Array(P),
    r: new Float64Array(P),
  };
}

/**
 * Posterior of beta given prior N(mu, diag(1/tauInv)) and the user's statistics:
 * V = (diag(tauInv) + X'X/sigma²)^-1, m = V (diag(tauInv) mu + X'y/sigma²). Writes mean and cov; returns log det V.
 * Reads only the lower triangle of `xtx`.
 *
 * The features live on very different scales (caffeine in mg: X'X entries ~1e4 n, prior precision up to ~1e6;
 * the intercept ~n and ~1), so the precision is equilibrated first, B = D A D with D = diag(A_jj^-1/2): B has a
 * unit diagonal and its condition number reflects only the correlation between features. Then one Cholesky.
 */
export function posteriorInto(
  xtx: ArrayLike<number>,
  xty: ArrayLike<number>,
  tauInv: ArrayLike<number>,
  mu: ArrayLike<number>,
  sigma2Inv: number,
  mean: Float64Array,
  cov: Float64Array,
  ws: Workspace,
): number {
  posteriorMeanInto(xtx, xty, tauInv, mu, sigma2Inv, mean, ws);
  return posteriorCovarianceInto(cov, ws);
}

/**
 * The posterior mean alone (posteriorInto without the covariance: one Cholesky and two triangular solves). Leaves
 * the equilibrated factor in ws.a and the scaling in ws.d for posteriorCovarianceInto, and each term's conditional
 * sd (A_jj^-1/2, at most its posterior sd) in ws.d.
 */
export function posteriorMeanInto(xtx: ArrayLike<number>, xty: ArrayLike<number>, tauInv: ArrayLike<number>, mu: ArrayLike<number>, sigma2Inv: number, mean: Float64Array, ws: Workspace): void {
  const { a, d, r } = ws;
  for (let j = 0; j < P; j++) {
    d[j] = 1 / Math.sqrt(xtx[j * P + j] * sigma2Inv + tauInv[j]);
    r[j] = (xty[j] * sigma2Inv + tauInv[j] * mu[j]) * d[j];
  }
  for (let i = 0; i < P; i++) {
    const ri = i * P;
    for (let k = 0; k <= i; k++) {
      let v = xtx[ri + k] * sigma2Inv;
      if (k === i) v += tauInv[i];
      a[ri + k] = v * d[i] * d[k];
    }
  }
  cholesky(a, P);
  // m = D B^-1 D r
  choleskySolve(a, P, r, r);
  for (let j = 0; j < P; j++) mean[j] = r[j] * d[j];
}

/** The covariance from posteriorMeanInto's factor (ws): V = D B^-1 D. Returns log det V. */
export function posteriorCovarianceInto(cov: Float64Array, ws: Workspace): number {
  const { a, inv, work, d } = ws;
  choleskyInverse(a, P, inv, work);
  let logDetScale = 0;
  for (let j = 0; j < P; j++) logDetScale += Math.log(d[j]);
  for (let i = 0; i < P; i++) {
    const ri = i * P;
    for (let k = 0; k <= i; k++) {
      const v = inv[ri + k] * d[i] * d[k];
      cov[ri + k] = v;
      cov[k * P + i] = v; // exactly symmetric
    }
  }
  // V = D B^-1 D  =>  log det V = 2 log det D - log det B
  return 2 * logDetScale - choleskyLogDet(a, P);
}

/** Expected residual sum of squares under N(m, V): y'y - 2 m'X'y + m'X'Xm + tr(X'X V). */
export function expectedRss(stats: SufficientStats, mean: ArrayLike<number>, cov: ArrayLike<number>): number {
  const { xtx, xty } = stats;
  let rss = stats.yty;
  for (let i = 0; i < P; i++) {
    const ri = i * P;
    let row = 0;
    let tr = 0;
    for (let k = 0; k < P; k++) {
      row += xtx[ri + k] * mean[k];
      tr += xtx[ri + k] * cov[ri + k];
    }
    rss += mean[i] * (row - 2 * xty[i]) + tr;
  }
  return Math.max(0, rss);
}
