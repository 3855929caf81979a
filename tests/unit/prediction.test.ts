import { describe, expect, it } from 'vitest';
import { predict as predictValues, sessionTypeFromQuality as sessionTypeOfValues, ModelShapeError } from '../../src/engine/prediction.ts';
import { ACTIONABLE_FEATURES, suggestImprovements as suggestForValues } from '../../src/engine/suggestions.ts';
import type { ModelPhase, UserModel } from '../../src/engine/types.ts';
import { checkInValues, DEFAULT_SIGMA2, designRow, MODEL_TERMS, P, type CheckIn, type FeatureSpec } from '../../src/engine/variables.ts';

// The engine reads a check-in by its values (checkInValues): these take the check-in as the API gets it.
const predict = (model: UserModel, checkIn: CheckIn, multiplier?: number) => predictValues(model, checkInValues(checkIn), multiplier);
const sessionTypeFromQuality = (q: number, checkIn: CheckIn) => sessionTypeOfValues(q, checkInValues(checkIn));
const suggestImprovements = (model: UserModel, checkIn: CheckIn, terms: readonly FeatureSpec[], actionable?: readonly string[]) => suggestForValues(model, checkInValues(checkIn), terms, actionable);
import { boundedExpectation, ratingIntervalOf, ratingProbabilities } from '../support/recommendation.ts';

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

    // The whole rating: the latent value with sigma² less the rounding's 1/12, rounded and censored.
    const distribution = ratingProbabilities(5.92, Math.sqrt(3.8288 + 2.25 - 1 / 12));
    expect(p.distribution).toHaveLength(10);
    for (const [k, q] of p.distribution.entries()) expect(q).toBeCloseTo(distribution[k], 8);
    expect(p.distribution.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
    // A wide cold-start spread (P(1) = 3.6 %, P(10) = 7.2 %): 2-10 holds 96.4 %, 1-9 92.8 %: nearest 95 % is 2-10.
    expect(ratingIntervalOf(distribution, p.expectedQuality)).toMatchObject({ low: 2, high: 10, probability: expect.closeTo(0.9645, 3) });
    expect(p.interval).toEqual({ low: 2, high: 10 });

    // A narrow spread inside the scale: the run of whole ratings around 5.92 whose probability is nearest 95 %.
    const narrow = modelWith('LEARNING', 0.001, 1);
    const inside = predict(narrow, checklistCheckIn);
    const insideDistribution = ratingProbabilities(5.92, Math.sqrt(predictiveSd(narrow, checklistCheckIn) ** 2 - 1 / 12));
    // sd sqrt(1.009 - 1/12) = 0.96: 4-7 holds 94.4 %, 4-8 99.0 %, 5-8 92.6 %: nearest 95 % is 4-7.
    expect(inside.interval).toEqual({ low: 4, high: 7 });
    expect(ratingIntervalOf(insideDistribution, inside.expectedQuality)).toMatchObject({ low: 4, high: 7, probability: expect.closeTo(0.9438, 3) });
  });

  it('keeps the expected rating (as shown, 2 decimals) inside its interval of whole ratings, whatever the latent value, spread and multiplier', () => {
    // Nearly all of the mass at 1: the interval is the rating 1, and the expected rating shows as 1.00.
    const piled = predict({ ...modelWith('LEARNING', 0, 1), mean: [-2, ...priorModel().mean.slice(1)] }, {});
    expect(piled.expectedQuality).toBeGreaterThan(1);
    expect(piled.interval).toEqual({ low: 1, high: 1 });
    expect(piled.distribution[0]).toBeGreaterThan(0.999);
    for (let raw = -6; raw <= 16; raw += 0.25) {
      for (const variance of [0.001, 0.5, 2, 8, 40]) {
        for (const multiplier of [0.9, 1, 1.05, 1.1 * 1.05]) {
          const intercept = raw - 6 + priorModel().mean[0];
          const p = predict({ ...modelWith('LEARNING', 0, variance), mean: [intercept, ...priorModel().mean.slice(1)] }, {}, multiplier);
          const shown = Math.round(p.expectedQuality * 100) / 100;
          expect(Number.isInteger(p.interval.low) && Number.isInteger(p.interval.high)).toBe(true);
          expect(p.interval.low).toBeLessThanOrEqual(shown);
          expect(shown).toBeLessThanOrEqual(p.interval.high);
          expect(p.expectedQuality).toBeGreaterThanOrEqual(1);
          expect(p.expectedQuality).toBeLessThanOrEqual(10);
          expect(p.distribution.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
          // Under a multiplier the distribution follows the adjusted expected rating (whole ratings against the
          // latent value inside the scale: they agree once the noise is wider than the rounding).
          const mean = p.distribution.reduce((a, q, k) => a + (k + 1) * q, 0);
          if (variance >= 2) expect(Math.abs(mean - p.expectedQuality)).toBeLessThan(0.015);
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
    // The distribution moves up with the expected rating: less at 1, more at 10 than without the multiplier.
    const plain = predict(priorModel(), checklistCheckIn);
    expect(mid.distribution[0]).toBeLessThan(plain.distribution[0]);
    expect(mid.distribution[9]).toBeGreaterThan(plain.distribution[9]);
    const { low, high } = ratingIntervalOf(mid.distribution, mid.expectedQuality);
    expect(mid.interval).toEqual({ low, high });

    // 6 + 0.12 * 17 + 0.30 * 28 = 16.44: nearly surely a 10, times 0.9
    const over = predict(priorModel(), { sleepHours: 24, daysSinceHardSession: 30 }, 0.9);
    expect(over.rawQuality).toBeCloseTo(16.44, 12);
    expect(over.expectedQuality).toBeCloseTo(boundedExpectation(16.44, predictiveSd(priorModel(), { sleepHours: 24, daysSinceHardSession: 30 })) * 0.9, 6);
    const shown = Math.round(over.expectedQuality * 100) / 100;
    expect(over.interval.low).toBeLessThanOrEqual(shown);
    expect(over.interval.high).toBeGreaterThanOrEqual(shown);
  });

  it('a latent value below the scale: the expected rating given the bounds, the interval from 1', () => {
    const input: CheckIn = { energyLevel: 1, stressLevel: 10, sorenessLevel: 10, daysSinceHardSession: 0, sleepHours: 0 };
    const p = predict(priorModel(), input);
    // 6 - 1.10 - 1.08 - 1.40 - 0.60 - 0.84 = 0.98
    expect(p.rawQuality).toBeCloseTo(0.98, 12);
    const sd = predictiveSd(priorModel(), input);
    expect(p.expectedQuality).toBeCloseTo(boundedExpectation(0.98, sd), 6);
    expect(p.expectedQuality).toBeGreaterThan(1);
    const distribution = ratingProbabilities(0.98, Math.sqrt(sd * sd - 1 / 12));
    for (const [k, q] of p.distribution.entries()) expect(q).toBeCloseTo(distribution[k], 8);
    expect(p.distribution[0]).toBeGreaterThan(0.5); // most of the mass is a 1
    const { low, high } = ratingIntervalOf(distribution, p.expectedQuality);
    expect(p.interval).toEqual({ low, high });
    expect(low).toBe(1);
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

describe('the model reads each variable of the check-in at its own index', () => {
  it('a feature given alone moves only its own contribution, and every other feature is assumed', () => {
    const model = priorModel();
    for (let j = 1; j < P; j++) {
      const term = MODEL_TERMS[j];
      const p = predict(model, { [term.name]: term.reference + 2 });
      for (const c of p.contributions) expect(c.value).toBeCloseTo(c.variable === term.name ? 2 * model.mean[j] : 0, 12);
      expect(p.assumed.map((a) => a.variable).sort()).toEqual(
        MODEL_TERMS.slice(1)
          .map((t) => t.name)
          .filter((name) => name !== term.name)
          .sort(),
      );
    }
  });

  it('suggests from the actionable variable given, each read at its own index', () => {
    const model = modelWith('PERSONALIZED', 0, 0.25);
    expect(suggestImprovements(model, { caffeineMg: 50 }, MODEL_TERMS).map((s) => [s.variable, s.from])).toEqual([['caffeineMg', 50]]);
    expect(suggestImprovements(model, { warmupMin: 1 }, MODEL_TERMS).map((s) => [s.variable, s.from])).toEqual([
      ['caffeineMg', 0],
      ['warmupMin', 1],
    ]);
  });
});

describe('suggestImprovements', () => {
  it('uses the actionable features of the variable registry', () => {
    expect(ACTIONABLE_FEATURES).toEqual(['caffeineMg', 'warmupMin']);
  });

  /** E[rating | bounds] moved by a latent change, the spread kept: what a suggestion brings on the rating scale. */
  const ratingGain = (eta: number, sd: number, latentGain: number) => boundedExpectation(eta + latentGain, sd) - boundedExpectation(eta, sd);

  it('suggests 300 mg caffeine when caffeine is missing (0.003 * 300 = 0.9 latent, a little less on the rating scale); a missing warm-up is already at 15', () => {
    const s = suggestImprovements(priorModel(), checklistCheckIn, MODEL_TERMS);
    expect(s).toHaveLength(1);
    expect(s[0]).toMatchObject({ variable: 'caffeineMg', from: 0, to: 300 });
    // 5.92 with a cold-start spread of 2.47: 11 % of the latent mass lies beyond a bound, so the rating gains ~0.8.
    const gain = ratingGain(5.92, Math.sqrt(6.0788), 0.9);
    expect(s[0].expectedGain).toBeCloseTo(gain, 6);
    expect(gain).toBeLessThan(0.9);
    expect(gain).toBeGreaterThan(0.75);
    expect(s[0].message).toBe(`Take about 300 mg caffeine (+${gain.toFixed(2)} expected quality)`);
  });

  it('moves a 5 min warm-up to 15 and sorts by gain; far from the bounds with a narrow spread the gain is beta x change', () => {
    const narrow = modelWith('PERSONALIZED', 0, 0.25);
    const s = suggestImprovements(narrow, { caffeineMg: 100, warmupMin: 5 }, MODEL_TERMS);
    expect(s.map((x) => x.variable)).toEqual(['caffeineMg', 'warmupMin']);
    expect(s[0].expectedGain).toBeCloseTo(0.6, 6); // 0.003 * (300 - 100)
    expect(s[1]).toMatchObject({ variable: 'warmupMin', from: 5, to: 15 });
    expect(s[1].expectedGain).toBeCloseTo(0.2, 6);
    expect(s[1].message).toBe('Warm up for about 15 min (+0.20 expected quality)');
  });

  it('near the top of the scale the gain shrinks: a rating cannot rise above 10', () => {
    // Expected about 9.3 (latent 9.8, spread 1): the same +0.9 of caffeine brings little on the rating scale.
    const top = modelWith('PERSONALIZED', 0, 1, [9.8, ...priorModel().mean.slice(1)]);
    const s = suggestImprovements(top, {}, MODEL_TERMS);
    const caffeine = s.find((x) => x.variable === 'caffeineMg')!;
    expect(caffeine.expectedGain).toBeCloseTo(ratingGain(9.8, 1, 0.9), 6);
    expect(caffeine.expectedGain).toBeLessThan(0.4); // under half of beta x change
    expect(predict(top, { caffeineMg: 300 }).expectedQuality - predict(top, {}).expectedQuality).toBeCloseTo(caffeine.expectedGain, 6);
    // Higher still, nothing worth telling.
    expect(suggestImprovements(modelWith('PERSONALIZED', 0, 1, [11.5, ...priorModel().mean.slice(1)]), {}, MODEL_TERMS)).toEqual([]);
  });

  it('drops gains of 0.05 or less and never suggests leaving or moving against the range', () => {
    // warm-up 13 -> 15: 0.04; caffeine 290 -> 300: 0.03
    expect(suggestImprovements(priorModel(), { caffeineMg: 290, warmupMin: 13 }, MODEL_TERMS)).toEqual([]);
    // Above the optimal range with a positive coefficient: moving to the range would lower q.
    expect(suggestImprovements(priorModel(), { caffeineMg: 500, warmupMin: 40 }, MODEL_TERMS)).toEqual([]);
  });

  it('moves to the optimal minimum when the coefficient is negative', () => {
    const model = modelWith('PERSONALIZED', 0, 0.25);
    model.mean[termIndex('caffeineMg')] = -0.004;
    const s = suggestImprovements(model, { caffeineMg: 400 }, MODEL_TERMS);
    expect(s).toHaveLength(1);
    expect(s[0]).toMatchObject({ variable: 'caffeineMg', from: 400, to: 100 });
    // latent 6 - 0.004 * 400 = 4.4 -> 5.6, sd 0.5: far from the bounds, the rating gains the full 1.2
    expect(s[0].expectedGain).toBeCloseTo(1.2, 6);
    expect(s[0].message).toBe('Keep caffeine to about 100 mg (+1.20 expected quality)');
    // Missing caffeine (reference 0) is below the range: raising it would lower q.
    expect(suggestImprovements(model, {}, MODEL_TERMS)).toEqual([]);
  });

  it('keeps the top 3 when more features are actionable', () => {
    const actionable = ['caffeineMg', 'warmupMin', 'sleepHours', 'daysSinceHardSession'];
    const s = suggestImprovements(modelWith('PERSONALIZED', 0, 0.25), { caffeineMg: 0, warmupMin: 5, sleepHours: 5, daysSinceHardSession: 0 }, MODEL_TERMS, actionable);
    // days 0 -> 4: 1.2; caffeine 0 -> 300: 0.9; sleep 5 -> 9: 0.48; warm-up 5 -> 15: 0.2 (cut)
    expect(s.map((x) => x.variable)).toEqual(['daysSinceHardSession', 'caffeineMg', 'sleepHours']);
    expect(s.map((x) => x.expectedGain)).toEqual([expect.closeTo(1.2, 4), expect.closeTo(0.9, 4), expect.closeTo(0.48, 4)]);
  });
});
