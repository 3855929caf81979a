import type { Context } from '../context.ts';
import { canReadEveryone, readableUserId, requireViewer } from '../resolvers/access.ts';
import { builder } from './builder.ts';
import { RoleEnum } from './enums.ts';
import { uuid } from './ids.ts';

export const UserRef = builder.prismaObject('User', {
  description: 'An athlete, coach, analyst or admin. Created by their first authenticated request.',
  fields: (t) => ({
    id: t.exposeID('id'),
    email: t.exposeString('email', { nullable: true }),
    role: t.expose('role', { type: RoleEnum }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    currentBaseline: t.prismaField({
      type: 'BaselineAssessment',
      nullable: true,
      description: 'The current baseline assessment',
      resolve: (_query, user, _args, ctx) => ctx.loaders.currentBaseline.load(user.id),
    }),
    modelOutput: t.prismaField({
      type: 'ModelOutput',
      nullable: true,
      description: "This athlete's trained model (null until the first training)",
      resolve: (_query, user, _args, ctx) => ctx.loaders.modelOutput.load(user.id),
    }),
    sessions: t.relatedConnection('sessions', {
      cursor: 'startedAt_id',
      description: 'Sessions, newest first',
      query: () => ({ orderBy: [{ startedAt: 'desc' }, { id: 'desc' }] }),
    }),
  }),
});

builder.queryFields((t) => ({
  me: t.prismaField({
    type: 'User',
    authScopes: { authenticated: true },
    resolve: (query, _root, _args, ctx: Context) =>
      ctx.services.prisma.user.findUniqueOrThrow({ ...query, where: { id: requireViewer(ctx).id } }),
  }),
  user: t.prismaField({
    type: 'User',
    nullable: true,
    authScopes: { authenticated: true },
    args: { id: t.arg.id({ required: true, validate: uuid }) },
    resolve: (query, _root, args, ctx) => ctx.services.prisma.user.findUnique({ ...query, where: { id: readableUserId(ctx, args.id) } }),
  }),
  users: t.prismaConnection({
    type: 'User',
    cursor: 'id',
    authScopes: { reader: true },
    description: 'Every user (analysts and admins)',
    resolve: (query, _root, _args, ctx) => {
      if (!canReadEveryone(requireViewer(ctx))) return [];
      return ctx.services.prisma.user.findMany({ ...query, orderBy: [{ createdAt: 'asc' }, { id: 'asc' }] });
    },
  }),
}));
