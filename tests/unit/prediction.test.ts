import { describe, expect, it } from 'vitest';
import { predict, sessionTypeFromQuality, ModelShapeError } from '../../src/engine/prediction.ts';
import { ACTIONABLE_FEATURES, suggestImprovements } from '../../src/engine/suggestions.ts';
import type { ModelPhase, UserModel } from '../../src/engine/types.ts';
import { DEFAULT_SIGMA2, designRow, MODEL_TERMS, P, type CheckIn } from '../../src/engine/variables.ts';
import { boundedExpectation, ratingOf } from '../support/recommendation.ts';

/** The cold-start model built by hand: mean = prior means, V = diag(individual variance + prior std²). */
function priorModel(): UserModel {
  const covariance = new Array<number>(P * P).fill(0);
  MODEL_TERMS.forEach((t, j) => {
    covariance[j * P + j] = t.individualVariance + t.priorStd ** 2;
  });
  return {
    phase: 'COLD_START',
    mean: MODEL_TERMS.map((t) => t.priorMean),
    covariance,
    sigma2: DEFAULT_SIGMA2,
    sessionsIncluded: 0,
    shrinkageFactor: 0,
  };
}

function modelWith(phase: ModelPhase, varianceDiag: number, sigma2: number, mean = priorModel().mean): UserModel {
  const covariance = new Array<number>(P * P).fill(0);
  for (let j = 0; j < P; j++) covariance[j * P + j] = varianceDiag;
  return { phase, mean, covariance, sigma2, sessionsIncluded: phase === 'PERSONALIZED' ? 40 : 20, shrinkageFactor: 0.5 };
}

const termIndex = (name: string) => MODEL_TERMS.findIndex((t) => t.name === name);

/** sqrt(x'Vx + sigma²) of a model with a diagonal covariance: the predictive sd of the latent quality. */
function predictiveSd(model: UserModel, checkIn: CheckIn): number {
  const x = designRow(checkIn as Record<string, unknown>);
  let v = model.sigma2;
  for (let j = 0; j < P; j++) v += x[j] * x[j] * model.covariance[j * P + j];
  return Math.sqrt(v);
}

// The operator checklist's example check-in (sleep_hours 7, energy_level 4, stress_level 2).
const checklistCheckIn: CheckIn = { sleepHours: 7, energyLevel: 4, stressLevel: 2 };

