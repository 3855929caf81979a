// The hierarchical Bayesian linear model of domain.md section 6, pure: sufficient statistics in, posteriors out.
//
//   quality_ui = beta_u · (x_ui - c) + e,  e ~ N(0, sigma²)
//   beta_u ~ N(mu, diag(tau²)),  mu_j ~ N(priorMean_j, priorStd_j²)
//   tau_j ~ half-Cauchy(0, sqrt(individualVariance_j))   (default; see TAU_PRIOR_NOTE)
//   sigma² ~ InvGamma(3, 2 · 1.5²)                        (prior mean 1.5²)
//
// The quick update is the exact conjugate posterior of beta_u given cached hyperparameters; the nightly fit
// is mean-field variational Bayes over (beta_u for every user, mu, tau², sigma²), driven only by per-user
// sufficient statistics, so one iteration costs users x p³ whatever the number of sessions.
//
// The rating scale is bounded: a rating of 1 says only that the latent quality was <= 1.5, a 10 that it was
// >= 9.5 (normal.ts). Those rows are kept apart (SufficientStats.bounded) and enter through their censored
// likelihood: data augmentation, the latent value's truncated-normal moments given the current posterior, inside
// the same variational sweeps. An athlete's q(beta_u) is centred at the mode of the censored posterior (the fixed
// point of the augmentation, found by Newton steps) with the censored likelihood's curvature as its precision: a
// bounded row informs less than an observed one (weight in (0, 1)), so the intervals do not claim what a pile
// of 10s cannot say.
import { DEFAULT_SIGMA2, MODEL_TERMS, P as TERM_COUNT, TERM_NAMES, designRow, type FeatureSpec } from './variables.ts';
import type { ModelPhase, UserModel } from './types.ts';
import { cholesky, choleskyInverse, choleskyLogDet } from './linalg.ts';
import { censoredEntropy, censoredObservation, digamma, isBoundedRating, lgamma, RATING_MAX, Z95 } from './normal.ts';

export const MODEL_VERSION = 'hier-vb-1';

/** Number of terms, as a module-local constant (an imported binding is a property read in hot loops under tsx). */
const P = TERM_COUNT;

// ---------------------------------------------------------------- sufficient statistics

/**
 * Per-user sufficient statistics of the centred design (JSON-safe: plain numbers and arrays). Without `bounded`
 * every rated row is in X'X, X'y, y'y (the stored form, bounded rows linearised: see linearisedStats).
 */
export interface SufficientStats {
  /** Rated sessions, bounded ones included. */
  n: number;
  /** X'X, P x P row-major (both triangles). */
  xtx: number[];
  /** X'y, length P. */
  xty: number[];
  /** y'y. */
  yty: number;
  /** Ratings at a bound of the scale (1 or 10), kept apart for the censored likelihood; not in X'X, X'y, y'y. */
  bounded?: BoundedRows;
}

/** An athlete's ratings at 1 or 10: their centred design rows and which bound. */
export interface BoundedRows {
  /** Design rows, k x P row-major. */
  x: number[];
  /** 1 for a rating of 10 (latent >= 9.5), 0 for a rating of 1 (latent <= 1.5). */
  upper: number[];
}

export function emptyStats(): SufficientStats {
  return { n: 0, xtx: new Array<number>(P * P).fill(0), xty: new Array<number>(P).fill(0), yty: 0 };
}

/** Adds one row (a centred design row from designRow) and its outcome, in place (rank-1 step). */
export function addObservation(stats: SufficientStats, x: ArrayLike<number>, y: number): SufficientStats {
  const { xtx, xty } = stats;
  for (let i = 0; i < P; i++) {
    const xi = x[i];
    const ri = i * P;
    for (let k = 0; k < P; k++) xtx[ri + k] += xi * x[k];
    xty[i] += xi * y;
  }
  stats.yty += y * y;
  stats.n += 1;
  return stats;
}

const rowScratch = new Float64Array(P);

/** designRow + addObservation for a check-in-like record (missing features sit at their reference value). */
export function addSession(stats: SufficientStats, values: Readonly<Record<string, unknown>>, quality: number): SufficientStats {
  return addObservation(stats, designRow(values, rowScratch), quality);
}

