// Nightly stages beside the fit: the held-out error's columns (the sessions held out are each athlete's latest,
// read with the training data: training-data.ts), and the model history (a compact snapshot of every served model
// and the population's, pruned after the retention period).
import type { HeldOutError } from '../engine/held-out.ts';
import type { Prisma, PrismaClient } from '../generated/prisma/client.ts';

/** TrainingRun columns of a held-out measure (all null when there was nothing to hold out). */
export function heldOutColumns(e: HeldOutError | null) {
  return { heldOutN: e?.n ?? 0, heldOutRmse: e?.rmse ?? null, heldOutMae: e?.mae ?? null, heldOutBias: e?.bias ?? null, heldOutCoverage: e?.intervalCoverage ?? null };
}

/**
 * Copies every served athlete model and the latest population model into model_snapshots for this run (one
 * INSERT ... SELECT each, nothing through Node), then drops snapshots older than the retention period.
 */
export async function snapshotModels(prisma: PrismaClient, trainingRunId: string, retentionDays: number): Promise<{ written: number; pruned: number }> {
  const population = await prisma.populationModel.findFirst({ orderBy: { fittedAt: 'desc' }, select: { fittedAt: true, mu: true, sessionsIncluded: true } });
  if (!population) return { written: 0, pruned: 0 };
  const athletes = await prisma.$executeRaw`
    INSERT INTO model_snapshots (id, "trainingRunId", "userId", "fittedAt", phase, "sessionsIncluded", coefficients)
    SELECT gen_random_uuid(), ${trainingRunId}::uuid, "userId", ${population.fittedAt}, phase, "sessionsIncluded", coefficients
    FROM model_outputs`;
  await prisma.modelSnapshot.create({
    data: { trainingRunId, userId: null, fittedAt: population.fittedAt, phase: null, sessionsIncluded: population.sessionsIncluded, coefficients: population.mu as Prisma.InputJsonValue },
  });
  const cutoff = new Date(Date.now() - retentionDays * 86_400_000);
  const pruned = await prisma.modelSnapshot.deleteMany({ where: { fittedAt: { lt: cutoff } } });
  return { written: athletes + 1, pruned: pruned.count };
}