describe('predict', () => {
  it('reproduces the checklist example on the cold-start prior model: E[rating | bounds] and the rating interval', () => {
    const p = predict(priorModel(), checklistCheckIn);
    // q = 6.0 + 0.22 (4 - 6) + (-0.18)(2 - 4) = 6.0 - 0.44 + 0.36 = 5.92
    expect(p.rawQuality).toBeCloseTo(5.92, 12);
    // x = [1, 0, 0, -2, -2, 0...]; x'Vx = (1 + 1²) + 4 (0.25 + 0.06²) + 4 (0.20 + 0.06²) = 2 + 1.0144 + 0.8144 = 3.8288
    const sd = Math.sqrt(3.8288 + 2.25);
    expect(predictiveSd(priorModel(), checklistCheckIn)).toBeCloseTo(sd, 12);
    // The expected rating given the bounds: a latent N(5.92, sd²) rated 1 below 1.5 and 10 above 9.5.
    expect(p.expectedQuality).toBeCloseTo(boundedExpectation(5.92, sd), 6);
    expect(p.expectedQuality).not.toBeCloseTo(5.92, 2);
    expect(p.phase).toBe('COLD_START');
    expect(p.confidence).toBe('LOW');
    expect(sessionTypeFromQuality(p.expectedQuality, checklistCheckIn)).toBe('VOLUME');

    const half = 1.96 * sd;
    expect(half).toBeCloseTo(4.83241, 4);
    expect(p.interval.low).toBe(1); // 5.92 - 4.83 = 1.09: below the 1.5 cut, a rating of 1
    expect(p.interval.high).toBe(10); // 10.75: above the 9.5 cut
    const inside = predict(modelWith('LEARNING', 0.001, 1), checklistCheckIn);
    const halfInside = 1.96 * predictiveSd(modelWith('LEARNING', 0.001, 1), checklistCheckIn);
    expect(inside.interval.low).toBeCloseTo(5.92 - halfInside, 12); // inside the cuts, the latent value itself
    expect(inside.interval.high).toBeCloseTo(5.92 + halfInside, 12);
  });

  it('keeps the expected rating inside its interval, whatever the latent value, spread and multiplier', () => {
    // Nearly all of the mass at 1 (both quantiles 1): the expected rating, just above 1, widens the interval.
    const piled = predict({ ...modelWith('LEARNING', 0, 1), mean: [-2, ...priorModel().mean.slice(1)] }, {});
    expect(piled.expectedQuality).toBeGreaterThan(1);
    expect(piled.interval).toEqual({ low: 1, high: piled.expectedQuality });
    for (let raw = -6; raw <= 16; raw += 0.25) {
      for (const variance of [0.001, 0.5, 2, 8, 40]) {
        for (const multiplier of [0.9, 1, 1.05, 1.1 * 1.05]) {
          const intercept = raw - 6 + priorModel().mean[0];
          const p = predict({ ...modelWith('LEARNING', 0, variance), mean: [intercept, ...priorModel().mean.slice(1)] }, {}, multiplier);
          expect(p.interval.low).toBeLessThanOrEqual(p.expectedQuality);
          expect(p.expectedQuality).toBeLessThanOrEqual(p.interval.high);
          expect(p.expectedQuality).toBeGreaterThanOrEqual(1);
          expect(p.expectedQuality).toBeLessThanOrEqual(10);
        }
      }
    }
  });

  it('lists the 9 feature contributions (no intercept) by absolute size, ties in model-term order', () => {
    const p = predict(priorModel(), checklistCheckIn);
    expect(p.contributions.map((c) => c.variable)).toEqual([
      'energyLevel',
      'stressLevel',
      'sleepHours',
      'sleepQuality',
      'motivationLevel',
      'sorenessLevel',
      'daysSinceHardSession',
      'caffeineMg',
      'warmupMin',
    ]);
    expect(p.contributions[0].value).toBeCloseTo(-0.44, 12);
    expect(p.contributions[1].value).toBeCloseTo(0.36, 12);
    for (const c of p.contributions.slice(2)) expect(Object.is(c.value, 0)).toBe(true);
    // Contributions plus the intercept add up to the raw quality.
    const total = p.contributions.reduce((s, c) => s + c.value, 6.0);
    expect(total).toBeCloseTo(p.rawQuality, 12);
  });

  it('treats a legitimate 0 as a value, not as missing', () => {
    const p = predict(priorModel(), { caffeineMg: 0, warmupMin: 0 });
    // caffeine 0 is its reference; warm-up 0 is 15 below it: 0.02 * -15 = -0.3
    expect(p.rawQuality).toBeCloseTo(5.7, 12);
    expect(p.contributions[0]).toEqual({ variable: 'warmupMin', value: expect.closeTo(-0.3, 12) });
  });

  it('applies a multiplier to the expected rating and clamps at 10', () => {
    const good: CheckIn = { energyLevel: 10, motivationLevel: 10, sleepQuality: 10, stressLevel: 1, sorenessLevel: 1 };
    // 6 + 0.88 + 0.60 + 0.72 + 0.54 + 0.40 = 9.14
    const p = predict(priorModel(), good, 1.1);
    expect(p.rawQuality).toBeCloseTo(9.14, 12);
    expect(p.expectedQuality).toBeCloseTo(Math.min(10, boundedExpectation(9.14, predictiveSd(priorModel(), good)) * 1.1), 6);
    expect(p.interval.high).toBe(10);

    const mid = predict(priorModel(), checklistCheckIn, 1.1);
    expect(mid.expectedQuality).toBeCloseTo(boundedExpectation(5.92, Math.sqrt(6.0788)) * 1.1, 6);
    expect(mid.rawQuality).toBeCloseTo(5.92, 12);
    expect(mid.interval.low).toBeCloseTo(1.1, 12); // a rating of 1, times 1.1

    // 6 + 0.12 * 17 + 0.30 * 28 = 16.44: nearly surely a 10, times 0.9
    const over = predict(priorModel(), { sleepHours: 24, daysSinceHardSession: 30 }, 0.9);
    expect(over.rawQuality).toBeCloseTo(16.44, 12);
    expect(over.expectedQuality).toBeCloseTo(boundedExpectation(16.44, predictiveSd(priorModel(), { sleepHours: 24, daysSinceHardSession: 30 })) * 0.9, 6);
    expect(over.interval.high).toBeCloseTo(9, 12);
    expect(over.interval.low).toBeLessThanOrEqual(over.expectedQuality);
  });

  it('a latent value below the scale: the expected rating given the bounds, the interval from 1', () => {
    const input: CheckIn = { energyLevel: 1, stressLevel: 10, sorenessLevel: 10, daysSinceHardSession: 0, sleepHours: 0 };
    const p = predict(priorModel(), input);
    // 6 - 1.10 - 1.08 - 1.40 - 0.60 - 0.84 = 0.98
    expect(p.rawQuality).toBeCloseTo(0.98, 12);
    expect(p.expectedQuality).toBeCloseTo(boundedExpectation(0.98, predictiveSd(priorModel(), input)), 6);
    expect(p.expectedQuality).toBeGreaterThan(1);
    expect(p.interval.low).toBe(1);
    expect(p.interval.high).toBeCloseTo(ratingOf(0.98 + 1.96 * predictiveSd(priorModel(), input)), 12);
  });

  it('never predicts worse with more sleep, everything else fixed (prior model, 0..24 h)', () => {
    const model = priorModel();
    let previous = -Infinity;
    let previousRaw = -Infinity;
    for (let h = 0; h <= 24; h += 0.25) {
      const p = predict(model, { ...checklistCheckIn, sleepHours: h });
      expect(p.expectedQuality).toBeGreaterThanOrEqual(previous);
      expect(p.rawQuality).toBeGreaterThan(previousRaw);
      previous = p.expectedQuality;
      previousRaw = p.rawQuality;
    }
  });

  it('labels confidence from phase and interval width', () => {
    // x'Vx = 0.01 (1 + 4 + 4) = 0.09
    const tight = (phase: ModelPhase, sigma2: number) => predict(modelWith(phase, 0.01, sigma2), checklistCheckIn).confidence;
    expect(tight('PERSONALIZED', 2.25)).toBe('HIGH'); // width 3.92 * sqrt(2.34) = 6.00
    expect(tight('LEARNING', 2.25)).toBe('MEDIUM');
    expect(tight('PERSONALIZED', 4)).toBe('MEDIUM'); // width 7.93
    expect(tight('PERSONALIZED', 5)).toBe('LOW'); // width 8.81
    expect(tight('COLD_START', 0.01)).toBe('LOW');
  });

  it('rejects a model of the wrong shape', () => {
    const bad = { ...priorModel(), mean: [6] };
    expect(() => predict(bad, {})).toThrow(ModelShapeError);
  });
});

