import { describe, expect, it } from 'vitest';
import { buildStatisticalContext, describeZ, type StatisticalContextInput } from '../../src/engine/statistics.ts';
import { normalCdf } from '../../src/engine/normal.ts';
import type { ModelPhase, PastSession, PopulationStat, UserModel } from '../../src/engine/types.ts';
import { CHECK_IN_VARIABLES, checkInValues, DEFAULT_SIGMA2, MODEL_TERMS, P, type CheckIn } from '../../src/engine/variables.ts';

const termIndex = (name: string) => MODEL_TERMS.findIndex((t) => t.name === name);
const MU = MODEL_TERMS.map((t) => t.priorMean);

function model(phase: ModelPhase, overrides: Record<string, number> = {}, variance = 0.0025): UserModel {
  const mean = [...MU];
  for (const [name, value] of Object.entries(overrides)) mean[termIndex(name)] = value;
  const covariance = new Array<number>(P * P).fill(0);
  for (let j = 0; j < P; j++) covariance[j * P + j] = variance;
  return { phase, mean, covariance, sigma2: DEFAULT_SIGMA2, sessionsIncluded: 20, shrinkageFactor: 0.6 };
}

const day0 = Date.UTC(2025, 0, 1);
/** Sessions given oldest first; returned newest first as the engine expects. */
function history(rows: { q: number; c?: CheckIn }[]): PastSession[] {
  return rows.map((r, i) => ({ id: `s${i}`, startedAt: new Date(day0 + i * 86_400_000), sessionQuality: r.q, checkIn: r.c ?? {} })).reverse();
}

/** The context's input, the check-in as the API gets it (the engine reads its values, checkInValues). */
function input(partial: Partial<Omit<StatisticalContextInput, 'values'>> & { checkIn?: CheckIn }): StatisticalContextInput {
  const { checkIn = {}, ...rest } = partial;
  return { values: checkInValues(checkIn), model: model('COLD_START'), population: null, populationStats: [], history: [], terms: MODEL_TERMS, ...rest };
}

const stat = (variable: string, mean: number, std: number): PopulationStat => ({ variable, mean, std, min: 0, max: 100, n: 500 });

