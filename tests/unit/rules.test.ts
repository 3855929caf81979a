import { describe, expect, it } from 'vitest';
import seedRules from '../../prisma/seed/expert-rules.json' with { type: 'json' };
import {
  BASELINE_RULE_FIELDS,
  RuleValidationError,
  applyCeiling,
  compileRules,
  emptyConstraints,
  evaluateRules,
  finalSessionType,
  validateRuleDefinition,
  type RuleDefinitionInput,
} from '../../src/engine/rules.ts';
import type { Rule, RuleContext } from '../../src/engine/types.ts';
import { BASELINE_NUMERIC_FIELDS, CHECK_IN_VARIABLES, checkInValues, type CheckIn } from '../../src/engine/variables.ts';

const SEED: Rule[] = (seedRules as RuleDefinitionInput[]).map((r) => validateRuleDefinition(r));
const SEED_SET = compileRules(SEED);
const seedRule = (name: string): Rule => {
  const r = SEED.find((x) => x.name === name);
  if (!r) throw new Error(`no seed rule ${name}`);
  return r;
};

const ctx = (checkIn: CheckIn, baseline: Record<string, unknown> | null = null): RuleContext => ({ values: checkInValues(checkIn), baseline });
const evalSeed = (checkIn: CheckIn, baseline: Record<string, unknown> | null = null) => evaluateRules(SEED_SET, ctx(checkIn, baseline));

/** A valid rule definition; override any part. */
function def(over: Partial<Record<keyof RuleDefinitionInput, unknown>> = {}): RuleDefinitionInput {
  return {
    name: 'test_rule',
    description: 'A test rule',
    category: 'CONSERVATIVE',
    priority: 50,
    conditions: { field: 'sleepHours', op: '<', value: 5 },
    actions: [{ type: 'constrain', reduceVolume: true, message: 'Take it easy.' }],
    ...over,
  } as RuleDefinitionInput;
}
const rule = (over: Partial<Record<keyof RuleDefinitionInput, unknown>> = {}): Rule => validateRuleDefinition(def(over));

function validationError(input: RuleDefinitionInput): RuleValidationError {
  try {
    validateRuleDefinition(input);
  } catch (e) {
    if (e instanceof RuleValidationError) return e;
    throw e;
  }
  throw new Error('expected a RuleValidationError');
}

// ------------------------------------------------------------------------------------------ seed rules

