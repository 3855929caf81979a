// Reference data through the real server: the seeded priors (domain.md section 5) and rules (section 4), the
// admin mutations that edit them (and what an athlete then notices in a recommendation), and rule validation:
// a malformed rule is BAD_USER_INPUT naming the bad part and leaves the stored rule as it was.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { roundRating } from '../../src/engine/rounding.ts';
import { expectError, gql, gqlOk } from '../support/foundation.ts';
import { coldStartPrediction } from '../support/recommendation.ts';
import { startTestServer, tokenFor, type TestServer } from '../support/server.ts';

let server: TestServer;
let admin: { token: string; id: string };
let athlete: { token: string; id: string };
let analyst: { token: string; id: string };

beforeAll(async () => {
  server = await startTestServer();
  [admin, athlete, analyst] = await Promise.all([tokenFor('admin'), tokenFor('athlete'), tokenFor('analyst')]);
});
afterAll(async () => {
  await server?.close();
});

const RULE_FIELDS = 'id name description conditions actions category priority confidence source evidence isActive expiresAt supersededBy { name } createdAt updatedAt';
const UPSERT_RULE = `mutation($input: ExpertRuleInput!) { upsertExpertRule(input: $input) { ${RULE_FIELDS} } }`;
const SET_ACTIVE = `mutation($name: String!, $active: Boolean!) { setExpertRuleActive(name: $name, active: $active) { ${RULE_FIELDS} } }`;
const RULES = `query($all: Boolean) { expertRules(includeInactive: $all) { ${RULE_FIELDS} } }`;
const PRIOR_FIELDS =
  'id variable populationMean populationStd individualVariance referenceValue effectDirection category confidence source literatureRefs description optimalMin optimalMax isActive updatedAt';
const UPSERT_PRIOR = `mutation($input: PopulationPriorInput!) { upsertPopulationPrior(input: $input) { ${PRIOR_FIELDS} } }`;
const PRIORS = `{ populationPriors { ${PRIOR_FIELDS} } }`;
const RECOMMEND = 'query($input: PreSessionInput!) { recommendation(input: $input) { source sessionType override { rule sessionType message } prediction { expectedQuality rawQuality } } }';

/** What RULE_FIELDS selects of an ExpertRule (conditions and actions are the rule's JSON). */
interface Rule {
  id: string;
  name: string;
  description: string;
  conditions: unknown;
  actions: unknown;
  category: string;
  priority: number;
  confidence: string | null;
  source: string | null;
  evidence: string | null;
  isActive: boolean;
  expiresAt: string | null;
  supersededBy: { name: string } | null;
  createdAt: string;
  updatedAt: string;
}
/** What PRIOR_FIELDS selects of a PopulationPrior. */
interface Prior {
  id: string;
  variable: string;
  populationMean: number;
  populationStd: number;
  individualVariance: number;
  referenceValue: number | null;
  effectDirection: string | null;
  category: string | null;
  confidence: string | null;
  source: string | null;
  literatureRefs: string[] | null;
  description: string | null;
  optimalMin: number | null;
  optimalMax: number | null;
  isActive: boolean;
  updatedAt: string;
}
/** What RECOMMEND selects. */
interface Recommended {
  recommendation: {
    source: string;
    sessionType: string;
    override: { rule: string; sessionType: string; message: string } | null;
    prediction: { expectedQuality: number; rawQuality: number } | null;
  };
}

/** The seed rules of domain.md section 4 in evaluation order: priority descending, then name ascending. */
const SEED_RULE_ORDER = [
  'pulley_injury_grade2_plus',
  'severe_injury_rest_required',
  'finger_injury_no_crimp',
  'sleep_deprivation_limit_intensity',
  'sleep_plus_stress_compound',
  'consecutive_days_warning',
  'fear_plus_fatigue_danger',
  'alcohol_recent_light_session',
  'dehydration_plus_heat',
  'training_load_spike',
  'high_soreness_recovery_focus',
  'high_motivation_project_day',
  'warmup_requirement',
  'optimal_sleep_green_light',
  'caffeine_timing_boost',
];

const rulesAs = async (token: string, all = false): Promise<Rule[]> => (await gqlOk<{ expertRules: Rule[] }>(server.url, RULES, { all }, token)).expertRules;
const ruleNamed = async (name: string) => (await rulesAs(admin.token, true)).find((r) => r.name === name);
const priors = async (): Promise<Prior[]> => (await gqlOk<{ populationPriors: Prior[] }>(server.url, PRIORS, {}, athlete.token)).populationPriors;

