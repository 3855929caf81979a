// Nightly stages after the fit: the held-out error of the fit, and the model history (a compact snapshot of
// every served model and the population's, pruned after the retention period).
import { heldOutError, type HeldOutError, type HeldOutSession } from '../engine/held-out.ts';
import { trainingRow, type SessionFeatures } from '../engine/training-row.ts';
import type { Prisma, PrismaClient } from '../generated/prisma/client.ts';
import { parseFittedModel } from '../engine-runtime/engine-store.ts';
import type { UserData } from './training-data.ts';

/**
 * Each athlete's most recent rated session, predicted from the rest of their sessions under the population
 * model just fitted. A session rated or edited after the training data was read is not in the fit's
 * statistics in that form: such an athlete is left out.
 */
export async function measureHeldOutError(prisma: PrismaClient, users: ReadonlyMap<string, UserData>): Promise<HeldOutError | null> {
  const fitted = await prisma.populationModel.findFirst({ orderBy: { fittedAt: 'desc' } });
  const hyper = fitted ? parseFittedModel(fitted) : null;
  if (!hyper) return null;
  type Row = SessionFeatures & { userId: string; updatedAt: Date };
  const rows = await prisma.$queryRaw<Row[]>`
    SELECT DISTINCT ON ("userId") "userId"::text AS "userId", "updatedAt", status::text AS status, "sessionQuality", "deviatedFromPlan",
           "sleepHours", "sleepQuality", "energyLevel", "stressLevel", "motivationLevel", "sorenessLevel", "daysSinceHardSession",
           "caffeineMg", "warmupMin", "plannedCaffeineMg", "plannedWarmupMin", "actualCaffeineMg", "actualWarmupMin"
    FROM climbing_sessions
    WHERE status = 'COMPLETED' AND "sessionQuality" IS NOT NULL
    ORDER BY "userId", "startedAt" DESC, id DESC`;
  const held: HeldOutSession[] = [];
  for (const r of rows) {
    const through = users.get(r.userId)?.dataThrough;
    const row = trainingRow(r);
    if (!row || !through || new Date(r.updatedAt) > through) continue;
    held.push({ userId: r.userId, values: row.values, quality: row.quality });
  }
  return heldOutError(held, (userId) => users.get(userId)?.stats, hyper);
}

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