/** domain.md section 4, row by row: the expected shape and the boundaries of each condition. */
const SEED_TABLE: Record<string, { priority: number; category: string; actions: unknown[]; fires: CheckIn[]; silent: CheckIn[] }> = {
  pulley_injury_grade2_plus: {
    priority: 100,
    category: 'SAFETY',
    actions: [{ type: 'override', sessionType: 'REST_DAY' }],
    fires: [{ pulleyInjuryGrade: 2 }, { pulleyInjuryGrade: 4 }],
    silent: [{ pulleyInjuryGrade: 1 }, { pulleyInjuryGrade: 0 }, {}],
  },
  severe_injury_rest_required: {
    priority: 100,
    category: 'SAFETY',
    actions: [{ type: 'override', sessionType: 'REST_DAY' }],
    fires: [{ injurySeverity: 7 }, { injurySeverity: 10 }],
    silent: [{ injurySeverity: 6 }, { injurySeverity: null }],
  },
  finger_injury_no_crimp: {
    priority: 95,
    category: 'SAFETY',
    actions: [{ type: 'constrain', avoid: ['crimp_intensive', 'campus_board', 'hangboard'] }],
    fires: [{ fingerInjuryPresent: true }],
    silent: [{ fingerInjuryPresent: false }, { fingerInjuryPresent: null }],
  },
  sleep_deprivation_limit_intensity: {
    priority: 90,
    category: 'SAFETY',
    actions: [{ type: 'constrain', sessionTypeCeiling: 'LIGHT_SESSION', avoid: ['limit_bouldering', 'project'] }],
    fires: [{ sleepHours: 4.99 }, { sleepHours: 0 }],
    silent: [{ sleepHours: 5 }, { sleepHours: 5.01 }],
  },
  sleep_plus_stress_compound: {
    priority: 88,
    category: 'INTERACTION',
    actions: [{ type: 'override', sessionType: 'LIGHT_SESSION' }],
    fires: [{ sleepHours: 5.99, stressLevel: 7 }],
    silent: [{ sleepHours: 6, stressLevel: 7 }, { sleepHours: 5.99, stressLevel: 6 }, { sleepHours: 5.99 }],
  },
  consecutive_days_warning: {
    priority: 85,
    category: 'CONSERVATIVE',
    actions: [{ type: 'constrain', sessionTypeCeiling: 'REST_DAY' }],
    fires: [{ daysSinceRestDay: 5 }, { daysSinceRestDay: 6 }],
    silent: [{ daysSinceRestDay: 4 }],
  },
  fear_plus_fatigue_danger: {
    priority: 85,
    category: 'INTERACTION',
    actions: [{ type: 'constrain', avoid: ['lead_climbing', 'runout_routes'] }],
    fires: [{ fearOfFalling: 7, energyLevel: 4 }],
    silent: [
      { fearOfFalling: 6, energyLevel: 4 },
      { fearOfFalling: 7, energyLevel: 5 },
    ],
  },
  alcohol_recent_light_session: {
    priority: 80,
    category: 'CONSERVATIVE',
    actions: [{ type: 'constrain', sessionTypeCeiling: 'LIGHT_SESSION', avoid: ['hangboard', 'limit_bouldering'] }],
    fires: [{ alcoholLast24h: true }],
    silent: [{ alcoholLast24h: false }, {}],
  },
  dehydration_plus_heat: {
    priority: 75,
    category: 'INTERACTION',
    actions: [{ type: 'constrain', maxDurationMin: 90, hydrationBreaks: true }],
    fires: [{ hydrationStatus: 4, temperatureC: 25 }],
    silent: [
      { hydrationStatus: 5, temperatureC: 25 },
      { hydrationStatus: 4, temperatureC: 24.9 },
    ],
  },
  training_load_spike: {
    priority: 75,
    category: 'CONSERVATIVE',
    actions: [{ type: 'constrain', reduceVolume: true }],
    fires: [{ trainingLoadChange: 0.11 }, { trainingLoadChange: 0.1000001 }],
    silent: [{ trainingLoadChange: 0.1 }, { trainingLoadChange: 0.09 }],
  },
  high_soreness_recovery_focus: {
    priority: 70,
    category: 'CONSERVATIVE',
    actions: [{ type: 'constrain', sessionTypeCeiling: 'ACTIVE_RECOVERY', avoid: ['limit_bouldering', 'hangboard'] }],
    fires: [{ sorenessLevel: 7 }],
    silent: [{ sorenessLevel: 6 }],
  },
  high_motivation_project_day: {
    priority: 60,
    category: 'PERFORMANCE',
    actions: [{ type: 'constrain', sessionType: 'PROJECT' }],
    fires: [{ motivationLevel: 8, energyLevel: 7, sorenessLevel: 4 }],
    silent: [
      { motivationLevel: 7, energyLevel: 7, sorenessLevel: 4 },
      { motivationLevel: 8, energyLevel: 6, sorenessLevel: 4 },
      { motivationLevel: 8, energyLevel: 7, sorenessLevel: 5 },
    ],
  },
  warmup_requirement: {
    priority: 55,
    category: 'PERFORMANCE',
    actions: [{ type: 'constrain', warmupMin: 15 }],
    fires: [{ warmupCompleted: false }],
    silent: [{ warmupCompleted: true }, {}],
  },
  optimal_sleep_green_light: {
    priority: 50,
    category: 'PERFORMANCE',
    actions: [{ type: 'adjustPrediction', multiplier: 1.1 }],
    fires: [
      { sleepHours: 7, sleepQuality: 7 },
      { sleepHours: 9, sleepQuality: 7 },
    ],
    silent: [
      { sleepHours: 6.9, sleepQuality: 7 },
      { sleepHours: 9.1, sleepQuality: 7 },
      { sleepHours: 8, sleepQuality: 6 },
    ],
  },
  caffeine_timing_boost: {
    priority: 40,
    category: 'PERFORMANCE',
    actions: [{ type: 'adjustPrediction', multiplier: 1.05 }],
    fires: [{ caffeineToday: true, caffeineHabitual: false }],
    silent: [{ caffeineToday: true, caffeineHabitual: true }, { caffeineToday: false, caffeineHabitual: false }, { caffeineToday: true }],
  },
};