describe('seeded reference data', () => {
  it('serves the 18 seeded priors, ordered by variable', async () => {
    const list = await priors();
    expect(list).toHaveLength(18);
    expect(list.map((p) => p.variable)).toEqual([...list.map((p) => p.variable)].sort());
    expect(list.map((p) => p.variable).sort()).toEqual(
      [
        'intercept',
        'sleepHours',
        'sleepQuality',
        'energyLevel',
        'stressLevel',
        'motivationLevel',
        'sorenessLevel',
        'daysSinceHardSession',
        'caffeineMg',
        'warmupMin',
        'fearOfFalling',
        'performanceAnxiety',
        'alcoholLast24h',
        'injurySeverity',
        'pulleyInjuryGrade',
        'fingerInjuryPresent',
        'hydrationStatus',
        'trainingLoadChange',
      ].sort(),
    );
    // Numbers of domain.md section 5.
    expect(list.find((p) => p.variable === 'intercept')).toMatchObject({ populationMean: 6, populationStd: 1, individualVariance: 1 });
    expect(list.find((p) => p.variable === 'stressLevel')).toMatchObject({ populationMean: -0.18, populationStd: 0.06, individualVariance: 0.2, referenceValue: 4 });
    expect(list.find((p) => p.variable === 'caffeineMg')).toMatchObject({ populationMean: 0.003, populationStd: 0.002, optimalMin: 100, optimalMax: 300 });
    expect(list.find((p) => p.variable === 'pulleyInjuryGrade')).toMatchObject({ populationMean: -0.5, populationStd: 0.15 });
  });

  it('serves the 15 seeded rules by priority descending, then name', async () => {
    const rules = await rulesAs(athlete.token);
    expect(rules.map((r) => r.name)).toEqual(SEED_RULE_ORDER);
    const priorities = rules.map((r) => r.priority);
    expect(priorities).toEqual([...priorities].sort((a, b) => b - a));
    expect(rules[0]).toMatchObject({ category: 'SAFETY', priority: 100, conditions: { field: 'pulleyInjuryGrade', op: '>=', value: 2 }, isActive: true });
    expect(rules[0].actions).toEqual([expect.objectContaining({ type: 'override', sessionType: 'REST_DAY' })]);
  });
});

