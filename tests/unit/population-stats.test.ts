import { describe, expect, it } from 'vitest';
import { PopulationStatsAccumulator, STATISTIC_VARIABLES } from '../../src/engine/population-stats.ts';

describe('PopulationStatsAccumulator', () => {
  it('summarises each numeric statistic variable in one pass (sample sd, min, max, n)', () => {
    const acc = new PopulationStatsAccumulator();
    for (const [sleepHours, sessionQuality] of [[6, 4], [7, 6], [8, 8], [9, null]]) acc.add({ sleepHours, sessionQuality, plannedSessionType: 'VOLUME' });
    const byName = new Map(acc.result().map((s) => [s.variable, s]));
    expect(byName.get('sleepHours')).toEqual({ variable: 'sleepHours', mean: 7.5, std: expect.closeTo(Math.sqrt(5 / 3), 12), min: 6, max: 9, n: 4 });
    expect(byName.get('sessionQuality')).toEqual({ variable: 'sessionQuality', mean: 6, std: 2, min: 4, max: 8, n: 3 });
    expect(byName.has('energyLevel')).toBe(false); // never observed: no row
  });

  it('covers the numeric check-in variables and sessionQuality but not booleans or enums', () => {
    expect(STATISTIC_VARIABLES).toContain('sessionQuality');
    expect(STATISTIC_VARIABLES).toContain('caffeineMg');
    expect(STATISTIC_VARIABLES).not.toContain('alcoholLast24h');
    expect(STATISTIC_VARIABLES).not.toContain('plannedSessionType');
  });
});
