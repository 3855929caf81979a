// Issue 22 section 2: the predictive distribution of the whole rating and its 95 % interval, on its own and held
// to what it claims on a small fixed synthetic set (athletes fitted together, sessions they did not see predicted).
import { describe, expect, it } from 'vitest';
import { BOUNDED_NOISE_SD, BOUNDED_TRUTH_POPULATION, simulateAthletes } from '../../scripts/lib/synthetic.ts';
import { addRatedSession, emptyStats, fitHierarchical } from '../../src/engine/bayes/index.ts';
import { predict } from '../../src/engine/prediction.ts';
import { expectedBoundedRating } from '../../src/engine/normal.ts';
import { distributionMean, latentForExpectedRating, latentRatingSd, ratingDistribution, ratingInterval } from '../../src/engine/predictive-distribution.ts';
import { ratingIntervalOf, ratingProbabilities } from '../support/recommendation.ts';
import { checkInValues } from '../../src/engine/variables.ts';

describe('ratingDistribution', () => {
  it('is the latent normal rounded to whole ratings and censored at 1 and 10: sums to 1, matches integration', () => {
    for (const [eta, sd] of [
      [5.92, 2.2],
      [9.6, 1.5],
      [0.5, 1],
      [14, 0.7],
      [3.3, 0.4],
    ]) {
      const d = ratingDistribution(eta, sd);
      expect(d).toHaveLength(10);
      expect(d.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
      for (const [k, q] of ratingProbabilities(eta, sd).entries()) expect(d[k]).toBeCloseTo(q, 8);
    }
  });

  it('takes the rounding out of the fitted sigma²: a whole rating already varies by 1/12 from its latent value', () => {
    expect(latentRatingSd(0.5, 2.25)).toBeCloseTo(Math.sqrt(0.5 + 2.25 - 1 / 12), 12);
    // A fitted sigma² below the rounding's own variance (no real ratings do that) keeps a sliver of spread.
    expect(latentRatingSd(0, 0.05)).toBeGreaterThan(0);
  });
});

describe('ratingInterval', () => {
  it('of the most probable run of each width, takes the one whose probability is nearest 95 %', () => {
    // 5-7 holds 94 %, 4-7 98 %: the nearer is 5-7, though it holds less than 95 %.
    const d = [0, 0, 0, 0.04, 0.3, 0.34, 0.3, 0.02, 0, 0];
    expect(ratingInterval(d)).toEqual({ low: 5, high: 7, probability: expect.closeTo(0.94, 12) });
    // 5-7 holds 90 %, 4-7 96 %: the nearer is 4-7.
    const e = [0, 0, 0, 0.06, 0.3, 0.3, 0.3, 0.04, 0, 0];
    expect(ratingInterval(e)).toEqual({ low: 4, high: 7, probability: expect.closeTo(0.96, 12) });
    // Everything at 10: the rating 10 alone.
    expect(ratingInterval([0, 0, 0, 0, 0, 0, 0, 0, 0, 1])).toEqual({ low: 10, high: 10, probability: 1 });
    // Agrees with a brute force over every run on a grid of predictions.
    for (let eta = -1; eta <= 12; eta += 0.37) {
      for (const sd of [0.4, 1, 1.9, 3.5]) {
        const d = ratingDistribution(eta, sd);
        const brute = ratingIntervalOf(d);
        expect(ratingInterval(d)).toMatchObject({ low: brute.low, high: brute.high });
      }
    }
  });
});

describe('predictive coverage on a fixed synthetic set', () => {
  // Ratings that pile at the bounds (about a quarter at 1 or 10), as evaluate's first scenario: 3 x 100 athletes with
  // 5, 15 and 40 training sessions (COLD_START, LEARNING, PERSONALIZED) and 25 held-out sessions each.
  const groups = [5, 15, 40];
  const holdout = 25;
  const perPhase = 100;
  const athletes = simulateAthletes({
    seed: 20261206,
    athletes: groups.length * perPhase,
    sessionsPerAthlete: (i) => groups[i % groups.length] + holdout,
    population: BOUNDED_TRUTH_POPULATION,
    noiseSd: BOUNDED_NOISE_SD,
  });
  const stats = athletes.map((a) => {
    const s = emptyStats();
    for (const row of a.sessions.slice(0, a.sessions.length - holdout)) addRatedSession(s, row.checkIn as Record<string, unknown>, row.sessionQuality);
    return s;
  });
  const fit = fitHierarchical(stats);
  const byPhase = new Map<string, { n: number; inside: number; stated: number; atLeast95: number; predictedTen: number; tens: number; error2: number }>();
  athletes.forEach((a, u) => {
    const model = fit.users[u];
    const acc = byPhase.get(model.phase) ?? { n: 0, inside: 0, stated: 0, atLeast95: 0, predictedTen: 0, tens: 0, error2: 0 };
    byPhase.set(model.phase, acc);
    for (const row of a.sessions.slice(a.sessions.length - holdout)) {
      const y = row.sessionQuality;
      const p = predict(model, checkInValues(row.checkIn));
      acc.n++;
      if (y >= p.interval.low && y <= p.interval.high) acc.inside++;
      acc.stated += p.distribution.slice(p.interval.low - 1, p.interval.high).reduce((s, q) => s + q, 0);
      // The other way to read an interval off the distribution: the shortest run reaching 95 %.
      let lo = 0;
      let hi = 9;
      for (let w = 1; w <= 10; w++) {
        let found = false;
        for (let s = 0; s + w <= 10 && !found; s++) {
          if (p.distribution.slice(s, s + w).reduce((t, q) => t + q, 0) >= 0.95) [lo, hi, found] = [s, s + w - 1, true];
        }
        if (found) break;
      }
      if (y >= lo + 1 && y <= hi + 1) acc.atLeast95++;
      acc.predictedTen += p.distribution[9];
      if (y === 10) acc.tens++;
      acc.error2 += (distributionMean(p.distribution) - p.expectedQuality) ** 2;
    }
  });

  it('holds 94-96 % of the held-out ratings, in every phase, as much as it states', () => {
    expect([...byPhase.keys()].sort()).toEqual(['COLD_START', 'LEARNING', 'PERSONALIZED']);
    const all = [...byPhase.values()];
    const pooled = all.reduce((s, a) => s + a.inside, 0) / all.reduce((s, a) => s + a.n, 0);
    expect(pooled).toBeGreaterThanOrEqual(0.94);
    expect(pooled).toBeLessThanOrEqual(0.96);
    for (const [phase, acc] of byPhase) {
      const coverage = acc.inside / acc.n;
      expect(acc.n, phase).toBe(perPhase * holdout);
      // 2,500 ratings a phase: a standard error of 0.44 points around the target.
      expect(coverage, phase).toBeGreaterThanOrEqual(0.935);
      expect(coverage, phase).toBeLessThanOrEqual(0.965);
      // Calibrated: what the intervals claim on average is what they hold.
      expect(Math.abs(coverage - acc.stated / acc.n), phase).toBeLessThan(0.01);
      // The shortest run reaching 95 % always overshoots (its last rating adds a few %): it holds well over 95 %.
      expect(acc.atLeast95 / acc.n, phase).toBeGreaterThan(0.96);
      // The pile at 10 is predicted as it comes.
      expect(Math.abs(acc.predictedTen - acc.tens) / acc.n, phase).toBeLessThan(0.02);
      // The distribution's mean is the expected rating, to a hundredth or so.
      expect(Math.sqrt(acc.error2 / acc.n), phase).toBeLessThan(0.02);
    }
  });
});

describe('latentForExpectedRating', () => {
  it('finds the latent value whose expected rating is the target, from anywhere, and puts a bound target at the bound', () => {
    for (const sd of [0.3, 1, 1.8, 4]) {
      for (let target = 1.05; target < 10; target += 0.35) {
        for (const start of [-20, 0, 5.5, 9.9, 30]) {
          const eta = latentForExpectedRating(target, sd, start);
          expect(expectedBoundedRating(eta, sd), `${target} ${sd} ${start}`).toBeCloseTo(target, 8);
        }
      }
    }
    expect(ratingDistribution(latentForExpectedRating(10, 1.5, 8), 1.4)[9]).toBeCloseTo(1, 12);
    expect(ratingDistribution(latentForExpectedRating(1, 1.5, 3), 1.4)[0]).toBeCloseTo(1, 12);
  });
});