/**
 * Adds one rated row the bounded model's way: a rating at 1 or 10 goes to `bounded`, any other into X'X, X'y,
 * y'y (the nightly fit and full recomputes).
 */
export function addRating(stats: SufficientStats, x: ArrayLike<number>, y: number): SufficientStats {
  if (!isBoundedRating(y)) return addObservation(stats, x, y);
  stats.bounded ??= { x: [], upper: [] };
  for (let j = 0; j < P; j++) stats.bounded.x.push(x[j]);
  stats.bounded.upper.push(y === RATING_MAX ? 1 : 0);
  stats.n += 1;
  return stats;
}

/** addRating for a check-in-like record. */
export function addRatedSession(stats: SufficientStats, values: Readonly<Record<string, unknown>>, quality: number): SufficientStats {
  return addRating(stats, designRow(values, rowScratch), quality);
}

/** Sum of two users' (or two batches') statistics, as a new object. */
export function mergeStats(a: SufficientStats, b: SufficientStats): SufficientStats {
  return {
    n: a.n + b.n,
    xtx: a.xtx.map((v, i) => v + b.xtx[i]),
    xty: a.xty.map((v, i) => v + b.xty[i]),
    yty: a.yty + b.yty,
    ...(a.bounded || b.bounded ? { bounded: { x: [...(a.bounded?.x ?? []), ...(b.bounded?.x ?? [])], upper: [...(a.bounded?.upper ?? []), ...(b.bounded?.upper ?? [])] } } : {}),
  };
}

/**
 * a without b's rows (an exact downdate: b's rows must be part of a). A bounded row of b is taken out of a's
 * bounded rows (the first with the same side and design row), the others out of X'X, X'y, y'y.
 */
export function withoutStats(a: SufficientStats, b: SufficientStats): SufficientStats {
  const out: SufficientStats = {
    n: a.n - b.n,
    xtx: a.xtx.map((v, i) => v - b.xtx[i]),
    xty: a.xty.map((v, i) => v - b.xty[i]),
    yty: a.yty - b.yty,
  };
  const rows = b.bounded?.upper.length ?? 0;
  if (!a.bounded && rows === 0) return out;
  const x = [...(a.bounded?.x ?? [])];
  const upper = [...(a.bounded?.upper ?? [])];
  for (let r = 0; r < rows; r++) {
    const i = upper.findIndex((u, k) => u === b.bounded!.upper[r] && sameRow(x, k, b.bounded!.x, r));
    if (i < 0) throw new Error('withoutStats: a bounded row to remove is not in the statistics');
    upper.splice(i, 1);
    x.splice(i * P, P);
  }
  if (upper.length > 0) out.bounded = { x, upper };
  return out;
}

/** Row k of a and row r of b (k x P row-major) agree (to rounding: one may come from SQL, one from designRow). */
function sameRow(a: readonly number[], k: number, b: readonly number[], r: number): boolean {
  for (let j = 0; j < P; j++) if (Math.abs(a[k * P + j] - b[r * P + j]) > 1e-9 * (1 + Math.abs(b[r * P + j]))) return false;
  return true;
}

function finiteArray(v: unknown, length: number): v is number[] {
  return Array.isArray(v) && v.length === length && v.every((x) => typeof x === 'number' && Number.isFinite(x));
}

/** Validates stored statistics; null for a stale or wrong shape (e.g. written with another number of terms). */
export function parseStats(json: unknown): SufficientStats | null {
  if (!json || typeof json !== 'object' || Array.isArray(json)) return null;
  const o = json as Record<string, unknown>;
  const { n, yty } = o;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 0) return null;
  if (typeof yty !== 'number' || !Number.isFinite(yty) || yty < 0) return null;
  if (!finiteArray(o.xtx, P * P) || !finiteArray(o.xty, P)) return null;
  // X'X[0][0] counts the rows (the intercept column is all ones); a linearised bounded row counts its weight in (0, 1].
  if (o.xtx[0] < 0 || o.xtx[0] - n > 1e-6 * Math.max(1, n)) return null;
  return { n, xtx: [...o.xtx], xty: [...o.xty], yty };
}

// ---------------------------------------------------------------- hyperparameters

