// Intervals that carry the population's own uncertainty. An athlete's posterior N(m, V) is conditional on the
// fitted hyperparameters; when athletes say little about a slope (caffeine in mg: a few levels, each athlete's
// slope weakly identified), the between-athlete variance tau_j² is itself uncertain, and intervals conditional on
// one value of it cover less than they claim wherever that value is low. Kass & Steffey (1989, "Approximate
// Bayesian inference in conditionally independent hierarchical models") give the first-order correction:
//
//   Var(beta_u | data) ≈ V + Σ_jk (∂m/∂θ_j) Cov(θ)_jk (∂m/∂θ_k)'   for θ = (log tau², mu)
//
// with Cov(θ) the inverse observed information of the marginal likelihood at the fit. For log tau² it is read off
// the athletes' own posteriors: with Σ_u = T + (X'X / sigma²)^-1 the marginal covariance of an athlete's
// coefficients, T = diag(tau²), and V_u the posterior covariance, T Σ_u^-1 = I - V_u T^-1, so
//
//   I_jk = 1/2 Σ_u R_ujk²,   R_ujk = δ_jk - V_ujk / (tau_j tau_k)
//
// (an athlete who says nothing about term j, V_ujj = tau_j², adds nothing; the off-diagonal terms are how
// correlated features such as sleep hours and sleep quality trade their spreads). For mu it is muSd². The
// derivatives follow from m = V (T^-1 mu + X'y / sigma²): ∂m/∂log tau_j² = V e_j (m_j - mu_j) / tau_j² and
// ∂m/∂mu_j = V e_j / tau_j². Everything needs only (m, V, hyperparameters), so the quick update's served model is
// corrected the same way as the nightly fit's.
import { P as TERM_COUNT } from '../variables.ts';
import { cholesky, choleskyInverse } from '../linalg.ts';
import { normalCdf, normalPdf, Z95 } from '../normal.ts';
import { GH_NODES, GH_WEIGHTS } from './censored-newton.ts';

/** Number of terms, as a module-local constant (an imported binding is a property read in hot loops under tsx). */
const P = TERM_COUNT;

/**
 * Information one half-athlete's worth of prior adds to each log tau_j² (the half-Cauchy prior's curvature is about
 * that): keeps the matrix invertible when no athlete records a feature, and changes nothing measurable otherwise.
 */
const PRIOR_INFORMATION = 0.5;

/** Accumulates the observed information about log tau² over the athletes' posteriors. */
export class LogTau2Information {
  private readonly info = new Float64Array(P * P);
  private readonly tauSd: Float64Array;

  constructor(tau2: ArrayLike<number>) {
    this.tauSd = Float64Array.from({ length: P }, (_, j) => Math.sqrt(tau2[j]));
  }

  /** Adds one athlete's posterior covariance V (P x P row-major). */
  add(cov: ArrayLike<number>): void {
    const { info, tauSd } = this;
    for (let j = 0; j < P; j++) {
      for (let k = 0; k <= j; k++) {
        const r = (j === k ? 1 : 0) - cov[j * P + k] / (tauSd[j] * tauSd[k]);
        info[j * P + k] += 0.5 * r * r;
      }
    }
  }

  /**
   * Cov(log tau²) = the information's inverse, P x P row-major (both triangles). `priorInformation[j]`, where given
   * and not NaN, is term j's prior's information in place of the half-Cauchy's (the slopes' shared prior: 1/omega²).
   */
  covariance(priorInformation?: ArrayLike<number>): number[] {
    const a = new Float64Array(P * P);
    for (let j = 0; j < P; j++) {
      const prior = priorInformation && !Number.isNaN(priorInformation[j]) ? priorInformation[j] : PRIOR_INFORMATION;
      for (let k = 0; k <= j; k++) a[j * P + k] = this.info[j * P + k] + (j === k ? prior : 0);
    }
    cholesky(a, P);
    return Array.from(choleskyInverse(a, P));
  }
}