describe('expert rules', () => {
  const cold = {
    name: 'admin_cold_override',
    description: 'Frozen hands: rest instead',
    conditions: { all: [{ field: 'temperatureC', op: '<=', value: -30 }, { not: { field: 'warmupCompleted', op: '==', value: true } }] },
    actions: [{ type: 'override', sessionType: 'REST_DAY', message: 'Too cold to climb safely today' }],
    category: 'SAFETY',
    priority: 99,
    source: 'ClimbIQ tests',
  };

  it('an admin creates a rule: it is listed in evaluation order and overrides matching check-ins at once', async () => {
    const before = await gqlOk<Recommended>(server.url, RECOMMEND, { input: { temperatureC: -35 } }, athlete.token);
    expect(before.recommendation.source).toBe('MODEL');
    const created = (await gqlOk<{ upsertExpertRule: Rule }>(server.url, UPSERT_RULE, { input: cold }, admin.token)).upsertExpertRule;
    expect(created).toMatchObject({ ...cold, isActive: true, supersededBy: null, expiresAt: null });
    const names = (await rulesAs(athlete.token)).map((r) => r.name);
    expect(names).toEqual([...SEED_RULE_ORDER.slice(0, 2), 'admin_cold_override', ...SEED_RULE_ORDER.slice(2)]);
    const after = await gqlOk<Recommended>(server.url, RECOMMEND, { input: { temperatureC: -35 } }, athlete.token);
    expect(after.recommendation).toMatchObject({
      source: 'RULE_OVERRIDE',
      sessionType: 'REST_DAY',
      override: { rule: 'admin_cold_override', message: 'Too cold to climb safely today' },
      prediction: null,
    });
    // Not matching: warm-up done.
    expect((await gqlOk<Recommended>(server.url, RECOMMEND, { input: { temperatureC: -35, warmupCompleted: true } }, athlete.token)).recommendation.source).toBe('MODEL');
  });

  it('upserting an existing name updates that rule', async () => {
    const updated = (await gqlOk<{ upsertExpertRule: Rule }>(server.url, UPSERT_RULE, { input: { ...cold, priority: 20, description: 'Frozen hands (reviewed)', evidence: 'consensus' } }, admin.token))
      .upsertExpertRule;
    expect(updated).toMatchObject({ name: cold.name, priority: 20, description: 'Frozen hands (reviewed)', evidence: 'consensus' });
    const all = await rulesAs(admin.token, true);
    expect(all.filter((r) => r.name === cold.name)).toHaveLength(1);
    expect(all.map((r) => r.name).indexOf(cold.name)).toBe(SEED_RULE_ORDER.length); // priority 20: last
  });

  it('setExpertRuleActive deactivates and reactivates: inactive rules stop applying and are listed only on request to readers', async () => {
    const off = (await gqlOk<{ setExpertRuleActive: Rule }>(server.url, SET_ACTIVE, { name: cold.name, active: false }, admin.token)).setExpertRuleActive;
    expect(off).toMatchObject({ name: cold.name, isActive: false });
    expect((await rulesAs(athlete.token)).map((r) => r.name)).not.toContain(cold.name);
    expect((await rulesAs(athlete.token, true)).map((r) => r.name)).not.toContain(cold.name);
    expect((await rulesAs(analyst.token, true)).find((r) => r.name === cold.name)).toMatchObject({ isActive: false });
    expect((await gqlOk<Recommended>(server.url, RECOMMEND, { input: { temperatureC: -35 } }, athlete.token)).recommendation.source).toBe('MODEL');

    expect((await gqlOk<{ setExpertRuleActive: Rule }>(server.url, SET_ACTIVE, { name: cold.name, active: true }, admin.token)).setExpertRuleActive.isActive).toBe(true);
    expect((await gqlOk<Recommended>(server.url, RECOMMEND, { input: { temperatureC: -35 } }, athlete.token)).recommendation.source).toBe('RULE_OVERRIDE');
  });

  it('a seeded rule can be switched off and on; an unknown name is NOT_FOUND', async () => {
    expect((await gqlOk<Recommended>(server.url, RECOMMEND, { input: { pulleyInjuryGrade: 2 } }, athlete.token)).recommendation.override?.rule).toBe('pulley_injury_grade2_plus');
    await gqlOk<{ setExpertRuleActive: Rule }>(server.url, SET_ACTIVE, { name: 'pulley_injury_grade2_plus', active: false }, admin.token);
    expect((await gqlOk<Recommended>(server.url, RECOMMEND, { input: { pulleyInjuryGrade: 2 } }, athlete.token)).recommendation.override).toBeNull();
    await gqlOk<{ setExpertRuleActive: Rule }>(server.url, SET_ACTIVE, { name: 'pulley_injury_grade2_plus', active: true }, admin.token);
    expect((await gqlOk<Recommended>(server.url, RECOMMEND, { input: { pulleyInjuryGrade: 2 } }, athlete.token)).recommendation.override?.rule).toBe('pulley_injury_grade2_plus');
    expectError(await gql(server.url, SET_ACTIVE, { name: 'no_such_rule', active: false }, admin.token), 'NOT_FOUND');
  });

  it('a rule can name the rule that supersedes it (which must exist)', async () => {
    const successor = { ...cold, name: 'admin_cold_override_v2', priority: 98 };
    await gqlOk<{ upsertExpertRule: Rule }>(server.url, UPSERT_RULE, { input: successor }, admin.token);
    const superseded = (await gqlOk<{ upsertExpertRule: Rule }>(server.url, UPSERT_RULE, { input: { ...cold, priority: 20, supersededBy: successor.name } }, admin.token)).upsertExpertRule;
    expect(superseded.supersededBy).toEqual({ name: successor.name });
    expect((await gqlOk<Recommended>(server.url, RECOMMEND, { input: { temperatureC: -35 } }, athlete.token)).recommendation.override?.rule).toBe(successor.name);
    expectError(await gql<{ upsertExpertRule: Rule }>(server.url, UPSERT_RULE, { input: { ...cold, supersededBy: 'no_such_rule' } }, admin.token), 'BAD_USER_INPUT', 'supersededBy');
    expectError(await gql<{ upsertExpertRule: Rule }>(server.url, UPSERT_RULE, { input: { ...cold, supersededBy: cold.name } }, admin.token), 'BAD_USER_INPUT', 'supersededBy');
  });
});

