// Compilation of validated rules into closures, once per rule set: evaluation then only calls them.
import type { ComparisonOp, Condition, ConditionLeaf, Rule, RuleContext } from '../types.ts';
import { checkInIndex, type Niggle } from '../variables.ts';
import { BASELINE_PREFIX, FIELD_KINDS, NUMERIC_OPS, fail, quote } from './grammar.ts';

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
  // Bare names read the check-in only (no fallback to the baseline), by the variable's index in its values: an
  // element load of one array shape whatever fields the check-in holds.
  const i = checkInIndex(field);
  return (ctx) => ctx.values[i];
}

function formatValue(value: unknown): string {
  if (value === undefined || value === null) return 'missing';
  if (typeof value === 'string') return value;
  if (Array.isArray(value)) return `[${value.map(formatValue).join(', ')}]`;
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

/** The predicate of a non-numeric leaf; the numeric comparisons get their own closures in leafTest. */
function leafPredicate(op: ComparisonOp, expected: unknown): (actual: unknown) => boolean {
  switch (op) {
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
 * The leaf's test. A missing or null field makes every leaf false, `!=` included. The numeric comparisons and
 * `==` test inline (no second call), the rest go through the predicate.
 */
function leafTest(leaf: ConditionLeaf, get: Getter): Test {
  const e = leaf.value;
  if (NUMERIC_OPS.includes(leaf.op)) {
    // Validation lets these operators through only with a finite number.
    if (typeof e !== 'number') fail('value', `"${leaf.op}" needs a number, got ${JSON.stringify(e)}`);
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
  if (leaf.op === '==') {
    // A comparison with a literal `true` or `false` is a reference test for V8 (no type feedback). `get(ctx) === e` with
    // e a boolean was optimized for the types it had seen and dropped again at once, over and over, under the server's
    // load: about 9 times a second, each a recompilation on V8's helper threads (BENCHMARKS.md step 310).
    if (e === true) return (ctx) => get(ctx) === true;
    if (e === false) return (ctx) => get(ctx) === false;
    if (e !== null && e !== undefined) return (ctx) => get(ctx) === e; // missing/null never equals e
  }
  const predicate = leafPredicate(leaf.op, e);
  return (ctx) => {
    const x = get(ctx);
    return x !== undefined && x !== null && predicate(x);
  };
}

function compileLeaf(leaf: ConditionLeaf): CompiledCondition {
  const get = getterFor(leaf.field);
  const text = `${leaf.field} ${leaf.op} ${leaf.op === 'containsLocation' || leaf.op === 'contains' ? quote(String(leaf.value)) : formatValue(leaf.value)}`;
  const needle = leaf.op === 'containsLocation' ? String(leaf.value).toLowerCase() : '';
  return {
    test: leafTest(leaf, get),
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
