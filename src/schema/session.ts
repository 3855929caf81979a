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
import { IntensityEnum, OrderDirectionEnum, RecommendationSourceEnum, SessionStatusEnum, SessionTypeEnum, TimeOfDayEnum } from './enums.ts';
import { uuid } from './ids.ts';
import { lagTolerantReader } from '../resolvers/read-routing.ts';

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
      id: t.exposeID('id', { description: 'The session id (uuid)' }),
      user: t.relation('user', { description: 'The athlete' }),
      status: t.expose('status', { type: SessionStatusEnum, description: 'ACTIVE until completed or cancelled' }),
      startedAt: t.expose('startedAt', { type: 'DateTime', description: 'When the session started' }),
      endedAt: t.expose('endedAt', { type: 'DateTime', nullable: true, description: 'When it was completed or cancelled; null while ACTIVE' }),
      sessionType: t.expose('sessionType', { type: SessionTypeEnum, nullable: true, description: 'The session type actually done, once completed' }),
      location: t.exposeString('location', { nullable: true, description: 'Where, free text (gym or crag); null if not given' }),
      isOutdoor: t.exposeBoolean('isOutdoor', { nullable: true, description: 'Outdoors (true) or indoors (false); null if not given' }),
      ...Object.fromEntries([...CHECK_IN_VARIABLES, ...SESSION_FIELDS].map((spec) => [spec.name, variable(spec)])),
      plannedCaffeineMg: t.exposeInt('plannedCaffeineMg', { nullable: true, description: 'Caffeine planned at check-in, mg (the check-in caffeineMg as planned); null if not given' }),
      plannedWarmupMin: t.exposeInt('plannedWarmupMin', { nullable: true, description: 'Warm-up planned at check-in, minutes; null if not given' }),
      highestGradeSent: t.exposeString('highestGradeSent', { nullable: true, description: 'Hardest grade climbed in the session, free text; null if not given' }),
      notes: t.exposeString('notes', { nullable: true, description: "The athlete's notes on the session; null if none" }),
      deviatedFromPlan: t.exposeBoolean('deviatedFromPlan', { description: 'Did the session differ from the plan? Then the actual* values, not the planned ones, train the model' }),
      deviationReason: t.exposeString('deviationReason', { nullable: true, description: 'Why it differed, free text; null if not given' }),
      recommendation: t.relation('recommendation', { nullable: true, description: 'The recommendation the session was started with' }),
      recommendationFollowed: t.exposeBoolean('recommendationFollowed', { nullable: true, description: "The athlete's answer: did they follow the recommendation? Null if not given" }),
      preSessionData: t.expose('preSessionData', { type: 'JSON', nullable: true, description: 'The full check-in form as the client sent it; null if not sent' }),
      postSessionData: t.expose('postSessionData', { type: 'JSON', nullable: true, description: 'The full post-session form as the client sent it; null if not sent' }),
      createdAt: t.expose('createdAt', { type: 'DateTime', description: 'When the row was created' }),
      updatedAt: t.expose('updatedAt', { type: 'DateTime', description: 'When the row last changed' }),
    };
  },
});

/** The one connection type of session lists (Query.sessions, User.sessions). */
export const ClimbingSessionConnection = builder.connectionObject(
  { type: ClimbingSessionRef, name: 'ClimbingSessionConnection', description: 'A page of climbing sessions' },
  { description: 'A climbing session in a page' },
);

const SessionOrderFieldEnum = builder.enumType('SessionOrderField', {
  description: 'What sessions are sorted by',
  values: { STARTED_AT: { description: 'When the session started' }, QUALITY: { description: 'Its rating, sessionQuality' } } as const,
});
const SessionOrderInput = builder.inputType('SessionOrder', {
  description: 'Ties are broken by startedAt, then id, in the same direction; unrated sessions come last',
  fields: (t) => ({
    field: t.field({ type: SessionOrderFieldEnum, required: true, description: 'The value to sort by' }),
    direction: t.field({ type: OrderDirectionEnum, required: true, defaultValue: 'DESC', description: 'Default: DESC' }),
  }),
});

const quality = z
  .number()
  .int({ error: 'must be a whole number between 1 and 10' })
  .min(1, { error: 'must be a whole number between 1 and 10' })
  .max(10, { error: 'must be a whole number between 1 and 10' });

const StartSessionInputType = registryInputType('StartSessionInput', {
  description: 'Check-in and plan; the session starts ACTIVE.',
  specs: [...CHECK_IN_VARIABLES, ...PLAN_FIELDS],
  fields: (t) => ({
    recommendationId: t.id({
      validate: uuid,
      description: 'The recommendation acted on (your own); check-in values left out here are taken from it',
    }),
    startedAt: t.field({ type: 'DateTime', description: 'Default: now' }),
    location: t.string({ validate: text(200), description: 'Where, free text (gym or crag; at most 200 characters)' }),
    isOutdoor: t.boolean({ description: 'Outdoors (true) or indoors (false)' }),
    preSessionData: t.field({ type: 'JSON', description: 'The full check-in form as the client sent it' }),
  }),
});

