// Evaluation of a check-in against a compiled rule set: matches, the override, merged constraints, warnings.
import type { Constraints, RuleContext, RuleEvaluation, RuleOverride, RuleWarning } from '../types.ts';
import { SESSION_TYPE_RANK, type SessionType } from '../variables.ts';
import type { CompiledRuleSet } from './compile.ts';

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
          if (action.sessionType && rule.category === 'PERFORMANCE') {
            suggestions ??= [];
            suggestions.push(action.sessionType);
          }
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