describe('rule validation', () => {
  const base = {
    name: 'validation_probe_rule',
    description: 'Short sleep: lighter session',
    conditions: {
      all: [
        { field: 'sleepHours', op: '<', value: 4 },
        { field: 'stressLevel', op: '>=', value: 8 },
      ],
    },
    actions: [{ type: 'constrain', sessionTypeCeiling: 'LIGHT_SESSION', message: 'Keep it light today' }],
    category: 'CONSERVATIVE',
    priority: 45,
  };
  const leaf = { field: 'sleepHours', op: '<', value: 4 };
  const invalid: [string, Record<string, unknown>, string][] = [
    ['empty conditions', { conditions: {} }, 'conditions'],
    ['an empty all', { conditions: { all: [] } }, 'conditions.all'],
    ['an unknown field', { conditions: { all: [leaf, { field: 'moonPhase', op: '==', value: 1 }] } }, 'conditions.all[1].field'],
    ['an unknown baseline field', { conditions: { any: [{ field: 'baseline.shoeSize', op: '>', value: 40 }] } }, 'conditions.any[0].field'],
    ['an unknown op', { conditions: { all: [leaf, { field: 'stressLevel', op: '~=', value: 8 }] } }, 'conditions.all[1].op'],
    ['an op that does not fit the field', { conditions: { field: 'alcoholLast24h', op: '>', value: 1 } }, 'conditions.op'],
    ['in without an array', { conditions: { all: [leaf, { field: 'plannedSessionType', op: 'in', value: 'PROJECT' }] } }, 'conditions.all[1].value'],
    ['a value of the wrong type', { conditions: { all: [leaf, { field: 'stressLevel', op: '>=', value: 'high' }] } }, 'conditions.all[1].value'],
    ['a boolean compared with a string', { conditions: { not: { field: 'alcoholLast24h', op: '==', value: 'yes' } } }, 'conditions.not.value'],
    ['an enum value that does not exist', { conditions: { field: 'plannedSessionType', op: 'in', value: ['PROJECT', 'NAP'] } }, 'conditions.value[1]'],
    ['a missing value', { conditions: { field: 'sleepHours', op: '<' } }, 'conditions.value'],
    ['a bad action sessionType', { actions: [{ type: 'override', sessionType: 'NAP', message: 'Sleep instead' }] }, 'actions[0].sessionType'],
    ['a bad ceiling', { actions: [{ type: 'constrain', sessionTypeCeiling: 'EASY', message: 'x' }] }, 'actions[0].sessionTypeCeiling'],
    ['an unknown action type', { actions: [{ type: 'explode', message: 'x' }] }, 'actions[0].type'],
    ['no actions', { actions: [] }, 'actions'],
    ['an action without message', { actions: [{ type: 'override', sessionType: 'REST_DAY' }] }, 'actions[0].message'],
    ['priority 101', { priority: 101 }, 'priority'],
    ['priority -1', { priority: -1 }, 'priority'],
    ['a name that is not snake_case', { name: 'Bad Name' }, 'name'],
    ['an empty description', { description: '  ' }, 'description'],
    ['an unknown category', { category: 'FUN' }, 'category'],
  ];

  it('the probe rule itself is valid', async () => {
    expect((await gqlOk<{ upsertExpertRule: Rule }>(server.url, UPSERT_RULE, { input: base }, admin.token)).upsertExpertRule).toMatchObject(base);
  });

  it.each(invalid)('refuses %s as BAD_USER_INPUT naming %s... and leaves the stored rule as it was', async (_label, change, field) => {
    const before = await ruleNamed(base.name);
    const countBefore = (await rulesAs(admin.token, true)).length;
    const res = await gql<{ upsertExpertRule: Rule }>(server.url, UPSERT_RULE, { input: { ...base, ...change } }, admin.token);
    const error = expectError(res, 'BAD_USER_INPUT', field);
    expect(error.message).toContain(field);
    expect(res.data?.upsertExpertRule ?? null).toBeNull();
    expect(await ruleNamed(base.name)).toEqual(before);
    expect((await rulesAs(admin.token, true)).length).toBe(countBefore);
  });

  it('a malformed edit of a seeded rule leaves it working as before', async () => {
    const before = await ruleNamed('sleep_deprivation_limit_intensity');
    const res = await gql(
      server.url,
      UPSERT_RULE,
      { input: { ...base, name: 'sleep_deprivation_limit_intensity', conditions: { all: [{ field: 'sleepHours', op: 'lessThan', value: 5 }] } } },
      admin.token,
    );
    expectError(res, 'BAD_USER_INPUT', 'conditions.all[0].op');
    expect(await ruleNamed('sleep_deprivation_limit_intensity')).toEqual(before);
    const rec = (
      await gqlOk<{ recommendation: { rulesApplied: string[]; constraints: { sessionTypeCeiling: string | null } | null } }>(
        server.url,
        'query { recommendation(input: { sleepHours: 4 }) { rulesApplied constraints { sessionTypeCeiling } } }',
        {},
        athlete.token,
      )
    ).recommendation;
    expect(rec.rulesApplied).toContain('sleep_deprivation_limit_intensity');
    expect(rec.constraints?.sessionTypeCeiling).toBe('LIGHT_SESSION');
  });
});