describe('seed rules (prisma/seed/expert-rules.json)', () => {
  it('are the 15 rules of the domain table, each valid', () => {
    expect(SEED.map((r) => r.name).sort()).toEqual(Object.keys(SEED_TABLE).sort());
    for (const raw of seedRules as Array<Record<string, unknown>>) {
      expect(Object.keys(raw).sort()).toEqual(['actions', 'category', 'conditions', 'confidence', 'description', 'evidence', 'isActive', 'name', 'priority', 'source']);
      expect(raw.isActive).toBe(true);
    }
    expect(seedRule('pulley_injury_grade2_plus').source).toContain('Schöffl 2003');
    expect(seedRule('warmup_requirement').source).toContain('Fradkin 2010');
  });

  describe.each(Object.entries(SEED_TABLE))('%s', (name, row) => {
    const r = seedRule(name);
    const alone = compileRules([r]);

    it('has the priority, category and action of the table', () => {
      expect(r.priority).toBe(row.priority);
      expect(r.category).toBe(row.category);
      expect(r.actions).toHaveLength(row.actions.length);
      row.actions.forEach((a, i) => {
        expect(r.actions[i]).toMatchObject(a as object);
        expect(r.actions[i].message.length).toBeGreaterThan(10);
      });
    });

    it.each(row.fires.map((c) => [JSON.stringify(c), c] as const))('fires at %s', (_, checkIn) => {
      expect(evaluateRules(alone, ctx(checkIn)).matched).toEqual([name]);
    });

    it.each(row.silent.map((c) => [JSON.stringify(c), c] as const))('stays silent at %s', (_, checkIn) => {
      expect(evaluateRules(alone, ctx(checkIn)).matched).toEqual([]);
    });
  });
});

// ------------------------------------------------------------------------------------------ semantics