describe('sessionTypeFromQuality', () => {
  const fit: CheckIn = { energyLevel: 7, motivationLevel: 7 };
  it.each([
    [7.5, fit, 'PROJECT'],
    [10, { energyLevel: 10, motivationLevel: 10 }, 'PROJECT'],
    [7.49, fit, 'VOLUME'],
    [7.5, { energyLevel: 6, motivationLevel: 7 }, 'VOLUME'],
    [7.5, { energyLevel: 7 }, 'VOLUME'], // missing motivation does not meet >= 7
    [7.5, { motivationLevel: 7 }, 'VOLUME'],
    [6.5, {}, 'VOLUME'],
    [6.49, { sorenessLevel: 6 }, 'TECHNIQUE'],
    [6.49, { sorenessLevel: 5 }, 'VOLUME'],
    [5.5, { sorenessLevel: 6 }, 'TECHNIQUE'],
    [5.5, {}, 'VOLUME'], // missing soreness does not meet >= 6
    [5.49, { sorenessLevel: 9 }, 'LIGHT_SESSION'],
    [4.5, {}, 'LIGHT_SESSION'],
    [4.49, {}, 'ACTIVE_RECOVERY'],
    [3.0, {}, 'ACTIVE_RECOVERY'],
    [2.99, {}, 'REST_DAY'],
    [1, fit, 'REST_DAY'],
  ] as const)('q = %s with %o -> %s', (q, checkIn, expected) => {
    expect(sessionTypeFromQuality(q, checkIn as CheckIn)).toBe(expected);
  });
});

