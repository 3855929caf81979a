// Each between-athlete spread's own posterior on a grid, and every athlete's interval mixed over it (issue 22 §1,
// eighth round; scripts/spread-diagnostics.ts --profile): measured, not served.
//
// For term j, the other hyperparameters at the fit, the posterior of g = log tau_j² on a grid of nodes:
//
//   log p(g | data) = Σ_u log p(y_u | tau_j² = e^g) + log p(g) [- ½ log(1/s0_j² + Σ_u 1/(e^g + h_u)) with `reml`]
//
// each athlete's factor relative to the fit's t0 exact from their posterior N(m, V) at the fit (only beta_uj's prior
// precision changes, a rank-1 change: sqrt(t0/t) (1 + V_jj δ)^-½ exp(-(m_j - mu_j)² δ / (2 (1 + V_jj δ))),
// δ = 1/t - 1/t0; exact for athletes without ratings at 1 or 10, their Gaussian at the fit otherwise, or with
// addCensored their posterior re-solved at every node), p(g) the half-Cauchy(0, A_j) on tau_j in g (log tau -
// log(1 + tau²/A²)) times tau^(C-1) (`priorPower` C), and with `reml` mu_j integrated out as a restricted likelihood
// counts it (h_u = 1/(1/V_jj - 1/t0), the athlete's own sampling variance of beta_uj; measured: within 0.2 point of
// mu held at the fit, BENCHMARKS "Eighth round"). Each athlete's coefficient given
// g is the conditional posterior (m_j' = m_j + V_jj δ (mu_j - m_j) / (1 + δ V_jj), V_jj' = V_jj / (1 + δ V_jj)), plus
// the other hyperparameters' first-order share (Kass-Steffey's served covariance less term j's own part); the interval
// is the served mean m_j ± the half-width at which the mixture over the grid holds 95 %.
import { P as TERM_COUNT } from '../../src/engine/variables.ts';
import { LOWER_CUT, normalCdf, UPPER_CUT } from '../../src/engine/normal.ts';
import { mixtureComponent, mixtureHalfWidth, otherHyperparameterShare } from '../../src/engine/bayes/hyperparameter-uncertainty.ts';
import { athletePosteriorInto, censoredScratch, hasBounded } from '../../src/engine/bayes/censored-newton.ts';
import { workspace } from '../../src/engine/bayes/conjugate-posterior.ts';
import type { SufficientStats } from '../../src/engine/bayes/sufficient-stats.ts';

const P = TERM_COUNT;

/** One term's spread posterior on its grid: log tau² nodes and their weights (summing to 1). */
export interface ProfileNodes {
  logTau2: Float64Array;
  weight: Float64Array;
  /** Each kept node's index in the grid (for moments from addCensored). */
  index: Int32Array;
}

const ws = workspace();
const cs = censoredScratch();
const scratchMean = new Float64Array(P);
const scratchCov = new Float64Array(P * P);

/** The athlete's log-likelihood at beta (constants dropped): observed rows' Gaussian, bounded rows' log Phi. */
function logLikelihood(st: SufficientStats, beta: ArrayLike<number>, sigma2: number): number {
  let quad = st.yty;
  for (let j = 0; j < P; j++) {
    quad -= 2 * beta[j] * st.xty[j];
    for (let k = 0; k < P; k++) quad += beta[j] * st.xtx[j * P + k] * beta[k];
  }
  let ll = (-0.5 * quad) / sigma2;
  const b = st.bounded;
  if (!b || !hasBounded(st)) return ll;
  const s = Math.sqrt(sigma2);
  for (let i = 0, o = 0; i < b.upper.length; i++, o += P) {
    let eta = 0;
    for (let j = 0; j < P; j++) eta += b.x[o + j] * beta[j];
    const z = b.upper[i] === 1 ? (eta - UPPER_CUT) / s : (LOWER_CUT - eta) / s;
    ll += z < -30 ? -0.5 * z * z - Math.log(-z * Math.sqrt(2 * Math.PI)) : Math.log(normalCdf(z));
  }
  return ll;
}

