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

  /** Cov(log tau²) = the information's inverse, P x P row-major (both triangles). */
  covariance(): number[] {
    const a = new Float64Array(P * P);
    for (let j = 0; j < P; j++) {
      for (let k = 0; k <= j; k++) a[j * P + k] = this.info[j * P + k] + (j === k ? PRIOR_INFORMATION : 0);
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
