import { describe, expect, it } from 'vitest';
import { STATISTIC_VARIABLES } from '../../src/engine/population-stats.ts';

// The summaries themselves are aggregated by the database; tests/integration/learning-nightly.test.ts checks them.
describe('STATISTIC_VARIABLES', () => {
  it('covers the numeric check-in variables and sessionQuality but not booleans or enums', () => {
    expect(STATISTIC_VARIABLES).toContain('sessionQuality');
    expect(STATISTIC_VARIABLES).toContain('caffeineMg');
    expect(STATISTIC_VARIABLES).not.toContain('alcoholLast24h');
    expect(STATISTIC_VARIABLES).not.toContain('plannedSessionType');
  });
});
