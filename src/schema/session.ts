import { z } from 'zod';
import { CHECK_IN_VARIABLES, SESSION_FIELDS, type VariableSpec } from '../engine/variables.ts';
import {
  cancelSession,
  completeSession,
  deleteSession,
  readSession,
  sessionsOrderBy,
  sessionsWhere,
  startSession,
  updateSession,
  type OutcomeInput,
  type StartSessionInput,
  type UpdateSessionInput,
} from '../resolvers/sessions.ts';
import { builder } from './builder.ts';
import { registryInputType, type InputFields } from './check-in.ts';
import { IntensityEnum, OrderDirectionEnum, SessionStatusEnum, SessionTypeEnum, TimeOfDayEnum } from './enums.ts';
import { uuid } from './ids.ts';

const text = (max: number) => z.string().max(max, { error: `must be at most ${max} characters` });
const byName = (names: string[]) => SESSION_FIELDS.filter((f) => names.includes(f.name)) as VariableSpec[];
const PLAN_FIELDS = byName(['plannedDurationMin']);
const OUTCOME_FIELDS = SESSION_FIELDS.filter((f) => f.name !== 'plannedDurationMin') as VariableSpec[];

export const ClimbingSessionRef = builder.prismaObject('ClimbingSession', {
  description: 'One climbing session: check-in and plan, then outcome and any deviation from the plan.',
  fields: (t) => {
    const variable = (spec: VariableSpec) => {
      const opts = { nullable: true, description: spec.description } as const;
      switch (spec.kind) {
        case 'int':
          return t.exposeInt(spec.name as 'sleepQuality', opts);
        case 'float':
          return t.exposeFloat(spec.name as 'sleepHours', opts);
        case 'boolean':
          return t.exposeBoolean(spec.name as 'alcoholLast24h', opts);
        case 'sessionType':
          return t.expose(spec.name as 'plannedSessionType', { ...opts, type: SessionTypeEnum });
        case 'intensity':
          return t.expose(spec.name as 'plannedIntensity', { ...opts, type: IntensityEnum });
        case 'timeOfDay':
          return t.expose(spec.name as 'timeOfDay', { ...opts, type: TimeOfDayEnum });
        case 'niggles':
          return t.expose(spec.name as 'currentNiggles', { ...opts, type: 'JSON' });
      }
    };
    return {
      id: t.exposeID('id'),
      user: t.relation('user'),
      status: t.expose('status', { type: SessionStatusEnum }),
      startedAt: t.expose('startedAt', { type: 'DateTime' }),
      endedAt: t.expose('endedAt', { type: 'DateTime', nullable: true }),
      sessionType: t.expose('sessionType', { type: SessionTypeEnum, nullable: true, description: 'The session type actually done, once completed' }),
      location: t.exposeString('location', { nullable: true }),
      isOutdoor: t.exposeBoolean('isOutdoor', { nullable: true }),
      ...Object.fromEntries([...CHECK_IN_VARIABLES, ...SESSION_FIELDS].map((spec) => [spec.name, variable(spec)])),
      plannedCaffeineMg: t.exposeInt('plannedCaffeineMg', { nullable: true }),
      plannedWarmupMin: t.exposeInt('plannedWarmupMin', { nullable: true }),
      highestGradeSent: t.exposeString('highestGradeSent', { nullable: true }),
      notes: t.exposeString('notes', { nullable: true }),
      deviatedFromPlan: t.exposeBoolean('deviatedFromPlan'),
      deviationReason: t.exposeString('deviationReason', { nullable: true }),
      recommendation: t.relation('recommendation', { nullable: true, description: 'The recommendation the session was started with' }),
      recommendationFollowed: t.exposeBoolean('recommendationFollowed', { nullable: true }),
      preSessionData: t.expose('preSessionData', { type: 'JSON', nullable: true }),
      postSessionData: t.expose('postSessionData', { type: 'JSON', nullable: true }),
      createdAt: t.expose('createdAt', { type: 'DateTime' }),
      updatedAt: t.expose('updatedAt', { type: 'DateTime' }),
    };
  },
});

/** The one connection type of session lists (Query.sessions, User.sessions). */
export const ClimbingSessionConnection = builder.connectionObject({ type: ClimbingSessionRef, name: 'ClimbingSessionConnection' });

const SessionOrderFieldEnum = builder.enumType('SessionOrderField', { values: ['STARTED_AT', 'QUALITY'] as const });
const SessionOrderInput = builder.inputType('SessionOrder', {
  description: 'Ties are broken by startedAt, then id, in the same direction; unrated sessions come last',
  fields: (t) => ({
    field: t.field({ type: SessionOrderFieldEnum, required: true }),
    direction: t.field({ type: OrderDirectionEnum, required: true, defaultValue: 'DESC' }),
  }),
});

const quality = z.number().int({ error: 'must be a whole number between 1 and 10' }).min(1, { error: 'must be a whole number between 1 and 10' }).max(10, { error: 'must be a whole number between 1 and 10' });

