// Training data: per-user sufficient statistics (n, X'X, X'y, y'y of the centred design) and the population
// statistics, aggregated by the database (GROUP BY "userId" over sums of products of centred features), so the
// nightly run moves one row per athlete into Node, not one per session.
import { addRatedSession, emptyStats, type SufficientStats } from '../engine/bayes/index.ts';
import { RATING_MAX, RATING_MIN } from '../engine/normal.ts';
import { STATISTIC_VARIABLES } from '../engine/population-stats.ts';
import { effectiveFeatureSql, trainingRow } from '../engine/training-row.ts';
import type { PopulationStat } from '../engine/types.ts';
import { MODEL_TERMS, P } from '../engine/variables.ts';
import type { CheckIn } from '../engine/variables.ts';
import { TRAINING_SELECT } from '../db/training-select.ts';
import type { SqlRunner } from '../db/sql.ts';
import type { HeldOutSession } from '../engine/held-out.ts';
import { heldOutSessions, latestRatedSessions } from './model-evaluation.ts';
import { modelOutputVersions } from './model-store.ts';
import type { PrismaClient } from '../generated/prisma/client.ts';

/** Resolves on the next turn of the event loop (after pending I/O), not just after the current microtasks. */
export const yieldToEventLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

export interface UserData {
  stats: SufficientStats;
  /** Newest updatedAt among the sessions folded in (catch-up compares it with the sessions table). */
  dataThrough: Date | null;
}

export interface TrainingData {
  users: Map<string, UserData>;
  sessions: number;
  populationStats: PopulationStat[];
}

function fold(users: Map<string, UserData>, userId: string, row: { values: CheckIn; quality: number }, updatedAt: Date) {
  let data = users.get(userId);
  if (!data) {
    data = { stats: emptyStats(), dataThrough: null };
    users.set(userId, data);
  }
  addRatedSession(data.stats, row.values as Readonly<Record<string, unknown>>, row.quality);
  if (!data.dataThrough || updatedAt > data.dataThrough) data.dataThrough = updatedAt;
}

/** The training rows (training-row.ts: completed and rated). */
const TRAINING_ROWS = `FROM climbing_sessions WHERE status = 'COMPLETED' AND "sessionQuality" IS NOT NULL`;

/** The centred design column x_j - c_j of designRow (a missing feature contributes 0), for j >= 1. */
const FEATURES = MODEL_TERMS.slice(1).map((t, i) => `coalesce((${effectiveFeatureSql(t.name)})::float8 - ${t.reference}, 0) AS x${i + 1}`);

/** x_j as SQL: the intercept column is the constant 1. */
const x = (j: number) => (j === 0 ? '1' : `x${j}`);

/** Ratings inside the scale: a rating at 1 or 10 is censored and kept apart (engine/bayes/sufficient-stats.ts, SufficientStats.bounded). */
const INTERIOR = `FILTER (WHERE y NOT IN (${RATING_MIN}, ${RATING_MAX}))`;

/** n (every rated row), then over the rows inside the scale: X'X's upper triangle row by row, X'y, y'y. */
const SUMS: string[] = ['count(*)'];
for (let i = 0; i < P; i++) for (let k = i; k < P; k++) SUMS.push(i === 0 && k === 0 ? `count(*) ${INTERIOR}` : `coalesce(sum(${x(i)} * ${x(k)}) ${INTERIOR}, 0)`);
for (let j = 0; j < P; j++) SUMS.push(`coalesce(sum(${x(j)} * y) ${INTERIOR}, 0)`);
SUMS.push(`coalesce(sum(y * y) ${INTERIOR}, 0)`);

const DESIGN_ROWS = `SELECT "userId", "updatedAt", "sessionQuality"::float8 AS y, ${FEATURES.join(', ')} ${TRAINING_ROWS}`;

/**
 * One text cell per athlete (both drivers decode a result cell by cell, so 68 numbers in one cell are several
 * times faster than 68 cells); float8 text output is exact (shortest round-trip digits).
 */
