// Each between-athlete spread's own posterior, on a grid, and intervals integrated over it (issue 22 section 1): a
// diagnostic of scripts/spread-diagnostics.ts (--grid), measured and not served (BENCHMARKS.md "What sets each
// term's coverage").
//
// The mean-field fit gives one value of tau_j² (q(tau_j²) is as narrow as if every athlete said all about the
// slope), and a Gaussian in log tau_j² at it (Kass-Steffey, hyperparameter-uncertainty.ts) is a poor picture of a
// spread that the data hardly identify: its likelihood is flat towards zero and falls steeply above its peak. Here,
// for each term j, the other hyperparameters held at the fit:
//
//   p(log tau_j² | data) ∝ p(log tau_j²) Π_u p(y_u | tau_j²)
//
// where each athlete's marginal likelihood, relative to the fit's t0 = tau_j², follows in closed form from their
// posterior at the fit (only the prior of beta_uj changes, so only their marginal N(m_uj, v_uj) is involved):
//
//   p(y_u | t) / p(y_u | t0) = sqrt(t0 / t) (1 + v δ)^-1/2 exp(-(m - mu_j)² δ / (2 (1 + v δ))),   δ = 1/t - 1/t0
//
// (exact for athletes without ratings at 1 or 10; with them, their posterior's Gaussian approximation at the fit).
// The prior is the model's half-Cauchy(0, A_j) on tau_j. At each grid value the athlete's beta_uj has precision
// 1/v + δ and mean (m/v + mu_j δ) / (1/v + δ); the served 95 % interval of beta_uj is that of the mixture over
// the grid, and the served covariance's row and column j are scaled so that mean ± 1.96 sd is that interval.
import { P as TERM_COUNT } from '../../src/engine/variables.ts';
import { normalCdf, normalPdf, Z95 } from '../../src/engine/normal.ts';

const P = TERM_COUNT;

/**
 * The grid: GRID_POINTS values of log tau² from the fit's value - min(8, 12 sd) to + min(4, 8 sd), sd the fit's
 * sd of log tau² (Kass-Steffey's), so that a well identified spread gets as many points as a weak one.
 */
const GRID_POINTS = 49;
/** Grid points whose posterior weight is below this share of the largest are dropped. */
const WEIGHT_FLOOR = 1e-4;

/** One term's spread posterior: tau² values and their weights (summing to 1). */
export interface SpreadGrid {
  tau2: number[];
  weight: number[];
}

/** Accumulates, per term, the log marginal likelihood of tau_j² on the grid over the athletes' posteriors. */
export class SpreadPosterior {
  private readonly logTau2: Float64Array[];
  private readonly logLik: Float64Array[];

  constructor(
    private readonly mu: ArrayLike<number>,
    private readonly tau2: ArrayLike<number>,
    logTau2Sd: ArrayLike<number>,
  ) {
    this.logTau2 = Array.from({ length: P }, (_, j) => {
      const below = Math.min(8, 12 * logTau2Sd[j]);
      const step = (below + Math.min(4, 8 * logTau2Sd[j])) / (GRID_POINTS - 1);
      return Float64Array.from({ length: GRID_POINTS }, (_, i) => Math.log(tau2[j]) - below + i * step);
    });
    this.logLik = Array.from({ length: P }, () => new Float64Array(GRID_POINTS));
  }

  /** Adds one athlete's posterior at the fit (mean, covariance P x P row-major). */
  add(mean: ArrayLike<number>, cov: ArrayLike<number>): void {
    for (let j = 0; j < P; j++) {
      const t0 = this.tau2[j];
      const v = cov[j * P + j];
      const d2 = (mean[j] - this.mu[j]) ** 2;
      const grid = this.logTau2[j];
      const ll = this.logLik[j];
      for (let i = 0; i < grid.length; i++) {
        const t = Math.exp(grid[i]);
        const delta = 1 / t - 1 / t0;
        const a = 1 + v * delta;
        ll[i] += 0.5 * (Math.log(t0) - grid[i]) - 0.5 * Math.log(a) - (d2 * delta) / (2 * a);
      }
    }
  }

