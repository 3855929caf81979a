// Coaches and their athletes: invitations, links, the link history, coaches' notes and the team's live check-ins.
import { z } from 'zod';
import {
  acceptCoachInvitation,
  activeCoachLinksOf,
  addCoachNote,
  type CoachedAthleteEdge,
  coachedAthletes,
  type CreatedInvitation,
  createCoachInvitation,
  endCoachLink,
  INVITATION_HOURS,
  linkEventsOf,
  teamCheckIns,
} from '../resolvers/coaching.ts';
import { coaches, requireViewer } from '../resolvers/access.ts';
import { forbidden } from '../errors.ts';
import type { Recommendation } from '../generated/prisma/client.ts';
import type { CheckInEvent } from '../pubsub.ts';
import type { SessionType } from '../engine/variables.ts';
import { roundRating } from '../engine/rounding.ts';
import { builder } from './builder.ts';
import { SessionTypeEnum } from './enums.ts';
import { uuid } from './ids.ts';
import { UserRef } from './user.ts';

const CoachInvitationRef = builder.objectRef<CreatedInvitation>('CoachInvitation').implement({
  description: 'An invitation an athlete gives to a coach: its code is shown once, here, and stored only as a hash',
  fields: (t) => ({
    id: t.exposeID('id', { description: 'The invitation id (uuid), as named in the link history' }),
    code: t.exposeString('code', { description: 'The code to hand to the coach (random, 160 bits): redeemable once, until expiresAt' }),
    createdAt: t.expose('createdAt', { type: 'DateTime', description: 'When it was created' }),
    expiresAt: t.expose('expiresAt', { type: 'DateTime', description: 'After this the code is refused' }),
  }),
});

const CoachLinkRef = builder.prismaObject('CoachLink', {
  description: "A coach linked to an athlete by the athlete's consent: while active the coach reads that athlete's data",
  fields: (t) => ({
    id: t.exposeID('id', { description: 'The link id (uuid): pass it to endCoachLink' }),
    coach: t.relation('coach', { description: 'The coach' }),
    athlete: t.relation('athlete', { description: 'The athlete' }),
    since: t.expose('since', { type: 'DateTime', description: 'When the coach redeemed the invitation' }),
    endedAt: t.expose('endedAt', { type: 'DateTime', nullable: true, description: 'When either side ended it; null while active' }),
    endedBy: t.relation('endedBy', { nullable: true, description: 'Who ended it (the coach or the athlete); null while active' }),
    active: t.boolean({ description: 'Not ended', resolve: (link) => link.endedAt === null }),
  }),
});

const CoachLinkEventKindEnum = builder.enumType('CoachLinkEventKind', {
  description: 'What happened to a coach link',
  values: {
    INVITED: { description: 'The athlete created an invitation' },
    ACCEPTED: { description: 'A coach redeemed it: the link started' },
    ENDED: { description: 'The coach or the athlete ended the link' },
  } as const,
});

const CoachLinkEventRef = builder.prismaObject('CoachLinkEvent', {
  description: 'One event of the consent history (kept for good)',
  fields: (t) => ({
    id: t.exposeID('id', { description: 'The event id (uuid)' }),
    kind: t.expose('kind', { type: CoachLinkEventKindEnum, description: 'What happened' }),
    at: t.expose('at', { type: 'DateTime', description: 'When' }),
    athlete: t.relation('athlete', { description: 'The athlete whose consent it is' }),
    coach: t.relation('coach', { nullable: true, description: 'The coach; null for INVITED' }),
    actor: t.relation('actor', { nullable: true, description: 'Who did it' }),
    linkId: t.exposeID('linkId', { nullable: true, description: 'The link (ACCEPTED, ENDED); null for INVITED' }),
    invitationId: t.exposeID('invitationId', { nullable: true, description: 'The invitation (INVITED, ACCEPTED)' }),
  }),
});

builder.prismaObject('CoachNote', {
  description: "A linked coach's note on one of the athlete's sessions",
  fields: (t) => ({
    id: t.exposeID('id', { description: 'The note id (uuid)' }),
    text: t.exposeString('text', { description: 'The note' }),
    createdAt: t.expose('createdAt', { type: 'DateTime', description: 'When it was written' }),
    coach: t.relation('coach', { nullable: true, description: 'The coach who wrote it' }),
  }),
});

