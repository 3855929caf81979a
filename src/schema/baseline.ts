import { BASELINE_NUMERIC_FIELDS } from '../engine/variables.ts';
import { readableUserId } from '../resolvers/access.ts';
import { recordBaselineAssessment, type BaselineInput } from '../resolvers/baseline.ts';
import { builder } from './builder.ts';
import { registryInputType } from './check-in.ts';
import { DisciplineEnum, SexEnum } from './enums.ts';
import { uuid } from './ids.ts';
import { z } from 'zod';

const grade = z.string().trim().min(1).max(16);

builder.prismaObject('BaselineAssessment', {
  description: "An athlete's profile: body, experience, strength and psychology. Exactly one is current per athlete.",
  fields: (t) => ({
    id: t.exposeID('id'),
    user: t.relation('user'),
    assessedAt: t.expose('assessedAt', { type: 'DateTime' }),
    isCurrent: t.exposeBoolean('isCurrent'),
    age: t.exposeInt('age', { nullable: true }),
    sex: t.expose('sex', { type: SexEnum, nullable: true }),
    heightCm: t.exposeFloat('heightCm', { nullable: true }),
    weightKg: t.exposeFloat('weightKg', { nullable: true }),
    armSpanCm: t.exposeFloat('armSpanCm', { nullable: true }),
    yearsClimbing: t.exposeFloat('yearsClimbing', { nullable: true }),
    currentBoulderGrade: t.exposeString('currentBoulderGrade', { nullable: true }),
    peakBoulderGrade: t.exposeString('peakBoulderGrade', { nullable: true }),
    currentRouteGrade: t.exposeString('currentRouteGrade', { nullable: true }),
    peakRouteGrade: t.exposeString('peakRouteGrade', { nullable: true }),
    primaryDiscipline: t.expose('primaryDiscipline', { type: DisciplineEnum, nullable: true }),
    sessionsPerWeek: t.exposeFloat('sessionsPerWeek', { nullable: true }),
    maxHangWeightKg: t.exposeFloat('maxHangWeightKg', { nullable: true }),
    maxHangEdgeMm: t.exposeInt('maxHangEdgeMm', { nullable: true }),
    maxPullups: t.exposeInt('maxPullups', { nullable: true }),
    fearOfFalling: t.exposeInt('fearOfFalling', { nullable: true }),
    performanceAnxiety: t.exposeInt('performanceAnxiety', { nullable: true }),
    competitionOrientation: t.exposeInt('competitionOrientation', { nullable: true }),
    processVsOutcome: t.exposeInt('processVsOutcome', { nullable: true }),
    typicalRecoveryDays: t.exposeInt('typicalRecoveryDays', { nullable: true }),
    sleepQualityTypical: t.exposeInt('sleepQualityTypical', { nullable: true }),
    injuryHistory: t.expose('injuryHistory', { type: 'JSON', nullable: true }),
    hasCoach: t.exposeBoolean('hasCoach', { nullable: true }),
    hasHangboard: t.exposeBoolean('hasHangboard', { nullable: true }),
    hasHomeWall: t.exposeBoolean('hasHomeWall', { nullable: true }),
    gymAccess: t.exposeBoolean('gymAccess', { nullable: true }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
  }),
});

const BaselineAssessmentInput = registryInputType('BaselineAssessmentInput', {
  specs: BASELINE_NUMERIC_FIELDS,
  fields: (t) => ({
    assessedAt: t.field({ type: 'DateTime' }),
    sex: t.field({ type: SexEnum }),
    primaryDiscipline: t.field({ type: DisciplineEnum }),
    currentBoulderGrade: t.string({ validate: grade }),
    peakBoulderGrade: t.string({ validate: grade }),
    currentRouteGrade: t.string({ validate: grade }),
    peakRouteGrade: t.string({ validate: grade }),
    injuryHistory: t.field({ type: 'JSON', description: 'Free-form list of past injuries' }),
    hasCoach: t.boolean(),
    hasHangboard: t.boolean(),
    hasHomeWall: t.boolean(),
    gymAccess: t.boolean(),
  }),
});

builder.queryFields((t) => ({
  baselineAssessment: t.prismaField({
    type: 'BaselineAssessment',
    nullable: true,
    authScopes: { authenticated: true },
    description: 'The current baseline assessment of a user (default: the viewer)',
    args: { userId: t.arg.id({ validate: uuid }) },
    resolve: (_query, _root, args, ctx) => ctx.loaders.currentBaseline.load(readableUserId(ctx, args.userId)),
  }),
}));

builder.mutationFields((t) => ({
  recordBaselineAssessment: t.prismaField({
    type: 'BaselineAssessment',
    authScopes: { authenticated: true },
    description: 'Records a new current baseline; the previous one is retired in the same transaction',
    args: { input: t.arg({ type: BaselineAssessmentInput, required: true }) },
    resolve: (query, _root, args, ctx) => recordBaselineAssessment(ctx, stripNulls(args.input) as BaselineInput, query),
  }),
}));

/** GraphQL null and "absent" both mean "not given" for inputs that create a row. */
export function stripNulls<T extends object>(input: T): Partial<T> {
  return Object.fromEntries(Object.entries(input).filter(([, v]) => v !== null && v !== undefined)) as Partial<T>;
}
