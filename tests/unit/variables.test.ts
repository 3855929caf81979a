import { describe, expect, it } from 'vitest';
import { effectiveCheckIn, FEATURE_COLUMNS, type SessionFeatures } from '../../src/engine/training-row.ts';
import {
  CHECK_IN_VARIABLES,
  checkInColumns,
  checkInIndex,
  checkInValues,
  designRow,
  FEATURES,
  MODEL_TERMS,
  TERM_NAMES,
  TERM_VARIABLE_INDEX,
  validateVariable,
  VariableRangeError,
} from '../../src/engine/variables.ts';

const spec = (name: string) => CHECK_IN_VARIABLES.find((v) => v.name === name)!;

describe('variable registry', () => {
  it('maps a check-in to one column per scalar variable: null when missing, 0 and false kept', () => {
    const cols = checkInColumns({ sleepHours: 0, alcoholLast24h: false, plannedSessionType: 'VOLUME', currentNiggles: [{ location: 'A2', severity: 3 }] });
    expect(Object.keys(cols).sort()).toEqual(
      CHECK_IN_VARIABLES.filter((v) => v.kind !== 'niggles')
        .map((v) => v.name)
        .sort(),
    );
    expect(cols).toMatchObject({ sleepHours: 0, alcoholLast24h: false, plannedSessionType: 'VOLUME', energyLevel: null });
    expect('currentNiggles' in cols).toBe(false);
  });

  it('centres features at their reference values; a missing feature contributes 0, a real 0 does not', () => {
    const x = designRow({ sleepHours: 5, caffeineMg: 0 });
    expect(x[0]).toBe(1); // intercept
    expect(x[1]).toBe(-2); // sleepHours - 7
    expect(x[8]).toBe(0); // caffeineMg 0 - reference 0
    expect(x[9]).toBe(0); // warmupMin missing -> at its reference
    expect(designRow({ warmupMin: 0 })[9]).toBe(-15);
  });

  it('rejects out-of-range values naming the field and the range, never clamping', () => {
    expect(() => validateVariable(spec('sorenessLevel'), 11)).toThrow(new VariableRangeError('sorenessLevel', 'sorenessLevel must be between 1 and 10 (got 11)'));
    expect(() => validateVariable(spec('currentNiggles'), [{ location: 'knee', severity: 0 }])).toThrow(/currentNiggles\[0\]\.severity/);
  });

  it('lists the model features once: the terms, the training columns and the sentences all follow the registry', () => {
    const features = CHECK_IN_VARIABLES.filter((v) => v.feature).map((v) => v.name);
    expect(features).toHaveLength(9);
    expect(TERM_NAMES).toEqual(['intercept', ...features]);
    expect(FEATURES.every((f) => f.noun && f.typicalDifference! > 0)).toBe(true);
    expect(FEATURE_COLUMNS).toEqual([...features.slice(0, 7), 'caffeineMg', 'plannedCaffeineMg', 'actualCaffeineMg', 'warmupMin', 'plannedWarmupMin', 'actualWarmupMin']);
  });

  it('a training row takes what was actually done when the athlete deviated from the plan, else the check-in, else the plan', () => {
    const columns = Object.fromEntries(FEATURE_COLUMNS.map((c) => [c, null])) as Omit<SessionFeatures, 'status' | 'sessionQuality' | 'deviatedFromPlan'>;
    const session: SessionFeatures = {
      ...columns,
      status: 'COMPLETED',
      sessionQuality: 7,
      deviatedFromPlan: false,
      sleepHours: 6.5,
      plannedCaffeineMg: 100,
      actualCaffeineMg: 300,
      warmupMin: 20,
      actualWarmupMin: 5,
    };
    expect(effectiveCheckIn(session)).toMatchObject({ sleepHours: 6.5, caffeineMg: 100, warmupMin: 20, energyLevel: null });
    expect(effectiveCheckIn({ ...session, deviatedFromPlan: true })).toMatchObject({ sleepHours: 6.5, caffeineMg: 300, warmupMin: 5 });
  });
});

describe("a check-in's values by the registry's index (checkInValues)", () => {
  it('puts each variable given at its own index in the registry, and nothing at any other', () => {
    CHECK_IN_VARIABLES.forEach((spec, i) => {
      const values = checkInValues({ [spec.name]: `the value of ${spec.name}` });
      expect(values).toHaveLength(CHECK_IN_VARIABLES.length);
      expect(values.findIndex((v) => v !== undefined)).toBe(i);
      expect(values[i]).toBe(`the value of ${spec.name}`);
      expect(checkInIndex(spec.name)).toBe(i);
    });
  });

  it('keeps a field given as null, skips a key that is no variable, and clears a reused array first', () => {
    const all = Object.fromEntries(CHECK_IN_VARIABLES.map((spec, i) => [spec.name, i]));
    const values = checkInValues({ ...all, sleepHours: null, notAVariable: 'x' });
    expect(values).toEqual(CHECK_IN_VARIABLES.map((spec, i) => (spec.name === 'sleepHours' ? null : i)));
    expect(checkInValues({ energyLevel: 5 }, values)).toEqual(CHECK_IN_VARIABLES.map((spec) => (spec.name === 'energyLevel' ? 5 : undefined)));
  });

  it("reads each model term's own variable into the design row", () => {
    for (let j = 1; j < TERM_NAMES.length; j++) {
      const term = MODEL_TERMS[j];
      const row = designRow({ [term.name]: term.reference + 1 });
      expect(Array.from(row)).toEqual(TERM_NAMES.map((_, k) => (k === 0 || k === j ? 1 : 0)));
      expect(TERM_VARIABLE_INDEX[j]).toBe(checkInIndex(term.name));
    }
  });
});
