// Writes fitted models: ModelOutput rows (one per user) and PopulationModel rows, in their stored JSON shapes.
import { randomUUID } from 'node:crypto';
import { MODEL_VERSION, type Hyperparameters, type SufficientStats, type UserPosteriorResult } from '../engine/bayes.ts';
import { TERM_NAMES, termRecord } from '../engine/variables.ts';
import type { Prisma, PrismaClient } from '../generated/prisma/client.ts';

export interface ModelOutputWrite {
  userId: string;
  result: UserPosteriorResult;
  stats: SufficientStats;
  dataThrough: Date | null;
  trainingDurationMs: number;
}

/** Column values of a ModelOutput in the stored shape (covariance carries its term names: stale shapes are detectable). */
export function modelOutputColumns(w: ModelOutputWrite) {
  return {
    coefficients: w.result.coefficients as Prisma.InputJsonValue,
    credibleIntervals: w.result.credibleIntervals as unknown as Prisma.InputJsonValue,
    covariance: { terms: [...TERM_NAMES], values: [...w.result.covariance] } as Prisma.InputJsonValue,
    sufficientStats: w.stats as unknown as Prisma.InputJsonValue,
    phase: w.result.phase,
    sessionsIncluded: w.result.sessionsIncluded,
    shrinkageFactor: w.result.shrinkageFactor,
    modelVersion: MODEL_VERSION,
    lastTrainedAt: new Date(),
    trainingDurationMs: w.trainingDurationMs,
    dataThrough: w.dataThrough,
  };
}

export async function upsertModelOutput(prisma: Pick<PrismaClient, 'modelOutput'>, w: ModelOutputWrite) {
  const data = modelOutputColumns(w);
  return prisma.modelOutput.upsert({ where: { userId: w.userId }, create: { userId: w.userId, ...data }, update: data });
}

const timestamp = (d: Date | null) => (d ? d.toISOString().replace('Z', '') : null);

type Transaction = Parameters<Parameters<PrismaClient['$transaction']>[0]>[0];

/** Every stored model's row version (its xmin: the transaction that wrote it; any rewrite changes it), by user. */
export async function modelOutputVersions(prisma: PrismaClient): Promise<Map<string, string>> {
  const rows = await prisma.$queryRaw<{ userId: string; version: string }[]>`SELECT "userId"::text AS "userId", xmin::text AS version FROM model_outputs`;
  return new Map(rows.map((r) => [r.userId, r.version]));
}

export interface NightlyWriteGuard {
  /** modelOutputVersions() read before the fit's training data. */
  versionsAtRead: ReadonlyMap<string, string>;
  /** The athlete's model recomputed from their rows (inside the write's transaction, under their lock). */
  recompute: (tx: Transaction, userId: string) => Promise<ModelOutputWrite>;
}

/**
 * Batch upsert for the nightly fit: one transaction and one statement per `chunk` users. A quick update or a
 * retrain committed since the fit read its data may include sessions (or miss deleted ones) the fit did not
 * see: such an athlete, known by a row version changed since `versionsAtRead`, is recomputed from the rows
 * instead. Under the athletes' locks (the ones the quick update and the retrain take), so none of them writes
 * between that check and this write.
 */
export async function upsertModelOutputs(
  prisma: PrismaClient,
  writes: ModelOutputWrite[],
  guard: NightlyWriteGuard,
  opts: { chunk?: number; onChunk?: (writtenSoFar: number) => void } = {},
): Promise<number> {
  const chunk = opts.chunk ?? 500;
  let written = 0;
  for (let start = 0; start < writes.length; start += chunk) {
    written += await prisma.$transaction((tx) => upsertChunk(tx, writes.slice(start, start + chunk), guard));
    opts.onChunk?.(Math.min(start + chunk, writes.length));
    // Let requests in between chunks (an embedded PGlite never yields to the event loop by itself).
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
  return written;
}

async function upsertChunk(tx: Transaction, part: ModelOutputWrite[], guard: NightlyWriteGuard): Promise<number> {
  const ids = part.map((w) => w.userId);
  await tx.$executeRawUnsafe(`SELECT pg_advisory_xact_lock(hashtext(id)) FROM unnest($1::text[]) AS id`, ids);
  const current = await tx.$queryRawUnsafe<{ userId: string; version: string }[]>(`SELECT "userId"::text AS "userId", xmin::text AS version FROM model_outputs WHERE "userId" = ANY($1::uuid[])`, ids);
  const changed = new Set(current.filter((r) => guard.versionsAtRead.get(r.userId) !== r.version).map((r) => r.userId));
  const rows: ModelOutputWrite[] = [];
  for (const w of part) rows.push(changed.has(w.userId) ? await guard.recompute(tx, w.userId) : w);
  const params: unknown[] = [];
  const tuples = rows.map((w) => {
    const c = modelOutputColumns(w);
    const values = [
      randomUUID(),
      w.userId,
      JSON.stringify(c.coefficients),
      JSON.stringify(c.credibleIntervals),
      JSON.stringify(c.covariance),
      JSON.stringify(c.sufficientStats),
      c.phase,
      c.sessionsIncluded,
      c.shrinkageFactor,
      c.modelVersion,
      timestamp(c.lastTrainedAt),
      c.trainingDurationMs,
      timestamp(c.dataThrough),
    ];
    const base = params.length;
    params.push(...values);
    const p = (i: number) => `$${base + i + 1}`;
    return `(${p(0)}::uuid, ${p(1)}::uuid, ${p(2)}::jsonb, ${p(3)}::jsonb, ${p(4)}::jsonb, ${p(5)}::jsonb, ${p(6)}::"ModelPhase", ${p(7)}::int, ${p(8)}::float8, ${p(9)}, ${p(10)}::timestamp(3), ${p(11)}::float8, ${p(12)}::timestamp(3), now(), now())`;
  });
  return tx.$executeRawUnsafe(
    `INSERT INTO model_outputs (id, "userId", coefficients, "credibleIntervals", covariance, "sufficientStats", phase, "sessionsIncluded", "shrinkageFactor", "modelVersion", "lastTrainedAt", "trainingDurationMs", "dataThrough", "createdAt", "updatedAt")
     VALUES ${tuples.join(',\n')}
     ON CONFLICT ("userId") DO UPDATE SET
       coefficients = EXCLUDED.coefficients, "credibleIntervals" = EXCLUDED."credibleIntervals", covariance = EXCLUDED.covariance,
       "sufficientStats" = EXCLUDED."sufficientStats", phase = EXCLUDED.phase, "sessionsIncluded" = EXCLUDED."sessionsIncluded",
       "shrinkageFactor" = EXCLUDED."shrinkageFactor", "modelVersion" = EXCLUDED."modelVersion", "lastTrainedAt" = EXCLUDED."lastTrainedAt",
       "trainingDurationMs" = EXCLUDED."trainingDurationMs", "dataThrough" = EXCLUDED."dataThrough", "updatedAt" = now()`,
    ...params,
  );
}

export function populationModelData(hyper: Hyperparameters, meta: { usersIncluded: number; sessionsIncluded: number; diagnostics: unknown }) {
  return {
    mu: termRecord(hyper.mu),
    tau2: termRecord(hyper.tau2),
    muSd: termRecord(hyper.muSd),
    sigma2: hyper.sigma2,
    usersIncluded: meta.usersIncluded,
    sessionsIncluded: meta.sessionsIncluded,
    diagnostics: meta.diagnostics as Prisma.InputJsonValue,
    modelVersion: MODEL_VERSION,
  };
}