builder.prismaObjectField('ClimbingSession', 'coachNotes', (t) =>
  t.relation('coachNotes', { description: "Notes from the athlete's coaches, oldest first", query: { orderBy: [{ createdAt: 'asc' }, { id: 'asc' }] } }),
);

interface Readiness {
  recommendationId: string;
  sessionType: SessionType;
  expectedQuality: number | null;
  overrideRule: string | null;
  at: Date;
}

const readinessOf = (r: Recommendation | null): Readiness | null =>
  r && { recommendationId: r.id, sessionType: r.sessionType, expectedQuality: roundRating(r.expectedQuality), overrideRule: r.overrideRule, at: r.createdAt };

const ReadinessRef = builder.objectRef<Readiness>('Readiness').implement({
  description: "An athlete's latest check-in as the coach sees it: what they were told to do",
  fields: (t) => ({
    recommendationId: t.exposeID('recommendationId', { description: 'The stored recommendation' }),
    sessionType: t.expose('sessionType', { type: SessionTypeEnum, description: 'The recommended session type' }),
    expectedQuality: t.exposeFloat('expectedQuality', { nullable: true, description: 'Predicted session quality 1-10 (2 decimals); null after a rule override' }),
    overridden: t.boolean({ description: 'Did an expert rule decide the session type instead of the model?', resolve: (r) => r.overrideRule !== null }),
    overrideRule: t.exposeString('overrideRule', { nullable: true, description: 'The rule that overrode it (snake_case); null if none' }),
    at: t.expose('at', { type: 'DateTime', description: 'When the athlete checked in' }),
  }),
});

const CoachedAthleteConnection = builder.connectionObject(
  { type: UserRef, name: 'CoachedAthleteConnection', description: "A page of a coach's athletes (active links, oldest link first)" },
  {
    name: 'CoachedAthleteEdge',
    description: 'An athlete on the roster',
    fields: (t) => ({
      linkId: t.id({ description: 'The link (pass it to endCoachLink)', resolve: (edge) => (edge as CoachedAthleteEdge).link.id }),
      since: t.field({ type: 'DateTime', description: 'When the link started', resolve: (edge) => (edge as CoachedAthleteEdge).link.since }),
      readiness: t.field({
        type: ReadinessRef,
        nullable: true,
        description: "The athlete's latest check-in (today's readiness; see `at` for when); null before their first",
        resolve: async (edge, _args, ctx) => readinessOf(await ctx.loaders.latestRecommendation.load((edge as CoachedAthleteEdge).node.id)),
      }),
    }),
  },
);

builder.prismaObjectFields('User', (t) => ({
  coaches: t.field({
    type: [CoachLinkRef],
    description: "This athlete's active coach links, oldest first (the user themself, analysts and admins)",
    resolve: (user, _args, ctx) => activeCoachLinksOf(ctx, user.id),
  }),
  athletes: t.connection(
    {
      type: UserRef,
      description: "This coach's athletes (active links), oldest link first, each with today's readiness (the user themself, analysts and admins)",
      resolve: (user, args, ctx) => coachedAthletes(ctx, user.id, args),
    },
    CoachedAthleteConnection,
  ),
  coachLinkEvents: t.field({
    type: [CoachLinkEventRef],
    description: 'The link history as athlete or coach, newest first, at most 500 (the user themself, analysts and admins)',
    resolve: (user, _args, ctx) => linkEventsOf(ctx, user.id),
  }),
}));

interface TeamCheckIn extends Omit<CheckInEvent, 'at' | 'sessionType'> {
  at: Date;
  sessionType: SessionType;
}

