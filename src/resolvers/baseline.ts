import type { Context } from '../context.ts';
import type { Prisma } from '../generated/prisma/client.ts';
import { assertCanWrite, requireViewer } from './access.ts';

export type BaselineInput = Omit<Prisma.BaselineAssessmentUncheckedCreateInput, 'id' | 'userId' | 'isCurrent' | 'createdAt'>;

/** Records a new current baseline; the previous current one is retired in the same transaction. */
export async function recordBaselineAssessment(ctx: Context, input: BaselineInput, query: { include?: Prisma.BaselineAssessmentInclude; select?: Prisma.BaselineAssessmentSelect }) {
  const viewer = requireViewer(ctx);
  assertCanWrite(ctx, viewer.id);
  const { prisma } = ctx.services;
  const [, created] = await prisma.$transaction([
    prisma.baselineAssessment.updateMany({ where: { userId: viewer.id, isCurrent: true }, data: { isCurrent: false } }),
    prisma.baselineAssessment.create({
      ...query,
      data: { ...input, injuryHistory: input.injuryHistory ?? undefined, userId: viewer.id, isCurrent: true },
    }),
  ]);
  ctx.loaders.currentBaseline.clear(viewer.id);
  return created;
}
