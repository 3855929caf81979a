// The linear mixed model's log-likelihood computed from the rows themselves (dense n x n per athlete): the reference
// the evaluation's LMM (scripts/lib/lmm.ts) and the spreads' grid likelihood (scripts/lib/spread-profile.ts) are
// checked against.
import type { Hyperparameters } from '../../src/engine/bayes/index.ts';
import { cholesky, choleskyLogDet, choleskySolve } from '../../src/engine/linalg.ts';

/** One athlete's rated rows: design row x (centred, MODEL_TERMS order) and rating y. */
export type AthleteRows = readonly { x: readonly number[]; y: number }[];

/** log N(y_u; X_u mu, X_u diag(tau²) X_u' + sigma² I) summed over the athletes. */
export function denseLogLik(athletes: readonly AthleteRows[], h: Pick<Hyperparameters, 'mu' | 'tau2' | 'sigma2'>): number {
  let total = 0;
  for (const athlete of athletes) {
    const n = athlete.length;
    const cov = new Float64Array(n * n);
    const r = new Float64Array(n);
    athlete.forEach((a, i) => {
      r[i] = a.y - a.x.reduce((s, v, j) => s + v * h.mu[j], 0);
      athlete.forEach((b, k) => {
        cov[i * n + k] = a.x.reduce((s, v, j) => s + v * h.tau2[j] * b.x[j], 0) + (i === k ? h.sigma2 : 0);
      });
    });
    cholesky(cov, n);
    const solved = choleskySolve(cov, n, r);
    total += -0.5 * (n * Math.log(2 * Math.PI) + choleskyLogDet(cov, n) + r.reduce((s, v, i) => s + v * solved[i], 0));
  }
  return total;
}
