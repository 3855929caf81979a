// Issue 22 §1's eighth round (scripts/lib/spread-profile.ts, scripts/spread-diagnostics.ts --profile): each spread's
// likelihood on a grid from the athletes' posteriors at the fit, and the 95 % half-width of a mixture of normals.
// Checked against the linear mixed model's likelihood computed from the rows, and against the mixture integrated.
import { describe, expect, it } from 'vitest';
import { addSession, emptyStats, fitHierarchical, userPosterior } from '../../src/engine/bayes/index.ts';
import { designRow, P, TERM_NAMES } from '../../src/engine/variables.ts';
import { mixtureHalfWidth } from '../../src/engine/bayes/hyperparameter-uncertainty.ts';
import { SpreadProfile } from '../../scripts/lib/spread-profile.ts';
import { denseLogLik } from '../support/mixed-model.ts';
import { DEFAULT_NOISE_SD, DEFAULT_TRUTH_POPULATION, simulateAthletes } from '../../scripts/lib/synthetic.ts';

const athletes = simulateAthletes({ seed: 11, athletes: 60, sessionsPerAthlete: (i) => 3 + (i % 5) * 6, population: DEFAULT_TRUTH_POPULATION, noiseSd: DEFAULT_NOISE_SD, outcome: 'linear' });
const rows = athletes.map((a) => a.sessions.map((s) => ({ x: Array.from(designRow(s.checkIn as Record<string, unknown>, new Float64Array(P))), y: s.sessionQuality })));
const stats = athletes.map((a) => {
  const s = emptyStats();
  for (const row of a.sessions) addSession(s, row.checkIn as Record<string, unknown>, row.sessionQuality);
  return s;
});

describe("each spread's likelihood on a grid (scripts/lib/spread-profile.ts)", () => {
  const { hyper } = fitHierarchical(stats);
  const logTau2Sd = new Array<number>(P).fill(0.5);
  const posteriors = stats.map((st) => userPosterior(st, { ...hyper, logTau2Cov: undefined }));

  it("is the linear mixed model's likelihood of tau_j² with the other hyperparameters held, from the athletes' posteriors alone", () => {
    const profile = new SpreadProfile(hyper.mu, hyper.tau2, logTau2Sd, { nodes: 9 });
    for (const post of posteriors) profile.add(post.mean, post.covariance);
    for (const name of ['intercept', 'sleepHours', 'caffeineMg']) {
      const j = TERM_NAMES.indexOf(name);
      const nodes = profile.nodesOf(j);
      const ll = profile.logLikelihoodOf(j);
      const dense = Array.from(nodes, (g) => denseLogLik(rows, { ...hyper, tau2: hyper.tau2.map((t, k) => (k === j ? Math.exp(g) : t)) }));
      for (let i = 1; i < nodes.length; i++) expect(ll[i] - ll[0], `${name} node ${i}`).toBeCloseTo(dense[i] - dense[0], 6);
    }
  });

  it('re-solved at every node (the path for athletes with ratings at 1 or 10), it is the same for athletes without them', () => {
    const closed = new SpreadProfile(hyper.mu, hyper.tau2, logTau2Sd, { nodes: 7 });
    const solved = new SpreadProfile(hyper.mu, hyper.tau2, logTau2Sd, { nodes: 7 });
    stats.forEach((st, u) => {
      closed.add(posteriors[u].mean, posteriors[u].covariance);
      const moments = solved.addCensored(st, posteriors[u].mean, hyper.sigma2);
      // the conditional posterior of beta_uj at each node: the rank-1 step from the fit's
      const j = TERM_NAMES.indexOf('warmupMin');
      const v = posteriors[u].covariance[j * P + j];
      solved.nodesOf(j).forEach((g, i) => {
        const delta = Math.exp(-g) - 1 / hyper.tau2[j];
        expect(moments[(j * 7 + i) * 2 + 1]).toBeCloseTo(v / (1 + delta * v), 10);
      });
    });
    for (let j = 0; j < P; j++) {
      const a = closed.logLikelihoodOf(j);
      const b = solved.logLikelihoodOf(j);
      for (let i = 1; i < a.length; i++) expect(b[i] - b[0], `${TERM_NAMES[j]} node ${i}`).toBeCloseTo(a[i] - a[0], 6);
    }
  });
});

describe('mixtureHalfWidth', () => {
  it('holds 95 % of a mixture of normals about zero (checked by integrating the mixture on a fine grid)', () => {
    const shift = [-0.4, 0, 0.1, 0.9];
    const sd = [0.3, 1, 0.5, 2];
    const weight = [0.1, 0.5, 0.3, 0.1];
    const h = mixtureHalfWidth(shift, sd, weight, 20);
    let mass = 0;
    const step = 1e-4;
    for (let x = -h + step / 2; x < h; x += step) {
      mass += weight.reduce((s, w, k) => s + (w * Math.exp(-0.5 * ((x - shift[k]) / sd[k]) ** 2)) / (sd[k] * Math.sqrt(2 * Math.PI)), 0) * step;
    }
    expect(mass).toBeCloseTo(0.95, 4);
    // one component: 1.96 sd (to normalCdf's accuracy)
    expect(mixtureHalfWidth([0], [2], [1], 20)).toBeCloseTo(1.96 * 2, 7);
  });
});
