// The condition grammar of expert rules (domain.md section 4): which fields a condition may read, what each
// holds, which operators apply to it, and the error every later stage reports with.
import { DISCIPLINES, RULE_CATEGORIES, SEXES } from '../enums.ts';
import type { ComparisonOp } from '../types.ts';
import { BASELINE_NUMERIC_FIELDS, CHECK_IN_VARIABLES, INTENSITIES, SESSION_TYPES, TIMES_OF_DAY, type VariableSpec } from '../variables.ts';

export { RULE_CATEGORIES };

export const COMPARISON_OPS: readonly ComparisonOp[] = ['>=', '<=', '>', '<', '==', '!=', 'in', 'contains', 'containsLocation'];

/** What a rule field holds, as far as the condition grammar cares. */
export type FieldKind =
  | { type: 'number'; min?: number; max?: number }
  | { type: 'boolean' }
  | { type: 'enum'; values: readonly string[] }
  | { type: 'string' }
  | { type: 'niggles' }
  | { type: 'json' };

export const NUMERIC_OPS: readonly ComparisonOp[] = ['>=', '<=', '>', '<'];
export const OPS_BY_KIND: Record<FieldKind['type'], readonly ComparisonOp[]> = {
  number: ['>=', '<=', '>', '<', '==', '!=', 'in'],
  boolean: ['==', '!='],
  enum: ['==', '!=', 'in'],
  string: ['==', '!=', 'in', 'contains'],
  niggles: ['containsLocation'],
  json: ['contains'],
};

/** A registry variable's kind: rules accept exactly the range the API accepts. */
function kindOfVariable(spec: VariableSpec): FieldKind {
  switch (spec.kind) {
    case 'int':
    case 'float':
      return { type: 'number', min: spec.min, max: spec.max };
    case 'boolean':
      return { type: 'boolean' };
    case 'sessionType':
      return { type: 'enum', values: SESSION_TYPES };
    case 'intensity':
      return { type: 'enum', values: INTENSITIES };
    case 'timeOfDay':
      return { type: 'enum', values: TIMES_OF_DAY };
    case 'niggles':
      return { type: 'niggles' };
  }
}

/** The baseline assessment's columns that are not numbers on a range (those come from BASELINE_NUMERIC_FIELDS). */
const BASELINE_OTHER_KINDS: Readonly<Record<string, FieldKind>> = {
  sex: { type: 'enum', values: SEXES },
  currentBoulderGrade: { type: 'string' },
  peakBoulderGrade: { type: 'string' },
  currentRouteGrade: { type: 'string' },
  peakRouteGrade: { type: 'string' },
  primaryDiscipline: { type: 'enum', values: DISCIPLINES },
  injuryHistory: { type: 'json' },
  hasCoach: { type: 'boolean' },
  hasHangboard: { type: 'boolean' },
  hasHomeWall: { type: 'boolean' },
  gymAccess: { type: 'boolean' },
};

const BASELINE_KINDS: ReadonlyMap<string, FieldKind> = new Map<string, FieldKind>([
  ...BASELINE_NUMERIC_FIELDS.map((spec): [string, FieldKind] => [spec.name, kindOfVariable(spec)]),
  ...Object.entries(BASELINE_OTHER_KINDS),
]);

/** Baseline assessment fields a rule may read as `baseline.<field>` (the BaselineAssessment columns). */
export const BASELINE_RULE_FIELDS: readonly string[] = [...BASELINE_KINDS.keys()];

export const BASELINE_PREFIX = 'baseline.';

export const FIELD_KINDS: ReadonlyMap<string, FieldKind> = new Map<string, FieldKind>([
  ...CHECK_IN_VARIABLES.map((spec): [string, FieldKind] => [spec.name, kindOfVariable(spec)]),
  ...[...BASELINE_KINDS].map(([name, kind]): [string, FieldKind] => [BASELINE_PREFIX + name, kind]),
]);

export function describeKind(kind: FieldKind): string {
  switch (kind.type) {
    case 'number':
      return kind.min !== undefined && kind.max !== undefined ? `a number ${kind.min}-${kind.max}` : 'a number';
    case 'boolean':
      return 'true or false';
    case 'enum':
      return `one of ${kind.values.join(', ')}`;
    case 'string':
      return 'a string';
    case 'niggles':
      return 'a list of niggles';
    case 'json':
      return 'JSON';
  }
}

export const quote = (s: string): string => JSON.stringify(s);

/** A rule definition breaks the grammar; `path` names the bad part (e.g. `conditions.all[1].op`). */
export class RuleValidationError extends Error {
  override name = 'RuleValidationError';
  readonly code = 'INVALID_RULE';
  constructor(
    readonly path: string,
    readonly detail: string,
  ) {
    super(`${path}: ${detail}`);
  }
}

export function fail(path: string, detail: string): never {
  throw new RuleValidationError(path, detail);
}
