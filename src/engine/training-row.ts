// A session as training data (domain.md section 6): completed and rated; when the athlete deviated from
// the plan, what was actually done replaces what was planned. A legitimate 0 is a value; a missing
// feature stays missing (it contributes 0 after centring).
import { FEATURES, type ActionableFeatureName, type CheckIn, type FeatureName } from './variables.ts';

/** The session columns of an actionable feature's plan and of what was actually done. */
type PlanColumn = `planned${Capitalize<ActionableFeatureName>}` | `actual${Capitalize<ActionableFeatureName>}`;
export type FeatureColumn = FeatureName | PlanColumn;

const capitalize = (name: string): string => name[0].toUpperCase() + name.slice(1);
const plannedColumn = (name: ActionableFeatureName) => `planned${capitalize(name)}` as PlanColumn;
const actualColumn = (name: ActionableFeatureName) => `actual${capitalize(name)}` as PlanColumn;

/** Every session column a training row reads besides status and quality, derived from the variable registry. */
export const FEATURE_COLUMNS: readonly FeatureColumn[] = FEATURES.flatMap((spec): FeatureColumn[] =>
  spec.actionable ? [spec.name, plannedColumn(spec.name as ActionableFeatureName), actualColumn(spec.name as ActionableFeatureName)] : [spec.name],
);

export type SessionFeatures = {
  status: string;
  sessionQuality: number | null;
  deviatedFromPlan: boolean;
} & { [K in FeatureColumn]: number | null };

const pick = (...values: (number | null | undefined)[]): number | null => {
  for (const v of values) if (v !== null && v !== undefined) return v;
  return null;
};

/** The check-in values the session was actually climbed with. */
export function effectiveCheckIn(s: SessionFeatures): CheckIn {
  const out: CheckIn = {};
  for (const spec of FEATURES) {
    const name = spec.name;
    if (!spec.actionable) {
      out[name] = s[name];
      continue;
    }
    const actionable = name as ActionableFeatureName;
    const planned = s[plannedColumn(actionable)];
    out[name] = s.deviatedFromPlan ? pick(s[actualColumn(actionable)], s[name], planned) : pick(s[name], planned);
  }
  return out;
}

/** FEATURE_COLUMNS as a SELECT list over climbing_sessions (quoted, optionally qualified by a table alias). */
export const featureColumnsSql = (alias?: string): string => FEATURE_COLUMNS.map((c) => (alias ? `${alias}."${c}"` : `"${c}"`)).join(', ');

/** effectiveCheckIn of one feature as SQL over climbing_sessions' columns (what the database aggregates). */
export function effectiveFeatureSql(name: string): string {
  const spec = FEATURES.find((f) => f.name === name);
  if (!spec) throw new Error(`${name} is not a model feature`);
  if (!spec.actionable) return `"${name}"`;
  const actionable = name as ActionableFeatureName;
  return `CASE WHEN "deviatedFromPlan" THEN coalesce("${actualColumn(actionable)}", "${name}", "${plannedColumn(actionable)}") ELSE coalesce("${name}", "${plannedColumn(actionable)}") END`;
}

export const isRated = (s: Pick<SessionFeatures, 'status' | 'sessionQuality'>): boolean => s.status === 'COMPLETED' && s.sessionQuality !== null;

/** The training row of a session, or null when it is not training data. */
export function trainingRow(s: SessionFeatures): { values: CheckIn; quality: number } | null {
  if (!isRated(s)) return null;
  return { values: effectiveCheckIn(s), quality: s.sessionQuality as number };
}
