import { describe, expect, it } from 'vitest';
import { TRAINING_SELECT } from '../../src/db/session-hook.ts';
import { effectiveFeatureSql, FEATURE_COLUMNS } from '../../src/engine/training-row.ts';

describe('training rows in SQL, from the variable registry', () => {
  it('reads every feature column, and the plan and what was done of the actionable features', () => {
    expect([...FEATURE_COLUMNS].sort()).toEqual(
      [
        'sleepHours',
        'sleepQuality',
        'energyLevel',
        'stressLevel',
        'motivationLevel',
        'sorenessLevel',
        'daysSinceHardSession',
        'caffeineMg',
        'plannedCaffeineMg',
        'actualCaffeineMg',
        'warmupMin',
        'plannedWarmupMin',
        'actualWarmupMin',
      ].sort(),
    );
    // The session hook reads the same columns for the quick update.
    const hookFeatures = Object.keys(TRAINING_SELECT).filter((k) => !['id', 'userId', 'status', 'sessionQuality', 'deviatedFromPlan', 'updatedAt'].includes(k));
    expect([...FEATURE_COLUMNS].sort()).toEqual(hookFeatures.sort());
  });

  it('takes what was actually done when the session deviated from the plan, else the check-in, else the plan', () => {
    expect(effectiveFeatureSql('sleepHours')).toBe('"sleepHours"');
    expect(effectiveFeatureSql('caffeineMg')).toBe(
      'CASE WHEN "deviatedFromPlan" THEN coalesce("actualCaffeineMg", "caffeineMg", "plannedCaffeineMg") ELSE coalesce("caffeineMg", "plannedCaffeineMg") END',
    );
    expect(() => effectiveFeatureSql('hydrationStatus')).toThrow(/not a model feature/);
  });
});