describe('population comparison', () => {
  it('gives z-score, normal percentile and descriptor for present variables with a statistic', () => {
    const ctx = buildStatisticalContext(
      input({
        checkIn: { sleepHours: 5, energyLevel: 6, stressLevel: 5, sorenessLevel: 4, hydrationStatus: 9 },
        populationStats: [stat('sleepHours', 7, 1), stat('energyLevel', 6, 2), stat('stressLevel', 4, 1), stat('motivationLevel', 6, 2), stat('hydrationStatus', 6, 2)],
      }),
    );
    // sorenessLevel has no statistic; motivationLevel is not in the check-in.
    expect(ctx.populationComparison.map((c) => c.variable)).toEqual(['sleepHours', 'energyLevel', 'stressLevel', 'hydrationStatus']);
    const [sleep, energy, stress, hydration] = ctx.populationComparison;
    expect(sleep).toMatchObject({ value: 5, populationMean: 7, populationStd: 1, zScore: -2, descriptor: 'well below average' });
    expect(sleep.percentile).toBe(2.28); // Phi(-2) = 0.02275, as a percentile with 2 decimals
    expect(energy).toMatchObject({ zScore: 0, descriptor: 'about average' });
    expect(energy.percentile).toBe(50);
    expect(stress).toMatchObject({ zScore: 1, descriptor: 'above average' });
    expect(stress.percentile).toBe(84.13); // Phi(1) = 0.841345
    expect(hydration).toMatchObject({ zScore: 1.5, descriptor: 'above average' });
  });

  it('makes its figures once at the precision the API shows (and a stored answer keeps), the descriptor reading the z-score shown', () => {
    const ctx = buildStatisticalContext(input({ checkIn: { sleepHours: 7.4 }, populationStats: [stat('sleepHours', 6.612345678, 1.575987654)] }));
    // z = 0.787654.../1.575987... = 0.49977...: 0.4998 shown, about average either way
    expect(ctx.populationComparison[0]).toEqual({
      variable: 'sleepHours',
      value: 7.4,
      populationMean: 6.6123,
      populationStd: 1.576,
      zScore: 0.4998,
      percentile: 69.14,
      descriptor: 'about average',
    });
    // z = 0.50002... shows as 0.5000: the descriptor reads the shown value (|z| <= 0.5 is about average)
    const edge = buildStatisticalContext(input({ checkIn: { sleepHours: 7.50002 }, populationStats: [stat('sleepHours', 7, 1)] })).populationComparison[0];
    expect(edge).toMatchObject({ zScore: 0.5, descriptor: 'about average' });
  });

  it('compares each value against the statistics it is given: a value seen before under one version, a new version, and more values than are kept', () => {
    const v1 = [stat('sleepHours', 7, 1), stat('caffeineMg', 100, 50)];
    const v2 = [stat('sleepHours', 6, 2), stat('caffeineMg', 100, 50)];
    const compare = (populationStats: PopulationStat[], checkIn: CheckIn) => buildStatisticalContext(input({ checkIn, populationStats })).populationComparison;
    const first = compare(v1, { sleepHours: 5, caffeineMg: 200 });
    expect(first.map((c) => c.zScore)).toEqual([-2, 2]);
    // The same value again under the same statistics, beside another: the same figures.
    expect(compare(v1, { sleepHours: 5, caffeineMg: 0 })).toEqual([first[0], { ...first[1], value: 0, zScore: -2, percentile: 2.28, descriptor: 'well below average' }]);
    // New statistics (a nightly fit's): the same value compares against them, not against the earlier ones.
    expect(compare(v2, { sleepHours: 5 })[0]).toMatchObject({ value: 5, populationMean: 6, populationStd: 2, zScore: -0.5, descriptor: 'about average' });
    expect(compare(v1, { sleepHours: 5 })[0]).toEqual(first[0]);
    // Past the values kept for a variable (statistics.ts's bound), each value is still compared as it is.
    for (let mg = 0; mg < 1500; mg++) {
      const [c] = compare(v1, { caffeineMg: mg });
      expect(c.value).toBe(mg);
      expect(c.zScore).toBe(Math.round(((mg - 100) / 50) * 10_000) / 10_000);
    }
  });

  it('is skipped when no statistics exist', () => {
    const ctx = buildStatisticalContext(input({ checkIn: { sleepHours: 5, energyLevel: 6 } }));
    expect(ctx.populationComparison).toEqual([]);
  });

  it('normal CDF and descriptors at their edges', () => {
    expect(normalCdf(1.96)).toBeCloseTo(0.975, 4);
    expect(normalCdf(-1)).toBeCloseTo(0.158655, 5);
    expect(describeZ(-1.51)).toBe('well below average');
    expect(describeZ(-1.5)).toBe('below average');
    expect(describeZ(-0.5)).toBe('about average');
    expect(describeZ(0.5)).toBe('about average');
    expect(describeZ(0.51)).toBe('above average');
    expect(describeZ(1.5)).toBe('above average');
    expect(describeZ(1.51)).toBe('well above average');
  });
});

