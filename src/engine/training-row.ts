// A session as training data (domain.md section 6): completed and rated; when the athlete deviated from
// the plan, what was actually done replaces what was planned. A legitimate 0 is a value; a missing
// feature stays missing (it contributes 0 after centring).
import type { CheckIn } from './variables.ts';

export interface SessionFeatures {
  status: string;
  sessionQuality: number | null;
  deviatedFromPlan: boolean;
  sleepHours: number | null;
  sleepQuality: number | null;
  energyLevel: number | null;
  stressLevel: number | null;
  motivationLevel: number | null;
  sorenessLevel: number | null;
  daysSinceHardSession: number | null;
  caffeineMg: number | null;
  warmupMin: number | null;
  plannedCaffeineMg: number | null;
  plannedWarmupMin: number | null;
  actualCaffeineMg: number | null;
  actualWarmupMin: number | null;
}

const pick = (...values: (number | null | undefined)[]): number | null => {
  for (const v of values) if (v !== null && v !== undefined) return v;
  return null;
};

/** The check-in values the session was actually climbed with. */
export function effectiveCheckIn(s: SessionFeatures): CheckIn {
  const deviated = s.deviatedFromPlan;
  return {
    sleepHours: s.sleepHours,
    sleepQuality: s.sleepQuality,
    energyLevel: s.energyLevel,
    stressLevel: s.stressLevel,
    motivationLevel: s.motivationLevel,
    sorenessLevel: s.sorenessLevel,
    daysSinceHardSession: s.daysSinceHardSession,
    caffeineMg: deviated ? pick(s.actualCaffeineMg, s.caffeineMg, s.plannedCaffeineMg) : pick(s.caffeineMg, s.plannedCaffeineMg),
    warmupMin: deviated ? pick(s.actualWarmupMin, s.warmupMin, s.plannedWarmupMin) : pick(s.warmupMin, s.plannedWarmupMin),
  };
}

export const isRated = (s: Pick<SessionFeatures, 'status' | 'sessionQuality'>): boolean => s.status === 'COMPLETED' && s.sessionQuality !== null;

/** The training row of a session, or null when it is not training data. */
export function trainingRow(s: SessionFeatures): { values: CheckIn; quality: number } | null {
  if (!isRated(s)) return null;
  return { values: effectiveCheckIn(s), quality: s.sessionQuality as number };
}
