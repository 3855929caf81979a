// The expert-rule engine (domain.md section 4): validation of the JSON condition grammar, compilation of
// conditions into closures once per rule set, and evaluation of a check-in against the compiled set.
// Pure: no Prisma, no GraphQL.
import {
  CHECK_IN_VARIABLES,
  INTENSITIES,
  SESSION_TYPES,
  SESSION_TYPE_RANK,
  TIMES_OF_DAY,
  type Niggle,
  type SessionType,
  type VariableSpec,
} from './variables.ts';
import type {
  ComparisonOp,
  Condition,
  ConditionLeaf,
  Constraints,
  Rule,
  RuleAction,
  RuleCategory,
  RuleContext,
  RuleEvaluation,
  RuleOverride,
  RuleWarning,
} from './types.ts';

// ---------------------------------------------------------------------------------------------- fields

export const RULE_CATEGORIES: readonly RuleCategory[] = ['SAFETY', 'INTERACTION', 'CONSERVATIVE', 'PERFORMANCE', 'EDGE_CASE'];

export const COMPARISON_OPS: readonly ComparisonOp[] = ['>=', '<=', '>', '<', '==', '!=', 'in', 'contains', 'containsLocation'];

/** Baseline assessment fields a rule may read as `baseline.<field>` (the BaselineAssessment columns). */
export const BASELINE_RULE_FIELDS = [
  'age',
  'sex',
  'heightCm',
  'weightKg',
  'armSpanCm',
  'yearsClimbing',
  'currentBoulderGrade',
  'peakBoulderGrade',
  'currentRouteGrade',
  'peakRouteGrade',
  'primaryDiscipline',
  'sessionsPerWeek',
  'maxHangWeightKg',
  'maxHangEdgeMm',
  'maxPullups',
  'fearOfFalling',
  'performanceAnxiety',
  'competitionOrientation',
  'processVsOutcome',
  'typicalRecoveryDays',
  'sleepQualityTypical',
  'injuryHistory',
  'hasCoach',
  'hasHangboard',
  'hasHomeWall',
  'gymAccess',
] as const;
export type BaselineRuleField = (typeof BASELINE_RULE_FIELDS)[number];

// Mirrors the Prisma enums Sex and Discipline (the engine does not import the generated client).
const SEXES = ['MALE', 'FEMALE', 'OTHER', 'UNDISCLOSED'] as const;
const DISCIPLINES = ['BOULDER', 'SPORT', 'TRAD', 'MIXED'] as const;

/** What a rule field holds, as far as the condition grammar cares. */
type FieldKind =
  | { type: 'number'; label: string; min?: number; max?: number }
  | { type: 'boolean' }
  | { type: 'enum'; values: readonly string[] }
  | { type: 'string' }
  | { type: 'niggles' }
  | { type: 'json' };

const NUMERIC_OPS: readonly ComparisonOp[] = ['>=', '<=', '>', '<'];
const OPS_BY_KIND: Record<FieldKind['type'], readonly ComparisonOp[]> = {
  number: ['>=', '<=', '>', '<', '==', '!=', 'in'],
  boolean: ['==', '!='],
  enum: ['==', '!=', 'in'],
  string: ['==', '!=', 'in', 'contains'],
  niggles: ['containsLocation'],
  json: ['contains'],
};

