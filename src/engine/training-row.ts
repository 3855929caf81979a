// A session as training data (domain.md section 6): completed and rated; when the athlete deviated from
// the plan, what was actually done replaces what was planned. A legitimate 0 is a value; a missing
// feature stays missing (it contributes 0 after centring).
import { CHECK_IN_VARIABLES, type CheckIn } from './variables.ts';

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

const capitalised = (name: string) => name[0].toUpperCase() + name.slice(1);

/** The model's features (the registry's); an actionable one is planned, and a session also records what was done. */
const FEATURE_SPECS = CHECK_IN_VARIABLES.filter((spec) => spec.feature);
const planned = (name: string) => `planned${capitalised(name)}`;
const actual = (name: string) => `actual${capitalised(name)}`;

/** Every session column a training row reads besides status, quality and deviatedFromPlan, from the registry. */
export const FEATURE_COLUMNS: readonly string[] = FEATURE_SPECS.flatMap((spec) => (spec.actionable ? [spec.name, planned(spec.name), actual(spec.name)] : [spec.name]));

/** FEATURE_COLUMNS as a SELECT list over climbing_sessions (quoted, optionally qualified by a table alias). */
export const featureColumnsSql = (alias?: string): string => FEATURE_COLUMNS.map((c) => (alias ? `${alias}."${c}"` : `"${c}"`)).join(', ');

/** effectiveCheckIn of one feature as SQL over climbing_sessions' columns (what the database aggregates). */
export function effectiveFeatureSql(name: string): string {
  const spec = FEATURE_SPECS.find((f) => f.name === name);
  if (!spec) throw new Error(`${name} is not a model feature`);
  if (!spec.actionable) return `"${name}"`;
  return `CASE WHEN "deviatedFromPlan" THEN coalesce("${actual(name)}", "${name}", "${planned(name)}") ELSE coalesce("${name}", "${planned(name)}") END`;
}

export const isRated = (s: Pick<SessionFeatures, 'status' | 'sessionQuality'>): boolean => s.status === 'COMPLETED' && s.sessionQuality !== null;

/** The training row of a session, or null when it is not training data. */
export function trainingRow(s: SessionFeatures): { values: CheckIn; quality: number } | null {
  if (!isRated(s)) return null;
  return { values: effectiveCheckIn(s), quality: s.sessionQuality as number };
}