/**
 * The Kass-Steffey corrected covariance of an athlete's coefficients: V plus what the uncertainty of log tau²
 * (`logTau2Cov`, P x P) and of mu (`muSd`) moves their posterior mean by. Writes `out` (P x P); `out` must not
 * alias `cov`.
 */
export function withHyperparameterUncertainty(
  mean: ArrayLike<number>,
  cov: ArrayLike<number>,
  hyper: { mu: ArrayLike<number>; tau2: ArrayLike<number>; muSd: ArrayLike<number>; logTau2Cov: ArrayLike<number> },
  out: Float64Array,
): Float64Array {
  // G's column j: ∂m/∂log tau_j² = V e_j (m_j - mu_j) / tau_j²; H's column j: ∂m/∂mu_j = V e_j / tau_j².
  const g = new Float64Array(P * P);
  for (let j = 0; j < P; j++) {
    const scale = (mean[j] - hyper.mu[j]) / hyper.tau2[j];
    for (let i = 0; i < P; i++) g[i * P + j] = cov[i * P + j] * scale;
  }
  // gc = G C
  const gc = new Float64Array(P * P);
  for (let i = 0; i < P; i++) {
    for (let k = 0; k < P; k++) {
      let s = 0;
      for (let j = 0; j < P; j++) s += g[i * P + j] * hyper.logTau2Cov[j * P + k];
      gc[i * P + k] = s;
    }
  }
  for (let i = 0; i < P; i++) {
    for (let l = 0; l <= i; l++) {
      let s = cov[i * P + l];
      for (let k = 0; k < P; k++) s += gc[i * P + k] * g[l * P + k];
      for (let j = 0; j < P; j++) {
        const h = hyper.muSd[j] / hyper.tau2[j];
        s += cov[i * P + j] * cov[l * P + j] * h * h;
      }
      out[i * P + l] = s;
      out[l * P + i] = s;
    }
  }
  return out;
}

/**
 * Measured in issue 22 §1's seventh round (BENCHMARKS.md; scripts/spread-diagnostics.ts --mixture), not served.
 * Each term's 95 % interval with its own spread's uncertainty integrated over, not linearised: the athlete's
 * coefficient beta_uj given log tau_j² = l is normal (the conditional posterior with term j's prior precision moved
 * from 1/tau_j² to e^-l: a rank-1 change, m_j' = m_j + V_jj δ (mu_j - m_j) / (1 + δ V_jj), V_jj' = V_jj / (1 + δ V_jj),
 * δ = e^-l - 1/tau_j²), and l ~ N(log tau_j², Cov(log tau²)_jj) is mixed over by 5-point Gauss-Hermite; the other
 * hyperparameters' share (the other spreads' and mu's, `served`'s Kass-Steffey terms less term j's own) is added to
 * every component. The interval is centred on the served mean m_j with the half-width at which the mixture holds
 * 95 %: an athlete who says nothing about the term gets the population's mu ± the quantile of a normal whose scale
 * is uncertain (wider than 1.96 tau_j by as much as the spread is unknown), one whose data pin the coefficient keeps
 * about m ± 1.96 sqrt(V_jj). Writes each term's half-width into `out`.
 */
export function spreadMixtureHalfWidths(
  mean: ArrayLike<number>,
  cov: ArrayLike<number>,
  served: ArrayLike<number>,
  hyper: { mu: ArrayLike<number>; tau2: ArrayLike<number>; logTau2Cov: ArrayLike<number> },
  out: Float64Array,
): Float64Array {
  const shift = new Float64Array(GH_NODES.length);
  const sd = new Float64Array(GH_NODES.length);
  for (let j = 0; j < P; j++) {
    const t0 = hyper.tau2[j];
    const c = Math.max(0, hyper.logTau2Cov[j * P + j]);
    const others = otherHyperparameterShare(j, mean, cov, served, hyper);
    let spread = 0;
    for (let k = 0; k < GH_NODES.length; k++) {
      spread = Math.max(spread, mixtureComponent(j, mean, cov, hyper, others, Math.exp(-Math.SQRT2 * Math.sqrt(c) * GH_NODES[k]) / t0, shift, sd, k));
    }
    out[j] = mixtureHalfWidth(shift, sd, GH_WEIGHTS, spread);
  }
  return out;
}

