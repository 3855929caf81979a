// Nightly stages beside the fit: the sessions held out to measure the fit's error, and the model history (a
// compact snapshot of every served model and the population's, pruned after the retention period).
import type { HeldOutError, HeldOutSession } from '../engine/held-out.ts';
import { featureColumnsSql, trainingRow, type SessionFeatures } from '../engine/training-row.ts';
import type { SqlRunner } from '../db/sql.ts';
import type { Prisma, PrismaClient } from '../generated/prisma/client.ts';

/** An athlete's most recent rated session as stored (latestRatedSessions). */
export type LatestRatedSession = SessionFeatures & { userId: string; updatedAt: Date };

/** Each athlete's most recent rated session (read beside the training data, for the held-out error). */
export function latestRatedSessions(sql: SqlRunner): Promise<LatestRatedSession[]> {
  return sql.query<LatestRatedSession>(`
    SELECT DISTINCT ON ("userId") "userId"::text AS "userId", "updatedAt", status::text AS status, "sessionQuality", "deviatedFromPlan",
           ${featureColumnsSql()}
    FROM climbing_sessions
    WHERE status = 'COMPLETED' AND "sessionQuality" IS NOT NULL
    ORDER BY "userId", "startedAt" DESC, id DESC`);
}

/**
 * The sessions to hold out: each athlete's most recent rated session, predicted from the rest of their sessions
 * under the population model the nightly run fits (heldOutError, in the fit's worker). A session rated or edited
 * after the training data was read is not in the fit's statistics in that form: such an athlete is left out.
 * `users` is training-data.ts's UserData by athlete; only how far each one's data reaches is read here.
 */
export function heldOutSessions(latest: readonly LatestRatedSession[], users: ReadonlyMap<string, { dataThrough: Date | null }>): HeldOutSession[] {
  const held: HeldOutSession[] = [];
  for (const r of latest) {
    const through = users.get(r.userId)?.dataThrough;
    const row = trainingRow(r);
    if (!row || !through || new Date(r.updatedAt) > through) continue;
    held.push({ userId: r.userId, values: row.values, quality: row.quality });
  }
  return held;
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
