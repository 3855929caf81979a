import { describe, expect, it } from 'vitest';
import { keepMemo, memoised, memoOf, memoSlot } from '../../src/engine/memo.ts';
import { buildStatisticalContext } from '../../src/engine/statistics.ts';
import type { PastSession, UserModel } from '../../src/engine/types.ts';
import { checkInValues, DEFAULT_SIGMA2, MODEL_TERMS, P } from '../../src/engine/variables.ts';

describe('memo slots', () => {
  it('computes once per object, and each object keeps its own', () => {
    const slot = memoSlot<{ n: number }>('test');
    let calls = 0;
    const make = (key: { v: number }) => {
      calls++;
      return { n: key.v * 2 };
    };
    const a = { v: 1 };
    const b = { v: 1 };
    const first = memoised(a, slot, make);
    expect(memoised(a, slot, make)).toBe(first);
    expect(memoised(b, slot, make)).not.toBe(first);
    expect(memoised(b, slot, make)).toEqual(first);
    expect(calls).toBe(2);
    expect(memoOf({ v: 1 }, slot)).toBeUndefined();
    expect(keepMemo(a, slot, { n: 7 })).toEqual({ n: 7 });
    expect(memoOf(a, slot)).toEqual({ n: 7 });
  });

  it('is invisible to JSON, keys, spreads and structured clones of the object it is kept on', () => {
    const slot = memoSlot<number[]>('test');
    const history = [{ id: 's1', q: 5 }];
    const model = { mean: [1, 2], phase: 'LEARNING' };
    memoised(history, slot, () => [1]);
    memoised(model, slot, () => [2]);
    expect(JSON.stringify(history)).toBe('[{"id":"s1","q":5}]');
    expect(JSON.stringify(model)).toBe('{"mean":[1,2],"phase":"LEARNING"}');
    expect(Object.keys(model)).toEqual(['mean', 'phase']);
    expect(Reflect.ownKeys({ ...model })).toEqual(['mean', 'phase']);
    expect(Reflect.ownKeys(structuredClone(model))).toEqual(['mean', 'phase']);
    expect(memoOf({ ...model }, slot)).toBeUndefined();
  });
});

describe('the statistics computed once per version of what they read', () => {
  const mean = MODEL_TERMS.map((t) => t.priorMean + 0.05);
  const covariance = new Array<number>(P * P).fill(0);
  for (let j = 0; j < P; j++) covariance[j * P + j] = 0.0025;
  const model = (): UserModel => ({ phase: 'PERSONALIZED', mean: [...mean], covariance, sigma2: DEFAULT_SIGMA2, sessionsIncluded: 20, shrinkageFactor: 0.6 });
  const history = (): PastSession[] => [5, 7, 6].map((q, i) => ({ id: `s${i}`, startedAt: new Date(Date.UTC(2025, 0, 1 + i)), sessionQuality: q, checkIn: { sleepHours: 6 + i } })).reverse();
  const context = (h: PastSession[], m: UserModel, mu: number[]) =>
    buildStatisticalContext({ values: checkInValues({ sleepHours: 7 }), model: m, population: { mu }, populationStats: [], history: h, terms: MODEL_TERMS });
  const MU = MODEL_TERMS.map((t) => t.priorMean);

  it('shares the summary and comparisons between check-ins of one history and model, and recomputes them for a new version', () => {
    const h = history();
    const m = model();
    const first = context(h, m, MU);
    const again = context(h, m, MU);
    expect(again.personalHistory).toBe(first.personalHistory);
    expect(again.coefficientComparisons).toBe(first.coefficientComparisons);

    const newHistory = context(history(), m, MU);
    expect(newHistory.personalHistory).not.toBe(first.personalHistory);
    expect(newHistory.personalHistory).toEqual(first.personalHistory);

    const newModel = context(h, model(), MU);
    expect(newModel.coefficientComparisons).not.toBe(first.coefficientComparisons);
    expect(newModel.coefficientComparisons).toEqual(first.coefficientComparisons);

    // A new population mean with the same model: the comparisons follow it, and the insights' sentences with them.
    const shifted = context(
      h,
      m,
      MU.map((v) => v - 0.2),
    );
    expect(shifted.coefficientComparisons).not.toEqual(first.coefficientComparisons);
    expect(context(h, m, MU).insights).toEqual(first.insights);
  });

  it('leaves the history and model it read as they were', () => {
    const h = history();
    const m = model();
    const before = JSON.stringify([h, m]);
    context(h, m, MU);
    expect(JSON.stringify([h, m])).toBe(before);
    expect(Object.keys(m)).toEqual(Object.keys(model()));
  });
});