describe('suggestImprovements', () => {
  it('uses the actionable features of the variable registry', () => {
    expect(ACTIONABLE_FEATURES).toEqual(['caffeineMg', 'warmupMin']);
  });

  it('suggests 300 mg caffeine when caffeine is missing (0.003 * 300 = 0.9); a missing warm-up is already at 15', () => {
    const s = suggestImprovements(priorModel(), checklistCheckIn, MODEL_TERMS);
    expect(s).toHaveLength(1);
    expect(s[0]).toMatchObject({ variable: 'caffeineMg', from: 0, to: 300 });
    expect(s[0].expectedGain).toBeCloseTo(0.9, 12);
    expect(s[0].message).toBe('Take about 300 mg caffeine (+0.90 expected quality)');
  });

  it('moves a 5 min warm-up to 15 (gain 0.2) and sorts by gain', () => {
    const s = suggestImprovements(priorModel(), { caffeineMg: 100, warmupMin: 5 }, MODEL_TERMS);
    expect(s.map((x) => x.variable)).toEqual(['caffeineMg', 'warmupMin']);
    expect(s[0].expectedGain).toBeCloseTo(0.6, 12); // 0.003 * (300 - 100)
    expect(s[1]).toMatchObject({ variable: 'warmupMin', from: 5, to: 15 });
    expect(s[1].expectedGain).toBeCloseTo(0.2, 12);
    expect(s[1].message).toBe('Warm up for about 15 min (+0.20 expected quality)');
  });

  it('drops gains of 0.05 or less and never suggests leaving or moving against the range', () => {
    // warm-up 13 -> 15: 0.04; caffeine 290 -> 300: 0.03
    expect(suggestImprovements(priorModel(), { caffeineMg: 290, warmupMin: 13 }, MODEL_TERMS)).toEqual([]);
    // Above the optimal range with a positive coefficient: moving to the range would lower q.
    expect(suggestImprovements(priorModel(), { caffeineMg: 500, warmupMin: 40 }, MODEL_TERMS)).toEqual([]);
  });

  it('moves to the optimal minimum when the coefficient is negative', () => {
    const model = priorModel();
    model.mean[termIndex('caffeineMg')] = -0.004;
    const s = suggestImprovements(model, { caffeineMg: 400 }, MODEL_TERMS);
    expect(s).toHaveLength(1);
    expect(s[0]).toMatchObject({ variable: 'caffeineMg', from: 400, to: 100 });
    expect(s[0].expectedGain).toBeCloseTo(1.2, 12);
    expect(s[0].message).toBe('Keep caffeine to about 100 mg (+1.20 expected quality)');
    // Missing caffeine (reference 0) is below the range: raising it would lower q.
    expect(suggestImprovements(model, {}, MODEL_TERMS)).toEqual([]);
  });

  it('keeps the top 3 when more features are actionable', () => {
    const actionable = ['caffeineMg', 'warmupMin', 'sleepHours', 'daysSinceHardSession'];
    const s = suggestImprovements(priorModel(), { caffeineMg: 0, warmupMin: 5, sleepHours: 5, daysSinceHardSession: 0 }, MODEL_TERMS, actionable);
    // days 0 -> 4: 1.2; caffeine 0 -> 300: 0.9; sleep 5 -> 9: 0.48; warm-up 5 -> 15: 0.2 (cut)
    expect(s.map((x) => x.variable)).toEqual(['daysSinceHardSession', 'caffeineMg', 'sleepHours']);
    expect(s.map((x) => x.expectedGain)).toEqual([expect.closeTo(1.2, 12), expect.closeTo(0.9, 12), expect.closeTo(0.48, 12)]);
  });
});