describe('condition semantics', () => {
  const nested = compileRules([
    rule({
      conditions: {
        all: [
          {
            any: [
              { field: 'sleepHours', op: '<', value: 6 },
              { field: 'stressLevel', op: '>=', value: 8 },
            ],
          },
          { not: { field: 'plannedSessionType', op: 'in', value: ['REST_DAY', 'ACTIVE_RECOVERY'] } },
          {
            not: {
              all: [
                { field: 'energyLevel', op: '>=', value: 8 },
                { field: 'motivationLevel', op: '>=', value: 8 },
              ],
            },
          },
        ],
      },
    }),
  ]);
  const fires = (c: CheckIn) => evaluateRules(nested, ctx(c)).matched.length === 1;

  it('nests all / any / not', () => {
    expect(fires({ sleepHours: 5, plannedSessionType: 'PROJECT' })).toBe(true);
    expect(fires({ stressLevel: 8, plannedSessionType: 'VOLUME' })).toBe(true);
    expect(fires({ sleepHours: 7, stressLevel: 7, plannedSessionType: 'PROJECT' })).toBe(false); // any fails
    expect(fires({ sleepHours: 5, plannedSessionType: 'REST_DAY' })).toBe(false); // not(in) fails
    expect(fires({ sleepHours: 5, energyLevel: 8, motivationLevel: 8 })).toBe(false); // not(all) fails
    expect(fires({ sleepHours: 5, energyLevel: 8, motivationLevel: 7 })).toBe(true);
    // plannedSessionType missing: the `in` leaf is false, so its negation holds
    expect(fires({ sleepHours: 5 })).toBe(true);
  });

  it('a missing or null field makes every leaf false, != included', () => {
    for (const op of ['>=', '<=', '>', '<', '==', '!='] as const) {
      const set = compileRules([rule({ conditions: { field: 'energyLevel', op, value: 5 } })]);
      expect(evaluateRules(set, ctx({})).matched, `missing, ${op}`).toEqual([]);
      expect(evaluateRules(set, ctx({ energyLevel: null })).matched, `null, ${op}`).toEqual([]);
    }
    // A boolean compared with true or false (its own test, a reference comparison): missing or null is neither.
    for (const value of [true, false]) {
      const set = compileRules([rule({ conditions: { field: 'alcoholLast24h', op: '==', value } })]);
      expect(evaluateRules(set, ctx({})).matched, `missing, == ${value}`).toEqual([]);
      expect(evaluateRules(set, ctx({ alcoholLast24h: null })).matched, `null, == ${value}`).toEqual([]);
      expect(evaluateRules(set, ctx({ alcoholLast24h: value })).matched, `${value} == ${value}`).toEqual(['test_rule']);
      expect(evaluateRules(set, ctx({ alcoholLast24h: !value })).matched, `${!value} == ${value}`).toEqual([]);
    }
    const inSet = compileRules([rule({ conditions: { field: 'timeOfDay', op: 'in', value: ['MORNING'] } })]);
    expect(evaluateRules(inSet, ctx({ timeOfDay: null })).matched).toEqual([]);
    const niggles = compileRules([rule({ conditions: { field: 'currentNiggles', op: 'containsLocation', value: 'finger' } })]);
    expect(evaluateRules(niggles, ctx({})).matched).toEqual([]);
    // != on a present value works as usual
    const ne = compileRules([rule({ conditions: { field: 'energyLevel', op: '!=', value: 5 } })]);
    expect(evaluateRules(ne, ctx({ energyLevel: 4 })).matched).toEqual(['test_rule']);
    expect(evaluateRules(ne, ctx({ energyLevel: 5 })).matched).toEqual([]);
  });

  it('a bare name does not fall back to the baseline; baseline.<field> reads the baseline', () => {
    const bare = compileRules([rule({ name: 'bare', conditions: { field: 'fearOfFalling', op: '>=', value: 7 } })]);
    const base = compileRules([rule({ name: 'base', conditions: { field: 'baseline.fearOfFalling', op: '>=', value: 7 } })]);
    const baseline = { fearOfFalling: 9 };
    expect(evaluateRules(bare, ctx({}, baseline)).matched).toEqual([]);
    expect(evaluateRules(base, ctx({}, baseline)).matched).toEqual(['base']);
    expect(evaluateRules(base, ctx({ fearOfFalling: 9 }, { fearOfFalling: 3 })).matched).toEqual([]);
    expect(evaluateRules(base, ctx({ fearOfFalling: 9 }, null)).matched).toEqual([]);
    expect(evaluateRules(bare, ctx({ fearOfFalling: 7 }, { fearOfFalling: 1 })).matched).toEqual(['bare']);
  });

  it('contains, containsLocation (case-insensitive) and in', () => {
    const loc = compileRules([rule({ conditions: { field: 'currentNiggles', op: 'containsLocation', value: 'Finger' } })]);
    const niggle = (location: string) => ({ location, severity: 3 });
    expect(evaluateRules(loc, ctx({ currentNiggles: [niggle('left shoulder'), niggle('right ring FINGER')] })).matched).toHaveLength(1);
    expect(evaluateRules(loc, ctx({ currentNiggles: [niggle('finger')] })).matched).toHaveLength(1);
    expect(evaluateRules(loc, ctx({ currentNiggles: [niggle('elbow')] })).matched).toHaveLength(0);
    expect(evaluateRules(loc, ctx({ currentNiggles: [] })).matched).toHaveLength(0);

    const history = compileRules([rule({ conditions: { field: 'baseline.injuryHistory', op: 'contains', value: 'pulley' } })]);
    expect(evaluateRules(history, ctx({}, { injuryHistory: ['pulley', 'shoulder'] })).matched).toHaveLength(1);
    expect(evaluateRules(history, ctx({}, { injuryHistory: 'A2 pulley, 2022' })).matched).toHaveLength(1);
    expect(evaluateRules(history, ctx({}, { injuryHistory: ['shoulder'] })).matched).toHaveLength(0);

    const grade = compileRules([rule({ conditions: { field: 'baseline.currentBoulderGrade', op: 'contains', value: 'V1' } })]);
    expect(evaluateRules(grade, ctx({}, { currentBoulderGrade: 'V10' })).matched).toHaveLength(1);

    const discipline = compileRules([rule({ conditions: { field: 'baseline.primaryDiscipline', op: 'in', value: ['SPORT', 'TRAD'] } })]);
    expect(evaluateRules(discipline, ctx({}, { primaryDiscipline: 'TRAD' })).matched).toHaveLength(1);
    expect(evaluateRules(discipline, ctx({}, { primaryDiscipline: 'BOULDER' })).matched).toHaveLength(0);
  });

  it('reports the reason with the actual values', () => {
    const res = evalSeed({ sleepHours: 4.5 });
    expect(res.warnings.find((w) => w.rule === 'sleep_deprivation_limit_intensity')).toEqual({
      rule: 'sleep_deprivation_limit_intensity',
      category: 'SAFETY',
      message: seedRule('sleep_deprivation_limit_intensity').actions[0].message,
      reason: 'sleepHours < 5 (was 4.5)',
    });
    const compound = evalSeed({ hydrationStatus: 3, temperatureC: 31 });
    expect(compound.warnings[0].reason).toBe('hydrationStatus <= 4 (was 3) and temperatureC >= 25 (was 31)');

    const anyRule = compileRules([
      rule({
        conditions: {
          any: [
            { field: 'sleepHours', op: '<', value: 5 },
            { field: 'currentNiggles', op: 'containsLocation', value: 'finger' },
          ],
        },
      }),
    ]);
    const r = evaluateRules(anyRule, ctx({ sleepHours: 8, currentNiggles: [{ location: 'Left index finger', severity: 4 }] }));
    expect(r.warnings[0].reason).toBe('currentNiggles containsLocation "finger" (was Left index finger)');
  });

  it('baseline fields take their range from the variable registry, as the baseline input does', () => {
    expect(BASELINE_RULE_FIELDS).toContain('fearOfFalling');
    for (const spec of BASELINE_NUMERIC_FIELDS) {
      const leaf = (value: number) => def({ conditions: { field: `baseline.${spec.name}`, op: '>=', value } });
      expect(() => validateRuleDefinition(leaf(spec.min!))).not.toThrow();
      expect(() => validateRuleDefinition(leaf(spec.min! - 1)), spec.name).toThrow(`baseline.${spec.name} ranges ${spec.min}-${spec.max}`);
      expect(() => validateRuleDefinition(leaf(spec.max! + 1)), spec.name).toThrow(RuleValidationError);
    }
  });
});

