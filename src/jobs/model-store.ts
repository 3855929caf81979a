// Writes fitted models: ModelOutput rows (one per user) and PopulationModel rows, in their stored JSON shapes.
import { randomUUID } from 'node:crypto';
import { MODEL_VERSION, type Hyperparameters, type SufficientStats, type UserPosteriorResult } from '../engine/bayes.ts';
import { TERM_NAMES, termArray, termRecord } from '../engine/variables.ts';
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

/**
 * Batch upsert for the nightly fit: one statement per `chunk` users. A row whose stored data is newer than
 * what this fit saw (a quick update landed meanwhile) is kept, not overwritten with older data.
 */
export async function upsertModelOutputs(
  prisma: PrismaClient,
  writes: ModelOutputWrite[],
  opts: { chunk?: number; onChunk?: (writtenSoFar: number) => void } = {},
): Promise<number> {
  const chunk = opts.chunk ?? 500;
  let written = 0;
  for (let start = 0; start < writes.length; start += chunk) {
    const part = writes.slice(start, start + chunk);
    const params: unknown[] = [];
    const tuples = part.map((w) => {
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
    written += await prisma.$executeRawUnsafe(
      `INSERT INTO model_outputs (id, "userId", coefficients, "credibleIntervals", covariance, "sufficientStats", phase, "sessionsIncluded", "shrinkageFactor", "modelVersion", "lastTrainedAt", "trainingDurationMs", "dataThrough", "createdAt", "updatedAt")
       VALUES ${tuples.join(',\n')}
       ON CONFLICT ("userId") DO UPDATE SET
         coefficients = EXCLUDED.coefficients, "credibleIntervals" = EXCLUDED."credibleIntervals", covariance = EXCLUDED.covariance,
         "sufficientStats" = EXCLUDED."sufficientStats", phase = EXCLUDED.phase, "sessionsIncluded" = EXCLUDED."sessionsIncluded",
         "shrinkageFactor" = EXCLUDED."shrinkageFactor", "modelVersion" = EXCLUDED."modelVersion", "lastTrainedAt" = EXCLUDED."lastTrainedAt",
         "trainingDurationMs" = EXCLUDED."trainingDurationMs", "dataThrough" = EXCLUDED."dataThrough", "updatedAt" = now()
       WHERE model_outputs."dataThrough" IS NULL OR EXCLUDED."dataThrough" IS NULL OR model_outputs."dataThrough" <= EXCLUDED."dataThrough"`,
      ...params,
    );
    opts.onChunk?.(Math.min(start + chunk, writes.length));
    // Let requests in between chunks (an embedded PGlite never yields to the event loop by itself).
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
  return written;
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