describe('personal history', () => {
  it('summarises quality, groups and trend', () => {
    const ctx = buildStatisticalContext(
      input({
        history: history([
          { q: 4, c: { sleepHours: 5, stressLevel: 8, caffeineMg: 0, daysSinceHardSession: 1 } },
          { q: 5, c: { sleepHours: 5.5, stressLevel: 7, caffeineMg: 250, daysSinceHardSession: 0 } },
          { q: 6, c: { sleepHours: 6.5, stressLevel: 3, caffeineMg: 100, daysSinceHardSession: 3 } },
          { q: 8, c: { sleepHours: 7, stressLevel: 2, caffeineMg: 200, daysSinceHardSession: 2 } },
          { q: 7, c: { sleepHours: 8, daysSinceHardSession: 6 } },
        ]),
      }),
    );
    const h = ctx.personalHistory;
    expect(h.n).toBe(5);
    expect(h.mean).toBeCloseTo(6, 12);
    // deviations -2 -1 0 2 1: ss = 10, sd = sqrt(10 / 4)
    expect(h.sd).toBe(1.58); // sqrt(2.5) = 1.5811, with the rating scale's 2 decimals
    expect(h.best).toBe(8);
    expect(h.worst).toBe(4);
    // t = 0..4 oldest first: sum (t - 2)(q - 6) = 4 + 1 + 0 + 2 + 2 = 9; sum (t - 2)² = 10
    expect(h.trendPerSession).toBeCloseTo(0.9, 12);
    expect(h.sleep).toEqual({ under6h: { n: 2, mean: 4.5 }, atLeast7h: { n: 2, mean: 7.5 } }); // 6.5 h is in neither
    expect(h.stress).toEqual({ high: { n: 2, mean: 4.5 }, lower: { n: 2, mean: 7 } }); // missing stress in neither
    expect(h.caffeine).toEqual({ atLeast200mg: { n: 2, mean: 6.5 }, under50mg: { n: 1, mean: 4 } }); // 100 mg in neither
    expect(h.daysSinceHardSession).toEqual({
      upTo1: { n: 2, mean: 4.5 },
      from2To4: { n: 2, mean: 7 },
      atLeast5: { n: 1, mean: 7 },
    });
  });

  it('reads only the newest 30 sessions and reports empty groups as n = 0, mean null', () => {
    // 35 sessions, oldest first: quality 1 for the oldest 5, then 30 of quality 7.
    const rows = [...Array.from({ length: 5 }, () => ({ q: 1 })), ...Array.from({ length: 30 }, () => ({ q: 7 }))];
    const h = buildStatisticalContext(input({ history: history(rows) })).personalHistory;
    expect(h.n).toBe(30);
    expect(h.mean).toBe(7);
    expect(h.sd).toBe(0);
    expect(h.trendPerSession).toBe(0);
    expect(h.sleep.under6h).toEqual({ n: 0, mean: null });
  });

  it('handles no history and tiny histories', () => {
    const empty = buildStatisticalContext(input({})).personalHistory;
    expect(empty).toMatchObject({ n: 0, mean: null, sd: null, best: null, worst: null, trendPerSession: null });
    const two = buildStatisticalContext(input({ history: history([{ q: 5 }, { q: 7 }]) })).personalHistory;
    expect(two).toMatchObject({ n: 2, mean: 6, best: 7, worst: 5, trendPerSession: null });
    expect(two.sd).toBe(1.41); // sqrt(2), 2 decimals
    // 5, 7, 6 oldest first: slope = ((-1)(-1) + 0 + (1)(0)) / 2 = 0.5
    const three = buildStatisticalContext(input({ history: history([{ q: 5 }, { q: 7 }, { q: 6 }]) })).personalHistory;
    expect(three.trendPerSession).toBeCloseTo(0.5, 12);
  });
});

describe('similar sessions', () => {
  const today: CheckIn = { sleepHours: 7, energyLevel: 6, stressLevel: 3 };
  const rows = [
    { q: 8, c: { sleepHours: 7, energyLevel: 6, stressLevel: 3, caffeineMg: 300 } }, // s0: identical on shared features
    { q: 3, c: { sleepHours: 4, energyLevel: 2, stressLevel: 9 } }, // s1: far
    { q: 6, c: { sleepHours: 5.5, energyLevel: 6, stressLevel: 3 } }, // s2: one scale off on sleep
    { q: 5, c: { energyLevel: 8 } }, // s3: one shared feature, one scale off
    { q: 9, c: { caffeineMg: 100 } }, // s4: nothing shared -> excluded
    { q: 7, c: { sleepHours: 7, energyLevel: 6, stressLevel: 3 } }, // s5: identical, newer than s0
  ];

  it('ranks by standardised distance over shared features, newest first on ties', () => {
    const ctx = buildStatisticalContext(input({ checkIn: today, history: history(rows) }));
    expect(ctx.similarSessions.map((s) => s.sessionId)).toEqual(['s5', 's0', 's2']);
    const [a, b, c] = ctx.similarSessions;
    expect(a).toMatchObject({ similarity: 1, sharedFeatures: 3, sessionQuality: 7, date: new Date(day0 + 5 * 86_400_000).toISOString() });
    expect(b).toMatchObject({ similarity: 1, sessionQuality: 8 });
    // sleep differs by 1.5 h = one fallback scale: rms = sqrt(1 / 3)
    expect(c.similarity).toBe(0.634); // 1 / (1 + sqrt(1 / 3)) = 0.63397, 4 decimals
  });

  it('uses the population std as the scale when a statistic exists', () => {
    // With sleep std 0.5, s2's 1.5 h gap is 3 SDs: rms = sqrt(9 / 3) = 1.732 -> s3 (rms 1) now ranks above it.
    const ctx = buildStatisticalContext(input({ checkIn: today, history: history(rows), populationStats: [stat('sleepHours', 7, 0.5)] }));
    expect(ctx.similarSessions.map((s) => s.sessionId)).toEqual(['s5', 's0', 's3']);
    expect(ctx.similarSessions[2].similarity).toBeCloseTo(0.5, 12);
  });

  it('is empty when the check-in has no model features', () => {
    expect(buildStatisticalContext(input({ checkIn: { hydrationStatus: 5 }, history: history(rows) })).similarSessions).toEqual([]);
  });
});

