// The expert-rule engine (domain.md section 4), in three stages: validation of the JSON condition grammar
// (rules/validate.ts), compilation of conditions into closures once per rule set (rules/compile.ts), and
// evaluation of a check-in against the compiled set (rules/evaluate.ts). Pure: no Prisma, no GraphQL.
export { BASELINE_RULE_FIELDS, RuleValidationError } from './rules/grammar.ts';
export { validateRuleDefinition, type RuleDefinitionInput } from './rules/validate.ts';
export { compileRules, type CompiledRule, type CompiledRuleSet } from './rules/compile.ts';
export { applyCeiling, emptyConstraints, evaluateRules, finalSessionType } from './rules/evaluate.ts';