/** The outcome's fields besides its registry variables (OUTCOME_FIELDS). */
const outcomeFields = (t: InputFields) => ({
  highestGradeSent: t.string({ validate: text(16), description: 'Hardest grade climbed, free text (at most 16 characters)' }),
  notes: t.string({ validate: text(5000), description: 'Notes on the session (at most 5000 characters)' }),
  deviatedFromPlan: t.boolean({ description: 'Did the session differ from the plan? Then actual* values replace planned ones in training' }),
  deviationReason: t.string({ validate: text(1000), description: 'Why it differed (at most 1000 characters)' }),
  recommendationFollowed: t.boolean({ description: 'Did the athlete follow the recommendation?' }),
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
    startedAt: t.field({ type: 'DateTime', description: 'A corrected start; not after the end' }),
    location: t.string({ validate: text(200), description: 'Where, free text (at most 200 characters)' }),
    isOutdoor: t.boolean({ description: 'Outdoors (true) or indoors (false)' }),
    ...outcomeFields(t),
  }),
});

builder.queryFields((t) => ({
  session: t.prismaField({
    type: 'ClimbingSession',
    nullable: true,
    authScopes: { authenticated: true },
    description: "A session by id: your own, a linked athlete's for their coaches, or anyone's for analysts and admins; null if there is no such session",
    args: { id: t.arg.id({ required: true, validate: uuid, description: 'The session id (uuid)' }) },
    resolve: (query, _root, args, ctx) => readSession(ctx, args.id, query),
  }),
  sessions: t.prismaConnection(
    {
      type: 'ClimbingSession',
      // The values of both orders (STARTED_AT, QUALITY): a page after a deleted session is placed by them.
      cursor: 'sessionQuality_startedAt_id',
      authScopes: { authenticated: true },
      description: 'Sessions, newest first unless orderBy says otherwise (max 100 a page). Athletes see only their own.',
      args: {
        userId: t.arg.id({ validate: uuid, description: "Only this athlete's sessions (another athlete: analysts, admins and their linked coaches)" }),
        status: t.arg({ type: SessionStatusEnum, description: 'Only sessions in this status' }),
        from: t.arg({ type: 'DateTime', description: 'startedAt >= from' }),
        to: t.arg({ type: 'DateTime', description: 'startedAt <= to' }),
        sessionType: t.arg({ type: SessionTypeEnum, description: 'The session type actually done' }),
        qualityMin: t.arg.int({ validate: quality, description: 'sessionQuality >= qualityMin (unrated sessions never match)' }),
        qualityMax: t.arg.int({ validate: quality, description: 'sessionQuality <= qualityMax' }),
        source: t.arg({ type: RecommendationSourceEnum, description: 'Only sessions started with a recommendation from this source (a rule override or the model)' }),
        rule: t.arg.string({
          validate: z.string().trim().min(1, 'rule must name an expert rule').max(200, 'rule is at most 200 characters'),
          description: 'Only sessions whose recommendation matched this expert rule (its name, as in rules { name }; an unknown name is refused)',
        }),
        orderBy: t.arg({ type: SessionOrderInput, description: 'Default: STARTED_AT DESC' }),
      },
      // An analyst's listing reads a replica when one is set (src/resolvers/read-routing.ts); an athlete's own, the primary.
      totalCount: async (_root, args, ctx, info) => lagTolerantReader(ctx, info, args.userId).climbingSession.count({ where: await sessionsWhere(ctx, args) }),
      resolve: async (query, _root, args, ctx, info) =>
        lagTolerantReader(ctx, info, args.userId).climbingSession.findMany({ ...query, where: await sessionsWhere(ctx, args), orderBy: sessionsOrderBy(args.orderBy) }),
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
    args: { input: t.arg({ type: StartSessionInputType, required: true, description: 'Check-in and plan' }) },
    resolve: (query, _root, args, ctx) => startSession(ctx, args.input as StartSessionInput, query),
  }),
  completeSession: t.prismaField({
    type: 'ClimbingSession',
    authScopes: { authenticated: true },
    description: 'Ends one of your ACTIVE sessions with its outcome: it becomes COMPLETED and updates your model at once (CONFLICT if it is not ACTIVE)',
    args: {
      id: t.arg.id({ required: true, validate: uuid, description: 'The session id (uuid)' }),
      input: t.arg({ type: CompleteSessionInputType, required: true, description: 'The outcome, with its rating' }),
    },
    resolve: (query, _root, args, ctx) => completeSession(ctx, args.id, args.input as OutcomeInput, query),
  }),
  cancelSession: t.prismaField({
    type: 'ClimbingSession',
    authScopes: { authenticated: true },
    description: 'Ends one of your ACTIVE sessions without an outcome: it becomes CANCELLED and never trains the model (CONFLICT if it is not ACTIVE)',
    args: { id: t.arg.id({ required: true, validate: uuid, description: 'The session id (uuid)' }) },
    resolve: (query, _root, args, ctx) => cancelSession(ctx, args.id, query),
  }),
  updateSession: t.prismaField({
    type: 'ClimbingSession',
    authScopes: { authenticated: true },
    description: 'Corrects one of your sessions: fields given are changed, fields left out kept; outcome fields only once COMPLETED',
    args: {
      id: t.arg.id({ required: true, validate: uuid, description: 'The session id (uuid)' }),
      input: t.arg({ type: UpdateSessionInputType, required: true, description: 'The corrections' }),
    },
    resolve: (query, _root, args, ctx) => updateSession(ctx, args.id, args.input as UpdateSessionInput, query),
  }),
  deleteSession: t.id({
    authScopes: { authenticated: true },
    description: 'Deletes one of your sessions for good; returns its id (NOT_FOUND if there is none)',
    args: { id: t.arg.id({ required: true, validate: uuid, description: 'The session id (uuid)' }) },
    resolve: (_root, args, ctx) => deleteSession(ctx, args.id),
  }),
}));