describe('evaluation order and actions', () => {
  it('orders by priority descending, then name ascending', () => {
    expect(SEED_SET.rules.map((r) => [r.rule.priority, r.rule.name])).toEqual(
      [...SEED].map((r) => [r.priority, r.name]).sort((a, b) => (b[0] as number) - (a[0] as number) || String(a[1]).localeCompare(String(b[1]))),
    );
    expect(SEED_SET.rules.slice(0, 2).map((r) => r.rule.name)).toEqual(['pulley_injury_grade2_plus', 'severe_injury_rest_required']);
    const same = compileRules([rule({ name: 'b_rule' }), rule({ name: 'a_rule' }), rule({ name: 'c_rule', priority: 51 })]);
    expect(same.rules.map((r) => r.rule.name)).toEqual(['c_rule', 'a_rule', 'b_rule']);
    expect(evaluateRules(same, ctx({ sleepHours: 3 })).matched).toEqual(['c_rule', 'a_rule', 'b_rule']);
  });

  it('an override keeps the warnings of rules matched before it and is lowered by every ceiling', () => {
    const res = evalSeed({ sleepHours: 4, stressLevel: 9, sorenessLevel: 9, alcoholLast24h: true, fingerInjuryPresent: true });
    // After the override only the rules with a ceiling are still evaluated: alcohol (80) and soreness (70).
    expect(res.matched).toEqual(['finger_injury_no_crimp', 'sleep_deprivation_limit_intensity', 'sleep_plus_stress_compound', 'alcohol_recent_light_session', 'high_soreness_recovery_focus']);
    expect(res.override).toEqual({
      rule: 'sleep_plus_stress_compound',
      category: 'INTERACTION',
      sessionType: 'ACTIVE_RECOVERY',
      message: seedRule('sleep_plus_stress_compound').actions[0].message,
    });
    expect(res.warnings.map((w) => w.rule)).toEqual(res.matched);
    expect(res.constraints.sessionTypeCeiling).toBe('ACTIVE_RECOVERY');
    expect(res.constraints.avoid).toEqual(['crimp_intensive', 'campus_board', 'hangboard', 'limit_bouldering', 'project']);
  });

  it('sleep 5.5 h, stress 8 and 6 days without rest: the LIGHT_SESSION override is lowered to REST_DAY', () => {
    const res = evalSeed({ sleepHours: 5.5, stressLevel: 8, daysSinceRestDay: 6 });
    expect(res.override).toMatchObject({ rule: 'sleep_plus_stress_compound', sessionType: 'REST_DAY' });
    expect(res.matched).toEqual(['sleep_plus_stress_compound', 'consecutive_days_warning']);
    expect(res.warnings.find((w) => w.rule === 'consecutive_days_warning')?.reason).toContain('daysSinceRestDay >= 5 (was 6)');
  });

  it('after an override, rules without a ceiling are not evaluated and no ceiling raises the override', () => {
    const noRest = evalSeed({ sleepHours: 5.5, stressLevel: 8, motivationLevel: 9, energyLevel: 8, sorenessLevel: 2, warmupCompleted: false });
    expect(noRest.override).toMatchObject({ rule: 'sleep_plus_stress_compound', sessionType: 'LIGHT_SESSION' });
    expect(noRest.matched).toEqual(['sleep_plus_stress_compound']);
    expect(noRest.constraints.suggestedSessionType).toBeNull();
    expect(noRest.predictionMultiplier).toBe(1);
    // A looser ceiling after the override leaves it as it is.
    const loose = rule({
      name: 'loose_ceiling',
      priority: 10,
      conditions: { field: 'stressLevel', op: '>=', value: 1 },
      actions: [{ type: 'constrain', sessionTypeCeiling: 'PROJECT', message: 'Anything goes.' }],
    });
    const res = evaluateRules(compileRules([...SEED, loose]), ctx({ sleepHours: 5.5, stressLevel: 8 }));
    expect(res.override).toMatchObject({ rule: 'sleep_plus_stress_compound', sessionType: 'LIGHT_SESSION' });
    expect(res.matched).toEqual(['sleep_plus_stress_compound', 'loose_ceiling']);
  });

  it('pulley grade 2 with high motivation: the REST_DAY override is never replaced', () => {
    const res = evalSeed({ pulleyInjuryGrade: 2, motivationLevel: 10, energyLevel: 9, sorenessLevel: 1, sleepHours: 8, sleepQuality: 9 });
    expect(res.override?.sessionType).toBe('REST_DAY');
    expect(res.override?.rule).toBe('pulley_injury_grade2_plus');
    expect(res.matched).toEqual(['pulley_injury_grade2_plus']);
    expect(res.constraints.suggestedSessionType).toBeNull();
    expect(res.predictionMultiplier).toBe(1);
  });

  it('6 days without rest and soreness 8: ceiling REST_DAY', () => {
    const res = evalSeed({ daysSinceRestDay: 6, sorenessLevel: 8 });
    expect(res.override).toBeNull();
    expect(res.matched).toEqual(['consecutive_days_warning', 'high_soreness_recovery_focus']);
    expect(res.constraints.sessionTypeCeiling).toBe('REST_DAY');
    expect(finalSessionType('PROJECT', res.constraints)).toBe('REST_DAY');
    expect(res.constraints.avoid).toEqual(['limit_bouldering', 'hangboard']);
  });

  it('a PERFORMANCE suggestion is honoured only when it respects every ceiling', () => {
    const keen = { motivationLevel: 9, energyLevel: 8, sorenessLevel: 2 };
    const free = evalSeed(keen);
    expect(free.constraints.suggestedSessionType).toBe('PROJECT');
    expect(finalSessionType('TECHNIQUE', free.constraints)).toBe('PROJECT');

    const tired = evalSeed({ ...keen, sleepHours: 4.5 });
    expect(tired.matched).toContain('high_motivation_project_day');
    expect(tired.constraints.suggestedSessionType).toBeNull();
    expect(finalSessionType('PROJECT', tired.constraints)).toBe('LIGHT_SESSION');
    expect(finalSessionType('ACTIVE_RECOVERY', tired.constraints)).toBe('ACTIVE_RECOVERY');

    // A ceiling from a LOWER-priority rule matched later still blocks the suggestion.
    const lateCeiling = rule({
      name: 'late_ceiling',
      priority: 5,
      conditions: { field: 'motivationLevel', op: '>=', value: 1 },
      actions: [{ type: 'constrain', sessionTypeCeiling: 'VOLUME', message: 'At most volume.' }],
    });
    const lateSuggestion = rule({
      name: 'late_suggestion',
      category: 'PERFORMANCE',
      priority: 4,
      conditions: { field: 'motivationLevel', op: '>=', value: 1 },
      actions: [{ type: 'constrain', sessionType: 'TECHNIQUE', message: 'Technique day.' }],
    });
    const withLate = evaluateRules(compileRules([...SEED, lateCeiling]), ctx(keen));
    expect(withLate.constraints.sessionTypeCeiling).toBe('VOLUME');
    expect(withLate.constraints.suggestedSessionType).toBeNull();
    expect(finalSessionType('PROJECT', withLate.constraints)).toBe('VOLUME');

    // The first suggestion that respects every ceiling wins.
    const both = evaluateRules(compileRules([...SEED, lateCeiling, lateSuggestion]), ctx(keen));
    expect(both.constraints.suggestedSessionType).toBe('TECHNIQUE');
    expect(finalSessionType('PROJECT', both.constraints)).toBe('TECHNIQUE');
  });

  it('a lower-priority override cannot exceed a ceiling imposed before it', () => {
    const lowOverride = rule({
      name: 'low_override',
      priority: 10,
      conditions: { field: 'daysSinceRestDay', op: '>=', value: 0 },
      actions: [{ type: 'override', sessionType: 'VOLUME', message: 'Volume day.' }],
    });
    const res = evaluateRules(compileRules([...SEED, lowOverride]), ctx({ daysSinceRestDay: 5 }));
    expect(res.override).toMatchObject({ rule: 'low_override', sessionType: 'REST_DAY' });
  });

  it('merges warmupMin by max, maxDurationMin by min, flags by or, lists by union', () => {
    const mk = (name: string, priority: number, action: Record<string, unknown>) =>
      rule({ name, priority, conditions: { field: 'energyLevel', op: '>=', value: 1 }, actions: [{ type: 'constrain', message: `${name}.`, ...action }] });
    const set = compileRules([
      mk('first', 90, { warmupMin: 15, maxDurationMin: 120, avoid: ['hangboard', 'campus_board'] }),
      mk('second', 80, { warmupMin: 25, maxDurationMin: 90, avoid: ['campus_board', 'lead_climbing'], include: ['mobility'], hydrationBreaks: true }),
      mk('third', 70, { warmupMin: 10, maxDurationMin: 100, include: ['mobility', 'stretching'], reduceVolume: true }),
    ]);
    const res = evaluateRules(set, ctx({ energyLevel: 5 }));
    expect(res.constraints).toEqual({
      ...emptyConstraints(),
      warmupMin: 25,
      maxDurationMin: 90,
      avoid: ['hangboard', 'campus_board', 'lead_climbing'],
      include: ['mobility', 'stretching'],
      reduceVolume: true,
      hydrationBreaks: true,
    });
    expect(res.warnings.map((w) => w.message)).toEqual(['first.', 'second.', 'third.']);
  });

  it('multiplies prediction multipliers (1.10 x 1.05)', () => {
    const res = evalSeed({ sleepHours: 8, sleepQuality: 8, caffeineToday: true, caffeineHabitual: false });
    expect(res.matched).toEqual(['optimal_sleep_green_light', 'caffeine_timing_boost']);
    expect(res.predictionMultiplier).toBeCloseTo(1.155, 12);
    expect(evalSeed({}).predictionMultiplier).toBe(1);
  });

  it('applyCeiling lowers, never raises', () => {
    const c = { ...emptyConstraints(), sessionTypeCeiling: 'TECHNIQUE' as const };
    expect(applyCeiling('PROJECT', c)).toBe('TECHNIQUE');
    expect(applyCeiling('LIMIT_BOULDERING', c)).toBe('TECHNIQUE');
    expect(applyCeiling('LIGHT_SESSION', c)).toBe('LIGHT_SESSION');
    expect(applyCeiling('PROJECT', emptyConstraints())).toBe('PROJECT');
    expect(finalSessionType('VOLUME', emptyConstraints())).toBe('VOLUME');
  });
});

