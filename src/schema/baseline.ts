import { BASELINE_NUMERIC_FIELDS, type VariableSpec } from '../engine/variables.ts';
import { readableUserId } from '../resolvers/access.ts';
import { recordBaselineAssessment, type BaselineInput } from '../resolvers/baseline.ts';
import { builder } from './builder.ts';
import { describeVariable, registryInputType } from './check-in.ts';
import { DisciplineEnum, SexEnum } from './enums.ts';
import { uuid } from './ids.ts';
import { z } from 'zod';

const grade = z.string().trim().min(1).max(16);

/** The registry's description of a numeric baseline field; null in the answer means not assessed. */
const measured = (name: (typeof BASELINE_NUMERIC_FIELDS)[number]['name']) =>
  ({
    nullable: true,
    description: `${describeVariable(BASELINE_NUMERIC_FIELDS.find((f) => f.name === name) as VariableSpec)}; null if not given`,
  }) as const;

const FIELD_TEXT = {
  assessedAt: 'When the assessment was made (default: when it was recorded)',
  sex: 'Self-reported sex',
  primaryDiscipline: 'The kind of climbing the athlete mostly does',
  currentBoulderGrade: 'Current bouldering grade in any scale the client uses, e.g. "V5" or "6C" (at most 16 characters)',
  peakBoulderGrade: 'Best bouldering grade ever climbed (at most 16 characters)',
  currentRouteGrade: 'Current route grade, e.g. "7a" or "5.11c" (at most 16 characters)',
  peakRouteGrade: 'Best route grade ever climbed (at most 16 characters)',
  injuryHistory: 'Free-form list of past injuries',
  hasCoach: 'Trains with a coach',
  hasHangboard: 'Has a hangboard at hand',
  hasHomeWall: 'Has a home wall',
  gymAccess: 'Has access to a climbing gym',
} as const;
const text = (name: keyof typeof FIELD_TEXT) => ({ nullable: true, description: `${FIELD_TEXT[name]}; null if not given` }) as const;

builder.prismaObject('BaselineAssessment', {
  description: "An athlete's profile: body, experience, strength and psychology. Exactly one is current per athlete.",
  fields: (t) => ({
    id: t.exposeID('id', { description: 'The assessment id (uuid)' }),
    user: t.relation('user', { description: 'The athlete assessed' }),
    assessedAt: t.expose('assessedAt', { type: 'DateTime', description: FIELD_TEXT.assessedAt }),
    isCurrent: t.exposeBoolean('isCurrent', { description: "Is this the athlete's current assessment? (a newer one retires it)" }),
    age: t.exposeInt('age', measured('age')),
    sex: t.expose('sex', { type: SexEnum, ...text('sex') }),
    heightCm: t.exposeFloat('heightCm', measured('heightCm')),
    weightKg: t.exposeFloat('weightKg', measured('weightKg')),
    armSpanCm: t.exposeFloat('armSpanCm', measured('armSpanCm')),
    yearsClimbing: t.exposeFloat('yearsClimbing', measured('yearsClimbing')),
    currentBoulderGrade: t.exposeString('currentBoulderGrade', text('currentBoulderGrade')),
    peakBoulderGrade: t.exposeString('peakBoulderGrade', text('peakBoulderGrade')),
    currentRouteGrade: t.exposeString('currentRouteGrade', text('currentRouteGrade')),
    peakRouteGrade: t.exposeString('peakRouteGrade', text('peakRouteGrade')),
    primaryDiscipline: t.expose('primaryDiscipline', { type: DisciplineEnum, ...text('primaryDiscipline') }),
    sessionsPerWeek: t.exposeFloat('sessionsPerWeek', measured('sessionsPerWeek')),
    maxHangWeightKg: t.exposeFloat('maxHangWeightKg', measured('maxHangWeightKg')),
    maxHangEdgeMm: t.exposeInt('maxHangEdgeMm', measured('maxHangEdgeMm')),
    maxPullups: t.exposeInt('maxPullups', measured('maxPullups')),
    fearOfFalling: t.exposeInt('fearOfFalling', measured('fearOfFalling')),
    performanceAnxiety: t.exposeInt('performanceAnxiety', measured('performanceAnxiety')),
    competitionOrientation: t.exposeInt('competitionOrientation', measured('competitionOrientation')),
    processVsOutcome: t.exposeInt('processVsOutcome', measured('processVsOutcome')),
    typicalRecoveryDays: t.exposeInt('typicalRecoveryDays', measured('typicalRecoveryDays')),
    sleepQualityTypical: t.exposeInt('sleepQualityTypical', measured('sleepQualityTypical')),
    injuryHistory: t.expose('injuryHistory', { type: 'JSON', ...text('injuryHistory') }),
    hasCoach: t.exposeBoolean('hasCoach', text('hasCoach')),
    hasHangboard: t.exposeBoolean('hasHangboard', text('hasHangboard')),
    hasHomeWall: t.exposeBoolean('hasHomeWall', text('hasHomeWall')),
    gymAccess: t.exposeBoolean('gymAccess', text('gymAccess')),
    createdAt: t.expose('createdAt', { type: 'DateTime', description: 'When it was recorded' }),
  }),
});

