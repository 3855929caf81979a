import type { Context } from '../context.ts';
import type { Prisma } from '../generated/prisma/client.ts';
import { authorizeOwner, requireViewer } from './access.ts';

export type BaselineInput = Omit<Prisma.BaselineAssessmentUncheckedCreateInput, 'id' | 'userId' | 'isCurrent' | 'createdAt'>;

/** Records a new current baseline; the previous current one is retired in the same transaction. */
export async function recordBaselineAssessment(ctx: Context, input: BaselineInput, query: { include?: Prisma.BaselineAssessmentInclude; select?: Prisma.BaselineAssessmentSelect }) {
  const viewer = requireViewer(ctx);
  await authorizeOwner(ctx, viewer.id, 'write');
  const { prisma } = ctx.services;
  const created = await prisma.$transaction(async (tx) => {
    // Locks the athlete's user row: concurrent recordings queue here, so each one retires the one before it
    // (without the lock, two transactions each see no other current row and both stay current).
    await tx.$queryRaw`SELECT 1 FROM "users" WHERE "id" = ${viewer.id}::uuid FOR UPDATE`;
    await tx.baselineAssessment.updateMany({ where: { userId: viewer.id, isCurrent: true }, data: { isCurrent: false } });
    return tx.baselineAssessment.create({
      ...query,
      data: { ...input, injuryHistory: input.injuryHistory ?? undefined, userId: viewer.id, isCurrent: true },
    });
  });
  ctx.loaders.currentBaseline.clear(viewer.id);
  ctx.services.engine.invalidate({ kind: 'baseline', userId: viewer.id });
  return created;
}
