// The statistical context of a check-in (domain.md section 7), typed field by field.
import type { CoefficientComparison, Descriptor, GroupStat, PersonalHistory, PopulationComparison, SimilarSession, StatisticalContext } from '../engine/statistics.ts';
import { builder } from './builder.ts';

export const IntervalRef = builder.objectRef<{ low: number; high: number }>('Interval').implement({
  description: 'A range of values, both ends inclusive',
  fields: (t) => ({ low: t.exposeFloat('low', { description: 'Lower end' }), high: t.exposeFloat('high', { description: 'Upper end' }) }),
});

// The enum's values are its names, as every enum's here: a stream's events then go out without graphql-jit's leaf
// serializers (src/http/jit-execution.ts). The engine's words map to them in the field's resolve.
const DescriptorEnum = builder.enumType('Descriptor', {
  description: 'How a value compares with the population',
  values: {
    WELL_BELOW_AVERAGE: { description: 'z below -1.5' },
    BELOW_AVERAGE: { description: 'z from -1.5 to -0.5' },
    ABOUT_AVERAGE: { description: 'z within ±0.5' },
    ABOVE_AVERAGE: { description: 'z from 0.5 to 1.5' },
    WELL_ABOVE_AVERAGE: { description: 'z above 1.5' },
  } as const,
});

const DESCRIPTOR_VALUES: Record<Descriptor, 'WELL_BELOW_AVERAGE' | 'BELOW_AVERAGE' | 'ABOUT_AVERAGE' | 'ABOVE_AVERAGE' | 'WELL_ABOVE_AVERAGE'> = {
  'well below average': 'WELL_BELOW_AVERAGE',
  'below average': 'BELOW_AVERAGE',
  'about average': 'ABOUT_AVERAGE',
  'above average': 'ABOVE_AVERAGE',
  'well above average': 'WELL_ABOVE_AVERAGE',
};

const SensitivityEnum = builder.enumType('Sensitivity', {
  description: "How the athlete's effect of a variable compares with the population's, in the expected direction",
  values: {
    MORE_SENSITIVE: { description: 'A larger effect than for most climbers' },
    LESS_SENSITIVE: { description: 'A smaller effect than for most climbers' },
    SIMILAR: { description: 'About the same effect' },
    OPPOSITE: { description: 'No effect, or one in the other direction' },
  } as const,
});

const PopulationComparisonRef = builder.objectRef<PopulationComparison>('PopulationComparison').implement({
  description: "A check-in value against the population's observed distribution of that variable",
  fields: (t) => ({
    variable: t.exposeString('variable', { description: 'The check-in variable (camelCase name)' }),
    value: t.exposeFloat('value', { description: "Today's value" }),
    populationMean: t.exposeFloat('populationMean', { description: 'Mean over all completed sessions (4 decimals)' }),
    populationStd: t.exposeFloat('populationStd', { description: 'Standard deviation over all completed sessions (4 decimals)' }),
    zScore: t.exposeFloat('zScore', { description: '(value - populationMean) / populationStd, 4 decimals; descriptor reads this value' }),
    percentile: t.exposeFloat('percentile', { description: '0-100 (2 decimals)' }),
    descriptor: t.field({ type: DescriptorEnum, description: 'The z-score in words', resolve: (c) => DESCRIPTOR_VALUES[c.descriptor] }),
  }),
});

const GroupStatRef = builder.objectRef<GroupStat>('GroupStat').implement({
  description: 'Sessions in a group and their mean quality (null when none)',
  fields: (t) => ({
    n: t.exposeInt('n', { description: 'Rated sessions in the group' }),
    mean: t.exposeFloat('mean', { nullable: true, description: 'Their mean session quality (1-10, 2 decimals); null when n = 0' }),
  }),
});

type Groups<K extends string> = Record<K, GroupStat>;
/** An object of GroupStat fields, one per key, each described by its condition. */
const groups = <K extends string>(name: string, description: string, keys: Readonly<Record<K, string>>) =>
  builder.objectRef<Groups<K>>(name).implement({
    description,
    fields: (t) =>
      Object.fromEntries((Object.entries(keys) as [K, string][]).map(([k, condition]) => [k, t.field({ type: GroupStatRef, description: `Sessions ${condition}`, resolve: (g) => g[k] })])),
  });

const SleepGroupsRef = groups('SleepGroups', "The athlete's sessions by the sleep before them", { under6h: 'after less than 6 h of sleep', atLeast7h: 'after 7 h of sleep or more' });
const StressGroupsRef = groups('StressGroups', "The athlete's sessions by stress at check-in", { high: 'with stress 7 or more', lower: 'with stress below 7' });
const CaffeineGroupsRef = groups('CaffeineGroups', "The athlete's sessions by caffeine planned", { atLeast200mg: 'with 200 mg of caffeine or more', under50mg: 'with less than 50 mg of caffeine' });
const RestGroupsRef = groups('RestGroups', "The athlete's sessions by days since the last hard session", {
  upTo1: 'at most 1 day after a hard session',
  from2To4: '2-4 days after a hard session',
  atLeast5: '5 days or more after a hard session',
});