/** Population hyperparameters in MODEL_TERMS order. muSd is the posterior sd of mu (uncertainty of the population mean). */
export interface Hyperparameters {
  mu: number[];
  tau2: number[];
  sigma2: number;
  muSd: number[];
}

/** The priors (default: the seed of domain.md section 5) standing in for a population fit. */
export function priorHyperparameters(terms: readonly FeatureSpec[] = MODEL_TERMS): Hyperparameters {
  return {
    mu: terms.map((t) => t.priorMean),
    tau2: terms.map((t) => t.individualVariance),
    sigma2: DEFAULT_SIGMA2,
    muSd: terms.map((t) => t.priorStd),
  };
}

/** Validates stored hyperparameters (PopulationModel row); null for a stale or wrong shape. */
export function parseHyperparameters(json: unknown): Hyperparameters | null {
  if (!json || typeof json !== 'object' || Array.isArray(json)) return null;
  const o = json as Record<string, unknown>;
  if (!finiteArray(o.mu, P) || !finiteArray(o.tau2, P) || !finiteArray(o.muSd, P)) return null;
  if (typeof o.sigma2 !== 'number' || !Number.isFinite(o.sigma2) || o.sigma2 <= 0) return null;
  if (o.tau2.some((t) => t <= 0) || o.muSd.some((s) => s < 0)) return null;
  return { mu: [...o.mu], tau2: [...o.tau2], sigma2: o.sigma2, muSd: [...o.muSd] };
}

// ---------------------------------------------------------------- per-user posterior

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

interface Workspace {
  a: Float64Array;
  inv: Float64Array;
  work: Float64Array;
  d: Float64Array;
  r: Float64Array;
}

