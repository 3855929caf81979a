// Writes fitted models: ModelOutput rows (one per user) and PopulationModel rows, in their stored JSON shapes.
import { MODEL_VERSION, type Hyperparameters, type SufficientStats, type UserPosteriorResult } from '../engine/bayes/index.ts';
import { TERM_NAMES, termRecord } from '../engine/variables.ts';
import type { SqlRunner } from '../db/sql.ts';
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

/**
 * A ModelOutput row as one JSON object (the nightly's bulk write reads an array of them with jsonb_to_recordset).
 * Pure: the fit's worker builds these. Dates serialise as ISO strings, which the timestamp columns read as UTC.
 */
export function modelOutputRecord(w: ModelOutputWrite) {
  return { userId: w.userId, ...modelOutputColumns(w) };
}

export async function upsertModelOutput(prisma: Pick<PrismaClient, 'modelOutput'>, w: ModelOutputWrite) {
  const data = modelOutputColumns(w);
  return prisma.modelOutput.upsert({ where: { userId: w.userId }, create: { userId: w.userId, ...data }, update: data });
}

/** Every stored model's row version (its xmin: the transaction that wrote it; any rewrite changes it), by user. */
export async function modelOutputVersions(sql: SqlRunner): Promise<Map<string, string>> {
  const rows = await sql.query<{ userId: string; version: string }>(`SELECT "userId"::text AS "userId", xmin::text AS version FROM model_outputs`);
  return new Map(rows.map((r) => [r.userId, r.version]));
}

/** The updated columns of modelOutputRecord (besides "userId"), with the types jsonb_to_recordset reads them as. */
const RECORD_COLUMNS: Record<keyof ReturnType<typeof modelOutputColumns>, string> = {
  coefficients: 'jsonb',
  credibleIntervals: 'jsonb',
  covariance: 'jsonb',
  sufficientStats: 'jsonb',
  phase: '"ModelPhase"',
  sessionsIncluded: 'int',
  shrinkageFactor: 'float8',
  modelVersion: 'text',
  lastTrainedAt: 'timestamp(3)',
  trainingDurationMs: 'float8',
  dataThrough: 'timestamp(3)',
};
const UPDATED = Object.keys(RECORD_COLUMNS) as (keyof typeof RECORD_COLUMNS)[];

/**
 * Upserts a JSON array of modelOutputRecord ($1: jsonb, given as bytes in its binary format: jsonb-param.ts), leaving
 * out the athletes of $2. One parameter per chunk: no per-value work here.
 */
const BULK_UPSERT_SQL = `
  INSERT INTO model_outputs (id, "userId", ${UPDATED.map((c) => `"${c}"`).join(', ')}, "createdAt", "updatedAt")
  SELECT gen_random_uuid(), r."userId", ${UPDATED.map((c) => `r."${c}"`).join(', ')}, now(), now()
  FROM jsonb_to_recordset($1::jsonb) AS r("userId" uuid, ${UPDATED.map((c) => `"${c}" ${RECORD_COLUMNS[c]}`).join(', ')})
  WHERE r."userId" <> ALL($2::uuid[])
  ON CONFLICT ("userId") DO UPDATE SET ${UPDATED.map((c) => `"${c}" = EXCLUDED."${c}"`).join(', ')}, "updatedAt" = now()`;

/** The columns of a cold-start row besides its times, the types jsonb_to_record reads them as. */
const COLD_START_COLUMNS = UPDATED.filter((c) => c !== 'lastTrainedAt');

/**
 * Stores $2 (a modelOutputRecord's JSON without "userId" and times) as the model of user $1, stamped $3, unless
 * the user has one already or does not exist; answers whether the user exists (one statement either way). Raw SQL
 * with one JSON parameter: Prisma's createMany walked every number of the covariance and statistics arrays into
 * argument objects (some 100 KB of garbage per athlete), for each `modelUpdated` subscriber without a model
 * (BENCHMARKS.md "Memory").
 */