// ------------------------------------------------------------------------------------------ validation

describe('validateRuleDefinition', () => {
  it('accepts a valid rule and returns a clean copy', () => {
    const r = rule({ extra: 'ignored', confidence: 'high', isActive: true } as never);
    expect(r).toEqual({
      name: 'test_rule',
      description: 'A test rule',
      category: 'CONSERVATIVE',
      priority: 50,
      conditions: { field: 'sleepHours', op: '<', value: 5 },
      actions: [{ type: 'constrain', reduceVolume: true, message: 'Take it easy.' }],
      source: null,
      evidence: null,
    });
  });

  const cases: Array<[string, Partial<Record<keyof RuleDefinitionInput, unknown>>, string, RegExp?]> = [
    ['empty conditions', { conditions: {} }, 'conditions', /at least one condition/],
    ['missing conditions', { conditions: null }, 'conditions'],
    ['empty all', { conditions: { all: [] } }, 'conditions.all', /at least one/],
    ['empty nested any', { conditions: { all: [{ field: 'sleepHours', op: '<', value: 5 }, { any: [] }] } }, 'conditions.all[1].any'],
    [
      'unknown field',
      {
        conditions: {
          all: [
            { field: 'sleepHours', op: '<', value: 5 },
            { field: 'mood', op: '<', value: 5 },
          ],
        },
      },
      'conditions.all[1].field',
      /unknown field "mood"/,
    ],
    ['unknown baseline field', { conditions: { field: 'baseline.shoeSize', op: '>', value: 40 } }, 'conditions.field', /baseline fields are/],
    [
      'unknown op',
      {
        conditions: {
          all: [
            { field: 'sleepHours', op: '<', value: 5 },
            { field: 'stressLevel', op: '=>', value: 7 },
          ],
        },
      },
      'conditions.all[1].op',
      /use one of >= <= > < == != in contains containsLocation/,
    ],
    ['op not fitting the kind', { conditions: { field: 'alcoholLast24h', op: '>=', value: true } }, 'conditions.op', /use one of == !=/],
    ['containsLocation off currentNiggles', { conditions: { field: 'sleepHours', op: 'containsLocation', value: 'finger' } }, 'conditions.op'],
    ['wrong value type', { conditions: { not: { field: 'sleepHours', op: '<', value: 'five' } } }, 'conditions.not.value', /needs a number/],
    ['boolean compared with a string', { conditions: { field: 'alcoholLast24h', op: '==', value: 'yes' } }, 'conditions.value', /true or false/],
    ['value out of range', { conditions: { field: 'sorenessLevel', op: '>=', value: 11 } }, 'conditions.value', /1-10/],
    ['in without an array', { conditions: { field: 'plannedSessionType', op: 'in', value: 'PROJECT' } }, 'conditions.value', /non-empty array/],
    ['in with a bad enum element', { conditions: { field: 'plannedSessionType', op: 'in', value: ['PROJECT', 'NAP'] } }, 'conditions.value[1]', /REST_DAY/],
    ['bad baseline enum value', { conditions: { field: 'baseline.primaryDiscipline', op: '==', value: 'ICE' } }, 'conditions.value', /BOULDER, SPORT, TRAD, MIXED/],
    ['missing value', { conditions: { field: 'sleepHours', op: '<' } }, 'conditions.value'],
    ['unknown key in a leaf', { conditions: { field: 'sleepHours', op: '<', value: 5, unit: 'h' } }, 'conditions.unit'],
    ['two groups in one node', { conditions: { all: [{ field: 'sleepHours', op: '<', value: 5 }], any: [] } }, 'conditions.any'],
    ['bad enum value in actions', { actions: [{ type: 'override', sessionType: 'NAP', message: 'Nap.' }] }, 'actions[0].sessionType', /REST_DAY, ACTIVE_RECOVERY/],
    [
      'bad ceiling',
      {
        actions: [
          { type: 'constrain', reduceVolume: true, message: 'ok' },
          { type: 'constrain', sessionTypeCeiling: 'EASY', message: 'x' },
        ],
      },
      'actions[1].sessionTypeCeiling',
    ],
    ['missing message', { actions: [{ type: 'constrain', reduceVolume: true }] }, 'actions[0].message', /required/],
    ['unknown action type', { actions: [{ type: 'warn', message: 'x' }] }, 'actions[0].type', /override, constrain, adjustPrediction/],
    ['unknown action key', { actions: [{ type: 'constrain', avoids: ['hangboard'], message: 'x' }] }, 'actions[0].avoids'],
    ['empty actions', { actions: [] }, 'actions'],
    ['multiplier out of range', { actions: [{ type: 'adjustPrediction', multiplier: 3, message: 'x' }] }, 'actions[0].multiplier', /0.5 and 1.5/],
    ['zero multiplier', { actions: [{ type: 'adjustPrediction', multiplier: 0, message: 'x' }] }, 'actions[0].multiplier'],
    ['suggestion outside PERFORMANCE', { actions: [{ type: 'constrain', sessionType: 'PROJECT', message: 'x' }] }, 'actions[0].sessionType', /PERFORMANCE/],
    ['avoid with a non-string', { actions: [{ type: 'constrain', avoid: ['hangboard', 3], message: 'x' }] }, 'actions[0].avoid[1]'],
    ['warmupMin not whole', { actions: [{ type: 'constrain', warmupMin: 7.5, message: 'x' }] }, 'actions[0].warmupMin'],
    ['priority 101', { priority: 101 }, 'priority', /0 and 100/],
    ['priority not whole', { priority: 50.5 }, 'priority'],
    ['bad category', { category: 'URGENT' }, 'category', /SAFETY, INTERACTION/],
    ['name not snake_case', { name: 'Sleep Rule' }, 'name', /snake_case/],
    ['empty name', { name: '' }, 'name'],
    ['empty description', { description: ' ' }, 'description'],
  ];

  it.each(cases)('rejects %s', (_, over, path, message) => {
    const err = validationError(def(over));
    expect(err.path).toBe(path);
    expect(err.code).toBe('INVALID_RULE');
    expect(err.message.startsWith(`${path}: `)).toBe(true);
    if (message) expect(err.message).toMatch(message);
  });
});

