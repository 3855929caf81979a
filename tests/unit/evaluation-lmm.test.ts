// The evaluation's comparison model (scripts/lib/lmm.ts): its log-likelihood from the sufficient statistics is the
// linear mixed model's, computed here from the rows themselves, and where it stops is that likelihood's maximum, so
// that `npm run evaluate`'s LMM columns are maximum likelihood however the EM was started or stopped.
import { describe, expect, it } from 'vitest';
import { addSession, emptyStats, type Hyperparameters } from '../../src/engine/bayes/index.ts';
import { designRow, P } from '../../src/engine/variables.ts';
import { fitLmm } from '../../scripts/lib/lmm.ts';
import { denseLogLik as denseLogLikOf } from '../support/mixed-model.ts';
import { DEFAULT_NOISE_SD, DEFAULT_TRUTH_POPULATION, simulateAthletes } from '../../scripts/lib/synthetic.ts';

// Spreads the 80 athletes identify (each slope's between-athlete sd twice its effect), so that the likelihood's
// maximum is inside: a spread whose maximum is at zero is only crept towards (the evaluation stops it on the
// log-likelihood's gain, or after maxSteps).
const population = { mean: DEFAULT_TRUTH_POPULATION.mean, sd: DEFAULT_TRUTH_POPULATION.sd.map((sd, j) => (j === 0 ? sd : 2 * Math.abs(DEFAULT_TRUTH_POPULATION.mean[j]))) };
const athletes = simulateAthletes({ seed: 7, athletes: 80, sessionsPerAthlete: (i) => 4 + (i % 4) * 8, population, noiseSd: DEFAULT_NOISE_SD, outcome: 'linear' });
const rows = athletes.map((a) => a.sessions.map((s) => ({ x: Array.from(designRow(s.checkIn as Record<string, unknown>, new Float64Array(P))), y: s.sessionQuality })));
const stats = athletes.map((a) => {
  const s = emptyStats();
  for (const row of a.sessions) addSession(s, row.checkIn as Record<string, unknown>, row.sessionQuality);
  return s;
});

const denseLogLik = (h: Pick<Hyperparameters, 'mu' | 'tau2' | 'sigma2'>) => denseLogLikOf(rows, h);

describe('the evaluation LMM (scripts/lib/lmm.ts)', () => {
  const fit = fitLmm(stats);

  it('reports the linear mixed model log-likelihood at its estimates', () => {
    expect(fit.converged).toBe(true);
    expect(fit.logLik).toBeCloseTo(denseLogLik(fit.hyper), 6);
  });

  it('stops at the maximum of that likelihood: no parameter moved either way raises it', () => {
    const best = denseLogLik(fit.hyper);
    for (let j = 0; j < P; j++) {
      for (const factor of [0.8, 1.25]) {
        const tau2 = [...fit.hyper.tau2];
        tau2[j] *= factor;
        expect(denseLogLik({ ...fit.hyper, tau2 })).toBeLessThan(best + 1e-4);
      }
      for (const step of [-0.5, 0.5]) {
        const mu = [...fit.hyper.mu];
        mu[j] += step * Math.sqrt(fit.hyper.tau2[j]);
        expect(denseLogLik({ ...fit.hyper, mu })).toBeLessThan(best);
      }
    }
    for (const factor of [0.95, 1.05]) expect(denseLogLik({ ...fit.hyper, sigma2: fit.hyper.sigma2 * factor })).toBeLessThan(best);
  });

  it('reaches the same maximum from another start (the evaluation starts it at the Bayesian fit)', () => {
    const other = fitLmm(stats, { start: { mu: fit.hyper.mu.map((m) => m * 0.5), tau2: fit.hyper.tau2.map((t) => t * 4), sigma2: fit.hyper.sigma2 * 2 } });
    expect(other.logLik).toBeCloseTo(fit.logLik, 4);
    // Every athlete's BLUP predicts their sessions as the first fit's does, to well under the fourth decimal the
    // evaluation prints.
    let largest = 0;
    rows.forEach((athlete, u) => {
      for (const { x } of athlete) largest = Math.max(largest, Math.abs(x.reduce((s, v, j) => s + v * (other.users[u].mean[j] - fit.users[u].mean[j]), 0)));
    });
    expect(largest).toBeLessThan(1e-4);
  });
});
