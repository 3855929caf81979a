import type { Context } from '../context.ts';
import { mayRead, readableUserId, requireViewer } from '../resolvers/access.ts';
import { builder } from './builder.ts';
import type { ModelPhase, Prisma } from '../generated/prisma/client.ts';
import { sessionsOrderBy } from '../resolvers/sessions.ts';
import { ModelPhaseEnum, RoleEnum } from './enums.ts';
import { ClimbingSessionConnection } from './session.ts';
import { uuid } from './ids.ts';
import { lagTolerantReader } from '../resolvers/read-routing.ts';

export const UserRef = builder.prismaObject('User', {
  description: 'An athlete, coach, analyst or admin. Created by their first authenticated request.',
  fields: (t) => ({
    id: t.exposeID('id', { description: "The user id (uuid): the token's `sub`" }),
    email: t.exposeString('email', { nullable: true, description: 'Null when unknown' }),
    role: t.expose('role', { type: RoleEnum, description: 'The role of the latest token seen for this user' }),
    createdAt: t.expose('createdAt', { type: 'DateTime', description: 'When the first request with this user id arrived' }),
    currentBaseline: t.prismaField({
      type: 'BaselineAssessment',
      nullable: true,
      description: 'The current baseline assessment; null if none was recorded',
      // A user is also reached as someone's coach, athlete or link party: their own data stays theirs.
      authScopes: (user, _args, ctx) => mayRead(ctx, user.id),
      resolve: (_query, user, _args, ctx) => ctx.loaders.currentBaseline.load(user.id),
    }),
    modelOutput: t.prismaField({
      type: 'ModelOutput',
      nullable: true,
      description: "This athlete's trained model (null until the first training)",
      authScopes: (user, _args, ctx) => mayRead(ctx, user.id),
      resolve: (_query, user, _args, ctx) => ctx.loaders.modelOutput.load(user.id),
    }),
    sessions: t.relatedConnection(
      'sessions',
      {
        cursor: 'startedAt_id',
        description: 'Sessions, newest first',
        authScopes: (user, _args, ctx) => mayRead(ctx, user.id),
        totalCount: true,
        query: () => ({ orderBy: sessionsOrderBy(null) }),
      },
      ClimbingSessionConnection,
    ),
  }),
});

function usersWhere(args: { role?: Prisma.UserWhereInput['role'] | null; phase?: ModelPhase | null }): Prisma.UserWhereInput {
  const { phase } = args;
  const byPhase: Prisma.UserWhereInput | undefined =
    phase === 'COLD_START' ? { OR: [{ modelOutput: { is: null } }, { modelOutput: { is: { phase } } }] } : phase ? { modelOutput: { is: { phase } } } : undefined;
  return { role: args.role ?? undefined, ...byPhase };
}

builder.queryFields((t) => ({
  me: t.prismaField({
    type: 'User',
    authScopes: { authenticated: true },
    description: "The viewer: the token's user (created by the first request)",
    resolve: (query, _root, _args, ctx: Context) => ctx.services.prisma.user.findUniqueOrThrow({ ...query, where: { id: requireViewer(ctx).id } }),
  }),
  user: t.prismaField({
    type: 'User',
    nullable: true,
    authScopes: { authenticated: true },
    description: 'A user by id: yourself, an athlete who linked you as coach, or anyone for analysts and admins; null if there is no such user',
    args: { id: t.arg.id({ required: true, validate: uuid, description: 'The user id (uuid)' }) },
    resolve: async (query, _root, args, ctx) => ctx.services.prisma.user.findUnique({ ...query, where: { id: await readableUserId(ctx, args.id) } }),
  }),
  users: t.prismaConnection(
    {
      type: 'User',
      cursor: 'id',
      authScopes: { reader: true },
      description: 'Every user, oldest first (analysts and admins)',
      args: {
        role: t.arg({ type: RoleEnum, description: 'Only users with this role' }),
        phase: t.arg({ type: ModelPhaseEnum, description: "The athlete's model phase (COLD_START includes users never trained)" }),
      },
      totalCount: (_root, args, ctx, info) => lagTolerantReader(ctx, info).user.count({ where: usersWhere(args) }),
      resolve: (query, _root, args, ctx, info) => lagTolerantReader(ctx, info).user.findMany({ ...query, where: usersWhere(args), orderBy: [{ createdAt: 'asc' }, { id: 'asc' }] }),
    },
    builder.connectionObject({ type: UserRef, name: 'UserConnection', description: 'A page of users' }, { description: 'A user in a page' }),
  ),
}));
