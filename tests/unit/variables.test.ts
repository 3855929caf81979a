import { describe, expect, it } from 'vitest';
import { CHECK_IN_VARIABLES, checkInColumns, designRow, validateCheckIn, VariableRangeError } from '../../src/engine/variables.ts';

describe('variable registry', () => {
  it('maps a check-in to one column per scalar variable: null when missing, 0 and false kept', () => {
    const cols = checkInColumns({ sleepHours: 0, alcoholLast24h: false, plannedSessionType: 'VOLUME', currentNiggles: [{ location: 'A2', severity: 3 }] });
    expect(Object.keys(cols).sort()).toEqual(CHECK_IN_VARIABLES.filter((v) => v.kind !== 'niggles').map((v) => v.name).sort());
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
    expect(() => validateCheckIn({ sorenessLevel: 11 })).toThrow(new VariableRangeError('sorenessLevel', 'sorenessLevel must be between 1 and 10 (got 11)'));
    expect(() => validateCheckIn({ currentNiggles: [{ location: 'knee', severity: 0 }] })).toThrow(/currentNiggles\[0\]\.severity/);
  });
});