const BaselineAssessmentInput = registryInputType('BaselineAssessmentInput', {
  description: "An athlete's profile; every field may be left out (not assessed).",
  specs: BASELINE_NUMERIC_FIELDS,
  fields: (t) => ({
    assessedAt: t.field({ type: 'DateTime', description: FIELD_TEXT.assessedAt }),
    sex: t.field({ type: SexEnum, description: FIELD_TEXT.sex }),
    primaryDiscipline: t.field({ type: DisciplineEnum, description: FIELD_TEXT.primaryDiscipline }),
    currentBoulderGrade: t.string({ validate: grade, description: FIELD_TEXT.currentBoulderGrade }),
    peakBoulderGrade: t.string({ validate: grade, description: FIELD_TEXT.peakBoulderGrade }),
    currentRouteGrade: t.string({ validate: grade, description: FIELD_TEXT.currentRouteGrade }),
    peakRouteGrade: t.string({ validate: grade, description: FIELD_TEXT.peakRouteGrade }),
    injuryHistory: t.field({ type: 'JSON', description: FIELD_TEXT.injuryHistory }),
    hasCoach: t.boolean({ description: FIELD_TEXT.hasCoach }),
    hasHangboard: t.boolean({ description: FIELD_TEXT.hasHangboard }),
    hasHomeWall: t.boolean({ description: FIELD_TEXT.hasHomeWall }),
    gymAccess: t.boolean({ description: FIELD_TEXT.gymAccess }),
  }),
});

builder.queryFields((t) => ({
  baselineAssessment: t.prismaField({
    type: 'BaselineAssessment',
    nullable: true,
    authScopes: { authenticated: true },
    description: 'The current baseline assessment of a user (default: the viewer); null if none was recorded',
    args: { userId: t.arg.id({ validate: uuid, description: 'Whose (default: yours); another user: analysts, admins and their linked coaches' }) },
    resolve: async (_query, _root, args, ctx) => ctx.loaders.currentBaseline.load(await readableUserId(ctx, args.userId)),
  }),
}));

builder.mutationFields((t) => ({
  recordBaselineAssessment: t.prismaField({
    type: 'BaselineAssessment',
    authScopes: { authenticated: true },
    description: 'Records a new current baseline; the previous one is retired in the same transaction',
    args: { input: t.arg({ type: BaselineAssessmentInput, required: true, description: 'The new assessment' }) },
    resolve: (query, _root, args, ctx) => recordBaselineAssessment(ctx, stripNulls(args.input) as BaselineInput, query),
  }),
}));

/** GraphQL null and "absent" both mean "not given" for inputs that create a row. */
export function stripNulls<T extends object>(input: T): Partial<T> {
  return Object.fromEntries(Object.entries(input).filter(([, v]) => v !== null && v !== undefined)) as Partial<T>;
}