const INSERT_IF_ABSENT_SQL = `
  WITH target AS (SELECT id FROM users WHERE id = $1::uuid),
  inserted AS (
    INSERT INTO model_outputs (id, "userId", ${COLD_START_COLUMNS.map((c) => `"${c}"`).join(', ')}, "lastTrainedAt", "createdAt", "updatedAt")
    SELECT gen_random_uuid(), t.id, ${COLD_START_COLUMNS.map((c) => `r."${c}"`).join(', ')}, $3::timestamp(3), $3::timestamp(3), $3::timestamp(3)
    FROM target t, jsonb_to_record($2::jsonb) AS r(${COLD_START_COLUMNS.map((c) => `"${c}" ${RECORD_COLUMNS[c]}`).join(', ')})
    ON CONFLICT ("userId") DO NOTHING
  )
  SELECT EXISTS (SELECT 1 FROM target) AS "userExists"`;

/**
 * The model served to athletes without one (the population's: COLD_START, no sessions), as the JSON
 * INSERT_IF_ABSENT_SQL reads: the same text for every athlete, so it is made once per population (`hyper`).
 */
export function coldStartRecordJson(result: UserPosteriorResult, stats: SufficientStats): string {
  const { lastTrainedAt: _stampedByTheInsert, ...columns } = modelOutputColumns({ userId: '', result, stats, dataThrough: null, trainingDurationMs: 0 });
  return JSON.stringify(columns);
}

/** Stores a cold-start model (coldStartRecordJson) for the user unless they have one; false when the user does not exist. */
export async function insertModelOutputIfAbsent(sql: SqlRunner, userId: string, recordJson: string): Promise<boolean> {
  const [row] = await sql.query<{ userExists: boolean }>(INSERT_IF_ABSENT_SQL, [userId, recordJson, new Date().toISOString()]);
  return row?.userExists === true;
}

/** A chunk of the nightly fit's models: the athletes, and their modelOutputRecords as one JSON array in jsonb's binary format (jsonbBytes). */
export interface ModelChunk {
  userIds: string[];
  jsonb: Uint8Array;
}

/**
 * The nightly fit's write of one chunk of models, inside the caller's transaction, under the athletes' locks (the
 * ones the quick update and the retrain take). A quick update or a retrain committed since the fit read its data
 * may include sessions (or miss deleted ones) the fit did not see: such an athlete, known by a row version
 * changed since `versionsAtRead`, is left out and returned, for the caller to recompute from the rows.
 */
export async function writeModelChunk(sql: SqlRunner, chunk: ModelChunk, versionsAtRead: ReadonlyMap<string, string>): Promise<string[]> {
  await sql.execute(`SELECT pg_advisory_xact_lock(hashtext(id)) FROM unnest($1::text[]) AS id`, [chunk.userIds]);
  const current = await sql.query<{ userId: string; version: string }>(`SELECT "userId"::text AS "userId", xmin::text AS version FROM model_outputs WHERE "userId" = ANY($1::uuid[])`, [chunk.userIds]);
  const changed = current.filter((r) => versionsAtRead.get(r.userId) !== r.version).map((r) => r.userId);
  await sql.execute(BULK_UPSERT_SQL, [chunk.jsonb, changed]);
  return changed;
}

export function populationModelData(hyper: Hyperparameters, meta: { usersIncluded: number; sessionsIncluded: number; diagnostics: unknown }) {
  return {
    mu: termRecord(hyper.mu),
    tau2: termRecord(hyper.tau2),
    muSd: termRecord(hyper.muSd),
    ...(hyper.logTau2Cov ? { logTau2Cov: { terms: [...TERM_NAMES], values: [...hyper.logTau2Cov] } as Prisma.InputJsonValue } : {}),
    sigma2: hyper.sigma2,
    usersIncluded: meta.usersIncluded,
    sessionsIncluded: meta.sessionsIncluded,
    diagnostics: meta.diagnostics as Prisma.InputJsonValue,
    modelVersion: MODEL_VERSION,
  };
}