function workspace(): Workspace {
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
 *
 * The features live on very different scales (caffeine in mg: X'X entries ~1e4 n, prior precision up to ~1e6;
 * the intercept ~n and ~1), so the precision is equilibrated first, B = D A D with D = diag(A_jj^-1/2): B has a
 * unit diagonal and its condition number reflects only the correlation between features. Then one Cholesky.
 */
function posteriorInto(
  xtx: ArrayLike<number>,
  xty: ArrayLike<number>,
  tauInv: ArrayLike<number>,
  mu: ArrayLike<number>,
  sigma2Inv: number,
  mean: Float64Array,
  cov: Float64Array,
  ws: Workspace,
): number {
  const { a, inv, work, d, r } = ws;
  for (let j = 0; j < P; j++) {
    d[j] = 1 / Math.sqrt(xtx[j * P + j] * sigma2Inv + tauInv[j]);
    r[j] = xty[j] * sigma2Inv + tauInv[j] * mu[j];
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
  for (let i = 0; i < P; i++) {
    const ri = i * P;
    let s = 0;
    for (let k = 0; k < P; k++) s += cov[ri + k] * r[k];
    mean[i] = s;
  }
  // V = D B^-1 D  =>  log det V = 2 log det D - log det B
  return 2 * logDetScale - choleskyLogDet(a, P);
}

/** Expected residual sum of squares under N(m, V): y'y - 2 m'X'y + m'X'Xm + tr(X'X V). */
function expectedRss(stats: SufficientStats, mean: ArrayLike<number>, cov: ArrayLike<number>): number {
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

const sharedWs = workspace();

/** Newton steps to the censored posterior's mode: from a warm start it takes 2-4. */
const MAX_NEWTON = 50;
const NEWTON_TOLERANCE = 1e-9;

interface CensoredScratch {
  xtx: Float64Array;
  xty: Float64Array;
  prev: Float64Array;
}

const censoredScratch = (): CensoredScratch => ({ xtx: new Float64Array(P * P), xty: new Float64Array(P), prev: new Float64Array(P) });

/**
 * The statistics with every bounded row linearised at `mean`: a row of weight w = the censored likelihood's
 * curvature (in units of an observed row) and working response eta + s² score / w, i.e. X'X + w x x' and
 * X'y + x (w eta + s² score). Returns y'y with each bounded row's E[latent²] (truncated normal) in place of y².
 */
function linearise(st: SufficientStats, mean: ArrayLike<number>, s: number, xtx: Float64Array, xty: Float64Array): number {
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

const hasBounded = (st: SufficientStats): boolean => (st.bounded?.upper.length ?? 0) > 0;

/** The posterior of one athlete given the hyperparameters, bounded rows or not; `mean` is a warm start if given. */
function athletePosteriorInto(
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
function boundedRss(b: BoundedRows, mean: ArrayLike<number>, cov: ArrayLike<number>, s: number): { rss: number; entropy: number } {
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

/** The served model of an athlete with n rated sessions from their posterior mean and covariance. */
export function servedModel(n: number, mean: ArrayLike<number>, cov: ArrayLike<number>, hyper: Hyperparameters): UserPosteriorResult {
  const servedMean = Array.from(mean);
  const servedCov = Array.from(cov);
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

// ---------------------------------------------------------------- nightly fit

/**
 * Why half-Cauchy on tau_j and not InvGamma(3, ·) centred at individualVariance_j: an InvGamma(a0, b0) prior
 * acts like 2·a0 pseudo-athletes whose coefficients deviate by about individualVariance_j. The seed
 * individual variances are generous (caffeine: 0.004 per mg², i.e. an sd of 6 quality points per 100 mg), so
 * those 6 pseudo-athletes outweigh hundreds of real ones whenever the true spread is much smaller, and the
 * model never learns to shrink (Gelman 2006, "Prior distributions for variance parameters in hierarchical
 * models"). A half-Cauchy with scale sqrt(individualVariance_j) keeps the seed value as the prior median of
 * tau_j, puts no pressure away from small tau, and stays conditionally conjugate through the auxiliary
 * variable tau_j² | a_j ~ InvGamma(1/2, 1/a_j), a_j ~ InvGamma(1/2, 1/A_j²) (Wand et al. 2011).
 * 'inverseGamma' (shape 3, mode individualVariance_j) is kept as an option for comparison.
 */
export const TAU_PRIOR_NOTE = 'tau_j ~ half-Cauchy(0, sqrt(individualVariance_j))';

export type Tau2Prior = 'halfCauchy' | 'inverseGamma';

export interface FitOptions {
  /** Maximum number of variational sweeps over all users. Default 1000. */
  maxIterations?: number;
  /** Largest change of a hyperparameter in one sweep (log scale for variances, in tau units for mu). Default 1e-6. */
  tolerance?: number;
  /** Called after every sweep with the sweep count and its change. */
  onProgress?: (iteration: number, delta: number) => void;
  /** Default 'halfCauchy'. */
  tau2Prior?: Tau2Prior;
  /** SQUAREM extrapolation of the sweeps (same fixed point, far fewer sweeps). Default true. */
  accelerate?: boolean;
  /**
   * How q(tau²) is moved each sweep: 'fixedPoint' (default, MacKay's rearrangement, fast) or 'coordinate'
   * (plain coordinate ascent: the ELBO never decreases, but it can take thousands of sweeps). Same fixed point.
   */
  tau2Step?: 'fixedPoint' | 'coordinate';
  /** The terms' hyperpriors (priorMean, priorStd, individualVariance): the PopulationPrior table. Default: the seed. */
  terms?: readonly FeatureSpec[];
}

export interface FitDiagnostics {
  /** Variational sweeps over all users (each costs users x p³). */
  iterations: number;
  converged: boolean;
  /** Final change (see FitOptions.tolerance). */
  delta: number;
  /** Evidence lower bound (nats) after the last sweep, and the last values of its trace. */
  elbo: number;
  elboTrace: number[];
  /** Users with at least one session, and their sessions. */
  usersWithData: number;
  sessions: number;
  tau2Prior: Tau2Prior;
  elapsedMs: number;
}

export interface HierarchicalFit {
  hyper: Hyperparameters;
  users: UserPosteriorResult[];
  diagnostics: FitDiagnostics;
}

/** sigma² ~ InvGamma(3, 2 · 1.5²): prior mean 1.5², weak next to thousands of sessions. */
const SIGMA2_PRIOR_SHAPE = 3;
const SIGMA2_PRIOR_SCALE = (SIGMA2_PRIOR_SHAPE - 1) * DEFAULT_SIGMA2;
/** InvGamma option for tau²: shape 3, scale 4·iv (mode = individualVariance). */
const TAU2_IG_SHAPE = 3;
/** Floors keep precisions finite if a variance component collapses. */
const TAU2_FLOOR_FRACTION = 1e-8;
const SIGMA2_FLOOR = 1e-6;
const TRACE_TAIL = 20;
const LOG2PI = Math.log(2 * Math.PI);

/*
 * Variational state, packed so that sweeps can be extrapolated (SQUAREM):
 *   [0, P)     mu_j / sqrt(iv_j)          mean of q(mu_j), in prior-spread units
 *   [P, 2P)    log(1 / E[1/tau_j²])       q(tau_j²) = InvGamma(aTau, aTau · exp(.))
 *   [2P, 3P)   log b_j of q(a_j) = InvGamma(1, b_j)   (half-Cauchy auxiliary; unused for inverseGamma)
 *   3P         log(1 / E[1/sigma²])       q(sigma²) = InvGamma(aSig, aSig · exp(.))
 * q(mu_j)'s variance and every q(beta_u) follow from these in the next sweep.
 */
const THETA = 3 * TERM_COUNT + 1;

class VariationalFit {
  readonly U: number;
  readonly N: number;
  readonly aTau: number;
  readonly aSig: number;
  readonly mu0: number[];
  readonly s02: number[];
  readonly iv: number[];
  readonly ivSd: number[];
  readonly bTau0: number[];
  private readonly mean = new Float64Array(P);
  private readonly cov = new Float64Array(P * P);
  private readonly m: Float64Array;
  private readonly vdiag: Float64Array;
  private readonly ws = workspace();
  private readonly cs = censoredScratch();
  /** q(beta_u) means hold the previous sweep's (the warm start of the censored Newton steps). */
  private warm = false;
  private readonly eInvTau = new Float64Array(P);
  private readonly mMu = new Float64Array(P);
  readonly sMu2 = new Float64Array(P);

  constructor(
    private readonly active: readonly SufficientStats[],
    private readonly activeIndex: readonly number[],
    readonly tauPrior: Tau2Prior,
    readonly tau2Step: 'fixedPoint' | 'coordinate',
    terms: readonly FeatureSpec[],
  ) {
    this.mu0 = terms.map((t) => t.priorMean);
    this.s02 = terms.map((t) => t.priorStd * t.priorStd);
    this.iv = terms.map((t) => t.individualVariance);
    this.ivSd = this.iv.map(Math.sqrt);
    this.bTau0 = this.iv.map((v) => (TAU2_IG_SHAPE + 1) * v);
    this.U = active.length;
    let n = 0;
    for (const u of active) n += u.n;
    this.N = n;
    this.aTau = (tauPrior === 'halfCauchy' ? 0.5 : TAU2_IG_SHAPE) + this.U / 2;
    this.aSig = SIGMA2_PRIOR_SHAPE + n / 2;
    this.m = new Float64Array(this.U * P);
    this.vdiag = new Float64Array(this.U * P);
  }

  /** Starting point: the seed priors. */
  initial(): Float64Array {
    const t = new Float64Array(THETA);
    for (let j = 0; j < P; j++) {
      t[j] = this.mu0[j] / this.ivSd[j];
      t[P + j] = Math.log(this.iv[j]);
      t[2 * P + j] = Math.log(2 / this.iv[j]);
    }
    t[3 * P] = Math.log(DEFAULT_SIGMA2);
    return t;
  }

  /** Floors on the variances, applied to every (possibly extrapolated) state. */
  clampState(t: Float64Array): void {
    for (let j = 0; j < P; j++) t[P + j] = Math.max(t[P + j], Math.log(this.iv[j] * TAU2_FLOOR_FRACTION));
    t[3 * P] = Math.max(t[3 * P], Math.log(SIGMA2_FLOOR));
  }

  hyperparameters(t: Float64Array): Hyperparameters {
    return {
      mu: Array.from({ length: P }, (_, j) => t[j] * this.ivSd[j]),
      tau2: Array.from({ length: P }, (_, j) => Math.exp(t[P + j])),
      sigma2: Math.exp(t[3 * P]),
      muSd: Array.from({ length: P }, (_, j) => Math.sqrt(1 / (1 / this.s02[j] + this.U / Math.exp(t[P + j])))),
    };
  }

  /**
   * One coordinate-ascent sweep from state `tin` into `tout`: q(beta_u) for every user, then q(mu), q(tau²)
   * (and its auxiliary), q(sigma²). Returns the ELBO after the sweep and the largest change.
   */
  sweep(tin: Float64Array, tout: Float64Array): { elbo: number; delta: number } {
    const { U, N, aTau, aSig, mu0, s02, iv, m, vdiag, mean, cov, eInvTau, mMu, sMu2 } = this;
    const halfCauchy = this.tauPrior === 'halfCauchy';
    for (let j = 0; j < P; j++) {
      eInvTau[j] = Math.exp(-tin[P + j]);
      mMu[j] = tin[j] * this.ivSd[j];
    }
    const eInvSig = Math.exp(-tin[3 * P]);

    // q(beta_u): exact Gaussian given E[mu], E[1/tau²], E[1/sigma²]; with bounded rows, centred at the censored
    // posterior's mode (warm-started from the previous sweep) with its curvature, and each bounded row's latent
    // value augmented by its truncated normal.
    let sumLogDetV = 0;
    let sumRss = 0;
    let sumEntropy = 0;
    const s = Math.sqrt(1 / eInvSig);
    for (let u = 0; u < U; u++) {
      const st = this.active[u];
      const o = u * P;
      let logDetV: number;
      try {
        if (this.warm) for (let j = 0; j < P; j++) mean[j] = m[o + j];
        logDetV = athletePosteriorInto(st, eInvTau, mMu, eInvSig, mean, cov, this.ws, this.cs, this.warm);
      } catch (err) {
        throw new Error(`fitHierarchical: statistics of user #${this.activeIndex[u]} are not usable: ${(err as Error).message}`);
      }
      sumLogDetV += logDetV;
      sumRss += expectedRss(st, mean, cov);
      if (st.bounded) {
        const b = boundedRss(st.bounded, mean, cov, s);
        sumRss += b.rss;
        sumEntropy += b.entropy;
      }
      for (let j = 0; j < P; j++) {
        m[o + j] = mean[j];
        vdiag[o + j] = cov[j * P + j];
      }
    }

    this.warm = true;
    let elbo = -0.5 * N * LOG2PI + U * 0.5 * P * (1 + LOG2PI) + 0.5 * sumLogDetV + sumEntropy;
    let delta = 0;
    const psiATau = digamma(aTau);
    for (let j = 0; j < P; j++) {
      // q(mu_j) = N(mMu_j, sMu2_j)
      let sum = 0;
      for (let u = 0; u < U; u++) sum += m[u * P + j];
      const prec = 1 / s02[j] + U * eInvTau[j];
      sMu2[j] = 1 / prec;
      const muJ = (mu0[j] / s02[j] + eInvTau[j] * sum) / prec;

      // q(tau_j²) = InvGamma(aTau, bTau); c = E[1/a_j] for the half-Cauchy, the InvGamma scale otherwise.
      // Coordinate ascent sets 2 bTau = 2c + D + W with D = sum_u (m_uj - mu_j)², W = sum_u V_ujj + U sMu2_j.
      // The fixed-point step solves the same stationarity condition for tau² = bTau / aTau in MacKay's (1992)
      // rearrangement, tau² = (2c + D) / (2 aTau - W / tau²_old): same fixed point, but it converges in tens of
      // sweeps where coordinate ascent creeps when each user says little about beta_uj (W / tau² close to U).
      let dev = 0;
      let within = U * sMu2[j];
      for (let u = 0; u < U; u++) {
        const d = m[u * P + j] - muJ;
        dev += d * d;
        within += vdiag[u * P + j];
      }
      const s = dev + within;
      const bLamIn = Math.exp(tin[2 * P + j]);
      const c = halfCauchy ? 1 / bLamIn : this.bTau0[j];
      let bTau = c + s / 2;
      // 2 aTau - W / tau²_old is 1 + (effective number of users informative about term j) for the half-Cauchy;
      // when hardly any user informs the term (a feature nobody records), the plain step is the stable one.
      const denom = 2 * aTau - within * eInvTau[j];
      if (this.tau2Step === 'fixedPoint' && denom >= 2) bTau = (aTau * (2 * c + dev)) / denom;
      bTau = Math.max(bTau, aTau * iv[j] * TAU2_FLOOR_FRACTION);
      const eInvTauNew = aTau / bTau;
      const bLam = halfCauchy ? eInvTauNew + 1 / iv[j] : bLamIn;

      tout[j] = muJ / this.ivSd[j];
      tout[P + j] = Math.log(bTau / aTau);
      tout[2 * P + j] = Math.log(bLam);
      delta = Math.max(delta, Math.abs(tout[P + j] - tin[P + j]), Math.abs(muJ - mMu[j]) / Math.sqrt(bTau / aTau));

      // ELBO terms of this coordinate
      const eLogTau = Math.log(bTau) - psiATau;
      elbo += -0.5 * U * (LOG2PI + eLogTau) - 0.5 * eInvTauNew * s;
      elbo += -0.5 * Math.log(2 * Math.PI * s02[j]) - ((muJ - mu0[j]) ** 2 + sMu2[j]) / (2 * s02[j]);
      elbo += 0.5 * Math.log(2 * Math.PI * Math.E * sMu2[j]);
      if (halfCauchy) {
        const eLogLam = Math.log(bLam) - digamma(1);
        const eInvLam = 1 / bLam;
        elbo += -0.5 * eLogLam - lgamma(0.5) - 1.5 * eLogTau - eInvLam * eInvTauNew;
        elbo += -0.5 * Math.log(iv[j]) - lgamma(0.5) - 1.5 * eLogLam - eInvLam / iv[j];
        elbo += invGammaEntropy(1, bLam);
      } else {
        elbo += TAU2_IG_SHAPE * Math.log(this.bTau0[j]) - lgamma(TAU2_IG_SHAPE) - (TAU2_IG_SHAPE + 1) * eLogTau - this.bTau0[j] * eInvTauNew;
      }
      elbo += invGammaEntropy(aTau, bTau);
    }

    // q(sigma²) = InvGamma(aSig, bSig)
    const bSig = Math.max(SIGMA2_PRIOR_SCALE + sumRss / 2, aSig * SIGMA2_FLOOR);
    tout[3 * P] = Math.log(bSig / aSig);
    delta = Math.max(delta, Math.abs(tout[3 * P] - tin[3 * P]));
    const eInvSigNew = aSig / bSig;
    const eLogSig = Math.log(bSig) - digamma(aSig);
    elbo += -0.5 * N * eLogSig - 0.5 * eInvSigNew * sumRss;
    elbo += SIGMA2_PRIOR_SHAPE * Math.log(SIGMA2_PRIOR_SCALE) - lgamma(SIGMA2_PRIOR_SHAPE) - (SIGMA2_PRIOR_SHAPE + 1) * eLogSig - SIGMA2_PRIOR_SCALE * eInvSigNew;
    elbo += invGammaEntropy(aSig, bSig);
    return { elbo, delta };
  }
}

/**
 * Full posterior inference over mu, tau², sigma² and every beta_u by mean-field variational Bayes: coordinate
 * ascent on q(beta_u) q(mu) q(tau²) q(sigma²), each factor in closed form; deterministic, so the same input
 * gives the same output bit for bit. Plain sweeps converge slowly when the data say little about a variance
 * component (the EM "missing information" problem), so sweeps are extrapolated with SQUAREM (Varadhan &
 * Roland 2008, scheme S3) and an extrapolation is kept only if the ELBO does not drop; the fixed point is the
 * same. Users with n = 0 carry no likelihood: they do not enter the population update and get the population
 * model. The returned tau2 and sigma2 are 1/E_q[1/tau²] and 1/E_q[1/sigma²], the values at which q(beta_u) is
 * the conjugate posterior, so userPosterior(stats, hyper) reproduces every user of the fit.
 */
export function fitHierarchical(users: readonly SufficientStats[], opts: FitOptions = {}): HierarchicalFit {
  const started = performance.now();
  const maxIterations = opts.maxIterations ?? 1000;
  const tolerance = opts.tolerance ?? 1e-6;
  const tauPrior: Tau2Prior = opts.tau2Prior ?? 'halfCauchy';
  const accelerate = opts.accelerate ?? true;
  const terms = opts.terms ?? MODEL_TERMS;

  const activeIndex: number[] = [];
  users.forEach((u, i) => {
    if (u.n > 0) activeIndex.push(i);
  });
  const vb = new VariationalFit(
    activeIndex.map((i) => users[i]),
    activeIndex,
    tauPrior,
    opts.tau2Step ?? 'fixedPoint',
    terms,
  );

  const trace: number[] = [];
  let iterations = 0;
  let converged = false;
  let delta = Number.POSITIVE_INFINITY;
  let elbo = Number.NaN;
  let theta = vb.initial();

  if (vb.U > 0) {
    const t1 = new Float64Array(THETA);
    const t2 = new Float64Array(THETA);
    const t3 = new Float64Array(THETA);
    const tx = new Float64Array(THETA);
    const step = (tin: Float64Array, tout: Float64Array) => {
      const r = vb.sweep(tin, tout);
      iterations++;
      elbo = r.elbo;
      delta = r.delta;
      trace.push(r.elbo);
      if (trace.length > TRACE_TAIL) trace.shift();
      opts.onProgress?.(iterations, r.delta);
      if (r.delta < tolerance) converged = true;
      return r;
    };
    while (!converged && iterations < maxIterations) {
      // theta -> t1 -> t2: two plain sweeps
      step(theta, t1);
      if (converged || iterations >= maxIterations) {
        theta = t1.slice();
        break;
      }
      const r2 = step(t1, t2);
      if (converged || !accelerate || iterations >= maxIterations) {
        theta = t2.slice();
        continue;
      }
      // SQUAREM S3: r = t1 - theta, v = t2 - 2 t1 + theta, alpha = -|r|/|v| (at most -1)
      let rr = 0;
      let vv = 0;
      for (let i = 0; i < THETA; i++) {
        const r = t1[i] - theta[i];
        const v = t2[i] - 2 * t1[i] + theta[i];
        rr += r * r;
        vv += v * v;
      }
      const alpha = vv > 0 ? Math.min(-1, -Math.sqrt(rr / vv)) : -1;
      for (let i = 0; i < THETA; i++) {
        const r = t1[i] - theta[i];
        const v = t2[i] - 2 * t1[i] + theta[i];
        tx[i] = theta[i] - 2 * alpha * r + alpha * alpha * v;
      }
      vb.clampState(tx);
      // Stabilising sweep from the extrapolated point; keep it only if the ELBO did not drop.
      let ok = true;
      let r3: { elbo: number; delta: number } | null = null;
      try {
        r3 = step(tx, t3);
      } catch {
        ok = false; // an extrapolation far outside the data's support: fall back to the plain sweeps
      }
      if (ok && r3 && Number.isFinite(r3.elbo) && r3.elbo >= r2.elbo) {
        theta = t3.slice();
      } else {
        theta = t2.slice();
        converged = false;
      }
    }
  } else {
    converged = true;
    delta = 0;
  }

  const hyper = vb.U > 0 ? vb.hyperparameters(theta) : priorHyperparameters(terms);
  const tauInv = Float64Array.from(hyper.tau2, (t) => 1 / t);
  const ws = workspace();
  const cs = censoredScratch();
  const results = users.map((st) => {
    const mOut = new Float64Array(P);
    const cOut = new Float64Array(P * P);
    athletePosteriorInto(st, tauInv, hyper.mu, 1 / hyper.sigma2, mOut, cOut, ws, cs);
    return servedModel(st.n, mOut, cOut, hyper);
  });

  return {
    hyper,
    users: results,
    diagnostics: {
      iterations,
      converged,
      delta,
      elbo,
      elboTrace: trace,
      usersWithData: vb.U,
      sessions: vb.N,
      tau2Prior: tauPrior,
      elapsedMs: performance.now() - started,
    },
  };
}

/** Entropy of InvGamma(a, b) (a term of the ELBO). */
function invGammaEntropy(a: number, b: number): number {
  return a + Math.log(b) + lgamma(a) - (1 + a) * digamma(a);
}
