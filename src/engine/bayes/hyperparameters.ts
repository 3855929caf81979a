// The population's hyperparameters (mu, tau², sigma², muSd): what the nightly fit estimates and every athlete's
// posterior is conditioned on; before a fit, the priors of domain.md section 5.
import { DEFAULT_SIGMA2, MODEL_TERMS, P as TERM_COUNT, type FeatureSpec } from '../variables.ts';
import { finiteArray } from './sufficient-stats.ts';

/** Number of terms, as a module-local constant (an imported binding is a property read in hot loops under tsx). */
const P = TERM_COUNT;

/** Population hyperparameters in MODEL_TERMS order. muSd is the posterior sd of mu (uncertainty of the population mean). */
export interface Hyperparameters {
  mu: number[];
  tau2: number[];
  sigma2: number;
  muSd: number[];
  /**
   * Covariance of log tau² (P x P row-major) from the nightly fit's observed information: how uncertain each
   * between-athlete spread is. Served intervals carry it (hyperparameter-uncertainty.ts); absent for the priors
   * and for models stored before it existed (intervals conditional on tau² then).
   */
  logTau2Cov?: number[];
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
  const hyper: Hyperparameters = { mu: [...o.mu], tau2: [...o.tau2], sigma2: o.sigma2, muSd: [...o.muSd] };
  if (o.logTau2Cov !== undefined) {
    if (!finiteArray(o.logTau2Cov, P * P)) return null;
    hyper.logTau2Cov = [...o.logTau2Cov];
  }
  return hyper;
}
