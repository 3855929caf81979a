// The quick update: an athlete's served model from their statistics and the cached hyperparameters, the
// statistics to store for it, and the step for one new rating.
import { P as TERM_COUNT } from '../variables.ts';
import { isBoundedRating, RATING_MAX } from '../normal.ts';
import { coefficientsRecord, credibleIntervals, phaseFor, shrinkageFactor, workspace, type UserPosteriorResult } from './conjugate-posterior.ts';
import { athletePosteriorInto, censoredScratch, hasBounded, linearise } from './censored-newton.ts';
import { priorHyperparameters, type Hyperparameters } from './hyperparameters.ts';
import { addObservation, emptyStats, type SufficientStats } from './sufficient-stats.ts';
import { withHyperparameterUncertainty } from './hyperparameter-uncertainty.ts';

/** Number of terms, as a module-local constant (an imported binding is a property read in hot loops under tsx). */
const P = TERM_COUNT;

const sharedWs = workspace();
const sharedCs = censoredScratch();

/**
 * The quick update: the exact conjugate posterior of the user's coefficients given the hyperparameters. It is
 * what every phase serves (domain.md section 6: the phase is a label, not a switch); with no data it is the
 * population, N(mu, diag(tau²)).
 */
export function userPosterior(stats: SufficientStats, hyper: Hyperparameters): UserPosteriorResult {
  const tauInv = new Float64Array(P);
  for (let j = 0; j < P; j++) tauInv[j] = 1 / hyper.tau2[j];
  const mean = new Float64Array(P);
  const cov = new Float64Array(P * P);
  athletePosteriorInto(stats, tauInv, hyper.mu, 1 / hyper.sigma2, mean, cov, sharedWs, sharedCs);
  return servedModel(stats.n, mean, cov, hyper);
}

/**
 * The statistics to store for the quick update: bounded rows linearised at the athlete's posterior mode `mean`
 * (userPosterior's), so that userPosterior of the result reproduces that posterior with no rows kept.
 */
export function linearisedStats(stats: SufficientStats, mean: ArrayLike<number>, hyper: Hyperparameters): SufficientStats {
  if (!hasBounded(stats)) return { n: stats.n, xtx: [...stats.xtx], xty: [...stats.xty], yty: stats.yty };
  const xtx = new Float64Array(P * P);
  const xty = new Float64Array(P);
  const yty = linearise(stats, mean, Math.sqrt(hyper.sigma2), xtx, xty);
  return { n: stats.n, xtx: Array.from(xtx), xty: Array.from(xty), yty };
}

/**
 * The quick update's step for a new rated row on stored (linearised) statistics: a rating inside the scale is
 * a rank-1 step; one at 1 or 10 is linearised at the athlete's current posterior mode (an approximation the
 * nightly fit corrects: it re-linearises every bounded row at the final mode).
 */
export function addRatingLinearised(stats: SufficientStats, x: ArrayLike<number>, y: number, hyper: Hyperparameters): SufficientStats {
  if (!isBoundedRating(y)) return addObservation(stats, x, y);
  const { mean } = userPosterior(stats, hyper);
  const one: SufficientStats = { ...emptyStats(), bounded: { x: Array.from({ length: P }, (_, j) => x[j]), upper: [y === RATING_MAX ? 1 : 0] } };
  const row = linearisedStats(one, mean, hyper);
  return { n: stats.n + 1, xtx: stats.xtx.map((v, i) => v + row.xtx[i]), xty: stats.xty.map((v, i) => v + row.xty[i]), yty: stats.yty + row.yty };
}

/**
 * The served model of an athlete with n rated sessions from their posterior mean and covariance given the
 * hyperparameters. When the fit measured how uncertain the between-athlete spreads are (hyper.logTau2Cov), the
 * served covariance, and so the intervals and predictions, carry that uncertainty and mu's (Kass-Steffey); the
 * shrinkage factor stays the conditional posterior's.
 */
export function servedModel(n: number, mean: ArrayLike<number>, cov: ArrayLike<number>, hyper: Hyperparameters): UserPosteriorResult {
  const servedMean = Array.from(mean);
  const { logTau2Cov } = hyper;
  const servedCov = Array.from(n > 0 && logTau2Cov ? withHyperparameterUncertainty(mean, cov, { ...hyper, logTau2Cov }, new Float64Array(P * P)) : cov);
  return {
    phase: phaseFor(n),
    mean: servedMean,
    covariance: servedCov,
    sigma2: hyper.sigma2,
    sessionsIncluded: n,
    shrinkageFactor: shrinkageFactor(cov, hyper.tau2),
    credibleIntervals: credibleIntervals(servedMean, servedCov),
    coefficients: coefficientsRecord(servedMean),
  };
}

/** The model served to an athlete with no data (fallback when no ModelOutput exists or it is stale). */
export function populationUserModel(hyper: Hyperparameters = priorHyperparameters()): UserPosteriorResult {
  return userPosterior(emptyStats(), hyper);
}
