// The statistical context of a check-in (domain.md section 7), typed field by field.
import type {
  CoefficientComparison,
  GroupStat,
  PersonalHistory,
  PopulationComparison,
  SimilarSession,
  StatisticalContext,
} from '../engine/statistics.ts';
import { builder } from './builder.ts';

export const IntervalRef = builder.objectRef<{ low: number; high: number }>('Interval').implement({
  fields: (t) => ({ low: t.exposeFloat('low'), high: t.exposeFloat('high') }),
});

const DescriptorEnum = builder.enumType('Descriptor', {
  description: 'How a value compares with the population',
  values: {
    WELL_BELOW_AVERAGE: { value: 'well below average' },
    BELOW_AVERAGE: { value: 'below average' },
    ABOUT_AVERAGE: { value: 'about average' },
    ABOVE_AVERAGE: { value: 'above average' },
    WELL_ABOVE_AVERAGE: { value: 'well above average' },
  } as const,
});

const SensitivityEnum = builder.enumType('Sensitivity', { values: ['MORE_SENSITIVE', 'LESS_SENSITIVE', 'SIMILAR', 'OPPOSITE'] as const });

const PopulationComparisonRef = builder.objectRef<PopulationComparison>('PopulationComparison').implement({
  fields: (t) => ({
    variable: t.exposeString('variable'),
    value: t.exposeFloat('value'),
    populationMean: t.exposeFloat('populationMean'),
    populationStd: t.exposeFloat('populationStd'),
    zScore: t.exposeFloat('zScore'),
    percentile: t.exposeFloat('percentile', { description: '0-100' }),
    descriptor: t.expose('descriptor', { type: DescriptorEnum }),
  }),
});

const GroupStatRef = builder.objectRef<GroupStat>('GroupStat').implement({
  description: 'Sessions in a group and their mean quality (null when none)',
  fields: (t) => ({ n: t.exposeInt('n'), mean: t.exposeFloat('mean', { nullable: true }) }),
});

type Groups<K extends string> = Record<K, GroupStat>;
const groups = <K extends string>(name: string, keys: readonly K[]) =>
  builder.objectRef<Groups<K>>(name).implement({
    fields: (t) => Object.fromEntries(keys.map((k) => [k, t.field({ type: GroupStatRef, resolve: (g) => g[k] })])),
  });

const SleepGroupsRef = groups('SleepGroups', ['under6h', 'atLeast7h'] as const);
const StressGroupsRef = groups('StressGroups', ['high', 'lower'] as const);
const CaffeineGroupsRef = groups('CaffeineGroups', ['atLeast200mg', 'under50mg'] as const);
const RestGroupsRef = groups('RestGroups', ['upTo1', 'from2To4', 'atLeast5'] as const);

const PersonalHistoryRef = builder.objectRef<PersonalHistory>('PersonalHistory').implement({
  description: "The athlete's last completed, rated sessions (at most 30)",
  fields: (t) => ({
    n: t.exposeInt('n'),
    mean: t.exposeFloat('mean', { nullable: true }),
    sd: t.exposeFloat('sd', { nullable: true }),
    best: t.exposeFloat('best', { nullable: true }),
    worst: t.exposeFloat('worst', { nullable: true }),
    trendPerSession: t.exposeFloat('trendPerSession', { nullable: true, description: 'Least-squares slope of quality per session' }),
    sleep: t.field({ type: SleepGroupsRef, resolve: (h) => h.sleep }),
    stress: t.field({ type: StressGroupsRef, resolve: (h) => h.stress }),
    caffeine: t.field({ type: CaffeineGroupsRef, resolve: (h) => h.caffeine }),
    daysSinceHardSession: t.field({ type: RestGroupsRef, resolve: (h) => h.daysSinceHardSession }),
  }),
});

const SimilarSessionRef = builder.objectRef<SimilarSession>('SimilarSession').implement({
  fields: (t) => ({
    sessionId: t.exposeID('sessionId'),
    date: t.field({ type: 'DateTime', resolve: (s) => new Date(s.date) }),
    similarity: t.exposeFloat('similarity', { description: '1 / (1 + distance), in (0, 1]' }),
    sharedFeatures: t.exposeInt('sharedFeatures'),
    sessionQuality: t.exposeFloat('sessionQuality'),
  }),
});

const CoefficientComparisonRef = builder.objectRef<CoefficientComparison>('CoefficientComparison').implement({
  fields: (t) => ({
    variable: t.exposeString('variable'),
    userCoefficient: t.exposeFloat('userCoefficient'),
    populationCoefficient: t.exposeFloat('populationCoefficient'),
    difference: t.exposeFloat('difference'),
    ratio: t.exposeFloat('ratio', { nullable: true }),
    userInterval: t.field({ type: IntervalRef, description: "The athlete's 95 % credible interval", resolve: (c) => ({ low: c.userInterval[0], high: c.userInterval[1] }) }),
    clearlyDifferent: t.exposeBoolean('clearlyDifferent'),
    sensitivity: t.expose('sensitivity', { type: SensitivityEnum }),
    message: t.exposeString('message'),
  }),
});

export const StatisticalContextRef = builder.objectRef<StatisticalContext>('StatisticalContext').implement({
  fields: (t) => ({
    populationComparison: t.field({ type: [PopulationComparisonRef], resolve: (c) => c.populationComparison }),
    personalHistory: t.field({ type: PersonalHistoryRef, resolve: (c) => c.personalHistory }),
    similarSessions: t.field({ type: [SimilarSessionRef], resolve: (c) => c.similarSessions }),
    coefficientComparisons: t.field({ type: [CoefficientComparisonRef], resolve: (c) => c.coefficientComparisons }),
    insights: t.exposeStringList('insights'),
  }),
});