const StartSessionInputType = registryInputType('StartSessionInput', {
  description: 'Check-in and plan; the session starts ACTIVE.',
  specs: [...CHECK_IN_VARIABLES, ...PLAN_FIELDS],
  fields: (t) => ({
    recommendationId: t.id({
      validate: uuid,
      description: 'The recommendation acted on (your own); check-in values left out here are taken from it',
    }),
    startedAt: t.field({ type: 'DateTime', description: 'Default: now' }),
    location: t.string({ validate: text(200) }),
    isOutdoor: t.boolean(),
    preSessionData: t.field({ type: 'JSON', description: 'The full check-in form as the client sent it' }),
  }),
});

/** The outcome's fields besides its registry variables (OUTCOME_FIELDS). */
const outcomeFields = (t: InputFields) => ({
  highestGradeSent: t.string({ validate: text(16) }),
  notes: t.string({ validate: text(5000) }),
  deviatedFromPlan: t.boolean({ description: 'Did the session differ from the plan? Then actual* values replace planned ones in training' }),
  deviationReason: t.string({ validate: text(1000) }),
  recommendationFollowed: t.boolean(),
  endedAt: t.field({ type: 'DateTime', description: 'Default: now' }),
  postSessionData: t.field({ type: 'JSON', description: 'The full post-session form' }),
});

const CompleteSessionInputType = registryInputType('CompleteSessionInput', {
  description: 'Outcome of a session; sessionQuality (1-10) is required.',
  specs: OUTCOME_FIELDS,
  required: ['sessionQuality'],
  fields: outcomeFields,
});

const UpdateSessionInputType = registryInputType('UpdateSessionInput', {
  description: 'Corrections: any check-in, plan or (for completed sessions) outcome field.',
  specs: [...CHECK_IN_VARIABLES, ...PLAN_FIELDS, ...OUTCOME_FIELDS],
  fields: (t) => ({
    startedAt: t.field({ type: 'DateTime' }),
    location: t.string({ validate: text(200) }),
    isOutdoor: t.boolean(),
    ...outcomeFields(t),
  }),
});

builder.queryFields((t) => ({
  session: t.prismaField({
    type: 'ClimbingSession',
    nullable: true,
    authScopes: { authenticated: true },
    args: { id: t.arg.id({ required: true, validate: uuid }) },
    resolve: (query, _root, args, ctx) => readSession(ctx, args.id, query),
  }),
  sessions: t.prismaConnection(
    {
      type: 'ClimbingSession',
      cursor: 'startedAt_id',
      authScopes: { authenticated: true },
      description: 'Sessions, newest first unless orderBy says otherwise (max 100 a page). Athletes see only their own.',
      args: {
        userId: t.arg.id({ validate: uuid }),
        status: t.arg({ type: SessionStatusEnum }),
        from: t.arg({ type: 'DateTime', description: 'startedAt >= from' }),
        to: t.arg({ type: 'DateTime', description: 'startedAt <= to' }),
        sessionType: t.arg({ type: SessionTypeEnum, description: 'The session type actually done' }),
        qualityMin: t.arg.int({ validate: quality, description: 'sessionQuality >= qualityMin (unrated sessions never match)' }),
        qualityMax: t.arg.int({ validate: quality, description: 'sessionQuality <= qualityMax' }),
        orderBy: t.arg({ type: SessionOrderInput, description: 'Default: STARTED_AT DESC' }),
      },
      totalCount: (_root, args, ctx) => ctx.services.prisma.climbingSession.count({ where: sessionsWhere(ctx, args) }),
      resolve: (query, _root, args, ctx) =>
        ctx.services.prisma.climbingSession.findMany({ ...query, where: sessionsWhere(ctx, args), orderBy: sessionsOrderBy(args.orderBy) }),
    },
    ClimbingSessionConnection,
  ),
}));

builder.mutationFields((t) => ({
  startSession: t.prismaField({
    type: 'ClimbingSession',
    authScopes: { authenticated: true },
    description:
      'Check in and start a session, linked to the recommendation acted on (recommendationId, from the stream or the recommendation query); without one the check-in is recommended on now and linked. A repeated start with the same recommendationId returns the session already started.',
    args: { input: t.arg({ type: StartSessionInputType, required: true }) },
    resolve: (query, _root, args, ctx) => startSession(ctx, args.input as StartSessionInput, query),
  }),
  completeSession: t.prismaField({
    type: 'ClimbingSession',
    authScopes: { authenticated: true },
    args: { id: t.arg.id({ required: true, validate: uuid }), input: t.arg({ type: CompleteSessionInputType, required: true }) },
    resolve: (query, _root, args, ctx) => completeSession(ctx, args.id, args.input as OutcomeInput, query),
  }),
  cancelSession: t.prismaField({
    type: 'ClimbingSession',
    authScopes: { authenticated: true },
    args: { id: t.arg.id({ required: true, validate: uuid }) },
    resolve: (query, _root, args, ctx) => cancelSession(ctx, args.id, query),
  }),
  updateSession: t.prismaField({
    type: 'ClimbingSession',
    authScopes: { authenticated: true },
    args: { id: t.arg.id({ required: true, validate: uuid }), input: t.arg({ type: UpdateSessionInputType, required: true }) },
    resolve: (query, _root, args, ctx) => updateSession(ctx, args.id, args.input as UpdateSessionInput, query),
  }),
  deleteSession: t.id({
    authScopes: { authenticated: true },
    args: { id: t.arg.id({ required: true, validate: uuid }) },
    resolve: (_root, args, ctx) => deleteSession(ctx, args.id),
  }),
}));