describe('coefficient comparisons', () => {
  const pop = { mu: MU };
  const compare = (overrides: Record<string, number>, variable: string) =>
    buildStatisticalContext(input({ model: model('LEARNING', overrides), population: pop })).coefficientComparisons.find((c) => c.variable === variable)!;

  it('reads a more negative stress coefficient as more sensitive to stress', () => {
    const c = compare({ stressLevel: -0.3 }, 'stressLevel');
    expect(c.sensitivity).toBe('MORE_SENSITIVE');
    expect(c.message).toBe('You are more sensitive to stress than most climbers');
    expect(c.userCoefficient).toBe(-0.3);
    expect(c.populationCoefficient).toBe(-0.18);
    expect(c.difference).toBeCloseTo(-0.12, 12);
    expect(c.ratio).toBeCloseTo(0.3 / 0.18, 12);
    // SD 0.05: interval [-0.398, -0.202] excludes -0.18
    expect(c.userInterval[0]).toBeCloseTo(-0.398, 12);
    expect(c.userInterval[1]).toBeCloseTo(-0.202, 12);
    expect(c.clearlyDifferent).toBe(true);
  });

  it('reads a less negative stress coefficient as less sensitive, a positive one as opposite', () => {
    expect(compare({ stressLevel: -0.1 }, 'stressLevel')).toMatchObject({
      sensitivity: 'LESS_SENSITIVE',
      message: 'You are less sensitive to stress than most climbers',
    });
    expect(compare({ stressLevel: 0.05 }, 'stressLevel')).toMatchObject({
      sensitivity: 'OPPOSITE',
      ratio: null,
      message: 'Stress does not seem to lower your session quality, unlike for most climbers',
    });
    expect(compare({ stressLevel: -0.19 }, 'stressLevel')).toMatchObject({
      sensitivity: 'SIMILAR',
      message: 'You are about as sensitive to stress as most climbers',
      clearlyDifferent: false,
    });
  });

  it('reads a larger positive coefficient as more sensitive', () => {
    expect(compare({ energyLevel: 0.4 }, 'energyLevel')).toMatchObject({ sensitivity: 'MORE_SENSITIVE', message: 'You are more sensitive to energy than most climbers' });
    expect(compare({ energyLevel: -0.05 }, 'energyLevel').sensitivity).toBe('OPPOSITE');
  });

  it('covers the 9 features, and is empty in COLD_START or without a population fit', () => {
    const all = buildStatisticalContext(input({ model: model('PERSONALIZED'), population: pop })).coefficientComparisons;
    expect(all.map((c) => c.variable)).toEqual(MODEL_TERMS.slice(1).map((t) => t.name));
    expect(all.every((c) => c.sensitivity === 'SIMILAR')).toBe(true);
    expect(buildStatisticalContext(input({ model: model('COLD_START'), population: pop })).coefficientComparisons).toEqual([]);
    expect(buildStatisticalContext(input({ model: model('LEARNING'), population: null })).coefficientComparisons).toEqual([]);
  });
});