const USER_STATS_SQL = `
  SELECT "userId"::text AS "userId", (extract(epoch from max("updatedAt")) * 1000)::bigint::text AS through,
         concat_ws(',', ${SUMS.map((e) => `(${e})::text`).join(', ')}) AS v
  FROM (${DESIGN_ROWS}) rows
  GROUP BY "userId"`;

/** The rows at a bound of the scale, one by one (each needs its own augmentation): 1 for a 10, then x_1..x_9. */
const BOUNDED_ROWS_SQL = `
  SELECT "userId"::text AS "userId", concat_ws(',', (y = ${RATING_MAX})::int::text, ${FEATURES.map((_, i) => `x${i + 1}::text`).join(', ')}) AS v
  FROM (${DESIGN_ROWS}) rows
  WHERE y IN (${RATING_MIN}, ${RATING_MAX})`;

function parseUserStats(text: string): SufficientStats {
  const v = text.split(',').map(Number);
  if (v.length !== SUMS.length || v.some((n) => !Number.isFinite(n))) throw new Error(`training data: unexpected statistics row (${v.length} fields)`);
  const stats = emptyStats();
  stats.n = v[0];
  let o = 1;
  for (let i = 0; i < P; i++) {
    for (let k = i; k < P; k++) {
      stats.xtx[i * P + k] = v[o];
      stats.xtx[k * P + i] = v[o];
      o++;
    }
  }
  for (let j = 0; j < P; j++) stats.xty[j] = v[o++];
  stats.yty = v[o];
  return stats;
}

/** A statistic variable's value as the training row reads it (a model feature's effective value, else its column). */
const effectiveSql = (name: string) => (MODEL_TERMS.some((t) => t.name === name) ? effectiveFeatureSql(name) : `"${name}"`);

/** count, mean, sample sd, min, max of every statistic variable (effective values) over the training rows. */
const POPULATION_SQL = `SELECT concat_ws(',', ${STATISTIC_VARIABLES.map((name) => {
  const e = `(${effectiveSql(name)})::float8`;
  return `count(${e})::text, coalesce(avg(${e})::text, ''), coalesce(stddev_samp(${e})::text, ''), coalesce(min(${e})::text, ''), coalesce(max(${e})::text, '')`;
}).join(', ')}) AS v ${TRAINING_ROWS}`;

function parsePopulationStats(text: string): PopulationStat[] {
  const v = text.split(',');
  return STATISTIC_VARIABLES.flatMap((variable, i) => {
    const [n, mean, std, min, max] = v.slice(5 * i, 5 * i + 5);
    if (Number(n) === 0) return [];
    // stddev_samp is NULL for a single value: its spread is 0.
    return [{ variable, n: Number(n), mean: Number(mean), std: std === '' ? 0 : Number(std), min: Number(min), max: Number(max) }];
  });
}

/** Rows per FETCH of the training reads' cursors. */
const PAGE = 1000;

/**
 * `sql`'s rows through a cursor, PAGE at a time, each page handed to `each` before the next is fetched: a result
 * of tens of thousands of rows never sits in the heap at once, so its rows die young instead of being copied by
 * every scavenge while the rest arrives (with the whole result at once, the API's scavenges took 20-30 ms).
 * Inside a transaction (a cursor lives in one).
 */
async function forEachPage<T>(tx: SqlRunner, cursor: string, sql: string, each: (rows: T[]) => void): Promise<void> {
  await tx.execute(`DECLARE ${cursor} NO SCROLL CURSOR FOR ${sql}`);
  for (;;) {
    const rows = await tx.query<T>(`FETCH ${PAGE} FROM ${cursor}`);
    each(rows);
    if (rows.length < PAGE) break;
    // An embedded PGlite answers without returning to the event loop: let requests in between pages.
    await yieldToEventLoop();
  }
  await tx.execute(`CLOSE ${cursor}`);
}