const TeamCheckInRef = builder.objectRef<TeamCheckIn>('TeamCheckIn').implement({
  description: "A linked athlete's check-in, as its DONE left",
  fields: (t) => ({
    athlete: t.field({
      type: UserRef,
      description: 'The athlete',
      resolve: (c, _args, ctx) => ctx.services.prisma.user.findUniqueOrThrow({ where: { id: c.athleteId } }),
    }),
    recommendationId: t.exposeID('recommendationId', { description: 'The stored recommendation' }),
    sessionType: t.expose('sessionType', { type: SessionTypeEnum, description: 'The recommended session type' }),
    expectedQuality: t.float({ nullable: true, description: 'Predicted session quality 1-10 (2 decimals); null after a rule override', resolve: (c) => roundRating(c.expectedQuality) }),
    overrideRule: t.exposeString('overrideRule', { nullable: true, description: 'The expert rule that overrode the model; null if none' }),
    at: t.expose('at', { type: 'DateTime', description: 'When' }),
  }),
});

const text = z.string().trim().min(1, { error: 'must not be empty' }).max(2000, { error: 'must be at most 2000 characters' });

builder.mutationFields((t) => ({
  createCoachInvitation: t.field({
    type: CoachInvitationRef,
    authScopes: { authenticated: true },
    rateLimit: 'createCoachInvitation',
    description: 'An athlete invites a coach: hand the code to the coach, who redeems it with acceptCoachInvitation (once, before it expires)',
    args: {
      expiresInHours: t.arg.int({
        defaultValue: INVITATION_HOURS.default,
        validate: z
          .number()
          .int()
          .min(INVITATION_HOURS.min, { error: `must be between ${INVITATION_HOURS.min} and ${INVITATION_HOURS.max}` })
          .max(INVITATION_HOURS.max, { error: `must be between ${INVITATION_HOURS.min} and ${INVITATION_HOURS.max}` }),
        description: `Hours the code stays valid (${INVITATION_HOURS.min}-${INVITATION_HOURS.max}, default ${INVITATION_HOURS.default})`,
      }),
    },
    resolve: (_root, args, ctx) => createCoachInvitation(ctx, args.expiresInHours ?? INVITATION_HOURS.default),
  }),
  acceptCoachInvitation: t.field({
    type: CoachLinkRef,
    authScopes: { authenticated: true },
    rateLimit: 'acceptCoachInvitation',
    description: "A coach (or admin) redeems an athlete's invitation code: the link starts. An unknown, expired or used code gets one and the same BAD_USER_INPUT",
    args: { code: t.arg.string({ required: true, validate: z.string().max(200, { error: 'must be at most 200 characters' }), description: 'The code the athlete handed over' }) },
    resolve: (_root, args, ctx) => acceptCoachInvitation(ctx, args.code),
  }),
  endCoachLink: t.field({
    type: CoachLinkRef,
    authScopes: { authenticated: true },
    description: "Ends a link (the coach or the athlete): from now on the coach reads nothing of the athlete's",
    args: { id: t.arg.id({ required: true, validate: uuid, description: 'The link id (uuid)' }) },
    resolve: (_root, args, ctx) => endCoachLink(ctx, args.id),
  }),
  addCoachNote: t.prismaField({
    type: 'CoachNote',
    authScopes: { authenticated: true },
    description: "A linked coach adds a note to one of the athlete's sessions (the athlete sees it in ClimbingSession.coachNotes)",
    args: {
      sessionId: t.arg.id({ required: true, validate: uuid, description: 'The session id (uuid)' }),
      text: t.arg.string({ required: true, validate: text, description: 'The note (1-2000 characters)' }),
    },
    resolve: (_query, _root, args, ctx) => addCoachNote(ctx, args.sessionId, args.text),
  }),
}));

builder.subscriptionFields((t) => ({
  teamCheckIns: t.field({
    type: TeamCheckInRef,
    authScopes: { authenticated: true },
    description: "Coaches: each linked athlete's check-in as its DONE leaves (any instance). An athlete whose link ends delivers nothing more",
    subscribe: (_root, _args, ctx) => {
      if (!coaches(requireViewer(ctx))) throw forbidden('teamCheckIns is for coaches (and admins)');
      return teamCheckIns(ctx);
    },
    resolve: (event) => ({ ...event, sessionType: event.sessionType as SessionType, at: new Date(event.at) }),
  }),
}));