describe('insights and the whole context', () => {
  // 5 sessions after < 6 h averaging 4.8, 10 after 7+ h averaging 6.9.
  const rows = [
    ...[5, 5, 5, 4, 5].map((q) => ({ q, c: { sleepHours: 5, stressLevel: 8, energyLevel: 4 } as CheckIn })),
    ...[7, 7, 7, 7, 7, 7, 7, 6, 7, 7].map((q) => ({ q, c: { sleepHours: 8, stressLevel: 3, energyLevel: 7 } as CheckIn })),
  ];

  it('writes the sleep comparison sentence and 2-5 insights', () => {
    const ctx = buildStatisticalContext(
      input({
        checkIn: { sleepHours: 5, stressLevel: 8, energyLevel: 4 },
        model: model('LEARNING', { stressLevel: -0.4 }),
        population: { mu: MU },
        populationStats: [stat('sleepHours', 7.2, 1)],
        history: history(rows),
      }),
    );
    expect(ctx.insights[0]).toBe('Your sessions after < 6 h sleep average 4.8 vs 6.9 after 7+ h.');
    expect(ctx.insights).toContain('With stress at 7+ your sessions average 4.8 vs 6.9 when calmer.');
    expect(ctx.insights).toContain('You are more sensitive to stress than most climbers.');
    expect(ctx.insights.length).toBeGreaterThanOrEqual(2);
    expect(ctx.insights.length).toBeLessThanOrEqual(5);
  });

  it('always has at least two insights, even with nothing to go on', () => {
    const ctx = buildStatisticalContext(input({}));
    expect(ctx.insights.length).toBeGreaterThanOrEqual(2);
    expect(ctx.insights.length).toBeLessThanOrEqual(5);
  });

  it('is JSON-serialisable for 30 sessions (its speed is a row of npm run bench)', () => {
    const thirty = history(
      Array.from({ length: 30 }, (_, i) => ({
        q: 3 + (i % 7),
        c: { sleepHours: 5 + (i % 4), energyLevel: 1 + (i % 10), stressLevel: 1 + ((i * 3) % 10), caffeineMg: (i % 5) * 75, daysSinceHardSession: i % 6 },
      })),
    );
    const args = input({
      checkIn: { sleepHours: 6, energyLevel: 5, stressLevel: 6, caffeineMg: 100, warmupMin: 10 },
      model: model('PERSONALIZED', { energyLevel: 0.35 }),
      population: { mu: MU },
      populationStats: [stat('sleepHours', 7, 1), stat('energyLevel', 6, 2), stat('caffeineMg', 120, 90)],
      history: thirty,
    });
    const ctx = buildStatisticalContext(args);
    expect(JSON.parse(JSON.stringify(ctx))).toEqual(ctx);
    expect(ctx.similarSessions).toHaveLength(3);
  });
});

describe('the statistics read each variable of the check-in at its own index', () => {
  it('compares a variable given alone with its own population statistic', () => {
    const numeric = CHECK_IN_VARIABLES.filter((spec) => spec.statistic);
    const populationStats = numeric.map((spec, k) => stat(spec.name, k, 1));
    for (const spec of numeric) {
      const value = (spec.min ?? 0) + 1;
      const [only, ...rest] = buildStatisticalContext(input({ checkIn: { [spec.name]: value }, populationStats })).populationComparison;
      expect(rest).toEqual([]);
      expect(only).toMatchObject({ variable: spec.name, value, populationMean: numeric.indexOf(spec) });
    }
  });

  it("finds the past session that shares the feature given, by that feature's value", () => {
    for (let j = 1; j < P; j++) {
      const name = MODEL_TERMS[j].name;
      const neighbour = MODEL_TERMS[j === 1 ? 2 : j - 1].name;
      // s0 holds the feature at today's value, s1 another feature only: only s0 shares a feature with today.
      const rows = [
        { q: 4, c: { [name]: 3 } },
        { q: 9, c: { [neighbour]: 3 } },
      ];
      const similar = buildStatisticalContext(input({ checkIn: { [name]: 3 }, history: history(rows) })).similarSessions;
      expect(similar).toEqual([expect.objectContaining({ sessionId: 's0', similarity: 1, sharedFeatures: 1, sessionQuality: 4 })]);
    }
  });
});