const PersonalHistoryRef = builder.objectRef<PersonalHistory>('PersonalHistory').implement({
  description: "The athlete's last completed, rated sessions (at most 30)",
  fields: (t) => ({
    n: t.exposeInt('n', { description: 'Sessions counted (0-30)' }),
    mean: t.exposeFloat('mean', { nullable: true, description: 'Mean session quality (1-10, 2 decimals); null when n = 0' }),
    sd: t.exposeFloat('sd', { nullable: true, description: 'Standard deviation of the quality (2 decimals); null below 2 sessions' }),
    best: t.exposeFloat('best', { nullable: true, description: 'Highest quality; null when n = 0' }),
    worst: t.exposeFloat('worst', { nullable: true, description: 'Lowest quality; null when n = 0' }),
    trendPerSession: t.exposeFloat('trendPerSession', { nullable: true, description: 'Least-squares slope of quality per session (4 decimals)' }),
    sleep: t.expose('sleep', { type: SleepGroupsRef, description: 'By sleep before the session' }),
    stress: t.expose('stress', { type: StressGroupsRef, description: 'By stress at check-in' }),
    caffeine: t.expose('caffeine', { type: CaffeineGroupsRef, description: 'By caffeine planned' }),
    daysSinceHardSession: t.expose('daysSinceHardSession', { type: RestGroupsRef, description: 'By rest since the last hard session' }),
  }),
});

const SimilarSessionRef = builder.objectRef<SimilarSession>('SimilarSession').implement({
  description: "One of the athlete's past rated sessions whose check-in resembles today's",
  fields: (t) => ({
    sessionId: t.exposeID('sessionId', { description: 'The past session (uuid)' }),
    date: t.field({ type: 'DateTime', description: 'When it started', resolve: (s) => new Date(s.date) }),
    similarity: t.exposeFloat('similarity', { description: '1 / (1 + distance), in (0, 1] (4 decimals)' }),
    sharedFeatures: t.exposeInt('sharedFeatures', { description: 'Check-in variables given in both check-ins (the distance is over these)' }),
    sessionQuality: t.exposeFloat('sessionQuality', { description: 'Its rating (1-10)' }),
  }),
});

const CoefficientComparisonRef = builder.objectRef<CoefficientComparison>('CoefficientComparison').implement({
  description: "One variable's effect in the athlete's model against the population's",
  fields: (t) => ({
    variable: t.exposeString('variable', { description: 'The model variable (camelCase name)' }),
    userCoefficient: t.exposeFloat('userCoefficient', { description: "The athlete's coefficient: quality points per unit of the variable" }),
    populationCoefficient: t.exposeFloat('populationCoefficient', { description: "The population's mean coefficient, same units" }),
    difference: t.exposeFloat('difference', { description: 'userCoefficient - populationCoefficient' }),
    ratio: t.exposeFloat('ratio', {
      nullable: true,
      description: "The athlete's effect relative to the population's; null when the population's is 0 or the athlete's has the opposite sign",
    }),
    userInterval: t.field({ type: IntervalRef, description: "The athlete's 95 % credible interval", resolve: (c) => ({ low: c.userInterval[0], high: c.userInterval[1] }) }),
    clearlyDifferent: t.exposeBoolean('clearlyDifferent', { description: "The population's coefficient lies outside the athlete's interval" }),
    sensitivity: t.expose('sensitivity', { type: SensitivityEnum, description: 'The comparison in one word' }),
    message: t.exposeString('message', { description: 'The comparison as a sentence for the athlete' }),
  }),
});

export const StatisticalContextRef = builder.objectRef<StatisticalContext>('StatisticalContext').implement({
  description: "Numbers that put today's check-in in context: the population, the athlete's own history and model",
  fields: (t) => ({
    populationComparison: t.expose('populationComparison', {
      type: [PopulationComparisonRef],
      description: 'Each given check-in variable against the population (variables without statistics left out)',
    }),
    personalHistory: t.expose('personalHistory', { type: PersonalHistoryRef, description: "The athlete's recent rated sessions" }),
    similarSessions: t.expose('similarSessions', { type: [SimilarSessionRef], description: 'The most similar past sessions, most similar first' }),
    coefficientComparisons: t.expose('coefficientComparisons', { type: [CoefficientComparisonRef], description: "Each model variable's effect for the athlete against the population" }),
    insights: t.exposeStringList('insights', { description: 'The notable findings above as sentences for the athlete' }),
  }),
});