function kindOfCheckInVariable(spec: VariableSpec): FieldKind {
  switch (spec.kind) {
    case 'int':
      return { type: 'number', label: 'a whole number', min: spec.min, max: spec.max };
    case 'float':
      return { type: 'number', label: 'a number', min: spec.min, max: spec.max };
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

const scale10: FieldKind = { type: 'number', label: 'a whole number', min: 1, max: 10 };
const wholeNonNegative: FieldKind = { type: 'number', label: 'a whole number', min: 0 };
const nonNegative: FieldKind = { type: 'number', label: 'a number', min: 0 };

const BASELINE_KINDS: Record<BaselineRuleField, FieldKind> = {
  age: wholeNonNegative,
  sex: { type: 'enum', values: SEXES },
  heightCm: nonNegative,
  weightKg: nonNegative,
  armSpanCm: nonNegative,
  yearsClimbing: nonNegative,
  currentBoulderGrade: { type: 'string' },
  peakBoulderGrade: { type: 'string' },
  currentRouteGrade: { type: 'string' },
  peakRouteGrade: { type: 'string' },
  primaryDiscipline: { type: 'enum', values: DISCIPLINES },
  sessionsPerWeek: nonNegative,
  maxHangWeightKg: { type: 'number', label: 'a number' },
  maxHangEdgeMm: wholeNonNegative,
  maxPullups: wholeNonNegative,
  fearOfFalling: scale10,
  performanceAnxiety: scale10,
  competitionOrientation: scale10,
  processVsOutcome: scale10,
  typicalRecoveryDays: wholeNonNegative,
  sleepQualityTypical: scale10,
  injuryHistory: { type: 'json' },
  hasCoach: { type: 'boolean' },
  hasHangboard: { type: 'boolean' },
  hasHomeWall: { type: 'boolean' },
  gymAccess: { type: 'boolean' },
};

const BASELINE_PREFIX = 'baseline.';

const FIELD_KINDS: ReadonlyMap<string, FieldKind> = new Map<string, FieldKind>([
  ...CHECK_IN_VARIABLES.map((spec): [string, FieldKind] => [spec.name, kindOfCheckInVariable(spec)]),
  ...BASELINE_RULE_FIELDS.map((f): [string, FieldKind] => [BASELINE_PREFIX + f, BASELINE_KINDS[f]]),
]);

/** Every field name a condition may use: the check-in variables, then `baseline.<field>`. */
export const RULE_FIELD_NAMES: readonly string[] = [...FIELD_KINDS.keys()];

// ---------------------------------------------------------------------------------------------- errors

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

function fail(path: string, detail: string): never {
  throw new RuleValidationError(path, detail);
}

// ---------------------------------------------------------------------------------------------- validation

/** A rule as written by an admin or read from the database / seed file: everything still unchecked. */
export interface RuleDefinitionInput {
  name: unknown;
  description: unknown;
  category: unknown;
  priority: unknown;
  conditions: unknown;
  actions: unknown;
  source?: unknown;
  evidence?: unknown;
  confidence?: unknown;
  isActive?: unknown;
  expiresAt?: unknown;
  supersededById?: unknown;
}

const SNAKE_CASE = /^[a-z][a-z0-9]*(?:_[a-z0-9]+)*$/;
const MAX_CONDITION_DEPTH = 16;
export const MIN_PREDICTION_MULTIPLIER = 0.5;
export const MAX_PREDICTION_MULTIPLIER = 1.5;

const isPlainObject = (x: unknown): x is Record<string, unknown> =>
  typeof x === 'object' && x !== null && !Array.isArray(x);

const quote = (s: string): string => JSON.stringify(s);

/**
 * Validates a rule definition against the grammar of domain.md section 4 and returns a clean Rule
 * (only known keys, copied). Throws RuleValidationError at the first bad part.
 */
export function validateRuleDefinition(input: RuleDefinitionInput): Rule {
  if (!isPlainObject(input)) fail('rule', 'must be an object');

  const name = input.name;
  if (typeof name !== 'string' || name.length === 0) fail('name', 'is required: a non-empty snake_case string');
  if (!SNAKE_CASE.test(name as string) || (name as string).length > 100) {
    fail('name', `must be snake_case (lowercase letters, digits, single underscores; at most 100 characters), got ${quote(String(name))}`);
  }

  const description = input.description;
  if (typeof description !== 'string' || description.trim() === '') fail('description', 'is required: a non-empty string');

  const category = input.category;
  if (!RULE_CATEGORIES.includes(category as RuleCategory)) {
    fail('category', `must be one of ${RULE_CATEGORIES.join(', ')}, got ${JSON.stringify(category)}`);
  }

  const priority = input.priority;
  if (typeof priority !== 'number' || !Number.isInteger(priority) || priority < 0 || priority > 100) {
    fail('priority', `must be a whole number between 0 and 100, got ${JSON.stringify(priority)}`);
  }

  for (const key of ['source', 'evidence', 'confidence'] as const) {
    const value = input[key];
    if (value !== undefined && value !== null && typeof value !== 'string') fail(key, 'must be a string or null');
  }
  if (input.isActive !== undefined && typeof input.isActive !== 'boolean') fail('isActive', 'must be true or false');

  if (input.conditions === undefined || input.conditions === null || (isPlainObject(input.conditions) && Object.keys(input.conditions).length === 0)) {
    fail('conditions', 'a rule needs at least one condition: {"all": [...]}, {"any": [...]}, {"not": ...} or a leaf {"field", "op", "value"}');
  }
  const conditions = validateCondition(input.conditions, 'conditions', 0);
  const actions = validateActions(input.actions, category as RuleCategory);

  return {
    name: name as string,
    description: description as string,
    category: category as RuleCategory,
    priority: priority as number,
    conditions,
    actions,
    source: (input.source as string | null | undefined) ?? null,
    evidence: (input.evidence as string | null | undefined) ?? null,
  };
}

function validateCondition(node: unknown, path: string, depth: number): Condition {
  if (depth > MAX_CONDITION_DEPTH) fail(path, `conditions nest at most ${MAX_CONDITION_DEPTH} levels deep`);
  if (!isPlainObject(node)) {
    fail(path, 'must be an object: {"all": [...]}, {"any": [...]}, {"not": ...} or a leaf {"field", "op", "value"}');
  }
  const obj = node as Record<string, unknown>;
  const keys = Object.keys(obj);
  if (keys.length === 0) fail(path, 'is empty: use {"all": [...]}, {"any": [...]}, {"not": ...} or a leaf {"field", "op", "value"}');

  for (const group of ['all', 'any'] as const) {
    if (group in obj) {
      const extra = keys.find((k) => k !== group);
      if (extra !== undefined) fail(`${path}.${extra}`, `unexpected key next to "${group}": a group has only "${group}"`);
      const children = obj[group];
      if (!Array.isArray(children)) fail(`${path}.${group}`, 'must be an array of conditions');
      if ((children as unknown[]).length === 0) fail(`${path}.${group}`, 'must contain at least one condition');
      const parsed = (children as unknown[]).map((c, i) => validateCondition(c, `${path}.${group}[${i}]`, depth + 1));
      return group === 'all' ? { all: parsed } : { any: parsed };
    }
  }
  if ('not' in obj) {
    const extra = keys.find((k) => k !== 'not');
    if (extra !== undefined) fail(`${path}.${extra}`, 'unexpected key next to "not": a negation has only "not"');
    return { not: validateCondition(obj.not, `${path}.not`, depth + 1) };
  }
  return validateLeaf(obj, path);
}

function validateLeaf(obj: Record<string, unknown>, path: string): ConditionLeaf {
  for (const key of Object.keys(obj)) {
    if (key !== 'field' && key !== 'op' && key !== 'value') {
      fail(`${path}.${key}`, 'unexpected key: a condition is {"all": [...]}, {"any": [...]}, {"not": ...} or a leaf {"field", "op", "value"}');
    }
  }
  const field = obj.field;
  if (typeof field !== 'string' || field === '') fail(`${path}.field`, 'is required: a check-in variable or baseline.<field>');
  const kind = FIELD_KINDS.get(field as string);
  if (!kind) {
    const f = field as string;
    const detail = f.startsWith(BASELINE_PREFIX)
      ? `unknown baseline field ${quote(f)}; baseline fields are ${BASELINE_RULE_FIELDS.join(', ')}`
      : `unknown field ${quote(f)}; use a check-in variable (${CHECK_IN_VARIABLES.map((s) => s.name).join(', ')}) or baseline.<field>`;
    fail(`${path}.field`, detail);
  }

  const op = obj.op;
  if (typeof op !== 'string' || !COMPARISON_OPS.includes(op as ComparisonOp)) {
    fail(`${path}.op`, `unknown operator ${JSON.stringify(op)}; use one of ${COMPARISON_OPS.join(' ')}`);
  }
  const allowedOps = OPS_BY_KIND[kind!.type];
  if (!allowedOps.includes(op as ComparisonOp)) {
    fail(`${path}.op`, `"${op}" does not apply to ${field} (${describeKind(kind!)}); use one of ${allowedOps.join(' ')}`);
  }

  if (!('value' in obj) || obj.value === undefined) fail(`${path}.value`, 'is required');
  const value = obj.value;
  const vpath = `${path}.value`;
  if (op === 'in') {
    if (!Array.isArray(value) || value.length === 0) fail(vpath, `"in" needs a non-empty array of values for ${field} (${describeKind(kind!)})`);
    (value as unknown[]).forEach((item, i) => validateScalarValue(item, kind!, field as string, `${vpath}[${i}]`));
    return { field: field as string, op: 'in', value: [...(value as unknown[])] };
  }
  if (op === 'containsLocation') {
    if (typeof value !== 'string' || value.trim() === '') fail(vpath, 'containsLocation needs a non-empty location string, e.g. "finger"');
    return { field: field as string, op: 'containsLocation', value };
  }
  if (op === 'contains') {
    if (kind!.type === 'json') {
      if (typeof value !== 'string' && typeof value !== 'boolean' && !(typeof value === 'number' && Number.isFinite(value))) {
        fail(vpath, `contains on ${field} needs a string, number or boolean`);
      }
    } else if (typeof value !== 'string' || value === '') {
      fail(vpath, `contains on ${field} needs a non-empty string`);
    }
    return { field: field as string, op: 'contains', value };
  }
  if (NUMERIC_OPS.includes(op as ComparisonOp) && (typeof value !== 'number' || !Number.isFinite(value))) {
    fail(vpath, `"${op}" needs a number, got ${JSON.stringify(value)}`);
  }
  validateScalarValue(value, kind!, field as string, vpath);
  return { field: field as string, op: op as ComparisonOp, value };
}

function describeKind(kind: FieldKind): string {
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

function validateScalarValue(value: unknown, kind: FieldKind, field: string, path: string): void {
  switch (kind.type) {
    case 'number':
      if (typeof value !== 'number' || !Number.isFinite(value)) fail(path, `${field} is ${describeKind(kind)}; got ${JSON.stringify(value)}`);
      if ((kind.min !== undefined && (value as number) < kind.min) || (kind.max !== undefined && (value as number) > kind.max)) {
        const range = kind.max !== undefined ? `${kind.min}-${kind.max}` : `>= ${kind.min}`;
        fail(path, `${field} ranges ${range}; ${value} is outside it`);
      }
      return;
    case 'boolean':
      if (typeof value !== 'boolean') fail(path, `${field} is true or false; got ${JSON.stringify(value)}`);
      return;
    case 'enum':
      if (typeof value !== 'string' || !kind.values.includes(value)) {
        fail(path, `${field} is one of ${kind.values.join(', ')}; got ${JSON.stringify(value)}`);
      }
      return;
    case 'string':
      if (typeof value !== 'string') fail(path, `${field} is a string; got ${JSON.stringify(value)}`);
      return;
    case 'niggles':
    case 'json':
      // Only containsLocation / contains reach these kinds; they are checked by the caller.
      fail(path, `${field} cannot be compared with a single value`);
  }
}

const ACTION_KEYS: Record<RuleAction['type'], readonly string[]> = {
  override: ['type', 'sessionType', 'message'],
  constrain: ['type', 'sessionTypeCeiling', 'sessionType', 'avoid', 'include', 'warmupMin', 'maxDurationMin', 'reduceVolume', 'hydrationBreaks', 'message'],
  adjustPrediction: ['type', 'multiplier', 'message'],
};

function validateSessionType(value: unknown, path: string): SessionType {
  if (typeof value !== 'string' || !(SESSION_TYPES as readonly string[]).includes(value)) {
    fail(path, `must be one of ${SESSION_TYPES.join(', ')}, got ${JSON.stringify(value)}`);
  }
  return value as SessionType;
}

function validateWholeNumber(value: unknown, path: string, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    fail(path, `must be a whole number between ${min} and ${max}, got ${JSON.stringify(value)}`);
  }
  return value as number;
}

function validateTags(value: unknown, path: string): string[] {
  if (!Array.isArray(value)) fail(path, 'must be an array of non-empty strings, e.g. ["hangboard", "campus_board"]');
  (value as unknown[]).forEach((tag, i) => {
    if (typeof tag !== 'string' || tag.trim() === '') fail(`${path}[${i}]`, 'must be a non-empty string');
  });
  return [...new Set(value as string[])];
}

function validateActions(actions: unknown, category: RuleCategory): RuleAction[] {
  if (!Array.isArray(actions) || actions.length === 0) {
    fail('actions', 'must be a non-empty array of {type: "override" | "constrain" | "adjustPrediction", ..., message}');
  }
  let overrides = 0;
  return (actions as unknown[]).map((raw, i): RuleAction => {
    const path = `actions[${i}]`;
    if (!isPlainObject(raw)) fail(path, 'must be an object {type, ..., message}');
    const a = raw as Record<string, unknown>;
    const type = a.type;
    if (type !== 'override' && type !== 'constrain' && type !== 'adjustPrediction') {
      fail(`${path}.type`, `must be one of override, constrain, adjustPrediction, got ${JSON.stringify(type)}`);
    }
    const t = type as RuleAction['type'];
    for (const key of Object.keys(a)) {
      if (!ACTION_KEYS[t].includes(key)) fail(`${path}.${key}`, `unexpected key for a ${t} action; allowed: ${ACTION_KEYS[t].join(', ')}`);
    }
    if (typeof a.message !== 'string' || a.message.trim() === '') fail(`${path}.message`, 'is required: a non-empty string shown to the athlete');
    const message = a.message as string;

    switch (t) {
      case 'override': {
        overrides++;
        if (overrides > 1) fail(path, 'a rule may have at most one override action');
        return { type: 'override', sessionType: validateSessionType(a.sessionType, `${path}.sessionType`), message };
      }
      case 'adjustPrediction': {
        const m = a.multiplier;
        if (typeof m !== 'number' || !Number.isFinite(m) || m < MIN_PREDICTION_MULTIPLIER || m > MAX_PREDICTION_MULTIPLIER) {
          fail(`${path}.multiplier`, `must be a number between ${MIN_PREDICTION_MULTIPLIER} and ${MAX_PREDICTION_MULTIPLIER}, got ${JSON.stringify(m)}`);
        }
        return { type: 'adjustPrediction', multiplier: m as number, message };
      }
      case 'constrain': {
        const out: Extract<RuleAction, { type: 'constrain' }> = { type: 'constrain', message };
        if (a.sessionTypeCeiling !== undefined) out.sessionTypeCeiling = validateSessionType(a.sessionTypeCeiling, `${path}.sessionTypeCeiling`);
        if (a.sessionType !== undefined) {
          out.sessionType = validateSessionType(a.sessionType, `${path}.sessionType`);
          if (category !== 'PERFORMANCE') {
            fail(`${path}.sessionType`, `session type suggestions are honoured only from PERFORMANCE rules (this rule is ${category}); use sessionTypeCeiling to limit intensity`);
          }
          if (out.sessionTypeCeiling && SESSION_TYPE_RANK[out.sessionType] > SESSION_TYPE_RANK[out.sessionTypeCeiling]) {
            fail(`${path}.sessionType`, `${out.sessionType} exceeds this action's own sessionTypeCeiling ${out.sessionTypeCeiling}`);
          }
        }
        if (a.avoid !== undefined) out.avoid = validateTags(a.avoid, `${path}.avoid`);
        if (a.include !== undefined) out.include = validateTags(a.include, `${path}.include`);
        if (a.warmupMin !== undefined) out.warmupMin = validateWholeNumber(a.warmupMin, `${path}.warmupMin`, 0, 180);
        if (a.maxDurationMin !== undefined) out.maxDurationMin = validateWholeNumber(a.maxDurationMin, `${path}.maxDurationMin`, 1, 600);
        for (const flag of ['reduceVolume', 'hydrationBreaks'] as const) {
          if (a[flag] !== undefined) {
            if (typeof a[flag] !== 'boolean') fail(`${path}.${flag}`, 'must be true or false');
            out[flag] = a[flag] as boolean;
          }
        }
        return out;
      }
    }
  });
}

// ---------------------------------------------------------------------------------------------- compilation

type Getter = (ctx: RuleContext) => unknown;
type Test = (ctx: RuleContext) => boolean;

interface CompiledCondition {
  readonly test: Test;
  /** The condition in words with the actual values; called only for matched rules. */
  readonly describe: (ctx: RuleContext) => string;
  readonly group: boolean;
}

export interface CompiledRule {
  readonly rule: Rule;
  readonly test: Test;
  readonly describe: (ctx: RuleContext) => string;
  /** Has a sessionTypeCeiling: the only kind of rule that can still change an override's answer. */
  readonly imposesCeiling: boolean;
}

export interface CompiledRuleSet {
  /** In evaluation order: priority descending, then name ascending. */
  readonly rules: readonly CompiledRule[];
}

function getterFor(field: string): Getter {
  if (!FIELD_KINDS.has(field)) fail('field', `unknown field ${quote(field)}`);
  if (field.startsWith(BASELINE_PREFIX)) {
    const key = field.slice(BASELINE_PREFIX.length);
    return (ctx) => (ctx.baseline ? ctx.baseline[key] : undefined);
  }
  // Bare names read the check-in only: no fallback to the baseline.
  return (ctx) => (ctx.checkIn as Record<string, unknown>)[field];
}

function formatValue(value: unknown): string {
  if (value === undefined || value === null) return 'missing';
  if (typeof value === 'string') return value;
  if (Array.isArray(value)) return `[${value.map(formatValue).join(', ')}]`;
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

function leafPredicate(op: ComparisonOp, expected: unknown): (actual: unknown) => boolean {
  switch (op) {
    case '>=': {
      const e = expected as number;
      return (x) => typeof x === 'number' && x >= e;
    }
    case '<=': {
      const e = expected as number;
      return (x) => typeof x === 'number' && x <= e;
    }
    case '>': {
      const e = expected as number;
      return (x) => typeof x === 'number' && x > e;
    }
    case '<': {
      const e = expected as number;
      return (x) => typeof x === 'number' && x < e;
    }
    case '==':
      return (x) => x === expected;
    case '!=':
      return (x) => x !== expected;
    case 'in': {
      const set = new Set(expected as unknown[]);
      return (x) => set.has(x);
    }
    case 'contains': {
      const e = expected;
      return (x) => (Array.isArray(x) ? x.includes(e) : typeof x === 'string' && typeof e === 'string' && x.includes(e));
    }
    case 'containsLocation': {
      const e = String(expected).toLowerCase();
      return (x) => Array.isArray(x) && x.some((n) => locationMatches(n, e));
    }
    default:
      return fail('op', `unknown operator ${JSON.stringify(op)}`);
  }
}

function locationMatches(niggle: unknown, needleLower: string): boolean {
  const location = (niggle as Partial<Niggle> | null)?.location;
  return typeof location === 'string' && location.toLowerCase().includes(needleLower);
}

/**
 * The leaf's test. A missing or null field makes every leaf false, `!=` included. The common operators
 * get their own closure (no second call), the rest go through the predicate.
 */
function leafTest(leaf: ConditionLeaf, get: Getter, predicate: (x: unknown) => boolean): Test {
  const e = leaf.value;
  if (typeof e === 'number') {
    switch (leaf.op) {
      case '>=':
        return (ctx) => {
          const x = get(ctx);
          return typeof x === 'number' && x >= e;
        };
      case '<=':
        return (ctx) => {
          const x = get(ctx);
          return typeof x === 'number' && x <= e;
        };
      case '>':
        return (ctx) => {
          const x = get(ctx);
          return typeof x === 'number' && x > e;
        };
      case '<':
        return (ctx) => {
          const x = get(ctx);
          return typeof x === 'number' && x < e;
        };
    }
  }
  if (leaf.op === '==' && e !== null && e !== undefined) return (ctx) => get(ctx) === e; // missing/null never equals e
  return (ctx) => {
    const x = get(ctx);
    return x !== undefined && x !== null && predicate(x);
  };
}

function compileLeaf(leaf: ConditionLeaf): CompiledCondition {
  const get = getterFor(leaf.field);
  const predicate = leafPredicate(leaf.op, leaf.value);
  const text = `${leaf.field} ${leaf.op} ${leaf.op === 'containsLocation' || leaf.op === 'contains' ? quote(String(leaf.value)) : formatValue(leaf.value)}`;
  const needle = leaf.op === 'containsLocation' ? String(leaf.value).toLowerCase() : '';
  return {
    test: leafTest(leaf, get, predicate),
    describe: (ctx) => {
      const x = get(ctx);
      if (leaf.op === 'containsLocation' && Array.isArray(x)) {
        const hits = x.filter((n) => locationMatches(n, needle)).map((n) => (n as Niggle).location);
        return `${text} (was ${hits.length ? hits.join(', ') : formatValue(x.map((n) => (n as Niggle)?.location))})`;
      }
      return `${text} (was ${formatValue(x)})`;
    },
    group: false,
  };
}

function compileCondition(c: Condition): CompiledCondition {
  if ('all' in c) {
    const parts = c.all.map(compileCondition);
    if (parts.length === 1) return parts[0];
    const n = parts.length;
    return {
      test: (ctx) => {
        for (let i = 0; i < n; i++) if (!parts[i].test(ctx)) return false;
        return true;
      },
      describe: (ctx) => parts.map((p) => (p.group ? `(${p.describe(ctx)})` : p.describe(ctx))).join(' and '),
      group: true,
    };
  }
  if ('any' in c) {
    const parts = c.any.map(compileCondition);
    if (parts.length === 1) return parts[0];
    const n = parts.length;
    return {
      test: (ctx) => {
        for (let i = 0; i < n; i++) if (parts[i].test(ctx)) return true;
        return false;
      },
      // Name the branches that held (all of them if called outside a match).
      describe: (ctx) => {
        const held = parts.filter((p) => p.test(ctx));
        return (held.length ? held : parts).map((p) => (p.group ? `(${p.describe(ctx)})` : p.describe(ctx))).join(' or ');
      },
      group: true,
    };
  }
  if ('not' in c) {
    const inner = compileCondition(c.not);
    return {
      test: (ctx) => !inner.test(ctx),
      describe: (ctx) => `not (${inner.describe(ctx)})`,
      group: false,
    };
  }
  return compileLeaf(c);
}

/** Orders the rules (priority descending, then name ascending) and compiles their conditions into closures. */
export function compileRules(rules: readonly Rule[]): CompiledRuleSet {
  const ordered = [...rules].sort((a, b) => b.priority - a.priority || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return {
    rules: ordered.map((rule) => {
      const compiled = compileCondition(rule.conditions);
      const imposesCeiling = rule.actions.some((a) => a.type === 'constrain' && a.sessionTypeCeiling !== undefined);
      return { rule, test: compiled.test, describe: compiled.describe, imposesCeiling };
    }),
  };
}

/** Field names a rule reads (check-in names and `baseline.<field>`), in order of appearance, without repeats. */
export function ruleFieldsRead(rule: Pick<Rule, 'conditions'>): string[] {
  const out: string[] = [];
  const walk = (c: Condition): void => {
    if ('all' in c) c.all.forEach(walk);
    else if ('any' in c) c.any.forEach(walk);
    else if ('not' in c) walk(c.not);
    else if (!out.includes(c.field)) out.push(c.field);
  };
  walk(rule.conditions);
  return out;
}

// ---------------------------------------------------------------------------------------------- evaluation

export function emptyConstraints(): Constraints {
  return {
    sessionTypeCeiling: null,
    suggestedSessionType: null,
    avoid: [],
    include: [],
    warmupMin: null,
    maxDurationMin: null,
    reduceVolume: false,
    hydrationBreaks: false,
  };
}

function appendUnique(target: string[], items: readonly string[]): void {
  for (const item of items) if (!target.includes(item)) target.push(item);
}

/** Lowers a session type to the constraints' ceiling (never raises it). */
export function applyCeiling(sessionType: SessionType, constraints: Pick<Constraints, 'sessionTypeCeiling'>): SessionType {
  const ceiling = constraints.sessionTypeCeiling;
  return ceiling !== null && SESSION_TYPE_RANK[sessionType] > SESSION_TYPE_RANK[ceiling] ? ceiling : sessionType;
}

/**
 * The answer's session type: the PERFORMANCE suggestion when there is one (it already respects every
 * ceiling), else the model's choice lowered to the strictest ceiling.
 */
export function finalSessionType(modelChoice: SessionType, constraints: Constraints): SessionType {
  return applyCeiling(constraints.suggestedSessionType ?? modelChoice, constraints);
}

/**
 * Evaluates the compiled rules in order. The first override answers, lowered to the strictest ceiling of
 * every matched rule: after it only the rules with a ceiling are still evaluated (nothing else can change
 * the answer). Constraints merge strictest-wins; every action message becomes a warning with the reason
 * it fired.
 */
export function evaluateRules(set: CompiledRuleSet, ctx: RuleContext): RuleEvaluation {
  const matched: string[] = [];
  const warnings: RuleWarning[] = [];
  const constraints = emptyConstraints();
  let override: RuleOverride | null = null;
  let predictionMultiplier = 1;
  // PERFORMANCE suggestions in priority order; settled after all ceilings are known.
  let suggestions: SessionType[] | null = null;

  const rules = set.rules;
  for (let r = 0; r < rules.length; r++) {
    const compiled = rules[r];
    if (override !== null && !compiled.imposesCeiling) continue;
    if (!compiled.test(ctx)) continue;
    const rule = compiled.rule;
    matched.push(rule.name);
    const reason = compiled.describe(ctx);

    for (const action of rule.actions) {
      warnings.push({ rule: rule.name, category: rule.category, message: action.message, reason });
      switch (action.type) {
        case 'override':
          // Only the first (highest-priority) override answers; its ceiling is applied after the loop.
          override ??= { rule: rule.name, category: rule.category, sessionType: action.sessionType, message: action.message };
          break;
        case 'constrain': {
          const ceiling = action.sessionTypeCeiling;
          if (ceiling && (constraints.sessionTypeCeiling === null || SESSION_TYPE_RANK[ceiling] < SESSION_TYPE_RANK[constraints.sessionTypeCeiling])) {
            constraints.sessionTypeCeiling = ceiling;
          }
          if (action.sessionType && rule.category === 'PERFORMANCE') (suggestions ??= []).push(action.sessionType);
          if (action.avoid) appendUnique(constraints.avoid, action.avoid);
          if (action.include) appendUnique(constraints.include, action.include);
          if (action.warmupMin !== undefined) constraints.warmupMin = Math.max(constraints.warmupMin ?? action.warmupMin, action.warmupMin);
          if (action.maxDurationMin !== undefined) {
            constraints.maxDurationMin = Math.min(constraints.maxDurationMin ?? action.maxDurationMin, action.maxDurationMin);
          }
          if (action.reduceVolume) constraints.reduceVolume = true;
          if (action.hydrationBreaks) constraints.hydrationBreaks = true;
          break;
        }
        case 'adjustPrediction':
          predictionMultiplier *= action.multiplier;
          break;
      }
    }
  }

  if (override !== null) override.sessionType = applyCeiling(override.sessionType, constraints);
  if (suggestions !== null) {
    // The first suggestion that respects every ceiling of every matched rule (the strictest one) wins.
    const limit = constraints.sessionTypeCeiling === null ? Infinity : SESSION_TYPE_RANK[constraints.sessionTypeCeiling];
    constraints.suggestedSessionType = suggestions.find((s) => SESSION_TYPE_RANK[s] <= limit) ?? null;
  }

  return { matched, override, warnings, constraints, predictionMultiplier };
}