  /** Each term's posterior on the grid under the half-Cauchy(0, A_j) prior on tau_j, A_j² = priorScale2[j]. */
  grids(priorScale2: ArrayLike<number>): SpreadGrid[] {
    return Array.from({ length: P }, (_, j) => {
      const grid = this.logTau2[j];
      // log p(log tau²) = log tau - log(1 + tau² / A²) + const
      const lp = Array.from(grid, (g, i) => this.logLik[j][i] + 0.5 * g - Math.log1p(Math.exp(g) / priorScale2[j]));
      const top = Math.max(...lp);
      const w = lp.map((l) => Math.exp(l - top));
      const keep = w.map((x, i) => (x >= WEIGHT_FLOOR ? i : -1)).filter((i) => i >= 0);
      const total = keep.reduce((s, i) => s + w[i], 0);
      return { tau2: keep.map((i) => Math.exp(grid[i])), weight: keep.map((i) => w[i] / total) };
    });
  }
}

/**
 * The 95 % half-width of the mixture of N(mean_k, var_k) with weights w_k about `centre`: h with
 * Σ w_k [Phi((centre + h - mean_k) / sd_k) - Phi((centre - h - mean_k) / sd_k)] = 0.95 (safeguarded Newton).
 */
function mixtureHalfWidth(centre: number, means: Float64Array, vars: Float64Array, w: readonly number[]): number {
  let lo = 0;
  let hi = 0;
  let second = 0;
  for (let k = 0; k < w.length; k++) {
    const sd = Math.sqrt(vars[k]);
    hi = Math.max(hi, Math.abs(means[k] - centre) + 6 * sd);
    second += w[k] * (vars[k] + (means[k] - centre) ** 2);
  }
  let h = Math.min(hi, Z95 * Math.sqrt(second));
  for (let iter = 0; iter < 60; iter++) {
    let f = -0.95;
    let df = 0;
    for (let k = 0; k < w.length; k++) {
      const sd = Math.sqrt(vars[k]);
      const a = (centre + h - means[k]) / sd;
      const b = (centre - h - means[k]) / sd;
      f += w[k] * (normalCdf(a) - normalCdf(b));
      df += (w[k] * (normalPdf(a) + normalPdf(b))) / sd;
    }
    if (f > 0) hi = h;
    else lo = h;
    if (Math.abs(f) < 1e-9) break;
    let next = df > 0 ? h - f / df : Number.NaN;
    if (!(next > lo && next < hi)) next = 0.5 * (lo + hi);
    if (Math.abs(next - h) < 1e-12 * (1 + h)) break;
    h = next;
  }
  return h;
}

const scratchMeans = new Float64Array(GRID_POINTS);
const scratchVars = new Float64Array(scratchMeans.length);

/**
 * The served covariance with each term's spread integrated over its grid posterior: `base` (P x P, the
 * conditional covariance plus what mu's uncertainty adds) with row and column j scaled so that the served
 * mean ± 1.96 sd is the mixture's 95 % interval. `mean` and `cov` are the athlete's posterior at the fit's
 * tau², `extra` the diagonal that `base` adds to cov (mu's uncertainty). Writes `out` (may alias `base`).
 */
export function withSpreadPosterior(
  mean: ArrayLike<number>,
  cov: ArrayLike<number>,
  base: ArrayLike<number>,
  mu: ArrayLike<number>,
  tau2: ArrayLike<number>,
  grids: readonly SpreadGrid[],
  out: Float64Array,
): Float64Array {
  const scale = new Float64Array(P);
  for (let j = 0; j < P; j++) {
    const g = grids[j];
    const v = cov[j * P + j];
    const extra = base[j * P + j] - v;
    const t0 = tau2[j];
    for (let k = 0; k < g.tau2.length; k++) {
      const delta = 1 / g.tau2[k] - 1 / t0;
      const prec = 1 / v + delta;
      scratchMeans[k] = (mean[j] / v + mu[j] * delta) / prec;
      scratchVars[k] = 1 / prec + extra;
    }
    const h = mixtureHalfWidth(mean[j], scratchMeans, scratchVars, g.weight);
    scale[j] = h / (Z95 * Math.sqrt(base[j * P + j]));
  }
  for (let i = 0; i < P; i++) for (let k = 0; k < P; k++) out[i * P + k] = base[i * P + k] * scale[i] * scale[k];
  return out;
}
