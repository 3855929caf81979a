// Validation of rule definitions against the grammar (domain.md section 4): what an admin writes, the seed file
// and the database rows all pass here before the engine compiles them.
import type { Condition, ConditionLeaf, ComparisonOp, Rule, RuleAction, RuleCategory } from '../types.ts';
import { CHECK_IN_VARIABLES, SESSION_TYPES, SESSION_TYPE_RANK, type SessionType } from '../variables.ts';
import { BASELINE_PREFIX, BASELINE_RULE_FIELDS, COMPARISON_OPS, FIELD_KINDS, NUMERIC_OPS, OPS_BY_KIND, RULE_CATEGORIES, describeKind, fail, quote, type FieldKind } from './grammar.ts';

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
const MIN_PREDICTION_MULTIPLIER = 0.5;
const MAX_PREDICTION_MULTIPLIER = 1.5;

const isPlainObject = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);

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
    for (const [i, item] of (value as unknown[]).entries()) validateScalarValue(item, kind!, field as string, `${vpath}[${i}]`);
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
  function validateAction(raw: unknown, i: number): RuleAction {
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
  }
  return (actions as unknown[]).map(validateAction);
}