describe('population priors', () => {
  it('an admin edits a prior: it is served at once and the cold-start prediction follows it', async () => {
    const input = { input: {} };
    // The intercept's prior mean at the reference values, and the expected rating given the bounds of the scale.
    const prediction = async () => (await gqlOk<Recommended>(server.url, RECOMMEND, input, athlete.token)).recommendation.prediction;
    expect(await prediction()).toEqual({ rawQuality: 6, expectedQuality: roundRating(coldStartPrediction({}).expected) });
    const edited = (
      await gqlOk<{ upsertPopulationPrior: Prior }>(
        server.url,
        UPSERT_PRIOR,
        { input: { variable: 'intercept', populationMean: 7, populationStd: 1, individualVariance: 1, source: 'test edit', literatureRefs: ['Test 2026'] } },
        admin.token,
      )
    ).upsertPopulationPrior;
    expect(edited).toMatchObject({ variable: 'intercept', populationMean: 7, populationStd: 1, source: 'test edit', literatureRefs: ['Test 2026'] });
    expect((await priors()).find((p) => p.variable === 'intercept')).toMatchObject({ populationMean: 7, source: 'test edit' });
    expect(await prediction()).toEqual({ rawQuality: 7, expectedQuality: roundRating(coldStartPrediction({}, { interceptMean: 7 }).expected) });
    await gqlOk(server.url, UPSERT_PRIOR, { input: { variable: 'intercept', populationMean: 6, populationStd: 1, individualVariance: 1 } }, admin.token);
    expect(await prediction()).toEqual({ rawQuality: 6, expectedQuality: roundRating(coldStartPrediction({}).expected) });
  });

  it('an admin adds a prior for a check-in variable that had none', async () => {
    const created = (
      await gqlOk<{ upsertPopulationPrior: Prior }>(
        server.url,
        UPSERT_PRIOR,
        { input: { variable: 'temperatureC', populationMean: -0.01, populationStd: 0.01, effectDirection: 'negative', optimalMin: 10, optimalMax: 22 } },
        admin.token,
      )
    ).upsertPopulationPrior;
    expect(created).toMatchObject({ variable: 'temperatureC', populationMean: -0.01, effectDirection: 'negative', optimalMin: 10, optimalMax: 22, literatureRefs: [], isActive: true });
    expect(await priors()).toHaveLength(19);
  });

  it('refuses an invalid prior naming the field and changes nothing', async () => {
    const before = await priors();
    const cases: [Record<string, unknown>, string][] = [
      [{ variable: 'moonPhase', populationMean: 0.1, populationStd: 0.1 }, 'variable'],
      [{ variable: 'sleepHours', populationMean: 0.1, populationStd: 0 }, 'populationStd'],
      [{ variable: 'sleepHours', populationMean: 0.1, populationStd: 0.1, individualVariance: -1 }, 'individualVariance'],
      [{ variable: 'sleepHours', populationMean: 0.1, populationStd: 0.1, optimalMin: 9, optimalMax: 7 }, 'optimalMin'],
      [{ variable: 'sleepHours', populationMean: 0.1, populationStd: 0.1, effectDirection: 'sideways' }, 'effectDirection'],
    ];
    for (const [input, field] of cases) expectError(await gql(server.url, UPSERT_PRIOR, { input }, admin.token), 'BAD_USER_INPUT', field);
    expect(await priors()).toEqual(before);
  });
});