/**
 * Every athlete's statistics and the population statistics, aggregated in the database: one scan for the sums of
 * the rows inside the scale, one for the rows at its bounds (a minority, fetched row by row: each is augmented
 * by the fit), one for the population statistics. Cost in Node grows with athletes and bounded rows. Inside a
 * transaction: the two large results are read through cursors.
 */
export async function readTrainingData(tx: SqlRunner): Promise<TrainingData> {
  const users = new Map<string, UserData>();
  let sessions = 0;
  await forEachPage<{ userId: string; through: string; v: string }>(tx, 'training_user_stats', USER_STATS_SQL, (rows) => {
    for (const r of rows) {
      const stats = parseUserStats(r.v);
      sessions += stats.n;
      users.set(r.userId, { stats, dataThrough: new Date(Number(r.through)) });
    }
  });
  await forEachPage<{ userId: string; v: string }>(tx, 'training_bounded_rows', BOUNDED_ROWS_SQL, (rows) => {
    for (const r of rows) {
      const v = r.v.split(',').map(Number);
      const stats = users.get(r.userId)?.stats;
      if (!stats || v.length !== P) throw new Error(`training data: unexpected bounded row for ${r.userId}`);
      stats.bounded ??= { x: [], upper: [] };
      stats.bounded.x.push(1, ...v.slice(1));
      stats.bounded.upper.push(v[0]);
    }
  });
  const population = await tx.query<{ v: string }>(POPULATION_SQL);
  return { users, sessions, populationStats: parsePopulationStats(population[0].v) };
}

/** What the nightly fit reads, in one transaction (readNightlyInput). */
export interface NightlyInput {
  /** Every stored model's row version before the read (modelOutputVersions): a model rewritten since is recomputed at the write. */
  versionsAtRead: Map<string, string>;
  data: TrainingData;
  /** Each athlete's latest rated session, held out to measure the fit's error. */
  held: HeldOutSession[];
}

/**
 * The nightly fit's input, inside the caller's transaction: the stored models' versions, the training data, the
 * sessions to hold out. Athletes who still have a model but no rated sessions any more are fitted (to the
 * population) with empty statistics. The reads are CPU-heavy aggregations: one at a time and without parallel
 * workers, the database takes one core (with it on the API's machine, three queries with their parallel workers
 * took every core from the API's requests: bench-nightly-streams).
 */
export async function readNightlyInput(tx: SqlRunner): Promise<NightlyInput> {
  await tx.execute('SET LOCAL max_parallel_workers_per_gather = 0');
  const versionsAtRead = await modelOutputVersions(tx);
  const data = await readTrainingData(tx);
  const held = heldOutSessions(await latestRatedSessions(tx), data.users);
  for (const userId of versionsAtRead.keys()) if (!data.users.has(userId)) data.users.set(userId, { stats: emptyStats(), dataThrough: null });
  return { versionsAtRead, data, held };
}

/** One user's statistics from their sessions (full recompute). */
export async function readUserData(prisma: PrismaClient, userId: string): Promise<UserData> {
  const rows = await prisma.climbingSession.findMany({
    where: { userId, status: 'COMPLETED', sessionQuality: { not: null } },
    select: TRAINING_SELECT,
  });
  const users = new Map<string, UserData>();
  for (const s of rows) {
    const row = trainingRow(s);
    if (row) fold(users, userId, row, s.updatedAt);
  }
  return users.get(userId) ?? { stats: emptyStats(), dataThrough: null };
}

/** Users with rated sessions newer than their model (or no model at all). */
export async function staleUsers(prisma: PrismaClient): Promise<string[]> {
  const rows = await prisma.$queryRaw<{ userId: string }[]>`
    SELECT s."userId"::text AS "userId"
    FROM climbing_sessions s
    LEFT JOIN model_outputs m ON m."userId" = s."userId"
    WHERE s.status = 'COMPLETED' AND s."sessionQuality" IS NOT NULL
    GROUP BY s."userId", m."dataThrough"
    HAVING m."dataThrough" IS NULL OR max(s."updatedAt") > m."dataThrough"`;
  return rows.map((r) => r.userId);
}