/**
 * What `served`'s variance of term j holds besides the conditional V_jj and the term's own spread's first-order part
 * (Kass-Steffey's (V_jj (m_j - mu_j) / tau_j²)² Cov(log tau²)_jj, which a mixture over that spread replaces): the other
 * spreads' and mu's share, added to every component of the mixture.
 */
export function otherHyperparameterShare(
  j: number,
  mean: ArrayLike<number>,
  cov: ArrayLike<number>,
  served: ArrayLike<number>,
  hyper: { mu: ArrayLike<number>; tau2: ArrayLike<number>; logTau2Cov: ArrayLike<number> },
): number {
  const vjj = cov[j * P + j];
  const own = ((vjj * (hyper.mu[j] - mean[j])) / hyper.tau2[j]) ** 2 * Math.max(0, hyper.logTau2Cov[j * P + j]);
  return Math.max(0, served[j * P + j] - vjj - own);
}

/**
 * The mixture's component k for term j at 1/tau_j² = `invTau2`: the conditional posterior's shift from m_j (a rank-1
 * change, V_jj δ (mu_j - m_j) / (1 + δ V_jj), δ = invTau2 - 1/tau_j²) and its sd (V_jj / (1 + δ V_jj) plus `others`),
 * written at index k. Returns |shift| + 6 sd, a bound on the half-width that holds it.
 */
export function mixtureComponent(
  j: number,
  mean: ArrayLike<number>,
  cov: ArrayLike<number>,
  hyper: { mu: ArrayLike<number>; tau2: ArrayLike<number> },
  others: number,
  invTau2: number,
  shift: Float64Array,
  sd: Float64Array,
  k: number,
): number {
  const vjj = cov[j * P + j];
  const delta = invTau2 - 1 / hyper.tau2[j];
  const denom = 1 + delta * vjj;
  shift[k] = (vjj * delta * (hyper.mu[j] - mean[j])) / denom;
  sd[k] = Math.sqrt(vjj / denom + others);
  return Math.abs(shift[k]) + 6 * sd[k];
}

/** The two-sided level of Z95 itself (0.950004), so that a term whose spread is certain keeps m ± 1.96 sd exactly. */
const MIXTURE_LEVEL = 2 * normalCdf(Z95) - 1;

/**
 * The h at which Σ_k w_k P(|N(shift_k, sd_k²)| <= h) = MIXTURE_LEVEL (weights summing to 1): Newton's steps from 1.96
 * times the mixture's sd, kept inside a bracket [0, hi] that each step narrows (the coverage is increasing in h), to
 * 1e-9 of h. `hi` must hold at least MIXTURE_LEVEL (e.g. the largest |shift_k| + 6 sd_k).
 */
export function mixtureHalfWidth(shift: ArrayLike<number>, sd: ArrayLike<number>, weight: ArrayLike<number>, hi: number): number {
  let lo = 0;
  let second = 0;
  for (let k = 0; k < weight.length; k++) second += weight[k] * (shift[k] ** 2 + sd[k] ** 2);
  let h = Math.min(Z95 * Math.sqrt(second), hi);
  for (let it = 0; it < 100; it++) {
    let p = 0;
    let dp = 0;
    for (let k = 0; k < weight.length; k++) {
      const a = (h - shift[k]) / sd[k];
      const b = (-h - shift[k]) / sd[k];
      p += weight[k] * (normalCdf(a) - normalCdf(b));
      dp += (weight[k] * (normalPdf(a) + normalPdf(b))) / sd[k];
    }
    if (p < MIXTURE_LEVEL) lo = h;
    else hi = h;
    let next = h - (p - MIXTURE_LEVEL) / dp;
    if (!(next > lo && next < hi)) next = 0.5 * (lo + hi);
    if (Math.abs(next - h) <= 1e-9 * h) return next;
    h = next;
  }
  return h;
}