describe('a leaf reads its own variable of the check-in (by its index in the values)', () => {
  /** A value of the variable's kind, and a leaf that holds exactly for it. */
  const probe = (spec: (typeof CHECK_IN_VARIABLES)[number]): { value: unknown; leaf: { field: string; op: string; value: unknown } } => {
    switch (spec.kind) {
      case 'int':
      case 'float':
        return { value: spec.max, leaf: { field: spec.name, op: '>=', value: spec.max } };
      case 'boolean':
        return { value: true, leaf: { field: spec.name, op: '==', value: true } };
      case 'sessionType':
        return { value: 'PROJECT', leaf: { field: spec.name, op: '==', value: 'PROJECT' } };
      case 'intensity':
        return { value: 'HIGH', leaf: { field: spec.name, op: '==', value: 'HIGH' } };
      case 'timeOfDay':
        return { value: 'EVENING', leaf: { field: spec.name, op: '==', value: 'EVENING' } };
      case 'niggles':
        return { value: [{ location: 'left knee', severity: 2 }], leaf: { field: spec.name, op: 'containsLocation', value: 'knee' } };
    }
  };

  it.each(CHECK_IN_VARIABLES.map((spec) => [spec.name, spec] as const))('%s', (name, spec) => {
    const { value, leaf } = probe(spec);
    const set = compileRules([rule({ name: 'reads', conditions: leaf })]);
    // Every other variable given the value its own leaf would hold for: only this variable's value may match.
    const others = Object.fromEntries(CHECK_IN_VARIABLES.filter((s) => s.name !== name).map((s) => [s.name, probe(s).value])) as CheckIn;
    expect(evaluateRules(set, ctx({ [name]: value } as CheckIn)).matched).toEqual(['reads']);
    expect(evaluateRules(set, ctx(others)).matched).toEqual([]);
    expect(evaluateRules(set, ctx({ ...others, [name]: value } as CheckIn)).warnings[0].reason).toContain('(was ');
  });
});