export interface ProfileOptions {
  /** Grid nodes for the likelihood (the nodes kept for the mixture are those with weight >= 1e-4 of the largest). */
  nodes?: number;
  /** mu_j integrated out (a restricted likelihood), not held at the fit. */
  reml?: boolean;
  /** Width of the grid below / above the fit, in log tau², as multiples of the fit's sd of log tau² (capped). */
  below?: number;
  above?: number;
  /** The prior's power of tau near zero, p(log tau²) ∝ tau^power / (1 + tau²/A²) (1: the half-Cauchy's). */
  priorPower?: number;
}

/** Accumulates each term's log-likelihood of log tau_j² on its grid over the athletes' posteriors at the fit. */
export class SpreadProfile {
  private readonly grid: Float64Array[];
  private readonly logLik: Float64Array[];
  private readonly remlSum: Float64Array[];
  private readonly reml: boolean;
  private readonly priorPower: number;

  constructor(
    private readonly mu: ArrayLike<number>,
    private readonly tau2: ArrayLike<number>,
    logTau2Sd: ArrayLike<number>,
    opts: ProfileOptions = {},
  ) {
    const n = opts.nodes ?? 61;
    this.reml = opts.reml ?? false;
    this.priorPower = opts.priorPower ?? 1;
    this.grid = Array.from({ length: P }, (_, j) => {
      const lo = Math.min(10, (opts.below ?? 10) * logTau2Sd[j]);
      const hi = Math.min(6, (opts.above ?? 8) * logTau2Sd[j]);
      const step = (lo + hi) / (n - 1);
      return Float64Array.from({ length: n }, (_, i) => Math.log(tau2[j]) - lo + i * step);
    });
    this.logLik = Array.from({ length: P }, () => new Float64Array(n));
    this.remlSum = Array.from({ length: P }, () => new Float64Array(n));
  }

  /** Adds one athlete's posterior at the fit (mean, covariance P x P row-major); athletes without data add nothing. */
  add(mean: ArrayLike<number>, cov: ArrayLike<number>): void {
    for (let j = 0; j < P; j++) {
      const t0 = this.tau2[j];
      const v = cov[j * P + j];
      const d2 = (mean[j] - this.mu[j]) ** 2;
      const g = this.grid[j];
      const ll = this.logLik[j];
      const ownPrecision = 1 / v - 1 / t0;
      const h = ownPrecision > 0 ? 1 / ownPrecision : Number.POSITIVE_INFINITY;
      for (let i = 0; i < g.length; i++) {
        const t = Math.exp(g[i]);
        const delta = 1 / t - 1 / t0;
        const a = 1 + v * delta;
        ll[i] += 0.5 * (Math.log(t0) - g[i]) - 0.5 * Math.log(a) - (d2 * delta) / (2 * a);
        if (this.reml && Number.isFinite(h)) this.remlSum[j][i] += 1 / (t + h);
      }
    }
  }

  /** Grid nodes of term j (log tau²). */
  nodesOf(j: number): Float64Array {
    return this.grid[j];
  }

  /** Term j's log-likelihood at each grid node so far (up to a constant), without prior or restricted term. */
  logLikelihoodOf(j: number): Float64Array {
    return this.logLik[j];
  }

  /**
   * Adds an athlete with ratings at 1 or 10, re-linearised at every grid value (spread-diagnostics'
   * --profile-relinearise; for an athlete without such ratings it gives add's likelihood, the unit test): the censored
   * posterior's mode and curvature found again with tau_j² at the node (Newton from the fit's mode), the athlete's
   * factor the Laplace approximation ℓ(m) - ½ Σ (m - mu)² / tau² - ½ Σ log tau² + ½ log det V. Returns, per term
   * and node, the conditional posterior's mean and variance of beta_uj there (P x nodes x 2), for the mixture.
   */
  addCensored(st: SufficientStats, fitMean: ArrayLike<number>, sigma2: number): Float64Array {
    const n = this.grid[0].length;
    const moments = new Float64Array(P * n * 2);
    const tauInv = new Float64Array(P);
    for (let j = 0; j < P; j++) {
      const g = this.grid[j];
      for (let i = 0; i < n; i++) {
        for (let k = 0; k < P; k++) tauInv[k] = 1 / this.tau2[k];
        tauInv[j] = Math.exp(-g[i]);
        scratchMean.set(fitMean);
        const logDetV = athletePosteriorInto(st, tauInv, this.mu, 1 / sigma2, scratchMean, scratchCov, ws, cs, true);
        let lp = logLikelihood(st, scratchMean, sigma2) + 0.5 * logDetV;
        for (let k = 0; k < P; k++) lp += -0.5 * (scratchMean[k] - this.mu[k]) ** 2 * tauInv[k] + 0.5 * Math.log(tauInv[k]);
        this.logLik[j][i] += lp;
        const v = scratchCov[j * P + j];
        if (this.reml) {
          const own = 1 / v - tauInv[j];
          if (own > 0) this.remlSum[j][i] += 1 / (Math.exp(g[i]) + 1 / own);
        }
        moments[(j * n + i) * 2] = scratchMean[j];
        moments[(j * n + i) * 2 + 1] = v;
      }
    }
    return moments;
  }

  /** Each term's posterior on the grid; `priorScale2` the half-Cauchy's A_j², `muPrior2` mu_j's prior variance s0_j². */
  posteriors(priorScale2: ArrayLike<number>, muPrior2: ArrayLike<number>): ProfileNodes[] {
    return Array.from({ length: P }, (_, j) => {
      const g = this.grid[j];
      const lp = Array.from(g, (x, i) => {
        let l = this.logLik[j][i] + 0.5 * this.priorPower * x - Math.log1p(Math.exp(x) / priorScale2[j]);
        if (this.reml) l -= 0.5 * Math.log(1 / muPrior2[j] + this.remlSum[j][i]);
        return l;
      });
      const top = Math.max(...lp);
      const w = lp.map((l) => Math.exp(l - top));
      const keep = w.map((x, i) => (x >= 1e-4 ? i : -1)).filter((i) => i >= 0);
      const total = keep.reduce((s, i) => s + w[i], 0);
      return { logTau2: Float64Array.from(keep, (i) => g[i]), weight: Float64Array.from(keep, (i) => w[i] / total), index: Int32Array.from(keep) };
    });
  }
}

/**
 * Each term's 95 % half-width about the served mean m_j: the athlete's conditional posterior of beta_uj mixed over
 * the term's grid posterior (`nodes`), each component widened by the other hyperparameters' share of `served`
 * (Kass-Steffey's covariance less V_jj and term j's own first-order part). The components are the rank-1 steps from
 * the posterior at the fit (`mean`, `cov`), or with `moments` (addCensored's, on a grid of `gridSize` nodes) the
 * posteriors re-solved at each node.
 */
export function profileMixtureHalfWidths(
  mean: ArrayLike<number>,
  cov: ArrayLike<number>,
  served: ArrayLike<number>,
  hyper: { mu: ArrayLike<number>; tau2: ArrayLike<number>; logTau2Cov: ArrayLike<number> },
  nodes: readonly ProfileNodes[],
  out: Float64Array,
  moments?: Float64Array,
  gridSize = 0,
): Float64Array {
  for (let j = 0; j < P; j++) {
    const others = otherHyperparameterShare(j, mean, cov, served, hyper);
    const { logTau2, weight, index } = nodes[j];
    const shift = new Float64Array(weight.length);
    const sd = new Float64Array(weight.length);
    let hi = 0;
    for (let k = 0; k < weight.length; k++) {
      if (moments) {
        // the censored athlete's posterior re-solved at the node (addCensored)
        const at = (j * gridSize + index[k]) * 2;
        shift[k] = moments[at] - mean[j];
        sd[k] = Math.sqrt(moments[at + 1] + others);
        hi = Math.max(hi, Math.abs(shift[k]) + 6 * sd[k]);
      } else {
        hi = Math.max(hi, mixtureComponent(j, mean, cov, hyper, others, Math.exp(-logTau2[k]), shift, sd, k));
      }
    }
    out[j] = mixtureHalfWidth(shift, sd, weight, hi);
  }
  return out;
}
